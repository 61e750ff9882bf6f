// The report on one job: its counts against its base, the listed changes, why that base, and
// what became of its metrics row. Rendered as JSON (for programs) and as text (for people);
// both come from the same Report so they never disagree.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/diff.h"
#include "core/job.h"
#include "core/lineage.h"

namespace buildtrace {

// What the warehouse did with the report's metrics row. Absent in offline reports.
struct WarehouseOutcome {
  std::string status;     // "recorded", "pending" (in the outbox) or "failed"
  bool inserted = false;  // this report wrote the row (false: it was there already)
  std::string message;
};

struct Report {
  JobHeader job;
  int64_t object_count = 0;  // objects in the job's state
  BaseSelection base;
  DiffResult diff;
  size_t limit = 0;  // the per-kind list limit the diff used
  std::optional<WarehouseOutcome> warehouse;
};

// "Job 124 of project default against job 123: 1 added, 0 removed, 2 modified (1 moved,
// 1 resized, 0 retyped, 0 changed), 100 unchanged." plus the base explanation when the base is
// not simply the previous job.
std::string Summarize(const Report& report);

// The JSON answer of GET /report (see docs/api.md for the fields). Ends with a newline.
std::string RenderReportJson(const Report& report);

// The human-readable report: counts, base and why, then the listed changes grouped by kind.
std::string RenderReportText(const Report& report);

// The original service's report, exactly its shape: {"job_id", "added", "removed",
// "moved_or_modified", "summary", "metrics_status"}, the lists as its sentences (see
// change_sentence.h), modified objects in ID order. "metrics_status" says what became of the
// metrics row and which job this one was compared with. Ends with a newline.
std::string RenderReportClassic(const Report& report);

enum class ReportFormat { kJson, kText, kClassic };

// "json", "text" or "classic"; nullopt for anything else.
std::optional<ReportFormat> ParseReportFormat(std::string_view name);

// RenderReportJson, RenderReportText or RenderReportClassic.
std::string RenderReport(const Report& report, ReportFormat format);

// Adds the warehouse section to a report rendered without one, giving what RenderReport gives
// for the same report with `outcome` as its warehouse (nothing for kClassic, whose metrics status
// is part of its rendering). Lets a report be rendered once, kept,
// and served again with the outcome of the request at hand.
void AppendWarehouseSection(std::string& rendered, ReportFormat format,
                            const WarehouseOutcome& outcome);

}  // namespace buildtrace
