// The deliberately bad requests of the soak test (bench/soak.cc), each with the exact status and
// error code that docs/api.md promises for it: malformed and invalid bodies, bad parameters,
// unknown paths, wrong methods, oversized bodies, URLs and headers, bad encodings, conflicts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/http_client.h"

namespace buildtrace {

struct BadRequest {
  std::string name;  // short, for the summary, e.g. "malformed_json"
  std::string method;
  std::string target;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  int status = 0;    // the answer expected
  std::string code;  // the error code expected in {"error":{"code":...}}
  // Sent over a raw connection as headers only, announcing a body of this many bytes that never
  // comes (HttpClient always sends the body it announces): 0 for an ordinary request.
  uint64_t announced_body_bytes = 0;
};

struct BadOutcome {
  bool as_expected = false;
  std::string what;  // when not: what came instead
};

// The fixed list, built once (the large bodies too) and shared by every client thread.
class BadRequests {
 public:
  // `max_body` is the server's --max-body: the oversized requests go one byte past it.
  BadRequests(HttpEndpoint endpoint, uint64_t max_body);

  size_t size() const { return requests_.size(); }
  const BadRequest& at(size_t i) const { return requests_.at(i); }

  // Sends `request` through `client` (or a raw connection, see BadRequest) and checks the answer.
  // Thread-safe; `client` is the calling thread's own.
  BadOutcome Send(const BadRequest& request, HttpClient& client) const;

 private:
  BadOutcome SendAnnouncedOnly(const BadRequest& request) const;

  HttpEndpoint endpoint_;
  std::vector<BadRequest> requests_;
};

// A job with the (project, job_id) of a stored job but other content: a 409 conflict.
// BadRequests holds a placeholder named "conflict" whose place the caller fills with this.
BadRequest ConflictingRepost(std::string_view project, int64_t job_id);

}  // namespace buildtrace
