// Report rendering. Structured values are shown by their SHA-256 in JSON ("before"/"after", as
// the design hashes them) next to their canonical attributes ("before_object"/"after_object").
#include "core/report.h"

#include "core/canonical_hash.h"
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

void WriteChanges(JsonWriter& w, const DiffResult& d) {
  w.Key("changes").BeginObject();
  w.Key("added").BeginArray();
  for (const auto& id : d.added) w.String(id);
  w.EndArray();
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
    w.EndObject();
  }
  w.EndArray();
  w.Key("truncated").Bool(d.truncated);
  w.EndObject();
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

std::string RenderReport(const Report& report, ReportFormat format) {
  return format == ReportFormat::kJson ? RenderReportJson(report) : RenderReportText(report);
}

void AppendWarehouseSection(std::string& rendered, ReportFormat format,
                            const WarehouseOutcome& outcome) {
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
                 const std::vector<std::string>& ids, char mark) {
  out += std::string(title) + " (" + std::to_string(total) + ")\n";
  for (const auto& id : ids) out += std::string("  ") + mark + " " + Printable(id) + "\n";
  if (static_cast<int64_t>(ids.size()) < total) {
    out += "  ... and " + std::to_string(total - static_cast<int64_t>(ids.size())) + " more\n";
  }
}

void TextModified(std::string& out, const Report& r, ChangeKind kind, int64_t total) {
  std::string title = ChangeKindName(kind);
  title[0] = static_cast<char>(title[0] - 'a' + 'A');
  out += title + " (" + std::to_string(total) + ")\n";
  int64_t shown = 0;
  for (const auto& m : r.diff.modified) {
    if (m.kind != kind) continue;
    out +=
        "  ~ " + Printable(m.id) + ": " + Printable(m.before) + " -> " + Printable(m.after) + "\n";
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
  TextSection(out, "Added", c.added, r.diff.added, '+');
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
