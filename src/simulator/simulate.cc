// RunSimulate: drives a running service with generated jobs over HTTP and summarises what it
// answered. Jobs are generated one batch at a time so memory stays bounded for large runs.
// Every failure is turned into one line on `err` and an exit code; nothing here throws.
#include "simulator/simulate.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "client/service_client.h"
#include "core/status.h"
#include "simulator/job_generator.h"

namespace buildtrace {
namespace {

constexpr int64_t kIntervalSeconds = 60;
constexpr int64_t kLatestSpanSeconds = 29 * 24 * 3600;  // stays inside the 30-day stats window
constexpr char kStatsWindow[] = "30d";
constexpr char kQuantiles[] = "0.5,0.95,0.99";

Status Validate(const SimulateOptions& options) {
  if (options.jobs < 1) return InvalidArgument("--jobs must be at least 1");
  if (options.batch < 1) return InvalidArgument("--batch must be at least 1");
  if (options.objects < 1) return InvalidArgument("--objects must be at least 1");
  if (options.first_job_id < 1) return InvalidArgument("--first-job-id must be at least 1");
  if (options.project.empty()) return InvalidArgument("--project must not be empty");
  if (!(options.failure_rate >= 0 && options.failure_rate <= 1)) {
    return InvalidArgument("--failure-rate must be between 0 and 1");
  }
  return Status::Ok();
}

// Whole milliseconds print without a fraction, interpolated ones with one decimal.
std::string FormatMs(std::optional<double> value) {
  if (!value) return "n/a";
  char text[40];
  const char* format = std::nearbyint(*value) == *value ? "%.0f" : "%.1f";
  std::snprintf(text, sizeof(text), format, *value);
  return text;
}

// The number at a JSON pointer, or nothing when it is absent, null or not a number.
std::optional<double> NumberAt(simdjson::dom::element root, std::string_view pointer) {
  double value = 0;
  if (root.at_pointer(pointer).get_double().get(value) != simdjson::SUCCESS) return std::nullopt;
  return value;
}

// The string at a JSON pointer, or `fallback` when it is absent or not a string.
std::string_view StringAt(simdjson::dom::element root, std::string_view pointer,
                          std::string_view fallback = "") {
  std::string_view value;
  if (root.at_pointer(pointer).get(value) != simdjson::SUCCESS) return fallback;
  return value;
}

int64_t IntAt(simdjson::dom::element root, std::string_view pointer) {
  return std::llround(NumberAt(root, pointer).value_or(0));
}

// One run: the connection, the counters, and the lines to print once everything succeeded.
class Simulation {
 public:
  Simulation(const SimulateOptions& options, ServiceClient client, std::ostream& err)
      : options_(options), client_(std::move(client)), err_(err) {}

  Status Run(std::ostream& out) {
    if (Status status = PostJobs(); !status.ok()) return status;
    if (Status status = ReadReports(); !status.ok()) return status;
    if (Status status = ReadStats(); !status.ok()) return status;
    out << "posted " << options_.jobs << " jobs (" << failed_ << " failed) in " << posts_
        << " requests, " << report_lines_.size() << " reports\n";
    for (const std::string& line : report_lines_) out << line << '\n';
    out << stats_line_ << '\n';
    return Status::Ok();
  }

 private:
  JobGenerator::Options GeneratorOptions() const {
    JobGenerator::Options generator;
    generator.seed = options_.seed;
    generator.objects = options_.objects;
    generator.failure_rate = options_.failure_rate;
    generator.first_job_id = options_.first_job_id;
    generator.interval_seconds = kIntervalSeconds;
    if (options_.start_epoch_seconds) {
      generator.start_epoch_seconds = *options_.start_epoch_seconds;
      return generator;
    }
    // Jobs end about now; many jobs are packed closer together to stay inside the window.
    generator.interval_seconds = std::max<int64_t>(
        1, std::min<int64_t>(kIntervalSeconds, kLatestSpanSeconds / options_.jobs));
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    generator.start_epoch_seconds = now - options_.jobs * generator.interval_seconds;
    return generator;
  }

  Status PostJobs() {
    JobGenerator generator(GeneratorOptions());
    for (int posted = 0; posted < options_.jobs;) {
      const int count = std::min(options_.batch, options_.jobs - posted);
      std::string body = "[";
      for (int i = 0; i < count; ++i) {
        const GeneratedJob job = generator.Next();
        failed_ += job.failed;
        if (i > 0) body += ',';
        body += GeneratedJobToJson(job, options_.project);
      }
      body += ']';
      auto answer = Call("POST", "/process", std::move(body));
      if (!answer.ok()) return answer.status();
      posted += count;
      ++posts_;
      Progress("posted", posted);
    }
    return Status::Ok();
  }

