// The metrics warehouse: one lineage row per (project, job) with the job's status, its change
// counts against its lineage base and the build latency, and the latency quantiles computed by
// the warehouse itself. Implementations: sqlite_warehouse (the embedded default),
// postgres_warehouse, bigquery_warehouse.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/job.h"
#include "core/status.h"

namespace buildtrace {

struct MetricsRow {
  std::string project;
  int64_t job_id = 0;
  std::optional<int64_t> base_job_id;  // none for a job with no earlier job
  std::string timestamp;               // the job's timestamp, RFC 3339 in UTC ("...Z")
  int64_t timestamp_ms = 0;            // the same instant, milliseconds since the Unix epoch
  double latency_ms = 0;
  int64_t added = 0;
  int64_t removed = 0;
  int64_t modified = 0;  // moved + resized + retyped + changed
  int64_t unchanged = 0;
  int64_t moved = 0;
  int64_t resized = 0;
  int64_t retyped = 0;
  int64_t changed = 0;
  JobStatus status = JobStatus::kSucceeded;  // failed jobs have rows too

  bool operator==(const MetricsRow&) const = default;
};

// Which jobs a latency query counts, by their status.
enum class LatencyStatusFilter { kSucceeded, kFailed, kAll };

struct LatencyQuery {
  std::optional<std::string> project;  // all projects when absent
  int64_t from_ms = 0;                 // window start, inclusive, ms since the epoch
  int64_t to_ms = 0;                   // window end, inclusive
  std::vector<double> quantiles;       // each in [0, 1]
  LatencyStatusFilter status = LatencyStatusFilter::kSucceeded;
};

struct LatencyStats {
  int64_t count = 0;  // jobs in the window, each counted once however many rows it has
  // One value per requested quantile, in the same order; empty optionals when count is 0.
  std::vector<std::optional<double>> values;
};

// What every warehouse requires of its input, checked in one place: job ids (and a base, when
// there is one) start at 1; each quantile is in [0, 1]. kInvalidArgument with a message for the
// caller to prefix with the backend and the operation.
Status CheckMetricsRow(const MetricsRow& row);
Status CheckLatencyQuery(const LatencyQuery& query);
// kInvalidArgument unless `project` satisfies IsValidProjectName (for DeleteProject).
Status CheckProjectName(std::string_view project);

// Whether `row`'s base can be a lineage base: none, or an earlier job (base_job_id < job_id).
// Rows of older versions with base_job_id >= job_id were ad-hoc comparisons.
bool HasLineageBase(const MetricsRow& row);

// How Record settles `row` against the base of the job's stored lineage row (nullopt when the
// job has none; 0 stands for "no base"), by the rule in MetricsWarehouse::Record: kKeep writes
// nothing (the answer is false), kInsert and kReplace write `row` (true).
enum class RecordOutcome { kInsert, kKeep, kReplace };
RecordOutcome SettleRecord(std::optional<int64_t> stored_base, const MetricsRow& row);

// All methods are safe to call concurrently from any thread and from several instances sharing
// one warehouse.
class MetricsWarehouse {
 public:
  virtual ~MetricsWarehouse() = default;

  // Keeps exactly one lineage row per (project, job_id). A job's lineage base only ever grows
  // (jobs are never deleted; a succeeded job arriving late between a job and its base becomes
  // its new base), with "no base" below every id. In one transaction, atomic against concurrent
  // callers and other instances:
  //  - the job has no row: writes `row`, returns true;
  //  - its row has the same base: leaves it as it is (counts, latency, status), returns false;
  //  - its row has a smaller base: replaces it with `row`, returns true;
  //  - its row has a greater base: leaves it (`row` is a stale analysis), returns false.
  // The comparison is against the job's greatest stored base below job_id; the job's other rows
  // (written by older versions, whose key included the base) are deleted: those with
  // base_job_id >= job_id (ad-hoc comparisons, never a lineage base) and those with a smaller
  // base than the row kept. A `row` whose base is >= job_id is not a lineage row: nothing is
  // written and the answer is false. kUnavailable when the warehouse cannot be reached; safe to
  // retry, never duplicates. (BigQuery, which cannot update, appends instead and settles the
  // rule when it reads: see bigquery_warehouse.h.)
  virtual Result<bool> Record(const MetricsRow& row) = 0;

  // Latency quantiles over the jobs whose timestamp lies in [from_ms, to_ms] and whose status
  // passes query.status (succeeded only unless told), each job counted once through its lineage
  // row (its row with the greatest base below job_id; its status and latency are that row's;
  // rows written before statuses were stored count as succeeded). The quantile definition is the
  // implementation's own and is documented there.
  virtual Result<LatencyStats> Latency(const LatencyQuery& query) = 0;

  // Deletes every row of `project` (its lineage rows and any others an older version kept), so
  // that Latency and queries on the table no longer see the project. Returns how many rows were
  // deleted: 0 when the project has none, which is Ok (deleting twice is Ok twice). One
  // statement, atomic against concurrent callers: a Record that commits after it writes a new
  // row, which stays (keeping Record away meanwhile is the caller's business: see
  // service/project_deletion.h). Does not change the Epoch. kUnavailable when the warehouse
  // cannot be reached or refuses for now; safe to retry. `project` must satisfy
  // IsValidProjectName (kInvalidArgument otherwise).
  virtual Result<int64_t> DeleteProject(std::string_view project) = 0;

  // Checks that the warehouse can be reached and used (for /readyz): it reads from the
  // warehouse's tables, so a corrupt database fails (kInternal) where a bare connection check
  // would pass. Cheap enough to call every few seconds.
  virtual Status Probe() = 0;

  // A token that names the warehouse's current body of rows. It stays the same while the
  // rows recorded so far are kept, and changes when they are lost: a new database file,
  // a dropped and re-created table, a database restored over. Created on first use if the
  // warehouse has none. kUnavailable when the warehouse cannot be reached.
  virtual Result<std::string> Epoch() = 0;

  // The warehouse's URL without secrets, for logs and error messages.
  virtual std::string Describe() const = 0;
};

}  // namespace buildtrace
