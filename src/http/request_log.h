// What the access log says about a request, as pure functions: the request's ID (X-Request-Id,
// echoed when sane, else generated), the trace it belongs to (W3C traceparent or Google's
// X-Cloud-Trace-Context), the token redacted from the URL, and the access line itself, as text
// and as the members Cloud Logging reads from a structured entry (httpRequest, trace, spanId).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace buildtrace {

// A request's place in a distributed trace.
struct TraceContext {
  std::string trace_id;  // 32 lowercase hex digits, not all zero
  std::string span_id;   // 16 lowercase hex digits, not all zero; empty when the header had none
  bool operator==(const TraceContext&) const = default;
};

// "00-<32 hex trace id>-<16 hex span id>-<2 hex flags>", lowercase as the W3C requires, neither
// id all zeros. nullopt for anything else (other versions included).
std::optional<TraceContext> ParseTraceparent(std::string_view header);
// "<32 hex trace id>/<decimal span id>;o=<0 or 1>" (";o=..." may be absent). The span id, a
// 64-bit decimal, becomes 16 hex digits; a span id of 0 leaves span_id empty. nullopt when the
// trace id or the span id is malformed, or the trace id is all zeros.
std::optional<TraceContext> ParseCloudTraceContext(std::string_view header);
// traceparent when it is valid, else X-Cloud-Trace-Context when it is, else nullopt.
std::optional<TraceContext> ChooseTrace(std::string_view traceparent,
                                        std::string_view cloud_trace_context);
// What Cloud Logging's "logging.googleapis.com/trace" field wants:
// "projects/<project>/traces/<trace id>", or the bare trace id when `project` is empty.
std::string TraceResource(std::string_view project, std::string_view trace_id);

// 1 to 128 printable ASCII characters, none a space: safe to echo in a header and a log line.
bool IsSaneRequestId(std::string_view id);
// 16 random bytes as 32 lowercase hex digits. Thread-safe.
std::string NewRequestId();
// `from_client` when it is sane, else a new ID.
std::string ChooseRequestId(std::string_view from_client);

// Replaces the value of every "token" query parameter (the Pub/Sub push route's credential) with
// "REDACTED", so that it never reaches a log.
void RedactTokenParam(std::string& target);
// The request target as the log shows it: its first 200 bytes, control characters as '?', the
// token redacted.
std::string LoggableTarget(std::string_view target);

// One answered request, as the access log records it.
struct AccessRecord {
  std::string_view method;
  std::string_view url;  // LoggableTarget's
  unsigned status = 0;
  uint64_t response_bytes = 0;
  std::chrono::microseconds latency{0};
  std::string_view user_agent;
  std::string_view remote_ip;  // empty when unknown
  std::string_view protocol;   // "HTTP/1.1"
  std::string_view request_id;
  std::optional<TraceContext> trace;
};

// "GET /report/1 200 7B 0.0ms": what the text log shows, and the JSON entry's message.
std::string AccessMessage(const AccessRecord& record);
// The members added to the JSON entry, comma-separated without braces:
// "requestId":"...","httpRequest":{...} and, with a trace, "logging.googleapis.com/trace" (with
// `project` as TraceResource's) and "logging.googleapis.com/spanId".
std::string AccessJsonMembers(const AccessRecord& record, std::string_view project);

}  // namespace buildtrace
