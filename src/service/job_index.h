// The job index: each project's job IDs and statuses, kept in the state store beside the jobs
// (so every instance sees the same index on S3 and GCS alike), arranged so that finding a job's
// base, the project's latest job or a page of its jobs costs the same at 100 jobs as at
// 1 000 000: a few listings of at most 1 000 names each, never a listing of every job.
//
// Layout (a documented contract, like jobs/; docs/operations.md). IDs are 19 digits; a job's
// level-k node is the first 19 - 3k digits of its ID (k = 1..6), so every folder below holds at
// most 1 000 names:
//   index/<project>/<tree>/c0/<16 digits>/<19 digits>.<s|f>   one leaf per job (s: succeeded)
//   index/<project>/<tree>/c<k>/<19-3(k+1) digits>/<19-3k digits>   "this subtree is not empty"
//   (c6 has no parent folder: index/<project>/<tree>/c6/<1 digit>)
//   index-projects/<project>           "this project's index holds every job stored before it"
// <tree> is "all" (every job) or "ok" (succeeded jobs only, to jump over long runs of failed
// jobs). Every object is empty and created once, never changed: markers are created before the
// leaves below them, so a reader that finds a leaf also finds the path to it. A crash between the
// two leaves an empty subtree (skipped by readers) or a job without leaf (found by the sweep,
// which compares jobs/ with the index).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/job.h"
#include "core/lineage.h"
#include "core/status.h"
#include "store/state_store.h"

namespace buildtrace {

struct IndexedJob {
  int64_t job_id = 0;
  JobStatus status = JobStatus::kSucceeded;

  bool operator==(const IndexedJob&) const = default;
};

// Thread-safe if the store is. Its only state is a bounded cache of markers known to exist.
class JobIndex {
 public:
  explicit JobIndex(StateStore& store) : store_(store) {}

  // Adds the jobs of one project to the index (idempotent: entries already there are Ok).
  // Ok once every entry exists durably; kUnavailable if the store fails (retry, or leave it to
  // the sweep). `project` must satisfy IsValidProjectName.
  Status Add(std::string_view project, std::span<const IndexedJob> jobs);

  // Calls `visit` for the project's jobs with an ID below `before` (all jobs when absent),
  // newest first, until it returns false. Store errors are returned as they are.
  Status Descending(std::string_view project, std::optional<int64_t> before,
                    const std::function<bool(const IndexedJob&)>& visit);

  // The same, oldest first, for the jobs with an ID above `after` (all when absent).
  Status Ascending(std::string_view project, std::optional<int64_t> after,
                   const std::function<bool(const IndexedJob&)>& visit);

  // The base lineage gives `job_id` (core/lineage.h): the latest earlier job that succeeded,
  // the failed jobs skipped on the way (newest first; at most kMaxSkippedListed, after which
  // skipped_failed_capped is set and missing_ids is not counted), and the IDs never posted.
  Result<BaseSelection> SelectBase(std::string_view project, int64_t job_id);

  // The jobs whose base selection `job_id` takes part in: every later job up to and including
  // the first later one that succeeded, oldest first, at most `max`. When `job_id` arrives
  // late, these are the jobs whose analysis may have changed.
  Result<std::vector<IndexedJob>> Following(std::string_view project, int64_t job_id, size_t max);

  // Whether the project's index is complete: every job stored in the project is in it, except
  // those whose store call has not returned yet (and crash leftovers the sweep repairs). A new
  // project's index is marked complete just before its first jobs are stored, so in that window
  // a reader finds it complete and empty, as it would before the jobs were stored.
  // Projects stored by earlier versions have no index until it is built (MarkComplete after a
  // backfill); readers then fall back to listing the project's jobs. Remembered once true.
  Result<bool> IsComplete(std::string_view project);
  Status MarkComplete(std::string_view project);
  // Takes the mark back (its first jobs could not be indexed): this process forgets it at once,
  // then the marker is deleted, so readers list the project's jobs again until the sweep.
  Status Unmark(std::string_view project);

  // The projects whose index is complete, by name.
  Result<std::vector<std::string>> Projects();

  // Deletes the project's index: first its "complete" marker (so that readers fall back to
  // listing the jobs), then its leaves, then its subtree markers, and forgets what this process
  // remembered of them. Returns the objects deleted (0 for a project without index). On a store
  // error (returned as it is) part of the index may be gone: call again to finish. Entries added
  // concurrently may survive: the caller keeps writers of the project away (ProjectLocks).
  Result<int64_t> RemoveProject(std::string_view project);

  static constexpr size_t kMaxSkippedListed = 1000;

 private:
  enum class Direction { kDown, kUp };
  // Walks one tree of `project` from the node after `from` in `direction`.
  Status Walk(std::string_view project, std::string_view tree, Direction direction,
              std::optional<int64_t> from, const std::function<bool(const IndexedJob&)>& visit);
  // Visits the children of `parent` at level `level` beyond `bound` (exclusive, or all), then
  // their subtrees. Sets *stopped when `visit` returned false.
  Status WalkLevel(const std::string& tree_prefix, int level, const std::string& parent,
                   const std::optional<std::string>& bound, Direction direction,
                   const std::function<bool(const IndexedJob&)>& visit, bool* stopped);
  bool KnownMarker(const std::string& name);
  void RememberMarkers(const std::vector<std::string>& names);

  StateStore& store_;
  std::mutex markers_mutex_;
  std::unordered_set<std::string> markers_;   // created or seen; guarded by markers_mutex_
  std::unordered_set<std::string> complete_;  // projects known complete; guarded by markers_mutex_
  static constexpr size_t kMaxRememberedMarkers = 100'000;
};

}  // namespace buildtrace
