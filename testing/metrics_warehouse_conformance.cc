// The MetricsWarehouse conformance tests: what every warehouse promises in metrics_warehouse.h,
// checked with exact values. Quantiles follow the nearest-rank definition (PostgreSQL
// percentile_disc): the smallest latency L such that at least ceil(q * n) jobs have latency <= L.
#include "testing/metrics_warehouse_conformance.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <latch>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace buildtrace {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;  // 2023-11-14T22:13:20Z

// RFC 3339 UTC text for `ms`, so that rows are realistic; no warehouse should parse it.
std::string Rfc3339(int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[40];
  const size_t n = std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &utc);
  char millis[8];
  std::snprintf(millis, sizeof(millis), ".%03dZ", static_cast<int>(ms % 1000));
  return std::string(buffer, n) + millis;
}

MetricsRow Row(const std::string& project, int64_t job_id, std::optional<int64_t> base,
               int64_t timestamp_ms, double latency_ms) {
  MetricsRow row;
  row.project = project;
  row.job_id = job_id;
  row.base_job_id = base;
  row.timestamp = Rfc3339(timestamp_ms);
  row.timestamp_ms = timestamp_ms;
  row.latency_ms = latency_ms;
  row.added = 3;
  row.removed = 1;
  row.moved = 1;
  row.resized = 2;
  row.modified = 3;
  row.unchanged = 40;
  return row;
}

LatencyQuery Query(std::optional<std::string> project, int64_t from_ms, int64_t to_ms,
                   std::vector<double> quantiles) {
  return LatencyQuery{std::move(project), from_ms, to_ms, std::move(quantiles)};
}

using Values = std::vector<std::optional<double>>;

// Records `row`, failing the test unless the warehouse answers `expected`.
void ExpectRecord(MetricsWarehouse& warehouse, const MetricsRow& row, bool expected) {
  Result<bool> written = warehouse.Record(row);
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_EQ(*written, expected) << "job " << row.job_id << " of " << row.project << " base "
                                << row.base_job_id.value_or(0);
}

LatencyStats LatencyOrDie(MetricsWarehouse& warehouse, const LatencyQuery& query) {
  Result<LatencyStats> stats = warehouse.Latency(query);
  EXPECT_TRUE(stats.ok()) << stats.status().message();
  return stats.ok() ? *stats : LatencyStats{-1, {}};
}

// Records jobs 1..n of project `project` with latency i, all at kT0 + i, in a scrambled order
// (n must be coprime with 7) so that nothing can rely on insertion order.
void RecordOneToN(MetricsWarehouse& warehouse, const std::string& project, int n) {
  for (int i = 0; i < n; ++i) {
    const int job = (i * 7) % n + 1;
    ExpectRecord(warehouse, Row(project, job, std::nullopt, kT0 + job, job), true);
  }
}

TEST_P(MetricsWarehouseConformanceTest, RecordReturnsTrueThenFalseAndKeepsTheFirstRow) {
  ExpectRecord(*warehouse_, Row("p", 12, 11, kT0, 7.0), true);
  MetricsRow again = Row("p", 12, 11, kT0, 99.0);
  again.added = 1000;
  again.unchanged = 0;
  ExpectRecord(*warehouse_, again, false);

  LatencyStats stats = LatencyOrDie(*warehouse_, Query("p", kT0, kT0, {0.0, 1.0}));
  EXPECT_EQ(stats.count, 1);
  EXPECT_EQ(stats.values, (Values{7.0, 7.0}));  // the first row's latency, not 99
}

// The latency of job 10's one lineage row: the tests give each base its own latency.
std::optional<double> LatencyOfJob(MetricsWarehouse& warehouse, const std::string& project) {
  LatencyQuery query = Query(project, kT0, kT0, {0.0});
  query.status = LatencyStatusFilter::kAll;
  LatencyStats stats = LatencyOrDie(warehouse, query);
  EXPECT_EQ(stats.count, 1);
  return stats.values.empty() ? std::nullopt : stats.values[0];
}

