// SqliteWarehouse: the conformance suite on a fresh file per test, plus what only a file-backed
// warehouse has: persistence across reopen and refusing files it cannot use.
#include "warehouse/sqlite_warehouse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "core/timestamp.h"
#include "testing/metrics_warehouse_conformance.h"

namespace buildtrace {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr int64_t kT0 = 1'700'000'000'000;

// A directory unique to this process and call, removed by the destructor.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ =
        fs::path(::testing::TempDir()) /
        ("sqlite_warehouse_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A SqliteWarehouse that owns the directory of its file, so each conformance test is hermetic.
class TempSqliteWarehouse : public MetricsWarehouse {
 public:
  TempSqliteWarehouse() {
    Result<std::unique_ptr<SqliteWarehouse>> opened =
        SqliteWarehouse::Open((dir_.path() / "metrics.db").string());
    EXPECT_TRUE(opened.ok()) << opened.status().message();
    if (opened.ok()) warehouse_ = std::move(*opened);
  }
  bool opened() const { return warehouse_ != nullptr; }

  Result<bool> Record(const MetricsRow& row) override { return warehouse_->Record(row); }
  Result<LatencyStats> Latency(const LatencyQuery& query) override {
    return warehouse_->Latency(query);
  }
  Result<int64_t> DeleteProject(std::string_view project) override {
    return warehouse_->DeleteProject(project);
  }
  Status Probe() override { return warehouse_->Probe(); }
  Result<std::string> Epoch() override { return warehouse_->Epoch(); }
  std::string Describe() const override { return warehouse_->Describe(); }

 private:
  TempDir dir_;  // declared first: destroyed after the warehouse closes its file
  std::unique_ptr<SqliteWarehouse> warehouse_;
};

std::unique_ptr<MetricsWarehouse> MakeTempSqliteWarehouse() {
  auto warehouse = std::make_unique<TempSqliteWarehouse>();
  if (!warehouse->opened()) return nullptr;
  return warehouse;
}

// A second warehouse on the file of a TempSqliteWarehouse ("sqlite://" + path).
std::unique_ptr<MetricsWarehouse> ReopenSqliteWarehouse(const std::string& described) {
  auto opened = SqliteWarehouse::Open(described.substr(std::string("sqlite://").size()));
  EXPECT_TRUE(opened.ok()) << opened.status().message();
  if (!opened.ok()) return nullptr;
  return std::move(*opened);
}

void ExecSql(const fs::path& path, const char* sql);

void WriteOldSqliteRow(const std::string& described, const MetricsRow& row) {
  ExecSql(described.substr(std::string("sqlite://").size()),
          OldMetricsRowInsert("job_metrics", row).c_str());
}

INSTANTIATE_TEST_SUITE_P(Sqlite, MetricsWarehouseConformanceTest,
                         ::testing::Values(MetricsWarehouseFactory{
                             "sqlite", MakeTempSqliteWarehouse, ReopenSqliteWarehouse,
                             WriteOldSqliteRow}),
                         MetricsWarehouseFactoryName);

MetricsRow SomeRow() {
  MetricsRow row;
  row.project = "p";
  row.job_id = 12;
  row.base_job_id = 11;
  row.timestamp = "2023-11-14T22:13:20.000Z";
  row.timestamp_ms = 1'700'000'000'000;
  row.latency_ms = 2.5;
  return row;
}

// Runs constant SQL on the file behind the warehouse's back.
void ExecSql(const fs::path& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

TEST(SqliteWarehouseTest, ReopeningTheFileKeepsRows) {
  TempDir dir;
  const fs::path path = dir.path() / "nested" / "dirs" / "metrics.db";
  {
    auto warehouse = SqliteWarehouse::Open(path.string());
    ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
    Result<bool> written = (*warehouse)->Record(SomeRow());
    ASSERT_TRUE(written.ok()) << written.status().message();
    EXPECT_TRUE(*written);
  }
  auto reopened = SqliteWarehouse::Open(path.string());
  ASSERT_TRUE(reopened.ok()) << reopened.status().message();
  Result<bool> again = (*reopened)->Record(SomeRow());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_FALSE(*again);
  EXPECT_EQ((*reopened)->Describe(), "sqlite://" + path.string());
}

TEST(SqliteWarehouseTest, DescribeUsesTheAbsolutePath) {
  TempDir dir;
  const fs::path previous = fs::current_path();
  fs::current_path(dir.path());
  auto warehouse = SqliteWarehouse::Open("./sub/../metrics.db");
  fs::current_path(previous);
  ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
  EXPECT_EQ((*warehouse)->Describe(), "sqlite://" + (dir.path() / "metrics.db").string());
}

TEST(SqliteWarehouseTest, ParentThatIsARegularFileIsAnError) {
  TempDir dir;
  std::ofstream(dir.path() / "file") << "not a directory";
  const fs::path path = dir.path() / "file" / "metrics.db";
  auto warehouse = SqliteWarehouse::Open(path.string());
  ASSERT_FALSE(warehouse.ok());
  EXPECT_EQ(warehouse.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(warehouse.status().message(), HasSubstr(path.string()));
  EXPECT_THAT(warehouse.status().message(), HasSubstr("create directory"));
}

TEST(SqliteWarehouseTest, NewerSchemaVersionIsRefused) {
  TempDir dir;
  const fs::path path = dir.path() / "metrics.db";
  ExecSql(path, "PRAGMA user_version = 99");
  auto warehouse = SqliteWarehouse::Open(path.string());
  ASSERT_FALSE(warehouse.ok());
  EXPECT_EQ(warehouse.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(warehouse.status().message(), HasSubstr(path.string()));
  EXPECT_THAT(warehouse.status().message(), HasSubstr("schema version 99"));
  EXPECT_THAT(warehouse.status().message(), HasSubstr("supports up to 4"));
}

TEST(SqliteWarehouseTest, CurrentSchemaVersionIsWrittenAndAccepted) {
  TempDir dir;
  const fs::path path = dir.path() / "metrics.db";
  ASSERT_TRUE(SqliteWarehouse::Open(path.string()).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &statement, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(statement), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(statement, 0), kSqliteWarehouseSchemaVersion);
  sqlite3_finalize(statement);
  sqlite3_close(db);
  EXPECT_TRUE(SqliteWarehouse::Open(path.string()).ok());
}

TEST(SqliteWarehouseTest, FileThatIsNotADatabaseIsAnError) {
  TempDir dir;
  const fs::path path = dir.path() / "metrics.db";
  std::ofstream out(path, std::ios::binary);
  for (int i = 0; i < 512; ++i) out << "garbage, not a database ";
  out.close();
  auto warehouse = SqliteWarehouse::Open(path.string());
  ASSERT_FALSE(warehouse.ok());
  EXPECT_EQ(warehouse.status().code(), StatusCode::kInternal);
  EXPECT_THAT(warehouse.status().message(), HasSubstr(path.string()));
  EXPECT_THAT(warehouse.status().message(), HasSubstr("not a database"));
}

// In doubles 0.07 * 100 is 7.000000000000001 and 0.55 * 100 is 55.00000000000001; a plain
// ceil() would pick ranks 8 and 56. (PostgreSQL's percentile_disc does, which is why this case
// is here and not in the conformance suite.)
TEST(SqliteWarehouseTest, RankToleratesBinaryRoundingOfDecimalQuantiles) {
  TempDir dir;
  auto warehouse = SqliteWarehouse::Open((dir.path() / "metrics.db").string());
  ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
  MetricsRow row = SomeRow();
  row.base_job_id = std::nullopt;
  for (int job = 1; job <= 100; ++job) {
    row.job_id = job;
    row.latency_ms = job;
    ASSERT_TRUE((*warehouse)->Record(row).ok());
  }
  const int64_t t = row.timestamp_ms;
  Result<LatencyStats> stats =
      (*warehouse)->Latency(LatencyQuery{"p", t, t, {0.07, 0.55, 0.14, 0.071}});
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->count, 100);
  EXPECT_EQ(stats->values, (std::vector<std::optional<double>>{7.0, 55.0, 14.0, 8.0}));
}

TEST(SqliteWarehouseTest, QuantileOutsideZeroToOneIsInvalid) {
  TempDir dir;
  auto warehouse = SqliteWarehouse::Open((dir.path() / "metrics.db").string());
  ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
  for (double q : {-0.1, 1.5, std::nan("")}) {
    Result<LatencyStats> stats = (*warehouse)->Latency(LatencyQuery{std::nullopt, 0, 1, {0.5, q}});
    ASSERT_FALSE(stats.ok());
    EXPECT_EQ(stats.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(stats.status().message(), HasSubstr("quantile 1"));
  }
}

TEST(SqliteWarehouseTest, JobIdsBelowOneAreInvalid) {
  TempDir dir;
  auto warehouse = SqliteWarehouse::Open((dir.path() / "metrics.db").string());
  ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
  MetricsRow row = SomeRow();
  row.base_job_id = 0;  // would collide with "no base"
  EXPECT_EQ((*warehouse)->Record(row).status().code(), StatusCode::kInvalidArgument);
  row = SomeRow();
  row.job_id = 0;
  EXPECT_EQ((*warehouse)->Record(row).status().code(), StatusCode::kInvalidArgument);
}

TEST(SqliteWarehouseTest, LockedDatabaseIsUnavailableAndNamesTheOperation) {
  TempDir dir;
  const fs::path path = dir.path() / "metrics.db";
  auto warehouse = SqliteWarehouse::Open(path.string(), std::chrono::milliseconds(100));
  ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
  // Another connection holds the write lock for the whole busy timeout (100 ms).
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  Result<bool> written = (*warehouse)->Record(SomeRow());
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(written.status().message(),
              HasSubstr("sqlite warehouse " + path.string() + ": record job 12 of project p: "));
  EXPECT_THAT(written.status().message(), HasSubstr("locked"));
}

// ---- Quantiles from job_latency's indexes: the values of the schema 1 statement, at a cost
// counted in SQLite's own work counters.

// The latency statement of schema 1 (a sort of the window's jobs), with the lineage rule of
// schema 3, kept as the reference answer.
constexpr const char* kVersionOneLatencySql = R"sql(
WITH jobs AS MATERIALIZED (
  SELECT latency_ms FROM (
    SELECT latency_ms, COALESCE(status, 'succeeded') AS status, MAX(base_job_id)
    FROM job_metrics
    WHERE timestamp_ms BETWEEN ?1 AND ?2 AND (?3 IS NULL OR project = ?3)
      AND base_job_id < job_id
    GROUP BY project, job_id)
  WHERE status = 'succeeded'),
ranked AS (SELECT latency_ms, ROW_NUMBER() OVER (ORDER BY latency_ms) AS rn FROM jobs),
window_size AS (SELECT COUNT(*) AS n FROM jobs),
wanted AS (
  SELECT CAST(q.key AS INTEGER) AS idx, CAST(q.value AS REAL) * w.n - 1e-9 AS x, w.n AS n
  FROM json_each(?4) AS q, window_size AS w),
picks AS (
  SELECT idx, MAX(1, MIN(n, CAST(x AS INTEGER) + (x > CAST(x AS INTEGER)))) AS wanted_rank
  FROM wanted)
SELECT w.n, p.idx, r.latency_ms
FROM window_size AS w
LEFT JOIN picks AS p ON TRUE
LEFT JOIN ranked AS r ON r.rn = p.wanted_rank
ORDER BY p.idx
)sql";

// The schema 1 answer for p50, p95, p99 of `query` over the file at `path`.
LatencyStats VersionOneAnswer(const fs::path& path, const LatencyQuery& query) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, kVersionOneLatencySql, -1, &s, nullptr), SQLITE_OK);
  sqlite3_bind_int64(s, 1, query.from_ms);
  sqlite3_bind_int64(s, 2, query.to_ms);
  if (query.project) sqlite3_bind_text(s, 3, query.project->c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 4, "[0.5,0.95,0.99]", -1, SQLITE_STATIC);
  LatencyStats stats;
  while (sqlite3_step(s) == SQLITE_ROW) {
    stats.count = sqlite3_column_int64(s, 0);
    stats.values.push_back(sqlite3_column_type(s, 2) == SQLITE_NULL
                               ? std::nullopt
                               : std::optional<double>(sqlite3_column_double(s, 2)));
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return stats;
}

constexpr int64_t kManyJobs = 20'000;
constexpr int64_t kManySpanMs = 20'000'000;  // job i at kT0 + 1000 i

// kManyJobs jobs over 4 projects, written in one statement (the triggers fill job_latency);
// every 10th job has a second row against another base with a larger latency.
void RecordManyJobs(const fs::path& path) {
  ExecSql(path, R"sql(
WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < 19999)
INSERT INTO job_metrics (project, job_id, base_job_id, timestamp, timestamp_ms, latency_ms,
  added, removed, modified, unchanged, moved, resized, retyped, changed)
SELECT 'p' || (n % 4), n + 1, base, 't', 1700000000000 + n * 1000,
       ((n * 7919) % 20011) / 4.0 + (base > 0) * 1000, 0, 0, 0, 0, 0, 0, 0, 0
FROM i, (SELECT 0 AS base UNION ALL SELECT 1) WHERE base = 0 OR n % 10 = 0
)sql");
}

class SqliteLatencyCostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() / "metrics.db";
    auto opened = SqliteWarehouse::Open(path_.string());
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    warehouse_ = std::move(*opened);
    RecordManyJobs(path_);
  }

  // Latency of p50, p95, p99 equals the schema 1 answer; returns the work it took.
  SqliteWarehouse::LatencyWork CheckAgainstVersionOne(const LatencyQuery& query) {
    Result<LatencyStats> stats = warehouse_->Latency(query);
    EXPECT_TRUE(stats.ok()) << stats.status().message();
    const LatencyStats expected = VersionOneAnswer(path_, query);
    if (stats.ok()) {
      EXPECT_EQ(stats->count, expected.count);
      EXPECT_EQ(stats->values, expected.values);
    }
    const SqliteWarehouse::LatencyWork work = warehouse_->LastLatencyWork();
    EXPECT_EQ(work.sorts, 0);
    EXPECT_EQ(work.autoindexes, 0);
    return work;
  }

  TempDir dir_;
  fs::path path_;
  std::unique_ptr<SqliteWarehouse> warehouse_;
};

