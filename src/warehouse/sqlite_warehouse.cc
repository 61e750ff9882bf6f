// SqliteWarehouse: the metrics warehouse in one SQLite file. Every value reaches SQLite through a
// bound parameter; the only SQL text is the constants below.
#include "warehouse/sqlite_warehouse.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace buildtrace {
namespace {

namespace fs = std::filesystem;

static_assert(kSqliteWarehouseSchemaVersion == 4, "update the schema statements");
// The tables of every version: from nothing they are made with version 3's columns; an older
// job_metrics gains `status` in EnsureSchema.
constexpr const char* kCreateTablesSql = R"sql(
CREATE TABLE IF NOT EXISTS job_metrics (
  project      TEXT    NOT NULL,
  job_id       INTEGER NOT NULL,
  base_job_id  INTEGER NOT NULL,  -- 0 when the job has no base (job ids start at 1)
  timestamp    TEXT    NOT NULL,  -- RFC 3339, UTC
  timestamp_ms INTEGER NOT NULL,
  latency_ms   REAL    NOT NULL,
  added        INTEGER NOT NULL,
  removed      INTEGER NOT NULL,
  modified     INTEGER NOT NULL,
  unchanged    INTEGER NOT NULL,
  moved        INTEGER NOT NULL,
  resized      INTEGER NOT NULL,
  retyped      INTEGER NOT NULL,
  changed      INTEGER NOT NULL,
  recorded_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  status       TEXT,              -- 'succeeded' or 'failed'; NULL (older rows) = succeeded
  PRIMARY KEY (project, job_id, base_job_id)
);
CREATE INDEX IF NOT EXISTS job_metrics_by_timestamp ON job_metrics (timestamp_ms);
CREATE TABLE IF NOT EXISTS buildtrace_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO buildtrace_meta (key, value) VALUES ('epoch', lower(hex(randomblob(16))));
)sql";

constexpr const char* kHasStatusColumnSql =
    "SELECT COUNT(*) FROM pragma_table_info('job_metrics') WHERE name = 'status'";
constexpr const char* kAddStatusColumnSql = "ALTER TABLE job_metrics ADD COLUMN status TEXT";

// job_latency as version 3 keeps it, made again from job_metrics (a version 2 job_latency held
// every job's smallest values over all its rows): each job's lineage row, the one with the
// greatest base below job_id (SQLite takes the bare columns of a GROUP BY from the row that
// gave the MAX). Filled before its indexes and triggers exist: one pass, then each index built
// once. The triggers follow every change of job_metrics, so rows written or deleted by hand keep
// it right. job_latency_count holds job_latency's number of rows of each status, kept by
// triggers on job_latency, so that counting a status's jobs over all projects reads one row
// instead of a range of an index.
constexpr const char* kRebuildJobLatencySql = R"sql(
DROP TRIGGER IF EXISTS job_metrics_insert_keeps_job_latency;
DROP TRIGGER IF EXISTS job_metrics_delete_keeps_job_latency;
DROP TRIGGER IF EXISTS job_metrics_update_keeps_job_latency;
DROP TABLE IF EXISTS job_latency;
DROP TABLE IF EXISTS job_latency_count;
CREATE TABLE job_latency (
  project      TEXT    NOT NULL,
  job_id       INTEGER NOT NULL,
  base_job_id  INTEGER NOT NULL,  -- the lineage row's
  status       TEXT    NOT NULL,  -- the lineage row's, 'succeeded' when it has none
  timestamp_ms INTEGER NOT NULL,  -- the lineage row's
  latency_ms   REAL    NOT NULL,  -- the lineage row's
  PRIMARY KEY (project, job_id)
) WITHOUT ROWID;
INSERT INTO job_latency (project, job_id, base_job_id, status, timestamp_ms, latency_ms)
  SELECT project, job_id, MAX(base_job_id), COALESCE(status, 'succeeded'), timestamp_ms,
         latency_ms
  FROM job_metrics WHERE base_job_id < job_id GROUP BY project, job_id;
CREATE INDEX job_latency_by_timestamp ON job_latency (status, timestamp_ms, latency_ms);
CREATE INDEX job_latency_by_project_timestamp
  ON job_latency (project, status, timestamp_ms, latency_ms);
CREATE INDEX job_latency_by_latency ON job_latency (status, latency_ms, timestamp_ms);
CREATE INDEX job_latency_by_project_latency
  ON job_latency (project, status, latency_ms, timestamp_ms);
CREATE TABLE job_latency_count (
  status TEXT    PRIMARY KEY,  -- as in job_latency
  jobs   INTEGER NOT NULL      -- job_latency's rows of that status
) WITHOUT ROWID;
INSERT INTO job_latency_count (status, jobs) SELECT status, COUNT(*) FROM job_latency GROUP BY status;
CREATE TRIGGER job_latency_insert_keeps_count AFTER INSERT ON job_latency
BEGIN
  INSERT INTO job_latency_count (status, jobs) VALUES (NEW.status, 1)
  ON CONFLICT (status) DO UPDATE SET jobs = jobs + 1;
END;
CREATE TRIGGER job_latency_delete_keeps_count AFTER DELETE ON job_latency
BEGIN
  UPDATE job_latency_count SET jobs = jobs - 1 WHERE status = OLD.status;