TEST_P(MetricsWarehouseConformanceTest, AGreaterBaseReplacesTheRowAndASmallerOneIsRefused) {
  ExpectRecord(*warehouse_, Row("p", 10, std::nullopt, kT0, 1.0), true);   // insert
  ExpectRecord(*warehouse_, Row("p", 10, std::nullopt, kT0, 9.0), false);  // same base (none)
  EXPECT_EQ(LatencyOfJob(*warehouse_, "p"), 1.0);
  ExpectRecord(*warehouse_, Row("p", 10, 5, kT0, 5.0), true);  // none -> 5
  EXPECT_EQ(LatencyOfJob(*warehouse_, "p"), 5.0);
  ExpectRecord(*warehouse_, Row("p", 10, 7, kT0, 7.0), true);  // 5 -> 7
  EXPECT_EQ(LatencyOfJob(*warehouse_, "p"), 7.0);
  ExpectRecord(*warehouse_, Row("p", 10, 6, kT0, 6.0), false);             // stale: 6 < 7
  ExpectRecord(*warehouse_, Row("p", 10, std::nullopt, kT0, 2.0), false);  // stale: none < 7
  ExpectRecord(*warehouse_, Row("p", 10, 7, kT0, 8.0), false);             // same base
  EXPECT_EQ(LatencyOfJob(*warehouse_, "p"), 7.0);
  ExpectRecord(*warehouse_, Row("q", 10, 5, kT0, 5.0), true);  // same ids, other project
  EXPECT_EQ(LatencyOfJob(*warehouse_, "q"), 5.0);
}

TEST_P(MetricsWarehouseConformanceTest, ARowWhoseBaseIsNotEarlierIsNotALineageRow) {
  ExpectRecord(*warehouse_, Row("p", 10, 10, kT0, 1.0), false);
  ExpectRecord(*warehouse_, Row("p", 10, 11, kT0, 1.0), false);
  EXPECT_EQ(LatencyOrDie(*warehouse_, Query("p", kT0, kT0, {})).count, 0);
  ExpectRecord(*warehouse_, Row("p", 10, 9, kT0, 3.0), true);
  EXPECT_EQ(LatencyOfJob(*warehouse_, "p"), 3.0);
}

TEST_P(MetricsWarehouseConformanceTest, RowsOfOlderVersionsGiveWayToTheLineageRow) {
  if (!GetParam().write_old_row) GTEST_SKIP() << "the factory cannot write old rows";
  const std::string described = warehouse_->Describe();
  GetParam().write_old_row(described, Row("p", 10, 3, kT0, 3.0));
  GetParam().write_old_row(described, Row("p", 10, 4, kT0, 4.0));
  GetParam().write_old_row(described, Row("p", 10, 12, kT0, 12.0));  // ad hoc: a later job
  GetParam().write_old_row(described, Row("p", 10, 10, kT0, 10.0));  // ad hoc: itself
  GetParam().write_old_row(described, Row("p", 11, 20, kT0, 20.0));  // ad hoc only
  // Job 10 counts once, with its greatest base below 10; an old row counts as succeeded; job 11
  // has no lineage row.
  LatencyStats stats = LatencyOrDie(*warehouse_, Query("p", kT0, kT0, {0.0, 1.0}));
  EXPECT_EQ(stats.count, 1);
  EXPECT_EQ(stats.values, (Values{4.0, 4.0}));
  ExpectRecord(*warehouse_, Row("p", 10, 4, kT0, 44.0), false);  // the kept base: settled
  ExpectRecord(*warehouse_, Row("p", 10, 3, kT0, 33.0), false);  // smaller
  ExpectRecord(*warehouse_, Row("p", 10, 5, kT0, 5.0), true);    // greater: replaces
  ExpectRecord(*warehouse_, Row("p", 11, std::nullopt, kT0, 1.0), true);
  stats = LatencyOrDie(*warehouse_, Query("p", kT0, kT0, {0.0, 1.0}));
  EXPECT_EQ(stats.count, 2);
  EXPECT_EQ(stats.values, (Values{1.0, 5.0}));
}

