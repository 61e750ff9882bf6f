// The report flow: lineage, diff, metrics row.
#include "service/report_service.h"

#include <algorithm>
#include <future>

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

std::string ReportObjectName(const ReportRequest& request, const BaseSelection& base,
                             ReportFormat format) {
  return "reports/" + request.project + "/" + JobIdDigits(request.job_id) + "/" +
         (base.base_job_id ? JobIdDigits(*base.base_job_id) : std::string("none")) + "-" +
         (base.explicit_base ? "e" : "l") + std::to_string(base.skipped_failed.size()) + "-" +
         std::to_string(request.limit) + (format == ReportFormat::kJson ? ".json" : ".txt");
}

Result<BaseSelection> ReportService::ChooseBase(const ReportRequest& request) {
  if (request.base_job_id) {
    Result<JobHeader> base = jobs_.LoadHeader(request.project, *request.base_job_id);
    if (!base.ok()) {
      if (base.status().code() != StatusCode::kNotFound) return base.status();
      return NotFound("base job " + std::to_string(*request.base_job_id) + " of project " +
                      request.project + " does not exist; name a stored job as base");
    }
    return ExplicitBase(*request.base_job_id);
  }
  Result<std::vector<int64_t>> ids = jobs_.ListJobIds(request.project);
  if (!ids.ok()) return ids.status();
  const auto end = std::lower_bound(ids->begin(), ids->end(), request.job_id);
  const std::span<const int64_t> earlier(ids->data(), end - ids->begin());
  return SelectBase(request.job_id, earlier, [&](int64_t id) -> Result<JobStatus> {
    Result<JobHeader> header = jobs_.LoadHeader(request.project, id);
    if (!header.ok()) return header.status();
    return header->status;
  });
}

Result<Report> ReportService::Compute(const ReportRequest& request, BaseSelection base) {
  // The base is read and parsed on a second thread while this one does the job itself.
  std::future<Result<std::unique_ptr<ParsedJobs>>> pending_base;
  if (base.base_job_id) {
    pending_base = std::async(std::launch::async, [this, &request, id = *base.base_job_id] {
      return jobs_.Load(request.project, id);
    });
  }
  auto current = jobs_.Load(request.project, request.job_id);
  std::unique_ptr<ParsedJobs> previous;
  if (pending_base.valid()) {
    auto loaded = pending_base.get();
    if (!loaded.ok()) return loaded.status();
    previous = std::move(*loaded);
  }
  if (!current.ok()) return current.status();
  const Job& job = (*current)->jobs().front();
  static const JobState kEmpty;
  Result<DiffResult> diff =
      DiffStates(previous ? previous->jobs().front().state : kEmpty, job.state, request.limit);
  if (!diff.ok()) {
    // Stored jobs were checked when they were posted; a duplicate now means the store was
    // changed behind our back.
    return Internal("stored jobs of project " + request.project + " are corrupt: " +
                    diff.status().message());
  }
  Report report;
  report.job = job.header;
  report.object_count = static_cast<int64_t>(job.state.size());
  report.base = std::move(base);
  report.limit = request.limit;
  report.diff = std::move(*diff);
  return report;
}

Result<Report> ReportService::Build(const ReportRequest& request) {
  Result<JobHeader> header = jobs_.LoadHeader(request.project, request.job_id);
  if (!header.ok()) return header.status();
  Result<BaseSelection> base = ChooseBase(request);
  if (!base.ok()) return base.status();
  Result<Report> report = Compute(request, std::move(*base));
  if (!report.ok()) return report;
  report->warehouse = Record(*report);
  return report;
}

Result<std::string> ReportService::Render(const ReportRequest& request, ReportFormat format) {
  Result<JobHeader> header = jobs_.LoadHeader(request.project, request.job_id);
  if (!header.ok()) return header.status();
  Result<BaseSelection> base = ChooseBase(request);
  if (!base.ok()) return base.status();
  const std::string name = ReportObjectName(request, *base, format);
  if (Result<std::string> kept = jobs_.store().Read(name); kept.ok()) {
    AppendWarehouseSection(*kept, format,
                           {"recorded", false,
                            "metrics row already in " + warehouse_.Describe() +
                                " from an earlier report"});
    return std::move(*kept);
  }
  Result<Report> report = Compute(request, std::move(*base));
  if (!report.ok()) return report.status();
  const WarehouseOutcome outcome = Record(*report);
  std::string rendered = RenderReport(*report, format);
  if (outcome.status == "recorded") {
    Status kept = jobs_.store().CreateIfAbsent(name, rendered);
    if (!kept.ok() && kept.code() != StatusCode::kAlreadyExists) {
      LogWarning("report not kept for later requests: " + kept.message());
    }
  }
  AppendWarehouseSection(rendered, format, outcome);
  return rendered;
}

WarehouseOutcome ReportService::Record(const Report& report) {
  const MetricsRow row = MetricsRowFor(report);
  auto which = [&] {
    return "metrics row of job " + std::to_string(row.job_id) + " of project " + row.project;
  };
  if (outbox_ != nullptr && outbox_->IsPending(row)) {
    // Already queued: the worker retries it with backoff; asking the warehouse again on every
    // report request would defeat the backoff.
    return {"pending", false,
            which() + " waits in the outbox for " + warehouse_.Describe() +
                "; it is retried in the background"};
  }
  Result<bool> inserted = warehouse_.Record(row);
  if (inserted.ok()) {
    if (*inserted) return {"recorded", true, "metrics row written to " + warehouse_.Describe()};
    return {"recorded", false,
            "metrics row already in " + warehouse_.Describe() + " from an earlier report"};
  }
  const std::string refused = inserted.status().message();
  if (outbox_ == nullptr) {
    LogError(which() + " not recorded: " + refused);
    return {"failed", false, refused};
  }
  if (Status kept = outbox_->Add(row); !kept.ok()) {
    LogError(which() + " not recorded and not kept in the outbox: " + refused + "; " +
             kept.message());
    return {"failed", false,
            refused + "; keeping it in the outbox failed too (" + kept.message() +
                "); it is recorded when the report is asked for again"};
  }
  LogWarning(which() + " kept in the outbox: " + refused);
  return {"pending", false,
          "the warehouse did not take the row (" + refused +
              "); it is kept in the outbox and retried in the background"};
}

}  // namespace buildtrace
