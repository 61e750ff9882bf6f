// The AnalysisQueue contract as tests. Waiting is done by Receive's own wait, never by sleeping.
#include "testing/analysis_queue_conformance.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <utility>

namespace buildtrace {

using std::chrono::milliseconds;

std::string AnalysisQueueFactoryName(const ::testing::TestParamInfo<AnalysisQueueFactory>& info) {
  return info.param.name;
}

void PrintTo(const AnalysisQueueFactory& factory, std::ostream* os) { *os << factory.name; }

void AnalysisQueueConformanceTest::SetUp() {
  queue_ = GetParam().make();
  ASSERT_NE(queue_, nullptr) << "the factory could not make a queue";
}

void AnalysisQueueConformanceTest::TearDown() {
  if (queue_) queue_->Close();
  queue_.reset();
}

std::vector<QueueDelivery> AnalysisQueueConformanceTest::ReceiveAtLeast(size_t count,
                                                                        milliseconds patience) {
  std::vector<QueueDelivery> got;
  while (got.size() < count) {
    Result<std::vector<QueueDelivery>> batch = queue().Receive(count - got.size(), patience);
    EXPECT_TRUE(batch.ok()) << batch.status().message();
    if (!batch.ok() || batch->empty()) break;
    for (QueueDelivery& d : *batch) got.push_back(std::move(d));
  }
  return got;
}

namespace {

std::vector<AnalysisTask> Tasks(const std::string& project, int64_t first, int64_t count) {
  std::vector<AnalysisTask> tasks;
  for (int64_t i = 0; i < count; ++i) tasks.push_back(AnalysisTask{project, first + i});
  return tasks;
}

std::set<int64_t> JobIds(const std::vector<QueueDelivery>& deliveries) {
  std::set<int64_t> ids;
  for (const QueueDelivery& d : deliveries) ids.insert(d.task.job_id);
  return ids;
}

constexpr milliseconds kPatience{5'000};

TEST(AnalysisTaskTest, EncodesAndParsesBack) {
  const AnalysisTask task{"house-plans_2", 9'000'000'000'000'000'000};
  EXPECT_EQ(EncodeAnalysisTask(task),
            "{\"project\":\"house-plans_2\",\"job_id\":9000000000000000000}");
  Result<AnalysisTask> parsed = ParseAnalysisTask(EncodeAnalysisTask(task));
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(*parsed, task);
  Result<AnalysisTask> reordered = ParseAnalysisTask(R"({"job_id":3,"project":"p"})");
  ASSERT_TRUE(reordered.ok()) << reordered.status().message();
  EXPECT_EQ(*reordered, (AnalysisTask{"p", 3}));
}

TEST(AnalysisTaskTest, RefusesEverythingElse) {
  for (const char* body :
       {"", "[]", "{}", R"({"project":"p"})", R"({"job_id":1})", R"({"project":"p","job_id":0})",
        R"({"project":"p","job_id":-4})", R"({"project":"p","job_id":1.5})",
        R"({"project":"../x","job_id":1})", R"({"project":"p","job_id":1,"extra":true})",
        R"({"project":"p","job_id":1,"job_id":2})", R"({"project":"p","job_id":1} x)",
        R"({"project":7,"job_id":1})"}) {
    Result<AnalysisTask> parsed = ParseAnalysisTask(body);
    ASSERT_FALSE(parsed.ok()) << body;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << body;
    EXPECT_NE(parsed.status().message().find("an analysis task must be"), std::string::npos)
        << parsed.status().message();
  }
}

TEST_P(AnalysisQueueConformanceTest, ReceiveOnAnEmptyQueueReturnsNothing) {
  Result<std::vector<QueueDelivery>> got = queue().Receive(10, milliseconds(200));
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_TRUE(got->empty());
}

TEST_P(AnalysisQueueConformanceTest, DeliversEachPublishedTaskOnce) {
  std::vector<AnalysisTask> tasks = Tasks("alpha", 1, 25);
  ASSERT_TRUE(queue().Publish(tasks).ok());
  std::vector<QueueDelivery> got = ReceiveAtLeast(25, kPatience);
  ASSERT_EQ(got.size(), 25u);
  EXPECT_EQ(JobIds(got).size(), 25u);
  for (const QueueDelivery& d : got) {
    EXPECT_EQ(d.task.project, "alpha");
    EXPECT_FALSE(d.receipt.empty());
    if (GetParam().counts_attempts) {
      EXPECT_EQ(d.attempt, 1);
    }
    ASSERT_TRUE(queue().Ack(d).ok());
  }
  // Acknowledged tasks do not come back, not even after a lease has run out.
  Result<std::vector<QueueDelivery>> again =
      queue().Receive(25, queue().lease() + milliseconds(500));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->empty()) << again->size() << " came back";
}

TEST_P(AnalysisQueueConformanceTest, ReceiveReturnsAtMostMax) {
  ASSERT_TRUE(queue().Publish(Tasks("p", 1, 5)).ok());
  Result<std::vector<QueueDelivery>> got = queue().Receive(2, kPatience);
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_GE(got->size(), 1u);
  EXPECT_LE(got->size(), 2u);
}

TEST_P(AnalysisQueueConformanceTest, UnacknowledgedTaskComesBackWhenItsLeaseRunsOut) {
  ASSERT_TRUE(queue().Publish(Tasks("p", 7, 1)).ok());
  std::vector<QueueDelivery> first = ReceiveAtLeast(1, kPatience);
  ASSERT_EQ(first.size(), 1u);
  // Hidden while leased ...
  Result<std::vector<QueueDelivery>> hidden = queue().Receive(1, milliseconds(0));
  ASSERT_TRUE(hidden.ok());
  EXPECT_TRUE(hidden->empty());
  // ... and delivered again once the lease is over, with one more attempt.
  std::vector<QueueDelivery> second = ReceiveAtLeast(1, queue().lease() + kPatience);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].task, (AnalysisTask{"p", 7}));
  if (GetParam().counts_attempts) {
    EXPECT_EQ(second[0].attempt, 2);
  }
  EXPECT_TRUE(queue().Ack(second[0]).ok());
}