TEST_P(MetricsWarehouseConformanceTest, LatencyCountsSucceededJobsUnlessToldOtherwise) {
  MetricsRow failed = Row("p", 2, 1, kT0, 200.0);
  failed.status = JobStatus::kFailed;
  ExpectRecord(*warehouse_, Row("p", 1, std::nullopt, kT0, 100.0), true);
  ExpectRecord(*warehouse_, failed, true);
  ExpectRecord(*warehouse_, Row("p", 3, 1, kT0, 300.0), true);  // after failed job 2: base 1

  LatencyQuery query = Query("p", kT0, kT0, {0.0, 1.0});
  LatencyStats succeeded = LatencyOrDie(*warehouse_, query);
  EXPECT_EQ(succeeded.count, 2);
  EXPECT_EQ(succeeded.values, (Values{100.0, 300.0}));
  query.status = LatencyStatusFilter::kFailed;
  LatencyStats failures = LatencyOrDie(*warehouse_, query);
  EXPECT_EQ(failures.count, 1);
  EXPECT_EQ(failures.values, (Values{200.0, 200.0}));
  query.status = LatencyStatusFilter::kAll;
  query.quantiles = {0.0, 0.5, 1.0};
  LatencyStats all = LatencyOrDie(*warehouse_, query);
  EXPECT_EQ(all.count, 3);
  EXPECT_EQ(all.values, (Values{100.0, 200.0, 300.0}));
  query.project.reset();  // all projects too
  EXPECT_EQ(LatencyOrDie(*warehouse_, query).values, (Values{100.0, 200.0, 300.0}));
}

TEST_P(MetricsWarehouseConformanceTest, ConcurrentRecordsOfOneJobEndWithTheGreatestBase) {
  constexpr int kThreads = 8;
  std::latch start(kThreads);
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      // Base t + 1 with latency t + 1, so that the kept row shows.
      Result<bool> result = warehouse_->Record(Row("p", 100, t + 1, kT0, t + 1.0));
      if (!result.ok()) ++failed;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failed.load(), 0);
  LatencyStats stats = LatencyOrDie(*warehouse_, Query("p", kT0, kT0, {0.0, 1.0}));
  EXPECT_EQ(stats.count, 1);
  EXPECT_EQ(stats.values, (Values{8.0, 8.0}));
  ExpectRecord(*warehouse_, Row("p", 100, 8, kT0, 8.0), false);
}

// Nearest rank, as a plain sort: the reference the warehouses' indexes and histograms must match.
std::optional<double> NearestRankOf(std::vector<double> latencies, double q) {
  if (latencies.empty()) return std::nullopt;
  std::sort(latencies.begin(), latencies.end());
  const auto n = static_cast<int64_t>(latencies.size());
  const auto rank = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(q * n)), 1, n);
  return latencies[rank - 1];
}