END;
CREATE TRIGGER job_latency_update_keeps_count AFTER UPDATE OF status ON job_latency
WHEN OLD.status IS NOT NEW.status
BEGIN
  UPDATE job_latency_count SET jobs = jobs - 1 WHERE status = OLD.status;
  INSERT INTO job_latency_count (status, jobs) VALUES (NEW.status, 1)
  ON CONFLICT (status) DO UPDATE SET jobs = jobs + 1;
END;
CREATE TRIGGER job_metrics_insert_keeps_job_latency AFTER INSERT ON job_metrics
WHEN NEW.base_job_id < NEW.job_id
BEGIN
  INSERT INTO job_latency (project, job_id, base_job_id, status, timestamp_ms, latency_ms)
  VALUES (NEW.project, NEW.job_id, NEW.base_job_id, COALESCE(NEW.status, 'succeeded'),
          NEW.timestamp_ms, NEW.latency_ms)
  ON CONFLICT (project, job_id) DO UPDATE SET
    base_job_id = excluded.base_job_id, status = excluded.status,
    timestamp_ms = excluded.timestamp_ms, latency_ms = excluded.latency_ms
  WHERE excluded.base_job_id > job_latency.base_job_id;
END;
CREATE TRIGGER job_metrics_delete_keeps_job_latency AFTER DELETE ON job_metrics
BEGIN
  DELETE FROM job_latency WHERE project = OLD.project AND job_id = OLD.job_id;
  INSERT INTO job_latency (project, job_id, base_job_id, status, timestamp_ms, latency_ms)
    SELECT project, job_id, MAX(base_job_id), COALESCE(status, 'succeeded'), timestamp_ms,
           latency_ms
    FROM job_metrics WHERE project = OLD.project AND job_id = OLD.job_id AND base_job_id < job_id
    GROUP BY project, job_id;
END;
CREATE TRIGGER job_metrics_update_keeps_job_latency
AFTER UPDATE OF project, job_id, base_job_id, timestamp_ms, latency_ms, status ON job_metrics
BEGIN
  DELETE FROM job_latency WHERE (project = OLD.project AND job_id = OLD.job_id)
                             OR (project = NEW.project AND job_id = NEW.job_id);
  INSERT INTO job_latency (project, job_id, base_job_id, status, timestamp_ms, latency_ms)
    SELECT project, job_id, MAX(base_job_id), COALESCE(status, 'succeeded'), timestamp_ms,
           latency_ms
    FROM job_metrics
    WHERE ((project = OLD.project AND job_id = OLD.job_id)
        OR (project = NEW.project AND job_id = NEW.job_id)) AND base_job_id < job_id
    GROUP BY project, job_id;
END;
)sql";

// Version 4: job_results, the original service's table as a view of each succeeded job's lineage
// row (job_latency names it by its base), under the original's column names; one row per job,
// no row copied. Made again (not IF NOT EXISTS) so that a later version may change it.
constexpr const char* kJobResultsKindSql =
    "SELECT type FROM sqlite_master WHERE name = 'job_results'";
constexpr const char* kCreateJobResultsSql = R"sql(
DROP VIEW IF EXISTS job_results;
CREATE VIEW job_results AS
SELECT m.timestamp AS timestamp, m.job_id AS job_id, m.latency_ms AS latency_ms,
       m.added AS total_added, m.removed AS total_removed, m.modified AS total_modified,
       m.unchanged AS total_unchanged, m.project AS project
FROM job_latency AS l
JOIN job_metrics AS m
  ON m.project = l.project AND m.job_id = l.job_id AND m.base_job_id = l.base_job_id
WHERE l.status = 'succeeded';
PRAGMA user_version = 4;
)sql";

// Record, in one BEGIN IMMEDIATE transaction: the base of the job's lineage row, then the
// deletion of the rows the rule drops (?3: the base kept), then the insert if any.
constexpr const char* kStoredBaseSql =
    "SELECT MAX(base_job_id) FROM job_metrics "
    "WHERE project = ?1 AND job_id = ?2 AND base_job_id < job_id";
constexpr const char* kDropOtherRowsSql =
    "DELETE FROM job_metrics WHERE project = ?1 AND job_id = ?2 "
    "AND (base_job_id >= job_id OR base_job_id < ?3)";
constexpr const char* kDeleteProjectSql = "DELETE FROM job_metrics WHERE project = ?1";
constexpr const char* kRecordSql = R"sql(
INSERT INTO job_metrics (project, job_id, base_job_id, timestamp, timestamp_ms, latency_ms,
                         added, removed, modified, unchanged, moved, resized, retyped, changed,
                         status)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
)sql";

// The latency statements, in two spellings: over all projects (?1, ?2: the window; ?5: the
// status) and over one (?3: the project). Each names its index, so that the plan never depends
// on the planner's guesses: the bounds are two index seeks; the count of all projects' jobs of a
// status is one row of job_latency_count, every other count a range count of a timestamp index;
// a walk skips ?4 entries of a latency index (the `scope_` ones when the window holds every job
// of the scope, so there is nothing to check per entry); a read returns the window's latencies
// from a timestamp index.
}  // namespace

struct SqliteLatencySql {
  const char* bounds;
  const char* count_scope;
  const char* count_window;
  const char* count_outside;  // the scope's jobs before ?1 or after ?2
  const char* walk_window_ascending;
  const char* walk_window_descending;
  const char* walk_scope_ascending;
  const char* walk_scope_descending;
  const char* read_window;
};

