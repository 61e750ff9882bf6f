// The HTTP/1.1 server on Boost.Beast: accepts connections on a few I/O threads, reads each
// request within its limits (header size, body size, time), runs the handler on a separate pool
// of worker threads (handlers block on disk and databases), and writes the answer back.
// Knows nothing about BuildTrace's API: that is api.h.
#pragma once

#include <array>
#include <atomic>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "http/request_body.h"
#include "http/response_body.h"

namespace buildtrace {

// Request bodies grow without copies and become the parser's input as they are
// (http/request_body.h).
using HttpRequest = boost::beast::http::request<RequestBody>;
// Answers may share kept bytes instead of owning a copy (http/response_body.h).
using HttpResponse = boost::beast::http::response<ResponseBody>;

// Called on a worker thread (or an I/O or a control thread, see RequestLane), possibly on many at
// once: must be thread-safe. Takes the request by reference so that it may move the body out.
using RequestHandler = std::function<HttpResponse(HttpRequest& request)>;

// Builds the answer for a request the server itself rejects (too large, malformed, timed out),
// so that its body has the same shape as the handler's errors.
using ErrorResponder =
    std::function<HttpResponse(unsigned status, std::string code, std::string message)>;

// Responses sent, by status code, for the service's own metrics (GET /metrics). Thread-safe.
class ResponseCounters {
 public:
  void Count(unsigned status);
  // (status, count) for every status sent at least once, in ascending order of status.
  std::vector<std::pair<unsigned, uint64_t>> Snapshot() const;

 private:
  std::array<std::atomic<uint64_t>, 600> counts_{};  // a status outside 100-599 counts as 599
};

// The threads that answer a request (ServerOptions::lane), so that cheap control requests never
// queue behind handlers blocked on a backend.
enum class RequestLane {
  kInline,   // on the I/O thread, before its next read: the handler must not block (liveness)
  kControl,  // on the control pool, apart from the workers (readiness, metrics)
  kWork,     // on the worker pool: everything else
};

// Decides, once a request's headers have arrived and before any body byte is read, whether to
// answer it at once (e.g. 401 without a valid token). Runs on an I/O thread, so it must be cheap
// and must not block; thread-safe. nullopt: read the body and run the handler as usual.
using RequestScreen = std::function<std::optional<HttpResponse>(const HttpRequest& headers)>;
// The lane of a whole request; runs on an I/O thread, cheap and thread-safe.
using LaneChooser = std::function<RequestLane(const HttpRequest& request)>;

// What the server holds and has done, for the operator (GET /metrics). The server writes it;
// every field may be read from any thread at any time (each is one atomic; fields read one after
// the other may be from slightly different moments).
struct ServerStats {
  std::atomic<uint64_t> open_connections{0};      // admitted and not yet closed
  std::atomic<uint64_t> idle_connections{0};      // of those, waiting for a request's first byte
  std::atomic<uint64_t> max_connections{0};       // the effective ServerOptions::max_connections
  std::atomic<uint64_t> body_bytes_in_flight{0};  // request-body buffers held, all connections
  std::atomic<uint64_t> body_bytes_limit{0};      // ServerOptions::max_inflight_body_bytes
  std::atomic<uint64_t> accept_errors_total{0};   // failed accepts, of any cause
  // Episodes of descriptor or memory exhaustion on accept (EMFILE, ENFILE, ENOBUFS, ENOMEM):
  // each began with a failed accept after a successful one and ended with the next success.
  std::atomic<uint64_t> accept_exhaustion_episodes_total{0};
  std::atomic<uint64_t> idle_closed_total{0};           // idle connections closed to make room
  std::atomic<uint64_t> rejected_connections_total{0};  // new connections refused (503 or dropped)
  std::atomic<uint64_t> inflight_refused_total{0};      // requests refused for the in-flight bound
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;                   // 0 picks a free port
  uint64_t max_body_bytes = 64ull << 20;  // larger bodies get 413
  uint32_t max_header_bytes = 64u << 10;  // larger headers get 431
  uint32_t max_url_bytes = 8u << 10;      // longer request targets get 414
  // At this many open connections, a new one first closes the connection that has been idle
  // longest (no byte of a request since it opened or since its last answer); when none is idle,
  // it gets 503 and is closed.
  uint32_t max_connections = 1024;
  // Connections from one peer address at most (0: no limit): beyond it, that peer's own
  // longest-idle connection is closed, else the new one gets 503.
  uint32_t max_connections_per_client = 0;
  // Request-body buffers held at once across all connections, from the first byte read until the
  // handler has returned (0: 4 x max_body_bytes). A body whose buffer would grow past it gets 503
  // with Retry-After and its connection is closed. Bodies grow as their bytes arrive, never ahead.
  uint64_t max_inflight_body_bytes = 0;
  std::chrono::milliseconds idle_timeout{60'000};      // keep-alive wait for a request's 1st byte
  std::chrono::milliseconds header_timeout{10'000};    // from its 1st byte to the end of headers
  std::chrono::milliseconds request_timeout{120'000};  // to receive a whole request
  // After Stop() or SIGTERM: how long requests in flight may take to finish before the server
  // stops anyway (Cloud Run kills the container 10 s after SIGTERM).
  std::chrono::milliseconds shutdown_timeout{10'000};
  int io_threads = 1;
  int worker_threads = 0;   // 0: max(2, AvailableCpus())
  int control_threads = 2;  // for RequestLane::kControl; at least 1
  // Counts every response sent, the server's own rejections included; may be null. Not owned.
  ResponseCounters* counters = nullptr;
  // Filled by the server; may be null. Not owned; must outlive the server.
  ServerStats* stats = nullptr;
  // May be empty: no screening, every request's body is read.
  RequestScreen screen;
  // May be empty: every request goes to the worker pool.
  LaneChooser lane;
  // The Google Cloud project that the JSON access log's "logging.googleapis.com/trace" names
  // (projects/<it>/traces/<trace id>); empty: the bare trace id.
  std::string trace_project;
  // After accept fails for want of descriptors or memory, the wait before the next attempt:
  // from the first, doubling up to the largest, back to the first after a success.
  std::chrono::milliseconds accept_backoff_first{10};
  std::chrono::milliseconds accept_backoff_max{1'000};
};

// The worker threads `options` asks for: worker_threads, or max(2, AvailableCpus()) when it is 0.
unsigned WorkerThreadsOf(const ServerOptions& options);

class HttpServer {
 public:
  HttpServer(ServerOptions options, RequestHandler handler, ErrorResponder errors);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens. kInvalidArgument for a bad host, kUnavailable if the port is taken.
  Status Listen();
  // The port listened on (the chosen one when options.port was 0). Valid after Listen().
  uint16_t port() const;
  // Serves until Stop() or SIGINT/SIGTERM; returns after in-flight handlers have finished.
  void Run();
  // Thread-safe; a graceful stop that makes Run() return. The acceptor closes at once, so new
  // connections are refused; connections waiting for a request are closed; a request whose
  // headers have arrived is read, handled and answered (with `Connection: close`). Run() returns
  // when the last connection has closed, or after options.shutdown_timeout at the latest (a
  // handler still running then is waited for, but its answer is not sent).
  void Stop();

  class Impl;  // in server.cc; public only so that the connection code there can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace buildtrace
