// A page of a project's jobs, newest first, for GET /projects/{project}/jobs: each job's header
// fields and, once analysed, its current analysis record (base and counts). Costs the same at
// 100 jobs as at 1 000 000: the job index's folders, the analysis records' folders and one small
// read per job on the page.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "service/analysis.h"
#include "service/job_repository.h"

namespace buildtrace {

enum class AnalysisState { kPending, kAnalysed, kDeadLetter };
const char* AnalysisStateName(AnalysisState state);  // "pending", "analysed", "dead_letter"

struct JobPageEntry {
  int64_t job_id = 0;
  JobStatus status = JobStatus::kSucceeded;
  std::string timestamp;  // RFC 3339 UTC
  double latency_ms = 0;
  AnalysisState analysis = AnalysisState::kPending;
  std::optional<AnalysisRecord> record;  // when analysed: the current record
};

struct JobPage {
  std::vector<JobPageEntry> jobs;
  std::optional<int64_t> next_before;  // pass as `before` for the next page; none at the end
};

// The project's jobs with an ID below `before` (all when absent), newest first, at most `limit`.
// kNotFound when the project has no jobs at all; store errors as they are. Holds the project's
// lock shared (JobRepository::project_locks).
Result<JobPage> ReadJobPage(JobRepository& jobs, std::string_view project,
                            std::optional<int64_t> before, size_t limit);

}  // namespace buildtrace