namespace {

constexpr SqliteLatencySql kAllProjectsSql = {
    "SELECT (SELECT MIN(timestamp_ms) FROM job_latency INDEXED BY job_latency_by_timestamp "
    "WHERE status = ?5), (SELECT MAX(timestamp_ms) FROM job_latency "
    "INDEXED BY job_latency_by_timestamp WHERE status = ?5)",
    "SELECT COALESCE((SELECT jobs FROM job_latency_count WHERE status = ?5), 0)",
    "SELECT COUNT(*) FROM job_latency INDEXED BY job_latency_by_timestamp "
    "WHERE status = ?5 AND timestamp_ms BETWEEN ?1 AND ?2",
    "SELECT (SELECT COUNT(*) FROM job_latency INDEXED BY job_latency_by_timestamp "
    "WHERE status = ?5 AND timestamp_ms < ?1) + (SELECT COUNT(*) FROM job_latency "
    "INDEXED BY job_latency_by_timestamp WHERE status = ?5 AND timestamp_ms > ?2)",
    "SELECT latency_ms FROM job_latency INDEXED BY job_latency_by_latency "
    "WHERE status = ?5 AND timestamp_ms BETWEEN ?1 AND ?2 ORDER BY latency_ms LIMIT 1 OFFSET ?4",
    "SELECT latency_ms FROM job_latency INDEXED BY job_latency_by_latency "
    "WHERE status = ?5 AND timestamp_ms BETWEEN ?1 AND ?2 ORDER BY latency_ms DESC "
    "LIMIT 1 OFFSET ?4",
    "SELECT latency_ms FROM job_latency INDEXED BY job_latency_by_latency "
    "WHERE status = ?5 ORDER BY latency_ms LIMIT 1 OFFSET ?4",
    "SELECT latency_ms FROM job_latency INDEXED BY job_latency_by_latency "
    "WHERE status = ?5 ORDER BY latency_ms DESC LIMIT 1 OFFSET ?4",
    "SELECT latency_ms FROM job_latency INDEXED BY job_latency_by_timestamp "
    "WHERE status = ?5 AND timestamp_ms BETWEEN ?1 AND ?2",
};

constexpr SqliteLatencySql kOneProjectSql = {
    "SELECT (SELECT MIN(timestamp_ms) FROM job_latency "
    "INDEXED BY job_latency_by_project_timestamp WHERE project = ?3 AND status = ?5), "
    "(SELECT MAX(timestamp_ms) FROM job_latency "
    "INDEXED BY job_latency_by_project_timestamp WHERE project = ?3 AND status = ?5)",
    "SELECT COUNT(*) FROM job_latency INDEXED BY job_latency_by_project_timestamp "
    "WHERE project = ?3 AND status = ?5",
    "SELECT COUNT(*) FROM job_latency INDEXED BY job_latency_by_project_timestamp "
    "WHERE project = ?3 AND status = ?5 AND timestamp_ms BETWEEN ?1 AND ?2",
    "SELECT (SELECT COUNT(*) FROM job_latency INDEXED BY job_latency_by_project_timestamp "
    "WHERE project = ?3 AND status = ?5 AND timestamp_ms < ?1) + (SELECT COUNT(*) FROM "
    "job_latency INDEXED BY job_latency_by_project_timestamp "
    "WHERE project = ?3 AND status = ?5 AND timestamp_ms > ?2)",
    "SELECT latency_ms FROM job_latency INDEXED BY job_latency_by_project_latency "
    "WHERE project = ?3 AND status = ?5 AND timestamp_ms BETWEEN ?1 AND ?2 "
    "ORDER BY latency_ms LIMIT 1 OFFSET ?4",
    "SELECT latency_ms FROM job_latency INDEXED BY job_latency_by_project_latency "
    "WHERE project = ?3 AND status = ?5 AND timestamp_ms BETWEEN ?1 AND ?2 "
    "ORDER BY latency_ms DESC LIMIT 1 OFFSET ?4",
    "SELECT latency_ms FROM job_latency INDEXED BY job_latency_by_project_latency "
    "WHERE project = ?3 AND status = ?5 ORDER BY latency_ms LIMIT 1 OFFSET ?4",
    "SELECT latency_ms FROM job_latency INDEXED BY job_latency_by_project_latency "
    "WHERE project = ?3 AND status = ?5 ORDER BY latency_ms DESC LIMIT 1 OFFSET ?4",
    "SELECT latency_ms FROM job_latency INDEXED BY job_latency_by_project_timestamp "
    "WHERE project = ?3 AND status = ?5 AND timestamp_ms BETWEEN ?1 AND ?2",
};

constexpr const char* kMmapSizeSql = "PRAGMA mmap_size = 1073741824";

// Reading a latency into memory costs about this many skipped index entries of a walk (measured
// with bench/warehouse_benchmark); the plan with the smaller estimate is taken.
constexpr double kReadCostInSkips = 2.0;

constexpr const char* kReadEpochSql = "SELECT value FROM buildtrace_meta WHERE key = 'epoch'";
constexpr const char* kCreateEpochSql =
    "INSERT OR IGNORE INTO buildtrace_meta (key, value) "
    "VALUES ('epoch', lower(hex(randomblob(16))))";
// Touches every table the warehouse uses, so that a corrupt page of any of their roots shows.
constexpr const char* kProbeSql =
    "SELECT (SELECT value FROM buildtrace_meta WHERE key = 'epoch'), "
    "EXISTS (SELECT 1 FROM job_metrics), EXISTS (SELECT 1 FROM job_latency), "
    "EXISTS (SELECT 1 FROM job_latency_count)";

struct Finalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using Statement = std::unique_ptr<sqlite3_stmt, Finalizer>;

std::string Prefix(const std::string& path) { return "sqlite warehouse " + path + ": "; }

// The Status for the last failure on `db`. A file that is not a database cannot be fixed by
// retrying, so it is kInternal; everything else (locked, I/O, cannot open) may pass.
Status SqliteError(sqlite3* db, const std::string& path, const std::string& operation) {
  const int code = db == nullptr ? SQLITE_NOMEM : sqlite3_errcode(db);
  std::string message =
      Prefix(path) + operation + ": " + (db == nullptr ? "out of memory" : sqlite3_errmsg(db));
  if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
    return Internal(
        message + "; the file is not a usable SQLite database: restore it or choose another path");
  }
  return Unavailable(message + "; check that the file is reachable and writable, then retry");
}