TEST_P(MetricsWarehouseConformanceTest, QuantilesEqualASortOfTheJobsOnRandomData) {
  if (!GetParam().exact_quantiles) GTEST_SKIP() << "the warehouse's quantiles are approximate";
  constexpr int64_t kDay = 86'400'000;
  const int64_t midnight = kT0 - kT0 % kDay;
  std::mt19937_64 random(20240610);
  struct Job {
    std::string project;
    int64_t timestamp_ms;
    double latency_ms;
    JobStatus status;
  };
  std::vector<Job> jobs;
  for (int64_t id = 1; id <= 600; ++id) {
    Job job{"p" + std::to_string(random() % 3),
            midnight + static_cast<int64_t>(random() % (4 * kDay)),
            static_cast<double>(random() % 5000) / 4,  // repeats, and exact quarters
            random() % 5 == 0 ? JobStatus::kFailed : JobStatus::kSucceeded};
    MetricsRow row = Row(job.project, id, std::nullopt, job.timestamp_ms, job.latency_ms);
    row.status = job.status;
    ExpectRecord(*warehouse_, row, true);
    jobs.push_back(job);
  }
  const std::vector<double> quantiles = {0.0, 0.125, 0.25, 0.5, 0.75, 0.875, 1.0};
  const std::vector<std::pair<int64_t, int64_t>> windows = {
      {midnight, midnight + 4 * kDay - 1},             // whole days
      {midnight + kDay / 3, midnight + 3 * kDay + 7},  // partial days at both ends
      {midnight + 5, midnight + kDay / 2},             // within one day
      {midnight - kDay, midnight + 9 * kDay}};
  for (const auto& [from, to] : windows) {
    for (auto filter : {LatencyStatusFilter::kSucceeded, LatencyStatusFilter::kFailed,
                        LatencyStatusFilter::kAll}) {
      for (std::optional<std::string> project :
           {std::optional<std::string>(), std::optional<std::string>("p1")}) {
        std::vector<double> expected_latencies;
        for (const Job& job : jobs) {
          const bool status_ok =
              filter == LatencyStatusFilter::kAll ||
              (filter == LatencyStatusFilter::kFailed) == (job.status == JobStatus::kFailed);
          if (job.timestamp_ms >= from && job.timestamp_ms <= to && status_ok &&
              (!project || *project == job.project)) {
            expected_latencies.push_back(job.latency_ms);
          }
        }
        LatencyQuery query = Query(project, from, to, quantiles);
        query.status = filter;
        LatencyStats stats = LatencyOrDie(*warehouse_, query);
        Values expected;
        for (double q : quantiles) expected.push_back(NearestRankOf(expected_latencies, q));
        EXPECT_EQ(stats.count, static_cast<int64_t>(expected_latencies.size()))
            << from << ".." << to << " " << static_cast<int>(filter) << " "
            << project.value_or("*");
        EXPECT_EQ(stats.values, expected) << from << ".." << to << " " << static_cast<int>(filter)
                                          << " " << project.value_or("*");
      }
    }
  }
}

TEST_P(MetricsWarehouseConformanceTest, NearestRankQuantilesOverTwentyJobs) {
  RecordOneToN(*warehouse_, "p", 20);
  LatencyStats stats = LatencyOrDie(
      *warehouse_, Query("p", kT0, kT0 + 100, {0.5, 0.95, 0.99, 0.0, 1.0, 0.05, 0.25, 0.051}));
  EXPECT_EQ(stats.count, 20);
  EXPECT_EQ(stats.values, (Values{10.0, 19.0, 20.0, 1.0, 20.0, 1.0, 5.0, 2.0}));
}

TEST_P(MetricsWarehouseConformanceTest, NearestRankAtSmallAndLargeCounts) {
  RecordOneToN(*warehouse_, "four", 4);
  RecordOneToN(*warehouse_, "hundred", 100);
  RecordOneToN(*warehouse_, "one", 1);
  EXPECT_EQ(LatencyOrDie(*warehouse_, Query("four", kT0, kT0 + 200, {0.5, 0.75, 0.76})).values,
            (Values{2.0, 3.0, 4.0}));
  EXPECT_EQ(LatencyOrDie(*warehouse_, Query("hundred", kT0, kT0 + 200, {0.99, 0.5, 0.01})).values,
            (Values{99.0, 50.0, 1.0}));
  EXPECT_EQ(LatencyOrDie(*warehouse_, Query("one", kT0, kT0 + 200, {0.0, 0.5, 1.0})).values,
            (Values{1.0, 1.0, 1.0}));
}

