// A MetricsWarehouse whose every call returns within a deadline: the wrapped warehouse is called
// on a DeadlinePool, and a call that has not answered in time is kUnavailable (the report's row
// then goes to the outbox and the report says "pending"; /stats/latency answers 503). The late
// call still finishes on the pool; since the warehouse writes a row once per key, a row written
// late and again from the outbox is still one row.
#pragma once

#include <chrono>
#include <string>

#include "service/deadline_pool.h"
#include "warehouse/metrics_warehouse.h"

namespace buildtrace {

struct WarehouseDeadlines {
  std::chrono::milliseconds call{1000};  // Record, Latency, Probe
  int threads = 2;
  size_t max_queued = 64;
};

// Thread-safe. `inner` must outlive it.
class DeadlineWarehouse : public MetricsWarehouse {
 public:
  DeadlineWarehouse(MetricsWarehouse& inner, WarehouseDeadlines deadlines)
      : inner_(inner), deadlines_(deadlines), pool_(deadlines.threads, deadlines.max_queued) {}

  Result<bool> Record(const MetricsRow& row) override;
  Result<LatencyStats> Latency(const LatencyQuery& query) override;
  // Forwarded as it is, without a deadline: a deletion that answered "unavailable" must not go on
  // running on the pool afterwards, and deletions are rare.
  Result<int64_t> DeleteProject(std::string_view project) override {
    return inner_.DeleteProject(project);
  }
  Status Probe() override;
  Result<std::string> Epoch() override;
  std::string Describe() const override { return inner_.Describe(); }

 private:
  MetricsWarehouse& inner_;
  const WarehouseDeadlines deadlines_;
  DeadlinePool pool_;
};

}  // namespace buildtrace
