// The analysis workers (threads that take tasks from the queue and analyse them) and the sweep
// (which finds stored jobs whose analysis is missing or stale and enqueues them). Both run in
// `buildtrace serve` (--analysis-workers) and in `buildtrace worker`.
//
// Delivery is at least once and Analyzer::Analyse is idempotent. A task that fails is retried
// with backoff (1 s, doubling, at most 60 s); one that fails `max_attempts` times, or fails in a
// way retrying cannot mend (a corrupt job), is acknowledged and kept as a dead letter
// (DeadLetterName) for an operator, shown in /readyz and /metrics; the sweep leaves it alone.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "queue/analysis_queue.h"
#include "service/analysis.h"
#include "service/job_repository.h"

namespace buildtrace {

struct AnalysisStats {
  std::atomic<uint64_t> analysed_total{0};         // tasks done
  std::atomic<uint64_t> failed_attempts_total{0};  // attempts that failed (retried or not)
  std::atomic<uint64_t> dead_letters_total{0};     // tasks this process gave up on
  std::atomic<uint64_t> swept_total{0};            // tasks the sweep enqueued
  std::atomic<uint64_t> sweeps_total{0};           // sweep passes finished
};

struct AnalysisWorkerOptions {
  int threads = 2;
  int max_attempts = 5;
  std::chrono::milliseconds first_retry{1000};
  std::chrono::milliseconds max_retry{60'000};
};

class AnalysisWorkers {
 public:
  AnalysisWorkers(AnalysisQueue& queue, Analyzer& analyzer, StateStore& store, AnalysisStats& stats,
                  AnalysisWorkerOptions options);
  ~AnalysisWorkers();  // Stop()

  void Start();
  // Closes the queue for receiving and joins the threads; a task being analysed is finished.
  void Stop();

  // One task: analyse, then acknowledge, retry or dead-letter it. Public for tests.
  void Process(const QueueDelivery& delivery);

 private:
  void Run();
  // The attempt number of a delivery: the queue's count, or this process's own when the queue
  // cannot count (QueueDelivery::attempt == 0).
  int64_t AttemptOf(const QueueDelivery& delivery);
  void Forget(const AnalysisTask& task);
  void DeadLetter(const QueueDelivery& delivery, int64_t attempt, const Status& error);

  AnalysisQueue& queue_;
  Analyzer& analyzer_;
  StateStore& store_;
  AnalysisStats& stats_;
  const AnalysisWorkerOptions options_;
  std::vector<std::thread> threads_;
  std::mutex stop_mutex_;
  std::condition_variable stopped_;
  bool stopping_ = false;  // guarded by stop_mutex_
  std::mutex attempts_mutex_;
  std::unordered_map<std::string, int64_t> attempts_;  // guarded by attempts_mutex_
};

struct SweepOptions {
  // How often the sweep runs again after the first pass at start: always after this long, and
  // sooner (within `behind_check`) once something was left behind (MarkBehind).
  std::chrono::milliseconds interval{std::chrono::minutes(10)};
  std::chrono::milliseconds behind_check{std::chrono::seconds(5)};
};

class AnalysisSweep {
 public:
  AnalysisSweep(JobRepository& jobs, AnalysisQueue& queue, AnalysisStats& stats,
                SweepOptions options)
      : jobs_(jobs), queue_(queue), stats_(stats), options_(options) {}
  ~AnalysisSweep();  // Stop()

  // One pass over every project: builds missing index entries (BackfillIndex), then enqueues
  // every job that has no analysis record for the lineage it has now and no dead letter.
  // Returns the tasks enqueued. kUnavailable when the store or the queue fails (the queue
  // being full included): the next pass goes on.
  Result<int64_t> RunOnce();

  // Runs a pass at once, then as SweepOptions says, on a thread of its own.
  void Start();
  void Stop();
  // Something was not enqueued (a full queue, a failed publish, an index the store refused):
  // the next pass comes within behind_check.
  void MarkBehind() { behind_.store(true); }

 private:
  Result<int64_t> SweepProject(const std::string& project);

  JobRepository& jobs_;
  AnalysisQueue& queue_;
  AnalysisStats& stats_;
  const SweepOptions options_;
  std::atomic<bool> behind_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace buildtrace