int Prepare(sqlite3* db, const char* sql, Statement& out) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  out.reset(raw);
  return rc;
}

int BindOne(sqlite3_stmt* s, int i, int64_t v) { return sqlite3_bind_int64(s, i, v); }
int BindOne(sqlite3_stmt* s, int i, double v) { return sqlite3_bind_double(s, i, v); }
int BindOne(sqlite3_stmt* s, int i, const std::string& v) {
  return sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
int BindOne(sqlite3_stmt* s, int i, const std::optional<std::string>& v) {
  return v ? BindOne(s, i, *v) : sqlite3_bind_null(s, i);
}

// Binds args to ?1, ?2, ... in order; stops at the first failure and returns its code.
template <typename... Args>
int BindAll(sqlite3_stmt* statement, const Args&... args) {
  int index = 0;
  int rc = SQLITE_OK;
  ((rc = rc == SQLITE_OK ? BindOne(statement, ++index, args) : rc), ...);
  return rc;
}

// Runs constant SQL (no values) such as pragmas and the schema.
int Exec(sqlite3* db, const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }

Result<int> ReadUserVersion(sqlite3* db, const std::string& path) {
  Statement statement;
  if (Prepare(db, "PRAGMA user_version", statement) != SQLITE_OK ||
      sqlite3_step(statement.get()) != SQLITE_ROW) {
    return SqliteError(db, path, "read schema version");
  }
  return sqlite3_column_int(statement.get(), 0);
}

// Makes job_results (version 4), refusing to replace a table of that name that is not ours.
Status CreateJobResults(sqlite3* db, const std::string& path) {
  Statement kind;
  if (Prepare(db, kJobResultsKindSql, kind) != SQLITE_OK) {
    return SqliteError(db, path, "look for job_results");
  }
  const int rc = sqlite3_step(kind.get());
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqliteError(db, path, "look for job_results");
  if (rc == SQLITE_ROW && std::string_view(reinterpret_cast<const char*>(
                              sqlite3_column_text(kind.get(), 0))) != "view") {
    return InvalidArgument(Prefix(path) +
                           "the database has a table job_results, the name of BuildTrace's view "
                           "for the original service's queries; rename or drop that table");
  }
  kind.reset();
  if (Exec(db, kCreateJobResultsSql) != SQLITE_OK) {
    return SqliteError(db, path, "create the job_results view");
  }
  return Status::Ok();
}

// Brings a file of schema `version` to version 4 inside EnsureSchema's transaction: from nothing,
// 1 or 2, the tables and job_latency as version 3 has them (a pass over every row); from 3, only
// the view.
Status MigrateSchema(sqlite3* db, const std::string& path, int version) {
  if (version >= 3) return CreateJobResults(db, path);
  if (Exec(db, kCreateTablesSql) != SQLITE_OK) return SqliteError(db, path, "create schema");
  Statement has_status;
  if (Prepare(db, kHasStatusColumnSql, has_status) != SQLITE_OK ||
      sqlite3_step(has_status.get()) != SQLITE_ROW) {
    return SqliteError(db, path, "read the columns of job_metrics");
  }
  const bool add_status = sqlite3_column_int(has_status.get(), 0) == 0;
  has_status.reset();
  if (add_status && Exec(db, kAddStatusColumnSql) != SQLITE_OK) {
    return SqliteError(db, path, "add the status column");
  }
  if (Exec(db, kRebuildJobLatencySql) != SQLITE_OK) {
    return SqliteError(db, path, "rebuild job_latency");
  }
  return CreateJobResults(db, path);
}

// Creates the schema inside one write transaction so that two processes opening a new file at
// the same time do not race; refuses a file written by a newer schema.
Status EnsureSchema(sqlite3* db, const std::string& path) {
  if (Exec(db, "BEGIN IMMEDIATE") != SQLITE_OK) return SqliteError(db, path, "begin schema check");
  Result<int> version = ReadUserVersion(db, path);
  Status status;
  if (!version.ok()) {
    status = version.status();
  } else if (*version > kSqliteWarehouseSchemaVersion) {
    status = InvalidArgument(Prefix(path) + "the database has schema version " +
                             std::to_string(*version) + " but this build supports up to " +
                             std::to_string(kSqliteWarehouseSchemaVersion) +
                             "; upgrade BuildTrace or choose another path");
  } else if (*version < kSqliteWarehouseSchemaVersion) {
    status = MigrateSchema(db, path, *version);
  }
  if (status.ok() && Exec(db, "COMMIT") != SQLITE_OK) {
    status = SqliteError(db, path, "commit schema");
  }
  if (!status.ok()) Exec(db, "ROLLBACK");
  return status;
}

Status Configure(sqlite3* db, const std::string& path, std::chrono::milliseconds busy_timeout) {
  if (sqlite3_busy_timeout(db, static_cast<int>(busy_timeout.count())) != SQLITE_OK) {
    return SqliteError(db, path, "set busy timeout");
  }
  if (Exec(db, "PRAGMA journal_mode=WAL") != SQLITE_OK) {
    return SqliteError(db, path, "enable WAL journal");
  }
  if (Exec(db, "PRAGMA synchronous=FULL") != SQLITE_OK) {
    return SqliteError(db, path, "set synchronous=FULL");
  }
  // The quantiles walk hundreds of thousands of index entries; through read() each page costs a
  // system call, through the map it does not (3-5x faster over 1M jobs). Only address space is
  // reserved; the pages are the OS's file cache, and writes still go through the WAL.
  if (Exec(db, kMmapSizeSql) != SQLITE_OK) return SqliteError(db, path, "set mmap_size");
  return EnsureSchema(db, path);
}

Status CreateParentDirectory(const fs::path& path) {
  const fs::path parent = path.parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec || !fs::is_directory(parent, ec)) {
    return Unavailable(Prefix(path.string()) + "create directory " + parent.string() + ": " +
                       (ec ? ec.message() : "exists and is not a directory") +
                       "; choose a path whose parent is or can be a directory");
  }
  return Status::Ok();
}

