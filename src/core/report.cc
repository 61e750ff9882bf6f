// Report rendering. Structured values are shown by their SHA-256 in JSON ("before"/"after", as
// the design hashes them) next to their canonical attributes ("before_object"/"after_object").
#include "core/report.h"

#include <algorithm>

#include "core/canonical_hash.h"
#include "core/change_sentence.h"
#include "core/json_writer.h"

namespace buildtrace {
namespace {

std::string CountsSentence(const DiffCounts& c) {
  return std::to_string(c.added) + " added, " + std::to_string(c.removed) + " removed, " +
         std::to_string(c.modified()) + " modified (" + std::to_string(c.moved) + " moved, " +
         std::to_string(c.resized) + " resized, " + std::to_string(c.retyped) + " retyped, " +
         std::to_string(c.changed) + " changed), " + std::to_string(c.unchanged) + " unchanged";
}

void WriteValue(JsonWriter& w, const char* key, const char* object_key, const std::string& value,
                bool structured) {
  if (!structured) {
    w.Key(key).String(value);
    return;
  }
  w.Key(key).String(ContentDigest(value));
  w.Key(object_key).Raw(value);
}

void WriteMetrics(JsonWriter& w, const Report& r) {
  const DiffCounts& c = r.diff.counts;
  w.Key("metrics").BeginObject();
  w.Key("timestamp").String(r.job.timestamp);
  w.Key("job_id").Int(r.job.job_id);
  w.Key("latency_ms").Number(r.job.latency_ms);
  w.Key("total_added").Int(c.added);
  w.Key("total_removed").Int(c.removed);
  w.Key("total_modified").Int(c.modified());
  w.Key("total_unchanged").Int(c.unchanged);
  w.Key("total_moved").Int(c.moved);
  w.Key("total_resized").Int(c.resized);
  w.Key("total_retyped").Int(c.retyped);
  w.Key("total_changed").Int(c.changed);
  w.EndObject();
}

std::optional<Placement> PlacementAt(const DiffResult& d, size_t i) {
  return i < d.added_at.size() ? d.added_at[i] : std::nullopt;
}

void WriteAddedObjects(JsonWriter& w, const DiffResult& d) {
  w.Key("added_objects").BeginArray();
  for (size_t i = 0; i < d.added.size(); ++i) {
    const std::optional<Placement> at = PlacementAt(d, i);
    w.BeginObject();
    w.Key("id").String(d.added[i]);
    if (at) {
      w.Key("type").String(at->type);
      w.Key("x").Number(at->x);
      w.Key("y").Number(at->y);
    }
    w.Key("sentence").String(AddedSentence(d.added[i], at));
    w.EndObject();
  }
  w.EndArray();
}

void WriteDelta(JsonWriter& w, const ModifiedObject& m) {
  const ChangeDelta delta = DeltaOf(m);
  if (delta.dx) {
    w.Key("dx").Number(*delta.dx);
    w.Key("dy").Number(*delta.dy);
    w.Key("dw").Number(*delta.dw);
    w.Key("dh").Number(*delta.dh);
  }
  if (delta.from_type) {
    w.Key("from_type").String(*delta.from_type);
    w.Key("to_type").String(*delta.to_type);
  }
  if (m.before_structured && m.after_structured) {
    w.Key("changed").BeginArray();
    for (const auto& field : delta.changed_fields) w.String(field);
    w.EndArray();
  }
  w.Key("sentence").String(ModifiedSentence(m));
}

void WriteChanges(JsonWriter& w, const DiffResult& d) {
  w.Key("changes").BeginObject();
  w.Key("added").BeginArray();
  for (const auto& id : d.added) w.String(id);
  w.EndArray();
  WriteAddedObjects(w, d);
  w.Key("removed").BeginArray();
  for (const auto& id : d.removed) w.String(id);
  w.EndArray();
  w.Key("modified").BeginArray();
  for (const auto& m : d.modified) {
    w.BeginObject();
    w.Key("id").String(m.id);
    w.Key("kind").String(ChangeKindName(m.kind));
    WriteValue(w, "before", "before_object", m.before, m.before_structured);
    WriteValue(w, "after", "after_object", m.after, m.after_structured);
    WriteDelta(w, m);
    w.EndObject();
  }
  w.EndArray();
  w.Key("truncated").Bool(d.truncated);
  w.EndObject();
}

// The original's "metrics_status" said "BigQuery insertion attempted."; ours says what became of
// the row, and which job this one was compared with.
std::string ClassicMetricsStatus(const Report& r) {
  std::string out;
  if (!r.warehouse) {
    out = "Metrics not recorded (report computed offline).";
  } else if (r.warehouse->status == "recorded") {
    out = "Metrics recorded in the warehouse.";
  } else if (r.warehouse->status == "pending") {
    out = "Metrics pending: the row is queued and will be recorded when the warehouse answers.";
  } else if (r.warehouse->status == "not_recorded") {
    out = "Metrics not recorded: a comparison with an explicit base is not the job's lineage.";
  } else {
    out = "Metrics " + r.warehouse->status + ": " + r.warehouse->message + ".";
  }
  if (r.base.base_job_id) {
    out += " Compared with job " + std::to_string(*r.base.base_job_id) + ": " +
           ExplainBase(r.job.job_id, r.base);
  } else {
    out += " " + ExplainBase(r.job.job_id, r.base);
  }
  return out;
}

void WriteLineage(JsonWriter& w, const Report& r) {
  w.Key("lineage").BeginObject();
  w.Key("explicit_base").Bool(r.base.explicit_base);
  w.Key("skipped_failed").BeginArray();
  for (int64_t id : r.base.skipped_failed) w.Int(id);
  w.EndArray();
  if (r.base.skipped_failed_capped) w.Key("skipped_failed_capped").Bool(true);
  w.Key("missing_ids").Int(r.base.missing_ids);
  w.Key("explanation").String(ExplainBase(r.job.job_id, r.base));
  w.EndObject();
}

}  // namespace

std::string Summarize(const Report& r) {
  std::string out = "Job " + std::to_string(r.job.job_id) + " of project " + r.job.project;
  out += r.base.base_job_id ? " against job " + std::to_string(*r.base.base_job_id)
                            : std::string(" with no base");
  out += ": " + CountsSentence(r.diff.counts) + ".";
  const bool plain_previous =
      r.base.base_job_id && !r.base.explicit_base && *r.base.base_job_id == r.job.job_id - 1;
  if (!plain_previous) out += " " + ExplainBase(r.job.job_id, r.base);
  return out;
}

std::string RenderReportJson(const Report& r) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("project").String(r.job.project);
  w.Key("job_id").Int(r.job.job_id);
  if (r.base.base_job_id) {
    w.Key("base_job_id").Int(*r.base.base_job_id);
  } else {
    w.Key("base_job_id").Null();
  }
  w.Key("status").String(JobStatusName(r.job.status));
  w.Key("objects").Int(r.object_count);
  w.Key("metadata").BeginObject();
  for (const auto& [k, v] : r.job.metadata) w.Key(k).String(v);
  w.EndObject();
  WriteMetrics(w, r);
  WriteChanges(w, r.diff);
  w.Key("limit").Int(static_cast<int64_t>(r.limit));
  WriteLineage(w, r);
  w.Key("summary").String(Summarize(r));
  w.EndObject();
  out.push_back('\n');
  if (r.warehouse) AppendWarehouseSection(out, ReportFormat::kJson, *r.warehouse);
  return out;
}

