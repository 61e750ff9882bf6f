// Fuzzes what the access log reads from a request's headers (http/request_log.h): the input is a
// traceparent, a newline, an X-Cloud-Trace-Context, a newline, an X-Request-Id and the rest a
// request target. Aborts when a parsed trace or a chosen ID breaks the header's promises.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/request_log.h"

namespace {

bool IsLowerHex(std::string_view s, size_t size) {
  if (s.size() != size) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string_view NextLine(std::string_view& input) {
  const size_t end = input.find('\n');
  const std::string_view line = input.substr(0, end);
  input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace buildtrace;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view traceparent = NextLine(input);
  const std::string_view cloud = NextLine(input);
  const std::string_view request_id = NextLine(input);
  for (const auto& trace : {ParseTraceparent(traceparent), ParseCloudTraceContext(cloud),
                            ChooseTrace(traceparent, cloud)}) {
    if (!trace) continue;
    if (!IsLowerHex(trace->trace_id, 32)) std::abort();
    if (!trace->span_id.empty() && !IsLowerHex(trace->span_id, 16)) std::abort();
  }
  if (!IsSaneRequestId(ChooseRequestId(request_id))) std::abort();
  // Redaction may lengthen the 200 bytes kept ("token=" becomes "token=REDACTED"), so no bound
  // on the size: no control character is left, and redacting again changes nothing.
  const std::string url = LoggableTarget(input);
  for (char c : url) {
    if (static_cast<unsigned char>(c) < 0x20) std::abort();
  }
  std::string again = url;
  RedactTokenParam(again);
  if (again != url) std::abort();
  return 0;
}
