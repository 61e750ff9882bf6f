// The embedded metrics warehouse: one SQLite file (WAL mode, synchronous=FULL) holding the
// job_metrics table. It is the default for single-machine deployments and is a real product, not
// a test double; it passes testing/metrics_warehouse_conformance like every other warehouse.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "core/status.h"
#include "warehouse/metrics_warehouse.h"

struct sqlite3;

namespace buildtrace {

// Schema version this build writes and understands (kept in PRAGMA user_version).
inline constexpr int kSqliteWarehouseSchemaVersion = 1;

// Latency quantiles use the nearest-rank definition (the same as PostgreSQL percentile_disc):
// with the n jobs of the window sorted by latency, quantile q is the latency of the job at rank
// ceil(q * n), clamped to [1, n]; so q = 0 gives the minimum and q = 1 the maximum. The rank is
// computed with a 1e-9 tolerance so that products that are integers in decimal (0.95 * 20 = 19)
// are not pushed to the next rank by binary rounding. The whole computation, including picking
// the value, runs inside SQLite in one statement.
//
// A job recorded against several bases is counted once; its latency is taken from its rows
// (they are equal by construction; the smallest is used if they ever differ).
//
// Errors: a failing SQLite call gives kUnavailable (locked, I/O error, cannot open...), except a
// file that is not a SQLite database or is corrupt, which gives kInternal. Messages name the
// backend, the file, the operation and the object, e.g.
// "sqlite warehouse /x/metrics.db: record job 12 of project p: database is locked".
//
// Thread safety: all methods may be called concurrently; one connection is shared under a mutex.
// Several instances or processes may open the same file; SQLite's locking (with a 5 s busy
// timeout) keeps them consistent.
class SqliteWarehouse : public MetricsWarehouse {
 public:
  // Opens the database at `db_path`, creating it and its parent directories if missing, and
  // creates the schema if the file is new. Fails with:
  //  - kUnavailable when the directory or the file cannot be created or opened;
  //  - kInternal when the file exists but is not a SQLite database;
  //  - kInvalidArgument when the file was written by a newer schema version than this build's.
  static Result<std::unique_ptr<SqliteWarehouse>> Open(const std::string& db_path);

  ~SqliteWarehouse() override = default;
  SqliteWarehouse(const SqliteWarehouse&) = delete;
  SqliteWarehouse& operator=(const SqliteWarehouse&) = delete;

  // kInvalidArgument when job_id < 1 or base_job_id is present and < 1 (job ids start at 1;
  // a missing base is stored as 0).
  Result<bool> Record(const MetricsRow& row) override;
  // kInvalidArgument when a quantile is outside [0, 1] (or NaN).
  Result<LatencyStats> Latency(const LatencyQuery& query) override;
  Status Probe() override;
  // "sqlite://" followed by the absolute path of the file.
  std::string Describe() const override;

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  using Connection = std::unique_ptr<sqlite3, Closer>;

  SqliteWarehouse(Connection db, std::string path);

  std::mutex mutex_;  // guards every use of db_
  Connection db_;
  const std::string path_;  // absolute
};

}  // namespace buildtrace