// Whole window, all projects: walks of 9 999 + 999 + 199 entries of the succeeded part of the
// latency index from the nearer end (a range of the index, so no full-scan steps; each skipped
// entry takes a few VM steps) and one row of job_latency_count for the count; the schema 1
// statement took over 20 VM steps per row and a sort.
TEST_F(SqliteLatencyCostTest, WholeWindowWalksTheLatencyIndexFromTheNearerEnd) {
  const SqliteWarehouse::LatencyWork work =
      CheckAgainstVersionOne(LatencyQuery{std::nullopt, kT0, kT0 + kManySpanMs, {0.5, 0.95, 0.99}});
  EXPECT_EQ(work.rows_read, 0);
  EXPECT_EQ(work.fullscan_steps, 0);
  EXPECT_GE(work.vm_steps, 9'999 + 999 + 199);
  EXPECT_LT(work.vm_steps, 4 * (9'999 + 999 + 199) + 1'000) << work.vm_steps;
}

// One project, part of the window: the walk visits the project's entries of the latency index
// (5 000) and skips those outside the window; the count is the complement's.
TEST_F(SqliteLatencyCostTest, WideWindowOfOneProjectWalksThatProjectsEntriesOnly) {
  const SqliteWarehouse::LatencyWork work = CheckAgainstVersionOne(
      LatencyQuery{"p1", kT0 + 2'000'000, kT0 + kManySpanMs, {0.5, 0.95, 0.99}});
  EXPECT_EQ(work.rows_read, 0);
  EXPECT_EQ(work.fullscan_steps, 0);
  EXPECT_LT(work.vm_steps, 10 * 5'000) << work.vm_steps;
}

// A window of 1% of the time: reading its 200 latencies beats walking 10 000 entries.
TEST_F(SqliteLatencyCostTest, SmallWindowReadsOnlyItsOwnJobs) {
  const SqliteWarehouse::LatencyWork work = CheckAgainstVersionOne(
      LatencyQuery{std::nullopt, kT0 + 5'000'000, kT0 + 5'199'999, {0.5, 0.95, 0.99}});
  EXPECT_EQ(work.rows_read, 200);
  EXPECT_EQ(work.fullscan_steps, 0);
  EXPECT_LT(work.vm_steps, 10 * 200 + 200) << work.vm_steps;
}

TEST_F(SqliteLatencyCostTest, EmptyAndOutOfRangeWindowsCostNothing) {
  const SqliteWarehouse::LatencyWork before =
      CheckAgainstVersionOne(LatencyQuery{std::nullopt, 0, kT0 - 1, {0.5, 0.95, 0.99}});
  EXPECT_LT(before.vm_steps, 200) << before.vm_steps;
  const SqliteWarehouse::LatencyWork other =
      CheckAgainstVersionOne(LatencyQuery{"nobody", 0, kT0 + kManySpanMs, {0.5, 0.95, 0.99}});
  EXPECT_LT(other.vm_steps, 200) << other.vm_steps;
}

// ---- Schema 1 files are migrated on open; job_latency follows job_metrics however it changes.

constexpr const char* kVersionOneSchemaSql = R"sql(
CREATE TABLE job_metrics (
  project TEXT NOT NULL, job_id INTEGER NOT NULL, base_job_id INTEGER NOT NULL,
  timestamp TEXT NOT NULL, timestamp_ms INTEGER NOT NULL, latency_ms REAL NOT NULL,
  added INTEGER NOT NULL, removed INTEGER NOT NULL, modified INTEGER NOT NULL,
  unchanged INTEGER NOT NULL, moved INTEGER NOT NULL, resized INTEGER NOT NULL,
  retyped INTEGER NOT NULL, changed INTEGER NOT NULL,
  recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (project, job_id, base_job_id));
CREATE INDEX job_metrics_by_timestamp ON job_metrics (timestamp_ms);
INSERT INTO job_metrics (project, job_id, base_job_id, timestamp, timestamp_ms, latency_ms,
  added, removed, modified, unchanged, moved, resized, retyped, changed) VALUES
  ('p', 1, 0, 't', 1700000000000, 5, 1, 2, 3, 4, 0, 0, 0, 3),
  ('p', 1, 7, 't', 1700000000000, 3, 1, 2, 3, 4, 0, 0, 0, 3),
  ('p', 2, 1, 't', 1700000000000, 7, 1, 2, 3, 4, 0, 0, 0, 3),
  ('q', 1, 0, 't', 1700000000000, 1, 1, 2, 3, 4, 0, 0, 0, 3);
PRAGMA user_version = 1;
)sql";

// The single integer `sql` returns from the file at `path`.
int64_t QueryInt(const fs::path& path, const char* sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* s = nullptr;
  int64_t value = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
    value = sqlite3_column_int64(s, 0);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return value;
}

using Values = std::vector<std::optional<double>>;

LatencyStats StatsOf(SqliteWarehouse& warehouse, const std::string& project) {
  Result<LatencyStats> stats = warehouse.Latency(LatencyQuery{project, kT0, kT0, {0.0, 1.0}});
  EXPECT_TRUE(stats.ok()) << stats.status().message();
  return stats.ok() ? *stats : LatencyStats{-1, {}};
}

TEST(SqliteWarehouseTest, VersionOneFileIsMigratedAndKeepsItsRows) {
  TempDir dir;
  const fs::path path = dir.path() / "metrics.db";
  ExecSql(path, kVersionOneSchemaSql);
  auto warehouse = SqliteWarehouse::Open(path.string());
  ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
  EXPECT_EQ(QueryInt(path, "PRAGMA user_version"), 4);
  EXPECT_EQ(QueryInt(path, "SELECT COUNT(*) FROM job_metrics"), 4);
  // One row per job in job_results: job 1's lineage row (latency 5), not its ad-hoc one.
  EXPECT_EQ(QueryInt(path, "SELECT COUNT(*) FROM job_results"), 3);
  EXPECT_EQ(QueryInt(path, "SELECT latency_ms FROM job_results WHERE project = 'p' AND job_id = 1"),
            5);
  EXPECT_EQ(QueryInt(path, "SELECT COUNT(*) FROM job_metrics WHERE status IS NULL"), 4);
  EXPECT_EQ(QueryInt(path, "SELECT COUNT(*) FROM job_latency WHERE status = 'succeeded'"), 3);
  LatencyStats p = StatsOf(**warehouse, "p");
  EXPECT_EQ(p.count, 2);
  EXPECT_EQ(p.values, (Values{5.0, 7.0}));  // job 1's lineage row (base none), not the ad-hoc 7
  EXPECT_EQ(QueryInt(path, "SELECT jobs FROM job_latency_count WHERE status = 'succeeded'"), 3);
  Result<bool> again = (*warehouse)->Record(SomeRow());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(*again);
  EXPECT_EQ(StatsOf(**warehouse, "p").count, 3);
  EXPECT_TRUE((*warehouse)->Epoch().ok());
}

TEST(SqliteWarehouseTest, JobLatencyFollowsRowsDeletedOrUpdatedByHand) {
  TempDir dir;
  const fs::path path = dir.path() / "metrics.db";
  auto warehouse = SqliteWarehouse::Open(path.string());
  ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
  // Rows as an older version wrote them: several per job; the greatest base below 12 counts.
  ExecSql(path, R"sql(
INSERT INTO job_metrics (project, job_id, base_job_id, timestamp, timestamp_ms, latency_ms,
  added, removed, modified, unchanged, moved, resized, retyped, changed) VALUES
  ('p', 12, 1, 't', 1700000000000, 5, 0, 0, 0, 0, 0, 0, 0, 0),
  ('p', 12, 2, 't', 1700000000000, 3, 0, 0, 0, 0, 0, 0, 0, 0),
  ('p', 12, 13, 't', 1700000000000, 8, 0, 0, 0, 0, 0, 0, 0, 0)
)sql");
  EXPECT_EQ(StatsOf(**warehouse, "p").values, (Values{3.0, 3.0}));
  ExecSql(path, "DELETE FROM job_metrics WHERE base_job_id = 2");
  EXPECT_EQ(StatsOf(**warehouse, "p").values, (Values{5.0, 5.0}));
  ExecSql(path, "UPDATE job_metrics SET latency_ms = 9");
  EXPECT_EQ(StatsOf(**warehouse, "p").values, (Values{9.0, 9.0}));
  ExecSql(path, "UPDATE job_metrics SET project = 'moved'");
  EXPECT_EQ(StatsOf(**warehouse, "p").count, 0);
  EXPECT_EQ(StatsOf(**warehouse, "moved").values, (Values{9.0, 9.0}));
  ExecSql(path, "DELETE FROM job_metrics");
  EXPECT_EQ(StatsOf(**warehouse, "moved").count, 0);
  EXPECT_EQ(QueryInt(path, "SELECT COUNT(*) FROM job_latency"), 0);
}

// The all-projects count of each status comes from job_latency_count: it follows inserts,
// replacements that change the status, hand edits and deletes.
TEST(SqliteWarehouseTest, StatusCountsFollowEveryChangeOfTheRows) {
  TempDir dir;
  const fs::path path = dir.path() / "metrics.db";
  auto opened = SqliteWarehouse::Open(path.string());
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  SqliteWarehouse& warehouse = **opened;
  auto counts = [&] {
    std::vector<int64_t> out;
    for (LatencyStatusFilter status : {LatencyStatusFilter::kSucceeded,
                                       LatencyStatusFilter::kFailed, LatencyStatusFilter::kAll}) {
      Result<LatencyStats> stats = warehouse.Latency({std::nullopt, 0, kT0 * 2, {0.5}, status});
      EXPECT_TRUE(stats.ok()) << stats.status().message();
      out.push_back(stats.ok() ? stats->count : -1);
    }
    return out;
  };
  MetricsRow row = SomeRow();
  for (int64_t job = 1; job <= 3; ++job) {
    row.job_id = job;
    row.base_job_id = job == 1 ? std::nullopt : std::optional<int64_t>(job - 1);
    row.status = job == 3 ? JobStatus::kFailed : JobStatus::kSucceeded;
    ASSERT_TRUE(warehouse.Record(row).ok());
  }
  EXPECT_EQ(counts(), (std::vector<int64_t>{2, 1, 3}));
  // Job 4 first with no base (failed), then against base 3 (succeeded): the replacement moves it
  // from one count to the other.
  row.job_id = 4;
  row.base_job_id = std::nullopt;
  row.status = JobStatus::kFailed;
  ASSERT_TRUE(warehouse.Record(row).ok());
  EXPECT_EQ(counts(), (std::vector<int64_t>{2, 2, 4}));
  row.base_job_id = 3;
  row.status = JobStatus::kSucceeded;
  ASSERT_TRUE(*warehouse.Record(row));
  EXPECT_EQ(counts(), (std::vector<int64_t>{3, 1, 4}));
  ExecSql(path, "UPDATE job_metrics SET status = 'failed' WHERE job_id = 1");
  EXPECT_EQ(counts(), (std::vector<int64_t>{2, 2, 4}));
  ExecSql(path, "DELETE FROM job_metrics WHERE job_id = 3");
  EXPECT_EQ(counts(), (std::vector<int64_t>{2, 1, 3}));
  ExecSql(path, "DELETE FROM job_metrics");
  EXPECT_EQ(counts(), (std::vector<int64_t>{0, 0, 0}));
}

// ---- job_results: the original service's table, as a view of each succeeded job's lineage row.

using Rows = std::vector<std::vector<std::string>>;

// Every row `sql` returns from the file at `path`, each column as SQLite's text ("NULL" for
// NULL); one row holding the error message when the statement fails.
Rows QueryRows(const fs::path& path, const char* sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* s = nullptr;
  Rows rows;
  int rc = sqlite3_prepare_v2(db, sql, -1, &s, nullptr);
  while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    rows.emplace_back();
    for (int i = 0; i < sqlite3_column_count(s); ++i) {
      const unsigned char* text = sqlite3_column_text(s, i);
      rows.back().push_back(text ? reinterpret_cast<const char*>(text) : "NULL");
    }
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_DONE) rows = {{std::string("error: ") + sqlite3_errmsg(db)}};
  sqlite3_finalize(s);
  sqlite3_close(db);
  return rows;
}

MetricsRow CountedRow(const std::string& project, int64_t job_id, std::optional<int64_t> base,
                      int64_t timestamp_ms, double latency_ms) {
  MetricsRow row;
  row.project = project;
  row.job_id = job_id;
  row.base_job_id = base;
  row.timestamp = FormatRfc3339Utc(timestamp_ms);
  row.timestamp_ms = timestamp_ms;
  row.latency_ms = latency_ms;
  row.added = job_id;
  row.removed = 2;
  row.moved = 1;
  row.changed = job_id;
  row.modified = row.moved + row.changed;
  row.unchanged = 7;
  return row;
}

TEST(SqliteWarehouseTest, JobResultsShowsEachSucceededJobOnceUnderTheOriginalsColumns) {
  TempDir dir;
  const fs::path path = dir.path() / "metrics.db";
  auto opened = SqliteWarehouse::Open(path.string());
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  SqliteWarehouse& warehouse = **opened;
  ASSERT_TRUE(*warehouse.Record(CountedRow("p", 1, std::nullopt, kT0, 10)));
  ASSERT_TRUE(*warehouse.Record(CountedRow("p", 2, 1, kT0 + 1, 20.5)));
  ASSERT_TRUE(*warehouse.Record(CountedRow("p", 3, 1, kT0 + 2, 999)));
  ASSERT_TRUE(*warehouse.Record(CountedRow("p", 3, 2, kT0 + 2, 30)));  // replaces the row above
  MetricsRow failed = CountedRow("p", 4, 3, kT0 + 3, 40);
  failed.status = JobStatus::kFailed;
  ASSERT_TRUE(*warehouse.Record(failed));
  ASSERT_TRUE(*warehouse.Record(CountedRow("q", 1, std::nullopt, kT0 + 4, 50)));
  // An older version's rows of one job (several bases, no status): its lineage row, base 2, only.
  ExecSql(path, R"sql(
INSERT INTO job_metrics (project, job_id, base_job_id, timestamp, timestamp_ms, latency_ms,
  added, removed, modified, unchanged, moved, resized, retyped, changed) VALUES
  ('p', 5, 1, '2023-11-14T22:13:20.005Z', 1700000000005, 60, 9, 9, 9, 9, 0, 0, 0, 9),
  ('p', 5, 2, '2023-11-14T22:13:20.005Z', 1700000000005, 61, 1, 1, 1, 1, 0, 0, 1, 0)
)sql");
  EXPECT_EQ(QueryInt(path, "SELECT COUNT(*) FROM job_metrics"), 7);
  EXPECT_EQ(QueryRows(path,
                      "SELECT timestamp, job_id, latency_ms, total_added, total_removed, "
                      "total_modified, total_unchanged, project FROM job_results "
                      "ORDER BY project, job_id"),
            (Rows{{"2023-11-14T22:13:20Z", "1", "10.0", "1", "2", "2", "7", "p"},
                  {"2023-11-14T22:13:20.001Z", "2", "20.5", "2", "2", "3", "7", "p"},
                  {"2023-11-14T22:13:20.002Z", "3", "30.0", "3", "2", "4", "7", "p"},
                  {"2023-11-14T22:13:20.005Z", "5", "61.0", "1", "1", "1", "1", "p"},
                  {"2023-11-14T22:13:20.004Z", "1", "50.0", "1", "2", "2", "7", "q"}}));
}

// The P99 query of docs/operations.md for SQLite, the original's adapted: the nearest rank (as
// PostgreSQL's percentile_disc), the smallest latency whose cumulative share reaches 0.99.
constexpr const char* kSqliteP99Sql = R"sql(
SELECT MIN(latency_ms) AS p99_latency_ms FROM (
  SELECT latency_ms, CUME_DIST() OVER (ORDER BY latency_ms) AS share FROM job_results
  WHERE julianday(timestamp) >= julianday('now', '-30 days'))
WHERE share >= 0.99
)sql";

