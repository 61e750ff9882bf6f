// Tests of ReportService on the real FileStateStore and SqliteWarehouse, each in a fresh temporary
// folder: base selection (lineage and explicit), the counts of a hand-made pair, the metrics row
// written once per (project, job, base), and what a failing store or warehouse does to a report.
#include "service/report_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/canonical_hash.h"
#include "core/diff.h"
#include "core/gzip_compress.h"
#include "core/json_writer.h"
#include "core/stored_job.h"
#include "service/job_repository.h"
#include "testing/gzip.h"
#include "testing/temp_backends.h"

namespace buildtrace {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using StoreMethod = FaultyStateStore::Method;
using WarehouseMethod = FaultyMetricsWarehouse::Method;

constexpr int64_t kTenOClockMs = 1'795'860'000'000;  // 2026-11-28T10:00:00Z

// A job of project "p" at 2026-11-28T10:00:00Z taking 100 ms, unless told otherwise.
struct JobSpec {
  int64_t id = 1;
  std::string state = R"({"A":"a"})";
  std::string status = "succeeded";
  std::string project = "p";
  double latency_ms = 100;
  std::string timestamp = "2026-11-28T10:00:00Z";
  std::string metadata = "{}";
};

std::string JobJson(const JobSpec& s) {
  std::string latency;
  AppendJsonNumber(latency, s.latency_ms);
  return R"({"job_id":)" + std::to_string(s.id) + R"(,"project":")" + s.project +
         R"(","timestamp":")" + s.timestamp + R"(","latency_ms":)" + latency + R"(,"status":")" +
         s.status + R"(","metadata":)" + s.metadata + R"(,"state":)" + s.state + "}";
}

// A rendered answer's text, to compare.
Result<std::string> Text(Result<SharedText> answer) {
  if (!answer.ok()) return answer.status();
  return std::string(**answer);
}

class ReportServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(backends_.ok());
    jobs_ = std::make_unique<JobRepository>(*store_, ParseLimits{});
    // Not started: the tests drive its passes themselves.
    outbox_ = std::make_unique<MetricsOutbox>(*store_, *warehouse_, OutboxOptions{},
                                              [] { return kTenOClockMs; });
    reports_ = std::make_unique<ReportService>(*jobs_, *warehouse_, outbox_.get());
  }
  void TearDown() override {
    reports_.reset();
    outbox_.reset();
    jobs_.reset();
  }

  std::string DbPath() const { return backends_.db_path(); }

  void Post(const JobSpec& spec) {
    simdjson::padded_string body(JobJson(spec));
    auto parsed = ParseJobDocument(body, ParseLimits{});
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    auto stored = jobs_->Store((*parsed)->jobs().front());
    ASSERT_TRUE(stored.ok()) << stored.status().message();
  }

  Result<Report> Build(int64_t job_id, std::optional<int64_t> base = std::nullopt,
                       size_t limit = 1000, std::string project = "p") {
    ReportRequest request;
    request.project = std::move(project);
    request.job_id = job_id;
    request.base_job_id = base;
    request.limit = limit;
    return reports_->Build(request);
  }

  // Jobs 1 (succeeded), 2 (failed) and 4 (succeeded); 3 never posted.
  void PostSucceededFailedGapSucceeded() {
    Post({.id = 1, .state = R"({"A":"a","B":"b"})"});
    Post({.id = 2, .state = R"({"A":"zzz"})", .status = "failed"});
    Post({.id = 4, .state = R"({"A":"a","C":"c"})"});
  }

  TempBackends backends_{"bt-report-service"};
  FileStateStore* file_store_ = backends_.file_store();
  SqliteWarehouse* sqlite_ = backends_.sqlite();
  FaultyStateStore* store_ = backends_.store();
  FaultyMetricsWarehouse* warehouse_ = backends_.warehouse();
  std::unique_ptr<JobRepository> jobs_;
  std::unique_ptr<MetricsOutbox> outbox_;
  std::unique_ptr<ReportService> reports_;
};

TEST_F(ReportServiceTest, FirstJobHasNoBaseAndEverythingIsAdded) {
  Post({.id = 1, .state = R"({"C":"c","A":"a","B":"b"})"});
  Result<Report> report = Build(1);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->base, (BaseSelection{std::nullopt, false, {}, 0}));
  EXPECT_EQ(report->object_count, 3);
  EXPECT_EQ(report->diff.counts, (DiffCounts{.added = 3}));
  EXPECT_THAT(report->diff.added, ElementsAre("A", "B", "C"));
  EXPECT_THAT(report->diff.removed, IsEmpty());
  EXPECT_THAT(report->diff.modified, IsEmpty());
  EXPECT_EQ(Summarize(*report),
            "Job 1 of project p with no base: 3 added, 0 removed, 0 modified (0 moved, 0 resized, "
            "0 retyped, 0 changed), 0 unchanged. No earlier job succeeded, so every object counts "
            "as added.");
}

TEST_F(ReportServiceTest, PreviousSucceededJobIsTheBase) {
  Post({.id = 1, .state = R"({"A":"a","B":"b"})"});
  Post({.id = 2, .state = R"({"A":"a","B":"b2"})"});
  Result<Report> report = Build(2);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->base, (BaseSelection{1, false, {}, 0}));
  EXPECT_EQ(report->diff.counts, (DiffCounts{.unchanged = 1, .changed = 1}));
  EXPECT_EQ(Summarize(*report),
            "Job 2 of project p against job 1: 0 added, 0 removed, 1 modified (0 moved, "
            "0 resized, 0 retyped, 1 changed), 1 unchanged.");
}

TEST_F(ReportServiceTest, LineageSkipsFailedJobsAndGaps) {
  PostSucceededFailedGapSucceeded();
  Post({.id = 3, .state = R"({"X":"x"})", .project = "other"});  // another project's job 3
  Result<Report> report = Build(4);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->base, (BaseSelection{1, false, {2}, 1}));
  // Against job 1, not the failed job 2: A is unchanged, B removed, C added.
  EXPECT_EQ(report->diff.counts, (DiffCounts{.added = 1, .removed = 1, .unchanged = 1}));
  EXPECT_THAT(report->diff.added, ElementsAre("C"));
  EXPECT_THAT(report->diff.removed, ElementsAre("B"));
  EXPECT_EQ(Summarize(*report),
            "Job 4 of project p against job 1: 1 added, 1 removed, 0 modified (0 moved, "
            "0 resized, 0 retyped, 0 changed), 1 unchanged. Job 1 is the latest earlier job that "
            "succeeded; failed job 2 was skipped; 1 job ID in between was never posted.");
}

