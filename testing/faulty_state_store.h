// FaultyStateStore: a StateStore that forwards every call to a real store (as LevelDB's EnvWrapper
// does) and can be told to fail one method with a chosen Status, from a chosen call on, or to
// slow it down. Tests use it to see what the service and the API do when the store goes away (or
// crawls) halfway through a request.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
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
  // Every later call of `method` waits `delay` before it is forwarded (or failed): a slow
  // backend. Replaces an earlier delay of the method; zero removes it.
  void Delay(Method method, std::chrono::milliseconds delay);
  // Forwards every call again, without faults or delays.
  void Heal();

  // Calls of `method` so far (forwarded or failed), counted when they start.
  int64_t Calls(Method method) const;
  // Calls of kCreateIfAbsent so far for objects whose names start with `prefix`.
  int64_t CreateCallsUnder(std::string_view prefix) const;
  // Waits until `calls` calls of `method` have started, at most `timeout`; false on timeout.
  // Lets a test act while a call it started on another thread is inside the backend.
  bool WaitForCalls(Method method, int64_t calls, std::chrono::milliseconds timeout) const;

  Status CreateIfAbsent(std::string_view name, std::string_view data) override;
  // Each object counts as one call of kCreateIfAbsent. The objects before the first failing call
  // are forwarded as one batch to the target's CreateManyIfAbsent (so its own batching runs);
  // the rest fail without reaching it.
  std::vector<Status> CreateManyIfAbsent(std::span<const ObjectToCreate> objects) override;
  // The same; a batch without a failing call goes to the target's CreateManyIfAbsentPreparing
  // whole (so its overlap runs), else the preparation runs first.
  Result<std::vector<Status>> CreateManyIfAbsentPreparing(
      std::span<const ObjectToCreate> objects, const std::function<Status()>& prepare) override;
  Result<std::string> Read(std::string_view name) override;
  Result<std::vector<std::string>> List(std::string_view prefix) override;
  Status Delete(std::string_view name) override;
  Status Probe() override;
  std::string Describe() const override { return target_.Describe(); }

 private:
  // Forwards the objects before the first failing outcome of `results` as one batch.
  std::vector<Status> ForwardHealthy(std::span<const ObjectToCreate> objects,
                                     std::vector<Status> results);

  struct Fault {
    int64_t fail_from_call = 0;  // 1-based number of the first call that fails
    Status status;
  };
  struct MethodState {
    int64_t calls = 0;
    std::optional<Fault> fault;
    std::chrono::milliseconds delay{0};
  };

  // Counts `count` calls of `method` and waits out its delay; returns one Status per call: what
  // to return instead of forwarding, or Ok to forward.
  std::vector<Status> Enter(Method method, size_t count = 1);

  // Counts one kCreateIfAbsent call per name in CreateCallsUnder's log.
  void LogCreates(std::span<const ObjectToCreate> objects);

  StateStore& target_;
  std::vector<std::string> created_names_;  // guarded by mutex_
  mutable std::mutex mutex_;                // guards methods_
  mutable std::condition_variable call_started_;
  std::array<MethodState, 5> methods_;
};

}  // namespace buildtrace
