// Where jobs live in the state store, and the rules for storing them: a job is written once under
// jobs/<project>/<job_id as 19 digits>.json and never overwritten. The zero-padded ID makes the
// store's byte-ordered listing the numeric order.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/job.h"
#include "core/job_parser.h"
#include "core/status.h"
#include "service/job_index.h"
#include "service/job_status_cache.h"
#include "service/project_locks.h"
#include "store/state_store.h"

namespace buildtrace {

// A job ID as object names spell it: 19 digits, zero-padded, so that names list in numeric order.
// Every name that holds a job ID (jobs, kept reports, outbox entries) uses it.
std::string JobIdDigits(int64_t job_id);

// "jobs/<project>/<19-digit job_id>.json". `project` must satisfy IsValidProjectName.
std::string JobObjectName(std::string_view project, int64_t job_id);
// "jobs/<project>/": the folder of the project's jobs.
std::string JobFolder(std::string_view project);

struct StoredJob {
  std::string digest;    // "sha256:<hex>" of the stored bytes
  bool created = false;  // false: the same job was stored before
};

struct ProjectSummary {
  std::string project;
  int64_t jobs = 0;
  int64_t latest_job_id = 0;
};

// Thread-safe if the store is. Its only state is a cache of job headers, which is right because
// jobs are immutable while their project exists: deleting a project (service/project_deletion.h)
// makes this process forget them (ForgetProject); other processes sharing the store keep theirs
// (see docs/api.md, "DELETE /projects/{project}").
class JobRepository {
 public:
  JobRepository(StateStore& store, ParseLimits limits)
      : store_(store), limits_(limits), index_(store) {}

  // Stores a validated job durably, holding its project's lock (project_locks()) shared. Storing
  // the same job again (same fields and the same objects, in any order) returns created == false
  // and the stored digest. kConflict if a different job is stored under the same (project, job_id);
  // the stored one stays as it was. kUnavailable if the store fails.
  Result<StoredJob> Store(const Job& job);

  // Stores several jobs as Store does, grouping the store's flushes (CreateManyIfAbsentPreparing,
  // which computes the digests while the file store writes large jobs); one
  // result per job, in order. Each job is stored whole or not at all, whatever the others do.
  // Every job stored (or found stored) is then added to the job index. A project that has no job
  // yet gets its index marked complete before its first jobs are stored (CompleteNewIndexes; if
  // the store fails there, nothing is stored and that error is every job's answer). An index
  // entry the store refuses is not an error of the store call (the jobs are durable): it is
  // logged and counted (index_failures), and the sweep repairs it.
  // Holds the locks of the jobs' projects shared throughout (ProjectLocks::Share).
  std::vector<Result<StoredJob>> StoreMany(std::span<const Job> jobs);
  // The same with a last check of the jobs, which the store's writes may overlap (so it runs
  // with the locks held): when it fails, nothing is stored and the answer is its status.
  Result<std::vector<Result<StoredJob>>> StoreManyChecked(std::span<const Job> jobs,
                                                          const std::function<Status()>& check);

  // The stored bytes of a job in their canonical form (the bytes its digest was computed from;
  // see core/stored_job.h), with the store's read padding. kNotFound if there is none; kInternal
  // with reason "corrupt_object", naming the object, if its bytes no longer match their digest.
  Result<std::string> ReadRaw(std::string_view project, int64_t job_id);

  // Who checks that a loaded job's object IDs are unique: Load (the default), or the caller,
  // which diffs the state (DiffStates checks every ID of both states) and on a repeated ID loads
  // again with kByLoad to name the corrupt job. With kByTheDiff a job whose digest verifies is
  // not indexed again on load (POST /process validated exactly those bytes); one without a
  // digest, from before sealing, still is.
  enum class IdCheck { kByLoad, kByTheDiff };

  // Reads, checks and parses a stored job. kNotFound if there is none; kInternal with reason
  // "corrupt_object", naming the object, if the stored bytes do not match their digest or do not
  // parse (or, with kByLoad, hold an object ID twice).
  Result<std::unique_ptr<ParsedJobs>> Load(std::string_view project, int64_t job_id,
                                           IdCheck ids = IdCheck::kByLoad);

  // A stored job's header: from memory when this process has stored or read the job before,
  // otherwise read and parsed like Load. Errors as Load.
  Result<JobHeader> LoadHeader(std::string_view project, int64_t job_id);

  // A stored job's status: from memory (JobStatusCache) when this process has stored or read the
  // job before, otherwise from its header (LoadHeader). Errors as Load.
  Result<JobStatus> LoadStatus(std::string_view project, int64_t job_id);

  // The project's stored job IDs, ascending.
  Result<std::vector<int64_t>> ListJobIds(std::string_view project);

  // Every project with its job count and latest (highest) job ID, by name.
  Result<std::vector<ProjectSummary>> ListProjects();