TEST_F(ReportServiceTest, OnlyFailedEarlierJobsMeansNoBase) {
  Post({.id = 1, .state = R"({"A":"a"})", .status = "failed"});
  Post({.id = 2, .state = R"({"A":"a"})", .status = "failed"});
  Post({.id = 3, .state = R"({"A":"a","B":"b"})"});
  Result<Report> report = Build(3);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->base, (BaseSelection{std::nullopt, false, {2, 1}, 0}));
  EXPECT_EQ(report->diff.counts, (DiffCounts{.added = 2}));
  EXPECT_EQ(Summarize(*report),
            "Job 3 of project p with no base: 2 added, 0 removed, 0 modified (0 moved, 0 resized, "
            "0 retyped, 0 changed), 0 unchanged. No earlier job succeeded, so every object counts "
            "as added; failed jobs 2, 1 were skipped.");
}

TEST_F(ReportServiceTest, ExplicitBaseIsUsedEvenIfItFailed) {
  PostSucceededFailedGapSucceeded();
  Result<Report> report = Build(4, 2);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->base, (BaseSelection{2, true, {}, 0}));
  // Against job 2: A "zzz" -> "a" (no geometry: changed), C added.
  EXPECT_EQ(report->diff.counts, (DiffCounts{.added = 1, .changed = 1}));
  ASSERT_EQ(report->diff.modified.size(), 1u);
  EXPECT_EQ(report->diff.modified[0], (ModifiedObject{"A", ChangeKind::kChanged, "zzz", "a"}));
  EXPECT_EQ(Summarize(*report),
            "Job 4 of project p against job 2: 1 added, 0 removed, 1 modified (0 moved, "
            "0 resized, 0 retyped, 1 changed), 0 unchanged. Job 2 was named as the base by the "
            "request.");
}

TEST_F(ReportServiceTest, MissingExplicitBaseIsNotFound) {
  PostSucceededFailedGapSucceeded();
  Result<Report> report = Build(4, 3);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(report.status().message(), HasSubstr("base job 3 of project p does not exist"));
  EXPECT_EQ(warehouse_->Calls(WarehouseMethod::kRecord), 0);
}

TEST_F(ReportServiceTest, MissingJobIsNotFound) {
  Post({.id = 1});
  Result<Report> report = Build(2);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(report.status().message(), HasSubstr("job 2 of project p does not exist"));
  Result<Report> other_project = Build(1, std::nullopt, 1000, "q");
  ASSERT_FALSE(other_project.ok());
  EXPECT_EQ(other_project.status().code(), StatusCode::kNotFound);
}

TEST_F(ReportServiceTest, CountsMovedResizedRetypedAndChangedExactly) {
  Post({.id = 1, .state = R"({"A":"door_0_0_5_5","B":"door_0_0_5_5","C":"window_1_1_2_2",
                     "D":"wall_0_0_1_1","E":"x","G":"gone_1_1_1_1",
                     "S":{"type":"door","x":1,"y":2,"w":3,"h":4}})"});
  Post({.id = 2, .state = R"({"S":{"h":4,"w":3,"y":2,"x":7,"type":"door"},"F":"new_1_1_1_1",
                     "E":"y","D":"wall_0_0_1_1","C":"door_1_1_2_2","B":"door_0_0_6_5",
                     "A":"door_1_0_5_5"})"});
  Result<Report> report = Build(2);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->diff.counts, (DiffCounts{.added = 1,
                                             .removed = 1,
                                             .unchanged = 1,
                                             .moved = 2,
                                             .resized = 1,
                                             .retyped = 1,
                                             .changed = 1}));
  EXPECT_THAT(report->diff.added, ElementsAre("F"));
  EXPECT_THAT(report->diff.removed, ElementsAre("G"));
  const ModifiedObject moved_s{"S",
                               ChangeKind::kMoved,
                               R"({"h":4,"type":"door","w":3,"x":1,"y":2})",
                               R"({"h":4,"type":"door","w":3,"x":7,"y":2})",
                               true,
                               true};
  EXPECT_THAT(
      report->diff.modified,
      ElementsAre(ModifiedObject{"A", ChangeKind::kMoved, "door_0_0_5_5", "door_1_0_5_5"}, moved_s,
                  ModifiedObject{"B", ChangeKind::kResized, "door_0_0_5_5", "door_0_0_6_5"},
                  ModifiedObject{"C", ChangeKind::kRetyped, "window_1_1_2_2", "door_1_1_2_2"},
                  ModifiedObject{"E", ChangeKind::kChanged, "x", "y"}));
  EXPECT_FALSE(report->diff.truncated);
}

