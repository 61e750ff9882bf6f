// libcurl easy interface, one handle per call (cheap next to a network round trip, and free of
// shared state between threads).
#include "cloud/http_call.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include "store/state_store.h"

namespace buildtrace {
namespace {

struct Sink {
  HttpReply* reply;
  uint64_t limit;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * count;
  if (sink->reply->body.size() + n > sink->limit) {
    sink->too_large = true;
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
  sink->reply->body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* reply = static_cast<HttpReply*>(user);
  const std::string_view line(data, size * count);
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    reply->headers[name] = std::string(value);
  }
  return size * count;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct ListDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

// g++ 12 reports a false -Wrestrict in std::string's inlined move constructor here (GCC bug
// 105651); the code is a plain return of a local. (clang has no such warning, and would warn
// about the unknown name.)
#pragma GCC diagnostic push
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
Result<HttpReply> PerformHttpCall(const HttpCall& call, std::string_view what) {
  GlobalInit();
  std::unique_ptr<CURL, EasyDeleter> curl(curl_easy_init());
  if (!curl) return Unavailable(std::string(what) + ": cannot start an HTTP call");
  HttpReply reply;
  reply.body.reserve(kReadPadding);
  Sink sink{&reply, call.max_response_bytes};
  std::unique_ptr<curl_slist, ListDeleter> headers;
  for (const std::string& h : call.headers) {
    headers.reset(curl_slist_append(headers.release(), h.c_str()));
  }
  // libcurl adds "Expect: 100-continue" to large uploads; the services answer at once anyway.
  // Not for SigV4 calls: libcurl 7.88 signs the removal header "Expect:" as an empty header that
  // it never sends, so the server's signature would not match (its own Expect is not signed).
  if (!call.aws_sigv4) headers.reset(curl_slist_append(headers.release(), "Expect:"));
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, call.url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, call.method.c_str());
  if (call.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (!call.body.empty() || call.method == "POST" || call.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, call.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(call.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(call.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &reply);
  if (call.aws_sigv4) {
    curl_easy_setopt(c, CURLOPT_AWS_SIGV4, call.aws_sigv4->c_str());
    curl_easy_setopt(c, CURLOPT_USERPWD, call.user.c_str());
  }
  const CURLcode rc = curl_easy_perform(c);
  if (sink.too_large) {
    return Unavailable(std::string(what) + ": the answer exceeds " +
                       std::to_string(call.max_response_bytes) + " bytes");
  }
  if (rc != CURLE_OK) {
    return Unavailable(std::string(what) + ": " + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  reply.body.reserve(reply.body.size() + kReadPadding);  // the promise in HttpReply
  return reply;
}
#pragma GCC diagnostic pop

std::chrono::milliseconds RetryPolicy::DelayBefore(int attempt, std::mt19937_64& rng) const {
  int64_t cap = first_delay.count();
  for (int i = 1; i < attempt && cap < max_delay.count(); ++i) cap *= 2;
  cap = std::min<int64_t>(cap, max_delay.count());
  std::uniform_int_distribution<int64_t> jitter(0, std::max<int64_t>(cap, 0));
  return std::chrono::milliseconds(jitter(rng));
}

bool IsRetryableHttpStatus(long status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
         status == 504;
}

Result<HttpReply> CallWithRetries(const RetryPolicy& policy,
                                  const std::function<Result<HttpReply>()>& attempt) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  for (int n = 1;; ++n) {
    Result<HttpReply> outcome = attempt();
    const bool retry = outcome.ok() ? IsRetryableHttpStatus(outcome->status)
                                    : outcome.status().code() == StatusCode::kUnavailable;
    if (!retry || n >= policy.max_attempts) return outcome;
    const auto delay = policy.DelayBefore(n, rng);
    if (policy.sleep) {
      policy.sleep(delay);
    } else {
      std::this_thread::sleep_for(delay);
    }
  }
}

}  // namespace buildtrace
