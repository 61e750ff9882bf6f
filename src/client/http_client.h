// A small synchronous HTTP/1.1 client over one keep-alive connection, used by `buildtrace
// simulate` and by the end-to-end tests to talk to a running BuildTrace service. Only plain
// http:// is supported. Transport failures (refused, reset, timed out) come back as
// kUnavailable; an HTTP error status is a successful exchange and is returned as a response.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace buildtrace {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string content_type;                    // empty when the server sent none
  std::map<std::string, std::string> headers;  // names in lower case; repeated names joined by ", "
};

struct HttpEndpoint {
  std::string host;  // a name or an address; IPv6 addresses without brackets
  uint16_t port = 80;
};

// Parses "http://host:port" or "http://host:port/" (the port defaults to 80 when absent).
// Returns kInvalidArgument, with a message saying what to write instead, for other schemes
// (https included), a missing host, a port that is not a number in 1..65535, or a path.
Result<HttpEndpoint> ParseHttpUrl(std::string_view url);

// One keep-alive connection to one endpoint, opened on the first request. When a reused
// connection turns out to have been closed by the server, the request is sent once more on a
// fresh connection; a fresh connection that fails is reported, not retried.
// Every step (resolve, connect, write, read) is bounded by `timeout`; a step that runs out of
// time returns kUnavailable and drops the connection. Response bodies up to 1 GiB are accepted.
// Not thread-safe: use one client per thread.
class HttpClient {
 public:
  explicit HttpClient(HttpEndpoint endpoint,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpResponse> Get(std::string_view target,
                           std::vector<std::pair<std::string, std::string>> headers = {});
  Result<HttpResponse> Post(std::string_view target, std::string body,
                            std::string_view content_type = "application/json",
                            std::vector<std::pair<std::string, std::string>> headers = {});
  // `headers` replace the client's defaults (Host, User-Agent) when they share a name.
  Result<HttpResponse> Send(std::string_view method, std::string_view target, std::string body,
                            std::vector<std::pair<std::string, std::string>> headers);

  const HttpEndpoint& endpoint() const { return endpoint_; }

  // Called as a request goes out, after each piece the socket took, with the bytes of the
  // request (headers and body) written so far and its whole size; the last call has them equal.
  // For progress displays of large uploads; none by default.
  using UploadProgress = std::function<void(uint64_t written, uint64_t total)>;
  void SetUploadProgress(UploadProgress progress) { upload_progress_ = std::move(progress); }

 private:
  class Connection;  // Boost.Beast stays in http_client.cc

  HttpEndpoint endpoint_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Connection> connection_;
  UploadProgress upload_progress_;
};

}  // namespace buildtrace
