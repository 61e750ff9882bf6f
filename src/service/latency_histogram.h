// A latency histogram for GET /metrics: fixed buckets from half a millisecond to 30 seconds
// (the span of this service's requests and backend calls), one atomic counter per bucket, so
// that observing is a few relaxed atomic adds and never takes a lock or allocates. Rendered in
// the Prometheus text format (0.0.4) as <name>_bucket{...,le="..."}, <name>_sum, <name>_count.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace buildtrace {

class LatencyHistogram {
 public:
  // The upper bounds of the finite buckets, in seconds; a last bucket (+Inf) takes the rest.
  static constexpr std::array<double, 15> kBoundsSeconds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

  // Thread-safe, lock-free. A negative duration counts as zero.
  void Observe(std::chrono::nanoseconds elapsed);

  // Observations so far (a scrape running beside Observe may miss the newest ones).
  uint64_t Count() const;

  // Appends the bucket, sum and count lines of one series of the family `name`. `labels` is the
  // series' own labels, already rendered (`route="/metrics",code="200"`), or empty. The bucket
  // counts are read once, so the series is consistent: _count equals the +Inf bucket.
  void AppendSeries(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::array<std::atomic<uint64_t>, kBoundsSeconds.size() + 1> buckets_{};  // not cumulative
  std::atomic<uint64_t> sum_ns_{0};
};

// "# HELP <name> <help>\n# TYPE <name> <type>\n".
void AppendMetricHeader(std::string& out, std::string_view name, std::string_view type,
                        std::string_view help);

// Appends `value` as a Prometheus label value: quoted, with '\', '"' and newlines escaped.
void AppendLabelValue(std::string& out, std::string_view value);

}  // namespace buildtrace
