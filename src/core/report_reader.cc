// Parsing kept reports with simdjson On-Demand: fields in any order, structured values taken as
// their raw (canonical) text.
#include "core/report_reader.h"

#include <simdjson.h>

#include <array>

#include "core/timestamp.h"

namespace buildtrace {
namespace {

namespace od = simdjson::ondemand;

Status Bad(std::string_view what) {
  return InvalidArgument("kept report: " + std::string(what) + " is missing or malformed");
}

std::optional<ChangeKind> KindNamed(std::string_view name) {
  for (ChangeKind k :
       {ChangeKind::kMoved, ChangeKind::kResized, ChangeKind::kRetyped, ChangeKind::kChanged}) {
    if (name == ChangeKindName(k)) return k;
  }
  return std::nullopt;
}

// Each reader returns false when the value is not what a rendered report holds there.
bool ReadString(od::value v, std::string& out) {
  std::string_view s;
  if (v.get_string().get(s)) return false;
  out.assign(s);
  return true;
}

bool ReadStrings(od::value v, std::vector<std::string>& out) {
  od::array array;
  if (v.get_array().get(array)) return false;
  for (auto element : array) {
    std::string_view s;
    if (element.get_string().get(s)) return false;
    out.emplace_back(s);
  }
  return true;
}

bool ReadModified(od::value v, std::vector<ModifiedObject>& out) {
  od::array array;
  if (v.get_array().get(array)) return false;
  for (auto element : array) {
    od::object object;
    if (element.get_object().get(object)) return false;
    ModifiedObject m;
    for (auto field : object) {
      std::string_view key, text;
      if (field.unescaped_key().get(key)) return false;
      if (key == "id") {
        if (!ReadString(field.value(), m.id)) return false;
      } else if (key == "kind") {
        std::optional<ChangeKind> kind;
        if (field.value().get_string().get(text) || !(kind = KindNamed(text))) return false;
        m.kind = *kind;
      } else if (key == "before" || key == "after") {
        std::string& target = key == "before" ? m.before : m.after;
        // A structured value's digest is followed by its object, which replaces it.
        if (!ReadString(field.value(), target)) return false;
      } else if (key == "before_object" || key == "after_object") {
        od::object structured;
        if (field.value().get_object().get(structured) || structured.raw_json().get(text)) {
          return false;
        }
        const bool before = key == "before_object";
        (before ? m.before : m.after).assign(text.substr(0, text.find_last_not_of(" \t\r\n") + 1));
        (before ? m.before_structured : m.after_structured) = true;
      }
    }
    out.push_back(std::move(m));
  }
  return true;
}

// "added_objects": each added object's placement, in the order of "added".
bool ReadAddedObjects(od::value v, std::vector<std::optional<Placement>>& out) {
  od::array array;
  if (v.get_array().get(array)) return false;
  for (auto element : array) {
    od::object object;
    if (element.get_object().get(object)) return false;
    Placement p;
    bool placed = false;
    for (auto field : object) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return false;
      if (key == "type") {
        if (!ReadString(field.value(), p.type)) return false;
        placed = true;
      } else if (key == "x" || key == "y") {
        if (field.value().get_double().get(key == "x" ? p.x : p.y)) return false;
      }
    }
    out.push_back(placed ? std::optional<Placement>(std::move(p)) : std::nullopt);
  }
  return true;
}

bool ReadChanges(od::value v, DiffResult& d) {
  od::object object;
  if (v.get_object().get(object)) return false;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    bool ok = true;
    if (key == "added") ok = ReadStrings(field.value(), d.added);
    if (key == "added_objects") ok = ReadAddedObjects(field.value(), d.added_at);
    if (key == "removed") ok = ReadStrings(field.value(), d.removed);
    if (key == "modified") ok = ReadModified(field.value(), d.modified);
    if (key == "truncated") ok = !field.value().get_bool().get(d.truncated);
    if (!ok) return false;
  }
  return d.added_at.size() == d.added.size();  // a placement for every added object
}

// The "metrics" member: the counts, the latency and the job's timestamp.
bool ReadMetrics(od::value v, Report& r) {
  DiffCounts& c = r.diff.counts;
  od::object object;
  if (v.get_object().get(object)) return false;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    int64_t* target = key == "total_added"       ? &c.added
                      : key == "total_removed"   ? &c.removed
                      : key == "total_unchanged" ? &c.unchanged
                      : key == "total_moved"     ? &c.moved
                      : key == "total_resized"   ? &c.resized
                      : key == "total_retyped"   ? &c.retyped
                      : key == "total_changed"   ? &c.changed
                                                 : nullptr;
    if (target != nullptr) {
      if (field.value().get_int64().get(*target)) return false;
    } else if (key == "latency_ms") {
      if (field.value().get_double().get(r.job.latency_ms)) return false;
    } else if (key == "timestamp") {
      if (!ReadString(field.value(), r.job.timestamp)) return false;
    }
  }
  return true;
}

