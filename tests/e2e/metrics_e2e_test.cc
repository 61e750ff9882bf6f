// GET /metrics of the real server: the page passes `promtool check metrics` (Prometheus's own
// parser and linter) with no problem, and its counters move by exactly what the test did:
// request histograms per route template, what POST /process ingested, the store's calls, and
// the process metrics. Hostile paths all land in the one "unmatched" series.
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>

#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/run_command.h"

namespace buildtrace::e2e {
namespace {

class E2eMetrics : public E2eTest {
 protected:
  // The page, after checking that it is 200 in the Prometheus text format.
  std::string Scrape() {
    const HttpResponse res = Get("/metrics");
    EXPECT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(res.content_type, "text/plain; version=0.0.4; charset=utf-8");
    return res.body;
  }

  // `promtool check metrics` on `page`: passes when it exits 0 and prints nothing (a lint
  // problem is a line of output).
  ::testing::AssertionResult PassesPromtool(const std::string& page) {
    const std::string path = root_dir() + "/metrics.txt";
    std::ofstream(path) << page;
    Result<CommandResult> run =
        RunCommand({"/bin/sh", "-c",
                    "command -v promtool >/dev/null || { echo 'promtool is not installed: run "
                    "scripts/install-deps.sh (Debian package prometheus)'; exit 127; }; "
                    "promtool check metrics < '" +
                        path + "'"});
    if (!run.ok()) return ::testing::AssertionFailure() << run.status().message();
    if (run->exit_code != 0 || !run->out.empty() || !run->err.empty()) {
      return ::testing::AssertionFailure() << "promtool exit " << run->exit_code << ":\n"
                                           << run->out << run->err << "\nthe page:\n"
                                           << page;
    }
    return ::testing::AssertionSuccess();
  }
};

// The value of the sample `series` (its name and labels exactly as printed) on `page`; 0 when
// the page has no such sample (a series appears on its first observation).
double Sample(const std::string& page, const std::string& series) {
  const std::string needle = "\n" + series + " ";
  const size_t at = page.find(needle);
  if (at == std::string::npos) return 0;
  return std::stod(page.substr(at + needle.size()));
}

bool HasSample(const std::string& page, const std::string& series) {
  return page.find("\n" + series + " ") != std::string::npos;
}

constexpr const char* kReportCount =
    "buildtrace_http_request_duration_seconds_count{route=\"/report/{job_id}\",method=\"GET\","
    "code=\"200\"}";
constexpr const char* kProcessCount =
    "buildtrace_http_request_duration_seconds_count{route=\"/process\",method=\"POST\","
    "code=\"202\"}";
constexpr const char* kUnmatchedCount =
    "buildtrace_http_request_duration_seconds_count{route=\"unmatched\",method=\"GET\","
    "code=\"404\"}";
constexpr const char* kStorePutMany =
    "buildtrace_backend_operation_duration_seconds_count{backend=\"store\",operation=\"put_many\"}";
constexpr const char* kStoreGet =
    "buildtrace_backend_operation_duration_seconds_count{backend=\"store\",operation=\"get\"}";

TEST_F(E2eMetrics, PagePassesPromtoolAndCountsMoveByExactlyWhatWasDone) {
  const std::string before = Scrape();
  EXPECT_TRUE(PassesPromtool(before));

  TestJob job;
  job.job_id = 1;
  job.state = R"({"D1":"door_10_20_5_5","W1":"window_0_0_2_3"})";
  const std::string body = job.ToJson();
  PostOk(body);
  const std::string posted = Scrape();
  EXPECT_EQ(Sample(posted, "buildtrace_ingested_objects_total") -
                Sample(before, "buildtrace_ingested_objects_total"),
            2);
  EXPECT_EQ(Sample(posted, "buildtrace_ingested_jobs_total") -
                Sample(before, "buildtrace_ingested_jobs_total"),
            1);
  EXPECT_EQ(Sample(posted, "buildtrace_ingested_bytes_total") -
                Sample(before, "buildtrace_ingested_bytes_total"),
            static_cast<double>(body.size()));
  EXPECT_EQ(Sample(posted, kProcessCount) - Sample(before, kProcessCount), 1);
  EXPECT_GE(Sample(posted, kStorePutMany) - Sample(before, kStorePutMany), 1) << posted;

  // A replay stores nothing new: neither jobs nor objects move.
  PostOk(body, 200);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Get("/report/1?project=web").status, 200);
  // Hostile paths, each different: one series between them, and no path on the page.
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Get("/no/such/path-" + std::to_string(i) + "-x%22%7D").status, 404);
  }
  const std::string after = Scrape();
  EXPECT_TRUE(PassesPromtool(after));
  EXPECT_EQ(Sample(after, kReportCount) - Sample(posted, kReportCount), 3) << after;
  EXPECT_EQ(Sample(after, kUnmatchedCount) - Sample(posted, kUnmatchedCount), 5) << after;
  EXPECT_EQ(after.find("path-"), std::string::npos) << after;
  EXPECT_EQ(Sample(after, "buildtrace_ingested_objects_total"),
            Sample(posted, "buildtrace_ingested_objects_total"));
  EXPECT_EQ(Sample(after, "buildtrace_ingested_jobs_total"),
            Sample(posted, "buildtrace_ingested_jobs_total"));
  EXPECT_GE(Sample(after, kStoreGet) - Sample(posted, kStoreGet), 1) << after;
  // The +Inf bucket and the count agree; the report's series has its sum.
  EXPECT_EQ(Sample(after,
                   "buildtrace_http_request_duration_seconds_bucket{route=\"/report/{job_id}\","
                   "method=\"GET\",code=\"200\",le=\"+Inf\"}"),
            Sample(after, kReportCount));
  EXPECT_TRUE(HasSample(after,
                        "buildtrace_http_request_duration_seconds_sum{route=\"/report/{job_id}\","
                        "method=\"GET\",code=\"200\"}"));
  // The first report recorded the job's metrics row in the warehouse.
  const std::string record =
      "buildtrace_backend_operation_duration_seconds_count{backend=\"warehouse\",operation="
      "\"record\"}";
  EXPECT_GE(Sample(after, record) - Sample(posted, record), 1) << after;
}

TEST_F(E2eMetrics, ProcessMetricsHaveTheirStandardNamesAndSaneValues) {
  const std::string page = Scrape();
  EXPECT_GT(Sample(page, "process_resident_memory_bytes"), 1 << 20) << page;
  EXPECT_GE(Sample(page, "process_virtual_memory_bytes"),
            Sample(page, "process_resident_memory_bytes"));
  EXPECT_GE(Sample(page, "process_open_fds"), 3);
  EXPECT_GE(Sample(page, "process_max_fds"), Sample(page, "process_open_fds"));
  // CPU time moves in clock ticks (10 ms): a server this young may not have used one yet.
  EXPECT_TRUE(HasSample(page, "process_cpu_seconds_total")) << page;
  EXPECT_GE(Sample(page, "process_cpu_seconds_total"), 0);
  // Started within the last hour (the fixture started it just now), not in the future.
  const double now = static_cast<double>(std::time(nullptr));
  const double started = Sample(page, "process_start_time_seconds");
  EXPECT_LE(started, now + 1);
  EXPECT_GT(started, now - 3600);
  EXPECT_NE(page.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
  EXPECT_NE(page.find("# TYPE process_resident_memory_bytes gauge\n"), std::string::npos);
}

}  // namespace
}  // namespace buildtrace::e2e