std::string RecordOperation(const MetricsRow& row) {
  return "record job " + std::to_string(row.job_id) + " of project " + row.project;
}

std::string LatencyOperation(const LatencyQuery& query) {
  return "latency of " + (query.project ? "project " + *query.project : "all projects") + " in [" +
         std::to_string(query.from_ms) + ", " + std::to_string(query.to_ms) + "]";
}

// Nearest rank of quantile q among n >= 1 jobs: ceil(q * n) with a 1e-9 tolerance, in [1, n].
int64_t NearestRank(double q, int64_t n) {
  const double x = q * static_cast<double>(n) - 1e-9;
  return std::clamp(static_cast<int64_t>(std::ceil(x)), int64_t{1}, n);
}

// Whether the window covers more than half of [first, last], the scope's timestamps (a guess of
// which count is cheaper; either is exact).
bool MostOfTheTime(const LatencyQuery& query, int64_t first, int64_t last) {
  const double covered = static_cast<double>(std::min(query.to_ms, last)) -
                         static_cast<double>(std::max(query.from_ms, first));
  return covered * 2 > static_cast<double>(last) - static_cast<double>(first);
}

// The index entries the walks for `ranks` among the window's n jobs visit, each from the nearer
// end, when the window's jobs are spread evenly among the scope's `scope` jobs.
double WalkCost(const std::vector<int64_t>& ranks, int64_t n, int64_t scope) {
  double entries = 0;
  for (int64_t rank : ranks) {
    entries += static_cast<double>(std::min(rank - 1, n - rank)) * static_cast<double>(scope) /
               static_cast<double>(n);
  }
  return entries;
}

// The job_latency status a single-status query selects (kAll is answered status by status).
std::string StatusOf(LatencyStatusFilter filter) {
  return JobStatusName(filter == LatencyStatusFilter::kFailed ? JobStatus::kFailed
                                                              : JobStatus::kSucceeded);
}

// One statement of a Latency call: prepared, bound to the query (and `offset` as ?4 when the
// text has it), its work added to `work` when it is finalized.
class LatencyStatement {
 public:
  LatencyStatement(sqlite3* db, const char* sql, const LatencyQuery& query,
                   SqliteWarehouse::LatencyWork& work, int64_t offset = 0)
      : work_(work) {
    rc_ = Prepare(db, sql, statement_);
    const int parameters = rc_ == SQLITE_OK ? sqlite3_bind_parameter_count(statement_.get()) : 0;
    sqlite3_stmt* s = statement_.get();
    if (parameters >= 1 && rc_ == SQLITE_OK) rc_ = BindOne(s, 1, query.from_ms);
    if (parameters >= 2 && rc_ == SQLITE_OK) rc_ = BindOne(s, 2, query.to_ms);
    if (parameters >= 3 && rc_ == SQLITE_OK) rc_ = BindOne(s, 3, query.project);
    if (parameters >= 4 && rc_ == SQLITE_OK) rc_ = BindOne(s, 4, offset);
    if (parameters >= 5 && rc_ == SQLITE_OK) rc_ = BindOne(s, 5, StatusOf(query.status));
  }
  ~LatencyStatement() {
    if (statement_ == nullptr) return;
    sqlite3_stmt* s = statement_.get();
    work_.vm_steps += sqlite3_stmt_status(s, SQLITE_STMTSTATUS_VM_STEP, 0);
    work_.fullscan_steps += sqlite3_stmt_status(s, SQLITE_STMTSTATUS_FULLSCAN_STEP, 0);
    work_.sorts += sqlite3_stmt_status(s, SQLITE_STMTSTATUS_SORT, 0);
    work_.autoindexes += sqlite3_stmt_status(s, SQLITE_STMTSTATUS_AUTOINDEX, 0);
  }
  LatencyStatement(const LatencyStatement&) = delete;
  LatencyStatement& operator=(const LatencyStatement&) = delete;

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return rc_ == SQLITE_OK ? sqlite3_step(statement_.get()) : rc_; }
  sqlite3_stmt* get() const { return statement_.get(); }

 private:
  Statement statement_;
  SqliteWarehouse::LatencyWork& work_;
  int rc_ = SQLITE_OK;
};

