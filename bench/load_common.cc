// See load_common.h.
#include "load_common.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace buildtrace {

bool IsLoopbackHost(std::string_view host) {
  return host == "localhost" || host == "::1" || host.substr(0, 4) == "127.";
}

std::string JobBatchBody(JobGenerator& generator, int jobs, std::string_view project) {
  std::string body = "[";
  for (int j = 0; j < jobs; ++j) {
    if (j > 0) body += ',';
    body += GeneratedJobToJson(generator.Next(), project);
  }
  body += ']';
  return body;
}

double NearestRankQuantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

std::optional<int64_t> ParsePositiveInteger(const char* text) {
  char* end = nullptr;
  const long long value = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || value <= 0) return std::nullopt;
  return value;
}

std::optional<double> ParsePositiveNumber(const char* text) {
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(value > 0)) return std::nullopt;
  return value;
}

}  // namespace buildtrace
