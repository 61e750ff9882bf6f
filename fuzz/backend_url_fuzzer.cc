// Fuzzes the backend URL parser (backends/backend_url.h), which reads --store and --warehouse.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "backends/backend_url.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto url = buildtrace::ParseBackendUrl(input);
  if (!url.ok()) return 0;
  if (url->scheme.empty() || url->text != input) std::abort();
  auto path = buildtrace::LocalPathOf(*url);
  if (path.ok() && path->empty()) std::abort();  // an empty path is promised to be an error
  return 0;
}
