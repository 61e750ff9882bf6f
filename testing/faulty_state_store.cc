// Fault injection for StateStore: counting calls and failing them on request.
#include "testing/faulty_state_store.h"

#include <utility>

namespace buildtrace {

void FaultyStateStore::FailFrom(Method method, int64_t succeed_first, Status status) {
  std::lock_guard lock(mutex_);
  MethodState& m = methods_[static_cast<size_t>(method)];
  m.fault = Fault{m.calls + succeed_first + 1, std::move(status)};
}

void FaultyStateStore::Heal() {
  std::lock_guard lock(mutex_);
  for (MethodState& m : methods_) m.fault.reset();
}

int64_t FaultyStateStore::Calls(Method method) const {
  std::lock_guard lock(mutex_);
  return methods_[static_cast<size_t>(method)].calls;
}

Status FaultyStateStore::Enter(Method method) {
  std::lock_guard lock(mutex_);
  MethodState& m = methods_[static_cast<size_t>(method)];
  ++m.calls;
  if (m.fault && m.calls >= m.fault->fail_from_call) return m.fault->status;
  return Status::Ok();
}

Status FaultyStateStore::CreateIfAbsent(std::string_view name, std::string_view data) {
  if (Status s = Enter(Method::kCreateIfAbsent); !s.ok()) return s;
  return target_.CreateIfAbsent(name, data);
}

Result<std::string> FaultyStateStore::Read(std::string_view name) {
  if (Status s = Enter(Method::kRead); !s.ok()) return s;
  return target_.Read(name);
}

Result<std::vector<std::string>> FaultyStateStore::List(std::string_view prefix) {
  if (Status s = Enter(Method::kList); !s.ok()) return s;
  return target_.List(prefix);
}

Status FaultyStateStore::Delete(std::string_view name) {
  if (Status s = Enter(Method::kDelete); !s.ok()) return s;
  return target_.Delete(name);
}

Status FaultyStateStore::Probe() {
  if (Status s = Enter(Method::kProbe); !s.ok()) return s;
  return target_.Probe();
}

}  // namespace buildtrace