// States of 2^17 objects and more are indexed and walked by two threads, each its half (and the
// test is in the ThreadSanitizer run by its name). 140 000 objects, of which every tenth moved,
// resized or removed, 14 000 added, and the last 2 000 in reverse order: the report's counts and
// lists are exact, and the same as one thread's.
TEST_F(ReportServiceTest, ConcurrentHalvesOfALargeDiffGiveTheOneThreadAnswer) {
  constexpr int kObjects = 140'000;
  std::string before = "{", after = "{";
  std::vector<std::string> after_entries;
  for (int i = 0; i < kObjects; ++i) {
    const std::string id = "\"o" + std::to_string(i) + "\":";
    const std::string x = std::to_string(i % 1000);
    before += (i ? "," : "") + id + "\"door_" + x + "_0_5_5\"";
    switch (i % 10) {
      case 0:
        after_entries.push_back(id + "\"door_" + x + "_1_5_5\"");  // moved
        break;
      case 1:
        after_entries.push_back("\"n" + std::to_string(i) + "\":\"pipe_0_0_1_1\"");  // added
        break;  // and o<i> removed
      case 2:
        after_entries.push_back(id + "\"door_" + x + "_0_6_5\"");  // resized
        break;
      default:
        after_entries.push_back(id + "\"door_" + x + "_0_5_5\"");
    }
  }
  std::reverse(after_entries.end() - 2000, after_entries.end());
  for (size_t i = 0; i < after_entries.size(); ++i) after += (i ? "," : "") + after_entries[i];
  Post({.id = 1, .state = before + "}"});
  Post({.id = 2, .state = after + "}"});

  Result<Report> report = Build(2);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->diff.counts, (DiffCounts{.added = 14'000,
                                             .removed = 14'000,
                                             .unchanged = 98'000,
                                             .moved = 14'000,
                                             .resized = 14'000}));
  auto first = jobs_->Load("p", 1);
  auto second = jobs_->Load("p", 2);
  ASSERT_TRUE(first.ok() && second.ok());
  Result<DiffResult> one =
      DiffStates((*first)->jobs()[0].state, (*second)->jobs()[0].state, 1000, /*threads=*/1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(report->diff.counts, one->counts);
  EXPECT_EQ(report->diff.added, one->added);
  EXPECT_EQ(report->diff.removed, one->removed);
  EXPECT_EQ(report->diff.modified, one->modified);
  EXPECT_EQ(report->diff.added.front(), "n1");
  EXPECT_EQ(report->diff.removed.front(), "o1");
  EXPECT_TRUE(report->diff.truncated);
}

TEST_F(ReportServiceTest, LimitTruncatesListsButNotCounts) {
  Post({.id = 1, .state = R"({"C":"c","A":"a","B":"b"})"});
  Result<Report> report = Build(1, std::nullopt, 1);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->diff.counts.added, 3);
  EXPECT_THAT(report->diff.added, ElementsAre("A"));
  EXPECT_TRUE(report->diff.truncated);
  EXPECT_EQ(report->limit, 1u);
}

TEST_F(ReportServiceTest, WritesTheMetricsRowOfTheReport) {
  Post({.id = 1,
        .state = R"({"A":"door_0_0_5_5","B":"b"})",
        .latency_ms = 250.5,
        .timestamp = "2026-11-28T12:00:00+02:00"});
  Post({.id = 3, .state = R"({"A":"door_1_0_5_5","C":"c"})", .latency_ms = 900});
  ASSERT_TRUE(Build(1).ok());
  ASSERT_TRUE(Build(3).ok());
  MetricsRow first;
  first.project = "p";
  first.job_id = 1;
  first.timestamp = "2026-11-28T10:00:00Z";  // in UTC, whatever the job's offset
  first.timestamp_ms = kTenOClockMs;
  first.latency_ms = 250.5;
  first.added = 2;
  MetricsRow third;
  third.project = "p";
  third.job_id = 3;
  third.base_job_id = 1;
  third.timestamp = "2026-11-28T10:00:00Z";
  third.timestamp_ms = kTenOClockMs;
  third.latency_ms = 900;
  third.added = 1;
  third.removed = 1;
  third.modified = 1;
  third.moved = 1;
  EXPECT_THAT(ReadSqliteRows(DbPath()), ElementsAre(first, third));
}

TEST_F(ReportServiceTest, SameReportTwiceRecordsOneRow) {
  Post({.id = 1});
  Post({.id = 2});
  Result<Report> first = Build(2);
  Result<Report> second = Build(2);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_TRUE(second.ok()) << second.status().message();
  ASSERT_TRUE(first->warehouse && second->warehouse);
  EXPECT_EQ(first->warehouse->status, "recorded");
  EXPECT_TRUE(first->warehouse->inserted);
  EXPECT_EQ(first->warehouse->message, "metrics row written to " + sqlite_->Describe());
  EXPECT_EQ(second->warehouse->status, "recorded");
  EXPECT_FALSE(second->warehouse->inserted);
  EXPECT_THAT(second->warehouse->message, HasSubstr("already in " + sqlite_->Describe()));
  EXPECT_EQ(ReadSqliteRows(DbPath()).size(), 1u);

  // A comparison with an explicit base is no lineage row: the warehouse is not asked.
  const int64_t records = warehouse_->Calls(WarehouseMethod::kRecord);
  Result<Report> explicit_base = Build(2, 2);
  ASSERT_TRUE(explicit_base.ok()) << explicit_base.status().message();
  EXPECT_FALSE(explicit_base->warehouse.has_value());
  EXPECT_EQ(warehouse_->Calls(WarehouseMethod::kRecord), records);
  EXPECT_EQ(ReadSqliteRows(DbPath()).size(), 1u);
  Result<LatencyStats> stats = sqlite_->Latency({std::nullopt, kTenOClockMs, kTenOClockMs, {1.0}});
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->count, 1);
}

TEST_F(ReportServiceTest, ARowTheWarehouseRefusesGoesToTheOutboxAndTheReportSaysPending) {
  Post({.id = 1, .state = R"({"A":"a","B":"b"})"});
  warehouse_->Fail(WarehouseMethod::kRecord, Unavailable("metrics database is locked"));
  Result<Report> report = Build(1);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->diff.counts.added, 2);
  ASSERT_TRUE(report->warehouse);
  EXPECT_EQ(report->warehouse->status, "pending");
  EXPECT_FALSE(report->warehouse->inserted);
  EXPECT_EQ(report->warehouse->message,
            "the warehouse did not take the row (metrics database is locked); it is kept in the "
            "outbox and retried in the background");
  EXPECT_THAT(ReadSqliteRows(DbPath()), IsEmpty());
  Result<std::string> entry = file_store_->Read("outbox/p/0000000000000000001-none.json");
  ASSERT_TRUE(entry.ok()) << entry.status().message();
  EXPECT_EQ(*entry, EncodeOutboxEntry(MetricsRowFor(*report), kTenOClockMs));

  // Asked again while the row waits: pending, without asking the warehouse again.
  Result<Report> again = Build(1);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->warehouse->status, "pending");
  EXPECT_THAT(again->warehouse->message, HasSubstr("waits in the outbox"));
  EXPECT_EQ(warehouse_->Calls(WarehouseMethod::kRecord), 1);

  // The warehouse is back: the outbox writes the row, the next report finds it there.
  warehouse_->Heal();
  ASSERT_TRUE(outbox_->DrainOnce().ok());
  ASSERT_EQ(ReadSqliteRows(DbPath()).size(), 1u);
  EXPECT_EQ(ReadSqliteRows(DbPath()).front(), MetricsRowFor(*report));
  Result<Report> recorded = Build(1);
  ASSERT_TRUE(recorded.ok()) << recorded.status().message();
  EXPECT_EQ(recorded->warehouse->status, "recorded");
  EXPECT_FALSE(recorded->warehouse->inserted);
  EXPECT_EQ(ReadSqliteRows(DbPath()).size(), 1u);
}

TEST_F(ReportServiceTest, ARowNeitherTheWarehouseNorTheOutboxTakesIsFailed) {
  Post({.id = 1});
  warehouse_->Fail(WarehouseMethod::kRecord, Unavailable("warehouse down"));
  store_->Fail(StoreMethod::kCreateIfAbsent, Unavailable("store full"));
  Result<Report> report = Build(1);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->warehouse->status, "failed");
  EXPECT_EQ(report->warehouse->message,
            "warehouse down; keeping it in the outbox failed too (store full); it is recorded "
            "when the report is asked for again");
  store_->Heal();
  warehouse_->Heal();
  Result<Report> again = Build(1);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->warehouse->status, "recorded");
  EXPECT_TRUE(again->warehouse->inserted);
  EXPECT_EQ(ReadSqliteRows(DbPath()).size(), 1u);
}

