// The bound on request-body memory across all connections (ServerOptions::
// max_inflight_body_bytes): a body's buffer is charged before it grows and released once its
// handler has returned, so that many clients announcing large bodies cannot exhaust memory.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

#include "http/server.h"

namespace buildtrace {

// Thread-safe.
class BodyBudget {
 public:
  // `stats` may be null; not owned.
  BodyBudget(uint64_t limit, ServerStats* stats) : limit_(limit), stats_(stats) {
    if (stats_ != nullptr) stats_->body_bytes_limit = limit;
  }

  // Takes `bytes` from the budget; false (nothing taken) when that would pass the limit.
  bool TryTake(uint64_t bytes) {
    uint64_t held = held_.load();
    do {
      if (bytes > limit_ - held) return false;
    } while (!held_.compare_exchange_weak(held, held + bytes));
    if (stats_ != nullptr) stats_->body_bytes_in_flight += bytes;
    return true;
  }
  void Give(uint64_t bytes) {
    held_ -= bytes;
    if (stats_ != nullptr) stats_->body_bytes_in_flight -= bytes;
  }
  uint64_t held() const { return held_.load(); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  ServerStats* const stats_;
  std::atomic<uint64_t> held_{0};
};

// One body's share of the budget, given back when destroyed. Not thread-safe; move-only.
class BodyCharge {
 public:
  explicit BodyCharge(BodyBudget& budget) : budget_(&budget) {}
  ~BodyCharge() { Reset(); }
  BodyCharge(BodyCharge&& other) noexcept
      : budget_(other.budget_), bytes_(std::exchange(other.bytes_, 0)) {}
  BodyCharge& operator=(BodyCharge&&) = delete;
  BodyCharge(const BodyCharge&) = delete;

  // Raises the charge to `total` bytes; false (unchanged) when the budget has no room.
  bool GrowTo(uint64_t total) {
    if (total <= bytes_) return true;
    if (!budget_->TryTake(total - bytes_)) return false;
    bytes_ = total;
    return true;
  }
  void Reset() {
    if (bytes_ != 0) budget_->Give(std::exchange(bytes_, 0));
  }
  uint64_t bytes() const { return bytes_; }

 private:
  BodyBudget* budget_;
  uint64_t bytes_ = 0;
};

}  // namespace buildtrace
