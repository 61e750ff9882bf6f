// SqliteWarehouse: the metrics warehouse in one SQLite file. Every value reaches SQLite through a
// bound parameter; the only SQL text is the constants below.
#include "warehouse/sqlite_warehouse.h"

#include <sqlite3.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <utility>

namespace buildtrace {
namespace {

namespace fs = std::filesystem;

constexpr int kBusyTimeoutMs = 5000;

static_assert(kSqliteWarehouseSchemaVersion == 1, "update kCreateSchemaSql");
constexpr const char* kCreateSchemaSql = R"sql(
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
  PRIMARY KEY (project, job_id, base_job_id)
);
CREATE INDEX IF NOT EXISTS job_metrics_by_timestamp ON job_metrics (timestamp_ms);
PRAGMA user_version = 1;
)sql";

constexpr const char* kRecordSql = R"sql(
INSERT INTO job_metrics (project, job_id, base_job_id, timestamp, timestamp_ms, latency_ms,
                         added, removed, modified, unchanged, moved, resized, retyped, changed)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
ON CONFLICT DO NOTHING
)sql";

// ?1, ?2: window [from_ms, to_ms]; ?3: project or NULL for all; ?4: JSON array of quantiles.
// One row per requested quantile (or a single row with idx NULL when none is requested), each
// carrying the job count. Nearest rank: ceil(q * n) with a 1e-9 tolerance, clamped to [1, n].
constexpr const char* kLatencySql = R"sql(
WITH jobs AS MATERIALIZED (
  SELECT MIN(latency_ms) AS latency_ms FROM job_metrics
  WHERE timestamp_ms BETWEEN ?1 AND ?2 AND (?3 IS NULL OR project = ?3)
  GROUP BY project, job_id),
ranked AS (SELECT latency_ms, ROW_NUMBER() OVER (ORDER BY latency_ms) AS rn FROM jobs),
window_size AS (SELECT COUNT(*) AS n FROM jobs),
wanted AS (
  SELECT CAST(q.key AS INTEGER) AS idx, CAST(q.value AS REAL) * w.n - 1e-9 AS x, w.n AS n
  FROM json_each(?4) AS q, window_size AS w),
picks AS (
  SELECT idx, MAX(1, MIN(n, CAST(x AS INTEGER) + (x > CAST(x AS INTEGER)))) AS wanted_rank
  FROM wanted)
SELECT w.n, p.idx, r.latency_ms
FROM window_size AS w
LEFT JOIN picks AS p ON TRUE
LEFT JOIN ranked AS r ON r.rn = p.wanted_rank
ORDER BY p.idx
)sql";

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
  } else if (*version < kSqliteWarehouseSchemaVersion && Exec(db, kCreateSchemaSql) != SQLITE_OK) {
    status = SqliteError(db, path, "create schema");
  } else if (Exec(db, "COMMIT") != SQLITE_OK) {
    status = SqliteError(db, path, "commit schema");
  }
  if (!status.ok()) Exec(db, "ROLLBACK");
  return status;
}

Status Configure(sqlite3* db, const std::string& path) {
  if (sqlite3_busy_timeout(db, kBusyTimeoutMs) != SQLITE_OK) {
    return SqliteError(db, path, "set busy timeout");
  }
  if (Exec(db, "PRAGMA journal_mode=WAL") != SQLITE_OK) {
    return SqliteError(db, path, "enable WAL journal");
  }
  if (Exec(db, "PRAGMA synchronous=FULL") != SQLITE_OK) {
    return SqliteError(db, path, "set synchronous=FULL");
  }
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

// The shortest text that reads back as the same doubles, as a JSON array.
std::string QuantilesJson(const std::vector<double>& quantiles) {
  std::string json = "[";
  for (size_t i = 0; i < quantiles.size(); ++i) {
    char buffer[32];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), quantiles[i]);
    if (i > 0) json += ',';
    json.append(buffer, end);
  }
  return json + "]";
}

std::string RecordOperation(const MetricsRow& row) {
  return "record job " + std::to_string(row.job_id) + " of project " + row.project;
}

