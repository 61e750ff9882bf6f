// Tests of the metrics rebuild: the rows it writes are exactly the rows reports write (lineage
// over failed jobs and gaps, several projects), a second run writes none, a corrupt job is
// skipped and named, and a warehouse error stops it.
#include "service/metrics_rebuild.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include "service/report_service.h"
#include "testing/temp_backends.h"

namespace buildtrace {
namespace {

using ::testing::HasSubstr;

std::string Job(int64_t id, const std::string& project, const std::string& state,
                const char* status = "succeeded") {
  return R"({"job_id":)" + std::to_string(id) + R"(,"project":")" + project +
         R"(","timestamp":"2026-11-28T10:00:00Z","latency_ms":)" + std::to_string(id * 10) +
         R"(,"status":")" + status + R"(","state":)" + state + "}";
}

class MetricsRebuildTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(backends_.ok()); }

  void Post(const std::string& json) {
    simdjson::padded_string body(json);
    auto parsed = ParseJobDocument(body, ParseLimits{});
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    ASSERT_TRUE(jobs_.Store((*parsed)->jobs().front()).ok());
  }

  // Rebuilds into a new SQLite file `name` in the temporary folder; returns its path.
  std::string Rebuild(const std::string& name, RebuildProgress* out = nullptr) {
    const std::string path = backends_.folder() + "/" + name;
    auto warehouse = SqliteWarehouse::Open(path);
    EXPECT_TRUE(warehouse.ok());
    Result<RebuildProgress> p = RebuildMetrics(
        jobs_, **warehouse, {}, [](const RebuildProgress&) {},
        [this](const std::string& w) { warnings_.push_back(w); });
    EXPECT_TRUE(p.ok()) << p.status().message();
    if (out != nullptr && p.ok()) *out = *p;
    return path;
  }

  TempBackends backends_{"bt-rebuild"};
  JobRepository jobs_{*backends_.file_store(), ParseLimits{}};
  std::vector<std::string> warnings_;
};

TEST_F(MetricsRebuildTest, WritesTheRowsReportsWriteAndIsIdempotent) {
  Post(Job(1, "web", R"({"A":"door_1_1_1_1","B":"b"})"));
  Post(Job(2, "web", R"({"A":"door_2_1_1_1"})", "failed"));
  Post(Job(4, "web", R"({"A":"door_1_1_2_2","C":"c"})"));
  Post(Job(5, "web", R"({"A":"wall_1_1_2_2","C":{"k":1}})"));
  Post(Job(7, "api", R"({"X":"x"})", "failed"));
  Post(Job(9, "api", R"({"X":"y"})"));
  ReportService reports(jobs_, *backends_.sqlite());
  for (auto [project, id] : std::vector<std::pair<std::string, int64_t>>{
           {"web", 1}, {"web", 2}, {"web", 4}, {"web", 5}, {"api", 7}, {"api", 9}}) {
    ReportRequest request;
    request.project = project;
    request.job_id = id;
    ASSERT_TRUE(reports.Build(request).ok());
  }
  const std::vector<MetricsRow> expected = ReadSqliteRows(backends_.db_path());
  ASSERT_EQ(expected.size(), 6u);

  RebuildProgress first;
  const std::string path = Rebuild("rebuilt.db", &first);
  EXPECT_EQ(ReadSqliteRows(path), expected);
  EXPECT_EQ(first.projects, 2);
  EXPECT_EQ(first.jobs, 6);
  EXPECT_EQ(first.written, 6);
  EXPECT_EQ(first.present, 0);

  RebuildProgress second;
  Rebuild("rebuilt.db", &second);
  EXPECT_EQ(ReadSqliteRows(path), expected);
  EXPECT_EQ(second.written, 0);
  EXPECT_EQ(second.present, 6);
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(MetricsRebuildTest, ACorruptJobIsSkippedAndNamed) {
  Post(Job(1, "web", R"({"A":"a"})"));
  ASSERT_TRUE(backends_.file_store()->CreateIfAbsent(JobObjectName("web", 2), "{").ok());
  Post(Job(3, "web", R"({"A":"b"})"));
  RebuildProgress p;
  const std::string path = Rebuild("rebuilt.db", &p);
  EXPECT_EQ(p.corrupt, 1);
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_THAT(warnings_[0], HasSubstr("jobs/web/0000000000000000002.json"));
  const std::vector<MetricsRow> rows = ReadSqliteRows(path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].job_id, 3);
  EXPECT_EQ(rows[1].base_job_id, 1);
  EXPECT_EQ(rows[1].modified, 1);
}

TEST_F(MetricsRebuildTest, AWarehouseErrorStopsIt) {
  Post(Job(1, "web", R"({"A":"a"})"));
  Post(Job(2, "web", R"({"A":"b"})"));
  backends_.warehouse()->FailFrom(FaultyMetricsWarehouse::Method::kRecord, 1,
                                  Unavailable("warehouse went away"));
  std::vector<RebuildProgress> reported;
  Result<RebuildProgress> p = RebuildMetrics(
      jobs_, *backends_.warehouse(), {}, [&](const RebuildProgress& r) { reported.push_back(r); },
      [](const std::string&) {});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(p.status().message(), "warehouse went away");
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].written, 1);
  EXPECT_EQ(reported[0].project, "web");
}

}  // namespace
}  // namespace buildtrace
