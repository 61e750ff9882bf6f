// The statuses (succeeded or failed) of the jobs this process has stored or read, 8 bytes a job,
// so that choosing a report's base (walking back over failed jobs) reads no stored job once the
// statuses are known, however many failed jobs lie in between. Jobs are immutable, so a status
// once learned is right whatever other instances do with the store.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/job.h"

namespace buildtrace {

// Thread-safe.
class JobStatusCache {
 public:
  // Holds at most `max_jobs` statuses over all projects; when full, it starts again empty (a
  // status forgotten costs one job read to learn again).
  explicit JobStatusCache(size_t max_jobs = kDefaultMaxJobs) : max_jobs_(max_jobs) {}

  static constexpr size_t kDefaultMaxJobs = 4 << 20;  // 32 MiB

  std::optional<JobStatus> Find(std::string_view project, int64_t job_id);
  void Remember(std::string_view project, int64_t job_id, JobStatus status);
  size_t size();
  // Forgets every status of `project` (the project was deleted: its job IDs may come back as
  // other jobs).
  void ForgetProject(std::string_view project);

 private:
  // Entries are (job_id << 1) | failed, so that they sort by job ID. New entries land in a small
  // sorted `recent` list merged into `sorted` once it fills: jobs learned in any order (a walk
  // back learns them newest first) cost O(log n) each, never a move of the whole list.
  struct Project {
    std::vector<uint64_t> sorted;
    std::vector<uint64_t> recent;
  };
  static constexpr size_t kRecentMax = 4096;

  std::mutex mutex_;
  std::unordered_map<std::string, Project> projects_;
  size_t jobs_ = 0;
  const size_t max_jobs_;
};

}  // namespace buildtrace