TEST_F(ReportServiceTest, WithoutAnOutboxARefusedRowIsFailed) {
  Post({.id = 1});
  ReportService without_outbox(*jobs_, *warehouse_);
  warehouse_->Fail(WarehouseMethod::kRecord, Unavailable("warehouse down"));
  ReportRequest request;
  request.project = "p";
  request.job_id = 1;
  Result<Report> report = without_outbox.Build(request);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->warehouse->status, "failed");
  EXPECT_EQ(report->warehouse->message, "warehouse down");
}

TEST_F(ReportServiceTest, FailingStoreReadGivesNoReport) {
  Post({.id = 1});
  Post({.id = 2});
  store_->Fail(StoreMethod::kRead, Unavailable("store unreachable"));
  Result<Report> report = Build(2);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(report.status().message(), "store unreachable");
  EXPECT_EQ(warehouse_->Calls(WarehouseMethod::kRecord), 0);
}

TEST_F(ReportServiceTest, FailingReadOfTheBaseGivesNoReport) {
  PostSucceededFailedGapSucceeded();
  // Lineage takes the headers of the posted jobs from memory; the diff reads job 4, then its
  // base, job 1: fail there.
  const int64_t reads_before = store_->Calls(StoreMethod::kRead);
  store_->FailFrom(StoreMethod::kRead, 1, Unavailable("store unreachable"));
  Result<Report> report = Build(4);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(store_->Calls(StoreMethod::kRead) - reads_before, 2);

  store_->Heal();
  store_->FailFrom(StoreMethod::kRead, 1, Unavailable("store unreachable"));
  Result<Report> explicit_base = Build(4, 1);
  ASSERT_FALSE(explicit_base.ok());
  EXPECT_EQ(explicit_base.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(warehouse_->Calls(WarehouseMethod::kRecord), 0);
  EXPECT_THAT(ReadSqliteRows(DbPath()), IsEmpty());
}

TEST_F(ReportServiceTest, FailingListGivesNoReport) {
  Post({.id = 1});
  Post({.id = 2});
  store_->Fail(StoreMethod::kList, Unavailable("cannot list the store"));
  Result<Report> report = Build(2);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(report.status().message(), "cannot list the store");
  EXPECT_EQ(warehouse_->Calls(WarehouseMethod::kRecord), 0);
}

TEST_F(ReportServiceTest, CorruptEarlierJobIsInternal) {
  // Job 1 came before the job index (an earlier version stored it): lineage lists the jobs.
  ASSERT_TRUE(file_store_->CreateIfAbsent(JobObjectName("p", 1), "not json").ok());
  Post({.id = 2});
  Result<Report> report = Build(2);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kInternal);
  EXPECT_EQ(report.status().reason(), "corrupt_object");
  // What is wrong with the stored job and what to do, not the request parser's advice to send
  // JSON (nobody sent these bytes).
  EXPECT_EQ(report.status().message(),
            "stored job p/1 (jobs/p/0000000000000000001.json in " + file_store_->Describe() +
                ") is corrupt: the document is not valid JSON (Problem while parsing an atom "
                "starting with the letter 'n'); restore it from a "
                "backup");
}

// A sealed base with a repeated object ID (written outside BuildTrace, the digest recomputed):
// the report's loads leave the ID check to the diff, which finds it; the answer still names the
// corrupt object, as any corruption, and counts it.
TEST_F(ReportServiceTest, ARepeatedIdInASealedBaseIsACorruptObjectNamed) {
  Post({.id = 1, .state = R"({"A":"a","B":"b"})"});
  Post({.id = 2, .state = R"({"A":"a"})"});
  Result<std::string> stored = file_store_->Read(JobObjectName("p", 1));
  ASSERT_TRUE(stored.ok());
  ASSERT_TRUE(UnsealStoredJob(*stored, "job 1").ok());
  stored->replace(stored->find("\"B\""), 3, "\"A\"");
  SealStoredJob(*stored, ContentDigest(*stored));
  ASSERT_TRUE(file_store_->Delete(JobObjectName("p", 1)).ok());
  ASSERT_TRUE(file_store_->CreateIfAbsent(JobObjectName("p", 1), *stored).ok());

  Result<Report> report = Build(2);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kInternal);
  EXPECT_EQ(report.status().reason(), "corrupt_object");
  EXPECT_THAT(report.status().message(),
              HasSubstr("stored job p/1 (jobs/p/0000000000000000001.json in "));
  EXPECT_THAT(report.status().message(), HasSubstr("this object ID appears twice"));
  EXPECT_EQ(jobs_->corrupt_objects(), 1u);
}

TEST(MetricsRowForTest, CopiesTheHeaderAndTheCounts) {
  Report report;
  report.job.project = "web";
  report.job.job_id = 9;
  report.job.timestamp = "2026-11-28T11:00:00.250+01:00";
  report.job.timestamp_ms = kTenOClockMs + 250;
  report.job.latency_ms = 12.5;
  report.base = BaseSelection{7, false, {8}, 0};
  report.diff.counts = {1, 2, 3, 4, 5, 6, 7};
  const MetricsRow row = MetricsRowFor(report);
  EXPECT_EQ(row, (MetricsRow{"web", 9, 7, "2026-11-28T10:00:00.250Z", kTenOClockMs + 250, 12.5, 1,
                             2, 22, 3, 4, 5, 6, 7}));
}

}  // namespace
}  // namespace buildtrace