bool ReadLineage(od::value v, BaseSelection& base) {
  od::object object;
  if (v.get_object().get(object)) return false;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    if (key == "explicit_base") {
      if (field.value().get_bool().get(base.explicit_base)) return false;
    } else if (key == "missing_ids") {
      if (field.value().get_int64().get(base.missing_ids)) return false;
    } else if (key == "skipped_failed_capped") {
      if (field.value().get_bool().get(base.skipped_failed_capped)) return false;
    } else if (key == "skipped_failed") {
      od::array array;
      if (field.value().get_array().get(array)) return false;
      for (auto id : array) {
        int64_t value = 0;
        if (id.get_int64().get(value)) return false;
        base.skipped_failed.push_back(value);
      }
    }
  }
  return true;
}

bool ReadMetadata(od::value v, JobHeader& header) {
  od::object object;
  if (v.get_object().get(object)) return false;
  for (auto field : object) {
    std::string_view key, value;
    if (field.unescaped_key().get(key) || field.value().get_string().get(value)) return false;
    header.metadata.emplace_back(key, value);
  }
  return true;
}

// One top-level member; false when it is malformed.
bool ReadMember(std::string_view key, od::value v, Report& r) {
  std::string_view text;
  if (key == "project") return ReadString(v, r.job.project);
  if (key == "job_id") return !v.get_int64().get(r.job.job_id);
  if (key == "base_job_id") {
    bool null = false;
    if (v.is_null().get(null)) return false;
    if (null) return true;
    int64_t id = 0;
    if (v.get_int64().get(id)) return false;
    r.base.base_job_id = id;
    return true;
  }
  if (key == "status") {
    if (v.get_string().get(text)) return false;
    if (text != "succeeded" && text != "failed") return false;
    r.job.status = text == "failed" ? JobStatus::kFailed : JobStatus::kSucceeded;
    return true;
  }
  if (key == "objects") return !v.get_int64().get(r.object_count);
  if (key == "metadata") return ReadMetadata(v, r.job);
  if (key == "metrics") return ReadMetrics(v, r);
  if (key == "changes") return ReadChanges(v, r.diff);
  if (key == "limit") {
    int64_t limit = 0;
    if (v.get_int64().get(limit) || limit < 1) return false;
    r.limit = static_cast<size_t>(limit);
    return true;
  }
  if (key == "lineage") return ReadLineage(v, r.base);
  return true;  // summary, explanation: derived from the rest
}

}  // namespace

Result<Report> ParseReportJson(const std::string& json, std::string* recorded_in) {
  od::parser parser;
  od::document doc;
  if (json.capacity() - json.size() < simdjson::SIMDJSON_PADDING) {
    return Bad("the padding");  // a caller's bug: stored reads are padded
  }
  if (parser.iterate(json.data(), json.size(), json.capacity()).get(doc)) return Bad("the JSON");
  od::object object;
  if (doc.get_object().get(object)) return Bad("the report object");
  Report r;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return Bad("a key");
    od::value v;
    if (field.value().get(v)) return Bad(key);
    if (key == "recorded_in") {
      if (recorded_in != nullptr && !ReadString(v, *recorded_in)) return Bad(key);
      continue;
    }
    if (!ReadMember(key, v, r)) return Bad(key);
  }
  if (r.job.job_id < 1) return Bad("job_id");
  if (r.job.project.empty()) return Bad("project");
  if (r.limit == 0) return Bad("limit");
  const std::optional<int64_t> ms = ParseRfc3339(r.job.timestamp);
  if (!ms) return Bad("metrics.timestamp");
  r.job.timestamp_ms = *ms;
  return r;
}

bool CanDeriveReport(const Report& kept, size_t limit) {
  return !kept.diff.truncated || limit <= kept.limit;
}

Report DeriveReport(const Report& kept, size_t limit) {
  Report r = kept;
  r.limit = limit;
  r.warehouse.reset();
  DiffResult& d = r.diff;
  const DiffCounts& c = d.counts;
  auto cut = [limit](auto& list) {
    if (list.size() > limit) list.resize(limit);
  };
  cut(d.added);
  cut(d.added_at);
  cut(d.removed);
  // Modified objects are grouped by kind: keep the first `limit` of each group.
  std::vector<ModifiedObject> modified;
  std::array<size_t, 4> per_kind{};
  for (ModifiedObject& m : d.modified) {
    if (per_kind[static_cast<size_t>(m.kind)]++ < limit) modified.push_back(std::move(m));
  }
  d.modified = std::move(modified);
  const auto over = [limit](int64_t count) { return count > static_cast<int64_t>(limit); };
  d.truncated = over(c.added) || over(c.removed) || over(c.moved) || over(c.resized) ||
                over(c.retyped) || over(c.changed);
  return r;
}

}  // namespace buildtrace
