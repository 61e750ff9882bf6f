// Calls to a backend that may hang (a locked SQLite file, a frozen server) made on a few threads
// of their own, waited for at most a deadline: the thread that serves a request is never held
// longer than that, whatever the backend does, and a stuck backend holds at most this pool's
// threads and a bounded queue, never the server's.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"

namespace buildtrace {

class DeadlinePool {
 public:
  // `threads` run the calls; at most `max_queued` calls wait for a thread (beyond: refused).
  DeadlinePool(int threads, size_t max_queued);
  // Drops the queued calls (DropQueued) and waits for the ones already started.
  ~DeadlinePool();
  DeadlinePool(const DeadlinePool&) = delete;
  DeadlinePool& operator=(const DeadlinePool&) = delete;

  // Runs `call` on the pool and returns its result, or kUnavailable when it has not finished
  // within `deadline` (it still runs to its end; its result is then dropped) or when the queue
  // is full. `what` names the call in those messages, e.g. "sqlite:///x/metrics.db: record".
  // R is Status or Result<T>. Thread-safe.
  template <typename R>
  R Run(std::function<R()> call, std::chrono::milliseconds deadline, const std::string& what);

  // Calls running or waiting now.
  size_t busy();

  // Drops the calls that wait for a thread and returns how many there were. For shutdown: by
  // then every caller has stopped waiting (Run gives up at its deadline), and each handles a call
  // that never ran as one that did not answer in time (a row kept in the outbox is retried on the
  // next start). Running them anyway held a stopping server for as long as each took in turn: a
  // locked SQLite file kept a SIGTERM waiting 13 s for three queued calls of 5 s each.
  size_t DropQueued();

 private:
  bool Enqueue(std::function<void()> task);
  void Work();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;  // guarded by mutex_
  size_t running_ = 0;                       // guarded by mutex_
  bool stopping_ = false;                    // guarded by mutex_
  const size_t max_queued_;
  std::vector<std::thread> threads_;
};

template <typename R>
R DeadlinePool::Run(std::function<R()> call, std::chrono::milliseconds deadline,
                    const std::string& what) {
  struct Outcome {
    std::mutex mutex;
    std::condition_variable done;
    std::optional<R> result;
  };
  auto outcome = std::make_shared<Outcome>();
  const bool queued = Enqueue([outcome, call = std::move(call)] {
    R result = call();
    std::lock_guard lock(outcome->mutex);
    outcome->result.emplace(std::move(result));
    outcome->done.notify_all();
  });
  if (!queued) {
    return R(Unavailable(what + ": too many calls already wait for this backend (" +
                         std::to_string(max_queued_) + "); retry later"));
  }
  std::unique_lock lock(outcome->mutex);
  if (!outcome->done.wait_for(lock, deadline, [&] { return outcome->result.has_value(); })) {
    return R(Unavailable(what + ": no answer within " + std::to_string(deadline.count()) +
                         " ms; the backend is slow or stuck, retry later"));
  }
  return std::move(*outcome->result);
}

}  // namespace buildtrace
