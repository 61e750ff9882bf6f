// Background analysis: records, late arrivals, retries and dead letters, and the sweep, over the
// embedded backends and the in-process queue.
#include "service/analysis.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "core/json_writer.h"
#include "queue/inproc_queue.h"
#include "service/analysis_workers.h"
#include "testing/temp_backends.h"

namespace buildtrace {
namespace {

using ::testing::HasSubstr;
using StoreMethod = FaultyStateStore::Method;
using std::chrono::milliseconds;

std::string JobJson(int64_t id, const std::string& state, const std::string& status = "succeeded",
                    double latency_ms = 100) {
  std::string latency;
  AppendJsonNumber(latency, latency_ms);
  return R"({"job_id":)" + std::to_string(id) +
         R"(,"project":"p","timestamp":"2026-11-28T10:00:00Z","latency_ms":)" + latency +
         R"(,"status":")" + status + R"(","state":)" + state + "}";
}

class AnalysisTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(backends_.ok()); }

  // Stores a job through `through` (the repository under test unless told otherwise).
  void Post(int64_t id, const std::string& state, const std::string& status = "succeeded",
            JobRepository* through = nullptr) {
    simdjson::padded_string body(JobJson(id, state, status));
    auto parsed = ParseJobDocument(body, ParseLimits{});
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    auto stored = (through ? through : &jobs_)->Store((*parsed)->jobs().front());
    ASSERT_TRUE(stored.ok()) << stored.status().message();
  }
  // Takes every task the queue has now and processes it, until none is left.
  int Drain() {
    int processed = 0;
    for (;;) {
      Result<std::vector<QueueDelivery>> batch = queue_.Receive(100, milliseconds(0));
      EXPECT_TRUE(batch.ok());
      if (!batch.ok() || batch->empty()) return processed;
      for (const QueueDelivery& d : *batch) workers_.Process(d);
      processed += static_cast<int>(batch->size());
    }
  }
  std::vector<std::string> Records() {
    Result<std::vector<std::string>> names = backends_.file_store()->List("analysis/p/");
    EXPECT_TRUE(names.ok());
    std::vector<std::string> leaves;
    for (const std::string& n : *names) leaves.push_back(n.substr(n.rfind('/') + 1));
    return leaves;
  }
  void Enqueue(std::vector<int64_t> ids) {
    std::vector<AnalysisTask> tasks;
    for (int64_t id : ids) tasks.push_back({"p", id});
    ASSERT_TRUE(queue_.Publish(tasks).ok());
  }

  TempBackends backends_{"bt-analysis"};
  JobRepository jobs_{*backends_.store(), ParseLimits{}};
  ReportService reports_{jobs_, *backends_.warehouse()};
  InprocQueue queue_{InprocQueueOptions{1000, milliseconds(60'000)}};
  Analyzer analyzer_{jobs_, reports_, &queue_};
  AnalysisStats stats_;
  AnalysisWorkers workers_{queue_, analyzer_, *backends_.store(), stats_,
                           AnalysisWorkerOptions{1, 3, milliseconds(0), milliseconds(0)}};
  AnalysisSweep sweep_{jobs_, queue_, stats_, SweepOptions{}};
};

TEST(AnalysisRecordTest, NamesAndBodiesReadBack) {
  EXPECT_EQ(AnalysisRecordName("p", 1234, 1200, 3),
            "analysis/p/0000000000000001/0000000000000001234-0000000000000001200-l3.json");
  EXPECT_EQ(AnalysisRecordName("p", 7, std::nullopt, 0),
            "analysis/p/0000000000000000/0000000000000000007-none-l0.json");
  EXPECT_EQ(ParseAnalysisRecordName("0000000000000001234-0000000000000001200-l3.json"),
            (AnalysisRecordKey{1234, 1200, 3}));
  EXPECT_EQ(ParseAnalysisRecordName("0000000000000000007-none-l0.json"),
            (AnalysisRecordKey{7, std::nullopt, 0}));
  for (const char* bad :
       {"", "x.json", "0000000000000000007-none-l.json", "0000000000000000007-none-l0.txt",
        "0000000000000000007-nope-l0.json", "0000000000000000007-000000000000000000-l0.json"}) {
    EXPECT_EQ(ParseAnalysisRecordName(bad), std::nullopt) << bad;
  }
  EXPECT_LT((AnalysisRecordKey{9, std::nullopt, 5}), (AnalysisRecordKey{9, 1, 0}));
  EXPECT_LT((AnalysisRecordKey{9, 4, 0}), (AnalysisRecordKey{9, 4, 1}));
  AnalysisRecord record{12,
                        10,
                        1,
                        JobStatus::kFailed,
                        "2026-11-28T10:00:00.000Z",
                        12.5,
                        DiffCounts{1, 2, 3, 4, 5, 6, 7}};
  Result<AnalysisRecord> back = ParseAnalysisRecord(EncodeAnalysisRecord(record));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, record);
  Result<AnalysisRecord> corrupt = ParseAnalysisRecord(R"({"job_id":1})");
  ASSERT_FALSE(corrupt.ok());
  EXPECT_EQ(corrupt.status().reason(), "corrupt_object");
}

TEST_F(AnalysisTest, JobsArrivingInOrderAreAnalysedOnceWithoutFollowUps) {
  Post(1, R"({"A":"a"})");
  Post(2, R"({"A":"b"})", "failed");
  Post(3, R"({"A":"a","B":"b"})");
  Enqueue({1, 2, 3});
  EXPECT_EQ(Drain(), 3);
  EXPECT_EQ(Records(),
            (std::vector<std::string>{"0000000000000000001-none-l0.json",
                                      "0000000000000000002-0000000000000000001-l0.json",
                                      "0000000000000000003-0000000000000000001-l1.json"}));
  EXPECT_EQ(stats_.analysed_total.load(), 3u);
  Result<std::string> three = backends_.file_store()->Read(AnalysisRecordName("p", 3, 1, 1));
  ASSERT_TRUE(three.ok());
  Result<AnalysisRecord> record = ParseAnalysisRecord(*three);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->counts, (DiffCounts{1, 0, 1, 0, 0, 0, 0}));
  EXPECT_EQ(record->latency_ms, 100);
  // The failed job has its row too, with its status.
  std::vector<MetricsRow> rows = ReadSqliteRows(backends_.db_path());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].job_id, 2);
  EXPECT_EQ(rows[1].status, JobStatus::kFailed);
  // Analysing again changes nothing and enqueues nothing.
  Enqueue({3});
  EXPECT_EQ(Drain(), 1);
  EXPECT_EQ(Records().size(), 3u);
  EXPECT_EQ(**queue_.Depth(), 0);
}

