// Fault injection for StateStore: counting calls, failing and slowing them on request.
#include "testing/faulty_state_store.h"

#include <algorithm>
#include <thread>
#include <utility>

namespace buildtrace {

void FaultyStateStore::FailFrom(Method method, int64_t succeed_first, Status status) {
  std::lock_guard lock(mutex_);
  MethodState& m = methods_[static_cast<size_t>(method)];
  m.fault = Fault{m.calls + succeed_first + 1, std::move(status)};
}

void FaultyStateStore::Delay(Method method, std::chrono::milliseconds delay) {
  std::lock_guard lock(mutex_);
  methods_[static_cast<size_t>(method)].delay = delay;
}

void FaultyStateStore::Heal() {
  std::lock_guard lock(mutex_);
  for (MethodState& m : methods_) {
    m.fault.reset();
    m.delay = std::chrono::milliseconds(0);
  }
}

int64_t FaultyStateStore::Calls(Method method) const {
  std::lock_guard lock(mutex_);
  return methods_[static_cast<size_t>(method)].calls;
}

int64_t FaultyStateStore::CreateCallsUnder(std::string_view prefix) const {
  std::lock_guard lock(mutex_);
  return std::count_if(created_names_.begin(), created_names_.end(),
                       [prefix](const std::string& name) { return name.starts_with(prefix); });
}

void FaultyStateStore::LogCreates(std::span<const ObjectToCreate> objects) {
  std::lock_guard lock(mutex_);
  for (const ObjectToCreate& object : objects) created_names_.emplace_back(object.name());
}

bool FaultyStateStore::WaitForCalls(Method method, int64_t calls,
                                    std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return call_started_.wait_for(
      lock, timeout, [&] { return methods_[static_cast<size_t>(method)].calls >= calls; });
}

std::vector<Status> FaultyStateStore::Enter(Method method, size_t count) {
  std::vector<Status> out;
  std::chrono::milliseconds delay{0};
  {
    std::lock_guard lock(mutex_);
    MethodState& m = methods_[static_cast<size_t>(method)];
    for (size_t i = 0; i < count; ++i) {
      ++m.calls;
      const bool fails = m.fault && m.calls >= m.fault->fail_from_call;
      out.push_back(fails ? m.fault->status : Status::Ok());
    }
    delay = m.delay;
  }
  call_started_.notify_all();
  // A slow backend: the call takes this long before it even reaches the target.
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
  return out;
}

Status FaultyStateStore::CreateIfAbsent(std::string_view name, std::string_view data) {
  const ObjectToCreate object(name, data);
  LogCreates({&object, 1});
  if (Status s = Enter(Method::kCreateIfAbsent).front(); !s.ok()) return s;
  return target_.CreateIfAbsent(name, data);
}

std::vector<Status> FaultyStateStore::CreateManyIfAbsent(std::span<const ObjectToCreate> objects) {
  LogCreates(objects);
  return ForwardHealthy(objects, Enter(Method::kCreateIfAbsent, objects.size()));
}

Result<std::vector<Status>> FaultyStateStore::CreateManyIfAbsentPreparing(
    std::span<const ObjectToCreate> objects, const std::function<Status()>& prepare) {
  LogCreates(objects);
  std::vector<Status> results = Enter(Method::kCreateIfAbsent, objects.size());
  if (std::all_of(results.begin(), results.end(), [](const Status& s) { return s.ok(); })) {
    return target_.CreateManyIfAbsentPreparing(objects, prepare);
  }
  if (Status prepared = prepare(); !prepared.ok()) return prepared;
  return ForwardHealthy(objects, std::move(results));
}

std::vector<Status> FaultyStateStore::ForwardHealthy(std::span<const ObjectToCreate> objects,
                                                     std::vector<Status> results) {
  size_t healthy = 0;
  while (healthy < results.size() && results[healthy].ok()) ++healthy;
  // Once a fault starts it covers every later call, so the failures are a suffix.
  if (healthy == 0) return results;
  std::vector<Status> forwarded = target_.CreateManyIfAbsent(objects.first(healthy));
  for (size_t i = 0; i < healthy; ++i) results[i] = std::move(forwarded[i]);
  return results;
}

Result<std::string> FaultyStateStore::Read(std::string_view name) {
  if (Status s = Enter(Method::kRead).front(); !s.ok()) return s;
  return target_.Read(name);
}

Result<std::vector<std::string>> FaultyStateStore::List(std::string_view prefix) {
  if (Status s = Enter(Method::kList).front(); !s.ok()) return s;
  return target_.List(prefix);
}

Status FaultyStateStore::Delete(std::string_view name) {
  if (Status s = Enter(Method::kDelete).front(); !s.ok()) return s;
  return target_.Delete(name);
}

Status FaultyStateStore::Probe() {
  if (Status s = Enter(Method::kProbe).front(); !s.ok()) return s;
  return target_.Probe();
}

}  // namespace buildtrace
