// The embedded metrics warehouse: one SQLite file (WAL mode, synchronous=FULL) holding the
// job_metrics table and, over it, the view job_results for the original service's queries. It is
// the default for single-machine deployments and is a real product, not a test double; it passes
// testing/metrics_warehouse_conformance like every other warehouse.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "warehouse/metrics_warehouse.h"

struct sqlite3;

namespace buildtrace {

struct SqliteLatencySql;  // the SQL text of one scope (all projects or one), in the .cc

// Schema version this build writes and understands (kept in PRAGMA user_version).
//  1: job_metrics and its timestamp index.
//  2: adds job_latency (then: each job's smallest timestamp_ms and latency_ms over its rows),
//     kept by triggers on job_metrics, and buildtrace_meta (key TEXT PRIMARY KEY, value TEXT)
//     holding the epoch.
//  3: job_metrics gains `status` TEXT ('succeeded' / 'failed'; NULL on rows written before, which
//     count as succeeded: Record leaves a row of the same base as it is, so they keep NULL until
//     their job is recorded against a greater base; `buildtrace rebuild-metrics` into a new file
//     writes every row with its status); job_latency is
//     one row per (project, job_id) holding the job's lineage row (the one with the greatest
//     base_job_id below job_id): base_job_id, status, timestamp_ms, latency_ms, indexed on
//     (status, timestamp_ms, latency_ms), (project, status, timestamp_ms, latency_ms),
//     (status, latency_ms, timestamp_ms) and (project, status, latency_ms, timestamp_ms), kept
//     by triggers on job_metrics (insert, delete, update), so rows written or deleted by hand
//     keep it right; job_latency_count (status, jobs) holds job_latency's number of rows of
//     each status, kept by triggers on job_latency. A version 1 or 2 file is migrated on open,
//     under BEGIN IMMEDIATE (so two processes opening it at once migrate it once): the column is
//     added, job_latency is dropped and made again from job_metrics. job_metrics keeps its key
//     (project, job_id, base_job_id), so rows of older versions (several per job) stay until
//     Record settles the job (see MetricsWarehouse::Record).
//  4: adds the view job_results, for queries written for the original service (whose table had
//     that name): one row per succeeded job, its lineage row (the one job_latency names), with
//     columns timestamp (the stored RFC 3339 text), job_id, latency_ms, total_added,
//     total_removed, total_modified, total_unchanged (added, removed, modified, unchanged) and
//     project; failed jobs and rows of other bases are not in it. A version 3 file gains the
//     view on open (nothing else changes); older ones migrate as above, then gain it. A table
//     named job_results (not ours) is refused with kInvalidArgument.
inline constexpr int kSqliteWarehouseSchemaVersion = 4;

// Latency quantiles use the nearest-rank definition (the same as PostgreSQL percentile_disc):
// with the n jobs of the window sorted by latency, quantile q is the latency of the job at rank
// ceil(q * n), clamped to [1, n]; so q = 0 gives the minimum and q = 1 the maximum. The rank is
// computed with a 1e-9 tolerance so that products that are integers in decimal (0.95 * 20 = 19)
// are not pushed to the next rank by binary rounding.
//
// Each job counts once, with its lineage row's status, latency and timestamp (job_latency).
// Record runs in one BEGIN IMMEDIATE transaction: read the job's lineage base, delete the rows
// the rule drops, insert.
//
// Cost: the quantiles come from job_latency's indexes, never from a sort of job_metrics. For one
// status (the default, succeeded, or failed), the count of the scope's jobs is one row of
// job_latency_count over all projects and an index range count for one project; the window's
// count is the scope's when the window holds all of it, else an index range count of the window
// (or of the time outside it, whichever is shorter); each quantile of rank r among n is then either
// a walk of the latency index from the nearer end (ascending when r <= n / 2, else descending,
// skipping the jobs outside the window) or, when the window is a small part of the jobs so that
// walking would skip too much, one read of the window's latencies from the timestamp index and a
// selection in memory; the cheaper is chosen from the counts. For both statuses (kAll) the
// window's latencies of each status are read and the quantiles selected in memory (O(window)).
//
// Epoch: a random 128-bit hex id in buildtrace_meta, created with the schema. The warehouse
// remembers the file's (st_dev, st_ino) at open; Epoch() and Probe() stat the path and, when the
// file is missing or is another file (deleted, replaced, restored over), close the connection
// and open the path again, creating a new database and so a new epoch. Record and Latency do not
// check (they would keep using the old file until the next Epoch or Probe).
//
// Errors: a failing SQLite call gives kUnavailable (locked, I/O error, cannot open...), except a
// file that is not a SQLite database or is corrupt, which gives kInternal. Messages name the
// backend, the file, the operation and the object, e.g.
// "sqlite warehouse /x/metrics.db: record job 12 of project p: database is locked".
//
// Thread safety: all methods may be called concurrently; one connection is shared under a mutex.
// Several instances or processes may open the same file; SQLite's locking (with a busy timeout,
// 5 s unless told otherwise) keeps them consistent.
class SqliteWarehouse : public MetricsWarehouse {
 public:
  static constexpr std::chrono::milliseconds kDefaultBusyTimeout{5000};