// Sets stats.values[i] to the latency at ranks[i] (1-based) of `latencies`, reordering them.
void SelectRanks(std::vector<double>& latencies, const std::vector<int64_t>& ranks,
                 LatencyStats& stats) {
  for (size_t i = 0; i < ranks.size(); ++i) {
    auto nth = latencies.begin() + (ranks[i] - 1);
    std::nth_element(latencies.begin(), nth, latencies.end());
    stats.values[i] = *nth;
  }
}

// The single integer a count statement returns; nullopt when SQLite failed.
std::optional<int64_t> CountOf(LatencyStatement& statement) {
  if (statement.Step() != SQLITE_ROW) return std::nullopt;
  return sqlite3_column_int64(statement.get(), 0);
}

}  // namespace

void SqliteWarehouse::Closer::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

SqliteWarehouse::SqliteWarehouse(Opened opened, std::string path,
                                 std::chrono::milliseconds busy_timeout)
    : db_(std::move(opened.db)),
      file_(opened.file),
      wal_(opened.wal),
      path_(std::move(path)),
      busy_timeout_(busy_timeout) {}

Result<SqliteWarehouse::Opened> SqliteWarehouse::OpenConnection(
    const std::string& path, std::chrono::milliseconds busy_timeout) {
  if (Status status = CreateParentDirectory(path); !status.ok()) return status;
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Connection db(raw);  // sqlite3_open_v2 may allocate a handle even when it fails
  if (rc != SQLITE_OK) return SqliteError(db.get(), path, "open");
  if (Status status = Configure(db.get(), path, busy_timeout); !status.ok()) return status;
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return Unavailable(Prefix(path) + "stat: " + std::strerror(errno) +
                       "; check that the directory is reachable");
  }
  struct stat wal {};
  const bool has_wal = ::stat((path + "-wal").c_str(), &wal) == 0;
  return Opened{std::move(db), FileId{info.st_dev, info.st_ino},
                has_wal ? FileId{wal.st_dev, wal.st_ino} : FileId{}};
}

Result<std::unique_ptr<SqliteWarehouse>> SqliteWarehouse::Open(
    const std::string& db_path, std::chrono::milliseconds busy_timeout) {
  if (db_path.empty()) {
    return InvalidArgument("sqlite warehouse: the database path is empty; give a file path");
  }
  std::error_code ec;
  fs::path path = fs::absolute(db_path, ec).lexically_normal();
  if (ec) return Unavailable(Prefix(db_path) + "resolve path: " + ec.message());
  Result<Opened> opened = OpenConnection(path.string(), busy_timeout);
  if (!opened.ok()) return opened.status();
  return std::unique_ptr<SqliteWarehouse>(
      new SqliteWarehouse(std::move(*opened), path.string(), busy_timeout));
}

Result<bool> SqliteWarehouse::Record(const MetricsRow& row) {
  if (Status status = CheckMetricsRow(row); !status.ok()) {
    return status.WithContext(Prefix(path_) + RecordOperation(row) + ": ");
  }
  if (!HasLineageBase(row)) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  if (Status status = EnsureOpen(); !status.ok()) return status;
  sqlite3* db = db_.get();
  // BEGIN IMMEDIATE takes the write lock first, so that no other connection records the job
  // between the read of its base and the write.
  if (Exec(db, "BEGIN IMMEDIATE") != SQLITE_OK) return SqliteError(db, path_, RecordOperation(row));
  Result<bool> written = RecordLocked(row);
  if (written.ok() && Exec(db, "COMMIT") != SQLITE_OK) {
    written = SqliteError(db, path_, RecordOperation(row));
  }
  if (!written.ok()) Exec(db, "ROLLBACK");
  return written;
}

Result<bool> SqliteWarehouse::RecordLocked(const MetricsRow& row) {
  sqlite3* db = db_.get();
  auto failed = [&] { return SqliteError(db, path_, RecordOperation(row)); };
  std::optional<int64_t> stored;
  {
    Statement read;
    if (Prepare(db, kStoredBaseSql, read) != SQLITE_OK ||
        BindAll(read.get(), row.project, row.job_id) != SQLITE_OK ||
        sqlite3_step(read.get()) != SQLITE_ROW) {
      return failed();
    }
    if (sqlite3_column_type(read.get(), 0) != SQLITE_NULL) {
      stored = sqlite3_column_int64(read.get(), 0);
    }
  }
  const RecordOutcome outcome = SettleRecord(stored, row);
  const int64_t kept = outcome == RecordOutcome::kKeep ? *stored : row.base_job_id.value_or(0);
  Statement drop;
  if (Prepare(db, kDropOtherRowsSql, drop) != SQLITE_OK ||
      BindAll(drop.get(), row.project, row.job_id, kept) != SQLITE_OK ||
      sqlite3_step(drop.get()) != SQLITE_DONE) {
    return failed();
  }
  if (outcome == RecordOutcome::kKeep) return false;
  Statement insert;
  if (Prepare(db, kRecordSql, insert) != SQLITE_OK ||
      BindAll(insert.get(), row.project, row.job_id, row.base_job_id.value_or(0), row.timestamp,
              row.timestamp_ms, row.latency_ms, row.added, row.removed, row.modified, row.unchanged,
              row.moved, row.resized, row.retyped, row.changed,
              std::string(JobStatusName(row.status))) != SQLITE_OK ||
      sqlite3_step(insert.get()) != SQLITE_DONE) {
    return failed();
  }
  return true;
}

