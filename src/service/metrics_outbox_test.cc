// Tests of MetricsOutbox on the real FileStateStore and SqliteWarehouse in a fresh temporary
// folder, with the fault-injecting wrappers of testing/ in between: entries kept durably, written
// once, deleted, retried with backoff, resumed by a new outbox over the same store, corrupt entries
// left alone, and two outboxes draining one store at once.
#include "service/metrics_outbox.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "testing/temp_backends.h"

namespace buildtrace {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using StoreMethod = FaultyStateStore::Method;
using WarehouseMethod = FaultyMetricsWarehouse::Method;
using Names = std::vector<std::string>;
using std::chrono::milliseconds;

constexpr milliseconds kLongWait{60'000};  // a bound that only a broken outbox reaches

MetricsRow Row(int64_t job_id, std::optional<int64_t> base = std::nullopt,
               std::string project = "p") {
  MetricsRow row;
  row.project = std::move(project);
  row.job_id = job_id;
  row.base_job_id = base;
  row.timestamp = "2026-11-28T10:00:00.250Z";
  row.timestamp_ms = 1'795'860'000'250;
  row.latency_ms = 1234.5 + static_cast<double>(job_id);
  row.added = 3;
  row.removed = 1;
  row.moved = 2;
  row.resized = 1;
  row.retyped = 0;
  row.changed = 4;
  row.modified = 7;
  row.unchanged = 1000;
  return row;
}

TEST(OutboxEntryTest, NameIsTheRowsKey) {
  EXPECT_EQ(OutboxEntryName(Row(2, 1)), "outbox/p/0000000000000000002-0000000000000000001.json");
  EXPECT_EQ(OutboxEntryName(Row(1, std::nullopt, "web.app-2")),
            "outbox/web.app-2/0000000000000000001-none.json");
}

MetricsRow FailedRow(int64_t job_id, std::optional<int64_t> base = std::nullopt) {
  MetricsRow row = Row(job_id, base);
  row.status = JobStatus::kFailed;
  return row;
}

TEST(OutboxEntryTest, EncodeThenDecodeGivesTheRowBack) {
  for (const MetricsRow& row :
       {Row(2, 1), Row(1), Row(9'223'372'036'854'775'807, 5), FailedRow(3, 2)}) {
    const std::string bytes = EncodeOutboxEntry(row, 1'795'860'001'000);
    Result<OutboxEntry> entry = DecodeOutboxEntry(OutboxEntryName(row), bytes);
    ASSERT_TRUE(entry.ok()) << entry.status().message() << "\n" << bytes;
    EXPECT_EQ(entry->row, row);
    EXPECT_EQ(entry->queued_at_ms, 1'795'860'001'000);
  }
  EXPECT_EQ(EncodeOutboxEntry(Row(2, 1), 7),
            R"({"queued_at_ms":7,"row":{"project":"p","job_id":2,"base_job_id":1,)"
            R"("timestamp":"2026-11-28T10:00:00.250Z","timestamp_ms":1795860000250,)"
            R"("latency_ms":1236.5,"added":3,"removed":1,"modified":7,"unchanged":1000,)"
            R"("moved":2,"resized":1,"retyped":0,"changed":4,"status":"succeeded"}})"
            "\n");
  EXPECT_THAT(EncodeOutboxEntry(FailedRow(2, 1), 7),
              HasSubstr(R"("changed":4,"status":"failed"}})"));
}

// Entries written before statuses were kept have no "status": their rows are succeeded jobs'.
TEST(OutboxEntryTest, AnEntryWithoutAStatusIsASucceededJobsRow) {
  std::string bytes = EncodeOutboxEntry(FailedRow(2, 1), 7);
  const std::string status = R"(,"status":"failed")";
  ASSERT_NE(bytes.find(status), std::string::npos);
  bytes.erase(bytes.find(status), status.size());
  Result<OutboxEntry> entry = DecodeOutboxEntry(OutboxEntryName(Row(2, 1)), bytes);
  ASSERT_TRUE(entry.ok()) << entry.status().message();
  EXPECT_EQ(entry->row, Row(2, 1));
  EXPECT_EQ(entry->row.status, JobStatus::kSucceeded);
}

TEST(OutboxEntryTest, DecodeRejectsAnythingThatIsNotExactlyARow) {
  const std::string name = OutboxEntryName(Row(2, 1));
  const std::string good = EncodeOutboxEntry(Row(2, 1), 7);
  auto with = [&](std::string_view from, std::string_view to) {
    std::string bytes = good;
    const size_t at = bytes.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return bytes.replace(at, from.size(), to);
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not JSON"},
      {"{", "not JSON"},
      {"[]", "expected exactly"},
      {R"({"queued_at_ms":7})", "expected exactly"},
      {with(R"("queued_at_ms":7)", R"("queued_at_ms":"7")"), "expected exactly"},
      {with(R"("project":"p")", R"("project":"../p")"), "invalid project name"},
      {with(R"("project":"p")", R"("project":1)"), "project is not a string"},
      {with(R"("job_id":2)", R"("job_id":0)"), "base_job_id must be at least 1"},
      {with(R"("job_id":2)", R"("job_id":2.5)"), "job_id is not an integer"},
      {with(R"("base_job_id":1)", R"("base_job_id":"1")"), "neither an integer nor null"},
      {with(R"("latency_ms":1236.5)", R"("latency_ms":-1)"), "latency_ms is not a number >= 0"},
      {with(R"("added":3)", R"("added":-3)"), "added is not an integer >= 0"},
      {with(R"("modified":7)", R"("modified":8)"), "modified is not moved + resized"},
      {with(R"("timestamp_ms":1795860000250)", R"("timestamp_ms":1795860000251)"),
       "name different instants"},
      {with(R"("changed":4)", R"("changed":4,"extra":1)"), "unknown field extra"},
      {with(R"("added":3,)", R"("added":3,"added":3,)"), "exactly the fields"},
      {with(R"(,"changed":4)", ""), "exactly the fields"},
      {with(R"("status":"succeeded")", R"("status":1)"), "status is not a string"},
      {with(R"("status":"succeeded")", R"("status":"Failed")"),
       "status is neither \"succeeded\" nor \"failed\""},
      {with(R"("status":"succeeded")", R"("status":"succeeded","status":"failed")"),
       "exactly the fields"},
      {with(R"("job_id":2)", R"("job_id":3)"), "it holds the row of outbox/p/0000000000000000003"},
  };
  for (const auto& [bytes, expected] : cases) {
    Result<OutboxEntry> entry = DecodeOutboxEntry(name, bytes);
    ASSERT_FALSE(entry.ok()) << bytes;
    EXPECT_EQ(entry.status().code(), StatusCode::kInvalidArgument) << bytes;
    EXPECT_THAT(entry.status().message(),
                HasSubstr("outbox entry " + name + " is not a metrics row: "))
        << bytes;
    EXPECT_THAT(entry.status().message(), HasSubstr(expected)) << bytes;
  }
}

class MetricsOutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(backends_.ok());
    outbox_ = MakeOutbox();
  }
  void TearDown() override { outbox_.reset(); }

