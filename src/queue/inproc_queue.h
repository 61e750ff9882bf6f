// inproc:// — the embedded analysis queue: a bounded queue in this process's memory, for one
// `serve` with its own analysis workers. Tasks do not survive the process; the sweep finds the
// jobs they named again after a restart, so nothing is lost, only delayed. When the queue is full
// a Publish is refused at once (the sweep enqueues those jobs later); it never waits for room.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>

#include "queue/analysis_queue.h"

namespace buildtrace {

struct InprocQueueOptions {
  size_t capacity = 10'000;                 // tasks waiting or in flight
  std::chrono::milliseconds lease{60'000};  // how long a delivered task stays hidden
};

class InprocQueue final : public AnalysisQueue {
 public:
  explicit InprocQueue(InprocQueueOptions options = {}) : options_(options) {}

  Status Publish(std::span<const AnalysisTask> tasks) override;
  Result<std::vector<QueueDelivery>> Receive(size_t max, std::chrono::milliseconds wait) override;
  Status Ack(const QueueDelivery& delivery) override;
  Status Retry(const QueueDelivery& delivery, std::chrono::milliseconds delay) override;
  Result<std::optional<int64_t>> Depth() override;
  std::chrono::milliseconds lease() const override { return options_.lease; }
  Status Probe() override { return Status::Ok(); }
  void Close() override;
  std::string Describe() const override;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    AnalysisTask task;
    int64_t attempt = 0;      // deliveries so far
    Clock::time_point ready;  // not delivered before this
  };
  // Moves leased tasks whose lease ran out back to the front of ready_. Caller holds mutex_.
  void ReclaimExpired(Clock::time_point now);
  // The earliest time a task waiting or leased becomes deliverable. Caller holds mutex_.
  Clock::time_point NextDue() const;

  const InprocQueueOptions options_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  bool closed_ = false;               // guarded by mutex_
  std::deque<Entry> ready_;           // guarded by mutex_
  uint64_t next_receipt_ = 1;         // guarded by mutex_
  std::map<uint64_t, Entry> leased_;  // receipt -> entry; guarded by mutex_
};

}  // namespace buildtrace
