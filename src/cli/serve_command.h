// `buildtrace serve`: opens the backends named by URL and runs the HTTP service.
#pragma once

#include <cstdint>
#include <string>

#include "cli/service_backends.h"
#include "core/job_parser.h"
#include "core/report.h"

namespace buildtrace {

struct ServeOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::string data_dir = "./buildtrace-data";
  std::string store_url;      // empty: BUCKET, else file://<data_dir>/states (ChooseBackends)
  std::string warehouse_url;  // empty: PROJECT_ID's BigQuery, else sqlite://<data_dir>/metrics.db
  uint64_t max_body_bytes = 64ull << 20;
  int worker_threads = 0;
  // Connection limits and timeouts (see ServerOptions in http/server.h), times in milliseconds.
  uint32_t max_header_bytes = 64u << 10;
  uint32_t max_url_bytes = 8u << 10;
  uint32_t max_connections = 1024;
  uint32_t max_connections_per_client = 0;  // 0: no limit
  uint64_t max_inflight_body_bytes = 0;     // 0: 4 x max_body_bytes
  uint64_t keep_memory_bytes = 160u << 20;  // freed memory kept for reuse (KeepFreedMemory)
  int64_t idle_timeout_ms = 60'000;
  int64_t header_timeout_ms = 10'000;
  int64_t request_timeout_ms = 120'000;
  int64_t shutdown_timeout_ms = 10'000;
  ParseLimits limits;            // what one request and one job may hold (see core/job_parser.h)
  std::string auth_tokens_file;  // empty: no access control
  bool allow_unauthenticated = false;  // without tokens, listen on a non-loopback host anyway
  // The metrics outbox's retry schedule (see service/metrics_outbox.h), in milliseconds.
  int64_t outbox_retry_initial_ms = 1'000;
  int64_t outbox_retry_max_ms = 300'000;
  int64_t outbox_rescan_ms = 60'000;
  // Deadlines for backend calls made while serving a request, in milliseconds.
  int64_t warehouse_timeout_ms = 1'000;
  int64_t probe_timeout_ms = 1'000;
  // Background analysis: the queue, and the workers that run here (0: none; with inproc://,
  // that turns background analysis off).
  AnalysisOptions analysis;
  // What GET /report answers when the request names no format (--report-format).
  ReportFormat report_format = ReportFormat::kJson;
};

// Logs first where it stores, records and queues (ChooseBackends, secrets masked). Returns the
// process exit code: 0 after a clean stop, 1 if a backend cannot be opened, the port cannot be
// bound, the tokens file is malformed, or the host is not a loopback address while there is no
// tokens file and no allow_unauthenticated, 2 for a BUCKET or PROJECT_ID that cannot be one
// (the reason is printed to stderr).
int RunServe(const ServeOptions& options);

}  // namespace buildtrace