  std::unique_ptr<MetricsOutbox> MakeOutbox(milliseconds initial_backoff = milliseconds(1)) {
    OutboxOptions options;
    options.initial_backoff = initial_backoff;
    options.max_backoff = milliseconds(20);
    options.rescan_interval = kLongWait;
    return std::make_unique<MetricsOutbox>(*store_, *warehouse_, options,
                                           [this] { return now_ms_.load(); });
  }

  // The rows in the warehouse, by asking it to record each again: false means it is there.
  bool InWarehouse(const MetricsRow& row) {
    Result<bool> inserted = sqlite_->Record(row);
    EXPECT_TRUE(inserted.ok()) << inserted.status().message();
    return inserted.ok() && !*inserted;
  }
  int64_t WarehouseJobs() {
    Result<LatencyStats> stats = sqlite_->Latency({std::nullopt, 0, INT64_MAX, {0.5}});
    EXPECT_TRUE(stats.ok()) << stats.status().message();
    return stats.ok() ? stats->count : -1;
  }
  Names Entries() {
    Result<Names> names = file_store_->List("outbox/");
    EXPECT_TRUE(names.ok()) << names.status().message();
    return names.ok() ? *names : Names{};
  }

  std::atomic<int64_t> now_ms_{1'795'860'100'000};
  TempBackends backends_{"bt-outbox"};
  FileStateStore* file_store_ = backends_.file_store();
  SqliteWarehouse* sqlite_ = backends_.sqlite();
  FaultyStateStore* store_ = backends_.store();
  FaultyMetricsWarehouse* warehouse_ = backends_.warehouse();
  std::unique_ptr<MetricsOutbox> outbox_;
};

