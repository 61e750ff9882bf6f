// The conformance suite every AnalysisQueue implementation passes: the header contract of
// queue/analysis_queue.h, turned into tests. A backend's test file instantiates it, e.g.
//
//   INSTANTIATE_TEST_SUITE_P(Inproc, AnalysisQueueConformanceTest,
//                            ::testing::Values(AnalysisQueueFactory{"Inproc", &MakeQueue}),
//                            AnalysisQueueFactoryName);
//
// and links the bt_analysis_queue_conformance object library (so the TEST_Ps are registered).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "queue/analysis_queue.h"

namespace buildtrace {

struct AnalysisQueueFactory {
  std::string name;  // the test-name suffix, [A-Za-z0-9_] only
  // Returns a new, empty queue, not shared with any other call, whose lease is short (a few
  // seconds at most: the redelivery tests wait for it to run out); it cleans up after itself
  // when destroyed. Returning nullptr fails the test.
  std::function<std::unique_ptr<AnalysisQueue>()> make;
  // Whether the queue counts deliveries (QueueDelivery::attempt is never 0).
  bool counts_attempts = true;
};

std::string AnalysisQueueFactoryName(const ::testing::TestParamInfo<AnalysisQueueFactory>& info);
void PrintTo(const AnalysisQueueFactory& factory, std::ostream* os);

class AnalysisQueueConformanceTest : public ::testing::TestWithParam<AnalysisQueueFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  AnalysisQueue& queue() { return *queue_; }

  // Receives until `count` deliveries came or `patience` passed without any (not a sleep: each
  // Receive waits for tasks and returns as soon as some arrive).
  std::vector<QueueDelivery> ReceiveAtLeast(size_t count, std::chrono::milliseconds patience);

 private:
  std::unique_ptr<AnalysisQueue> queue_;
};

}  // namespace buildtrace