namespace buildtrace {
namespace {

ReportRequest RequestFor(int64_t job_id, std::optional<int64_t> base = std::nullopt) {
  ReportRequest request;
  request.project = "p";
  request.job_id = job_id;
  request.base_job_id = base;
  return request;
}

TEST(KeptReportNameTest, NamesEveryPartOfTheLineage) {
  EXPECT_EQ(KeptReportName("p", 12, BaseSelection{10, false, {11}, 0}),
            "reports/p/0000000000000000012/0000000000000000010-l1-1000-v2.json");
  EXPECT_EQ(KeptReportName("p", 1, BaseSelection{}),
            "reports/p/0000000000000000001/none-l0-1000-v2.json");
  EXPECT_TRUE(IsValidObjectName(KeptReportName("p", 1, BaseSelection{})));
}

TEST_F(ReportServiceTest, RenderKeepsTheReportAndServesItAgainWithoutTheStates) {
  Post({.id = 1, .state = R"({"A":"a","B":"b"})"});
  Post({.id = 2, .state = R"({"A":"a","B":"b2"})"});
  Result<std::string> first = Text(reports_->Render(RequestFor(2), ReportFormat::kJson));
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_THAT(*first, HasSubstr(R"("warehouse":{"status":"recorded","inserted":true,)"));
  const std::string name = "reports/p/0000000000000000002/0000000000000000001-l0-1000-v2.json";
  Result<std::string> kept = file_store_->Read(name);
  ASSERT_TRUE(kept.ok()) << kept.status().message();
  EXPECT_THAT(*kept, Not(HasSubstr("warehouse")));

  const int reads_before = store_->Calls(StoreMethod::kRead);
  Result<std::string> second = Text(reports_->Render(RequestFor(2), ReportFormat::kJson));
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(store_->Calls(StoreMethod::kRead), reads_before + 1);  // only the kept report
  EXPECT_THAT(*second, HasSubstr(R"("warehouse":{"status":"recorded","inserted":false,)"));
  EXPECT_EQ(first->substr(0, first->find("\"warehouse\"")),
            second->substr(0, second->find("\"warehouse\"")));
  EXPECT_EQ(ReadSqliteRows(DbPath()).size(), 1u);

  Result<std::string> text = Text(reports_->Render(RequestFor(2), ReportFormat::kText));
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(*text, HasSubstr("Summary: 0 added, 0 removed, 1 modified"));
  EXPECT_EQ(store_->Calls(StoreMethod::kRead), reads_before + 2);  // the same kept comparison
  EXPECT_EQ(*file_store_->List("reports/"), std::vector<std::string>{name});
}

// Holds the report service's keeper in its hook (SetKeepLater) until opened; shared with the
// hook, and opened when the test's handle goes, so that a failing test never leaves the keeper
// waiting.
class KeeperGate {
 public:
  static std::shared_ptr<KeeperGate> Make() { return std::make_shared<KeeperGate>(); }
  static std::function<void()> Hook(std::shared_ptr<KeeperGate> gate) {
    return [gate] {
      std::unique_lock lock(gate->mutex_);
      ++gate->entered_;
      gate->changed_.notify_all();
      gate->changed_.wait(lock, [&] { return gate->open_; });
    };
  }
  // False if the keeper has not come `times` times within 30 s (it kept before answering, say).
  bool AwaitEntered(int times) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(30), [&] { return entered_ >= times; });
  }
  void Open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int entered_ = 0;
  bool open_ = false;
};
struct OpenAtExit {
  std::shared_ptr<KeeperGate> gate;
  ~OpenAtExit() { gate->Open(); }
};

// A large job's comparison is kept after Render has answered, on the keeper thread: the answer
// does not wait for its rendering and flush; the comparison is kept all the same, and served
// from the store from then on. (kKeepLaterMinObjects is lowered to 1 object here.)
TEST_F(ReportServiceTest, ALargeComparisonIsKeptAfterTheAnswer) {
  Post({.id = 1, .state = R"({"A":"a","B":"b"})"});
  Post({.id = 2, .state = R"({"A":"a","B":"b2"})"});
  const OpenAtExit gate{KeeperGate::Make()};
  reports_->SetKeepLater(1, KeeperGate::Hook(gate.gate));
  bool precomputed = true;
  Result<std::string> first =
      Text(reports_->Render(RequestFor(2), ReportFormat::kJson, &precomputed));
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_FALSE(precomputed);
  EXPECT_THAT(*first, HasSubstr(R"("warehouse":{"status":"recorded","inserted":true,)"));
  const std::string name = "reports/p/0000000000000000002/0000000000000000001-l0-1000-v2.json";
  ASSERT_TRUE(gate.gate->AwaitEntered(1)) << "the comparison was not handed to the keeper";
  EXPECT_EQ(file_store_->Read(name).status().code(), StatusCode::kNotFound);  // not yet
  gate.gate->Open();
  reports_->AwaitKeeps();
  Result<std::string> kept = file_store_->Read(name);
  ASSERT_TRUE(kept.ok()) << kept.status().message();
  Result<std::string> second =
      Text(reports_->Render(RequestFor(2), ReportFormat::kJson, &precomputed));
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_TRUE(precomputed);
  EXPECT_EQ(first->substr(0, first->find("\"warehouse\"")),
            second->substr(0, second->find("\"warehouse\"")));
  EXPECT_EQ(ReadSqliteRows(DbPath()).size(), 1u);
}

// A project deleted before its comparison is kept: the comparison is dropped, never written
// into the deleted project (ForgetProject comes under the project's lock, as ProjectDeletion
// calls it). At shutdown, the comparison being kept is finished and those waiting are dropped.
TEST_F(ReportServiceTest, AComparisonWaitingToBeKeptIsDroppedByADeletionOrAtShutdown) {
  Post({.id = 1, .state = R"({"A":"a"})"});
  Post({.id = 2, .state = R"({"A":"b"})"});
  Post({.id = 3, .state = R"({"A":"c"})"});
  const OpenAtExit gate{KeeperGate::Make()};
  reports_->SetKeepLater(1, KeeperGate::Hook(gate.gate));
  ASSERT_TRUE(reports_->Render(RequestFor(2), ReportFormat::kJson).ok());
  ASSERT_TRUE(gate.gate->AwaitEntered(1)) << "the comparison was not handed to the keeper";
  {
    const ProjectLocks::Held held = jobs_->project_locks().Exclusive("p");
    reports_->ForgetProject("p");
  }
  gate.gate->Open();
  reports_->AwaitKeeps();
  EXPECT_EQ(*file_store_->List("reports/"), std::vector<std::string>{});

  const OpenAtExit second{KeeperGate::Make()};
  reports_->SetKeepLater(1, KeeperGate::Hook(second.gate));
  ASSERT_TRUE(reports_->Render(RequestFor(2), ReportFormat::kJson).ok());
  ASSERT_TRUE(second.gate->AwaitEntered(1));  // the keeper holds job 2's comparison
  ASSERT_TRUE(reports_->Render(RequestFor(3), ReportFormat::kJson).ok());  // waits behind it
  EXPECT_EQ(reports_->StopKeeping(), 1u);
  second.gate->Open();
  reports_.reset();  // joins the keeper once job 2's comparison is kept
  EXPECT_EQ(*file_store_->List("reports/"),
            std::vector<std::string>{
                "reports/p/0000000000000000002/0000000000000000001-l0-1000-v2.json"});
}