TEST(SqliteWarehouseTest, JobResultsAnswersTheDocumentedP99QueryAsLatencyDoes) {
  TempDir dir;
  const fs::path path = dir.path() / "metrics.db";
  auto opened = SqliteWarehouse::Open(path.string());
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  SqliteWarehouse& warehouse = **opened;
  EXPECT_EQ(QueryRows(path, kSqliteP99Sql), (Rows{{"NULL"}}));
  constexpr int64_t kDay = 86'400'000;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  // In the last 30 days: jobs 1-149 of latency = id, job 150 (first against base 148 with 9999,
  // then replaced against base 149 with 150), q's job 1 (0.5). Not counted: a failed job and one
  // of 40 days ago. So 151 jobs; the nearest rank of 0.99 is 150, the 150th latency 149. Counting
  // any excluded row would make it 150.
  for (int64_t job = 1; job <= 149; ++job) {
    ASSERT_TRUE(*warehouse.Record(CountedRow("p", job, std::nullopt, now - kDay, job)));
  }
  ASSERT_TRUE(*warehouse.Record(CountedRow("p", 150, 148, now - kDay, 9999)));
  ASSERT_TRUE(*warehouse.Record(CountedRow("p", 150, 149, now - kDay, 150)));
  MetricsRow failed = CountedRow("p", 151, 150, now - kDay, 20000);
  failed.status = JobStatus::kFailed;
  ASSERT_TRUE(*warehouse.Record(failed));
  ASSERT_TRUE(*warehouse.Record(CountedRow("p", 152, 150, now - 40 * kDay, 30000)));
  ASSERT_TRUE(*warehouse.Record(CountedRow("q", 1, std::nullopt, now - 2 * kDay, 0.5)));

  EXPECT_EQ(QueryRows(path, kSqliteP99Sql), (Rows{{"149.0"}}));
  EXPECT_EQ(
      QueryRows(path,
                "SELECT COUNT(*), MAX(latency_ms), COUNT(DISTINCT project || '/' || job_id) "
                "FROM job_results WHERE julianday(timestamp) >= julianday('now', '-30 days')"),
      (Rows{{"151", "150.0", "151"}}));
  EXPECT_EQ(QueryInt(path, "SELECT COUNT(*) FROM job_results"), 152);
  Result<LatencyStats> latency = warehouse.Latency({std::nullopt, now - 30 * kDay, now, {0.99}});
  ASSERT_TRUE(latency.ok()) << latency.status().message();
  EXPECT_EQ(latency->count, 151);
  EXPECT_EQ(latency->values, (Values{149.0}));
}

