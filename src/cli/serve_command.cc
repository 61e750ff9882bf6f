// Start-up of the service: backends from URLs, the API, the server.
#include "cli/serve_command.h"

#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "cli/backend_choice.h"
#include "cli/service_backends.h"
#include "core/available_cpus.h"
#include "core/job_parser.h"
#include "core/large_memory.h"
#include "http/access_control.h"
#include "http/api.h"
#include "http/error_response.h"
#include "http/server.h"
#include "service/log.h"

namespace buildtrace {
namespace {

// How much freed memory the process keeps for the next requests instead of returning it to the
// system (docs/PERFORMANCE.md measures both sides). Returning it costs a page fault and a zeroed
// page per 4 KiB the next time, so a 350 KB report answer freed and faulted back on every request
// shows in the latency tail, and a 1M-object state's buffers cost more to fault than to fill.
// `bytes` is split here, in one place:
// - three eighths to the large buffers of core/large_memory.h (input bodies read from files,
//   state entries, ID indexes): kept whole, handed to the next request that needs as much;
// - an eighth to simdjson parsers (SetParsersKept, core/job_parser.h): their structural indexes,
//   a few MiB of mapped pages each, faulted in once instead of at every parse;
// - a quarter to glibc's heap: at most kArenas malloc arenas (each thread otherwise gets its own,
//   and each keeps its own free memory), each trimmed only once more than its share is free at
//   its top. A fixed mmap threshold of 1 MiB gives larger malloc buffers (request bodies,
//   simdjson's indexes) mappings of their own, returned as soon as they are freed; without it
//   glibc raises the threshold after a large buffer is freed, up to 32 MiB, and the next bodies
//   of a few MiB stay on the heap once freed (resident memory grew by 20 MiB a round);
// - a quarter to the rendered answers of kept comparisons (service/answer_cache.h): returned,
//   for the Api that holds them.
// So what is kept stays under `bytes` in all, apart from fragmentation inside the heaps.
size_t KeepFreedMemory(uint64_t bytes) {
  constexpr int kArenas = 4;
  SetLargeBuffersKept(static_cast<size_t>(bytes / 8 * 3));
  SetParsersKept(static_cast<size_t>(bytes / 8));
  mallopt(M_ARENA_MAX, kArenas);
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  const uint64_t share = bytes / 4 / kArenas;
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(std::min<uint64_t>(share, INT32_MAX)));
  return static_cast<size_t>(bytes / 4);
}

// Whether `host` is in 127.0.0.0/8 or is ::1.
// nullopt when `host` is not an address at all, which the server reports on its own.
std::optional<bool> IsLoopbackHost(const std::string& host) {
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  return address.is_loopback();
}

// The access control from --auth-tokens-file, or none; an error (printed) when the file is
// malformed, or when there is no file and the host is reachable from other machines without
// --allow-unauthenticated (secure by default).
Result<std::optional<AccessControl>> LoadAccessControl(const ServeOptions& options) {
  if (!options.auth_tokens_file.empty()) {
    Result<AccessControl> access = AccessControl::Load(options.auth_tokens_file);
    if (!access.ok()) return access.status();
    return std::optional<AccessControl>(std::move(*access));
  }
  if (!options.allow_unauthenticated && !IsLoopbackHost(options.host).value_or(true)) {
    return InvalidArgument("refusing to listen on " + options.host +
                           " without access control; give --auth-tokens-file FILE, or "
                           "--allow-unauthenticated if something in front of the service "
                           "(e.g. Cloud Run IAM) checks callers, or listen on 127.0.0.1");
  }
  return std::optional<AccessControl>();
}

// Descriptors kept free beyond --max-connections for everything else the process opens: the
// store's files, the warehouse's database, the listening socket, the event loop's own.
constexpr uint32_t kReservedDescriptors = 64;

// Raises the soft limit on open descriptors to the hard one, and returns the largest number of
// connections that leaves kReservedDescriptors free under it: `wanted`, or fewer (said in the
// log) when the limit is too low for it.
uint32_t FitConnectionsToDescriptors(uint32_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return wanted;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY ||
      limit.rlim_cur >= uint64_t{wanted} + kReservedDescriptors) {
    return wanted;
  }
  const uint32_t fit = limit.rlim_cur > kReservedDescriptors + 1
                           ? static_cast<uint32_t>(limit.rlim_cur - kReservedDescriptors)
                           : 1;
  LogWarning("the descriptor limit is " + std::to_string(limit.rlim_cur) +
             " (ulimit -n), too low for --max-connections " + std::to_string(wanted) + " and " +
             std::to_string(kReservedDescriptors) + " descriptors for the store and the " +
             "warehouse: serving at most " + std::to_string(fit) +
             " connections; raise the limit (LimitNOFILE= under systemd) to serve more");
  return fit;
}

