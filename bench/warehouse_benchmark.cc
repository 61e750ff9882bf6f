// Google Benchmark suite for the metrics warehouses' Latency over 1 000 000 rows: 20 projects,
// 30 days of timestamps, one row per job, latencies spread pseudo-randomly over 0..600 s. It
// times p50/p95/p99 over all projects and over one project, for the whole 30 days, the last 29
// (a window that leaves some jobs out) and the last one, on SQLite always and on PostgreSQL when
// BT_BENCH_POSTGRES_URL names a database or BT_BENCH_START_POSTGRES=1 asks for a throw-away server
// (testing/postgres_server).
//
// The rows are filled once per run with one SQL statement (Record would fsync a million times),
// into the job_metrics table; whatever the warehouse keeps beside it is filled by its own
// triggers (SQLite) or by its migration (PostgreSQL: the rows go in with the triggers disabled
// and the derived tables dropped, and Open makes them again in one pass, which is much faster
// than a million row triggers). BT_BENCH_DIR (default /tmp) holds the SQLite file.
//
// Record/...: the cost of one Record of a new job (its base the job before) into the filled
// warehouse, each its own transaction, so mostly the commit's fsync and the triggers.
#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "testing/postgres_server.h"
#include "warehouse/postgres_warehouse.h"
#include "warehouse/sqlite_warehouse.h"

namespace buildtrace {
namespace {

constexpr int64_t kRows = 1'000'000;
constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kSpanMs = 30 * kDayMs;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "warehouse_benchmark: %s\n", what.c_str());
  std::exit(1);
}

// Row i: project i % 20, job i / 20 + 1 (its base the job before), timestamp spread evenly over
// 30 days, latency a multiplicative hash of i in [0, 600000) ms with a fractional part.
constexpr const char* kSqliteFillSql = R"sql(
WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < 999999)
INSERT INTO job_metrics (project, job_id, base_job_id, timestamp, timestamp_ms, latency_ms,
  added, removed, modified, unchanged, moved, resized, retyped, changed, status)
SELECT 'project-' || (n % 20), n / 20 + 1, n / 20, '2023-11-14T22:13:20.000Z',
       1700000000000 + n * 2592, ((n * 2654435761) % 600000000) / 1000.0,
       1, 1, 1, 1, 0, 0, 0, 1, 'succeeded'
FROM i
)sql";

constexpr const char* kPostgresFillSql = R"sql(
INSERT INTO buildtrace_job_metrics (project, job_id, base_job_id, "timestamp", timestamp_ms,
  latency_ms, added, removed, modified, unchanged, moved, resized, retyped, changed, status)
SELECT 'project-' || (n % 20), n / 20 + 1, n / 20, '2023-11-14T22:13:20.000Z',
       1700000000000 + n * 2592, ((n * 2654435761) % 600000000) / 1000.0,
       1, 1, 1, 1, 0, 0, 0, 1, 'succeeded'
FROM generate_series(0::bigint, 999999) AS n
)sql";

std::string SqlitePath() {
  const char* dir = std::getenv("BT_BENCH_DIR");
  return (std::filesystem::path(dir ? dir : "/tmp") / "bt_warehouse_benchmark.db").string();
}

// A fresh file with the current schema and kRows rows.
std::unique_ptr<MetricsWarehouse> OpenFilledSqlite() {
  const std::string path = SqlitePath();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  if (auto created = SqliteWarehouse::Open(path); !created.ok()) Die(created.status().message());
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK ||
      sqlite3_exec(db, kSqliteFillSql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    Die(std::string("fill sqlite: ") + sqlite3_errmsg(db));
  }
  sqlite3_close(db);
  auto opened = SqliteWarehouse::Open(path);
  if (!opened.ok()) Die(opened.status().message());
  return std::move(*opened);
}

void RunPostgresSql(const std::string& url, const char* sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  PGresult* result = PQexec(conn, sql);
  if (PQresultStatus(result) != PGRES_COMMAND_OK)
    Die(std::string("postgres: ") + PQerrorMessage(conn));
  PQclear(result);
  PQfinish(conn);
}