std::string RenderReportClassic(const Report& r) {
  const DiffResult& d = r.diff;
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("job_id").Int(r.job.job_id);
  w.Key("added").BeginArray();
  for (size_t i = 0; i < d.added.size(); ++i)
    w.String(AddedSentence(d.added[i], PlacementAt(d, i)));
  w.EndArray();
  w.Key("removed").BeginArray();
  for (const auto& id : d.removed) w.String(RemovedSentence(id));
  w.EndArray();
  // The original listed every modified object together; ours are grouped by kind: merge them back
  // into one list in ID order.
  std::vector<const ModifiedObject*> modified;
  for (const auto& m : d.modified) modified.push_back(&m);
  std::stable_sort(modified.begin(), modified.end(),
                   [](const ModifiedObject* a, const ModifiedObject* b) { return a->id < b->id; });
  w.Key("moved_or_modified").BeginArray();
  for (const ModifiedObject* m : modified) w.String(ModifiedSentence(*m));
  w.EndArray();
  w.Key("summary").String(ClassicSummary(d.counts));
  w.Key("metrics_status").String(ClassicMetricsStatus(r));
  w.EndObject();
  out.push_back('\n');
  return out;
}

std::optional<ReportFormat> ParseReportFormat(std::string_view name) {
  if (name == "json") return ReportFormat::kJson;
  if (name == "text") return ReportFormat::kText;
  if (name == "classic") return ReportFormat::kClassic;
  return std::nullopt;
}

