// ProjectLocks: a map of shared mutexes, each counted by its users so that it can go once unused.
#include "service/project_locks.h"

#include <algorithm>
#include <utility>

namespace buildtrace {

ProjectLocks::Held::Held(Held&& other) noexcept
    : locks_(std::exchange(other.locks_, nullptr)),
      projects_(std::move(other.projects_)),
      exclusive_(other.exclusive_) {}

ProjectLocks::Held& ProjectLocks::Held::operator=(Held&& other) noexcept {
  if (this != &other) {
    Release();
    locks_ = std::exchange(other.locks_, nullptr);
    projects_ = std::move(other.projects_);
    exclusive_ = other.exclusive_;
  }
  return *this;
}

ProjectLocks::Held::~Held() { Release(); }

void ProjectLocks::Held::Release() {
  if (locks_ == nullptr) return;
  for (const std::string& project : projects_) {
    Entry* entry = nullptr;
    {
      std::lock_guard lock(locks_->mutex_);
      entry = locks_->entries_.find(project)->second.get();
    }
    // The entry cannot go while this holder counts as one of its users.
    exclusive_ ? entry->mutex.unlock() : entry->mutex.unlock_shared();
    locks_->Leave(project);
  }
  locks_ = nullptr;
  projects_.clear();
}

ProjectLocks::Entry& ProjectLocks::Enter(const std::string& project) {
  std::lock_guard lock(mutex_);
  std::unique_ptr<Entry>& entry = entries_[project];
  if (entry == nullptr) entry = std::make_unique<Entry>();
  ++entry->users;
  entered_.notify_all();
  return *entry;
}

void ProjectLocks::Leave(const std::string& project) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(project);
  if (--it->second->users == 0) entries_.erase(it);
}

ProjectLocks::Held ProjectLocks::Take(std::vector<std::string> projects, bool exclusive) {
  std::sort(projects.begin(), projects.end());
  projects.erase(std::unique(projects.begin(), projects.end()), projects.end());
  Held held;
  held.locks_ = this;
  held.exclusive_ = exclusive;
  for (const std::string& project : projects) {
    Entry& entry = Enter(project);
    exclusive ? entry.mutex.lock() : entry.mutex.lock_shared();
    held.projects_.push_back(project);
  }
  return held;
}

ProjectLocks::Held ProjectLocks::Share(std::string_view project) {
  return Take({std::string(project)}, false);
}

ProjectLocks::Held ProjectLocks::Share(std::span<const std::string_view> projects) {
  return Take(std::vector<std::string>(projects.begin(), projects.end()), false);
}

ProjectLocks::Held ProjectLocks::Exclusive(std::string_view project) {
  return Take({std::string(project)}, true);
}

void ProjectLocks::AwaitUsers(std::string_view project, int n) {
  std::unique_lock lock(mutex_);
  entered_.wait(lock, [&] {
    auto it = entries_.find(project);
    return it != entries_.end() && it->second->users >= n;
  });
}

size_t ProjectLocks::size() {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace buildtrace