  // How much work SQLite did for the last Latency call (sqlite3_stmt_status summed over its
  // statements), for tests and benchmarks that check the cost by counting instead of timing.
  // With concurrent calls it is one of them.
  struct LatencyWork {
    int64_t vm_steps = 0;        // SQLITE_STMTSTATUS_VM_STEP
    int64_t fullscan_steps = 0;  // SQLITE_STMTSTATUS_FULLSCAN_STEP
    int64_t sorts = 0;           // SQLITE_STMTSTATUS_SORT
    int64_t autoindexes = 0;     // SQLITE_STMTSTATUS_AUTOINDEX
    int64_t rows_read = 0;       // latencies read into memory (the small-window plan)
  };

  // Opens the database at `db_path`, creating it and its parent directories if missing, and
  // creates or migrates the schema. `busy_timeout`: how long a call waits for another
  // connection's lock before it fails with kUnavailable ("database is locked"). Fails with:
  //  - kUnavailable when the directory or the file cannot be created or opened, or is locked;
  //  - kInternal when the file exists but is not a SQLite database;
  //  - kInvalidArgument when the file was written by a newer schema version than this build's,
  //    or holds a table named job_results (see version 4).
  static Result<std::unique_ptr<SqliteWarehouse>> Open(
      const std::string& db_path, std::chrono::milliseconds busy_timeout = kDefaultBusyTimeout);

  ~SqliteWarehouse() override = default;
  SqliteWarehouse(const SqliteWarehouse&) = delete;
  SqliteWarehouse& operator=(const SqliteWarehouse&) = delete;

  // kInvalidArgument when job_id < 1 or base_job_id is present and < 1 (job ids start at 1;
  // a missing base is stored as 0).
  Result<bool> Record(const MetricsRow& row) override;
  // kInvalidArgument when a quantile is outside [0, 1] (or NaN).
  Result<LatencyStats> Latency(const LatencyQuery& query) override;
  // DELETE FROM job_metrics (the triggers keep job_latency and its counts); the count of
  // job_metrics rows deleted.
  Result<int64_t> DeleteProject(std::string_view project) override;
  // Reads the epoch from buildtrace_meta (and reopens first if the file was deleted or
  // replaced, see above), so a corrupt file gives kInternal, a locked one kUnavailable.
  Status Probe() override;
  // The epoch (see above); reopens first like Probe.
  Result<std::string> Epoch() override;
  // "sqlite://" followed by the absolute path of the file.
  std::string Describe() const override;

  LatencyWork LastLatencyWork();
  std::chrono::milliseconds busy_timeout() const { return busy_timeout_; }

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  using Connection = std::unique_ptr<sqlite3, Closer>;
  struct FileId {
    dev_t device = 0;
    ino_t inode = 0;
    bool operator==(const FileId&) const = default;
  };
  struct Opened {
    Connection db;
    FileId file;
    FileId wal;  // the -wal file's, when there is one
  };

  SqliteWarehouse(Opened opened, std::string path, std::chrono::milliseconds busy_timeout);

  static Result<Opened> OpenConnection(const std::string& path,
                                       std::chrono::milliseconds busy_timeout);
  // With mutex_ held: reopens when the path is missing or another file than the one open.
  Status ReopenIfReplaced();
  // With mutex_ held: opens the path again if an earlier reopen failed and left no connection.
  Status EnsureOpen();
  Result<std::string> ReadEpoch(bool create);
  Result<LatencyStats> LatencyLocked(const LatencyQuery& query, LatencyWork& work);
  // The two ways to pick the quantiles' values once the window's count is known (see above).
  Status PickByWalking(const SqliteLatencySql& sql, const LatencyQuery& query, bool whole_scope,
                       const std::vector<int64_t>& ranks, LatencyStats& stats, LatencyWork& work);
  Status PickFromWindow(const SqliteLatencySql& sql, const LatencyQuery& query,
                        const std::vector<int64_t>& ranks, LatencyStats& stats, LatencyWork& work);
  // Appends the latencies of the window's jobs of query.status (not kAll) to `latencies`.
  Status ReadWindow(const SqliteLatencySql& sql, const LatencyQuery& query,
                    std::vector<double>& latencies, LatencyWork& work);
  // kAll: the window's latencies of both statuses, read and selected in memory.
  Result<LatencyStats> LatencyOfAllStatuses(const LatencyQuery& query, LatencyWork& work);
  // Record's work inside its transaction.
  Result<bool> RecordLocked(const MetricsRow& row);

  std::mutex mutex_;  // guards every use of db_, file_ and last_work_
  Connection db_;
  FileId file_;
  FileId wal_;
  LatencyWork last_work_;
  const std::string path_;  // absolute
  const std::chrono::milliseconds busy_timeout_;
};

}  // namespace buildtrace