std::string RenderReport(const Report& report, ReportFormat format) {
  switch (format) {
    case ReportFormat::kJson:
      return RenderReportJson(report);
    case ReportFormat::kText:
      return RenderReportText(report);
    case ReportFormat::kClassic:
      return RenderReportClassic(report);
  }
  return RenderReportJson(report);
}

void AppendWarehouseSection(std::string& rendered, ReportFormat format,
                            const WarehouseOutcome& outcome) {
  if (format == ReportFormat::kClassic) return;  // its metrics_status is rendered with it
  if (format == ReportFormat::kText) {
    rendered += "\nWarehouse: " + outcome.status + " (" + outcome.message + ")\n";
    return;
  }
  // The JSON object ends with "}\n": reopen it for one more member.
  rendered.resize(rendered.size() - 2);
  JsonWriter w(rendered);
  rendered.push_back(',');
  w.Key("warehouse").BeginObject();
  w.Key("status").String(outcome.status);
  w.Key("inserted").Bool(outcome.inserted);
  w.Key("message").String(outcome.message);
  w.EndObject();
  rendered.append("}\n");
}

namespace {

// A value for the text report: control characters (a newline in an ID, say) are written as
// \xNN so that one object stays on one line.
std::string Printable(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    }
  }
  return out;
}

void TextSection(std::string& out, const char* title, int64_t total,
                 const std::vector<std::string>& lines, char mark) {
  out += std::string(title) + " (" + std::to_string(total) + ")\n";
  for (const auto& line : lines) out += std::string("  ") + mark + " " + Printable(line) + "\n";
  if (static_cast<int64_t>(lines.size()) < total) {
    out += "  ... and " + std::to_string(total - static_cast<int64_t>(lines.size())) + " more\n";
  }
}

void TextModified(std::string& out, const Report& r, ChangeKind kind, int64_t total) {
  std::string title = ChangeKindName(kind);
  title[0] = static_cast<char>(title[0] - 'a' + 'A');
  out += title + " (" + std::to_string(total) + ")\n";
  int64_t shown = 0;
  for (const auto& m : r.diff.modified) {
    if (m.kind != kind) continue;
    out += "  ~ " + Printable(ModifiedSentence(m)) + " [" + Printable(m.before) + " -> " +
           Printable(m.after) + "]\n";
    ++shown;
  }
  if (shown < total) out += "  ... and " + std::to_string(total - shown) + " more\n";
}

}  // namespace

std::string RenderReportText(const Report& r) {
  const DiffCounts& c = r.diff.counts;
  std::string out = "BuildTrace report: project " + r.job.project + ", job " +
                    std::to_string(r.job.job_id) + " (" + JobStatusName(r.job.status) + ")\n";
  out += "Timestamp: " + r.job.timestamp + "\n";
  std::string latency;
  AppendJsonNumber(latency, r.job.latency_ms);
  out += "Latency:   " + latency + " ms\n";
  out += "Objects:   " + std::to_string(r.object_count) + "\n";
  for (const auto& [k, v] : r.job.metadata) {
    out += "Metadata:  " + Printable(k) + " = " + Printable(v) + "\n";
  }
  out += "Base:      " +
         (r.base.base_job_id ? "job " + std::to_string(*r.base.base_job_id) : std::string("none")) +
         ". " + ExplainBase(r.job.job_id, r.base) + "\n\n";
  out += "Summary: " + CountsSentence(c) + ".\n\n";
  // Added objects with a geometry in the original's words, the others by ID.
  std::vector<std::string> added;
  for (size_t i = 0; i < r.diff.added.size(); ++i) {
    const std::optional<Placement> at = PlacementAt(r.diff, i);
    added.push_back(at ? AddedSentence(r.diff.added[i], at) : r.diff.added[i]);
  }
  TextSection(out, "Added", c.added, added, '+');
  TextSection(out, "Removed", c.removed, r.diff.removed, '-');
  TextModified(out, r, ChangeKind::kMoved, c.moved);
  TextModified(out, r, ChangeKind::kResized, c.resized);
  TextModified(out, r, ChangeKind::kRetyped, c.retyped);
  TextModified(out, r, ChangeKind::kChanged, c.changed);
  if (r.diff.truncated) {
    out += "\nLists stop at " + std::to_string(r.limit) + " objects per kind (limit=N for more).\n";
  }
  if (r.warehouse) AppendWarehouseSection(out, ReportFormat::kText, *r.warehouse);
  return out;
}

}  // namespace buildtrace