TEST_F(MetricsOutboxTest, AddKeepsTheRowDurablyAndAPassWritesItOnceAndDeletesIt) {
  ASSERT_TRUE(outbox_->Add(Row(2, 1)).ok());
  EXPECT_THAT(Entries(), ElementsAre("outbox/p/0000000000000000002-0000000000000000001.json"));
  Result<std::string> kept = file_store_->Read(Entries().front());
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, EncodeOutboxEntry(Row(2, 1), now_ms_));
  EXPECT_TRUE(outbox_->IsPending(Row(2, 1)));
  EXPECT_FALSE(outbox_->IsPending(Row(2)));
  OutboxStats before = outbox_->Stats();
  EXPECT_EQ(before.pending, 1);
  EXPECT_EQ(before.oldest_queued_ms, now_ms_.load());

  const Status pass = outbox_->DrainOnce();
  EXPECT_TRUE(pass.ok()) << pass.message();
  EXPECT_THAT(Entries(), IsEmpty());
  EXPECT_EQ(warehouse_->Calls(WarehouseMethod::kRecord), 1);
  EXPECT_EQ(WarehouseJobs(), 1);
  EXPECT_TRUE(InWarehouse(Row(2, 1)));
  const OutboxStats after = outbox_->Stats();
  EXPECT_EQ(after.pending, 0);
  EXPECT_EQ(after.oldest_queued_ms, std::nullopt);
  EXPECT_EQ(after.recorded_total, 1);
  EXPECT_EQ(after.failed_attempts_total, 0);
  EXPECT_EQ(after.passes_total, 1);
  EXPECT_FALSE(outbox_->IsPending(Row(2, 1)));
}

// A failed job's row waits in the outbox and reaches the warehouse as a failed job's row: it
// counts among the failed jobs, not the succeeded ones.
TEST_F(MetricsOutboxTest, AFailedJobsRowIsRecordedFromTheOutboxAsFailed) {
  ASSERT_TRUE(outbox_->Add(FailedRow(2, 1)).ok());
  ASSERT_TRUE(outbox_->Add(Row(3, 2)).ok());
  const Status pass = outbox_->DrainOnce();
  EXPECT_TRUE(pass.ok()) << pass.message();
  EXPECT_THAT(Entries(), IsEmpty());
  auto jobs = [&](LatencyStatusFilter status) {
    Result<LatencyStats> stats = sqlite_->Latency({std::nullopt, 0, INT64_MAX, {1.0}, status});
    EXPECT_TRUE(stats.ok()) << stats.status().message();
    return stats.ok() ? std::make_pair(stats->count, stats->values.front())
                      : std::make_pair(int64_t{-1}, std::optional<double>());
  };
  EXPECT_EQ(jobs(LatencyStatusFilter::kFailed), std::make_pair(int64_t{1}, std::optional(1236.5)));
  EXPECT_EQ(jobs(LatencyStatusFilter::kSucceeded),
            std::make_pair(int64_t{1}, std::optional(1237.5)));
}

