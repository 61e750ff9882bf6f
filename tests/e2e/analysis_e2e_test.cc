// Background analysis on the embedded defaults (inproc:// queue, file store, SQLite): every job
// posted is analysed once as it arrives, without anyone reading its report; late arrivals make
// the jobs after them analysed again; the warehouse ends with exactly one lineage row per job
// with the right base; reports are served precomputed and equal a synchronous computation by a
// server without background analysis; a SIGKILL mid-analysis loses nothing after a restart.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/e2e_fixture.h"

namespace buildtrace::e2e {
namespace {

using std::chrono::seconds;

class E2eAnalysis : public E2eTest {
 protected:
  int AnalysisWorkers() const override { return 2; }

  // Posts `jobs` in batches of `batch`, in their order; every batch creates jobs: 202.
  void PostAll(const std::vector<TestJob>& jobs, size_t batch) {
    for (size_t first = 0; first < jobs.size(); first += batch) {
      const size_t last = std::min(jobs.size(), first + batch);
      PostOk(BatchJson({jobs.begin() + static_cast<std::ptrdiff_t>(first),
                        jobs.begin() + static_cast<std::ptrdiff_t>(last)}));
    }
  }

  // The warehouse's rows of `project` as job_id -> base (0: none), and how many rows in all.
  std::map<int64_t, int64_t> WarehouseBases(const std::string& project, size_t* rows) {
    auto result = QueryInts(metrics_db(),
                            "SELECT job_id, base_job_id FROM job_metrics WHERE "
                            "project = '" +
                                project + "' ORDER BY job_id");
    EXPECT_TRUE(result.ok()) << result.status().message();
    std::map<int64_t, int64_t> bases;
    if (!result.ok()) return bases;
    *rows = result->size();
    for (const std::vector<int64_t>& row : *result) bases[row[0]] = row[1];
    return bases;
  }

  int64_t LatencyCount(const std::string& project, const std::string& status) {
    HttpResponse stats = Get("/stats/latency?project=" + project + "&status=" + status);
    EXPECT_EQ(stats.status, 200) << stats.body;
    JsonDoc doc(stats.body);
    EXPECT_EQ(doc.Str("/status"), status);
    return doc.Int("/count");
  }
};

TEST_F(E2eAnalysis, EveryJobIsAnalysedOnceWithoutAnyReportReadAndLateArrivalsAreReanalysed) {
  const std::vector<std::string> projects = {"alpha", "beta", "gamma"};
  constexpr int kPerProject = 20;
  const std::vector<TestJob> jobs = ShuffledJobs(projects, kPerProject, 0);
  PostAll(jobs, 3);
  for (const std::string& project : projects) {
    SCOPED_TRACE(project);
    const std::map<int64_t, int64_t> expected = ExpectedBases(jobs, project);
    ASSERT_TRUE(AwaitAnalysis(client(), project, expected, seconds(60)));
    // One lineage row per job, against its base, though no report was ever asked for.
    size_t rows = 0;
    EXPECT_EQ(WarehouseBases(project, &rows), expected);
    EXPECT_EQ(rows, static_cast<size_t>(kPerProject));
    // Each job counted once, by its status.
    EXPECT_EQ(LatencyCount(project, "all"), kPerProject);
    EXPECT_EQ(LatencyCount(project, "failed"), kPerProject / 5);
    EXPECT_EQ(LatencyCount(project, "succeeded"), kPerProject - kPerProject / 5);
  }

  // A server without background analysis, given the same jobs in order, computes every report
  // on demand: the precomputed reports are the same, and reading them writes no row.
  ExpectReportsAsComputedOnDemand(jobs, root_dir() + "/control",
                                  [this](const std::string& target, const TestJob&) {
                                    return Result<HttpResponse>(Get(target));
                                  });
  size_t rows = 0;
  WarehouseBases("alpha", &rows);
  EXPECT_EQ(rows, static_cast<size_t>(kPerProject));

  // Nothing was given up on, and the counters say what happened.
  JsonDoc ready(Get("/readyz").body);
  EXPECT_EQ(ready.Str("/status"), "ready");
  EXPECT_EQ(ready.Int("/analysis/dead_letters"), 0);
  EXPECT_EQ(ready.Int("/analysis/depth"), 0);
  EXPECT_GE(ready.Int("/analysis/analysed"), static_cast<int64_t>(jobs.size()));
}

TEST_F(E2eAnalysis, ASigkillMidAnalysisLosesNothingAfterARestart) {
  constexpr int kJobs = 40;
  // Large enough states that analysis is still running when the last POST is answered.
  const std::vector<TestJob> jobs = ShuffledJobs({"web"}, kJobs, 3000);
  PostAll(jobs, 4);
  EXPECT_FALSE(server().Stop(SIGKILL).ok());  // "was killed by signal 9"
  ASSERT_NO_FATAL_FAILURE(StartServer());
  // The restart's sweep finds what the killed process left unanalysed (or analysed against a
  // lineage that has changed since) and enqueues it.
  const std::map<int64_t, int64_t> expected = ExpectedBases(jobs, "web");
  ASSERT_TRUE(AwaitAnalysis(client(), "web", expected, seconds(60)));
  size_t rows = 0;
  EXPECT_EQ(WarehouseBases("web", &rows), expected);
  EXPECT_EQ(rows, static_cast<size_t>(kJobs));
  EXPECT_EQ(LatencyCount("web", "all"), kJobs);
  EXPECT_EQ(LatencyCount("web", "succeeded"), kJobs - kJobs / 5);
}

}  // namespace
}  // namespace buildtrace::e2e
