// `buildtrace serve`: opens the backends named by URL and runs the HTTP service.
#pragma once

#include <cstdint>
#include <string>

namespace buildtrace {

struct ServeOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::string data_dir = "./buildtrace-data";
  std::string store_url;      // default: file://<data_dir>/states
  std::string warehouse_url;  // default: sqlite://<data_dir>/metrics.db
  uint64_t max_body_bytes = 64ull << 20;
  int worker_threads = 0;
};

// Returns the process exit code: 0 after a clean stop, 1 if a backend cannot be opened or the
// port cannot be bound (the reason is printed to stderr).
int RunServe(const ServeOptions& options);

}  // namespace buildtrace
