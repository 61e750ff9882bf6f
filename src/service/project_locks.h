// Per-project reader/writer locks of one process, so that deleting a project
// (service/project_deletion.h) never interleaves with a write of the same project by this
// process: every write of a project's data (storing jobs and their index entries, recording and
// keeping a report, analysing a job, the sweep's index repairs, a dead letter) holds the
// project's lock shared; a deletion holds it exclusively. Other processes sharing the store are
// not covered: see docs/api.md, "DELETE /projects/{project}".
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace buildtrace {

// Thread-safe. Locks are made on first use and freed when their last holder lets go, so the
// map holds only the projects in use right now.
class ProjectLocks {
 public:
  // Holds one or more projects' locks (shared or exclusive) until destroyed. Move-only.
  class Held {
   public:
    Held() = default;
    Held(Held&& other) noexcept;
    Held& operator=(Held&& other) noexcept;
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;
    ~Held();

   private:
    friend class ProjectLocks;
    void Release();

    ProjectLocks* locks_ = nullptr;
    std::vector<std::string> projects_;  // sorted, distinct
    bool exclusive_ = false;
  };

  // Blocks while a deletion of `project` runs. A holder must not ask for a lock of a project it
  // holds already (a waiting deletion may stand between the two).
  Held Share(std::string_view project);
  // The locks of several projects (e.g. a POST's), taken in name order so that two callers never
  // wait for each other; duplicates are taken once.
  Held Share(std::span<const std::string_view> projects);
  // Waits until no one holds `project`'s lock, and keeps every other holder out until destroyed.
  Held Exclusive(std::string_view project);

  // Projects whose lock is held or waited for (for tests).
  size_t size();
  // Blocks until at least `n` callers hold or wait for `project`'s lock: for tests that need a
  // caller to be waiting, without sleeping.
  void AwaitUsers(std::string_view project, int n);

 private:
  struct Entry {
    std::shared_mutex mutex;
    int users = 0;  // holders and waiters; guarded by ProjectLocks::mutex_
  };
  Entry& Enter(const std::string& project);
  void Leave(const std::string& project);
  Held Take(std::vector<std::string> projects, bool exclusive);

  std::mutex mutex_;  // guards entries_ and each Entry::users
  std::condition_variable entered_;
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> entries_;
};

}  // namespace buildtrace
