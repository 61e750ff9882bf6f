// Fault injection for MetricsWarehouse: counting calls, failing and slowing them on request.
#include "testing/faulty_metrics_warehouse.h"

#include <thread>
#include <utility>

namespace buildtrace {

void FaultyMetricsWarehouse::FailFrom(Method method, int64_t succeed_first, Status status) {
  std::lock_guard lock(mutex_);
  MethodState& m = methods_[static_cast<size_t>(method)];
  m.fault = Fault{m.calls + succeed_first + 1, std::move(status)};
}

void FaultyMetricsWarehouse::Delay(Method method, std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  methods_[static_cast<size_t>(method)].delay = delay;
}

void FaultyMetricsWarehouse::Heal() {
  std::lock_guard lock(mutex_);
  for (MethodState& m : methods_) {
    m.fault.reset();
    m.delay = std::chrono::milliseconds(0);
  }
}

int64_t FaultyMetricsWarehouse::Calls(Method method) const {
  std::lock_guard lock(mutex_);
  return methods_[static_cast<size_t>(method)].calls;
}

Status FaultyMetricsWarehouse::Enter(Method method) {
  Status outcome;
  std::chrono::milliseconds delay{0};
  {
    std::lock_guard lock(mutex_);
    MethodState& m = methods_[static_cast<size_t>(method)];
    ++m.calls;
    if (m.fault && m.calls >= m.fault->fail_from_call) outcome = m.fault->status;
    delay = m.delay;
  }
  // A slow backend: the call takes this long before it even reaches the target.
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
  return outcome;
}

Result<bool> FaultyMetricsWarehouse::Record(const MetricsRow& row) {
  if (Status s = Enter(Method::kRecord); !s.ok()) return s;
  return target_.Record(row);
}

Result<LatencyStats> FaultyMetricsWarehouse::Latency(const LatencyQuery& query) {
  if (Status s = Enter(Method::kLatency); !s.ok()) return s;
  return target_.Latency(query);
}

Result<int64_t> FaultyMetricsWarehouse::DeleteProject(std::string_view project) {
  if (Status s = Enter(Method::kDeleteProject); !s.ok()) return s;
  return target_.DeleteProject(project);
}

Status FaultyMetricsWarehouse::Probe() {
  if (Status s = Enter(Method::kProbe); !s.ok()) return s;
  return target_.Probe();
}

Result<std::string> FaultyMetricsWarehouse::Epoch() {
  if (Status s = Enter(Method::kEpoch); !s.ok()) return s;
  return target_.Epoch();
}

}  // namespace buildtrace
