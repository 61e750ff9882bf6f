// HTTP calls to the cloud services behind the network backends (S3-compatible stores, Google
// Cloud Storage, BigQuery, the metadata server), through libcurl: one request, with a timeout,
// optionally signed with AWS Signature V4 by libcurl itself. Retrying is the caller's choice,
// with RetryPolicy below; this layer never retries on its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace buildtrace {

struct HttpCall {
  std::string method = "GET";
  std::string url;                   // absolute, already encoded
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  // "aws:amz:REGION:SERVICE" to have libcurl sign the request (CURLOPT_AWS_SIGV4), with
  // `user` as "ACCESS_KEY:SECRET". Note: libcurl 7.88 signs the path and query as given, so
  // the caller sends them in canonical form, and sends x-amz-content-sha256 itself.
  std::optional<std::string> aws_sigv4;
  std::string user;
  std::chrono::milliseconds timeout{30'000};  // the whole call
  std::chrono::milliseconds connect_timeout{5'000};
  uint64_t max_response_bytes = 1ull << 30;
};

struct HttpReply {
  long status = 0;
  std::string body;                            // with kReadPadding spare capacity
  std::map<std::string, std::string> headers;  // lower-case names; the last value of each
};

// Performs the call. kUnavailable (naming `what` and the cause, never a secret) when no HTTP
// answer came back: DNS, connect, TLS, timeout, reset. Any HTTP status is a successful call.
Result<HttpReply> PerformHttpCall(const HttpCall& call, std::string_view what);

// Exponential backoff with full jitter for calls that are safe to repeat.
struct RetryPolicy {
  int max_attempts = 4;
  std::chrono::milliseconds first_delay{100};
  std::chrono::milliseconds max_delay{2'000};
  // Sleeps between attempts; tests inject one that records instead of sleeping.
  std::function<void(std::chrono::milliseconds)> sleep;

  // The delay before attempt `attempt` (1 = the first retry): uniform in [0, min(max, first *
  // 2^(attempt-1))].
  std::chrono::milliseconds DelayBefore(int attempt, std::mt19937_64& rng) const;
};

// True for answers worth repeating: 408, 429, 500, 502, 503, 504.
bool IsRetryableHttpStatus(long status);

// Runs `attempt` until it returns a reply whose status is not retryable, or a status other than
// kUnavailable, or the policy's attempts are spent. Returns the last outcome.
Result<HttpReply> CallWithRetries(const RetryPolicy& policy,
                                  const std::function<Result<HttpReply>()>& attempt);

}  // namespace buildtrace
