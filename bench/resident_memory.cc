// See resident_memory.h.
#include "resident_memory.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "load_common.h"

namespace buildtrace {

double ReadRssMib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return -1;
}

int RunThirds::Of(float at_s) const {
  if (at_s < from_s || at_s > to_s) return -1;
  return std::min(2, static_cast<int>(3 * (at_s - from_s) / (to_s - from_s)));
}

RssFigures SummarizeRss(const std::vector<RssSample>& samples, const RunThirds& thirds) {
  RssFigures f;
  std::array<std::vector<double>, 3> by_third;
  for (const RssSample& s : samples) {
    f.max = std::max(f.max, s.mib);
    if (s.at_s <= thirds.from_s) f.warmup_end = s.mib;
    if (int t = thirds.Of(s.at_s); t >= 0) by_third[t].push_back(s.mib);
  }
  if (!samples.empty()) f.end = samples.back().mib;
  for (int t = 0; t < 3; ++t) {
    std::sort(by_third[t].begin(), by_third[t].end());
    f.median_by_third[t] = NearestRankQuantile(by_third[t], 0.5);
    f.max_by_third[t] = by_third[t].empty() ? 0 : by_third[t].back();
  }
  return f;
}

std::string RssGrowth(const RssFigures& f, double growth_pct, double growth_mib) {
  if (f.median_by_third[0] <= 0 || f.median_by_third[2] <= 0) return "too few RSS samples";
  const double limit = f.median_by_third[0] * (1 + growth_pct / 100) + growth_mib;
  if (f.median_by_third[2] <= limit) return "";
  char why[200];
  std::snprintf(why, sizeof why,
                "the server's RSS grew: median %.1f MiB in the first third, %.1f MiB in the last, "
                "over the limit of %.1f MiB",
                f.median_by_third[0], f.median_by_third[2], limit);
  return why;
}

bool WriteRssLog(const std::string& path, const std::vector<RssSample>& samples) {
  std::ofstream out(path);
  for (const RssSample& s : samples) out << s.at_s << ' ' << s.mib << '\n';
  return static_cast<bool>(out);
}

}  // namespace buildtrace