TEST_F(MetricsOutboxTest, AddingTheSameRowTwiceKeepsOneEntryWithTheFirstTime) {
  ASSERT_TRUE(outbox_->Add(Row(2, 1)).ok());
  const int64_t first = now_ms_;
  now_ms_ += 5000;
  ASSERT_TRUE(outbox_->Add(Row(2, 1)).ok());
  EXPECT_EQ(Entries().size(), 1u);
  EXPECT_EQ(*file_store_->Read(Entries().front()), EncodeOutboxEntry(Row(2, 1), first));
  EXPECT_EQ(outbox_->Stats().oldest_queued_ms, first);
}

TEST_F(MetricsOutboxTest, AddFailsWithTheStoresErrorAndKeepsNothing) {
  store_->Fail(StoreMethod::kCreateIfAbsent, Unavailable("disk full"));
  const Status added = outbox_->Add(Row(2, 1));
  EXPECT_EQ(added.code(), StatusCode::kUnavailable);
  EXPECT_EQ(added.message(), "disk full");
  EXPECT_THAT(Entries(), IsEmpty());
  EXPECT_EQ(outbox_->Stats().pending, 0);
  EXPECT_FALSE(outbox_->IsPending(Row(2, 1)));
}

TEST_F(MetricsOutboxTest, AWarehouseThatRefusesStopsThePassAndKeepsEveryRow) {
  for (int64_t id : {3, 1, 2}) {
    ASSERT_TRUE(outbox_->Add(Row(id)).ok());
    now_ms_ += 100;
  }
  warehouse_->Fail(WarehouseMethod::kRecord, Unavailable("warehouse down"));
  const Status pass = outbox_->DrainOnce();
  EXPECT_EQ(pass.code(), StatusCode::kUnavailable);
  EXPECT_EQ(pass.message(), "warehouse down");
  EXPECT_EQ(warehouse_->Calls(WarehouseMethod::kRecord), 1) << "one refusal ends the pass";
  EXPECT_EQ(Entries().size(), 3u);
  OutboxStats stats = outbox_->Stats();
  EXPECT_EQ(stats.pending, 3);
  EXPECT_EQ(stats.oldest_queued_ms, 1'795'860'100'000);
  EXPECT_EQ(stats.failed_attempts_total, 1);
  EXPECT_EQ(stats.last_error, "warehouse down");

  // The warehouse takes one row, then refuses again: the oldest (job 3) went first.
  warehouse_->FailFrom(WarehouseMethod::kRecord, 1, Unavailable("warehouse down again"));
  EXPECT_EQ(outbox_->DrainOnce().message(), "warehouse down again");
  EXPECT_TRUE(InWarehouse(Row(3)));
  EXPECT_EQ(WarehouseJobs(), 1);
  EXPECT_THAT(Entries(), ElementsAre("outbox/p/0000000000000000001-none.json",
                                     "outbox/p/0000000000000000002-none.json"));
  EXPECT_EQ(outbox_->Stats().pending, 2);
  EXPECT_EQ(outbox_->Stats().oldest_queued_ms, 1'795'860'100'100);

  warehouse_->Heal();
  EXPECT_TRUE(outbox_->DrainOnce().ok());
  EXPECT_THAT(Entries(), IsEmpty());
  EXPECT_EQ(WarehouseJobs(), 3);
  stats = outbox_->Stats();
  EXPECT_EQ(stats.pending, 0);
  EXPECT_EQ(stats.recorded_total, 3);
  EXPECT_EQ(stats.failed_attempts_total, 2);
  EXPECT_EQ(stats.last_error, "");
}

TEST_F(MetricsOutboxTest, ARowAlreadyInTheWarehouseIsNotWrittenAgainAndItsEntryGoes) {
  ASSERT_TRUE(sqlite_->Record(Row(2, 1)).ok());
  ASSERT_TRUE(outbox_->Add(Row(2, 1)).ok());
  EXPECT_TRUE(outbox_->DrainOnce().ok());
  EXPECT_THAT(Entries(), IsEmpty());
  EXPECT_EQ(WarehouseJobs(), 1);
  EXPECT_EQ(outbox_->Stats().recorded_total, 1);
}

