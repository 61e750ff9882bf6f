// Fault injection for MetricsWarehouse: counting calls and failing them on request.
#include "testing/faulty_metrics_warehouse.h"

#include <utility>

namespace buildtrace {

void FaultyMetricsWarehouse::FailFrom(Method method, int64_t succeed_first, Status status) {
  std::lock_guard lock(mutex_);
  MethodState& m = methods_[static_cast<size_t>(method)];
  m.fault = Fault{m.calls + succeed_first + 1, std::move(status)};
}

void FaultyMetricsWarehouse::Heal() {
  std::lock_guard lock(mutex_);
  for (MethodState& m : methods_) m.fault.reset();
}

int64_t FaultyMetricsWarehouse::Calls(Method method) const {
  std::lock_guard lock(mutex_);
  return methods_[static_cast<size_t>(method)].calls;
}

Status FaultyMetricsWarehouse::Enter(Method method) {
  std::lock_guard lock(mutex_);
  MethodState& m = methods_[static_cast<size_t>(method)];
  ++m.calls;
  if (m.fault && m.calls >= m.fault->fail_from_call) return m.fault->status;
  return Status::Ok();
}

Result<bool> FaultyMetricsWarehouse::Record(const MetricsRow& row) {
  if (Status s = Enter(Method::kRecord); !s.ok()) return s;
  return target_.Record(row);
}

Result<LatencyStats> FaultyMetricsWarehouse::Latency(const LatencyQuery& query) {
  if (Status s = Enter(Method::kLatency); !s.ok()) return s;
  return target_.Latency(query);
}

Status FaultyMetricsWarehouse::Probe() {
  if (Status s = Enter(Method::kProbe); !s.ok()) return s;
  return target_.Probe();
}

}  // namespace buildtrace