  Status ReadReports() {
    for (int i = 0; i < options_.jobs; ++i) {
      const int64_t job_id = options_.first_job_id + i;
      const std::string target = "/report/" + std::to_string(job_id) +
                                 "?project=" + EscapeUrlComponent(options_.project) +
                                 "&format=json&limit=0";
      auto answer = Call("GET", target, "");
      if (!answer.ok()) return answer.status();
      auto line = ReportLine(job_id, target, *answer);
      if (!line.ok()) return line.status();
      report_lines_.push_back(std::move(*line));
      Progress("read the reports of", i + 1);
    }
    return Status::Ok();
  }

  Result<std::string> ReportLine(int64_t job_id, const std::string& target,
                                 const std::string& body) {
    simdjson::dom::element root;
    simdjson::dom::object metrics;
    if (parser_.parse(body).get(root) != simdjson::SUCCESS ||
        root.at_pointer("/metrics").get(metrics) != simdjson::SUCCESS) {
      return Internal("GET " + target + " answered a report without metrics; check that " +
                      options_.url + " is a BuildTrace service");
    }
    const std::optional<double> base = NumberAt(root, "/base_job_id");
    std::ostringstream line;
    // A failed job is marked; the job after it is compared with the last successful one.
    line << "job " << job_id << (StringAt(root, "/status") == "failed" ? " (failed)" : "") << " vs "
         << (base ? std::to_string(std::llround(*base)) : std::string("none")) << ": +"
         << IntAt(root, "/metrics/total_added") << " -" << IntAt(root, "/metrics/total_removed")
         << " ~" << IntAt(root, "/metrics/total_modified") << " (moved "
         << IntAt(root, "/metrics/total_moved") << ", resized "
         << IntAt(root, "/metrics/total_resized") << ", retyped "
         << IntAt(root, "/metrics/total_retyped") << ", changed "
         << IntAt(root, "/metrics/total_changed")
         << ") =" << IntAt(root, "/metrics/total_unchanged");
    return line.str();
  }

  Status ReadStats() {
    const std::string target = "/stats/latency?project=" + EscapeUrlComponent(options_.project) +
                               "&window=" + kStatsWindow + "&quantiles=" + kQuantiles;
    auto answer = Call("GET", target, "");
    if (!answer.ok()) return answer.status();
    simdjson::dom::element root;
    if (parser_.parse(*answer).get(root) != simdjson::SUCCESS) {
      return Internal("GET " + target + " answered something that is not JSON; check that " +
                      options_.url + " is a BuildTrace service");
    }
    stats_line_ = "latency over " + std::string(StringAt(root, "/window", kStatsWindow)) + " (" +
                  std::to_string(IntAt(root, "/count")) + " jobs): p50 " +
                  FormatMs(NumberAt(root, "/quantiles/0.5")) + " ms, p95 " +
                  FormatMs(NumberAt(root, "/quantiles/0.95")) + " ms, p99 " +
                  FormatMs(NumberAt(root, "/quantiles/0.99")) + " ms";
    return Status::Ok();
  }

  // "\rbuildtrace simulate: posted 5/20 jobs", rewritten in place; a line of its own once done.
  void Progress(const char* done, int count) {
    if (!options_.progress) return;
    err_ << "\rbuildtrace simulate: " << done << ' ' << count << '/' << options_.jobs << " jobs"
         << (count == options_.jobs ? "\n" : "") << std::flush;
  }

  // One exchange; anything but a 2xx answer becomes a Status whose message is ready to print.
  Result<std::string> Call(std::string_view method, const std::string& target, std::string body) {
    auto response = method == "POST" ? client_.PostJobs(body, /*gzip=*/false) : client_.Get(target);
    const std::string what = std::string(method) + " " + target;
    if (!response.ok()) {
      return Unavailable(what + " to " + options_.url + " failed: " + response.status().message());
    }
    if (response->status < 200 || response->status > 299) {
      std::string text = what + " answered " + std::to_string(response->status) + ": " +
                         ServiceErrorText(response->body);
      return response->status < 500 ? InvalidArgument(std::move(text))
                                    : Unavailable(std::move(text));
    }
    return std::move(response->body);
  }

  const SimulateOptions& options_;
  ServiceClient client_;
  std::ostream& err_;
  simdjson::dom::parser parser_;
  int failed_ = 0;
  int posts_ = 0;
  std::vector<std::string> report_lines_;
  std::string stats_line_;
};

}  // namespace

int RunSimulate(const SimulateOptions& options, std::ostream& out, std::ostream& err) {
  Status valid = Validate(options);
  auto client = ServiceClient::Connect({.url = options.url, .token = options.token});
  if (valid.ok() && !client.ok()) valid = client.status();
  if (!valid.ok()) {
    err << "buildtrace simulate: " << valid.message() << '\n';
    return 2;
  }
  Simulation simulation(options, std::move(*client), err);
  if (Status status = simulation.Run(out); !status.ok()) {
    err << "buildtrace simulate: " << status.message() << '\n';
    return 1;
  }
  return 0;
}

}  // namespace buildtrace
