// Rebuilds the warehouse from the store, the source of truth: every stored job's lineage row
// (its counts against the base lineage chooses, exactly as a report computes them), written
// with the warehouse's insert-if-absent, so running it again, or while the service runs, never
// duplicates a row. For `buildtrace rebuild-metrics` after a warehouse lost its rows.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "service/job_repository.h"
#include "warehouse/metrics_warehouse.h"

namespace buildtrace {

struct RebuildProgress {
  std::string project;   // the project being walked ("" once all are done)
  int64_t projects = 0;  // projects finished
  int64_t jobs = 0;      // jobs walked so far, over all projects
  int64_t written = 0;   // rows this run wrote
  int64_t present = 0;   // rows the warehouse had already
  int64_t corrupt = 0;   // stored jobs skipped because they are corrupt
};

struct RebuildOptions {
  std::optional<std::string> project;  // only this project; all when absent
  int64_t progress_every = 1000;       // report progress after this many jobs (and at the end)
};

// Walks each project's jobs in ID order, keeping the latest succeeded job's state to compare
// the next ones with. A corrupt stored job is skipped (counted, and named through `warn`); a
// job after it is compared with the last good succeeded job. Stops at the first store or
// warehouse error and returns it, after the rows written so far.
Result<RebuildProgress> RebuildMetrics(JobRepository& jobs, MetricsWarehouse& warehouse,
                                       const RebuildOptions& options,
                                       const std::function<void(const RebuildProgress&)>& progress,
                                       const std::function<void(const std::string&)>& warn);

}  // namespace buildtrace
