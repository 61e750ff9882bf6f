// The histogram's buckets and its text rendering.
#include "service/latency_histogram.h"

#include <algorithm>

#include "core/json_writer.h"

namespace buildtrace {
namespace {

// The bounds in nanoseconds, so that Observe compares integers.
constexpr std::array<int64_t, LatencyHistogram::kBoundsSeconds.size()> BoundsNs() {
  std::array<int64_t, LatencyHistogram::kBoundsSeconds.size()> out{};
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<int64_t>(LatencyHistogram::kBoundsSeconds[i] * 1e9 + 0.5);
  }
  return out;
}
constexpr std::array<int64_t, LatencyHistogram::kBoundsSeconds.size()> kBoundsNs = BoundsNs();

// A bound as the le label shows it: a plain decimal, as Prometheus's client libraries write it
// (the shortest form of 0.0005 would be "5e-04").
std::string BoundText(int64_t ns) {
  std::string out = std::to_string(ns / 1'000'000'000);
  std::string fraction = std::to_string(1'000'000'000 + ns % 1'000'000'000).substr(1);
  fraction.erase(fraction.find_last_not_of('0') + 1);
  if (!fraction.empty()) out += "." + fraction;
  return out;
}

}  // namespace

void LatencyHistogram::Observe(std::chrono::nanoseconds elapsed) {
  const int64_t ns = std::max<int64_t>(0, elapsed.count());
  // The first bound at or above the duration (le is "less than or equal").
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(kBoundsNs.begin(), kBoundsNs.end(), ns) - kBoundsNs.begin());
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
}

uint64_t LatencyHistogram::Count() const {
  uint64_t count = 0;
  for (const auto& b : buckets_) count += b.load(std::memory_order_relaxed);
  return count;
}

void LatencyHistogram::AppendSeries(std::string& out, std::string_view name,
                                    std::string_view labels) const {
  const std::string separator = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    out.append(name).append("_bucket{").append(labels).append(separator).append("le=\"");
    out.append(i < kBoundsNs.size() ? BoundText(kBoundsNs[i]) : "+Inf");
    out.append("\"} ").append(std::to_string(cumulative)).append("\n");
  }
  const std::string braced = labels.empty() ? "" : "{" + std::string(labels) + "}";
  out.append(name).append("_sum").append(braced).append(" ");
  AppendJsonNumber(out, static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9);
  out.append("\n");
  out.append(name).append("_count").append(braced).append(" ");
  out.append(std::to_string(cumulative)).append("\n");
}

void AppendMetricHeader(std::string& out, std::string_view name, std::string_view type,
                        std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void AppendLabelValue(std::string& out, std::string_view value) {
  out.push_back('"');
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

}  // namespace buildtrace
