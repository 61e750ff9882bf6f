// The jobs page: the index gives the IDs, the analysis folders the records.
#include "service/job_page.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/timestamp.h"

namespace buildtrace {
namespace {

// The page's jobs from the index, or from a listing while the project's index is being built.
Result<std::vector<IndexedJob>> PageIds(JobRepository& jobs, std::string_view project,
                                        std::optional<int64_t> before, size_t count) {
  std::vector<IndexedJob> out;
  Result<bool> indexed = jobs.index().IsComplete(project);
  if (!indexed.ok()) return indexed.status();
  if (*indexed) {
    Status walked = jobs.index().Descending(project, before, [&](const IndexedJob& job) {
      out.push_back(job);
      return out.size() < count;
    });
    if (!walked.ok()) return walked;
    return out;
  }
  Result<std::vector<int64_t>> ids = jobs.ListJobIds(project);
  if (!ids.ok()) return ids.status();
  for (auto it = ids->rbegin(); it != ids->rend() && out.size() < count; ++it) {
    if (before && *it >= *before) continue;
    Result<JobStatus> status = jobs.LoadStatus(project, *it);
    if (!status.ok()) return status.status();
    out.push_back(IndexedJob{*it, *status});
  }
  return out;
}

}  // namespace

const char* AnalysisStateName(AnalysisState state) {
  switch (state) {
    case AnalysisState::kPending:
      return "pending";
    case AnalysisState::kAnalysed:
      return "analysed";
    case AnalysisState::kDeadLetter:
      return "dead_letter";
  }
  return "pending";
}

Result<JobPage> ReadJobPage(JobRepository& jobs, std::string_view project,
                            std::optional<int64_t> before, size_t limit) {
  // Reading caches the jobs' headers: not while the project is being deleted.
  const ProjectLocks::Held held = jobs.project_locks().Share(project);
  // One more than asked, to know whether there is a next page.
  Result<std::vector<IndexedJob>> ids = PageIds(jobs, project, before, limit + 1);
  if (!ids.ok()) return ids.status();
  if (ids->empty() && !before) {
    return NotFound("project " + std::string(project) + " has no jobs");
  }
  JobPage page;
  if (ids->size() > limit) {
    ids->pop_back();
    page.next_before = ids->back().job_id;
  }
  Result<std::vector<std::string>> dead = jobs.store().List(DeadLetterFolder(project));
  if (!dead.ok()) return dead.status();
  const std::set<std::string> dead_letters(dead->begin(), dead->end());
  std::string folder;
  std::map<int64_t, AnalysisRecordKey> current;
  for (const IndexedJob& id : *ids) {
    if (std::string f = AnalysisFolder(project, id.job_id); f != folder) {
      folder = std::move(f);
      Result<std::map<int64_t, AnalysisRecordKey>> records =
          CurrentRecords(jobs.store(), project, id.job_id);
      if (!records.ok()) return records.status();
      current = std::move(*records);
    }
    JobPageEntry entry;
    entry.job_id = id.job_id;
    entry.status = id.status;
    if (auto it = current.find(id.job_id); it != current.end()) {
      const AnalysisRecordKey& key = it->second;
      const std::string name =
          AnalysisRecordName(project, key.job_id, key.base_job_id, key.skipped_failed);
      Result<std::string> bytes = jobs.store().Read(name);
      if (!bytes.ok()) return bytes.status();
      Result<AnalysisRecord> record = ParseAnalysisRecord(*bytes);
      if (!record.ok()) return jobs.Corrupt(record.status().WithContext(name + ": "));
      entry.timestamp = record->timestamp;
      entry.latency_ms = record->latency_ms;
      entry.analysis = AnalysisState::kAnalysed;
      entry.record = std::move(*record);
    } else {
      Result<JobHeader> header = jobs.LoadHeader(project, id.job_id);
      if (!header.ok()) return header.status();
      entry.timestamp = FormatRfc3339Utc(header->timestamp_ms);
      entry.latency_ms = header->latency_ms;
      if (dead_letters.count(DeadLetterName(project, id.job_id))) {
        entry.analysis = AnalysisState::kDeadLetter;
      }
    }
    page.jobs.push_back(std::move(entry));
  }
  return page;
}

}  // namespace buildtrace
