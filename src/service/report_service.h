// Builds the report on one job: finds its base (lineage), diffs the two stored states, records
// the metrics row in the warehouse once per (project, job, base), and renders it. A rendered
// report is kept in the store next to the states (reports/...), so asking again costs a read.
// Never computes a report on partial data: a store error is returned as is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/report.h"
#include "service/job_repository.h"
#include "service/metrics_outbox.h"
#include "warehouse/metrics_warehouse.h"

namespace buildtrace {

struct ReportRequest {
  std::string project{kDefaultProject};
  int64_t job_id = 0;
  std::optional<int64_t> base_job_id;  // explicit base; chosen by lineage when absent
  size_t limit = 1000;                 // listed IDs per kind
};

// Thread-safe if the repository's store and the warehouse are.
class ReportService {
 public:
  // `outbox` (may be null: a refused row is then only reported as failed) keeps the rows the
  // warehouse refuses for a retry in the background.
  ReportService(JobRepository& jobs, MetricsWarehouse& warehouse, MetricsOutbox* outbox = nullptr)
      : jobs_(jobs), warehouse_(warehouse), outbox_(outbox) {}

  // Computes the report afresh and records its metrics row. kNotFound if the job or the
  // explicit base does not exist; kUnavailable if the store cannot be read; kInternal if a
  // stored job is corrupt. A warehouse failure is not an error: the row goes to the outbox and
  // the report's `warehouse` section says "pending" ("failed" when the outbox cannot keep it
  // either, or there is none).
  Result<Report> Build(const ReportRequest& request);

  // The rendered report, from the store's copy when one was kept, else built, recorded, kept
  // (only once its row is recorded, so a kept report always has its row) and rendered. Errors as
  // Build. A kept report's warehouse section says the row is already recorded.
  Result<std::string> Render(const ReportRequest& request, ReportFormat format);

 private:
  Result<BaseSelection> ChooseBase(const ReportRequest& request);
  Result<Report> Compute(const ReportRequest& request, BaseSelection base);
  WarehouseOutcome Record(const Report& report);

  JobRepository& jobs_;
  MetricsWarehouse& warehouse_;
  MetricsOutbox* outbox_;
};

// Where the rendered report for `request` with `base` is kept:
// "reports/<project>/<job_id>/<base_id or none>-<e or l><skipped failed>-<limit>.<json|txt>",
// IDs as 19 digits. The base, how it was chosen and what lineage skipped are all in the name, so
// a kept report can never be served for a different lineage: jobs are never deleted, so the set
// of failed jobs skipped between a job and its base only grows, and its size names it.
std::string ReportObjectName(const ReportRequest& request, const BaseSelection& base,
                             ReportFormat format);

// The warehouse row for a report.
MetricsRow MetricsRowFor(const Report& report);

}  // namespace buildtrace
