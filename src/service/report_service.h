// Builds the report on one job: finds its base (lineage), diffs the two stored states, records
// the metrics row in the warehouse once per (project, job, base), and returns the Report for the
// HTTP layer to render. Never computes a report on partial data: a store error is returned as is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/report.h"
#include "service/job_repository.h"
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
  ReportService(JobRepository& jobs, MetricsWarehouse& warehouse)
      : jobs_(jobs), warehouse_(warehouse) {}

  // kNotFound if the job or the explicit base does not exist; kUnavailable if the store cannot
  // be read; kInternal if a stored job is corrupt. A warehouse failure is not an error: the
  // report says so in its `warehouse` section.
  Result<Report> Build(const ReportRequest& request);

 private:
  // Chooses the base; when lineage chose it, `last_loaded` holds the base job, already parsed.
  Result<BaseSelection> ChooseBase(const ReportRequest& request,
                                   std::unique_ptr<ParsedJobs>& last_loaded);
  WarehouseOutcome Record(const Report& report);

  JobRepository& jobs_;
  MetricsWarehouse& warehouse_;
};

// The warehouse row for a report.
MetricsRow MetricsRowFor(const Report& report);

}  // namespace buildtrace