TEST_F(ReportServiceTest, AKeptAnswerIsServedFromMemoryUntilItsProjectIsForgotten) {
  Post({.id = 1, .state = R"({"A":"a","B":"b"})"});
  Post({.id = 2, .state = R"({"A":"a","B":"b2"})"});
  ASSERT_TRUE(reports_->Render(RequestFor(2), ReportFormat::kJson).ok());  // computed, kept
  bool precomputed = false;
  Result<std::string> second =
      Text(reports_->Render(RequestFor(2), ReportFormat::kJson, &precomputed));
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(precomputed);
  const int reads_before = store_->Calls(StoreMethod::kRead);
  precomputed = false;
  Result<std::string> third =
      Text(reports_->Render(RequestFor(2), ReportFormat::kJson, &precomputed));
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(precomputed);
  EXPECT_EQ(*third, *second);
  EXPECT_EQ(store_->Calls(StoreMethod::kRead), reads_before);  // from memory: no read at all
  ReportRequest other_limit = RequestFor(2);
  other_limit.limit = 1;
  ASSERT_TRUE(reports_->Render(other_limit, ReportFormat::kJson).ok());
  EXPECT_EQ(store_->Calls(StoreMethod::kRead), reads_before + 1);  // another answer: read
  reports_->ForgetProject("p");
  Result<std::string> fourth = Text(reports_->Render(RequestFor(2), ReportFormat::kJson));
  ASSERT_TRUE(fourth.ok());
  EXPECT_EQ(*fourth, *second);
  EXPECT_EQ(store_->Calls(StoreMethod::kRead), reads_before + 2);  // forgotten: read again
}

// A drawing reads and parses both states once; then it comes from memory, until the project is
// forgotten. The page's variant and the file's are kept apart.
TEST_F(ReportServiceTest, ADrawingIsRenderedOnceAndServedFromMemory) {
  Post({.id = 1, .state = R"({"A":"box_0_0_1_1","B":"box_5_5_1_1"})"});
  Post({.id = 2, .state = R"({"A":"box_2_0_1_1","C":"door_1_1_1_1"})"});
  Result<std::string> first = Text(reports_->Drawing(RequestFor(2), /*interactive=*/false));
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_THAT(*first, HasSubstr("<g class=\"bt-moved\"><title>A (moved)"));
  EXPECT_THAT(*first, HasSubstr("<g class=\"bt-removed\"><title>B (removed)"));
  EXPECT_THAT(*first, HasSubstr("<g class=\"bt-added\"><title>C (added)"));
  const int reads_before = store_->Calls(StoreMethod::kRead);
  Result<std::string> again = Text(reports_->Drawing(RequestFor(2), false));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(store_->Calls(StoreMethod::kRead), reads_before);  // from memory: no read at all
  Result<std::string> page = Text(reports_->Drawing(RequestFor(2), /*interactive=*/true));
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(*page, HasSubstr("id=\"overlay\""));
  EXPECT_GT(store_->Calls(StoreMethod::kRead), reads_before);  // the other variant: drawn now
  const int reads_page = store_->Calls(StoreMethod::kRead);
  ASSERT_TRUE(reports_->Drawing(RequestFor(2), true).ok());
  EXPECT_EQ(store_->Calls(StoreMethod::kRead), reads_page);
  reports_->ForgetProject("p");
  Result<std::string> forgotten = Text(reports_->Drawing(RequestFor(2), false));
  ASSERT_TRUE(forgotten.ok());
  EXPECT_EQ(*forgotten, *first);
  EXPECT_GT(store_->Calls(StoreMethod::kRead), reads_page);  // forgotten: read again
  // The report the page shows beside it is the same comparison, kept drawing or not.
  Report report;
  Result<std::string> shown = Text(reports_->Drawing(RequestFor(2), true, &report));
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(*shown, *page);
  EXPECT_EQ(report.diff.counts, (DiffCounts{1, 1, 0, 1, 0, 0, 0}));
  EXPECT_EQ(report.base.base_job_id, std::optional<int64_t>(1));
  EXPECT_EQ(reports_->Drawing(RequestFor(9), false).status().code(), StatusCode::kNotFound);
}

// A state of `n` boxes, every third moved in `moved` (so that reports are long enough to
// compress).
std::string Boxes(int n, bool moved) {
  std::string state = "{";
  for (int i = 0; i < n; ++i) {
    const int x = moved && i % 3 == 0 ? i + 1 : i;
    state += (i ? ",\"B" : "\"B") + std::to_string(1000 + i) + "\":\"box_" + std::to_string(x) +
             "_0_1_1\"";
  }
  return state + "}";
}

// A kept answer goes gzip-compressed to a client that takes it: the compressed form is made once
// and then shared, and it holds exactly the answer's bytes. An answer that is not kept (the first,
// computed now; one against an explicit base) is compressed for its request only.
TEST_F(ReportServiceTest, AKeptAnswerIsCompressedOnceForClientsThatTakeGzip) {
  Post({.id = 1, .state = Boxes(300, false)});
  Post({.id = 2, .state = Boxes(300, true)});
  ReportRequest gzip = RequestFor(2);
  gzip.accept_gzip = true;
  bool gzipped = false;
  Result<SharedText> first = reports_->Render(gzip, ReportFormat::kJson, nullptr, &gzipped);
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_TRUE(gzipped);  // computed now, not kept: compressed for this request
  EXPECT_THAT(Gunzip(**first), HasSubstr(R"("total_moved":100)"));
  ReportRequest explicit_base = gzip;
  explicit_base.base_job_id = 1;
  Result<SharedText> ad_hoc =
      reports_->Render(explicit_base, ReportFormat::kJson, nullptr, &gzipped);
  ASSERT_TRUE(ad_hoc.ok());
  EXPECT_TRUE(gzipped);
  EXPECT_THAT(Gunzip(**ad_hoc), HasSubstr(R"("explicit_base":true)"));
  EXPECT_NE(reports_->Render(explicit_base, ReportFormat::kJson)->get(), ad_hoc->get());

  Result<SharedText> plain = reports_->Render(RequestFor(2), ReportFormat::kJson);  // kept now
  ASSERT_TRUE(plain.ok());
  ASSERT_GE((*plain)->size(), kMinGzipAnswerBytes);
  const int reads_before = store_->Calls(StoreMethod::kRead);
  Result<SharedText> second = reports_->Render(gzip, ReportFormat::kJson, nullptr, &gzipped);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(gzipped);
  EXPECT_LT((*second)->size() * 3, (*plain)->size());
  EXPECT_EQ(Gunzip(**second), **plain);
  bool precomputed = false;
  gzipped = false;
  Result<SharedText> third = reports_->Render(gzip, ReportFormat::kJson, &precomputed, &gzipped);
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(gzipped);
  EXPECT_TRUE(precomputed);
  EXPECT_EQ(third->get(), second->get());  // the kept compressed form, shared
  EXPECT_EQ(store_->Calls(StoreMethod::kRead), reads_before);
  gzipped = true;
  Result<SharedText> again =
      reports_->Render(RequestFor(2), ReportFormat::kJson, nullptr, &gzipped);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(gzipped);
  EXPECT_EQ(again->get(), plain->get());  // a client that does not take gzip: the answer itself

  // The same for the drawing.
  Result<SharedText> drawing = reports_->Drawing(RequestFor(2), /*interactive=*/false);
  ASSERT_TRUE(drawing.ok());
  Result<SharedText> drawn_gzip = reports_->Drawing(gzip, false, nullptr, &gzipped);
  ASSERT_TRUE(drawn_gzip.ok());
  EXPECT_TRUE(gzipped);
  EXPECT_EQ(Gunzip(**drawn_gzip), **drawing);
  EXPECT_EQ(reports_->Drawing(gzip, false, nullptr, &gzipped)->get(), drawn_gzip->get());

  // Forgetting the project forgets both forms: each is made again from the store.
  reports_->ForgetProject("p");
  Result<SharedText> forgotten = reports_->Render(gzip, ReportFormat::kJson, nullptr, &gzipped);
  ASSERT_TRUE(forgotten.ok());
  EXPECT_TRUE(gzipped);
  EXPECT_NE(forgotten->get(), second->get());
  EXPECT_EQ(Gunzip(**forgotten), **plain);
  EXPECT_GT(store_->Calls(StoreMethod::kRead), reads_before);
}

