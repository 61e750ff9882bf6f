// The server's resident memory as the soak test (bench/soak.cc) watches it: VmRSS samples, their
// summary by thirds of the run, and the rule that says whether it grew.
#pragma once

#include <sys/types.h>

#include <array>
#include <string>
#include <vector>

namespace buildtrace {

struct RssSample {
  float at_s;  // since the start of the run
  double mib;
};

// VmRSS of `pid` in MiB (from /proc/<pid>/status), or a negative number when it is gone.
double ReadRssMib(pid_t pid);

// The measured part of a run (after its warm-up) in three equal parts.
struct RunThirds {
  double from_s = 0, to_s = 0;
  // 0, 1 or 2 for a time in [from_s, to_s], else -1.
  int Of(float at_s) const;
};

struct RssFigures {
  double warmup_end = 0, max = 0, end = 0;  // the last sample of the warm-up; of all; the last
  std::array<double, 3> median_by_third{};
  std::array<double, 3> max_by_third{};
};

RssFigures SummarizeRss(const std::vector<RssSample>& samples, const RunThirds& thirds);

// The rule: resident memory has not grown when the median of the samples of the last third is
// at most the first third's median plus `growth_pct` % plus `growth_mib` MiB. The median is the
// level the server keeps between requests, which a leak raises; the allowance is for the caches
// that may still be filling during the run (the job header cache alone holds up to 8 MiB) and for
// steps of the allocator's high-water mark. The maxima are printed but not judged: a maximum is
// whichever large job or listing happened to be in flight at a sample, and they varied two-fold
// between the thirds of one run here. Returns why memory grew, or "" when it did not; a third
// without samples counts as growth.
std::string RssGrowth(const RssFigures& f, double growth_pct, double growth_mib);

// Every sample as a "seconds MiB" line, for a plot; false if the file cannot be written.
bool WriteRssLog(const std::string& path, const std::vector<RssSample>& samples);

}  // namespace buildtrace
