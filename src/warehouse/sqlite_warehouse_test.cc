// SqliteWarehouse: the conformance suite on a fresh file per test, plus what only a file-backed
// warehouse has: persistence across reopen and refusing files it cannot use.
#include "warehouse/sqlite_warehouse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "testing/metrics_warehouse_conformance.h"

namespace buildtrace {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

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

INSTANTIATE_TEST_SUITE_P(Sqlite, MetricsWarehouseConformanceTest,
                         ::testing::Values(MetricsWarehouseFactory{
                             "sqlite", MakeTempSqliteWarehouse, ReopenSqliteWarehouse}),
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
  EXPECT_THAT(warehouse.status().message(), HasSubstr("supports up to 2"));
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

}  // namespace
}  // namespace buildtrace