// A file of version 3 (job_results is what version 4 adds) gains the view when opened.
TEST(SqliteWarehouseTest, VersionThreeFileGainsJobResultsOnOpen) {
  TempDir dir;
  const fs::path path = dir.path() / "metrics.db";
  {
    auto warehouse = SqliteWarehouse::Open(path.string());
    ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
    ASSERT_TRUE(*(*warehouse)->Record(CountedRow("p", 1, std::nullopt, kT0, 10)));
  }
  ExecSql(path, "DROP VIEW job_results; PRAGMA user_version = 3");
  EXPECT_EQ(QueryRows(path, "SELECT COUNT(*) FROM job_results"),
            (Rows{{"error: no such table: job_results"}}));
  auto warehouse = SqliteWarehouse::Open(path.string());
  ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
  EXPECT_EQ(QueryInt(path, "PRAGMA user_version"), 4);
  EXPECT_EQ(QueryRows(path, "SELECT job_id, latency_ms, total_added FROM job_results"),
            (Rows{{"1", "10.0", "1"}}));
  ASSERT_TRUE(SqliteWarehouse::Open(path.string()).ok());  // and again: nothing to do
  EXPECT_EQ(QueryInt(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'job_results'"), 1);
}

TEST(SqliteWarehouseTest, TableNamedJobResultsIsRefused) {
  TempDir dir;
  const fs::path path = dir.path() / "metrics.db";
  ExecSql(path, "CREATE TABLE job_results (job_id TEXT)");
  auto warehouse = SqliteWarehouse::Open(path.string());
  ASSERT_FALSE(warehouse.ok());
  EXPECT_EQ(warehouse.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(warehouse.status().message(),
            "sqlite warehouse " + path.string() +
                ": the database has a table job_results, the name of BuildTrace's view for the "
                "original service's queries; rename or drop that table");
  EXPECT_EQ(QueryInt(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'job_metrics'"), 0);
}

// ---- Epoch and Probe: a deleted, replaced or corrupt file shows.

std::string EpochOrError(MetricsWarehouse& warehouse) {
  Result<std::string> epoch = warehouse.Epoch();
  return epoch.ok() ? *epoch : "error: " + epoch.status().message();
}

TEST(SqliteWarehouseTest, EpochIsKeptAcrossReopenAndIsARandomId) {
  TempDir dir;
  const fs::path path = dir.path() / "metrics.db";
  std::string first;
  {
    auto warehouse = SqliteWarehouse::Open(path.string());
    ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
    first = EpochOrError(**warehouse);
  }
  EXPECT_EQ(first.size(), 32u) << first;
  EXPECT_EQ(first.find_first_not_of("0123456789abcdef"), std::string::npos) << first;
  auto reopened = SqliteWarehouse::Open(path.string());
  ASSERT_TRUE(reopened.ok()) << reopened.status().message();
  EXPECT_EQ(EpochOrError(**reopened), first);

  TempDir other_dir;
  auto other = SqliteWarehouse::Open((other_dir.path() / "metrics.db").string());
  ASSERT_TRUE(other.ok()) << other.status().message();
  EXPECT_NE(EpochOrError(**other), first);
}

TEST(SqliteWarehouseTest, EpochIsCreatedWhenTheMetaRowIsMissing) {
  TempDir dir;
  const fs::path path = dir.path() / "metrics.db";
  auto warehouse = SqliteWarehouse::Open(path.string());
  ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
  const std::string first = EpochOrError(**warehouse);
  ExecSql(path, "DELETE FROM buildtrace_meta");
  EXPECT_TRUE((*warehouse)->Probe().ok());
  const std::string second = EpochOrError(**warehouse);
  EXPECT_EQ(second.size(), 32u) << second;
  EXPECT_NE(second, first);
  EXPECT_EQ(EpochOrError(**warehouse), second);
}

TEST(SqliteWarehouseTest, DeletedFileIsNoticedReopenedAndHasANewEpoch) {
  TempDir dir;
  const fs::path path = dir.path() / "metrics.db";
  auto warehouse = SqliteWarehouse::Open(path.string());
  ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
  ASSERT_TRUE((*warehouse)->Record(SomeRow()).ok());
  const std::string first = EpochOrError(**warehouse);
  ASSERT_TRUE(fs::remove(path));

  Status probe = (*warehouse)->Probe();
  EXPECT_TRUE(probe.ok()) << probe.message();
  EXPECT_TRUE(fs::exists(path));
  const std::string second = EpochOrError(**warehouse);
  EXPECT_EQ(second.size(), 32u) << second;
  EXPECT_NE(second, first);
  Result<bool> written = (*warehouse)->Record(SomeRow());  // into the new file
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_TRUE(*written);
  auto reopened = SqliteWarehouse::Open(path.string());
  ASSERT_TRUE(reopened.ok()) << reopened.status().message();
  EXPECT_EQ(EpochOrError(**reopened), second);
  EXPECT_FALSE(*(*reopened)->Record(SomeRow()));
}

TEST(SqliteWarehouseTest, FileReplacedByAnotherDatabaseIsReopenedWithItsEpoch) {
  TempDir dir;
  const fs::path path = dir.path() / "metrics.db";
  const fs::path restored = dir.path() / "restored.db";
  std::string restored_epoch;
  {
    auto backup = SqliteWarehouse::Open(restored.string());
    ASSERT_TRUE(backup.ok()) << backup.status().message();
    restored_epoch = EpochOrError(**backup);
  }
  auto warehouse = SqliteWarehouse::Open(path.string());
  ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
  const std::string first = EpochOrError(**warehouse);
  // The old file's -wal (SQLite does not checkpoint a moved file on close) must not be replayed
  // into the file that replaced it.
  ASSERT_TRUE((*warehouse)->Record(SomeRow()).ok());
  fs::rename(restored, path);
  EXPECT_EQ(EpochOrError(**warehouse), restored_epoch);
  EXPECT_NE(restored_epoch, first);
  Status probe = (*warehouse)->Probe();
  EXPECT_TRUE(probe.ok()) << probe.message();
  EXPECT_EQ(QueryInt(path, "SELECT COUNT(*) FROM job_metrics"), 0);
  EXPECT_EQ(QueryInt(path,
                     "SELECT COUNT(*) FROM pragma_integrity_check "
                     "WHERE integrity_check <> 'ok'"),
            0);
}

TEST(SqliteWarehouseTest, ProbeOfACorruptTableIsInternalWhereSelectOnePasses) {
  TempDir dir;
  const fs::path path = dir.path() / "metrics.db";
  ASSERT_TRUE(SqliteWarehouse::Open(path.string()).ok());
  ExecSql(path, "PRAGMA wal_checkpoint(TRUNCATE)");
  const int64_t page_size = QueryInt(path, "PRAGMA page_size");
  const int64_t root = QueryInt(path,
                                "SELECT rootpage FROM sqlite_schema "
                                "WHERE name = 'buildtrace_meta'");
  ASSERT_GT(root, 1);
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp((root - 1) * page_size);
    const std::string garbage(static_cast<size_t>(page_size), '\xA5');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  EXPECT_EQ(QueryInt(path, "SELECT 1"), 1);  // what Probe used to check
  auto warehouse = SqliteWarehouse::Open(path.string());
  ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
  Status probe = (*warehouse)->Probe();
  EXPECT_EQ(probe.code(), StatusCode::kInternal) << probe.message();
  EXPECT_THAT(probe.message(), HasSubstr("sqlite warehouse " + path.string() + ": probe: "));
  EXPECT_THAT(probe.message(), HasSubstr("malformed"));
  EXPECT_EQ((*warehouse)->Epoch().status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace buildtrace