  // Adds to the index every stored job of `project` it lacks (reading their statuses), then
  // marks the index complete. Returns the jobs it added, ascending. Costs a listing of the
  // project's jobs and of its index: for the sweep, never for a request. Holds the project's lock
  // shared.
  Result<std::vector<IndexedJob>> BackfillIndex(std::string_view project);

  JobIndex& index() { return index_; }
  // The locks that keep this process's writes of a project away from its deletion.
  ProjectLocks& project_locks() { return locks_; }
  // Forgets the headers and statuses of the project's jobs (its job IDs may come back as other
  // jobs once it is deleted). The caller holds the project's lock exclusively.
  void ForgetProject(std::string_view project);
  // Index additions and completions the store refused since this repository was made.
  uint64_t index_failures() const { return index_failures_.load(std::memory_order_relaxed); }

  StateStore& store() { return store_; }

  // Stored objects found corrupt since this repository was made (for GET /metrics).
  uint64_t corrupt_objects() const { return corrupt_objects_.load(std::memory_order_relaxed); }
  // Counts a corrupt object and gives `status` the reason "corrupt_object".
  Status Corrupt(Status status);
  // Why the store refused the last job this process tried to store, when no job has been stored
  // since (a project folder that cannot be written, a disk that filled up); for /readyz.
  std::optional<std::string> last_write_failure();

  // The header cache holds at most this many bytes (its estimate: a fixed cost per entry plus the
  // bytes of the entry's strings), however large the jobs' metadata.
  static constexpr size_t kMaxCachedHeaderBytes = 8 << 20;
  // What the header cache holds now, in that estimate.
  size_t cached_header_bytes();

 private:
  void RememberHeader(const JobHeader& header);
  void NoteWrites(const std::vector<Status>& created);
  // Before a batch is stored (in the store's preparation, once the batch is known to be taken),
  // with the projects' locks held: marks the index of each project that has no job yet
  // complete, while it is empty, adding it to `marked`. Decided after storing, a request could
  // not tell its own jobs from those that concurrent first requests stored meanwhile, and the
  // project would be listed again on every request. A project that has jobs but no complete
  // index (stored by an earlier version) is listed once per process and left to the sweep. A
  // store error is the batch's: nothing is stored, and the client's retry marks the project.
  Status CompleteNewIndexes(std::span<const std::string_view> projects,
                            std::vector<std::string>& marked);
  // Adds the jobs stored by StoreMany (results[i].ok()) to the index; a project of `marked`
  // whose jobs cannot be added loses its mark again (JobIndex::Unmark).
  void IndexStored(std::span<const Job> jobs, const std::vector<Result<StoredJob>>& results,
                   std::span<const std::string> marked);
  Result<StoredJob> ResolveExisting(const Job& job, const std::string& name,
                                    const std::string& digest);
  // Reads a job object and turns it into its canonical bytes, checking the digest kept with it.
  Result<std::string> ReadChecked(const std::string& name);
  // Counts the stored job `project`/`job_id` as corrupt and says so: which job, which object in
  // which store, what is wrong (`problem`) and what to do; reason "corrupt_object".
  Status CorruptJob(std::string_view project, int64_t job_id, std::string_view problem);

  StateStore& store_;
  ParseLimits limits_;
  std::mutex headers_mutex_;
  // "<project>/<job_id>" -> header. Emptied when one more header would take it past
  // kMaxCachedHeaderBytes: a simple bound, and re-reading a header costs one job read. A bound
  // on the count of headers alone would not do: a header's metadata may hold 270 KB.
  std::unordered_map<std::string, JobHeader> headers_;
  size_t header_bytes_ = 0;
  std::atomic<uint64_t> corrupt_objects_{0};
  JobStatusCache statuses_;
  JobIndex index_;
  ProjectLocks locks_;
  std::atomic<uint64_t> index_failures_{0};
  // Projects found with jobs and no complete index, not listed again (CompleteNewIndexes);
  // emptied when it reaches kMaxUnindexedProjects.
  static constexpr size_t kMaxUnindexedProjects = 10'000;
  std::mutex unindexed_mutex_;
  std::unordered_set<std::string> unindexed_;  // guarded by unindexed_mutex_
  std::mutex write_failure_mutex_;
  std::optional<std::string> last_write_failure_;  // guarded by write_failure_mutex_
};

// The fields in which two jobs differ, in document order ("job_id", "project", "timestamp",
// "latency_ms", "status", "metadata", "state"); empty when they are the same job. The order of
// the metadata keys and of the objects does not matter, and timestamps are compared as instants
// (to the millisecond), so "2026-11-28T10:00:00Z" and "2026-11-28T10:00:00+00:00" are equal.
std::vector<std::string> DifferingFields(const Job& a, const Job& b);

// DifferingFields(a, b).empty().
bool SameJob(const Job& a, const Job& b);

}  // namespace buildtrace
