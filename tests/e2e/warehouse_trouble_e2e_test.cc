// Warehouse trouble never stops ingest or health checks, end to end on the embedded defaults:
// a metrics.db locked by another process or not a database at start, locked while serving, or
// deleted while serving. Jobs are stored, rows wait in the outbox and reach the warehouse once it
// works again; a warehouse that lost its rows gets them back as reports are read, and
// `buildtrace rebuild-metrics` restores them all from the store.
#include <gmock/gmock.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/run_command.h"

namespace buildtrace::e2e {
namespace {

using ::testing::HasSubstr;

class WarehouseTroubleE2eTest : public E2eTest {
 protected:
  std::vector<std::string> ServeArgs() const override {
    return {"--outbox-retry-initial", "50ms", "--outbox-retry-max", "200ms",
            "--warehouse-timeout",    "200ms"};
  }

  std::vector<std::vector<int64_t>> Rows() {
    auto rows =
        QueryInts(metrics_db(), "SELECT job_id, base_job_id FROM job_metrics ORDER BY job_id");
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    return rows.ok() ? *rows : std::vector<std::vector<int64_t>>{};
  }
  std::string WarehouseStatus(std::string_view target) {
    const HttpResponse res = Get(target);
    EXPECT_EQ(res.status, 200) << res.body;
    return JsonDoc(res.body).Str("/warehouse/status");
  }
  // Posts jobs 1 and 2 (one object moved) and expects both stored.
  void PostTwoJobs() {
    PostOk(BatchJson({{.job_id = 1}, {.job_id = 2, .state = R"({"D1":"door_11_20_5_5"})"}}));
  }
};

TEST_F(WarehouseTroubleE2eTest, StartsWithALockedWarehouseAndCatchesUpOnceItIsFree) {
  StopServer();
  {
    DatabaseLock lock(metrics_db());
    StartServer();  // before: exited with "database is locked"
    PostTwoJobs();
    const HttpResponse report = Get("/report/2?project=web");
    ASSERT_EQ(report.status, 200) << report.body;
    EXPECT_EQ(JsonDoc(report.body).Int("/metrics/total_modified"), 1);
    EXPECT_EQ(JsonDoc(report.body).Str("/warehouse/status"), "pending");
    const JsonDoc ready(Get("/readyz").body);
    EXPECT_EQ(ready.Str("/status"), "degraded");
    EXPECT_EQ(ready.Str("/store/status"), "ok");
    EXPECT_EQ(ready.Str("/warehouse/status"), "unavailable");
    EXPECT_THAT(ReadLog(log_path()), HasSubstr("starting without the warehouse"));
  }
  EXPECT_TRUE(Eventually([&] { return WarehouseStatus("/report/2?project=web") == "recorded"; }));
  EXPECT_EQ(Rows(), (std::vector<std::vector<int64_t>>{{2, 1}}));
}

TEST_F(WarehouseTroubleE2eTest, StartsWithACorruptWarehouseAndRecoversWhenItIsReplaced) {
  StopServer();
  std::filesystem::remove(metrics_db() + "-wal");
  std::filesystem::remove(metrics_db() + "-shm");
  std::ofstream(metrics_db(), std::ios::trunc) << std::string(8192, 'x');
  StartServer();  // before: exited with "file is not a database"
  PostTwoJobs();
  EXPECT_EQ(WarehouseStatus("/report/2?project=web"), "pending");
  const JsonDoc ready(Get("/readyz").body);
  EXPECT_EQ(ready.Str("/status"), "degraded");
  EXPECT_THAT(ready.Str("/warehouse/message"), HasSubstr("not a database"));
  // The operator moves the bad file away; the warehouse opens anew and the row arrives.
  std::filesystem::rename(metrics_db(), metrics_db() + ".bad");
  EXPECT_TRUE(Eventually([&] { return WarehouseStatus("/report/2?project=web") == "recorded"; }));
  EXPECT_EQ(Rows(), (std::vector<std::vector<int64_t>>{{2, 1}}));
  EXPECT_EQ(JsonDoc(Get("/readyz").body).Str("/status"), "ready");
}

TEST_F(WarehouseTroubleE2eTest, ALockedWarehouseHoldsNoRequestLongerThanItsDeadline) {
  PostTwoJobs();
  DatabaseLock lock(metrics_db());
  // Reports on several connections at once: each answers once the 200 ms deadline passes,
  // instead of after SQLite's 5 s busy timeout, and the health checks answer meanwhile.
  std::vector<std::future<HttpResponse>> reports;
  for (int i = 0; i < 6; ++i) {
    reports.push_back(std::async(std::launch::async, [&, i] {
      HttpClient client(server().endpoint());
      Result<HttpResponse> res = client.Get("/report/" + std::to_string(1 + i % 2) +
                                            "?project=web&limit=" + std::to_string(1 + i));
      return res.ok() ? *res : HttpResponse{};
    }));
  }
  EXPECT_EQ(Get("/healthz").status, 200);
  EXPECT_EQ(Get("/readyz").status, 200);
  for (auto& pending : reports) {
    const HttpResponse res = pending.get();
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(JsonDoc(res.body).Str("/warehouse/status"), "pending") << res.body;
  }
  // The rows wait in the outbox (a locked WAL database still reads, so the probe passes).
  EXPECT_EQ(JsonDoc(Get("/readyz").body).Str("/status"), "degraded");
  EXPECT_TRUE(IsError(Get("/stats/latency?project=web"), 503, "unavailable"));
}

TEST_F(WarehouseTroubleE2eTest, AWarehouseThatLostItsRowsGetsThemBack) {
  PostTwoJobs();
  EXPECT_EQ(WarehouseStatus("/report/1?project=web"), "recorded");
  EXPECT_EQ(WarehouseStatus("/report/2?project=web"), "recorded");
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(metrics_db() + suffix);
  // Read again while serving: once the service has seen the warehouse's new epoch (it asks at
  // most every 2 s), the kept comparison's row is written again, not trusted.
  EXPECT_TRUE(Eventually([&] {
    const HttpResponse again = Get("/report/2?project=web&format=text");
    return again.body.find("Warehouse: recorded (metrics row written again to sqlite://") !=
           std::string::npos;
  }));
  EXPECT_EQ(Rows(), (std::vector<std::vector<int64_t>>{{2, 1}}));
  EXPECT_THAT(ReadLog(log_path()), HasSubstr("lost its rows"));

  // After a restart, job 1's row is still missing until its report is read, or the rebuild.
  RestartServer();
  const std::vector<std::string> rebuild = {BinaryPath(), "rebuild-metrics", "--data-dir",
                                            data_dir()};
  Result<CommandResult> first = RunCommand(rebuild);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->exit_code, 0) << first->err;
  EXPECT_THAT(first->out, HasSubstr("rebuilt the metrics of 1 projects from file://"));
  EXPECT_THAT(first->out, HasSubstr(": 2 jobs, 1 rows written, 1 already there\n"));
  EXPECT_THAT(first->err, HasSubstr("rebuild-metrics: done: 2 jobs walked, 1 rows written"));
  EXPECT_EQ(Rows(), (std::vector<std::vector<int64_t>>{{1, 0}, {2, 1}}));
  Result<CommandResult> second = RunCommand(rebuild);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->exit_code, 0);
  EXPECT_THAT(second->out, HasSubstr(": 2 jobs, 0 rows written, 2 already there\n"));
  EXPECT_EQ(Rows(), (std::vector<std::vector<int64_t>>{{1, 0}, {2, 1}}));
  EXPECT_EQ(JsonDoc(Get("/stats/latency?project=web").body).Int("/count"), 2);
}

TEST_F(WarehouseTroubleE2eTest, RebuildRefusesABadProjectAndNamesABadUrl) {
  Result<CommandResult> bad =
      RunCommand({BinaryPath(), "rebuild-metrics", "--data-dir", data_dir(), "--project", "../x"});
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->exit_code, 1);
  EXPECT_THAT(bad->err, HasSubstr("--project must be 1-128 characters"));
  Result<CommandResult> url =
      RunCommand({BinaryPath(), "rebuild-metrics", "--warehouse", "mysql://x"});
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->exit_code, 1);
  EXPECT_THAT(url->err, HasSubstr("has an unknown scheme"));
}

}  // namespace
}  // namespace buildtrace::e2e
