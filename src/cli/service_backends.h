// The backends `serve` and `worker` open from their URLs, and the analysis that runs on them:
// the store, the warehouse (reopened while it is down, each call within a deadline), the metrics
// outbox in front of it, and the analysis queue with its workers and sweep.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "backends/registry.h"
#include "queue/analysis_queue.h"
#include "service/analysis.h"
#include "service/analysis_workers.h"
#include "service/backend_metrics.h"
#include "service/deadline_warehouse.h"
#include "service/metrics_outbox.h"
#include "store/state_store.h"
#include "warehouse/metrics_warehouse.h"

namespace buildtrace {

// Milliseconds since the epoch, by the system clock: the clock of the API and the outbox.
int64_t WallClockMs();

struct BackendOptions {
  std::string store_url;      // required
  std::string warehouse_url;  // required
  // The metrics outbox's retry schedule (see service/metrics_outbox.h), in milliseconds.
  int64_t outbox_retry_initial_ms = 1'000;
  int64_t outbox_retry_max_ms = 300'000;
  int64_t outbox_rescan_ms = 60'000;
  int64_t warehouse_timeout_ms = 1'000;  // the deadline of one warehouse call
};

struct ServiceBackends {
  BackendRegistry registry;
  // Every call of the store and the warehouse (and of the queue, when the caller wraps it in a
  // TimedQueue), timed for GET /metrics. Declared first: the backends below report to it.
  BackendMetrics metrics;
  std::unique_ptr<StateStore> store;            // a TimedStateStore
  std::unique_ptr<MetricsWarehouse> warehouse;  // a TimedWarehouse over a ReopeningWarehouse
  std::unique_ptr<DeadlineWarehouse> bounded;   // `warehouse`, each call within its deadline
  std::unique_ptr<MetricsOutbox> outbox;        // rows `bounded` refused; not started
};

// Opens the store and the warehouse. A warehouse that cannot be opened now (locked, its server
// down) is logged and retried every 5 s while the service runs; a URL that can never work
// (malformed, unknown scheme, a newer schema) and a store that cannot be opened are errors.
Result<std::unique_ptr<ServiceBackends>> OpenServiceBackends(const BackendOptions& options);

// The queue and how analysis runs on it.
struct AnalysisOptions {
  std::string queue_url = "inproc://";
  int workers = 2;  // threads taking tasks; 0: none here
  int max_attempts = 5;
  int64_t sweep_interval_ms = 600'000;
};

// Workers and the sweep over one queue, started and stopped together.
class BackgroundAnalysis {
 public:
  // `stats` receives the counts and must outlive this.
  BackgroundAnalysis(AnalysisQueue& queue, Analyzer& analyzer, JobRepository& jobs,
                     StateStore& store, AnalysisStats& stats, const AnalysisOptions& options);
  void Start();
  void Stop();  // the workers finish the task in hand; tasks not taken stay in the queue
  // Something was not enqueued: the sweep comes sooner.
  void MarkBehind() { sweep_.MarkBehind(); }

 private:
  AnalysisWorkers workers_;
  AnalysisSweep sweep_;
};

}  // namespace buildtrace
