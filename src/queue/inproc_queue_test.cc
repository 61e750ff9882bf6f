// inproc:// against the queue conformance suite, plus what only the in-process queue promises.
#include "queue/inproc_queue.h"

#include <gtest/gtest.h>

#include "testing/analysis_queue_conformance.h"

namespace buildtrace {
namespace {

using std::chrono::milliseconds;

std::unique_ptr<AnalysisQueue> MakeQueue() {
  return std::make_unique<InprocQueue>(InprocQueueOptions{1'000, milliseconds(300)});
}

INSTANTIATE_TEST_SUITE_P(Inproc, AnalysisQueueConformanceTest,
                         ::testing::Values(AnalysisQueueFactory{"Inproc", &MakeQueue, true}),
                         AnalysisQueueFactoryName);

TEST(InprocQueueTest, FullQueueRefusesTheRestAtOnceAndSaysSo) {
  InprocQueue queue(InprocQueueOptions{3, milliseconds(1'000)});
  std::vector<AnalysisTask> tasks{{"p", 1}, {"p", 2}, {"p", 3}, {"p", 4}, {"p", 5}};
  Status status = queue.Publish(tasks);
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(status.message(),
            "the in-process analysis queue is full (3 tasks); 2 left to the sweep, which "
            "enqueues them when there is room");
  EXPECT_EQ(**queue.Depth(), 3);
  Result<std::vector<QueueDelivery>> got = queue.Receive(10, milliseconds(0));
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[2].task, (AnalysisTask{"p", 3}));
  // Leased tasks still take room until acknowledged.
  EXPECT_EQ(queue.Publish(std::vector<AnalysisTask>{{"p", 6}}).code(), StatusCode::kUnavailable);
  ASSERT_TRUE(queue.Ack((*got)[0]).ok());
  EXPECT_TRUE(queue.Publish(std::vector<AnalysisTask>{{"p", 6}}).ok());
}

TEST(InprocQueueTest, DelayedRetryIsNotDeliveredBeforeItsTime) {
  InprocQueue queue(InprocQueueOptions{10, milliseconds(60'000)});
  ASSERT_TRUE(queue.Publish(std::vector<AnalysisTask>{{"p", 1}}).ok());
  Result<std::vector<QueueDelivery>> got = queue.Receive(1, milliseconds(0));
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  ASSERT_TRUE(queue.Retry((*got)[0], milliseconds(60'000)).ok());
  Result<std::vector<QueueDelivery>> early = queue.Receive(1, milliseconds(50));
  ASSERT_TRUE(early.ok());
  EXPECT_TRUE(early->empty());
  EXPECT_EQ(queue.Ack((*got)[0]).code(), StatusCode::kNotFound);
}

TEST(InprocQueueTest, UnknownReceiptIsNotFound) {
  InprocQueue queue;
  EXPECT_EQ(queue.Ack(QueueDelivery{{"p", 1}, "x12", 1}).code(), StatusCode::kNotFound);
  EXPECT_EQ(queue.Retry(QueueDelivery{{"p", 1}, "99", 1}, milliseconds(0)).code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace buildtrace
