// The rebuild walk: one pass over each project's jobs, two parsed states in memory at a time.
#include "service/metrics_rebuild.h"

#include "core/diff.h"
#include "service/report_service.h"

namespace buildtrace {
namespace {

// One project's walk; `p` accumulates the counts.
Status RebuildProject(JobRepository& jobs, MetricsWarehouse& warehouse, const std::string& project,
                      const RebuildOptions& options, RebuildProgress& p,
                      const std::function<void(const RebuildProgress&)>& progress,
                      const std::function<void(const std::string&)>& warn) {
  Result<std::vector<int64_t>> ids = jobs.ListJobIds(project);
  if (!ids.ok()) return ids.status();
  std::unique_ptr<ParsedJobs> base;  // the latest succeeded job so far
  static const JobState kEmpty;
  for (int64_t id : *ids) {
    Result<std::unique_ptr<ParsedJobs>> loaded = jobs.Load(project, id);
    if (!loaded.ok()) {
      if (loaded.status().reason() != "corrupt_object") return loaded.status();
      ++p.corrupt;
      warn(loaded.status().message() + "; skipped");
      continue;
    }
    const Job& job = (*loaded)->jobs().front();
    Report report;
    report.job = job.header;
    if (base) report.base.base_job_id = base->jobs().front().header.job_id;
    Result<DiffResult> diff = DiffStates(base ? base->jobs().front().state : kEmpty, job.state, 0);
    if (!diff.ok())
      return Internal("stored job " + std::to_string(id) + " of project " + project +
                      " is corrupt: " + diff.status().message());
    report.diff = std::move(*diff);
    Result<bool> inserted = warehouse.Record(MetricsRowFor(report));
    if (!inserted.ok()) return inserted.status();
    ++(*inserted ? p.written : p.present);
    if (job.header.status == JobStatus::kSucceeded) base = std::move(*loaded);
    if (++p.jobs % options.progress_every == 0) progress(p);
  }
  return Status::Ok();
}

}  // namespace

Result<RebuildProgress> RebuildMetrics(JobRepository& jobs, MetricsWarehouse& warehouse,
                                       const RebuildOptions& options,
                                       const std::function<void(const RebuildProgress&)>& progress,
                                       const std::function<void(const std::string&)>& warn) {
  std::vector<std::string> projects;
  if (options.project) {
    projects.push_back(*options.project);
  } else {
    Result<std::vector<ProjectSummary>> all = jobs.ListProjects();
    if (!all.ok()) return all.status();
    for (const ProjectSummary& s : *all) projects.push_back(s.project);
  }
  RebuildProgress p;
  for (const std::string& project : projects) {
    p.project = project;
    if (Status s = RebuildProject(jobs, warehouse, project, options, p, progress, warn); !s.ok()) {
      progress(p);
      return s;
    }
    ++p.projects;
  }
  p.project.clear();
  progress(p);
  return p;
}

}  // namespace buildtrace
