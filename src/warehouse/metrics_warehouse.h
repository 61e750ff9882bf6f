// The metrics warehouse: one row per analysed (project, job, base) with the change counts and the
// build latency, and the latency quantiles computed by the warehouse itself.
// Implementations: sqlite_warehouse (the embedded default); later PostgreSQL and BigQuery.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

  bool operator==(const MetricsRow&) const = default;
};

struct LatencyQuery {
  std::optional<std::string> project;  // all projects when absent
  int64_t from_ms = 0;                 // window start, inclusive, ms since the epoch
  int64_t to_ms = 0;                   // window end, inclusive
  std::vector<double> quantiles;       // each in [0, 1]
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

// All methods are safe to call concurrently from any thread and from several instances sharing
// one warehouse.
class MetricsWarehouse {
 public:
  virtual ~MetricsWarehouse() = default;

  // Writes `row` unless a row with the same (project, job_id, base_job_id) exists.
  // Returns true if this call wrote it, false if it was there already (the stored row is left as
  // it was). kUnavailable when the warehouse cannot be reached; safe to retry, never duplicates.
  virtual Result<bool> Record(const MetricsRow& row) = 0;

  // Latency quantiles over the jobs whose timestamp lies in [from_ms, to_ms], each job counted
  // once. The quantile definition is the implementation's own and is documented there.
  virtual Result<LatencyStats> Latency(const LatencyQuery& query) = 0;

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