// Short answers, and answers that are not kept, are never compressed here.
TEST_F(ReportServiceTest, ShortAnswersAreNotCompressed) {
  Post({.id = 1, .state = R"({"A":"a","B":"b"})"});
  Post({.id = 2, .state = R"({"A":"a","B":"b2"})"});
  ReportRequest gzip = RequestFor(2);
  gzip.accept_gzip = true;
  ASSERT_TRUE(reports_->Render(gzip, ReportFormat::kJson).ok());
  bool gzipped = true;
  Result<SharedText> kept = reports_->Render(gzip, ReportFormat::kJson, nullptr, &gzipped);
  ASSERT_TRUE(kept.ok());
  EXPECT_LT((*kept)->size(), kMinGzipAnswerBytes);
  EXPECT_FALSE(gzipped);
  EXPECT_THAT(**kept, HasSubstr(R"("job_id":2)"));
  ReportRequest explicit_base = gzip;
  explicit_base.base_job_id = 1;
  gzipped = true;
  ASSERT_TRUE(reports_->Render(explicit_base, ReportFormat::kJson, nullptr, &gzipped).ok());
  EXPECT_FALSE(gzipped);
}

// The compressed form is an entry of the answer cache like any other: with room for the answer
// alone, keeping its compressed form pushes the answer out.
TEST_F(ReportServiceTest, TheCompressedFormCountsInTheCachesCap) {
  Post({.id = 1, .state = Boxes(300, false)});
  Post({.id = 2, .state = Boxes(300, true)});
  ASSERT_TRUE(reports_->Render(RequestFor(2), ReportFormat::kJson).ok());  // computed, kept
  Result<SharedText> plain = reports_->Render(RequestFor(2), ReportFormat::kJson);
  ASSERT_TRUE(plain.ok());
  // Room for the answer and its key, not for its compressed form besides.
  ReportService small(*jobs_, *warehouse_, outbox_.get(), (*plain)->size() + 200);
  ASSERT_TRUE(small.Render(RequestFor(2), ReportFormat::kJson).ok());  // kept in `small`
  int reads = store_->Calls(StoreMethod::kRead);
  ASSERT_TRUE(small.Render(RequestFor(2), ReportFormat::kJson).ok());
  EXPECT_EQ(store_->Calls(StoreMethod::kRead), reads);  // from memory
  ReportRequest gzip = RequestFor(2);
  gzip.accept_gzip = true;
  bool gzipped = false;
  ASSERT_TRUE(small.Render(gzip, ReportFormat::kJson, nullptr, &gzipped).ok());
  EXPECT_TRUE(gzipped);
  reads = store_->Calls(StoreMethod::kRead);
  ASSERT_TRUE(small.Render(gzip, ReportFormat::kJson, nullptr, &gzipped).ok());
  EXPECT_EQ(store_->Calls(StoreMethod::kRead), reads);  // the compressed form: from memory
  ASSERT_TRUE(small.Render(RequestFor(2), ReportFormat::kJson).ok());
  EXPECT_EQ(store_->Calls(StoreMethod::kRead), reads + 1);  // the answer was pushed out: read
}

// Readers must not grow the store: every format, limit and explicit base leaves one kept object
// per job, and what is served from it equals what is computed afresh.
TEST_F(ReportServiceTest, ReadersKeepOneComparisonPerJobWhateverTheyAsk) {
  std::string big = "{";
  for (int i = 0; i < 1500; ++i) big += (i ? ",\"O" : "\"O") + std::to_string(i) + "\":\"a\"";
  Post({.id = 1, .state = big + "}"});
  Post({.id = 2, .state = R"({"A":"a"})"});
  Post({.id = 3, .state = R"({"A":"b"})"});
  const std::vector<std::string> kept_names = {
      "reports/p/0000000000000000003/0000000000000000002-l0-1000-v2.json"};
  std::vector<std::string> answers;
  for (size_t limit : {1000u, 1u, 7u, 999u, 5000u, 1000000u}) {
    for (ReportFormat format : {ReportFormat::kJson, ReportFormat::kText}) {
      for (std::optional<int64_t> base : {std::optional<int64_t>(), std::optional<int64_t>(1)}) {
        ReportRequest request = RequestFor(3, base);
        request.limit = limit;
        Result<std::string> r = Text(reports_->Render(request, format));
        ASSERT_TRUE(r.ok()) << r.status().message();
      }
    }
  }
  EXPECT_EQ(*file_store_->List("reports/"), kept_names);
  // Job 2 against job 1 removes 1500 objects: its kept lists are cut at 1000.
  ReportRequest wide = RequestFor(2);
  wide.limit = 5000;
  const int reads_before = store_->Calls(StoreMethod::kRead);
  Result<std::string> all = Text(reports_->Render(wide, ReportFormat::kJson));
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(*all, HasSubstr(R"("total_removed":1500)"));
  EXPECT_THAT(*all, HasSubstr(R"("truncated":false)"));
  EXPECT_GT(store_->Calls(StoreMethod::kRead), reads_before + 1) << "computed: the states read";
  ReportRequest narrow = RequestFor(2);
  narrow.limit = 3;
  Result<std::string> cut = Text(reports_->Render(narrow, ReportFormat::kJson));
  ASSERT_TRUE(cut.ok());
  EXPECT_THAT(*cut, HasSubstr(R"("removed":["O0","O1","O10"],)"));
  EXPECT_EQ(file_store_->List("reports/")->size(), 2u);
}