TEST_P(MetricsWarehouseConformanceTest, WindowBoundsAreInclusive) {
  const int64_t from = kT0 + 1000;
  const int64_t to = kT0 + 2000;
  ExpectRecord(*warehouse_, Row("p", 1, std::nullopt, from - 1, 1.0), true);
  ExpectRecord(*warehouse_, Row("p", 2, 1, from, 2.0), true);
  ExpectRecord(*warehouse_, Row("p", 3, 2, to, 3.0), true);
  ExpectRecord(*warehouse_, Row("p", 4, 3, to + 1, 4.0), true);

  LatencyStats stats = LatencyOrDie(*warehouse_, Query("p", from, to, {0.0, 1.0}));
  EXPECT_EQ(stats.count, 2);
  EXPECT_EQ(stats.values, (Values{2.0, 3.0}));

  stats = LatencyOrDie(*warehouse_, Query("p", to, to, {0.0}));
  EXPECT_EQ(stats.count, 1);
  EXPECT_EQ(stats.values, (Values{3.0}));
}

TEST_P(MetricsWarehouseConformanceTest, ProjectFilterOrAllProjects) {
  ExpectRecord(*warehouse_, Row("a", 1, std::nullopt, kT0, 1.0), true);
  ExpectRecord(*warehouse_, Row("a", 2, 1, kT0, 2.0), true);
  ExpectRecord(*warehouse_, Row("b", 1, std::nullopt, kT0, 10.0), true);  // same id, other project
  ExpectRecord(*warehouse_, Row("b", 2, 1, kT0, 20.0), true);
  ExpectRecord(*warehouse_, Row("b", 3, 2, kT0, 30.0), true);

  LatencyStats a = LatencyOrDie(*warehouse_, Query("a", kT0, kT0, {0.0, 1.0}));
  EXPECT_EQ(a.count, 2);
  EXPECT_EQ(a.values, (Values{1.0, 2.0}));
  LatencyStats b = LatencyOrDie(*warehouse_, Query("b", kT0, kT0, {0.0, 1.0}));
  EXPECT_EQ(b.count, 3);
  EXPECT_EQ(b.values, (Values{10.0, 30.0}));
  LatencyStats all = LatencyOrDie(*warehouse_, Query(std::nullopt, kT0, kT0, {0.0, 0.5, 1.0}));
  EXPECT_EQ(all.count, 5);
  EXPECT_EQ(all.values, (Values{1.0, 10.0, 30.0}));
}

TEST_P(MetricsWarehouseConformanceTest, EmptyWindowHasNoValues) {
  LatencyStats empty = LatencyOrDie(*warehouse_, Query(std::nullopt, kT0, kT0 + 10, {0.5, 1.0}));
  EXPECT_EQ(empty.count, 0);
  EXPECT_EQ(empty.values, (Values{std::nullopt, std::nullopt}));

  ExpectRecord(*warehouse_, Row("p", 1, std::nullopt, kT0 + 20, 1.0), true);
  LatencyStats outside = LatencyOrDie(*warehouse_, Query("p", kT0, kT0 + 10, {0.0, 0.5, 1.0}));
  EXPECT_EQ(outside.count, 0);
  EXPECT_EQ(outside.values, (Values{std::nullopt, std::nullopt, std::nullopt}));
  LatencyStats other = LatencyOrDie(*warehouse_, Query("other", kT0, kT0 + 20, {0.5}));
  EXPECT_EQ(other.count, 0);
  EXPECT_EQ(other.values, (Values{std::nullopt}));
}

TEST_P(MetricsWarehouseConformanceTest, NoQuantilesStillCounts) {
  ExpectRecord(*warehouse_, Row("p", 1, std::nullopt, kT0, 1.0), true);
  ExpectRecord(*warehouse_, Row("p", 2, 1, kT0, 2.0), true);
  LatencyStats stats = LatencyOrDie(*warehouse_, Query("p", kT0, kT0, {}));
  EXPECT_EQ(stats.count, 2);
  EXPECT_TRUE(stats.values.empty());
}

TEST_P(MetricsWarehouseConformanceTest, FractionalLatenciesComeBackExactly) {
  ExpectRecord(*warehouse_, Row("p", 1, std::nullopt, kT0, 0.5), true);
  ExpectRecord(*warehouse_, Row("p", 2, 1, kT0, 1.25), true);
  ExpectRecord(*warehouse_, Row("p", 3, 2, kT0, 0.1), true);
  ExpectRecord(*warehouse_, Row("p", 4, 3, kT0, 1234.567), true);

  LatencyStats stats = LatencyOrDie(*warehouse_, Query("p", kT0, kT0, {0.0, 0.5, 0.75, 1.0}));
  EXPECT_EQ(stats.count, 4);
  EXPECT_EQ(stats.values, (Values{0.1, 0.5, 1.25, 1234.567}));  // exact, not approximately
}