TEST_F(AnalysisTest, ALateJobSendsItsFollowUpsEvenWhenItsOwnAnalysisFails) {
  Post(4, R"({"A":"a"})");
  Post(6, R"({"A":"c"})");
  Enqueue({4, 6});
  EXPECT_EQ(Drain(), 2);
  Post(5, R"({"A":"b"})");
  // The row of 5 cannot be recorded (no outbox here): its analysis fails, as a crash before its
  // record would end it; job 6's new lineage is enqueued all the same, before that.
  backends_.warehouse()->Fail(FaultyMetricsWarehouse::Method::kRecord,
                              Unavailable("injected: warehouse down"));
  const Status failed = analyzer_.Analyse({"p", 5});
  EXPECT_EQ(failed.code(), StatusCode::kUnavailable) << failed.message();
  Result<std::vector<QueueDelivery>> follow_ups = queue_.Receive(10, milliseconds(0));
  ASSERT_TRUE(follow_ups.ok());
  ASSERT_EQ(follow_ups->size(), 1u);
  EXPECT_EQ(follow_ups->front().task, (AnalysisTask{"p", 6}));
  ASSERT_TRUE(queue_.Ack(follow_ups->front()).ok());
  // Retried once the warehouse is back, 5 sends them again (it has no record yet).
  backends_.warehouse()->Heal();
  ASSERT_TRUE(analyzer_.Analyse({"p", 5}).ok());
  EXPECT_EQ(Drain(), 1);
  std::map<int64_t, std::optional<int64_t>> base_of;
  for (const MetricsRow& row : ReadSqliteRows(backends_.db_path())) {
    base_of[row.job_id] = row.base_job_id;
  }
  EXPECT_EQ(base_of,
            (std::map<int64_t, std::optional<int64_t>>{{4, std::nullopt}, {5, 4}, {6, 5}}));
}