TEST_F(MetricsOutboxTest, AnEntryThatCannotBeDeletedIsRetriedWithoutADuplicate) {
  ASSERT_TRUE(outbox_->Add(Row(2, 1)).ok());
  store_->Fail(StoreMethod::kDelete, Unavailable("store read-only"));
  const Status pass = outbox_->DrainOnce();
  EXPECT_EQ(pass.message(), "store read-only");
  EXPECT_TRUE(InWarehouse(Row(2, 1)));
  EXPECT_EQ(Entries().size(), 1u);
  EXPECT_EQ(outbox_->Stats().pending, 1);

  store_->Heal();
  EXPECT_TRUE(outbox_->DrainOnce().ok());
  EXPECT_THAT(Entries(), IsEmpty());
  EXPECT_EQ(WarehouseJobs(), 1);
  EXPECT_EQ(warehouse_->Calls(WarehouseMethod::kRecord), 2);
}

TEST_F(MetricsOutboxTest, AFailingStoreListingIsThePassesError) {
  ASSERT_TRUE(outbox_->Add(Row(2, 1)).ok());
  store_->Fail(StoreMethod::kList, Unavailable("store unreachable"));
  const Status pass = outbox_->DrainOnce();
  EXPECT_EQ(pass.code(), StatusCode::kUnavailable);
  EXPECT_EQ(pass.message(), "store unreachable");
  EXPECT_EQ(warehouse_->Calls(WarehouseMethod::kRecord), 0);
  EXPECT_EQ(outbox_->Stats().pending, 1);
  EXPECT_EQ(outbox_->Stats().last_error, "store unreachable");
}

TEST_F(MetricsOutboxTest, ANewOutboxOverTheSameStoreResumesWhatAnEarlierOneLeft) {
  warehouse_->Fail(WarehouseMethod::kRecord, Unavailable("warehouse down"));
  ASSERT_TRUE(outbox_->Add(Row(1)).ok());
  ASSERT_TRUE(outbox_->Add(Row(2, 1)).ok());
  EXPECT_FALSE(outbox_->DrainOnce().ok());
  outbox_.reset();  // the process ends

  warehouse_->Heal();
  outbox_ = MakeOutbox();
  EXPECT_EQ(outbox_->Stats().pending, 0) << "nothing known before the first pass";
  EXPECT_TRUE(outbox_->DrainOnce().ok());
  EXPECT_TRUE(InWarehouse(Row(1)));
  EXPECT_TRUE(InWarehouse(Row(2, 1)));
  EXPECT_EQ(WarehouseJobs(), 2);
  EXPECT_THAT(Entries(), IsEmpty());
  EXPECT_EQ(outbox_->Stats().recorded_total, 2);
}

TEST_F(MetricsOutboxTest, ACorruptEntryIsCountedAndLeftAloneAndTheOthersAreWritten) {
  ASSERT_TRUE(
      file_store_->CreateIfAbsent("outbox/p/0000000000000000001-none.json", "garbage").ok());
  ASSERT_TRUE(outbox_->Add(Row(2, 1)).ok());
  EXPECT_TRUE(outbox_->DrainOnce().ok());
  EXPECT_TRUE(InWarehouse(Row(2, 1)));
  EXPECT_EQ(WarehouseJobs(), 1);
  EXPECT_THAT(Entries(), ElementsAre("outbox/p/0000000000000000001-none.json"));
  OutboxStats stats = outbox_->Stats();
  EXPECT_EQ(stats.corrupt, 1);
  EXPECT_EQ(stats.pending, 0);
  // An operator removes it; the next pass forgets it.
  ASSERT_TRUE(file_store_->Delete("outbox/p/0000000000000000001-none.json").ok());
  EXPECT_TRUE(outbox_->DrainOnce().ok());
  EXPECT_EQ(outbox_->Stats().corrupt, 0);
}