TEST_P(AnalysisQueueConformanceTest, RetriedTaskComesBackWithOneMoreAttempt) {
  ASSERT_TRUE(queue().Publish(Tasks("p", 3, 1)).ok());
  std::vector<QueueDelivery> first = ReceiveAtLeast(1, kPatience);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(queue().Retry(first[0], milliseconds(0)).ok());
  std::vector<QueueDelivery> second = ReceiveAtLeast(1, queue().lease() + kPatience);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].task, (AnalysisTask{"p", 3}));
  if (GetParam().counts_attempts) {
    EXPECT_EQ(second[0].attempt, 2);
  }
  ASSERT_TRUE(queue().Ack(second[0]).ok());
}

TEST_P(AnalysisQueueConformanceTest, SecondAckIsHarmless) {
  ASSERT_TRUE(queue().Publish(Tasks("p", 1, 1)).ok());
  std::vector<QueueDelivery> got = ReceiveAtLeast(1, kPatience);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(queue().Ack(got[0]).ok());
  Status again = queue().Ack(got[0]);
  EXPECT_TRUE(again.ok() || again.code() == StatusCode::kNotFound) << again.message();
}

TEST_P(AnalysisQueueConformanceTest, ConcurrentReceiversShareTheTasksWithoutOverlap) {
  constexpr int64_t kTasks = 200;
  ASSERT_TRUE(queue().Publish(Tasks("many", 1, kTasks)).ok());
  std::mutex mutex;
  std::vector<int64_t> seen;
  std::atomic<int64_t> acked{0};
  auto receiver = [&] {
    while (acked.load() < kTasks) {
      Result<std::vector<QueueDelivery>> batch = queue().Receive(7, milliseconds(500));
      if (!batch.ok() || batch->empty()) return;
      for (const QueueDelivery& d : *batch) {
        {
          std::lock_guard lock(mutex);
          seen.push_back(d.task.job_id);
        }
        if (queue().Ack(d).ok()) acked.fetch_add(1);
      }
    }
  };
  std::thread a(receiver), b(receiver), c(receiver);
  a.join();
  b.join();
  c.join();
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), static_cast<size_t>(kTasks));
  for (int64_t i = 0; i < kTasks; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], i + 1);
}

TEST_P(AnalysisQueueConformanceTest, ReceiveWaitingIsWokenByAPublish) {
  std::thread publisher([&] { EXPECT_TRUE(queue().Publish(Tasks("late", 42, 1)).ok()); });
  std::vector<QueueDelivery> got = ReceiveAtLeast(1, milliseconds(20'000));
  publisher.join();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].task, (AnalysisTask{"late", 42}));
}

TEST_P(AnalysisQueueConformanceTest, DepthCountsTasksUntilAcknowledged) {
  Result<std::optional<int64_t>> empty = queue().Depth();
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  if (!empty->has_value()) GTEST_SKIP() << "this queue cannot count its tasks (documented)";
  EXPECT_EQ(**empty, 0);
  ASSERT_TRUE(queue().Publish(Tasks("p", 1, 3)).ok());
  EXPECT_EQ(**queue().Depth(), 3);
  std::vector<QueueDelivery> got = ReceiveAtLeast(3, kPatience);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(**queue().Depth(), 3);  // delivered, not yet acknowledged
  ASSERT_TRUE(queue().Ack(got[0]).ok());
  EXPECT_EQ(**queue().Depth(), 2);
}

TEST_P(AnalysisQueueConformanceTest, CloseWakesAWaitingReceive) {
  const auto start = std::chrono::steady_clock::now();
  std::thread closer([&] { queue().Close(); });
  Result<std::vector<QueueDelivery>> got = queue().Receive(1, milliseconds(120'000));
  closer.join();
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_TRUE(got->empty());
  // Not a speed check: a Receive that ignored Close would wait out its full two minutes.
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(60'000));
}

TEST_P(AnalysisQueueConformanceTest, ProbeAndDescribe) {
  EXPECT_TRUE(queue().Probe().ok());
  EXPECT_NE(queue().Describe().find("://"), std::string::npos) << queue().Describe();
}

}  // namespace
}  // namespace buildtrace
