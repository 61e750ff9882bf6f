// The in-process queue. Leased tasks are kept by receipt with the time their lease runs out in
// Entry::ready; Receive takes them back when that time has passed.
#include "queue/inproc_queue.h"

#include <algorithm>

namespace buildtrace {

Status InprocQueue::Publish(std::span<const AnalysisTask> tasks) {
  {
    std::lock_guard lock(mutex_);
    const Clock::time_point now = Clock::now();
    for (size_t i = 0; i < tasks.size(); ++i) {
      if (ready_.size() + leased_.size() >= options_.capacity) {
        return Unavailable("the in-process analysis queue is full (" +
                           std::to_string(options_.capacity) + " tasks); " +
                           std::to_string(tasks.size() - i) +
                           " left to the sweep, which enqueues them when there is room");
      }
      ready_.push_back(Entry{tasks[i], 0, now});
    }
  }
  arrived_.notify_all();
  return Status::Ok();
}

void InprocQueue::ReclaimExpired(Clock::time_point now) {
  for (auto it = leased_.begin(); it != leased_.end();) {
    if (it->second.ready <= now) {
      Entry entry = std::move(it->second);
      entry.ready = now;
      ready_.push_front(std::move(entry));
      it = leased_.erase(it);
    } else {
      ++it;
    }
  }
}

InprocQueue::Clock::time_point InprocQueue::NextDue() const {
  Clock::time_point due = Clock::time_point::max();
  for (const Entry& entry : ready_) due = std::min(due, entry.ready);
  for (const auto& [receipt, entry] : leased_) due = std::min(due, entry.ready);
  return due;
}

Result<std::vector<QueueDelivery>> InprocQueue::Receive(size_t max,
                                                        std::chrono::milliseconds wait) {
  std::vector<QueueDelivery> out;
  std::unique_lock lock(mutex_);
  const Clock::time_point deadline = Clock::now() + wait;
  while (!closed_ && max > 0) {
    const Clock::time_point now = Clock::now();
    ReclaimExpired(now);
    // Tasks given back with a delay sit in ready_ with a later `ready`; take the due ones in order.
    for (auto it = ready_.begin(); it != ready_.end() && out.size() < max;) {
      if (it->ready > now) {
        ++it;
        continue;
      }
      Entry entry = std::move(*it);
      it = ready_.erase(it);
      entry.attempt += 1;
      entry.ready = now + options_.lease;
      const uint64_t receipt = next_receipt_++;
      out.push_back(QueueDelivery{entry.task, std::to_string(receipt), entry.attempt});
      leased_.emplace(receipt, std::move(entry));
    }
    if (!out.empty() || now >= deadline) break;
    arrived_.wait_until(lock, std::min(deadline, NextDue()));
  }
  return out;
}

namespace {
// The receipt as the number InprocQueue made it from; 0 for anything else.
uint64_t ReceiptNumber(const std::string& receipt) {
  uint64_t n = 0;
  if (receipt.empty() || receipt.size() > 19) return 0;
  for (char c : receipt) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}
}  // namespace

Status InprocQueue::Ack(const QueueDelivery& delivery) {
  std::lock_guard lock(mutex_);
  if (leased_.erase(ReceiptNumber(delivery.receipt)) == 0) {
    return NotFound("no task leased under receipt " + delivery.receipt +
                    " (acknowledged already, or its lease ran out)");
  }
  return Status::Ok();
}

Status InprocQueue::Retry(const QueueDelivery& delivery, std::chrono::milliseconds delay) {
  {
    std::lock_guard lock(mutex_);
    auto it = leased_.find(ReceiptNumber(delivery.receipt));
    if (it == leased_.end()) {
      return NotFound("no task leased under receipt " + delivery.receipt +
                      " (acknowledged already, or its lease ran out)");
    }
    Entry entry = std::move(it->second);
    leased_.erase(it);
    entry.ready = Clock::now() + delay;
    ready_.push_back(std::move(entry));
  }
  arrived_.notify_all();
  return Status::Ok();
}

Result<std::optional<int64_t>> InprocQueue::Depth() {
  std::lock_guard lock(mutex_);
  return std::optional<int64_t>(static_cast<int64_t>(ready_.size() + leased_.size()));
}

void InprocQueue::Close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  arrived_.notify_all();
}

std::string InprocQueue::Describe() const {
  return "inproc://?capacity=" + std::to_string(options_.capacity) +
         "&lease-ms=" + std::to_string(options_.lease.count());
}

}  // namespace buildtrace
