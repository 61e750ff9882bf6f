// Fuzzes request-body decoding (http/content_encoding.h) as gzip with a small limit: whatever
// the stream claims, the decoded body never exceeds the limit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "http/content_encoding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr uint64_t kLimit = 64 * 1024;
  std::string body(reinterpret_cast<const char*>(data), size);
  auto decoded = buildtrace::DecodeBody("gzip", std::move(body), kLimit);
  if (decoded.ok() && decoded->size() > kLimit) std::abort();
  return 0;
}
