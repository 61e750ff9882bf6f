// A client of one BuildTrace service's API, for the command line (`post`, `report`, `jobs`,
// `stats`, `delete-project`, `simulate`): the service's URL and bearer token, gzip-compressed job
// bodies, and the service's error answers turned into one readable line. Built on HttpClient (plain
// http://).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "client/http_client.h"
#include "core/status.h"

namespace buildtrace {

struct ServiceConnection {
  std::string url = "http://127.0.0.1:8080";                     // http://host:port
  std::string token;                                             // empty: no Authorization header
  std::chrono::milliseconds timeout = std::chrono::seconds(60);  // per step (see HttpClient)
};

class ServiceClient {
 public:
  // kInvalidArgument, saying what to write instead, for a URL ParseHttpUrl refuses or a token
  // that is not one word of printable ASCII (a line break would end the header).
  static Result<ServiceClient> Connect(const ServiceConnection& connection);

  // GET `target` ("/report/7?project=web"). Transport failures are kUnavailable; any HTTP
  // status is an answer.
  Result<HttpResponse> Get(std::string_view target);
  // POST /process with `json` (one job or an array of jobs), gzip-compressed on the wire
  // (Content-Encoding: gzip) when `gzip` is true.
  Result<HttpResponse> PostJobs(std::string_view json, bool gzip);

  // DELETE /projects/{project} (the name percent-encoded). Transport failures are kUnavailable.
  Result<HttpResponse> DeleteProject(std::string_view project);
  // See HttpClient::SetUploadProgress.
  void SetUploadProgress(HttpClient::UploadProgress progress);
  const std::string& url() const { return url_; }

 private:
  ServiceClient(std::string url, std::string token, HttpEndpoint endpoint,
                std::chrono::milliseconds timeout);
  std::vector<std::pair<std::string, std::string>> Headers() const;

  std::string url_;
  std::string token_;
  std::unique_ptr<HttpClient> http_;
};

// The service's own words for an error answer: error.message, then each detail as
// "; field: message"; the start of the body (300 bytes) when it is not the service's JSON error.
std::string ServiceErrorText(const std::string& body);

// `text` percent-encoded for a query value or a path segment (RFC 3986 unreserved characters
// stay as they are).
std::string EscapeUrlComponent(std::string_view text);

// One gzip member holding `data`, at zlib's default level.
std::string GzipCompress(std::string_view data);

}  // namespace buildtrace
