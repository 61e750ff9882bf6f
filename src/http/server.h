// The HTTP/1.1 server on Boost.Beast: accepts connections on a few I/O threads, reads each
// request within its limits (header size, body size, time), runs the handler on a separate pool
// of worker threads (handlers block on disk and databases), and writes the answer back.
// Knows nothing about BuildTrace's API: that is api.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

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

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;                                // 0 picks a free port
  uint64_t max_body_bytes = 64ull << 20;               // larger bodies get 413
  uint32_t max_header_bytes = 64u << 10;               // larger headers get 431
  std::chrono::milliseconds idle_timeout{60'000};      // keep-alive wait for the next request
  std::chrono::milliseconds request_timeout{120'000};  // to receive a whole request
  int io_threads = 1;
  int worker_threads = 0;  // 0: max(2, hardware threads)
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
  // Thread-safe; makes Run() return.
  void Stop();

  class Impl;  // in server.cc; public only so that the connection code there can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace buildtrace
