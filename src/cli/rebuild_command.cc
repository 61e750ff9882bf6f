// The rebuild-metrics command: opens the backends by URL and runs RebuildMetrics.
#include "cli/rebuild_command.h"

#include <ostream>

#include "backends/registry.h"
#include "cli/backend_choice.h"
#include "service/metrics_rebuild.h"

namespace buildtrace {
namespace {

void PrintProgress(std::ostream& err, const RebuildProgress& p) {
  err << "rebuild-metrics: " << (p.project.empty() ? "done" : "project " + p.project) << ": "
      << p.jobs << " jobs walked, " << p.written << " rows written, " << p.present
      << " already there";
  if (p.corrupt > 0) err << ", " << p.corrupt << " corrupt jobs skipped";
  err << "\n" << std::flush;
}

}  // namespace

int RunRebuildMetrics(const RebuildCommandOptions& options, std::ostream& out, std::ostream& err) {
  Result<BackendChoice> choice =
      ChooseBackends(options.store_url, options.warehouse_url, options.data_dir);
  if (!choice.ok()) {
    err << "buildtrace rebuild-metrics: " << choice.status().message() << "\n";
    return 2;
  }
  BackendRegistry registry;
  RegisterBuiltinBackends(registry);
  auto store = registry.OpenStore(choice->store_url);
  if (!store.ok()) {
    err << "buildtrace rebuild-metrics: " << store.status().message() << "\n";
    return 1;
  }
  auto warehouse = registry.OpenWarehouse(choice->warehouse_url);
  if (!warehouse.ok()) {
    err << "buildtrace rebuild-metrics: " << warehouse.status().message() << "\n";
    return 1;
  }
  if (!options.project.empty() && !IsValidProjectName(options.project)) {
    err << "buildtrace rebuild-metrics: --project must be 1-128 characters of A-Z, a-z, 0-9, '.', "
           "'_' or '-', starting with a letter or digit\n";
    return 1;
  }
  JobRepository jobs(**store, ParseLimits{});
  RebuildOptions rebuild;
  if (!options.project.empty()) rebuild.project = options.project;
  Result<RebuildProgress> done = RebuildMetrics(
      jobs, **warehouse, rebuild, [&](const RebuildProgress& p) { PrintProgress(err, p); },
      [&](const std::string& warning) { err << "rebuild-metrics: " << warning << "\n"; });
  if (!done.ok()) {
    err << "buildtrace rebuild-metrics: " << done.status().message()
        << "; the rows written so far stay, run it again once this is fixed\n";
    return 1;
  }
  out << "rebuilt the metrics of " << done->projects << " projects from " << (*store)->Describe()
      << " into " << (*warehouse)->Describe() << ": " << done->jobs << " jobs, " << done->written
      << " rows written, " << done->present << " already there\n";
  if (done->corrupt > 0) {
    out << done->corrupt
        << " stored jobs are corrupt and have no row; restore them from a backup\n";
    return 1;
  }
  return 0;
}

}  // namespace buildtrace