std::string LatencyOperation(const LatencyQuery& query) {
  return "latency of " + (query.project ? "project " + *query.project : "all projects") + " in [" +
         std::to_string(query.from_ms) + ", " + std::to_string(query.to_ms) + "]";
}

}  // namespace

void SqliteWarehouse::Closer::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

SqliteWarehouse::SqliteWarehouse(Connection db, std::string path)
    : db_(std::move(db)), path_(std::move(path)) {}

Result<std::unique_ptr<SqliteWarehouse>> SqliteWarehouse::Open(const std::string& db_path) {
  if (db_path.empty()) {
    return InvalidArgument("sqlite warehouse: the database path is empty; give a file path");
  }
  std::error_code ec;
  fs::path path = fs::absolute(db_path, ec).lexically_normal();
  if (ec) return Unavailable(Prefix(db_path) + "resolve path: " + ec.message());
  if (Status status = CreateParentDirectory(path); !status.ok()) return status;

  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Connection db(raw);  // sqlite3_open_v2 may allocate a handle even when it fails
  if (rc != SQLITE_OK) return SqliteError(db.get(), path.string(), "open");
  if (Status status = Configure(db.get(), path.string()); !status.ok()) return status;
  return std::unique_ptr<SqliteWarehouse>(new SqliteWarehouse(std::move(db), path.string()));
}

Result<bool> SqliteWarehouse::Record(const MetricsRow& row) {
  if (Status status = CheckMetricsRow(row); !status.ok()) {
    return status.WithContext(Prefix(path_) + RecordOperation(row) + ": ");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  sqlite3* db = db_.get();
  Statement statement;
  if (Prepare(db, kRecordSql, statement) != SQLITE_OK ||
      BindAll(statement.get(), row.project, row.job_id, row.base_job_id.value_or(0), row.timestamp,
              row.timestamp_ms, row.latency_ms, row.added, row.removed, row.modified, row.unchanged,
              row.moved, row.resized, row.retyped, row.changed) != SQLITE_OK ||
      sqlite3_step(statement.get()) != SQLITE_DONE) {
    return SqliteError(db, path_, RecordOperation(row));
  }
  return sqlite3_changes(db) == 1;
}

Result<LatencyStats> SqliteWarehouse::Latency(const LatencyQuery& query) {
  if (Status status = CheckLatencyQuery(query); !status.ok()) {
    return status.WithContext(Prefix(path_) + LatencyOperation(query) + ": ");
  }
  const std::string quantiles = QuantilesJson(query.quantiles);
  std::lock_guard<std::mutex> lock(mutex_);
  sqlite3* db = db_.get();
  Statement statement;
  if (Prepare(db, kLatencySql, statement) != SQLITE_OK ||
      BindAll(statement.get(), query.from_ms, query.to_ms, query.project, quantiles) != SQLITE_OK) {
    return SqliteError(db, path_, LatencyOperation(query));
  }
  LatencyStats stats;
  stats.values.assign(query.quantiles.size(), std::nullopt);
  int rc;
  while ((rc = sqlite3_step(statement.get())) == SQLITE_ROW) {
    sqlite3_stmt* s = statement.get();
    stats.count = sqlite3_column_int64(s, 0);
    if (sqlite3_column_type(s, 1) == SQLITE_NULL || sqlite3_column_type(s, 2) == SQLITE_NULL) {
      continue;
    }
    const int64_t index = sqlite3_column_int64(s, 1);
    if (index < 0 || index >= static_cast<int64_t>(stats.values.size())) {
      return Internal(Prefix(path_) + LatencyOperation(query) + ": quantile index " +
                      std::to_string(index) + " out of range; this is a bug");
    }
    stats.values[static_cast<size_t>(index)] = sqlite3_column_double(s, 2);
  }
  if (rc != SQLITE_DONE) return SqliteError(db, path_, LatencyOperation(query));
  return stats;
}

Status SqliteWarehouse::Probe() {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement statement;
  if (Prepare(db_.get(), "SELECT 1", statement) != SQLITE_OK ||
      sqlite3_step(statement.get()) != SQLITE_ROW) {
    return SqliteError(db_.get(), path_, "probe");
  }
  return Status::Ok();
}

std::string SqliteWarehouse::Describe() const { return "sqlite://" + path_; }

}  // namespace buildtrace