Result<int64_t> SqliteWarehouse::DeleteProject(std::string_view project) {
  const std::string operation = "delete project " + std::string(project.substr(0, 128));
  if (Status status = CheckProjectName(project); !status.ok()) {
    return status.WithContext(Prefix(path_) + operation + ": ");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (Status status = EnsureOpen(); !status.ok()) return status;
  sqlite3* db = db_.get();
  // One statement is one transaction; the triggers remove the derived rows (job_latency and its
  // counts) with it.
  Statement erase;
  if (Prepare(db, kDeleteProjectSql, erase) != SQLITE_OK ||
      BindAll(erase.get(), std::string(project)) != SQLITE_OK ||
      sqlite3_step(erase.get()) != SQLITE_DONE) {
    return SqliteError(db, path_, operation);
  }
  return static_cast<int64_t>(sqlite3_changes(db));
}

Result<LatencyStats> SqliteWarehouse::Latency(const LatencyQuery& query) {
  if (Status status = CheckLatencyQuery(query); !status.ok()) {
    return status.WithContext(Prefix(path_) + LatencyOperation(query) + ": ");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (Status status = EnsureOpen(); !status.ok()) return status;
  LatencyWork work;
  // One read transaction, so that the counts and the walks see the same rows.
  if (Exec(db_.get(), "BEGIN") != SQLITE_OK) {
    return SqliteError(db_.get(), path_, LatencyOperation(query));
  }
  Result<LatencyStats> stats = query.status == LatencyStatusFilter::kAll
                                   ? LatencyOfAllStatuses(query, work)
                                   : LatencyLocked(query, work);
  Exec(db_.get(), "COMMIT");
  last_work_ = work;
  return stats;
}

Result<LatencyStats> SqliteWarehouse::LatencyLocked(const LatencyQuery& query, LatencyWork& work) {
  sqlite3* db = db_.get();
  const SqliteLatencySql& sql = query.project ? kOneProjectSql : kAllProjectsSql;
  auto failed = [&] { return SqliteError(db, path_, LatencyOperation(query)); };
  LatencyStats stats;
  stats.values.assign(query.quantiles.size(), std::nullopt);

  // The scope's first and last timestamps: when the window holds them both, n is the scope's
  // count and the walks need not look at timestamps; when it holds most of the time between
  // them, counting the jobs outside the window and subtracting visits fewer entries.
  std::optional<int64_t> first, last;
  {
    LatencyStatement bounds(db, sql.bounds, query, work);
    if (bounds.Step() != SQLITE_ROW) return failed();
    if (sqlite3_column_type(bounds.get(), 0) != SQLITE_NULL) {
      first = sqlite3_column_int64(bounds.get(), 0);
      last = sqlite3_column_int64(bounds.get(), 1);
    }
  }
  const bool whole_scope = first && query.from_ms <= *first && *last <= query.to_ms;
  std::optional<int64_t> scope, n;
  {
    LatencyStatement count(db, sql.count_scope, query, work);
    scope = CountOf(count);
  }
  if (!scope) return failed();
  if (whole_scope || !first) {
    n = whole_scope ? scope : 0;
  } else if (MostOfTheTime(query, *first, *last)) {
    LatencyStatement count(db, sql.count_outside, query, work);
    const std::optional<int64_t> outside = CountOf(count);
    if (outside) n = *scope - *outside;
  } else {
    LatencyStatement count(db, sql.count_window, query, work);
    n = CountOf(count);
  }
  if (!scope || !n) return failed();
  stats.count = *n;
  if (*n == 0 || query.quantiles.empty()) return stats;

  std::vector<int64_t> ranks;
  for (double q : query.quantiles) ranks.push_back(NearestRank(q, *n));
  Status picked = WalkCost(ranks, *n, *scope) > kReadCostInSkips * static_cast<double>(*n)
                      ? PickFromWindow(sql, query, ranks, stats, work)
                      : PickByWalking(sql, query, whole_scope, ranks, stats, work);
  if (!picked.ok()) return picked;
  return stats;
}

Status SqliteWarehouse::PickByWalking(const SqliteLatencySql& sql, const LatencyQuery& query,
                                      bool whole_scope, const std::vector<int64_t>& ranks,
                                      LatencyStats& stats, LatencyWork& work) {
  const int64_t n = stats.count;
  for (size_t i = 0; i < ranks.size(); ++i) {
    const bool ascending = ranks[i] - 1 <= n - ranks[i];
    const char* text = whole_scope
                           ? (ascending ? sql.walk_scope_ascending : sql.walk_scope_descending)
                           : (ascending ? sql.walk_window_ascending : sql.walk_window_descending);
    LatencyStatement walk(db_.get(), text, query, work, ascending ? ranks[i] - 1 : n - ranks[i]);
    if (walk.Step() != SQLITE_ROW) return SqliteError(db_.get(), path_, LatencyOperation(query));
    stats.values[i] = sqlite3_column_double(walk.get(), 0);
  }
  return Status::Ok();
}

Status SqliteWarehouse::ReadWindow(const SqliteLatencySql& sql, const LatencyQuery& query,
                                   std::vector<double>& latencies, LatencyWork& work) {
  LatencyStatement read(db_.get(), sql.read_window, query, work);
  int rc;
  while ((rc = read.Step()) == SQLITE_ROW)
    latencies.push_back(sqlite3_column_double(read.get(), 0));
  if (rc != SQLITE_DONE) return SqliteError(db_.get(), path_, LatencyOperation(query));
  work.rows_read = static_cast<int64_t>(latencies.size());
  return Status::Ok();
}

Status SqliteWarehouse::PickFromWindow(const SqliteLatencySql& sql, const LatencyQuery& query,
                                       const std::vector<int64_t>& ranks, LatencyStats& stats,
                                       LatencyWork& work) {
  std::vector<double> latencies;
  latencies.reserve(static_cast<size_t>(stats.count));
  if (Status read = ReadWindow(sql, query, latencies, work); !read.ok()) return read;
  if (work.rows_read != stats.count) {
    return Internal(Prefix(path_) + LatencyOperation(query) + ": counted " +
                    std::to_string(stats.count) + " jobs but read " +
                    std::to_string(latencies.size()) + "; this is a bug");
  }
  SelectRanks(latencies, ranks, stats);
  return Status::Ok();
}

Result<LatencyStats> SqliteWarehouse::LatencyOfAllStatuses(const LatencyQuery& query,
                                                           LatencyWork& work) {
  const SqliteLatencySql& sql = query.project ? kOneProjectSql : kAllProjectsSql;
  std::vector<double> latencies;
  for (LatencyStatusFilter status :
       {LatencyStatusFilter::kSucceeded, LatencyStatusFilter::kFailed}) {
    LatencyQuery one = query;
    one.status = status;
    if (Status read = ReadWindow(sql, one, latencies, work); !read.ok()) return read;
  }
  LatencyStats stats;
  stats.count = static_cast<int64_t>(latencies.size());
  stats.values.assign(query.quantiles.size(), std::nullopt);
  if (stats.count == 0) return stats;
  std::vector<int64_t> ranks;
  for (double q : query.quantiles) ranks.push_back(NearestRank(q, stats.count));
  SelectRanks(latencies, ranks, stats);
  return stats;
}

SqliteWarehouse::LatencyWork SqliteWarehouse::LastLatencyWork() {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_work_;
}

Status SqliteWarehouse::ReopenIfReplaced() {
  struct stat info {};
  if (::stat(path_.c_str(), &info) == 0 && FileId{info.st_dev, info.st_ino} == file_) {
    return Status::Ok();
  }
  // SQLite does not checkpoint a file that was unlinked or renamed when it closes it, and leaves
  // its -wal: a connection opened at the path would replay that file's pages into the new one.
  // So the -wal and -shm go too, when the -wal is still the one the old file had.
  db_.reset();
  struct stat wal {};
  if (!(wal_ == FileId{}) && ::stat((path_ + "-wal").c_str(), &wal) == 0 &&
      FileId{wal.st_dev, wal.st_ino} == wal_) {
    ::unlink((path_ + "-wal").c_str());
    ::unlink((path_ + "-shm").c_str());
  }
  Result<Opened> opened = OpenConnection(path_, busy_timeout_);
  if (!opened.ok()) {
    file_ = FileId{};  // matches no file: every later call tries to open again
    return opened.status().WithContext("reopen after the file was deleted or replaced: ");
  }
  db_ = std::move(opened->db);
  file_ = opened->file;
  wal_ = opened->wal;
  return Status::Ok();
}

Status SqliteWarehouse::EnsureOpen() { return db_ != nullptr ? Status::Ok() : ReopenIfReplaced(); }

Result<std::string> SqliteWarehouse::ReadEpoch(bool create) {
  sqlite3* db = db_.get();
  Statement statement;
  if (Prepare(db, kReadEpochSql, statement) != SQLITE_OK) return SqliteError(db, path_, "epoch");
  const int rc = sqlite3_step(statement.get());
  if (rc == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(statement.get(), 0);
    return std::string(text ? reinterpret_cast<const char*>(text) : "");
  }
  if (rc != SQLITE_DONE) return SqliteError(db, path_, "epoch");
  if (!create) return Internal(Prefix(path_) + "epoch: the buildtrace_meta table has no epoch");
  statement.reset();
  if (Exec(db, kCreateEpochSql) != SQLITE_OK) return SqliteError(db, path_, "create epoch");
  return ReadEpoch(/*create=*/false);
}

Status SqliteWarehouse::Probe() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (Status status = ReopenIfReplaced(); !status.ok()) return status;
  Statement statement;
  if (Prepare(db_.get(), kProbeSql, statement) != SQLITE_OK ||
      sqlite3_step(statement.get()) != SQLITE_ROW) {
    return SqliteError(db_.get(), path_, "probe");
  }
  return Status::Ok();
}

Result<std::string> SqliteWarehouse::Epoch() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (Status status = ReopenIfReplaced(); !status.ok()) return status;
  return ReadEpoch(/*create=*/true);
}

std::string SqliteWarehouse::Describe() const { return "sqlite://" + path_; }

}  // namespace buildtrace