TEST_F(ReportServiceTest, AServedKeptReportEqualsAComputedOne) {
  Post({.id = 1, .state = R"({"A":"door_1_1_1_1","B":"b","S":{"type":"door","w":1}})"});
  Post({.id = 2, .state = R"({"A":"door_2_1_1_1","C":"c","S":{"type":"door","w":2}})"});
  ReportRequest request = RequestFor(2);
  request.limit = 1;
  Result<std::string> computed = Text(reports_->Render(request, ReportFormat::kText));
  ASSERT_TRUE(computed.ok());
  Result<std::string> served = Text(reports_->Render(request, ReportFormat::kText));
  ASSERT_TRUE(served.ok());
  const auto body = [](const std::string& s) { return s.substr(0, s.find("\nWarehouse:")); };
  EXPECT_EQ(body(*served), body(*computed));
  EXPECT_THAT(*served,
              HasSubstr("  ~ S attributes modified (not position). [{\"type\":\"door\",\"w\":1} -> "
                        "{\"type\":\"door\",\"w\":2}]"));
}

TEST_F(ReportServiceTest, ACorruptKeptReportIsAnErrorNamingIt) {
  Post({.id = 1});
  const std::string name = "reports/p/0000000000000000001/none-l0-1000-v2.json";
  ASSERT_TRUE(file_store_->CreateIfAbsent(name, "{\"job_id\":1,\"proj").ok());
  Result<std::string> r = Text(reports_->Render(RequestFor(1), ReportFormat::kJson));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_EQ(r.status().reason(), "corrupt_object");
  EXPECT_THAT(r.status().message(), HasSubstr("kept report " + name));
  EXPECT_EQ(jobs_->corrupt_objects(), 1u);
}

// After many failed jobs in a row, choosing the base reads no job once their statuses are known:
// the same store calls as after one failed job. (Their headers, with 8 KB of metadata each, are
// more than the header cache holds, as 120 000 plain ones would be.)
TEST_F(ReportServiceTest, BaseSelectionCostsTheSameAtAnyHistoryLength) {
  const std::string metadata =
      R"({"a":")" + std::string(4000, 'x') + R"(","b":")" + std::string(4000, 'x') + R"("})";
  auto reads_for_repeated_report = [&](const std::string& project, int64_t failed) {
    Post({.id = 1, .project = project});
    std::vector<std::unique_ptr<ParsedJobs>> parsed;
    std::vector<Job> batch;
    for (int64_t id = 2; id <= failed + 1; ++id) {
      simdjson::padded_string body(
          JobJson({.id = id, .status = "failed", .project = project, .metadata = metadata}));
      parsed.push_back(std::move(ParseJobDocument(body, ParseLimits{})).value());
      batch.push_back(parsed.back()->jobs().front());
    }
    for (const Result<StoredJob>& stored : jobs_->StoreMany(batch)) EXPECT_TRUE(stored.ok());
    Post({.id = failed + 2, .project = project});
    jobs_ = std::make_unique<JobRepository>(*store_, ParseLimits{});  // nothing known
    reports_ = std::make_unique<ReportService>(*jobs_, *warehouse_, outbox_.get());
    ReportRequest request;
    request.project = project;
    request.job_id = failed + 2;
    EXPECT_TRUE(reports_->Render(request, ReportFormat::kJson).ok());
    const int reads = store_->Calls(StoreMethod::kRead);
    const int lists = store_->Calls(StoreMethod::kList);
    Result<std::string> again = Text(reports_->Render(request, ReportFormat::kJson));
    EXPECT_TRUE(again.ok());
    EXPECT_THAT(*again, HasSubstr("\"skipped_failed\":[" + std::to_string(failed + 1)));
    EXPECT_THAT(*again, HasSubstr(R"("base_job_id":1)"));
    return std::pair<int64_t, int64_t>(store_->Calls(StoreMethod::kRead) - reads,
                                       store_->Calls(StoreMethod::kList) - lists);
  };
  using Calls = std::pair<int64_t, int64_t>;
  // The kept report, and the job index's folder of the job.
  EXPECT_EQ(reads_for_repeated_report("one", 1), Calls(1, 1));
  // A run of failed jobs longer than lineage lists: the index's folders until the cap, then the
  // succeeded-only tree jumps to the base. As many listings at a run of 1 100 000.
  EXPECT_EQ(reads_for_repeated_report("many", 1100), Calls(1, 4));
}
TEST_F(ReportServiceTest, AReportWhoseRowIsPendingIsNotKept) {
  Post({.id = 1});
  warehouse_->Fail(WarehouseMethod::kRecord, Unavailable("warehouse down"));
  Result<std::string> pending = Text(reports_->Render(RequestFor(1), ReportFormat::kJson));
  ASSERT_TRUE(pending.ok());
  EXPECT_THAT(*pending, HasSubstr(R"("warehouse":{"status":"pending","inserted":false,)"));
  EXPECT_EQ(file_store_->Read("reports/p/0000000000000000001/none-l0-1000-v2.json").status().code(),
            StatusCode::kNotFound);
  warehouse_->Heal();
  ASSERT_TRUE(outbox_->DrainOnce().ok());
  Result<std::string> recorded = Text(reports_->Render(RequestFor(1), ReportFormat::kJson));
  ASSERT_TRUE(recorded.ok());
  EXPECT_THAT(*recorded, HasSubstr(R"("warehouse":{"status":"recorded","inserted":false,)"));
  EXPECT_TRUE(file_store_->Read("reports/p/0000000000000000001/none-l0-1000-v2.json").ok())
      << "kept once its row is recorded";
  EXPECT_EQ(ReadSqliteRows(DbPath()).size(), 1u);
}

TEST_F(ReportServiceTest, AKeptReportIsNotServedForAChangedLineage) {
  Post({.id = 1, .state = R"({"A":"a"})"});
  Post({.id = 4, .state = R"({"A":"b"})"});
  Result<std::string> before = Text(reports_->Render(RequestFor(4), ReportFormat::kJson));
  ASSERT_TRUE(before.ok());
  EXPECT_THAT(*before, HasSubstr(R"("missing_ids":2)"));
  Post({.id = 3, .state = R"({"A":"c"})", .status = "failed"});
  Result<std::string> after = Text(reports_->Render(RequestFor(4), ReportFormat::kJson));
  ASSERT_TRUE(after.ok());
  EXPECT_THAT(*after, HasSubstr(R"("skipped_failed":[3],"missing_ids":1)"));
  Post({.id = 2, .state = R"({"A":"d"})"});
  Result<std::string> rebased = Text(reports_->Render(RequestFor(4), ReportFormat::kJson));
  ASSERT_TRUE(rebased.ok());
  EXPECT_THAT(*rebased, HasSubstr(R"("base_job_id":2)"));
}

}  // namespace
}  // namespace buildtrace
