// Lineage: which stored job a job is compared with. The base is the latest job of the same
// project with a smaller ID whose status is "succeeded"; gaps in the IDs and failed jobs are
// skipped and reported, never silently. A request may name any other stored job instead.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/job.h"
#include "core/status.h"

namespace buildtrace {

struct BaseSelection {
  std::optional<int64_t> base_job_id;   // none: no earlier succeeded job
  bool explicit_base = false;           // named by the request rather than chosen
  std::vector<int64_t> skipped_failed;  // failed jobs between the base and the job, newest first
  int64_t missing_ids = 0;              // IDs between the base (or 0) and the job never posted
  // The run of failed jobs was longer than skipped_failed lists (a cap keeps base selection's
  // cost flat); missing_ids is then not counted (0).
  bool skipped_failed_capped = false;

  bool operator==(const BaseSelection&) const = default;
};

// Chooses the base of `job_id`. `earlier_ids` are the project's stored job IDs smaller than
// `job_id`, ascending. `status_of` reads a stored job's status; it is called newest first and
// only until a succeeded job is found, and its errors are returned as they are.
Result<BaseSelection> SelectBase(int64_t job_id, std::span<const int64_t> earlier_ids,
                                 const std::function<Result<JobStatus>(int64_t)>& status_of);

// The selection for an explicit base=B.
BaseSelection ExplicitBase(int64_t base_job_id);

// One or two sentences on why this base, e.g. "Job 120 is the latest earlier job that
// succeeded; failed job 122 was skipped; 1 job ID in between was never posted."
std::string ExplainBase(int64_t job_id, const BaseSelection& selection);

}  // namespace buildtrace