// The server's options that guard it against hostile clients, wired to the API.
void SetProtections(const ServeOptions& options, const Api& api, ServerStats& stats,
                    ServerOptions& server) {
  server.max_connections = FitConnectionsToDescriptors(options.max_connections);
  server.max_connections_per_client = options.max_connections_per_client;
  server.max_inflight_body_bytes = options.max_inflight_body_bytes;
  server.stats = &stats;
  server.screen = [&api](const HttpRequest& headers) { return api.Screen(headers); };
  server.lane = &Api::Lane;
}

}  // namespace

int RunServe(const ServeOptions& options) {
  Result<BackendChoice> choice =
      ChooseBackends(options.store_url, options.warehouse_url, options.data_dir);
  if (!choice.ok()) {
    std::fprintf(stderr, "buildtrace serve: %s\n", choice.status().message().c_str());
    return 2;
  }
  const bool has_queue =
      options.analysis.workers > 0 || !options.analysis.queue_url.starts_with("inproc:");
  LogInfo(DescribeBackends(*choice, has_queue ? options.analysis.queue_url : std::string()));
  Result<std::optional<AccessControl>> access = LoadAccessControl(options);
  if (!access.ok()) {
    std::fprintf(stderr, "buildtrace serve: %s\n", access.status().message().c_str());
    return 1;
  }
  const size_t answer_cache_bytes = KeepFreedMemory(options.keep_memory_bytes);
  BackendOptions backend_options{.store_url = choice->store_url,
                                 .warehouse_url = choice->warehouse_url,
                                 .outbox_retry_initial_ms = options.outbox_retry_initial_ms,
                                 .outbox_retry_max_ms = options.outbox_retry_max_ms,
                                 .outbox_rescan_ms = options.outbox_rescan_ms,
                                 .warehouse_timeout_ms = options.warehouse_timeout_ms};
  Result<std::unique_ptr<ServiceBackends>> backends = OpenServiceBackends(backend_options);
  if (!backends.ok()) {
    std::fprintf(stderr, "buildtrace serve: %s\n", backends.status().message().c_str());
    return 1;
  }
  ServiceBackends& b = **backends;
  // The queue: tasks are published to it whenever there is one; local workers take them when
  // --analysis-workers > 0. inproc:// without local workers would have no reader: no queue then.
  std::unique_ptr<AnalysisQueue> queue;
  if (has_queue) {
    Result<std::unique_ptr<AnalysisQueue>> opened =
        b.registry.OpenQueue(options.analysis.queue_url);
    if (!opened.ok()) {
      std::fprintf(stderr, "buildtrace serve: %s\n", opened.status().message().c_str());
      return 1;
    }
    queue = std::make_unique<TimedQueue>(std::move(*opened), b.metrics);
  }
  ResponseCounters responses;
  ServerStats server_stats;
  // The Api is built before the workers (they share its repository and report service); the
  // hooks below reach the workers once they exist.
  std::atomic<BackgroundAnalysis*> running_analysis{nullptr};
  ApiContext context{*b.store,
                     *b.bounded,
                     options.limits,
                     WallClockMs,
                     options.max_body_bytes,
                     *access ? &**access : nullptr,
                     b.outbox.get(),
                     &responses,
                     &server_stats,
                     std::chrono::milliseconds(options.probe_timeout_ms)};
  AnalysisStats analysis_stats;
  context.default_report_format = options.report_format;
  context.answer_cache_bytes = answer_cache_bytes;
  context.queue = queue.get();
  context.backends = &b.metrics;
  context.analysis = queue ? &analysis_stats : nullptr;
  context.enqueue_failed = [&running_analysis] {
    if (BackgroundAnalysis* a = running_analysis.load()) a->MarkBehind();
  };
  Api api(std::move(context));
  // With a queue, the sweep runs here whatever the number of workers: an instance that only
  // publishes (its tasks analysed by `buildtrace worker` processes or a push subscription) still
  // enqueues again what it failed to publish.
  std::unique_ptr<BackgroundAnalysis> analysis;
  if (queue) {
    analysis = std::make_unique<BackgroundAnalysis>(*queue, api.analyzer(), api.jobs(), *b.store,
                                                    analysis_stats, options.analysis);
    running_analysis.store(analysis.get());
  }
  ServerOptions server_options;
  server_options.host = options.host;
  server_options.port = options.port;
  server_options.max_body_bytes = options.max_body_bytes;
  server_options.worker_threads = options.worker_threads;
  LogInfo("cpus: " + std::to_string(AvailableCpus()) +
          " available (the affinity mask and the cgroup's CPU quota); worker threads: " +
          std::to_string(WorkerThreadsOf(server_options)));
  server_options.max_header_bytes = options.max_header_bytes;
  server_options.max_url_bytes = options.max_url_bytes;
  server_options.max_connections = options.max_connections;
  server_options.idle_timeout = std::chrono::milliseconds(options.idle_timeout_ms);
  server_options.header_timeout = std::chrono::milliseconds(options.header_timeout_ms);
  server_options.request_timeout = std::chrono::milliseconds(options.request_timeout_ms);
  server_options.shutdown_timeout = std::chrono::milliseconds(options.shutdown_timeout_ms);
  server_options.counters = &responses;
  // The access log names traces as Cloud Trace does: projects/<project>/traces/<id>.
  for (const char* name : {"PROJECT_ID", "GOOGLE_CLOUD_PROJECT"}) {
    const char* project = std::getenv(name);
    if (project != nullptr && *project != '\0') {
      server_options.trace_project = project;
      break;
    }
  }
  SetProtections(options, api, server_stats, server_options);
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
              b.store->Describe().c_str(), b.warehouse->Describe().c_str());
  std::fflush(stdout);
  LogInfo(!queue ? std::string("analysis: off (--analysis-workers 0); reports are computed "
                               "when asked for")
          : options.analysis.workers > 0
              ? "analysis: " + std::to_string(options.analysis.workers) + " worker(s) on " +
                    queue->Describe()
              : "analysis: tasks published to " + queue->Describe() +
                    " for workers elsewhere (--analysis-workers 0); the sweep runs here");
  // How many tokens, never which: the file holds only hashes, but they stay out of logs too.
  LogInfo(*access ? "access control: " + std::to_string((*access)->tokens().size()) +
                        " tokens from " + options.auth_tokens_file
                  : std::string("access control: none (no --auth-tokens-file)"));
  // Resumes the rows an earlier run (of any instance sharing the store) left in the outbox.
  b.outbox->Start();
  // Its first sweep enqueues what an earlier run left unanalysed.
  if (analysis) analysis->Start();
  server.Run();
  // Tasks not taken stay in the queue (inproc://: the next start's sweep finds their jobs).
  if (analysis) analysis->Stop();
  // Rows still waiting stay in the store; the next start resumes them.
  b.outbox->Stop();
  const OutboxStats left = b.outbox->Stats();
  if (left.pending > 0) {
    LogWarning("stopped with " + std::to_string(left.pending) +
               " metrics rows waiting in the outbox; the next start retries them");
  }
  LogInfo("stopped");
  return 0;
}

}  // namespace buildtrace
