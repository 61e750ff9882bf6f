// Start-up of the service: backends from URLs, the API, the server.
#include "cli/serve_command.h"

#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "backends/registry.h"
#include "http/api.h"
#include "http/error_response.h"
#include "http/server.h"
#include "service/log.h"

namespace buildtrace {
namespace {

std::string DefaultUrl(const char* scheme, const std::string& data_dir, const char* name) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::absolute(data_dir, ec);
  if (ec) dir = data_dir;
  return std::string(scheme) + "://" + (dir / name).lexically_normal().string();
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int RunServe(const ServeOptions& options) {
  // glibc raises its mmap threshold after a large buffer is freed, up to 32 MiB, so that the
  // next bodies and states of a few MiB come from the heap and stay there once freed. A fixed
  // threshold keeps every large buffer in its own mapping, returned to the system when freed,
  // so resident memory comes back down after a burst of large jobs.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  BackendRegistry registry;
  RegisterBuiltinBackends(registry);
  const std::string store_url =
      options.store_url.empty() ? DefaultUrl("file", options.data_dir, "states")
                                : options.store_url;
  const std::string warehouse_url =
      options.warehouse_url.empty() ? DefaultUrl("sqlite", options.data_dir, "metrics.db")
                                    : options.warehouse_url;
  auto store = registry.OpenStore(store_url);
  if (!store.ok()) {
    std::fprintf(stderr, "buildtrace serve: %s\n", store.status().message().c_str());
    return 1;
  }
  auto warehouse = registry.OpenWarehouse(warehouse_url);
  if (!warehouse.ok()) {
    std::fprintf(stderr, "buildtrace serve: %s\n", warehouse.status().message().c_str());
    return 1;
  }
  Api api(ApiContext{**store, **warehouse, ParseLimits{}, NowMs, options.max_body_bytes});
  ServerOptions server_options;
  server_options.host = options.host;
  server_options.port = options.port;
  server_options.max_body_bytes = options.max_body_bytes;
  server_options.worker_threads = options.worker_threads;
  HttpServer server(
      server_options, [&api](HttpRequest& request) { return api.Handle(request); },
      [](unsigned status, std::string code, std::string message) {
        return ErrorResponse(status, std::move(code), std::move(message));
      });
  if (Status s = server.Listen(); !s.ok()) {
    std::fprintf(stderr, "buildtrace serve: %s\n", s.message().c_str());
    return 1;
  }
  // Tests and scripts read this line to learn the port when --port 0 was given.
  std::printf("buildtrace listening on http://%s:%u (store %s, warehouse %s)\n",
              options.host.c_str(), static_cast<unsigned>(server.port()),
              (*store)->Describe().c_str(), (*warehouse)->Describe().c_str());
  std::fflush(stdout);
  server.Run();
  LogInfo("stopped");
  return 0;
}

}  // namespace buildtrace
