// ProjectDeletion: the steps of a deletion, under the project's exclusive lock.
#include "service/project_deletion.h"

#include "service/analysis.h"
#include "service/log.h"

namespace buildtrace {

Result<DeletedProject> ProjectDeletion::Delete(std::string_view project) {
  if (!IsValidProjectName(project)) {
    return InvalidArgument(
               "the project in /projects/{project} must be 1-128 characters of A-Z, a-z, 0-9, "
               "'.', '_' or '-', starting with a letter or digit")
        .WithReason("invalid_request");
  }
  DeletedProject deleted;
  deleted.project = std::string(project);
  Status done;
  {
    const ProjectLocks::Held held = jobs_.project_locks().Exclusive(project);
    done = DeleteLocked(project, deleted);
    // Also after a partial deletion: what is cached may be gone. Under the lock, so that no
    // writer of this process caches the project again in between.
    jobs_.ForgetProject(project);
    reports_.ForgetProject(project);
  }
  if (!done.ok()) {
    LogWarning("deleting project " + std::string(project) + " stopped part-way: " + done.message());
    return done;
  }
  LogInfo("project " + std::string(project) + " deleted: " + std::to_string(deleted.jobs) +
          " job(s), " + std::to_string(deleted.warehouse_rows) + " warehouse row(s)");
  return deleted;
}

Status ProjectDeletion::DeleteLocked(std::string_view project, DeletedProject& deleted) {
  const std::string context = "deleting project " + std::string(project) + ": ";
  const std::string partial =
      "; the deletion is partial (the jobs are kept until the last step), "
      "send the DELETE again to finish it";
  auto failed = [&](const Status& status, const std::string& step) {
    return Status(status.code(), context + step + ": " + status.message() + partial);
  };
  StateStore& store = jobs_.store();
  Result<int64_t> outbox = outbox_ != nullptr ? outbox_->DiscardProject(project)
                                              : DeleteObjectsUnder(store, OutboxFolder(project));
  if (!outbox.ok()) return failed(outbox.status(), "the outbox entries");
  deleted.outbox_entries = *outbox;
  const struct {
    std::string folder;
    int64_t* count;
    const char* what;
  } derived[] = {
      {KeptReportFolder(project), &deleted.reports, "the kept reports"},
      {AnalysisProjectFolder(project), &deleted.analysis_records, "the analysis records"},
      {DeadLetterFolder(project), &deleted.dead_letters, "the dead letters"},
  };
  for (const auto& [folder, count, what] : derived) {
    Result<int64_t> n = DeleteObjectsUnder(store, folder);
    if (!n.ok()) return failed(n.status(), what);
    *count = *n;
  }
  Result<int64_t> rows = warehouse_.DeleteProject(project);
  if (!rows.ok()) return failed(rows.status(), "the warehouse rows");
  deleted.warehouse_rows = *rows;
  Result<int64_t> index = jobs_.index().RemoveProject(project);
  if (!index.ok()) return failed(index.status(), "the job index");
  deleted.index_entries = *index;
  Result<int64_t> jobs = DeleteObjectsUnder(store, JobFolder(project));
  if (!jobs.ok()) return failed(jobs.status(), "the jobs");
  deleted.jobs = *jobs;
  return Status::Ok();
}

}  // namespace buildtrace