std::unique_ptr<MetricsWarehouse> OpenFilledPostgres() {
  static PostgresServer server;  // stopped at exit by its guardian
  std::string url;
  if (const char* given = std::getenv("BT_BENCH_POSTGRES_URL")) {
    url = given;
  } else if (const char* start = std::getenv("BT_BENCH_START_POSTGRES"); start && *start == '1') {
    if (std::string error = server.Start(); !error.empty()) Die(error);
    url = server.Url("postgres");
  } else {
    return nullptr;
  }
  RunPostgresSql(url,
                 "DROP TABLE IF EXISTS buildtrace_job_metrics, buildtrace_job_latency, "
                 "buildtrace_latency_histogram CASCADE");
  if (auto created = PostgresWarehouse::Open(url); !created.ok()) Die(created.status().message());
  // Setup, not what is measured: the rows without their triggers, then the derived tables made
  // again by Open from the rows, as a migration does.
  RunPostgresSql(url, "ALTER TABLE buildtrace_job_metrics DISABLE TRIGGER USER");
  RunPostgresSql(url, kPostgresFillSql);
  RunPostgresSql(url,
                 "DROP TABLE buildtrace_job_latency, buildtrace_latency_histogram CASCADE; "
                 "ALTER TABLE buildtrace_job_metrics ENABLE TRIGGER USER");
  if (auto migrated = PostgresWarehouse::Open(url); !migrated.ok()) {
    Die(migrated.status().message());
  }
  RunPostgresSql(url, "VACUUM ANALYZE");
  auto opened = PostgresWarehouse::Open(url);
  if (!opened.ok()) Die(opened.status().message());
  return std::move(*opened);
}

MetricsWarehouse* Sqlite() {
  static std::unique_ptr<MetricsWarehouse> warehouse = OpenFilledSqlite();
  return warehouse.get();
}

MetricsWarehouse* Postgres() {
  static std::unique_ptr<MetricsWarehouse> warehouse = OpenFilledPostgres();
  return warehouse.get();
}

void RunLatency(benchmark::State& state, MetricsWarehouse* (*open)(), bool one_project,
                int64_t window_ms) {
  MetricsWarehouse* warehouse = open();
  if (warehouse == nullptr) {
    state.SkipWithError("no PostgreSQL: set BT_BENCH_POSTGRES_URL or BT_BENCH_START_POSTGRES=1");
    return;
  }
  LatencyQuery query;
  if (one_project) query.project = "project-7";
  query.from_ms = kT0 + kSpanMs - window_ms;
  query.to_ms = kT0 + kSpanMs;
  query.quantiles = {0.5, 0.95, 0.99};
  int64_t jobs = 0;
  for (auto _ : state) {
    Result<LatencyStats> stats = warehouse->Latency(query);
    if (!stats.ok()) Die(stats.status().message());
    jobs = stats->count;
    benchmark::DoNotOptimize(stats->values);
  }
  state.counters["jobs"] = static_cast<double>(jobs);
}

// Records one new job of project-7 per iteration, after the filled ones (its base the job
// before), each in its own transaction.
void RunRecord(benchmark::State& state, MetricsWarehouse* (*open)()) {
  MetricsWarehouse* warehouse = open();
  if (warehouse == nullptr) {
    state.SkipWithError("no PostgreSQL: set BT_BENCH_POSTGRES_URL or BT_BENCH_START_POSTGRES=1");
    return;
  }
  static int64_t next_job = kRows / 20 + 1;
  MetricsRow row;
  row.project = "project-7";
  row.timestamp = "2023-12-14T22:13:20.000Z";
  row.timestamp_ms = kT0 + kSpanMs;
  for (auto _ : state) {
    row.job_id = next_job++;
    row.base_job_id = row.job_id - 1;
    row.latency_ms = static_cast<double>(row.job_id % 600'000);
    Result<bool> written = warehouse->Record(row);
    if (!written.ok() || !*written) Die("record: " + written.status().message());
  }
}

void Register(const char* backend, MetricsWarehouse* (*open)()) {
  for (bool one_project : {false, true}) {
    for (int64_t window_ms : {kSpanMs, kSpanMs - kDayMs, kDayMs}) {
      const std::string name = std::string("Latency/") + backend + "/" +
                               (one_project ? "one_project" : "all_projects") + "/" +
                               std::to_string(window_ms / kDayMs) + "_days";
      benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
        RunLatency(state, open, one_project, window_ms);
      })->Unit(benchmark::kMillisecond);
    }
  }
  // After the Latency runs, which it would otherwise add rows to.
  benchmark::RegisterBenchmark((std::string("Record/") + backend).c_str(),
                               [=](benchmark::State& state) { RunRecord(state, open); })
      ->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace buildtrace

int main(int argc, char** argv) {
  buildtrace::Register("sqlite", buildtrace::Sqlite);
  buildtrace::Register("postgresql", buildtrace::Postgres);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