TEST_F(MetricsOutboxTest, TheWorkerRetriesWithBackoffUntilTheWarehouseTakesTheRow) {
  warehouse_->Fail(WarehouseMethod::kRecord, Unavailable("warehouse down"));
  ASSERT_TRUE(outbox_->Add(Row(2, 1)).ok());
  outbox_->Start();
  ASSERT_TRUE(outbox_->WaitFor([](const OutboxStats& s) { return s.failed_attempts_total >= 3; },
                               kLongWait));
  EXPECT_EQ(outbox_->Stats().pending, 1);
  EXPECT_EQ(WarehouseJobs(), 0);
  warehouse_->Heal();
  ASSERT_TRUE(outbox_->WaitUntilEmpty(kLongWait));
  EXPECT_TRUE(InWarehouse(Row(2, 1)));
  EXPECT_EQ(WarehouseJobs(), 1);
  EXPECT_THAT(Entries(), IsEmpty());
  outbox_->Stop();
  EXPECT_EQ(outbox_->Stats().recorded_total, 1);
}

TEST_F(MetricsOutboxTest, TheWorkerResumesAtStartWhatIsInTheStore) {
  ASSERT_TRUE(
      file_store_->CreateIfAbsent(OutboxEntryName(Row(5)), EncodeOutboxEntry(Row(5), 1)).ok());
  outbox_->Start();
  ASSERT_TRUE(
      outbox_->WaitFor([](const OutboxStats& s) { return s.recorded_total == 1; }, kLongWait));
  EXPECT_TRUE(InWarehouse(Row(5)));
  EXPECT_THAT(Entries(), IsEmpty());
}

TEST_F(MetricsOutboxTest, TheWorkerComesBackForARowAddedWhileItIdles) {
  outbox_ = MakeOutbox(milliseconds(5));
  outbox_->Start();
  ASSERT_TRUE(
      outbox_->WaitFor([](const OutboxStats& s) { return s.passes_total >= 1; }, kLongWait));
  ASSERT_TRUE(outbox_->Add(Row(7)).ok());  // the idle wait is kLongWait: Add must shorten it
  ASSERT_TRUE(
      outbox_->WaitFor([](const OutboxStats& s) { return s.recorded_total == 1; }, kLongWait));
  EXPECT_TRUE(InWarehouse(Row(7)));
}

TEST_F(MetricsOutboxTest, StopLeavesWaitingRowsInTheStore) {
  warehouse_->Fail(WarehouseMethod::kRecord, Unavailable("warehouse down"));
  ASSERT_TRUE(outbox_->Add(Row(2, 1)).ok());
  outbox_->Start();
  ASSERT_TRUE(outbox_->WaitFor([](const OutboxStats& s) { return s.failed_attempts_total >= 1; },
                               kLongWait));
  outbox_->Stop();
  outbox_->Stop();  // idempotent
  EXPECT_EQ(Entries().size(), 1u);
  EXPECT_EQ(WarehouseJobs(), 0);
}

TEST_F(MetricsOutboxTest, ConcurrentOutboxesOverOneStoreWriteEachRowOnce) {
  warehouse_->Fail(WarehouseMethod::kRecord, Unavailable("warehouse down"));
  for (int64_t id = 1; id <= 40; ++id) ASSERT_TRUE(outbox_->Add(Row(id)).ok());
  warehouse_->Heal();
  std::unique_ptr<MetricsOutbox> other = MakeOutbox();
  std::thread second([&] { EXPECT_TRUE(other->DrainOnce().ok()); });
  EXPECT_TRUE(outbox_->DrainOnce().ok());
  second.join();
  EXPECT_EQ(WarehouseJobs(), 40);
  EXPECT_THAT(Entries(), IsEmpty());
  // A row both outboxes got to counts for both (one wrote it, the other found it written).
  EXPECT_GE(outbox_->Stats().recorded_total + other->Stats().recorded_total, 40);
}

}  // namespace
}  // namespace buildtrace
