// JobStatusCache: sorted 8-byte entries with a small sorted list of recent ones.
#include "service/job_status_cache.h"

#include <algorithm>

namespace buildtrace {
namespace {

uint64_t Entry(int64_t job_id, JobStatus status) {
  return (static_cast<uint64_t>(job_id) << 1) | (status == JobStatus::kFailed ? 1 : 0);
}

// The entry of `job_id` in the sorted `entries`, or nullopt.
std::optional<JobStatus> Search(const std::vector<uint64_t>& entries, int64_t job_id) {
  const uint64_t key = static_cast<uint64_t>(job_id) << 1;
  auto it = std::lower_bound(entries.begin(), entries.end(), key);
  if (it == entries.end() || (*it >> 1) != static_cast<uint64_t>(job_id)) return std::nullopt;
  return (*it & 1) ? JobStatus::kFailed : JobStatus::kSucceeded;
}

}  // namespace

std::optional<JobStatus> JobStatusCache::Find(std::string_view project, int64_t job_id) {
  std::lock_guard lock(mutex_);
  auto it = projects_.find(std::string(project));
  if (it == projects_.end()) return std::nullopt;
  if (auto status = Search(it->second.sorted, job_id)) return status;
  return Search(it->second.recent, job_id);
}

void JobStatusCache::Remember(std::string_view project, int64_t job_id, JobStatus status) {
  if (job_id < 1) return;
  std::lock_guard lock(mutex_);
  auto it = projects_.find(std::string(project));
  if (it != projects_.end() &&
      (Search(it->second.sorted, job_id) || Search(it->second.recent, job_id))) {
    return;
  }
  if (jobs_ >= max_jobs_) {
    projects_.clear();
    jobs_ = 0;
    it = projects_.end();
  }
  if (it == projects_.end()) it = projects_.emplace(std::string(project), Project{}).first;
  Project& p = it->second;
  const uint64_t entry = Entry(job_id, status);
  ++jobs_;
  if (p.sorted.empty() || entry > p.sorted.back()) return p.sorted.push_back(entry);  // usual
  p.recent.insert(std::lower_bound(p.recent.begin(), p.recent.end(), entry), entry);
  if (p.recent.size() < kRecentMax) return;
  const size_t middle = p.sorted.size();
  p.sorted.insert(p.sorted.end(), p.recent.begin(), p.recent.end());
  std::inplace_merge(p.sorted.begin(), p.sorted.begin() + static_cast<ptrdiff_t>(middle),
                     p.sorted.end());
  p.recent.clear();
}

void JobStatusCache::ForgetProject(std::string_view project) {
  std::lock_guard lock(mutex_);
  auto it = projects_.find(std::string(project));
  if (it == projects_.end()) return;
  jobs_ -= it->second.sorted.size() + it->second.recent.size();
  projects_.erase(it);
}

size_t JobStatusCache::size() {
  std::lock_guard lock(mutex_);
  return jobs_;
}

}  // namespace buildtrace