TEST_P(MetricsWarehouseConformanceTest, ConcurrentRecordOfOneRowWritesItOnce) {
  constexpr int kThreads = 8;
  std::latch start(kThreads);
  std::atomic<int> written{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      Result<bool> result = warehouse_->Record(Row("p", 42, 41, kT0, 3.0));
      if (!result.ok()) ++failed;
      if (result.ok() && *result) ++written;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(written.load(), 1);
  EXPECT_EQ(LatencyOrDie(*warehouse_, Query("p", kT0, kT0, {})).count, 1);
}

TEST_P(MetricsWarehouseConformanceTest, ConcurrentRecordOfDifferentRowsWritesAll) {
  constexpr int kThreads = 8;
  constexpr int kRowsPerThread = 25;
  std::latch start(kThreads);
  std::atomic<int> written{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kRowsPerThread; ++i) {
        const int64_t job = t * kRowsPerThread + i + 1;
        Result<bool> result = warehouse_->Record(Row("p", job, std::nullopt, kT0 + job, 1.0));
        if (result.ok() && *result) ++written;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(written.load(), kThreads * kRowsPerThread);
  LatencyStats stats = LatencyOrDie(*warehouse_, Query("p", kT0, kT0 + 1000, {1.0}));
  EXPECT_EQ(stats.count, kThreads * kRowsPerThread);
  EXPECT_EQ(stats.values, (Values{1.0}));
}

TEST_P(MetricsWarehouseConformanceTest, ProbeSucceedsAndDescribeIsAUrl) {
  Status probe = warehouse_->Probe();
  EXPECT_TRUE(probe.ok()) << probe.message();
  EXPECT_NE(warehouse_->Describe().find("://"), std::string::npos) << warehouse_->Describe();
}

TEST_P(MetricsWarehouseConformanceTest, EpochIsStableWhileRowsAreKept) {
  Result<std::string> first = warehouse_->Epoch();
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_FALSE(first->empty());
  ExpectRecord(*warehouse_, Row("p", 1, std::nullopt, kT0, 1.0), true);
  ASSERT_TRUE(warehouse_->Probe().ok());
  Result<std::string> second = warehouse_->Epoch();
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(*second, *first);
}

TEST_P(MetricsWarehouseConformanceTest, EpochIsTheSameForASecondWarehouseOnTheSameDatabase) {
  if (!GetParam().reopen) GTEST_SKIP() << "the factory cannot reopen a database";
  ExpectRecord(*warehouse_, Row("p", 1, std::nullopt, kT0, 1.0), true);
  Result<std::string> first = warehouse_->Epoch();
  ASSERT_TRUE(first.ok()) << first.status().message();
  std::unique_ptr<MetricsWarehouse> again = GetParam().reopen(warehouse_->Describe());
  ASSERT_NE(again, nullptr);
  Result<std::string> second = again->Epoch();
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(*second, *first);
  ExpectRecord(*again, Row("p", 1, std::nullopt, kT0, 1.0), false);  // the same rows
}

TEST_P(MetricsWarehouseConformanceTest, DeleteProjectRemovesThatProjectsRowsOnly) {
  // "a" and projects whose names start with it, or that it starts with.
  for (const std::string project : {"a", "ab", "a-b", "b"}) {
    ExpectRecord(*warehouse_, Row(project, 1, std::nullopt, kT0, 1.0), true);
    ExpectRecord(*warehouse_, Row(project, 2, 1, kT0, 2.0), true);
  }
  ExpectRecord(*warehouse_, Row("a", 3, 2, kT0, 3.0), true);
  Result<std::string> epoch = warehouse_->Epoch();
  ASSERT_TRUE(epoch.ok()) << epoch.status().message();

  Result<int64_t> deleted = warehouse_->DeleteProject("a");
  ASSERT_TRUE(deleted.ok()) << deleted.status().message();
  EXPECT_EQ(*deleted, 3);
  EXPECT_EQ(LatencyOrDie(*warehouse_, Query("a", kT0, kT0, {})).count, 0);
  for (const std::string project : {"ab", "a-b", "b"}) {
    LatencyStats kept = LatencyOrDie(*warehouse_, Query(project, kT0, kT0, {0.0, 1.0}));
    EXPECT_EQ(kept.count, 2) << project;
    EXPECT_EQ(kept.values, (Values{1.0, 2.0})) << project;
  }
  EXPECT_EQ(LatencyOrDie(*warehouse_, Query(std::nullopt, kT0, kT0, {})).count, 6);
  // Deleting rows is not losing them: the epoch stays.
  Result<std::string> epoch_after = warehouse_->Epoch();
  ASSERT_TRUE(epoch_after.ok()) << epoch_after.status().message();
  EXPECT_EQ(*epoch_after, *epoch);

  // Again, and a project that never had rows: nothing to delete, Ok.
  deleted = warehouse_->DeleteProject("a");
  ASSERT_TRUE(deleted.ok()) << deleted.status().message();
  EXPECT_EQ(*deleted, 0);
  deleted = warehouse_->DeleteProject("never");
  ASSERT_TRUE(deleted.ok()) << deleted.status().message();
  EXPECT_EQ(*deleted, 0);

  // The project starts over: job 1 is a new row, and counts alone.
  ExpectRecord(*warehouse_, Row("a", 1, std::nullopt, kT0, 9.0), true);
  LatencyStats again = LatencyOrDie(*warehouse_, Query("a", kT0, kT0, {0.0}));
  EXPECT_EQ(again.count, 1);
  EXPECT_EQ(again.values, (Values{9.0}));
}

TEST_P(MetricsWarehouseConformanceTest, DeleteProjectRefusesAnInvalidName) {
  ExpectRecord(*warehouse_, Row("a", 1, std::nullopt, kT0, 1.0), true);
  const std::vector<std::string> invalid = {"", "a'; DROP TABLE x; --", "../a", "-a",
                                            std::string(129, 'a')};
  for (const std::string& project : invalid) {
    Result<int64_t> deleted = warehouse_->DeleteProject(project);
    ASSERT_FALSE(deleted.ok()) << project;
    EXPECT_EQ(deleted.status().code(), StatusCode::kInvalidArgument) << project;
  }
  EXPECT_EQ(LatencyOrDie(*warehouse_, Query("a", kT0, kT0, {})).count, 1);
}

}  // namespace

std::string OldMetricsRowInsert(const std::string& table, const MetricsRow& row) {
  return "INSERT INTO " + table +
         " (project, job_id, base_job_id, \"timestamp\", timestamp_ms, "
         "latency_ms, added, removed, modified, unchanged, moved, resized, retyped, changed) "
         "VALUES ('" +
         row.project + "', " + std::to_string(row.job_id) + ", " +
         std::to_string(row.base_job_id.value_or(0)) + ", '" + row.timestamp + "', " +
         std::to_string(row.timestamp_ms) + ", " + std::to_string(row.latency_ms) +
         ", 0, 0, 0, 0, 0, 0, 0, 0)";
}

std::string MetricsWarehouseFactoryName(
    const ::testing::TestParamInfo<MetricsWarehouseFactory>& info) {
  return info.param.name;
}

void PrintTo(const MetricsWarehouseFactory& factory, std::ostream* os) { *os << factory.name; }

void MetricsWarehouseConformanceTest::SetUp() {
  warehouse_ = GetParam().make();
  ASSERT_NE(warehouse_, nullptr) << "factory " << GetParam().name << " made no warehouse";
}

}  // namespace buildtrace
