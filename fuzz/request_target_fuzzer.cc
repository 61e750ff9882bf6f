// Fuzzes the request-target parser (http/request_target.h) and the readers handlers apply to its
// segments and parameters: the input is the target as a client sends it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/request_target.h"

namespace {

constexpr std::string_view kAllowed[] = {"project", "limit", "base", "window", "quantiles"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace buildtrace;
  auto target = ParseRequestTarget(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!target.ok()) return 0;
  (void)CheckParams(*target, kAllowed);
  for (const std::string& segment : target->segments) {
    auto id = ParseJobIdText(segment, "job ID");
    if (id.ok() && *id < 1) std::abort();  // the header promises a positive ID
  }
  for (const auto& [name, value] : target->params) {
    auto n = IntParam(*target, name, 7, 1000);
    if (n.ok() && (*n < 0 || *n > 1000)) std::abort();  // promised to lie in [0, max]
    auto window = ParseWindow(value);
    if (window.ok() && *window <= 0) std::abort();
    auto quantiles = ParseQuantiles(value);
    if (quantiles.ok()) {
      if (quantiles->empty() || quantiles->size() > 20) std::abort();
      for (double q : *quantiles) {
        if (!(q >= 0 && q <= 1)) std::abort();
      }
    }
  }
  return 0;
}
