// ReopeningWarehouse: opens its backend lazily and keeps retrying until it opens.
#include "warehouse/reopening_warehouse.h"

#include <utility>

namespace buildtrace {

ReopeningWarehouse::ReopeningWarehouse(std::string url, Opener open, Clock clock,
                                       std::chrono::milliseconds retry_interval)
    : url_(std::move(url)),
      open_(std::move(open)),
      clock_(std::move(clock)),
      retry_interval_(retry_interval) {
  std::unique_lock<std::mutex> lock(mutex_);
  TryOpen(lock);
}

void ReopeningWarehouse::TryOpen(std::unique_lock<std::mutex>& lock) {
  opening_ = true;
  last_attempt_ = clock_();
  lock.unlock();  // opening may wait (a busy timeout, a connect timeout); others fail meanwhile
  Result<std::unique_ptr<MetricsWarehouse>> opened = open_();
  lock.lock();
  opening_ = false;
  if (opened.ok() && *opened != nullptr) {
    target_ = std::move(*opened);
  } else {
    last_error_ =
        opened.ok() ? Internal("the opener returned no warehouse; this is a bug") : opened.status();
  }
}

Status ReopeningWarehouse::NotOpen() const {
  return Unavailable("metrics warehouse " + url_ + " is not open: " + last_error_.message() +
                     "; retrying every " + std::to_string(retry_interval_.count()) + " ms");
}

Result<MetricsWarehouse*> ReopeningWarehouse::Target() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (target_ == nullptr && !opening_ && clock_() - last_attempt_ >= retry_interval_) {
    TryOpen(lock);
  }
  if (target_ != nullptr) return target_.get();
  return NotOpen();
}

bool ReopeningWarehouse::IsOpen() {
  std::lock_guard<std::mutex> lock(mutex_);
  return target_ != nullptr;
}

Result<bool> ReopeningWarehouse::Record(const MetricsRow& row) {
  Result<MetricsWarehouse*> target = Target();
  if (!target.ok()) return target.status();
  return (*target)->Record(row);
}

Result<LatencyStats> ReopeningWarehouse::Latency(const LatencyQuery& query) {
  Result<MetricsWarehouse*> target = Target();
  if (!target.ok()) return target.status();
  return (*target)->Latency(query);
}

Result<int64_t> ReopeningWarehouse::DeleteProject(std::string_view project) {
  Result<MetricsWarehouse*> target = Target();
  if (!target.ok()) return target.status();
  return (*target)->DeleteProject(project);
}

Status ReopeningWarehouse::Probe() {
  Result<MetricsWarehouse*> target = Target();
  if (!target.ok()) return target.status();
  return (*target)->Probe();
}

Result<std::string> ReopeningWarehouse::Epoch() {
  Result<MetricsWarehouse*> target = Target();
  if (!target.ok()) return target.status();
  return (*target)->Epoch();
}

}  // namespace buildtrace
