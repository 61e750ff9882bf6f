// Deleting a project (DELETE /projects/{project}, `buildtrace delete-project`): everything
// BuildTrace keeps of it, so that a run started over can post its job IDs again. The object store
// is the source of truth; the warehouse rows and the outbox entries follow it.
//
// What goes, in this order, so that a deletion cut short (a store or warehouse error) leaves a
// project the sweep and the reports make whole again, and a second call finishes:
//  1. the outbox entries (MetricsOutbox::DiscardProject, after a running pass);
//  2. what analysis derived from the jobs: kept comparisons (reports/), analysis records
//     (analysis/) and dead letters (deadletters/); the sweep would make them again;
//  3. the warehouse rows (MetricsWarehouse::DeleteProject); re-analysing records them again;
//  4. the job index (JobIndex::RemoveProject), its "complete" marker first;
//  5. the jobs (jobs/), last: until they are gone the project exists.
// Then this process forgets what it cached of the project (headers, statuses, index markers,
// re-recorded comparisons).
//
// Concurrency: the whole deletion holds the project's lock (ProjectLocks) exclusively, so no
// write of the project by this process (a POST /process, a report, an analysis, the sweep, the
// outbox) interleaves with it: each happens wholly before the deletion (and is deleted) or
// wholly after it (and is kept). Other processes sharing the store and the warehouse are not
// held back: see docs/api.md, "DELETE /projects/{project}", for what that means.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "service/job_repository.h"
#include "service/metrics_outbox.h"
#include "service/report_service.h"
#include "warehouse/metrics_warehouse.h"

namespace buildtrace {

// What a deletion removed; all 0 for a project that had nothing (never was, or deleted before).
struct DeletedProject {
  std::string project;
  int64_t jobs = 0;              // stored jobs (jobs/)
  int64_t index_entries = 0;     // objects of the job index
  int64_t reports = 0;           // kept comparisons (reports/)
  int64_t analysis_records = 0;  // analysis records (analysis/)
  int64_t dead_letters = 0;      // analysis tasks given up on (deadletters/)
  int64_t outbox_entries = 0;    // metrics rows waiting for the warehouse (outbox/)
  int64_t warehouse_rows = 0;    // as the warehouse counts them (MetricsWarehouse::DeleteProject)

  bool operator==(const DeletedProject&) const = default;
};

// Thread-safe if its parts are. `jobs`, `reports`, `warehouse` and `outbox` (may be null: the
// entries are then deleted from the store directly) must outlive it, and be the ones every
// writer of this process uses: the project locks are `jobs`'s.
class ProjectDeletion {
 public:
  ProjectDeletion(JobRepository& jobs, ReportService& reports, MetricsWarehouse& warehouse,
                  MetricsOutbox* outbox)
      : jobs_(jobs), reports_(reports), warehouse_(warehouse), outbox_(outbox) {}

  // Deletes the project (see above). Idempotent: a project with nothing left is Ok, all counts
  // 0. kInvalidArgument (reason "invalid_request") for a name that fails IsValidProjectName;
  // otherwise the store's or the warehouse's error, prefixed with "deleting project P: " and the
  // step, saying that the deletion is partial and to retry it.
  Result<DeletedProject> Delete(std::string_view project);

 private:
  Status DeleteLocked(std::string_view project, DeletedProject& deleted);

  JobRepository& jobs_;
  ReportService& reports_;
  MetricsWarehouse& warehouse_;
  MetricsOutbox* outbox_;
};

}  // namespace buildtrace
