// DeadlinePool's threads and queue.
#include "service/deadline_pool.h"

namespace buildtrace {

DeadlinePool::DeadlinePool(int threads, size_t max_queued) : max_queued_(max_queued) {
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Work(); });
}

DeadlinePool::~DeadlinePool() {
  DropQueued();
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool DeadlinePool::Enqueue(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
  return true;
}

void DeadlinePool::Work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to run
    std::function<void()> task = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    task();
    lock.lock();
    --running_;
  }
}

size_t DeadlinePool::DropQueued() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mutex_);
    dropped.swap(queue_);
  }
  return dropped.size();  // destroyed here, outside the lock
}

size_t DeadlinePool::busy() {
  std::lock_guard lock(mutex_);
  return running_ + queue_.size();
}

}  // namespace buildtrace
