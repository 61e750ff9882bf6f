// What GET /metrics says about the requests the API answered: a latency histogram per (route,
// method, status code), and what POST /process ingested. The route label is the route's template
// from the route table ("/report/{job_id}"), never the raw path, and a path no route matches is
// "unmatched"; methods are Beast's fixed set (an unknown one is "other"), and status codes are
// the service's own. Series live in a fixed table claimed lock-free on first use, so a hostile
// client cannot grow memory, and observing is a few atomic operations.
#pragma once

#include <atomic>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "http/routes.h"
#include "service/latency_histogram.h"

namespace buildtrace {

// Thread-safe; Observe is lock-free and never allocates.
class RequestMetrics {
 public:
  // More distinct (route, method, code) series than this are counted in
  // buildtrace_http_request_series_overflow_total instead (the service's routes and codes need
  // far fewer).
  static constexpr size_t kMaxSeries = 512;

  // `routes`: the route table, whose templates are the route label. Must outlive this.
  explicit RequestMetrics(std::span<const Route> routes);

  // A request answered `status` after `elapsed`; `route` is its entry of the route table, or
  // null when no route's path matched (the unmatched label).
  void Observe(const Route* route, boost::beast::http::verb method, unsigned status,
               std::chrono::nanoseconds elapsed);

  // The observations of one series so far; 0 for a series never seen.
  uint64_t Count(const Route* route, boost::beast::http::verb method, unsigned status) const;

  // buildtrace_http_request_duration_seconds{route,method,code}, in the Prometheus text format,
  // and the overflow counter.
  void Append(std::string& out) const;

 private:
  struct Series {
    std::atomic<uint32_t> key{0};  // 0: free
    LatencyHistogram histogram;
  };
  uint32_t Key(const Route* route, boost::beast::http::verb method, unsigned status) const;
  // The series of `key`, claiming a free slot when `claim`; null when none (or the table is full).
  Series* Find(uint32_t key, bool claim) const;

  std::span<const Route> routes_;
  std::unique_ptr<Series[]> series_;
  std::atomic<uint64_t> overflow_{0};
};

// What POST /process took in. Thread-safe.
struct IngestCounters {
  std::atomic<uint64_t> bytes{0};    // request bodies as received, of requests that stored all
  std::atomic<uint64_t> jobs{0};     // jobs newly stored (replays of stored jobs not counted)
  std::atomic<uint64_t> objects{0};  // the state entries of those jobs

  // buildtrace_ingested_{bytes,jobs,objects}_total, in the Prometheus text format.
  void Append(std::string& out) const;
};

// The process's own metrics, with the names and meanings of the Prometheus client libraries:
// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds. Read from /proc/self (Linux);
// a value that cannot be read is left out.
void AppendProcessMetrics(std::string& out);

}  // namespace buildtrace
