// The report flow: lineage, diff, metrics row.
#include "service/report_service.h"

#include <algorithm>

#include "core/timestamp.h"
#include "service/log.h"

namespace buildtrace {

MetricsRow MetricsRowFor(const Report& r) {
  const DiffCounts& c = r.diff.counts;
  MetricsRow row;
  row.project = r.job.project;
  row.job_id = r.job.job_id;
  row.base_job_id = r.base.base_job_id;
  row.timestamp = FormatRfc3339Utc(r.job.timestamp_ms);
  row.timestamp_ms = r.job.timestamp_ms;
  row.latency_ms = r.job.latency_ms;
  row.added = c.added;
  row.removed = c.removed;
  row.modified = c.modified();
  row.unchanged = c.unchanged;
  row.moved = c.moved;
  row.resized = c.resized;
  row.retyped = c.retyped;
  row.changed = c.changed;
  return row;
}

Result<BaseSelection> ReportService::ChooseBase(const ReportRequest& request,
                                                std::unique_ptr<ParsedJobs>& last_loaded) {
  if (request.base_job_id) return ExplicitBase(*request.base_job_id);
  Result<std::vector<int64_t>> ids = jobs_.ListJobIds(request.project);
  if (!ids.ok()) return ids.status();
  const auto end = std::lower_bound(ids->begin(), ids->end(), request.job_id);
  const std::span<const int64_t> earlier(ids->data(), end - ids->begin());
  return SelectBase(request.job_id, earlier, [&](int64_t id) -> Result<JobStatus> {
    auto job = jobs_.Load(request.project, id);
    if (!job.ok()) return job.status();
    last_loaded = std::move(*job);  // the last one loaded is the base: keep it for the diff
    return last_loaded->jobs().front().header.status;
  });
}

Result<Report> ReportService::Build(const ReportRequest& request) {
  auto current = jobs_.Load(request.project, request.job_id);
  if (!current.ok()) return current.status();
  std::unique_ptr<ParsedJobs> previous;
  Result<BaseSelection> base = ChooseBase(request, previous);
  if (!base.ok()) return base.status();
  if (!base->base_job_id) previous.reset();  // lineage read only failed jobs
  if (base->base_job_id && base->explicit_base) {
    auto loaded = jobs_.Load(request.project, *base->base_job_id);
    if (!loaded.ok()) {
      const Status& s = loaded.status();
      if (s.code() == StatusCode::kNotFound && request.base_job_id) {
        return NotFound("base job " + std::to_string(*request.base_job_id) + " of project " +
                        request.project + " does not exist; name a stored job as base");
      }
      return s;
    }
    previous = std::move(*loaded);
  }
  const Job& job = (*current)->jobs().front();
  static const JobState kEmpty;
  Report report;
  report.job = job.header;
  report.object_count = static_cast<int64_t>(job.state.size());
  report.base = std::move(*base);
  report.limit = request.limit;
  Result<DiffResult> diff =
      DiffStates(previous ? previous->jobs().front().state : kEmpty, job.state, request.limit);
  if (!diff.ok()) {
    // Stored jobs were checked when they were posted; a duplicate now means the store was
    // changed behind our back.
    return Internal("stored jobs of project " + request.project + " are corrupt: " +
                    diff.status().message());
  }
  report.diff = std::move(*diff);
  report.warehouse = Record(report);
  return report;
}

WarehouseOutcome ReportService::Record(const Report& report) {
  Result<bool> inserted = warehouse_.Record(MetricsRowFor(report));
  if (!inserted.ok()) {
    LogError("metrics row of job " + std::to_string(report.job.job_id) + " of project " +
             report.job.project + " not recorded: " + inserted.status().message());
    return {"failed", false, inserted.status().message()};
  }
  if (*inserted) return {"recorded", true, "metrics row written to " + warehouse_.Describe()};
  return {"recorded", false,
          "metrics row already in " + warehouse_.Describe() + " from an earlier report"};
}

}  // namespace buildtrace
