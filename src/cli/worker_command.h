// `buildtrace worker`: analysis without HTTP. Takes tasks from a shared queue (redis://,
// pubsub://) and analyses them against the same store and warehouse as the `serve` instances
// that publish them, so analysis scales apart from ingest. Runs the sweep too.
#pragma once

#include <string>

#include "cli/service_backends.h"
#include "core/job_parser.h"

namespace buildtrace {

struct WorkerOptions {
  std::string data_dir = "./buildtrace-data";
  std::string store_url;      // empty: chosen as for serve (ChooseBackends)
  std::string warehouse_url;  // empty: chosen as for serve
  AnalysisOptions analysis;   // queue_url is required (inproc:// is refused: it has no publisher)
  ParseLimits limits;         // what a stored job may hold when it is read back
  int64_t warehouse_timeout_ms = 10'000;
};

// Runs until SIGINT or SIGTERM, then finishes the tasks in hand and returns 0. Returns 1 when a
// backend or the queue cannot be opened (the reason on stderr), 2 for an inproc:// queue or a
// BUCKET or PROJECT_ID that cannot be one. Logs first where it stores, records and queues.
int RunWorker(const WorkerOptions& options);

}  // namespace buildtrace
