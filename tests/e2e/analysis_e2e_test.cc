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
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/e2e_fixture.h"

namespace buildtrace::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A job's state: objects that move, resize and come and go with the job ID, `extra` more that
// stay the same.
std::string StateOf(int64_t id, int extra) {
  std::string state = "{\"A\":\"door_" + std::to_string(id) + "_0_5_5\",\"B\":\"wall_0_0_" +
                      std::to_string(id % 4 + 1) + "_1\",\"C" + std::to_string(id % 3) +
                      "\":\"window_1_1_1_1\"";
  for (int i = 0; i < extra; ++i) {
    state += ",\"K" + std::to_string(i) + "\":\"stair_" + std::to_string(i) + "_2_1_1\"";
  }
  return state + "}";
}

// `per_project` jobs in each project, every fifth failed, in a fixed shuffled order (so that
// many jobs arrive after the jobs that follow them).
std::vector<TestJob> ShuffledJobs(const std::vector<std::string>& projects, int per_project,
                                  int extra_objects) {
  std::vector<TestJob> jobs;
  for (const std::string& project : projects) {
    for (int64_t id = 1; id <= per_project; ++id) {
      TestJob job;
      job.job_id = id;
      job.project = project;
      job.timestamp = RecentTimestamp(3600 - id);  // fixed once: both servers get the same
      job.latency_ms = static_cast<double>(100 * id + project.size());
      job.status = id % 5 == 3 ? "failed" : "succeeded";
      job.state = StateOf(id, extra_objects);
      jobs.push_back(std::move(job));
    }
  }
  std::mt19937 engine(20261205);
  std::shuffle(jobs.begin(), jobs.end(), engine);
  return jobs;
}

// Each job's lineage base: the greatest succeeded job below it in its project; 0 for none.
std::map<int64_t, int64_t> ExpectedBases(const std::vector<TestJob>& jobs,
                                         const std::string& project) {
  std::map<int64_t, std::string> status;
  for (const TestJob& job : jobs) {
    if (job.project == project) status[job.job_id] = job.status;
  }
  std::map<int64_t, int64_t> bases;
  int64_t last_succeeded = 0;
  for (const auto& [id, job_status] : status) {
    bases[id] = last_succeeded;
    if (job_status == "succeeded") last_succeeded = id;
  }
  return bases;
}

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

  // The jobs page's (job_id, base or 0) of the jobs analysed; nullopt until every one of
  // `expected`'s jobs is listed and analysed.
  std::optional<std::map<int64_t, int64_t>> AnalysedBases(const std::string& project,
                                                          size_t expected) {
    HttpResponse page = Get("/projects/" + project + "/jobs?limit=1000");
    if (page.status != 200) return std::nullopt;
    JsonDoc doc(page.body);
    if (doc.Size("/jobs") != expected) return std::nullopt;
    std::map<int64_t, int64_t> bases;
    for (size_t i = 0; i < expected; ++i) {
      const std::string at = "/jobs/" + std::to_string(i);
      if (doc.Str(at + "/analysis") != "analysed") return std::nullopt;
      bases[doc.Int(at + "/job_id")] =
          doc.IsNull(at + "/base_job_id") ? 0 : doc.Int(at + "/base_job_id");
    }
    return bases;
  }

  // Waits (at most a minute) until the jobs page shows every job of `project` analysed against
  // its expected base; fails the test with the last page seen otherwise.
  void AwaitAnalysis(const std::string& project, const std::map<int64_t, int64_t>& expected) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(60);
    std::optional<std::map<int64_t, int64_t>> seen;
    while (std::chrono::steady_clock::now() < deadline) {
      seen = AnalysedBases(project, expected.size());
      if (seen == expected) return;
      std::this_thread::sleep_for(milliseconds(50));  // polling pace, not synchronisation
    }
    ADD_FAILURE() << "project " << project << " not analysed within 60 s: "
                  << Get("/projects/" + project + "/jobs?limit=1000").body;
  }

  // The warehouse's rows of `project` as job_id -> base (0: none), and how many rows in all.
  std::map<int64_t, int64_t> WarehouseBases(const std::string& project, size_t* rows) {
    auto result = QueryInts(metrics_db(), "SELECT job_id, base_job_id FROM job_metrics WHERE "
                                          "project = '" + project + "' ORDER BY job_id");
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

// The report's body without its "warehouse" member (which names the instance's database).
std::string WithoutWarehouse(const std::string& body) {
  const size_t at = body.rfind(",\"warehouse\":");
  return at == std::string::npos ? body : body.substr(0, at);
}

TEST_F(E2eAnalysis, EveryJobIsAnalysedOnceWithoutAnyReportReadAndLateArrivalsAreReanalysed) {
  const std::vector<std::string> projects = {"alpha", "beta", "gamma"};
  constexpr int kPerProject = 20;
  const std::vector<TestJob> jobs = ShuffledJobs(projects, kPerProject, 0);
  PostAll(jobs, 3);
  for (const std::string& project : projects) {
    SCOPED_TRACE(project);
    const std::map<int64_t, int64_t> expected = ExpectedBases(jobs, project);
    ASSERT_NO_FATAL_FAILURE(AwaitAnalysis(project, expected));
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
  const std::string control_dir = root_dir() + "/control";
  std::filesystem::create_directories(control_dir);
  auto control = ServerProcess::Start({BinaryPath(), control_dir, root_dir() + "/control.log"});
  ASSERT_TRUE(control.ok()) << control.status().message();
  HttpClient control_client((*control)->endpoint(), seconds(20));
  std::vector<TestJob> in_order = jobs;
  std::sort(in_order.begin(), in_order.end(), [](const TestJob& a, const TestJob& b) {
    return std::tie(a.project, a.job_id) < std::tie(b.project, b.job_id);
  });
  auto posted = control_client.Post("/process", BatchJson(in_order), "application/json");
  ASSERT_TRUE(posted.ok());
  ASSERT_EQ(posted->status, 202) << posted->body;
  for (const TestJob& job : in_order) {
    const std::string target =
        "/report/" + std::to_string(job.job_id) + "?project=" + job.project;
    SCOPED_TRACE(target);
    HttpResponse kept = Get(target);
    ASSERT_EQ(kept.status, 200) << kept.body;
    EXPECT_EQ(kept.headers["buildtrace-analysis"], "precomputed");
    JsonDoc doc(kept.body);
    EXPECT_EQ(doc.Str("/warehouse/status"), "recorded");
    EXPECT_FALSE(doc.Bool("/warehouse/inserted"));
    auto fresh = control_client.Get(target);
    ASSERT_TRUE(fresh.ok());
    ASSERT_EQ(fresh->status, 200) << fresh->body;
    EXPECT_EQ(fresh->headers["buildtrace-analysis"], "on-demand");
    EXPECT_EQ(WithoutWarehouse(kept.body), WithoutWarehouse(fresh->body));
  }
  size_t rows = 0;
  WarehouseBases("alpha", &rows);
  EXPECT_EQ(rows, static_cast<size_t>(kPerProject));
  EXPECT_TRUE((*control)->Stop().ok());

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
  ASSERT_NO_FATAL_FAILURE(AwaitAnalysis("web", expected));
  size_t rows = 0;
  EXPECT_EQ(WarehouseBases("web", &rows), expected);
  EXPECT_EQ(rows, static_cast<size_t>(kJobs));
  EXPECT_EQ(LatencyCount("web", "all"), kJobs);
  EXPECT_EQ(LatencyCount("web", "succeeded"), kJobs - kJobs / 5);
}

}  // namespace
}  // namespace buildtrace::e2e
