// The metrics outbox end to end, on the embedded defaults: the test locks the SQLite warehouse
// the way another writer would (a real SQLITE_BUSY, no fake), asks for reports, and checks that
// each row waits in the outbox, shows in /readyz and /metrics, reaches the warehouse exactly once
// when the lock goes, and survives a restart of the server in between.
#include <gmock/gmock.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "tests/e2e/e2e_fixture.h"

namespace buildtrace::e2e {
namespace {

using ::testing::HasSubstr;

class OutboxE2eTest : public E2eTest {
 protected:
  // SQLite's busy timeout cut from 5 s to 300 ms: a report's call then fails with
  // SQLITE_BUSY before its 1 s deadline, and the server stops without waiting seconds for it.
  std::vector<std::string> ServeArgs() const override {
    return {"--outbox-retry-initial",
            "50ms",
            "--outbox-retry-max",
            "200ms",
            "--warehouse",
            "sqlite://" + metrics_db() + "?busy-timeout-ms=300"};
  }

  std::vector<std::vector<int64_t>> Rows() {
    auto rows =
        QueryInts(metrics_db(), "SELECT job_id, base_job_id FROM job_metrics ORDER BY job_id");
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    return rows.ok() ? *rows : std::vector<std::vector<int64_t>>{};
  }
  std::vector<std::string> OutboxEntries() {
    std::vector<std::string> names = FilesUnder(states_dir() + "/outbox");
    std::sort(names.begin(), names.end());
    return names;
  }
};

TEST_F(OutboxE2eTest, ALockedWarehouseDelaysTheRowButNeverLosesOrDoublesIt) {
  PostOk(BatchJson({{.job_id = 1}, {.job_id = 2, .state = R"({"D1":"door_11_20_5_5"})"}}));
  {
    DatabaseLock lock(metrics_db());
    const HttpResponse report = Get("/report/2?project=web");
    ASSERT_EQ(report.status, 200) << report.body;
    const JsonDoc body(report.body);
    EXPECT_EQ(body.Int("/metrics/total_modified"), 1);
    EXPECT_EQ(body.Str("/warehouse/status"), "pending");
    EXPECT_THAT(body.Str("/warehouse/message"), HasSubstr("kept in the outbox"));
    EXPECT_EQ(OutboxEntries(),
              std::vector<std::string>{"web/0000000000000000002-0000000000000000001.json"});

    const HttpResponse ready = Get("/readyz");
    ASSERT_EQ(ready.status, 200) << ready.body;
    const JsonDoc readiness(ready.body);
    EXPECT_EQ(readiness.Str("/status"), "degraded");
    EXPECT_EQ(readiness.Int("/outbox/pending"), 1);
    EXPECT_FALSE(readiness.IsNull("/outbox/oldest_queued_at"));
    EXPECT_THAT(Get("/metrics").body, HasSubstr("\nbuildtrace_outbox_pending 1\n"));
  }
  // Drained: the entry is gone and the pass that wrote it has finished.
  ASSERT_TRUE(Eventually([&] {
    return OutboxEntries().empty() && JsonDoc(Get("/readyz").body).Int("/outbox/pending") == 0;
  })) << "the outbox never drained";
  EXPECT_EQ(Rows(), (std::vector<std::vector<int64_t>>{{2, 1}}));
  const JsonDoc readiness(Get("/readyz").body);
  EXPECT_EQ(readiness.Str("/status"), "ready");
  EXPECT_EQ(readiness.Int("/outbox/pending"), 0);

  // The next report finds the row written and is kept; the row is still there once.
  const JsonDoc again(Get("/report/2?project=web").body);
  EXPECT_EQ(again.Str("/warehouse/status"), "recorded");
  EXPECT_FALSE(again.Bool("/warehouse/inserted"));
  EXPECT_EQ(Rows(), (std::vector<std::vector<int64_t>>{{2, 1}}));
  const std::string metrics = Get("/metrics").body;
  EXPECT_THAT(metrics, HasSubstr("\nbuildtrace_outbox_pending 0\n"));
  EXPECT_THAT(metrics, HasSubstr("\nbuildtrace_outbox_recorded_total 1\n"));
  EXPECT_THAT(metrics, HasSubstr("\nbuildtrace_http_responses_total{code=\"200\"} "));
}

TEST_F(OutboxE2eTest, ARestartResumesTheRowsLeftInTheOutbox) {
  PostOk(BatchJson({{.job_id = 1}, {.job_id = 2, .state = R"({"D1":"door_11_20_5_5"})"}}));
  {
    DatabaseLock lock(metrics_db());
    for (const char* target : {"/report/1?project=web", "/report/2?project=web"}) {
      const HttpResponse report = Get(target);
      ASSERT_EQ(report.status, 200) << report.body;
      EXPECT_EQ(JsonDoc(report.body).Str("/warehouse/status"), "pending") << target;
    }
    StopServer();  // SIGTERM with rows waiting: exit 0, the rows stay in the store
  }
  EXPECT_EQ(OutboxEntries(),
            (std::vector<std::string>{"web/0000000000000000001-none.json",
                                      "web/0000000000000000002-0000000000000000001.json"}));
  EXPECT_EQ(Rows(), (std::vector<std::vector<int64_t>>{}));

  StartServer();
  ASSERT_TRUE(Eventually([&] {
    return OutboxEntries().empty() &&
           Get("/metrics").body.find("\nbuildtrace_outbox_recorded_total 2\n") != std::string::npos;
  })) << "the outbox never drained";
  EXPECT_EQ(Rows(), (std::vector<std::vector<int64_t>>{{1, 0}, {2, 1}}));
}

}  // namespace
}  // namespace buildtrace::e2e
