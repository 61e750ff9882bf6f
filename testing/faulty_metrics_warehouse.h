// FaultyMetricsWarehouse: a MetricsWarehouse that forwards every call to a real warehouse (as
// LevelDB's EnvWrapper does) and can be told to fail one method with a chosen Status, from a
// chosen call on, or to slow it down. Tests use it to check that a warehouse outage never loses
// a report.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "core/status.h"
#include "warehouse/metrics_warehouse.h"

namespace buildtrace {

class FaultyMetricsWarehouse : public MetricsWarehouse {
 public:
  // kCount is not a method: the number of them.
  enum class Method { kRecord, kLatency, kProbe, kEpoch, kDeleteProject, kCount };

  // Forwards to `target`, which must outlive this wrapper. No faults until told.
  explicit FaultyMetricsWarehouse(MetricsWarehouse& target) : target_(target) {}

  // The next `succeed_first` calls of `method` are forwarded; every later one returns `status`
  // (which must not be Ok) without reaching the target, so a failed Record writes nothing.
  // Replaces an earlier fault of the same method.
  void FailFrom(Method method, int64_t succeed_first, Status status);
  // Fails every call of `method` from now on.
  void Fail(Method method, Status status) { FailFrom(method, 0, std::move(status)); }
  // Every later call of `method` waits `delay` before it is forwarded (or failed): a slow
  // backend. Replaces an earlier delay of the method; zero removes it.
  void Delay(Method method, std::chrono::milliseconds delay);
  // Forwards every call again, without faults or delays.
  void Heal();

  // Calls of `method` so far (forwarded or failed).
  int64_t Calls(Method method) const;

  Result<bool> Record(const MetricsRow& row) override;
  Result<LatencyStats> Latency(const LatencyQuery& query) override;
  Result<int64_t> DeleteProject(std::string_view project) override;
  Status Probe() override;
  Result<std::string> Epoch() override;
  std::string Describe() const override { return target_.Describe(); }

 private:
  struct Fault {
    int64_t fail_from_call = 0;  // 1-based number of the first call that fails
    Status status;
  };
  struct MethodState {
    int64_t calls = 0;
    std::optional<Fault> fault;
    std::chrono::milliseconds delay{0};
  };

  // Counts a call of `method` and waits out its delay; the Status to return instead of
  // forwarding, or Ok.
  Status Enter(Method method);

  MetricsWarehouse& target_;
  mutable std::mutex mutex_;  // guards methods_
  std::array<MethodState, static_cast<size_t>(Method::kCount)> methods_;
};

}  // namespace buildtrace
