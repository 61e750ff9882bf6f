// Opening the backends shared by `serve` and `worker`.
#include "cli/service_backends.h"

#include <algorithm>
#include <chrono>

#include "service/log.h"
#include "warehouse/reopening_warehouse.h"

namespace buildtrace {
int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::unique_ptr<ServiceBackends>> OpenServiceBackends(const BackendOptions& options) {
  auto backends = std::make_unique<ServiceBackends>();
  RegisterBuiltinBackends(backends->registry);
  auto store = backends->registry.OpenStore(options.store_url);
  if (!store.ok()) return store.status();
  backends->store = std::make_unique<TimedStateStore>(std::move(*store), backends->metrics);
  // A warehouse that cannot be opened (locked, not a database, its server down) does not stop
  // the service: jobs are stored, rows wait in the outbox, /readyz says "degraded", and the open
  // is retried. Only a URL that cannot work (malformed, unknown scheme, a newer schema) is fatal.
  auto first = std::make_shared<Result<std::unique_ptr<MetricsWarehouse>>>(
      backends->registry.OpenWarehouse(options.warehouse_url));
  if (!first->ok() && first->status().code() == StatusCode::kInvalidArgument) {
    return first->status();
  }
  if (!first->ok()) {
    LogError("starting without the warehouse: " + first->status().message() +
             "; jobs are stored and metrics rows wait in the outbox until it opens (retried "
             "every 5 s)");
  }
  const BackendRegistry* registry = &backends->registry;
  // Timed outside the reopening and inside the deadline: the durations are the warehouse's own
  // (a call past its deadline still counts when it ends), and a closed warehouse's refusals are
  // errors.
  backends->warehouse = std::make_unique<TimedWarehouse>(
      std::make_unique<ReopeningWarehouse>(
          options.warehouse_url,
          [registry, url = options.warehouse_url, first]() mutable {
            if (first) {
              Result<std::unique_ptr<MetricsWarehouse>> opened = std::move(*first);
              first.reset();
              return opened;
            }
            return registry->OpenWarehouse(url);
          }),
      backends->metrics);
  // Every warehouse call made for a request (and by the outbox) answers within its deadline, so
  // a locked or frozen warehouse never holds the threads that serve other requests.
  backends->bounded = std::make_unique<DeadlineWarehouse>(
      *backends->warehouse,
      WarehouseDeadlines{.call = std::chrono::milliseconds(options.warehouse_timeout_ms)});
  OutboxOptions outbox;
  outbox.initial_backoff = std::chrono::milliseconds(options.outbox_retry_initial_ms);
  outbox.max_backoff = std::chrono::milliseconds(
      std::max(options.outbox_retry_max_ms, options.outbox_retry_initial_ms));
  outbox.rescan_interval = std::chrono::milliseconds(options.outbox_rescan_ms);
  backends->outbox =
      std::make_unique<MetricsOutbox>(*backends->store, *backends->bounded, outbox, WallClockMs);
  return backends;
}

BackgroundAnalysis::BackgroundAnalysis(AnalysisQueue& queue, Analyzer& analyzer,
                                       JobRepository& jobs, StateStore& store, AnalysisStats& stats,
                                       const AnalysisOptions& options)
    : workers_(
          queue, analyzer, store, stats,
          AnalysisWorkerOptions{.threads = options.workers, .max_attempts = options.max_attempts}),
      sweep_(jobs, queue, stats,
             SweepOptions{.interval = std::chrono::milliseconds(options.sweep_interval_ms)}) {}

void BackgroundAnalysis::Start() {
  workers_.Start();
  sweep_.Start();
}

void BackgroundAnalysis::Stop() {
  sweep_.Stop();
  workers_.Stop();
}

}  // namespace buildtrace
