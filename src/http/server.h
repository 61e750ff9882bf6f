// The HTTP/1.1 server on Boost.Beast: accepts connections on a few I/O threads, reads each
// request within its limits (header size, body size, time), runs the handler on a separate pool
// of worker threads (handlers block on disk and databases), and writes the answer back.
// Knows nothing about BuildTrace's API: that is api.h.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/beast/http.hpp>

#include "core/status.h"

namespace buildtrace {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

// Called on a worker thread, possibly on many at once: must be thread-safe. Takes the request by
// reference so that it may move the body out.
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

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;                                // 0 picks a free port
  uint64_t max_body_bytes = 64ull << 20;               // larger bodies get 413
  uint32_t max_header_bytes = 64u << 10;               // larger headers get 431
  uint32_t max_url_bytes = 8u << 10;                   // longer request targets get 414
  // Beyond this many open connections, a new one gets 503 and is closed.
  uint32_t max_connections = 1024;
  std::chrono::milliseconds idle_timeout{60'000};      // keep-alive wait for a request's 1st byte
  std::chrono::milliseconds header_timeout{10'000};    // from its 1st byte to the end of headers
  std::chrono::milliseconds request_timeout{120'000};  // to receive a whole request
  // After Stop() or SIGTERM: how long requests in flight may take to finish before the server
  // stops anyway (Cloud Run kills the container 10 s after SIGTERM).
  std::chrono::milliseconds shutdown_timeout{10'000};
  int io_threads = 1;
  int worker_threads = 0;  // 0: max(2, hardware threads)
  // Counts every response sent, the server's own rejections included; may be null. Not owned.
  ResponseCounters* counters = nullptr;
};

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
