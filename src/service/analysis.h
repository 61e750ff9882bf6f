// Background analysis of one job: its comparison with the base lineage chooses, kept in the store
// and recorded as the job's lineage row (ReportService::Analyse), then an analysis record beside
// it that the jobs page and the sweep read without opening the report:
//   analysis/<project>/<16 digits>/<19-digit job>-<19-digit base or "none">-l<skipped>.json
// (the job's folder of the job index; one record per lineage the job was analysed against; the
// one with the greatest base, then the greatest skipped count, is current). A job that arrives
// late changes the lineage of the jobs after it: analysing a job for the first time enqueues the
// jobs that follow it (JobIndex::Following) and were analysed already, which are then analysed
// again and superseded; a job analysed while a late one arrives checks its lineage once more
// after writing its record (so one of the two always sees the other). The follow-ups are sent
// before the job's first record is written, so a task redelivered after a crash in between sends
// them again.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/diff.h"
#include "core/job.h"
#include "core/status.h"
#include "queue/analysis_queue.h"
#include "service/job_repository.h"
#include "service/report_service.h"

namespace buildtrace {

struct AnalysisRecord {
  int64_t job_id = 0;
  std::optional<int64_t> base_job_id;
  int64_t skipped_failed = 0;  // the lineage's listed failed jobs (l<n> in the name)
  JobStatus status = JobStatus::kSucceeded;
  std::string timestamp;
  double latency_ms = 0;
  DiffCounts counts;

  bool operator==(const AnalysisRecord&) const = default;
};

// The record's name, and the folder holding the records of the jobs in `job_id`'s index folder.
std::string AnalysisRecordName(std::string_view project, int64_t job_id,
                               std::optional<int64_t> base_job_id, int64_t skipped_failed);
std::string AnalysisFolder(std::string_view project, int64_t job_id);
// "analysis/<project>/": the folder of all the project's records.
std::string AnalysisProjectFolder(std::string_view project);

// What a record's name says: nullopt for a name that is not a record's.
struct AnalysisRecordKey {
  int64_t job_id = 0;
  std::optional<int64_t> base_job_id;
  int64_t skipped_failed = 0;
  // The current of two records of one job: the greater base, then the greater skipped count.
  bool operator<(const AnalysisRecordKey& other) const;
  bool operator==(const AnalysisRecordKey&) const = default;
};
std::optional<AnalysisRecordKey> ParseAnalysisRecordName(std::string_view leaf);

// The current record (greatest key) of each analysed job in `job_id`'s folder, by job ID: one
// listing.
Result<std::map<int64_t, AnalysisRecordKey>> CurrentRecords(StateStore& store,
                                                            std::string_view project,
                                                            int64_t job_id);

std::string EncodeAnalysisRecord(const AnalysisRecord& record);
Result<AnalysisRecord> ParseAnalysisRecord(std::string_view json);

// Where a task that failed every attempt is kept for an operator:
// "deadletters/<project>/<19-digit job>.json".
std::string DeadLetterName(std::string_view project, int64_t job_id);
// "deadletters/<project>/": the folder of the project's dead letters.
std::string DeadLetterFolder(std::string_view project);

// Thread-safe if the repository, the report service and the queue are.
class Analyzer {
 public:
  // `queue` receives the follow-up tasks of late arrivals; may be null (none are sent).
  Analyzer(JobRepository& jobs, ReportService& reports, AnalysisQueue* queue)
      : jobs_(jobs), reports_(reports), queue_(queue) {}

  // Analyses the job `task` names. Ok when it is analysed, and also when no such job is stored
  // (a task for a job that never was: nothing to do). kUnavailable when a backend failed or the
  // row could not be kept even in the outbox (retry later); kInternal for a corrupt job (retrying
  // does not help). Holds the project's lock (JobRepository::project_locks) shared.
  Status Analyse(const AnalysisTask& task);

  JobRepository& jobs() { return jobs_; }

  // Follow-up tasks that could not be published (the sweep finds those jobs).
  uint64_t follow_ups_lost() const { return follow_ups_lost_.load(); }

 private:
  // One analysis against the lineage the index gives now; the record's key.
  Result<AnalysisRecordKey> AnalyseOnce(const AnalysisTask& task, const JobHeader& header);
  // Enqueues the analysed jobs whose lineage a late `task` job changed (a queue that refuses
  // them leaves them to the sweep).
  Status FollowUp(const AnalysisTask& task);

  JobRepository& jobs_;
  ReportService& reports_;
  AnalysisQueue* queue_;
  std::atomic<uint64_t> follow_ups_lost_{0};
};

}  // namespace buildtrace
