// `buildtrace rebuild-metrics`: writes every stored job's lineage row into the warehouse again,
// from the store (the source of truth), e.g. after metrics.db was lost. Idempotent: rows already
// there are left as they are, so it may run again, or while the service runs.
#pragma once

#include <iosfwd>
#include <string>

namespace buildtrace {

struct RebuildCommandOptions {
  std::string data_dir = "./buildtrace-data";
  std::string store_url;      // empty: chosen as for serve (ChooseBackends)
  std::string warehouse_url;  // empty: chosen as for serve
  std::string project;        // empty: every project
};

// Progress goes to `err` (a line per 1000 jobs and per project); the summary to `out`. Exit
// code 0 when every job's row is in the warehouse, 1 when a backend cannot be opened or fails,
// or some stored jobs are corrupt (named on `err`), 2 for a BUCKET or PROJECT_ID that cannot be
// one.
int RunRebuildMetrics(const RebuildCommandOptions& options, std::ostream& out, std::ostream& err);

}  // namespace buildtrace
