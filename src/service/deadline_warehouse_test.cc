// Tests of DeadlineWarehouse: answers pass through, a stuck warehouse gives kUnavailable after the
// deadline (and its call still completes), and a full queue is refused at once; and of its
// DeadlinePool: queued calls are dropped at shutdown.
#include "service/deadline_warehouse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "service/deadline_pool.h"

namespace buildtrace {
namespace {

using ::testing::HasSubstr;

// A warehouse whose Record waits until the test opens the gate; it counts the rows it took.
class GatedWarehouse : public MetricsWarehouse {
 public:
  Result<bool> Record(const MetricsRow&) override {
    std::unique_lock lock(mutex_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
    ++recorded_;
    changed_.notify_all();
    return true;
  }
  Result<LatencyStats> Latency(const LatencyQuery&) override {
    return LatencyStats{3, {1.5, std::nullopt}};
  }
  Result<int64_t> DeleteProject(std::string_view) override { return int64_t{7}; }
  Status Probe() override { return Internal("probe says no"); }
  Result<std::string> Epoch() override { return std::string("epoch-1"); }
  std::string Describe() const override { return "gated://w"; }

  void Open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  void WaitEntered(int n) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return entered_ >= n; });
  }
  void WaitRecorded(int n) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return recorded_ >= n; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
  int entered_ = 0;
  int recorded_ = 0;
};

MetricsRow Row(int64_t job_id) {
  MetricsRow row;
  row.project = "p";
  row.job_id = job_id;
  return row;
}

TEST(DeadlineWarehouseTest, AnswersPassThrough) {
  GatedWarehouse inner;
  DeadlineWarehouse warehouse(inner, {});
  inner.Open();
  EXPECT_EQ(*warehouse.Record(Row(1)), true);
  Result<LatencyStats> stats = warehouse.Latency(LatencyQuery{});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->count, 3);
  EXPECT_EQ(stats->values[0], 1.5);
  EXPECT_EQ(warehouse.Probe().code(), StatusCode::kInternal);
  EXPECT_EQ(warehouse.Probe().message(), "probe says no");
  EXPECT_EQ(*warehouse.Epoch(), "epoch-1");
  EXPECT_EQ(warehouse.Describe(), "gated://w");
}

TEST(DeadlineWarehouseTest, AStuckCallIsUnavailableAfterTheDeadlineAndStillCompletes) {
  GatedWarehouse inner;
  DeadlineWarehouse warehouse(inner, {.call = std::chrono::milliseconds(20)});
  Result<bool> r = warehouse.Record(Row(7));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(),
            "gated://w: record job 7 of project p: no answer within 20 ms; the backend is slow "
            "or stuck, retry later");
  // Other calls are not held by the stuck one.
  EXPECT_TRUE(warehouse.Latency(LatencyQuery{}).ok());
  inner.Open();
  inner.WaitRecorded(1);
}

TEST(DeadlineWarehouseTest, AFullQueueIsRefusedAtOnce) {
  GatedWarehouse inner;
  DeadlineWarehouse warehouse(
      inner, {.call = std::chrono::milliseconds(1), .threads = 1, .max_queued = 1});
  EXPECT_FALSE(warehouse.Record(Row(1)).ok());  // runs, stuck
  inner.WaitEntered(1);
  EXPECT_FALSE(warehouse.Record(Row(2)).ok());  // waits in the queue
  Result<bool> refused = warehouse.Record(Row(3));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("record job 3 of project p: too many calls already wait for this backend "
                        "(1); retry later"));
  inner.Open();
  inner.WaitRecorded(2);  // the queued call ran too
}

TEST(DeadlinePoolTest, QueuedCallsAreDroppedAtShutdownAndStartedOnesFinish) {
  GatedWarehouse inner;
  std::atomic<int> ran{0};
  {
    DeadlinePool pool(1, 4);
    const auto stuck = [&] {
      ++ran;
      return Status(inner.Record(Row(1)).status());
    };
    const auto queued = [&] {
      ++ran;
      return Status();
    };
    EXPECT_EQ(pool.Run<Status>(stuck, std::chrono::milliseconds(1), "stuck").code(),
              StatusCode::kUnavailable);
    inner.WaitEntered(1);
    for (int i = 0; i < 2; ++i) {
      EXPECT_EQ(pool.Run<Status>(queued, std::chrono::milliseconds(1), "queued").code(),
                StatusCode::kUnavailable);
    }
    EXPECT_EQ(pool.busy(), 3U);
    EXPECT_EQ(pool.DropQueued(), 2U);
    EXPECT_EQ(pool.busy(), 1U);
    inner.Open();
  }  // joins the started call
  inner.WaitRecorded(1);
  EXPECT_EQ(ran.load(), 1);
}

}  // namespace
}  // namespace buildtrace
