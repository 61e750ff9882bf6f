// Request IDs, trace headers and the access line.
#include "http/request_log.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <random>

#include "core/json_writer.h"

namespace buildtrace {
namespace {

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool IsAllZeros(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string Hex(uint64_t value, int digits) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(digits, '0');
  for (int i = digits - 1; i >= 0; --i, value >>= 4) out[i] = kDigits[value & 0xf];
  return out;
}

}  // namespace

std::optional<TraceContext> ParseTraceparent(std::string_view header) {
  // 00-<32>-<16>-<2>: 2 + 1 + 32 + 1 + 16 + 1 + 2.
  if (header.size() != 55 || !header.starts_with("00-") || header[35] != '-' || header[52] != '-') {
    return std::nullopt;
  }
  const std::string_view trace = header.substr(3, 32);
  const std::string_view span = header.substr(36, 16);
  const std::string_view flags = header.substr(53, 2);
  if (!IsLowerHex(trace) || !IsLowerHex(span) || !IsLowerHex(flags)) return std::nullopt;
  if (IsAllZeros(trace) || IsAllZeros(span)) return std::nullopt;
  return TraceContext{std::string(trace), std::string(span)};
}

std::optional<TraceContext> ParseCloudTraceContext(std::string_view header) {
  const size_t slash = header.find('/');
  if (slash != 32) return std::nullopt;
  const std::string trace = ToLower(header.substr(0, 32));
  if (!IsLowerHex(trace) || IsAllZeros(trace)) return std::nullopt;
  std::string_view rest = header.substr(33);
  if (const size_t semicolon = rest.find(';'); semicolon != std::string_view::npos) {
    const std::string_view options = rest.substr(semicolon);
    if (options != ";o=0" && options != ";o=1") return std::nullopt;
    rest = rest.substr(0, semicolon);
  }
  if (rest.empty() || rest.size() > 20 ||
      !std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  uint64_t span = 0;
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), span);
  if (error != std::errc() || end != rest.data() + rest.size()) return std::nullopt;  // > 2^64-1
  return TraceContext{trace, span == 0 ? std::string() : Hex(span, 16)};
}

std::optional<TraceContext> ChooseTrace(std::string_view traceparent,
                                        std::string_view cloud_trace_context) {
  if (auto trace = ParseTraceparent(traceparent)) return trace;
  return ParseCloudTraceContext(cloud_trace_context);
}

std::string TraceResource(std::string_view project, std::string_view trace_id) {
  if (project.empty()) return std::string(trace_id);
  return "projects/" + std::string(project) + "/traces/" + std::string(trace_id);
}

bool IsSaneRequestId(std::string_view id) {
  return !id.empty() && id.size() <= 128 &&
         std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string NewRequestId() {
  thread_local std::mt19937_64 random([] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }());
  return Hex(random(), 16) + Hex(random(), 16);
}

std::string ChooseRequestId(std::string_view from_client) {
  return IsSaneRequestId(from_client) ? std::string(from_client) : NewRequestId();
}

void RedactTokenParam(std::string& target) {
  const size_t query = target.find('?');
  if (query == std::string::npos) return;
  for (size_t at = query + 1; at < target.size();) {
    const size_t end = std::min(target.find('&', at), target.size());
    if (target.compare(at, 6, "token=") == 0) {
      target.replace(at + 6, end - at - 6, "REDACTED");
      at += 6 + 8 + 1;
    } else {
      at = end + 1;
    }
  }
}

std::string LoggableTarget(std::string_view target) {
  std::string out(target.substr(0, 200));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  RedactTokenParam(out);
  return out;
}

std::string AccessMessage(const AccessRecord& record) {
  const int64_t us = record.latency.count();
  return std::string(record.method) + " " + std::string(record.url) + " " +
         std::to_string(record.status) + " " + std::to_string(record.response_bytes) + "B " +
         std::to_string(us / 1000) + "." + std::to_string(us % 1000 / 100) + "ms";
}

std::string AccessJsonMembers(const AccessRecord& record, std::string_view project) {
  const int64_t us = record.latency.count();
  std::array<char, 8> fraction{};
  std::snprintf(fraction.data(), fraction.size(), "%06lld", static_cast<long long>(us % 1'000'000));
  std::string out;
  JsonWriter json(out);
  // Written as an object so that the writer places the commas, then unwrapped.
  json.BeginObject();
  json.Key("requestId").String(record.request_id);
  json.Key("httpRequest").BeginObject();
  json.Key("requestMethod").String(record.method);
  json.Key("requestUrl").String(record.url);
  json.Key("status").Int(record.status);
  // Cloud Logging's LogEntry carries int64 fields as JSON strings.
  json.Key("responseSize").String(std::to_string(record.response_bytes));
  json.Key("userAgent").String(record.user_agent);
  if (!record.remote_ip.empty()) json.Key("remoteIp").String(record.remote_ip);
  json.Key("latency").String(std::to_string(us / 1'000'000) + "." + fraction.data() + "s");
  json.Key("protocol").String(record.protocol);
  json.EndObject();
  if (record.trace) {
    json.Key("logging.googleapis.com/trace").String(TraceResource(project, record.trace->trace_id));
    if (!record.trace->span_id.empty()) {
      json.Key("logging.googleapis.com/spanId").String(record.trace->span_id);
    }
  }
  json.EndObject();
  return out.substr(1, out.size() - 2);
}

}  // namespace buildtrace
