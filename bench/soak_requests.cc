// See soak_requests.h. The expected statuses and codes are those of docs/api.md, "Errors".
#include "soak_requests.h"

#include <chrono>
#include <cstdlib>

#include "testing/gzip.h"
#include "tests/e2e/raw_connection.h"

namespace buildtrace {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

const Headers kJson = {{"Content-Type", "application/json"}};
constexpr std::string_view kValidJob =
    R"({"job_id":1,"project":"soak-bad","timestamp":"2026-11-28T10:00:00Z","latency_ms":1,)"
    R"("state":{}})";

// A batch of one job more than the server's default --max-jobs-per-request (10 000).
std::string TooManyJobs() {
  std::string body = "[";
  for (int i = 0; i <= 10'000; ++i) {
    if (i > 0) body += ',';
    body += kValidJob;
  }
  return body + "]";
}

// 70 KB of headers, over the default --max-headers (64 KiB), in fields of 7 KB (Beast throws on
// a single field of 70 KB).
Headers LargeHeaders() {
  Headers headers;
  for (int i = 0; i < 10; ++i) {
    headers.emplace_back("X-Padding-" + std::to_string(i), std::string(7000, 'p'));
  }
  return headers;
}

BadRequest Get(std::string name, std::string target, int status, std::string code) {
  return BadRequest{std::move(name), "GET", std::move(target), "", {}, status, std::move(code)};
}

BadRequest Post(std::string name, std::string body, Headers headers, int status, std::string code) {
  return BadRequest{std::move(name),    "POST", "/process",     std::move(body),
                    std::move(headers), status, std::move(code)};
}

// "HTTP/1.1 413 ..." -> 413; 0 when the text does not start with a status line.
int StatusOf(std::string_view response) {
  if (response.substr(0, 9) != "HTTP/1.1 " || response.size() < 12) return 0;
  return std::atoi(std::string(response.substr(9, 3)).c_str());
}

std::string CodeField(std::string_view code) { return "\"code\":\"" + std::string(code) + "\""; }

}  // namespace

BadRequests::BadRequests(HttpEndpoint endpoint, uint64_t max_body)
    : endpoint_(std::move(endpoint)) {
  Headers gzip = kJson;
  gzip.emplace_back("Content-Encoding", "gzip");
  Headers brotli = kJson;
  brotli.emplace_back("Content-Encoding", "br");
  requests_ = {
      Post("malformed_json", R"({"job_id": 1, "state": )", kJson, 400, "malformed_json"),
      Post("invalid_job", R"({"job_id":1,"timestamp":"yesterday","latency_ms":1,"state":{}})",
           kJson, 400, "invalid_job"),
      Post("unknown_field",
           R"({"job_id":1,"timestamp":"2026-11-28T10:00:00Z","latency":1,)"
           R"("state":{}})",
           kJson, 400, "invalid_job"),
      Get("unknown_param", "/report/1?projet=web", 400, "invalid_request"),
      Get("bad_job_id", "/jobs/abc", 400, "invalid_request"),
      Get("bad_project", "/jobs/1?project=-web", 400, "invalid_request"),
      Get("bad_limit", "/report/1?limit=2000000", 400, "invalid_request"),
      Get("bad_window", "/stats/latency?window=5parsecs", 400, "invalid_request"),
      Get("bad_quantiles", "/stats/latency?quantiles=2", 400, "invalid_request"),
      Get("unknown_path", "/nope", 404, "not_found"),
      Get("missing_job", "/jobs/9000000000000000000?project=soak-none", 404, "not_found"),
      Get("missing_report", "/report/9000000000000000000?project=soak-none", 404, "not_found"),
      BadRequest{"wrong_method", "DELETE", "/jobs/1", "", {}, 405, "method_not_allowed"},
      Get("get_process", "/process", 405, "method_not_allowed"),
      BadRequest{"conflict", "", "", "", {}, 409, "conflict"},  // see ConflictingRepost
      Post("too_many_jobs", TooManyJobs(), kJson, 413, "too_many_jobs"),
      BadRequest{"body_too_large", "POST", "/process", "", kJson, 413, "body_too_large",
                 max_body + 1},
      Post("gzip_bomb", Gzip(std::string(max_body + 1, ' '), 9), gzip, 413, "body_too_large"),
      Post("bad_gzip", "this is not gzip", gzip, 400, "bad_encoding"),
      Post("unsupported_encoding", std::string(kValidJob), brotli, 415, "unsupported_encoding"),
      Get("uri_too_long", "/report/1?project=" + std::string(9000, 'a'), 414, "uri_too_long"),
      BadRequest{"headers_too_large", "GET", "/healthz", "", LargeHeaders(), 431,
                 "headers_too_large"},
  };
}

BadOutcome BadRequests::Send(const BadRequest& request, HttpClient& client) const {
  if (request.announced_body_bytes > 0) return SendAnnouncedOnly(request);
  Result<HttpResponse> r =
      client.Send(request.method, request.target, request.body, request.headers);
  if (!r.ok()) return {false, "no answer: " + r.status().message()};
  if (r->status != request.status || r->body.find(CodeField(request.code)) == std::string::npos) {
    return {false, "HTTP " + std::to_string(r->status) + " " + r->body.substr(0, 300) +
                       " instead of " + std::to_string(request.status) + " " + request.code};
  }
  return {true, ""};
}

// Headers that announce a body over --max-body: the server answers before any of it is sent.
BadOutcome BadRequests::SendAnnouncedOnly(const BadRequest& request) const {
  e2e::RawConnection connection(endpoint_.port);
  if (!connection.ok()) {
    return {false, "cannot connect: errno " + std::to_string(connection.error())};
  }
  std::string head =
      request.method + " " + request.target + " HTTP/1.1\r\nHost: " + endpoint_.host + "\r\n";
  for (const auto& [name, value] : request.headers) head += name + ": " + value + "\r\n";
  head += "Content-Length: " + std::to_string(request.announced_body_bytes) + "\r\n\r\n";
  if (!connection.Send(head)) return {false, "the connection broke while sending the headers"};
  connection.ReadUntilClosed(std::chrono::seconds(10));
  const std::string& answer = connection.received();
  if (StatusOf(answer) != request.status ||
      answer.find(CodeField(request.code)) == std::string::npos) {
    // Built step by step: g++ 12 warns (-Wrestrict, wrongly) on "literal" + std::string here.
    std::string what = answer.substr(0, 300);
    what += " instead of " + std::to_string(request.status) + " " + request.code;
    return {false, std::move(what)};
  }
  return {true, ""};
}

BadRequest ConflictingRepost(std::string_view project, int64_t job_id) {
  std::string body = R"({"job_id":)" + std::to_string(job_id) + R"(,"project":")" +
                     std::string(project) +
                     R"(","timestamp":"2026-11-28T10:00:00Z","latency_ms":1,)"
                     R"("state":{"soak-conflict":"door_1_1_1_1"}})";
  return Post("conflict", std::move(body), kJson, 409, "conflict");
}

}  // namespace buildtrace
