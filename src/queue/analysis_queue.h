// The analysis queue: one task per stored job that needs analysing (comparing with its lineage
// base, keeping the report, writing the job's lineage row). Implementations: inproc_queue (the
// embedded default), redis_queue (Redis Streams), pubsub_queue (Google Pub/Sub over REST).
// Delivery is at least once and analysis is idempotent, so a task delivered twice costs work,
// never correctness; a task lost altogether costs speed only (the sweep finds stored jobs that
// were never analysed and enqueues them again).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace buildtrace {

struct AnalysisTask {
  std::string project;
  int64_t job_id = 0;

  bool operator==(const AnalysisTask&) const = default;
};

// A task as a message body: {"project":"<project>","job_id":<id>}. Parse accepts exactly that
// shape (members in any order, nothing else) with a valid project name (core/job.h) and an id of
// at least 1; anything else is kInvalidArgument saying what is wrong.
std::string EncodeAnalysisTask(const AnalysisTask& task);
Result<AnalysisTask> ParseAnalysisTask(std::string_view body);

struct QueueDelivery {
  AnalysisTask task;
  std::string receipt;  // the queue's handle for Ack and Retry (a stream entry id, an ack id)
  // How many times this task has been delivered, this time included (1 on the first delivery),
  // as far as the queue counts; 0 when the queue cannot tell.
  int64_t attempt = 0;
};

// All methods are safe to call concurrently from any thread, and from several processes sharing
// one queue (except inproc://, which lives in one process).
class AnalysisQueue {
 public:
  virtual ~AnalysisQueue() = default;

  // Adds the tasks. Ok: all were added. kUnavailable: the queue is full (its message says so) or
  // could not be reached; any subset of the tasks may have been added, and the caller leaves the
  // rest to the sweep. Returns within the backend's request timeout; never waits for room.
  virtual Status Publish(std::span<const AnalysisTask> tasks) = 0;

  // Waits up to `wait` for tasks and returns at most `max` of them (none when none came in time,
  // which is not an error). A delivered task is hidden from every receiver until it is
  // acknowledged, or until the queue's lease on it runs out (lease(), counted from the
  // delivery); it is then delivered again, to this or another receiver, with attempt + 1.
  // Returns at once, with no tasks, after Close(). kUnavailable when the queue cannot be reached.
  virtual Result<std::vector<QueueDelivery>> Receive(size_t max,
                                                     std::chrono::milliseconds wait) = 0;

  // The task is done: it is not delivered again (unless its lease ran out before the ack, as
  // at-least-once allows). Acknowledging twice, or after the lease ran out and another receiver
  // took the task, is Ok or kNotFound, never harmful.
  virtual Status Ack(const QueueDelivery& delivery) = 0;

  // The task failed: deliver it again after about `delay` (never sooner; later by at most the
  // lease, for queues that can only redeliver when the lease runs out).
  virtual Status Retry(const QueueDelivery& delivery, std::chrono::milliseconds delay) = 0;

  // Tasks published and not yet acknowledged, delivered or not (for /metrics); nullopt when the
  // queue has no way to count them (Pub/Sub's API has none). kUnavailable when it cannot be
  // reached.
  virtual Result<std::optional<int64_t>> Depth() = 0;

  // How long a delivered task stays hidden without an ack.
  virtual std::chrono::milliseconds lease() const = 0;

  // Checks that the queue can be reached and used (for /readyz). Cheap.
  virtual Status Probe() = 0;

  // Makes every Receive waiting now, and every later one, return at once with no tasks.
  virtual void Close() = 0;

  // The queue's URL without secrets, for logs and error messages.
  virtual std::string Describe() const = 0;
};

}  // namespace buildtrace
