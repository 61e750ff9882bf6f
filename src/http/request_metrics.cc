// The request series table, the ingest counters, and the process metrics read from /proc.
#include "http/request_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include "core/json_writer.h"

namespace buildtrace {
namespace {

namespace http = boost::beast::http;

constexpr uint32_t kMethods = 64;  // Beast's verbs all fit below
constexpr uint32_t kCodes = 1024;

// A status the server would never send counts as 599, so the code label stays within 100-599.
unsigned BoundedStatus(unsigned status) { return status < 100 || status > 599 ? 599 : status; }

void AppendSample(std::string& out, const char* name, double value) {
  out.append(name).append(" ");
  AppendJsonNumber(out, value);
  out.append("\n");
}

}  // namespace

RequestMetrics::RequestMetrics(std::span<const Route> routes)
    : routes_(routes), series_(std::make_unique<Series[]>(kMaxSeries)) {}

uint32_t RequestMetrics::Key(const Route* route, http::verb method, unsigned status) const {
  // The route's index in the table, or one past its end for unmatched paths; 0 is kept free.
  const uint32_t index = route == nullptr ? static_cast<uint32_t>(routes_.size())
                                          : static_cast<uint32_t>(route - routes_.data());
  const uint32_t verb = std::min(static_cast<uint32_t>(method), kMethods - 1);
  return ((index * kMethods + verb) * kCodes + BoundedStatus(status)) + 1;
}

RequestMetrics::Series* RequestMetrics::Find(uint32_t key, bool claim) const {
  // Open addressing with linear probing; a slot, once claimed, keeps its key for good.
  const size_t start = (key * 2654435761u) % kMaxSeries;
  for (size_t i = 0; i < kMaxSeries; ++i) {
    Series& s = series_[(start + i) % kMaxSeries];
    uint32_t seen = s.key.load(std::memory_order_acquire);
    if (seen == key) return &s;
    if (seen != 0) continue;
    if (!claim) return nullptr;
    if (s.key.compare_exchange_strong(seen, key, std::memory_order_acq_rel)) return &s;
    if (seen == key) return &s;  // another thread claimed it for the same series
  }
  return nullptr;
}

void RequestMetrics::Observe(const Route* route, http::verb method, unsigned status,
                             std::chrono::nanoseconds elapsed) {
  if (Series* s = Find(Key(route, method, status), true)) {
    s->histogram.Observe(elapsed);
  } else {
    overflow_.fetch_add(1, std::memory_order_relaxed);
  }
}

uint64_t RequestMetrics::Count(const Route* route, http::verb method, unsigned status) const {
  const Series* s = Find(Key(route, method, status), false);
  return s == nullptr ? 0 : s->histogram.Count();
}

void RequestMetrics::Append(std::string& out) const {
  std::vector<const Series*> claimed;
  for (size_t i = 0; i < kMaxSeries; ++i) {
    if (series_[i].key.load(std::memory_order_acquire) != 0) claimed.push_back(&series_[i]);
  }
  // In key order (route table order, then method, then code): a stable page to read and diff.
  std::sort(claimed.begin(), claimed.end(),
            [](const Series* a, const Series* b) { return a->key.load() < b->key.load(); });
  const char* name = "buildtrace_http_request_duration_seconds";
  AppendMetricHeader(out, name, "histogram",
                     "Time from a request's handler starting to its answer being ready, by route "
                     "template, method and status code.");
  for (const Series* s : claimed) {
    const uint32_t key = s->key.load() - 1;
    const uint32_t code = key % kCodes;
    const auto verb = static_cast<http::verb>((key / kCodes) % kMethods);
    const uint32_t index = key / kCodes / kMethods;
    std::string labels = "route=";
    AppendLabelValue(labels, index < routes_.size() ? routes_[index].path : "unmatched");
    labels += ",method=";
    AppendLabelValue(labels, verb == http::verb::unknown ? "other" : http::to_string(verb));
    labels += ",code=\"" + std::to_string(code) + "\"";
    s->histogram.AppendSeries(out, name, labels);
  }
  AppendMetricHeader(out, "buildtrace_http_request_series_overflow_total", "counter",
                     "Requests not timed because the table of request series was full.");
  AppendSample(out, "buildtrace_http_request_series_overflow_total",
               static_cast<double>(overflow_.load()));
}

void IngestCounters::Append(std::string& out) const {
  const struct {
    const char* name;
    const std::atomic<uint64_t>& value;
    const char* help;
  } counters[] = {
      {"buildtrace_ingested_bytes_total", bytes,
       "Request body bytes (as received) of POST /process requests whose jobs were all stored."},
      {"buildtrace_ingested_jobs_total", jobs,
       "Jobs newly stored by POST /process (replays of stored jobs not counted)."},
      {"buildtrace_ingested_objects_total", objects,
       "State entries (objects) of the jobs newly stored by POST /process."},
  };
  for (const auto& c : counters) {
    AppendMetricHeader(out, c.name, "counter", c.help);
    AppendSample(out, c.name, static_cast<double>(c.value.load()));
  }
}

void AppendProcessMetrics(std::string& out) {
  // /proc/self/stat: the fields after the command's closing parenthesis, from field 3 (state).
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  if (paren != std::string::npos && ticks > 0) {
    std::istringstream fields(stat.substr(paren + 1));
    std::vector<std::string> f{std::istream_iterator<std::string>(fields),
                               std::istream_iterator<std::string>()};
    // f[0] is field 3; utime 14, stime 15, starttime 22, vsize 23, rss 24.
    if (f.size() > 21) {
      const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
      AppendMetricHeader(out, "process_cpu_seconds_total", "counter",
                         "Total user and system CPU time spent in seconds.");
      AppendSample(out, "process_cpu_seconds_total", cpu);
      AppendMetricHeader(out, "process_virtual_memory_bytes", "gauge",
                         "Virtual memory size in bytes.");
      AppendSample(out, "process_virtual_memory_bytes", std::stod(f[20]));
      AppendMetricHeader(out, "process_resident_memory_bytes", "gauge",
                         "Resident memory size in bytes.");
      AppendSample(out, "process_resident_memory_bytes", std::stod(f[21]) * page);
      // The start is in ticks since boot; the boot time is in /proc/stat's "btime" line.
      std::ifstream boot("/proc/stat");
      for (std::string line; std::getline(boot, line);) {
        if (!line.starts_with("btime ")) continue;
        AppendMetricHeader(out, "process_start_time_seconds", "gauge",
                           "Start time of the process since unix epoch in seconds.");
        AppendSample(out, "process_start_time_seconds",
                     std::stod(line.substr(6)) + std::stod(f[19]) / ticks);
        break;
      }
    }
  }
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    int64_t open = 0;
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') ++open;
    }
    ::closedir(dir);
    AppendMetricHeader(out, "process_open_fds", "gauge", "Number of open file descriptors.");
    AppendSample(out, "process_open_fds", static_cast<double>(open - 1));  // less opendir's own
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    AppendMetricHeader(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
    AppendSample(out, "process_max_fds", static_cast<double>(limit.rlim_cur));
  }
}

}  // namespace buildtrace
