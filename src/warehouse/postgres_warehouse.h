// The PostgreSQL metrics warehouse: rows in the table buildtrace_job_metrics of a PostgreSQL
// database reached through libpq, for deployments where several BuildTrace instances share one
// warehouse. It passes testing/metrics_warehouse_conformance like every other warehouse.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "warehouse/metrics_warehouse.h"

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace buildtrace {

// The table this warehouse writes, in the first schema of the connection's search_path (usually
// "public"). Its columns are those of the SQLite warehouse's job_metrics table, in PostgreSQL
// types: project TEXT, job_id BIGINT, base_job_id BIGINT NOT NULL (0 = no base), timestamp TEXT,
// timestamp_ms BIGINT, latency_ms DOUBLE PRECISION, the eight counts BIGINT, recorded_at
// TIMESTAMPTZ DEFAULT now(), status TEXT ('succeeded' / 'failed', NULL on rows of schema 1);
// PRIMARY KEY (project, job_id, base_job_id) (older versions wrote several rows per job; this
// one keeps one, see Record), an index on timestamp_ms.
inline constexpr const char* kPostgresWarehouseTable = "buildtrace_job_metrics";

// The statements Latency runs after its BEGIN, for tests and operators that EXPLAIN them: $1, $2
// the window, $3 the project or NULL for all, $4 the status ('succeeded', 'failed') or NULL for
// both, then per statement:
struct PostgresLatencySql {
  const char* count_window;
  const char* walk_ascending;   // $5 the number of rows the walk skips
  const char* walk_descending;  // $5 likewise
  const char* bucket_counts;    // + $5, $6 the whole days, $7, $8 their instants or NULL
  const char* walk_bucket;      // $5 the offset, $6 the bucket
};
extern const PostgresLatencySql kPostgresLatencySql;

// Latency quantiles are PostgreSQL's percentile_disc over the window's jobs (each job once),
// exactly: the nearest-rank definition, quantile q being the latency at rank ceil(q * n) of the n
// sorted latencies, q = 0 giving the minimum; the rank is computed here as percentile_disc
// computes it and the value found by an index walk (see Cost below). percentile_disc
// computes q * n in binary floating point without tolerance, so where q * n is an integer in
// decimal but not in binary it may pick the next rank, unlike the SQLite warehouse: for q = 0.07
// and n = 100, 0.07 * 100 = 7.000000000000001 and PostgreSQL answers the 8th latency where SQLite
// answers the 7th. The common quantiles (0.5, 0.9, 0.95, 0.99 of 20 or 100 jobs) agree, as the
// conformance suite checks.
//
// Each job counts once, through its lineage row (MetricsWarehouse::Record): its status,
// timestamp and latency; rows of schema 1 (status NULL) count as succeeded.
//
// Record: in one transaction, a transaction-scoped advisory lock on (project, job_id), then one
// statement that reads the job's lineage base, deletes the rows the rule drops and inserts the
// row when it wins; so concurrent Records of one job, from any instance, settle the rule exactly.
//
// Schema beside the table (postgres_schema.h has the versions): buildtrace_job_latency (one row
// per job: its lineage row's base, status, timestamp_ms, latency_ms and latency bucket), indexed
// for the walks below, kept by the row triggers of buildtrace_job_metrics (insert, delete,
// update; a statement trigger empties it on TRUNCATE); buildtrace_latency_histogram (jobs per
// status, UTC day and bucket), kept by a trigger on buildtrace_job_latency; buildtrace_meta
// (key TEXT PRIMARY KEY, value TEXT) holding the epoch and the schema version; the view
// job_results, the original service's table over each succeeded job's lineage row (see
// postgres_schema.h, version 3). Open creates them when missing or of an older version, under
// the advisory lock, filling the derived tables from the existing rows in one pass (with
// buildtrace_job_metrics locked against writes meanwhile): how a database of an earlier version
// migrates.
//
// Cost: Latency runs in one REPEATABLE READ READ ONLY transaction. One project: a count of the
// window's jobs (an index-only range count) and, per quantile, one walk of a latency index from
// the nearer end, skipping min(r - 1, n - r) jobs; the planner, seeing the offset, may sort the
// window's rows instead when the window is small. All projects: the window's jobs per latency
// bucket, summed from the histogram for the whole UTC days of the window (at most a few hundred
// buckets a day) and counted from the jobs of the partial days at its edges; then per quantile
// one walk inside the bucket that holds its rank (about 1.5 % of the latency range). Exact in
// both cases; no sort of the whole table.
//
// Connections: a pool of up to kMaxConnections libpq connections, opened on demand. Each has a
// connect_timeout (the URL's, else PGCONNECT_TIMEOUT, else 5 s) and a statement_timeout of 10 s
// (unless the URL's `options` set one). A call whose connection turns out to be broken (server
// restarted, network cut) resets it and runs once more; Record may do so because it never
// duplicates, though a row written just before the break is then reported as not written by
// this call. statement_timeout is the server's: a server that answers nothing at all (hung, its
// machine frozen, a network that drops packets without resetting) would keep a call waiting for
// ever, so the client also waits at most the answer timeout (kDefaultAnswerTimeout, 15 s,
// above the default statement_timeout) for a statement's answer; then the call is kUnavailable
// and its connection is closed (the statement may or may not have run).
//
// Errors: messages name the backend by its redacted URL, the operation and the object, e.g.
// "postgresql warehouse postgresql://bt:***@127.0.0.1:5432/buildtrace: record job 12 of project
// p: <libpq message>". kUnavailable when the server cannot be reached or fails for a reason that
// may pass (connection, shutdown, timeout, lack of resources, serialization); kInvalidArgument
// for a value PostgreSQL refuses (e.g. text that is not valid UTF-8); kInternal for anything
// else (e.g. the table altered by hand). A password never appears in a message or in Describe().
//
// Thread safety: all methods may be called concurrently; each call holds one pooled connection.
// Several instances and processes may share a database: a per-job advisory lock settles
// concurrent Records, and table creation is serialized by a transaction-scoped advisory lock.
class PostgresWarehouse : public MetricsWarehouse {
 public:
  static constexpr int kMaxConnections = 4;
  static constexpr std::chrono::milliseconds kDefaultAnswerTimeout{15'000};
  // How long the schema's creation or migration may take: a migration fills the derived tables
  // from every row (bench/warehouse_benchmark's whole setup of a million rows, migration
  // included, takes about 75 s on 2 cores), so this is far above it.
  static constexpr std::chrono::milliseconds kSchemaAnswerTimeout{1'800'000};

  // Opens the warehouse at a libpq connection URI, "postgresql://" or "postgres://"
  // [user[:password]@][host][:port][/dbname][?param=value&...]. The password may also come from
  // PGPASSWORD or ~/.pgpass (libpq reads them), as may any other PG* environment default.
  // Connects once and creates the table and its index if missing. Fails with:
  //  - kInvalidArgument when the URL is not a postgresql:// URI libpq accepts, or its port or
  //    connect_timeout is not a number, or the database is of a newer schema version or has a
  //    table named job_results;
  //  - kUnavailable when the server cannot be reached or refuses the connection (including
  //    authentication failures), or the table cannot be created.
  // `answer_timeout`: how long a call waits for the answer to a statement it sent (see above).
  static Result<std::unique_ptr<PostgresWarehouse>> Open(
      const std::string& url, std::chrono::milliseconds answer_timeout = kDefaultAnswerTimeout);

  ~PostgresWarehouse() override;
  PostgresWarehouse(const PostgresWarehouse&) = delete;
  PostgresWarehouse& operator=(const PostgresWarehouse&) = delete;

  // kInvalidArgument when job_id < 1 or base_job_id is present and < 1 (a missing base is stored
  // as 0). The rule of MetricsWarehouse::Record, in one transaction (see Record above).
  Result<bool> Record(const MetricsRow& row) override;
  // kInvalidArgument when a quantile is outside [0, 1] (or NaN).
  Result<LatencyStats> Latency(const LatencyQuery& query) override;
  // DELETE FROM buildtrace_job_metrics (the triggers keep the derived tables); the count of its
  // rows deleted.
  Result<int64_t> DeleteProject(std::string_view project) override;
  // Finds the tables and reads the epoch row and one row of each table; re-creates the tables
  // (a new epoch) when one was dropped, as Open would.
  Status Probe() override;
  // The buildtrace_meta table's random id (created on first use), a dot, and the OID of
  // buildtrace_job_metrics; re-creates dropped tables first like Probe. TRUNCATE of
  // buildtrace_job_metrics removes the id, so the next call makes a new one.
  Result<std::string> Epoch() override;
  // The URL as given, with the password (from the user info or a `password` parameter) replaced
  // by "***".
  std::string Describe() const override;

 private:
  class Lease;
  using Keywords = std::vector<std::pair<std::string, std::string>>;
  using Params = std::vector<std::optional<std::string>>;  // nullopt is SQL NULL
  struct ResultClearer {
    void operator()(PGresult* result) const;
  };
  using ResultPtr = std::unique_ptr<PGresult, ResultClearer>;

  PostgresWarehouse(Keywords keywords, std::string described, std::vector<std::string> secrets,
                    std::chrono::milliseconds answer_timeout);

  // Takes an idle connection or opens a new one when fewer than kMaxConnections are open;
  // waits otherwise.
  Result<PGconn*> Acquire(const std::string& operation);
  // Returns a healthy connection to the pool, or closes a broken one.
  void Release(PGconn* conn, bool healthy);
  Result<PGconn*> Connect(const std::string& operation) const;
  struct Statement {
    const char* sql;
    Params params;
    bool returns_rows = false;
    bool binary_results = false;
    std::chrono::milliseconds answer_timeout{0};  // 0: answer_timeout_
  };
  // Creates or migrates the schema (kPostgresCreateSchemaSql) on one connection, without the
  // statement_timeout and with kSchemaAnswerTimeout: a migration fills the derived tables from
  // every row, which takes longer than a statement is otherwise allowed.
  Result<bool> EnsureSchema();
  Result<ResultPtr> RunOn(PGconn* conn, const std::string& operation, const Statement& statement,
                          bool& broken) const;
  Result<LatencyStats> LatencyOn(PGconn* conn, const LatencyQuery& query,
                                 const std::string& operation, bool& broken) const;
  // Runs one statement of a Latency call inside its transaction (binary results).
  using Run =
      std::function<Result<ResultPtr>(const char* sql, const Params& params, bool returns_rows)>;
  // The two ways to find the quantiles (see Cost above); `window` holds $1..$4.
  Status PickByWalking(const Run& run, const Params& window, const LatencyQuery& query,
                       LatencyStats& stats, const std::string& operation) const;
  Status PickFromHistogram(const Run& run, const Params& window, const LatencyQuery& query,
                           LatencyStats& stats, const std::string& operation) const;
  // WithConnection, rolling back an open transaction when `attempt` fails.
  template <typename T>
  Result<T> InTransaction(const std::string& operation,
                          const std::function<Result<T>(PGconn*, bool& broken)>& attempt);
  // The epoch (empty when there is none and `create` is false), re-creating the tables first
  // when one was dropped.
  Result<std::string> ReadEpoch(const std::string& operation, bool create);
  template <typename T>
  Result<T> WithConnection(const std::string& operation,
                           const std::function<Result<T>(PGconn*, bool& broken)>& attempt);
  // Runs one statement with text parameters; its result when it succeeded, returning rows if
  // `returns_rows` (in binary format if `binary_results`). See the .cc for the retry.
  Result<ResultPtr> Execute(const std::string& operation, const char* sql, const Params& params,
                            bool returns_rows, bool binary_results);

  // The backend prefix and `operation` before libpq's `cause`, secrets removed.
  std::string Message(const std::string& operation, const std::string& cause) const;

  const Keywords keywords_;                 // libpq connection parameters, password included
  const std::string described_;             // the redacted URL
  const std::vector<std::string> secrets_;  // texts scrubbed from every message
  const std::chrono::milliseconds answer_timeout_;

  std::mutex mutex_;  // guards idle_ and open_
  std::condition_variable released_;
  std::vector<PGconn*> idle_;
  int open_ = 0;  // connections handed out or idle
};

}  // namespace buildtrace
