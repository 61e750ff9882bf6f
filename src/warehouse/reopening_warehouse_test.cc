// ReopeningWarehouse: kUnavailable naming the URL and the open error until the backend opens,
// retries at most once per interval of an injected clock, then forwards. With a factory that
// fails then succeeds, and with real SQLite files that are locked or are not databases.
#include "warehouse/reopening_warehouse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <latch>
#include <thread>
#include <vector>

#include "warehouse/sqlite_warehouse.h"

namespace buildtrace {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

constexpr milliseconds kInterval{1000};
constexpr int64_t kT0 = 1'700'000'000'000;

// A clock that moves only when told.
struct ManualClock {
  std::atomic<int64_t> now_ms{0};
  ReopeningWarehouse::Clock AsClock() {
    return [this] { return std::chrono::steady_clock::time_point(milliseconds(now_ms.load())); };
  }
  void Advance(milliseconds by) { now_ms += by.count(); }
};

class TempFile {
 public:
  TempFile() {
    static std::atomic<int> counter{0};
    dir_ =
        fs::path(::testing::TempDir()) / ("reopening_warehouse_test_" + std::to_string(::getpid()) +
                                          "_" + std::to_string(counter++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~TempFile() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path() const { return (dir_ / "metrics.db").string(); }

 private:
  fs::path dir_;
};

MetricsRow SomeRow() {
  MetricsRow row;
  row.project = "p";
  row.job_id = 1;
  row.timestamp = "2023-11-14T22:13:20.000Z";
  row.timestamp_ms = kT0;
  row.latency_ms = 4;
  return row;
}

ReopeningWarehouse::Opener SqliteOpener(const std::string& path, std::atomic<int>* calls) {
  return [path, calls]() -> Result<std::unique_ptr<MetricsWarehouse>> {
    ++*calls;
    auto opened = SqliteWarehouse::Open(path, milliseconds(50));
    if (!opened.ok()) return opened.status();
    return std::unique_ptr<MetricsWarehouse>(std::move(*opened));
  };
}

// Every method's answer is kUnavailable with the URL and `fragment` in its message.
void ExpectAllUnavailable(ReopeningWarehouse& warehouse, const std::string& fragment) {
  const std::string prefix = "metrics warehouse " + warehouse.Describe() + " is not open: ";
  std::vector<Status> answers = {warehouse.Record(SomeRow()).status(),
                                 warehouse.Latency(LatencyQuery{"p", 0, kT0, {0.5}}).status(),
                                 warehouse.Probe(), warehouse.Epoch().status()};
  for (const Status& answer : answers) {
    EXPECT_EQ(answer.code(), StatusCode::kUnavailable) << answer.message();
    EXPECT_THAT(answer.message(), HasSubstr(prefix));
    EXPECT_THAT(answer.message(), HasSubstr(fragment));
    EXPECT_THAT(answer.message(), HasSubstr("; retrying every 1000 ms"));
  }
}

TEST(ReopeningWarehouseTest, FailingFactoryIsRetriedOncePerIntervalThenForwarded) {
  TempFile file;
  ManualClock clock;
  std::atomic<int> calls{0};
  auto sqlite = SqliteOpener(file.path(), &calls);
  auto open = [&]() -> Result<std::unique_ptr<MetricsWarehouse>> {
    if (calls < 2) return Unavailable("attempt " + std::to_string(++calls) + " failed");
    return sqlite();
  };
  ReopeningWarehouse warehouse("sqlite://" + file.path(), open, clock.AsClock(), kInterval);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_FALSE(warehouse.IsOpen());
  ExpectAllUnavailable(warehouse, "attempt 1 failed");
  clock.Advance(kInterval - milliseconds(1));
  ExpectAllUnavailable(warehouse, "attempt 1 failed");
  EXPECT_EQ(calls.load(), 1);

  clock.Advance(milliseconds(1));
  ExpectAllUnavailable(warehouse, "attempt 2 failed");  // the first of these calls retried
  EXPECT_EQ(calls.load(), 2);

  clock.Advance(kInterval);
  Result<bool> written = warehouse.Record(SomeRow());
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_TRUE(*written);
  EXPECT_EQ(calls.load(), 3);
  EXPECT_TRUE(warehouse.IsOpen());
  EXPECT_TRUE(warehouse.Probe().ok());
  EXPECT_TRUE(warehouse.Epoch().ok());
  Result<LatencyStats> stats = warehouse.Latency(LatencyQuery{"p", 0, kT0, {0.5}});
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->count, 1);
  EXPECT_EQ(warehouse.Describe(), "sqlite://" + file.path());
  clock.Advance(kInterval * 10);
  EXPECT_TRUE(warehouse.Probe().ok());
  EXPECT_EQ(calls.load(), 3);  // never opened again
}

TEST(ReopeningWarehouseTest, FactoryIsNotCalledByConcurrentCallersMoreThanOncePerInterval) {
  ManualClock clock;
  std::atomic<int> calls{0};
  auto open = [&]() -> Result<std::unique_ptr<MetricsWarehouse>> {
    ++calls;
    return Unavailable("down");
  };
  ReopeningWarehouse warehouse("postgresql://db/x", open, clock.AsClock(), kInterval);
  for (int round = 1; round <= 2; ++round) {
    constexpr int kThreads = 8;
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    std::atomic<int> unavailable{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        if (warehouse.Probe().code() == StatusCode::kUnavailable) ++unavailable;
      });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_EQ(unavailable.load(), kThreads);
    EXPECT_EQ(calls.load(), round);  // the constructor's, then one retry after the interval
    clock.Advance(kInterval);
  }
}

TEST(ReopeningWarehouseTest, SqliteFileLockedByAnotherConnectionOpensOnceReleased) {
  TempFile file;
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(file.path().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  ManualClock clock;
  std::atomic<int> calls{0};
  ReopeningWarehouse warehouse("sqlite://" + file.path(), SqliteOpener(file.path(), &calls),
                               clock.AsClock(), kInterval);
  EXPECT_FALSE(warehouse.IsOpen());
  ExpectAllUnavailable(warehouse, "sqlite warehouse " + file.path() + ": ");
  ExpectAllUnavailable(warehouse, "database is locked");

  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  ExpectAllUnavailable(warehouse, "database is locked");  // not retried before the interval
  clock.Advance(kInterval);
  Status probe = warehouse.Probe();
  EXPECT_TRUE(probe.ok()) << probe.message();
  EXPECT_EQ(calls.load(), 2);
  Result<bool> written = warehouse.Record(SomeRow());
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_TRUE(*written);
}

TEST(ReopeningWarehouseTest, FileThatIsNotADatabaseIsUnavailableUntilItIsReplaced) {
  TempFile file;
  {
    std::ofstream out(file.path(), std::ios::binary);
    for (int i = 0; i < 512; ++i) out << "garbage, not a database ";
  }
  ManualClock clock;
  std::atomic<int> calls{0};
  ReopeningWarehouse warehouse("sqlite://" + file.path(), SqliteOpener(file.path(), &calls),
                               clock.AsClock(), kInterval);
  ExpectAllUnavailable(warehouse, "file is not a database");
  ExpectAllUnavailable(warehouse, "not a usable SQLite database");

  fs::remove(file.path());
  clock.Advance(kInterval);
  Result<std::string> epoch = warehouse.Epoch();
  ASSERT_TRUE(epoch.ok()) << epoch.status().message();
  EXPECT_EQ(epoch->size(), 32u);
  EXPECT_EQ(calls.load(), 2);
}

TEST(ReopeningWarehouseTest, NullWarehouseFromTheFactoryIsReportedAsABug) {
  ManualClock clock;
  ReopeningWarehouse warehouse(
      "sqlite:///x", [] { return Result<std::unique_ptr<MetricsWarehouse>>(nullptr); },
      clock.AsClock(), kInterval);
  ExpectAllUnavailable(warehouse, "the opener returned no warehouse; this is a bug");
}

}  // namespace
}  // namespace buildtrace
