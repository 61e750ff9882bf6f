// ReopeningWarehouse: a MetricsWarehouse that can be created even when its backend cannot be
// opened (a metrics.db locked by another process or not a database, a PostgreSQL server that is
// down), so that a metrics problem does not stop the service from starting. Until the backend
// opens, every call fails with kUnavailable and the open is retried, at most once per retry
// interval, by the calls themselves; once open, every call is forwarded.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "core/status.h"
#include "warehouse/metrics_warehouse.h"

namespace buildtrace {

class ReopeningWarehouse : public MetricsWarehouse {
 public:
  using Opener = std::function<Result<std::unique_ptr<MetricsWarehouse>>()>;
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  static constexpr std::chrono::milliseconds kDefaultRetryInterval{5000};

  // `url`: the warehouse's URL without secrets, for Describe() and messages. `open`: opens the
  // backend; called once here, then again by a call made at least `retry_interval` (by `clock`)
  // after the previous attempt began, until it succeeds. It is never called by two threads at
  // once; calls made while it runs fail at once instead of waiting for it.
  ReopeningWarehouse(std::string url, Opener open, Clock clock = &std::chrono::steady_clock::now,
                     std::chrono::milliseconds retry_interval = kDefaultRetryInterval);

  // Each forwards to the backend once it is open. Until then each returns kUnavailable:
  // "metrics warehouse URL is not open: <the last open error>; retrying every N ms".
  Result<bool> Record(const MetricsRow& row) override;
  Result<LatencyStats> Latency(const LatencyQuery& query) override;
  Result<int64_t> DeleteProject(std::string_view project) override;
  Status Probe() override;
  Result<std::string> Epoch() override;
  // The URL given to the constructor, open or not.
  std::string Describe() const override { return url_; }

  // Whether the backend is open (it stays open once it is).
  bool IsOpen();

 private:
  // The open backend, trying to open it first when it is time to; or why it is not open.
  Result<MetricsWarehouse*> Target();
  // Calls open_ (without the lock held) and keeps what it gave.
  void TryOpen(std::unique_lock<std::mutex>& lock);
  Status NotOpen() const;

  const std::string url_;
  const Opener open_;
  const Clock clock_;
  const std::chrono::milliseconds retry_interval_;

  std::mutex mutex_;  // guards the members below; target_ never changes once set
  std::unique_ptr<MetricsWarehouse> target_;
  Status last_error_;
  std::chrono::steady_clock::time_point last_attempt_;
  bool opening_ = false;
};

}  // namespace buildtrace