TEST_F(AnalysisTest, ALateJobHasTheJobsAfterItAnalysedAgain) {
  Post(4, R"({"A":"a"})");
  Post(6, R"({"A":"c"})", "failed");
  Post(7, R"({"A":"d"})");
  Post(8, R"({"A":"e"})");
  Enqueue({4, 6, 7, 8});
  EXPECT_EQ(Drain(), 4);
  Post(5, R"({"A":"b"})");  // arrives late: 6 and 7 now compare with 5; 8 still with 7
  Enqueue({5});
  EXPECT_EQ(Drain(), 3);  // 5, then the follow-ups 6 and 7
  EXPECT_EQ(Records(),
            (std::vector<std::string>{"0000000000000000004-none-l0.json",
                                      "0000000000000000005-0000000000000000004-l0.json",
                                      "0000000000000000006-0000000000000000004-l0.json",
                                      "0000000000000000006-0000000000000000005-l0.json",
                                      "0000000000000000007-0000000000000000004-l1.json",
                                      "0000000000000000007-0000000000000000005-l1.json",
                                      "0000000000000000008-0000000000000000007-l0.json"}));
  std::vector<MetricsRow> rows = ReadSqliteRows(backends_.db_path());
  std::map<int64_t, std::optional<int64_t>> base_of;
  for (const MetricsRow& row : rows) base_of[row.job_id] = row.base_job_id;
  EXPECT_EQ(rows.size(), 5u);  // one lineage row per job: 6's and 7's were superseded
  EXPECT_EQ(base_of[6], 5);
  EXPECT_EQ(base_of[7], 5);
}

TEST_F(AnalysisTest, FailingAttemptsAreRetriedThenKeptAsADeadLetter) {
  // Stored by another instance: the analysing one knows no headers and must read the store.
  JobRepository other(*backends_.store(), ParseLimits{});
  Post(1, R"({"A":"a"})", "succeeded", &other);
  Post(2, R"({"A":"b"})", "succeeded", &other);
  backends_.store()->Fail(StoreMethod::kRead, Unavailable("the disk is gone"));
  Enqueue({2});
  EXPECT_EQ(Drain(), 3);  // three attempts, retried at once (first_retry 0)
  EXPECT_EQ(stats_.failed_attempts_total.load(), 3u);
  EXPECT_EQ(stats_.dead_letters_total.load(), 1u);
  backends_.store()->Heal();
  Result<std::string> letter = backends_.file_store()->Read(DeadLetterName("p", 2));
  ASSERT_TRUE(letter.ok());
  EXPECT_THAT(*letter, HasSubstr(R"("attempts":3,"error":"the disk is gone")"));
  // The sweep leaves a dead letter alone, and enqueues job 1, never analysed.
  Result<int64_t> swept = sweep_.RunOnce();
  ASSERT_TRUE(swept.ok()) << swept.status().message();
  EXPECT_EQ(*swept, 1);
}

TEST_F(AnalysisTest, ACorruptJobIsADeadLetterAtOnce) {
  Post(1, R"({"A":"a"})");
  ASSERT_TRUE(backends_.file_store()->CreateIfAbsent("jobs/p/0000000000000000002.json", "{").ok());
  ASSERT_TRUE(jobs_.index().Add("p", std::vector<IndexedJob>{{2, JobStatus::kSucceeded}}).ok());
  Enqueue({2});
  EXPECT_EQ(Drain(), 1);
  EXPECT_EQ(stats_.dead_letters_total.load(), 1u);
  EXPECT_TRUE(backends_.file_store()->Read(DeadLetterName("p", 2)).ok());
}

TEST_F(AnalysisTest, TheSweepFindsJobsNeverAnalysedAndStaleOnesAndBuildsMissingIndexes) {
  // Jobs of an earlier version: in the store, not in the index.
  // Stored through another repository, then the index removed: as an earlier version left it.
  JobRepository old(*backends_.file_store(), ParseLimits{});
  for (int64_t id : {1, 2, 3}) Post(id, R"({"A":"a"})", "succeeded", &old);
  std::filesystem::remove_all(backends_.folder() + "/store/index");
  std::filesystem::remove_all(backends_.folder() + "/store/index-projects");
  EXPECT_FALSE(*JobIndex(*backends_.store()).IsComplete("p"));
  Result<int64_t> swept = sweep_.RunOnce();
  ASSERT_TRUE(swept.ok()) << swept.status().message();
  EXPECT_EQ(*swept, 3);
  EXPECT_TRUE(*JobIndex(*backends_.store()).IsComplete("p"));
  EXPECT_EQ(Drain(), 3);
  EXPECT_EQ(*sweep_.RunOnce(), 0);  // all analysed against their lineage now
  EXPECT_EQ(stats_.sweeps_total.load(), 2u);
}

TEST_F(AnalysisTest, AFullQueueLeavesTheRestToTheSweep) {
  InprocQueue tiny(InprocQueueOptions{2, milliseconds(60'000)});
  AnalysisSweep sweep(jobs_, tiny, stats_, SweepOptions{});
  for (int64_t id = 1; id <= 5; ++id) Post(id, R"({"A":"a"})");
  Result<int64_t> swept = sweep.RunOnce();
  ASSERT_FALSE(swept.ok());
  EXPECT_EQ(swept.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(swept.status().message(), HasSubstr("sweeping project p: the in-process analysis "
                                                  "queue is full (2 tasks)"));
}

}  // namespace
}  // namespace buildtrace
