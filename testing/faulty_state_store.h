// FaultyStateStore: a StateStore that forwards every call to a real store (as LevelDB's EnvWrapper
// does) and can be told to fail one method with a chosen Status, from a chosen call on. Tests use
// it to see what the service and the API do when the store goes away halfway through a request.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "store/state_store.h"

namespace buildtrace {

class FaultyStateStore : public StateStore {
 public:
  enum class Method { kCreateIfAbsent, kRead, kList, kDelete, kProbe };

  // Forwards to `target`, which must outlive this wrapper. No faults until told.
  explicit FaultyStateStore(StateStore& target) : target_(target) {}

  // The next `succeed_first` calls of `method` are forwarded; every later one returns `status`
  // (which must not be Ok) without reaching the target, so a failed CreateIfAbsent writes
  // nothing. Replaces an earlier fault of the same method.
  void FailFrom(Method method, int64_t succeed_first, Status status);
  // Fails every call of `method` from now on.
  void Fail(Method method, Status status) { FailFrom(method, 0, std::move(status)); }
  // Forwards every call again.
  void Heal();

  // Calls of `method` so far (forwarded or failed).
  int64_t Calls(Method method) const;

  Status CreateIfAbsent(std::string_view name, std::string_view data) override;
  Result<std::string> Read(std::string_view name) override;
  Result<std::vector<std::string>> List(std::string_view prefix) override;
  Status Delete(std::string_view name) override;
  Status Probe() override;
  std::string Describe() const override { return target_.Describe(); }

 private:
  struct Fault {
    int64_t fail_from_call = 0;  // 1-based number of the first call that fails
    Status status;
  };
  struct MethodState {
    int64_t calls = 0;
    std::optional<Fault> fault;
  };

  // Counts a call of `method`; the Status to return instead of forwarding, or Ok.
  Status Enter(Method method);

  StateStore& target_;
  mutable std::mutex mutex_;  // guards methods_
  std::array<MethodState, 5> methods_;
};

}  // namespace buildtrace
