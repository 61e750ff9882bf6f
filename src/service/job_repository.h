// Where jobs live in the state store, and the rules for storing them: a job is written once under
// jobs/<project>/<job_id as 19 digits>.json and never overwritten. The zero-padded ID makes the
// store's byte-ordered listing the numeric order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/job.h"
#include "core/job_parser.h"
#include "core/status.h"
#include "store/state_store.h"

namespace buildtrace {

// "jobs/<project>/<19-digit job_id>.json". `project` must satisfy IsValidProjectName.
std::string JobObjectName(std::string_view project, int64_t job_id);

struct StoredJob {
  std::string digest;  // "sha256:<hex>" of the stored bytes
  bool created = false;  // false: the same job was stored before
};

struct ProjectSummary {
  std::string project;
  int64_t jobs = 0;
  int64_t latest_job_id = 0;
};

// Thread-safe if the store is (it holds no state of its own).
class JobRepository {
 public:
  JobRepository(StateStore& store, ParseLimits limits) : store_(store), limits_(limits) {}

  // Stores a validated job durably. Storing the same job again (same fields and the same
  // objects, in any order) returns created == false and the stored digest. kConflict if a
  // different job is stored under the same (project, job_id); the stored one stays as it was.
  // kUnavailable if the store fails.
  Result<StoredJob> Store(const Job& job);

  // The stored bytes of a job (kNotFound if there is none), with the store's read padding.
  Result<std::string> ReadRaw(std::string_view project, int64_t job_id);

  // Reads and parses a stored job. kNotFound if there is none; kInternal if the stored bytes do
  // not parse (corruption), naming the object.
  Result<std::unique_ptr<ParsedJobs>> Load(std::string_view project, int64_t job_id);

  // The project's stored job IDs, ascending.
  Result<std::vector<int64_t>> ListJobIds(std::string_view project);

  // Every project with its job count and latest (highest) job ID, by name.
  Result<std::vector<ProjectSummary>> ListProjects();

  StateStore& store() { return store_; }

 private:
  Result<StoredJob> ResolveExisting(const Job& job, const std::string& name,
                                    const std::string& bytes);

  StateStore& store_;
  ParseLimits limits_;
};

// True if the two jobs have the same header fields and the same objects; the order of the
// metadata keys and of the objects does not matter.
bool SameJob(const Job& a, const Job& b);

}  // namespace buildtrace
