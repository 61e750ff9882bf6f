// What outlives a request and a restart: stored jobs and reports are the same bytes after a
// restart on the same data dir, and the warehouse holds one metrics row per (project, job, base)
// however often a report is asked for.
#include "tests/e2e/e2e_fixture.h"

namespace buildtrace::e2e {
namespace {

class E2eRestart : public E2eTest {};
class E2eWarehouse : public E2eTest {};

constexpr std::string_view kWarehouseKey = ",\"warehouse\":";

std::vector<TestJob> WebJobs() {
  TestJob one, two, three;
  one.job_id = 1;
  one.latency_ms = 1200;
  one.metadata = R"({"branch":"main"})";
  one.state = R"({"D1":"door_10_20_5_5","W1":"window_0_0_2_3","S1":{"type":"stair","x":1}})";
  two.job_id = 2;
  two.latency_ms = 900;
  two.status = "failed";
  two.state = R"({"D1":"door_12_20_5_5"})";
  three.job_id = 3;
  three.latency_ms = 4410.5;
  three.state = R"({"W1":"window_0_0_4_3","D1":"door_12_20_5_5","S1":{"x":1,"type":"ramp"},)"
                R"("W2":"window_9_9_2_3"})";
  return {one, two, three};
}

TEST_F(E2eRestart, SameDataDirServesTheSameJobsReportsAndStats) {
  PostOk(BatchJson(WebJobs()));
  TestJob other;
  other.project = "api";
  PostOk(other.ToJson());

  const std::vector<std::string> report_targets = {
      "/report/1?project=web", "/report/2?project=web", "/report/3?project=web",
      "/report/3?project=web&base=2&limit=1", "/report/1?project=api"};
  const std::vector<std::string> plain_targets = {"/jobs/1?project=web",
                                                  "/jobs/2?project=web",
                                                  "/jobs/3?project=web",
                                                  "/jobs/1?project=api",
                                                  "/projects",
                                                  "/stats/latency?project=web",
                                                  "/stats/latency?window=7d&quantiles=0,0.5,1"};
  std::vector<std::string> reports, plain;
  for (const std::string& target : report_targets) {
    HttpResponse r = Get(target);
    ASSERT_EQ(r.status, 200) << target << ": " << r.body;
    JsonDoc doc(r.body);
    // A comparison with an explicit base is answered, never recorded: one row per job.
    const bool explicit_base = target.find("base=") != std::string::npos;
    EXPECT_EQ(doc.Str("/warehouse/status"), explicit_base ? "not_recorded" : "recorded") << target;
    EXPECT_EQ(doc.Bool("/warehouse/inserted"), !explicit_base) << target;
    reports.push_back(r.body);
  }
  for (const std::string& target : plain_targets) {
    HttpResponse r = Get(target);
    ASSERT_EQ(r.status, 200) << target << ": " << r.body;
    plain.push_back(r.body);
  }
  // Jobs 1 and 3 of web have reports (failed job 2 has a row too, not counted) ...
  EXPECT_EQ(JsonDoc(plain[5]).Int("/count"), 2);
  EXPECT_EQ(JsonDoc(plain[6]).Int("/count"), 3);  // ... and job 1 of api

  ASSERT_NO_FATAL_FAILURE(RestartServer());

  for (size_t i = 0; i < report_targets.size(); ++i) {
    SCOPED_TRACE(report_targets[i]);
    HttpResponse r = Get(report_targets[i]);
    ASSERT_EQ(r.status, 200) << r.body;
    const size_t before = reports[i].rfind(kWarehouseKey);
    const size_t now = r.body.rfind(kWarehouseKey);
    ASSERT_NE(before, std::string::npos) << reports[i];
    ASSERT_NE(now, std::string::npos) << r.body;
    EXPECT_EQ(r.body.substr(0, now), reports[i].substr(0, before));
    JsonDoc doc(r.body);
    EXPECT_FALSE(doc.Bool("/warehouse/inserted"));
    if (report_targets[i].find("base=") != std::string::npos) {
      EXPECT_EQ(doc.Str("/warehouse/status"), "not_recorded");
    } else {
      EXPECT_EQ(doc.Str("/warehouse/status"), "recorded");
      EXPECT_NE(doc.Str("/warehouse/message").find("already"), std::string::npos) << r.body;
    }
  }
  for (size_t i = 0; i < plain_targets.size(); ++i) {
    HttpResponse r = Get(plain_targets[i]);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, plain[i]) << plain_targets[i];
  }
}

// The rows of job_metrics for one job: (base_job_id, latency_ms) sorted by base.
std::vector<std::vector<int64_t>> MetricsRows(const std::string& db, std::string_view project,
                                              int64_t job_id) {
  auto rows = QueryInts(db,
                        "SELECT base_job_id, CAST(latency_ms AS INTEGER) FROM job_metrics "
                        "WHERE project = '" +
                            std::string(project) + "' AND job_id = " + std::to_string(job_id) +
                            " ORDER BY base_job_id");
  EXPECT_TRUE(rows.ok()) << rows.status().message();
  return rows.ok() ? *rows : std::vector<std::vector<int64_t>>{};
}

// One lineage row per job: asking again writes nothing, and a report against a smaller base than
// the row's (an explicit, earlier base) is not written either.
TEST_F(E2eWarehouse, ReportsAskedTwiceWriteOneRowAndASmallerBaseNone) {
  std::vector<TestJob> jobs(3);
  for (int i = 0; i < 3; ++i) {
    jobs[i].job_id = i + 1;
    jobs[i].latency_ms = 100.0 * (i + 1);
    jobs[i].state = R"({"D1":"door_)" + std::to_string(i) + R"(_0_1_1"})";
  }
  PostOk(BatchJson(jobs));

  JsonDoc first(Get("/report/3?project=web").body);
  EXPECT_EQ(first.Int("/base_job_id"), 2);
  EXPECT_TRUE(first.Bool("/warehouse/inserted"));
  JsonDoc second(Get("/report/3?project=web").body);
  EXPECT_FALSE(second.Bool("/warehouse/inserted"));
  EXPECT_EQ(MetricsRows(metrics_db(), "web", 3), (std::vector<std::vector<int64_t>>{{2, 300}}));

  JsonDoc explicit_base(Get("/report/3?project=web&base=1").body);
  EXPECT_EQ(explicit_base.Int("/base_job_id"), 1);
  EXPECT_TRUE(explicit_base.Bool("/lineage/explicit_base"));
  EXPECT_EQ(explicit_base.Str("/warehouse/status"), "not_recorded");
  EXPECT_FALSE(explicit_base.Bool("/warehouse/inserted"));
  EXPECT_EQ(MetricsRows(metrics_db(), "web", 3), (std::vector<std::vector<int64_t>>{{2, 300}}));
  auto all = QueryInts(metrics_db(), "SELECT COUNT(*) FROM job_metrics");
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_EQ(*all, (std::vector<std::vector<int64_t>>{{1}}));

  // One job, one row in the statistics.
  JsonDoc stats(Get("/stats/latency?project=web&quantiles=0,1").body);
  EXPECT_EQ(stats.Int("/count"), 1);
  EXPECT_EQ(stats.Double("/quantiles/0"), 300);
  EXPECT_EQ(stats.Double("/quantiles/1"), 300);
}

}  // namespace
}  // namespace buildtrace::e2e
