// PostgresWarehouse against a real PostgreSQL 15 that this binary starts in a temporary directory
// on a free loopback port (initdb as the postgres user when run as root): the conformance suite on
// a fresh database per test, plus what only a server-backed warehouse has: secrets kept out of
// messages, URL checks, several instances on one database, and losing and regaining the server.
// A server that cannot be started fails every test; nothing is skipped.
#include "warehouse/postgres_warehouse.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <latch>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/timestamp.h"
#include "testing/metrics_warehouse_conformance.h"
#include "testing/postgres_server.h"

namespace buildtrace {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr int64_t kT0 = 1'700'000'000'000;

PostgresServer server;
std::string server_error = "the test environment did not run";  // empty once the server runs

class PostgresEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    server_error = server.Start();
    // Not fatal here, so that every test runs and fails with this message (see ServerOrFail).
    if (!server_error.empty())
      ADD_FAILURE() << "PostgreSQL 15 could not be started: " << server_error;
  }
  void TearDown() override { server.StopAndRemove(); }
};

[[maybe_unused]] ::testing::Environment* const environment =
    ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);

// Runs `sql` on `database` as the superuser; the rows as text, or the error.
struct QueryResult {
  std::string error;
  std::vector<std::vector<std::string>> rows;
};

QueryResult AdminQuery(const std::string& database, const std::string& sql) {
  QueryResult out;
  PGconn* conn = PQconnectdb(server.Url(database).c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    out.error = PQerrorMessage(conn);
    PQfinish(conn);
    return out;
  }
  PGresult* result = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) out.error = PQerrorMessage(conn);
  for (int row = 0; row < PQntuples(result); ++row) {
    out.rows.emplace_back();
    for (int column = 0; column < PQnfields(result); ++column) {
      out.rows.back().push_back(PQgetvalue(result, row, column));
    }
  }
  PQclear(result);
  PQfinish(conn);
  return out;
}

// A new empty database per call.
std::string CreateDatabase() {
  static std::atomic<int> counter{0};
  const std::string name = "bt_test_" + std::to_string(counter++);
  const QueryResult created = AdminQuery("postgres", "CREATE DATABASE " + name);
  EXPECT_EQ(created.error, "");
  return name;
}

void DropDatabase(const std::string& name) {
  const QueryResult dropped =
      AdminQuery("postgres", "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  EXPECT_EQ(dropped.error, "");
}

std::unique_ptr<PostgresWarehouse> OpenOrDie(const std::string& url) {
  Result<std::unique_ptr<PostgresWarehouse>> opened = PostgresWarehouse::Open(url);
  EXPECT_TRUE(opened.ok()) << opened.status().message();
  return opened.ok() ? std::move(*opened) : nullptr;
}

// A PostgresWarehouse on a database of its own, dropped after the warehouse closes.
class TempPostgresWarehouse : public MetricsWarehouse {
 public:
  TempPostgresWarehouse()
      : database_(CreateDatabase()), warehouse_(OpenOrDie(server.Url(database_))) {}
  ~TempPostgresWarehouse() override {
    warehouse_.reset();
    DropDatabase(database_);
  }
  bool opened() const { return warehouse_ != nullptr; }

  Result<bool> Record(const MetricsRow& row) override { return warehouse_->Record(row); }
  Result<LatencyStats> Latency(const LatencyQuery& query) override {
    return warehouse_->Latency(query);
  }
  Result<int64_t> DeleteProject(std::string_view project) override {
    return warehouse_->DeleteProject(project);
  }
  Status Probe() override { return warehouse_->Probe(); }
  Result<std::string> Epoch() override { return warehouse_->Epoch(); }
  std::string Describe() const override { return warehouse_->Describe(); }

 private:
  std::string database_;
  std::unique_ptr<PostgresWarehouse> warehouse_;
};

std::unique_ptr<MetricsWarehouse> MakeTempPostgresWarehouse() {
  if (!server_error.empty()) {
    ADD_FAILURE() << "PostgreSQL 15 could not be started: " << server_error;
    return nullptr;
  }
  auto warehouse = std::make_unique<TempPostgresWarehouse>();
  if (!warehouse->opened()) return nullptr;
  return warehouse;
}

// A second warehouse on the database of a TempPostgresWarehouse (its URL has no password).
std::unique_ptr<MetricsWarehouse> ReopenPostgresWarehouse(const std::string& described) {
  return OpenOrDie(described);
}

// Through the URL of a TempPostgresWarehouse (which has no password).
void WriteOldPostgresRow(const std::string& described, const MetricsRow& row) {
  PGconn* conn = PQconnectdb(described.c_str());
  PGresult* result = PQexec(conn, OldMetricsRowInsert("buildtrace_job_metrics", row).c_str());
  EXPECT_EQ(PQresultStatus(result), PGRES_COMMAND_OK) << PQerrorMessage(conn);
  PQclear(result);
  PQfinish(conn);
}

INSTANTIATE_TEST_SUITE_P(Postgres, MetricsWarehouseConformanceTest,
                         ::testing::Values(MetricsWarehouseFactory{
                             "postgres", MakeTempPostgresWarehouse, ReopenPostgresWarehouse,
                             WriteOldPostgresRow}),
                         MetricsWarehouseFactoryName);

MetricsRow Row(const std::string& project, int64_t job_id, std::optional<int64_t> base,
               int64_t timestamp_ms, double latency_ms) {
  MetricsRow row;
  row.project = project;
  row.job_id = job_id;
  row.base_job_id = base;
  row.timestamp = "2023-11-14T22:13:20.000Z";
  row.timestamp_ms = timestamp_ms;
  row.latency_ms = latency_ms;
  row.added = 1;
  row.removed = 2;
  row.modified = 3;
  row.unchanged = 4;
  row.moved = 5;
  row.resized = 6;
  row.retyped = 7;
  row.changed = 8;
  return row;
}

// PostgreSQL-specific tests, each on a database of its own.
class PostgresWarehouseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(server_error, "") << "PostgreSQL 15 could not be started";
    database_ = CreateDatabase();
    url_ = server.Url(database_);
  }
  void TearDown() override {
    if (!database_.empty()) DropDatabase(database_);
  }

  std::string database_;
  std::string url_;
};

TEST_F(PostgresWarehouseTest, RecordStoresEveryColumn) {
  std::unique_ptr<PostgresWarehouse> warehouse = OpenOrDie(url_);
  ASSERT_NE(warehouse, nullptr);
  MetricsRow row = Row("p", 12, std::nullopt, kT0, 0.1);
  Result<bool> written = warehouse->Record(row);
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_TRUE(*written);

  const QueryResult stored = AdminQuery(
      database_,
      "SELECT project, job_id, base_job_id, timestamp, timestamp_ms, latency_ms = 0.1, added, "
      "removed, modified, unchanged, moved, resized, retyped, changed, "
      "recorded_at > now() - interval '1 hour' FROM buildtrace_job_metrics");
  ASSERT_EQ(stored.error, "");
  ASSERT_EQ(stored.rows.size(), 1u);
  EXPECT_EQ(stored.rows[0], (std::vector<std::string>{"p", "12", "0", "2023-11-14T22:13:20.000Z",
                                                      std::to_string(kT0), "t", "1", "2", "3", "4",
                                                      "5", "6", "7", "8", "t"}));
}

TEST_F(PostgresWarehouseTest, TableHasTheDocumentedKeyAndIndex) {
  ASSERT_NE(OpenOrDie(url_), nullptr);
  const QueryResult indexes =
      AdminQuery(database_,
                 "SELECT indexdef FROM pg_indexes WHERE tablename = 'buildtrace_job_metrics' "
                 "ORDER BY indexname");
  ASSERT_EQ(indexes.error, "");
  ASSERT_EQ(indexes.rows.size(), 2u);
  EXPECT_THAT(indexes.rows[0][0], HasSubstr("(timestamp_ms)"));
  EXPECT_THAT(indexes.rows[1][0], HasSubstr("UNIQUE INDEX buildtrace_job_metrics_pkey"));
  EXPECT_THAT(indexes.rows[1][0], HasSubstr("(project, job_id, base_job_id)"));
}

TEST_F(PostgresWarehouseTest, DescribeRedactsThePassword) {
  // The server trusts every local connection, so the password is sent but not checked.
  const std::string port = std::to_string(server.port());
  std::unique_ptr<PostgresWarehouse> warehouse =
      OpenOrDie("postgresql://postgres:s3cret-pw@127.0.0.1:" + port + "/" + database_);
  ASSERT_NE(warehouse, nullptr);
  EXPECT_EQ(warehouse->Describe(), "postgresql://postgres:***@127.0.0.1:" + port + "/" + database_);

  warehouse = OpenOrDie("postgres://postgres@127.0.0.1:" + port + "/" + database_ +
                        "?password=query-secret&application_name=bt");
  ASSERT_NE(warehouse, nullptr);
  EXPECT_EQ(warehouse->Describe(), "postgres://postgres@127.0.0.1:" + port + "/" + database_ +
                                       "?password=***&application_name=bt");
}

TEST_F(PostgresWarehouseTest, UnreachableServerIsUnavailableAndNamesNoPassword) {
  const std::string port = std::to_string(FreeLoopbackPort());
  Result<std::unique_ptr<PostgresWarehouse>> opened = PostgresWarehouse::Open(
      "postgresql://bt:s3cret-pw@127.0.0.1:" + port + "/buildtrace?connect_timeout=2");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(opened.status().message(),
              StartsWith("postgresql warehouse postgresql://bt:***@127.0.0.1:" + port +
                         "/buildtrace?connect_timeout=2: create table buildtrace_job_metrics: "));
  EXPECT_THAT(opened.status().message(), HasSubstr("Connection refused"));
  EXPECT_THAT(opened.status().message(), Not(HasSubstr("s3cret")));
}

TEST_F(PostgresWarehouseTest, MalformedUrlIsInvalidArgumentAndNamesNoPassword) {
  for (const std::string url : {
           "postgresql://u:pw-secret@127.0.0.1:5432/db?no_such_parameter=1",
           "postgresql://u:pw-secret@[::1/db",
           "postgresql://u:pw-secret@127.0.0.1:port/db",
           "postgresql://u:pw-secret@127.0.0.1/db?connect_timeout=soon",
           "postgresql://u:pw-secret@127.0.0.1/db?%zz=1",
           "mysql://u:pw-secret@127.0.0.1/db",
           "",
       }) {
    Result<std::unique_ptr<PostgresWarehouse>> opened = PostgresWarehouse::Open(url);
    ASSERT_FALSE(opened.ok()) << url;
    EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument) << opened.status().message();
    EXPECT_THAT(opened.status().message(), StartsWith("postgresql warehouse "));
    EXPECT_THAT(opened.status().message(), Not(HasSubstr("pw-secret")));
  }
}

TEST_F(PostgresWarehouseTest, SchemeIsCaseInsensitive) {
  std::string url = url_;
  url.replace(0, std::string("postgresql").size(), "PostgreSQL");
  std::unique_ptr<PostgresWarehouse> warehouse = OpenOrDie(url);
  ASSERT_NE(warehouse, nullptr);
  EXPECT_TRUE(warehouse->Probe().ok());
}

TEST_F(PostgresWarehouseTest, SearchPathInOptionsChoosesTheSchema) {
  ASSERT_EQ(AdminQuery(database_, "CREATE SCHEMA metrics").error, "");
  std::unique_ptr<PostgresWarehouse> warehouse =
      OpenOrDie(url_ + "?options=-csearch_path%3Dmetrics");
  ASSERT_NE(warehouse, nullptr);
  ASSERT_TRUE(warehouse->Record(Row("p", 1, std::nullopt, kT0, 1.0)).ok());
  const QueryResult rows =
      AdminQuery(database_, "SELECT count(*) FROM metrics.buildtrace_job_metrics");
  ASSERT_EQ(rows.error, "");
  EXPECT_EQ(rows.rows, (std::vector<std::vector<std::string>>{{"1"}}));
  EXPECT_NE(AdminQuery(database_, "SELECT 1 FROM public.buildtrace_job_metrics").error, "");
}

TEST_F(PostgresWarehouseTest, InvalidInputsAreRejectedBeforeTheServer) {
  std::unique_ptr<PostgresWarehouse> warehouse = OpenOrDie(url_);
  ASSERT_NE(warehouse, nullptr);
  Result<bool> zero = warehouse->Record(Row("p", 0, std::nullopt, kT0, 1.0));
  EXPECT_EQ(zero.status().code(), StatusCode::kInvalidArgument);
  Result<bool> bad_base = warehouse->Record(Row("p", 2, 0, kT0, 1.0));
  EXPECT_EQ(bad_base.status().code(), StatusCode::kInvalidArgument);
  Result<LatencyStats> bad_quantile = warehouse->Latency(LatencyQuery{"p", kT0, kT0, {0.5, 1.5}});
  EXPECT_EQ(bad_quantile.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_quantile.status().message(), HasSubstr("quantile 1 is 1.5"));
}

TEST_F(PostgresWarehouseTest, TextPostgresRefusesIsInvalidArgument) {
  std::unique_ptr<PostgresWarehouse> warehouse = OpenOrDie(url_);
  ASSERT_NE(warehouse, nullptr);
  Result<bool> written = warehouse->Record(Row("bad\xff", 1, std::nullopt, kT0, 1.0));
  EXPECT_EQ(written.status().code(), StatusCode::kInvalidArgument) << written.status().message();
  EXPECT_THAT(written.status().message(),
              StartsWith("postgresql warehouse " + url_ + ": record job 1 of project bad"));
}

// The documented difference from the SQLite warehouse: percentile_disc ranks by the binary
// product, and 0.07 * 100 is 7.000000000000001, so it answers the 8th latency, not the 7th.
TEST_F(PostgresWarehouseTest, PercentileDiscRanksByTheFloatingPointProduct) {
  std::unique_ptr<PostgresWarehouse> warehouse = OpenOrDie(url_);
  ASSERT_NE(warehouse, nullptr);
  for (int job = 1; job <= 100; ++job) {
    ASSERT_TRUE(warehouse->Record(Row("p", job, std::nullopt, kT0, job)).ok());
  }
  Result<LatencyStats> stats = warehouse->Latency(LatencyQuery{"p", kT0, kT0, {0.07, 0.95, 0.5}});
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->count, 100);
  EXPECT_EQ(stats->values, (std::vector<std::optional<double>>{8.0, 95.0, 50.0}));
}

TEST_F(PostgresWarehouseTest, ReopeningKeepsRows) {
  {
    std::unique_ptr<PostgresWarehouse> first = OpenOrDie(url_);
    ASSERT_NE(first, nullptr);
    ASSERT_TRUE(first->Record(Row("p", 1, std::nullopt, kT0, 5.0)).ok());
  }
  std::unique_ptr<PostgresWarehouse> second = OpenOrDie(url_);
  ASSERT_NE(second, nullptr);
  Result<bool> again = second->Record(Row("p", 1, std::nullopt, kT0, 6.0));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_FALSE(*again);
  Result<LatencyStats> stats = second->Latency(LatencyQuery{"p", kT0, kT0, {1.0}});
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->count, 1);
  EXPECT_EQ(stats->values, (std::vector<std::optional<double>>{5.0}));
}

TEST_F(PostgresWarehouseTest, TwoInstancesOpeningANewDatabaseAtOnceBothSucceed) {
  constexpr int kInstances = 6;
  std::latch start(kInstances);
  std::vector<Status> statuses(kInstances);
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      statuses[i] = PostgresWarehouse::Open(url_).status();
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const Status& status : statuses) EXPECT_TRUE(status.ok()) << status.message();
}

TEST_F(PostgresWarehouseTest, TwoInstancesRecordingTheSameRowsWriteEachOnce) {
  std::unique_ptr<PostgresWarehouse> a = OpenOrDie(url_);
  std::unique_ptr<PostgresWarehouse> b = OpenOrDie(url_);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kThreads = 8;
  constexpr int kRows = 40;
  std::latch start(kThreads);
  std::atomic<int> written{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      PostgresWarehouse& warehouse = t % 2 == 0 ? *a : *b;
      start.arrive_and_wait();
      for (int job = 1; job <= kRows; ++job) {
        Result<bool> result = warehouse.Record(Row("p", job, std::nullopt, kT0, job));
        if (!result.ok()) ++failed;
        if (result.ok() && *result) ++written;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(written.load(), kRows);
  const QueryResult rows = AdminQuery(database_, "SELECT count(*) FROM buildtrace_job_metrics");
  ASSERT_EQ(rows.error, "");
  EXPECT_EQ(rows.rows, (std::vector<std::vector<std::string>>{{std::to_string(kRows)}}));
}

TEST_F(PostgresWarehouseTest, StoppedServerIsUnavailableThenRecordWorksAgain) {
  const std::string url =
      "postgresql://postgres:s3cret-pw@127.0.0.1:" + std::to_string(server.port()) + "/" +
      database_ + "?connect_timeout=2";
  std::unique_ptr<PostgresWarehouse> warehouse = OpenOrDie(url);
  ASSERT_NE(warehouse, nullptr);
  ASSERT_TRUE(warehouse->Record(Row("p", 1, std::nullopt, kT0, 1.0)).ok());

  ASSERT_EQ(server.Stop(), "");
  Result<bool> lost = warehouse->Record(Row("p", 2, 1, kT0, 2.0));
  const std::string prefix = "postgresql warehouse " + warehouse->Describe() + ": ";
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(lost.status().message(), StartsWith(prefix + "record job 2 of project p: "));
  EXPECT_THAT(lost.status().message(), Not(HasSubstr("s3cret")));
  Status probe = warehouse->Probe();
  EXPECT_EQ(probe.code(), StatusCode::kUnavailable);
  EXPECT_THAT(probe.message(), StartsWith(prefix + "probe: "));
  Result<LatencyStats> latency = warehouse->Latency(LatencyQuery{"p", kT0, kT0, {0.5}});
  EXPECT_EQ(latency.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(latency.status().message(), StartsWith(prefix + "latency of project p in ["));

  ASSERT_EQ(server.StartOnPort(), "");
  Result<bool> back = warehouse->Record(Row("p", 2, 1, kT0, 2.0));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(*back);
  Result<LatencyStats> stats = warehouse->Latency(LatencyQuery{"p", kT0, kT0, {1.0}});
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->count, 2);
}

// A server that keeps its connections but answers nothing (SIGSTOP: hung, or its machine frozen)
// used to keep a call waiting for ever: statement_timeout is enforced by the server itself. The
// call now gives up after the answer timeout, and the warehouse works again once the server does.
TEST_F(PostgresWarehouseTest, FrozenServerIsUnavailableWithinTheAnswerTimeout) {
  const std::string url = url_ + "?connect_timeout=2";
  Result<std::unique_ptr<PostgresWarehouse>> opened =
      PostgresWarehouse::Open(url, std::chrono::milliseconds(500));
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  PostgresWarehouse& warehouse = **opened;
  ASSERT_TRUE(warehouse.Record(Row("p", 1, std::nullopt, kT0, 1.0)).ok());  // pools a connection

  ASSERT_EQ(server.Freeze(), "");
  // On another thread, so that a call that never returns fails this test instead of hanging it.
  auto frozen = std::async(std::launch::async, [&] {
    Result<bool> recorded = warehouse.Record(Row("p", 2, 1, kT0, 2.0));
    Result<LatencyStats> stats = warehouse.Latency(LatencyQuery{"p", kT0, kT0, {0.5}});
    return std::make_pair(std::move(recorded), std::move(stats));
  });
  const bool answered = frozen.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  ASSERT_EQ(server.Thaw(), "");
  ASSERT_TRUE(answered) << "a call on the frozen server did not return within 60 s";
  const auto [record, latency] = frozen.get();
  const std::string prefix = "postgresql warehouse " + warehouse.Describe() + ": ";
  EXPECT_EQ(record.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(record.status().message(),
            prefix +
                "record job 2 of project p: no answer from the server within 500 ms; check "
                "that the PostgreSQL server is running and reachable, then retry");
  // The timed-out connection was closed; a new one cannot be had within connect_timeout.
  EXPECT_EQ(latency.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(latency.status().message(), StartsWith(prefix + "latency of project p in ["));

  // Thawed: the row is written exactly once (the timed-out INSERT may have run after all).
  Result<bool> again = warehouse.Record(Row("p", 2, 1, kT0, 2.0));
  ASSERT_TRUE(again.ok()) << again.status().message();
  const QueryResult rows = AdminQuery(
      database_, "SELECT job_id, base_job_id FROM buildtrace_job_metrics ORDER BY job_id");
  ASSERT_EQ(rows.error, "");
  EXPECT_EQ(rows.rows, (std::vector<std::vector<std::string>>{{"1", "0"}, {"2", "1"}}));
  Result<LatencyStats> stats = warehouse.Latency(LatencyQuery{"p", kT0, kT0, {1.0}});
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->count, 2);
}

TEST_F(PostgresWarehouseTest, PooledConnectionsSurviveAServerRestart) {
  std::unique_ptr<PostgresWarehouse> warehouse = OpenOrDie(url_);
  ASSERT_NE(warehouse, nullptr);
  // Fill the pool with several connections, all of which the restart breaks.
  std::vector<std::thread> threads;
  for (int t = 0; t < PostgresWarehouse::kMaxConnections; ++t) {
    threads.emplace_back(
        [&, t] { EXPECT_TRUE(warehouse->Record(Row("p", t + 1, std::nullopt, kT0, 1.0)).ok()); });
  }
  for (std::thread& thread : threads) thread.join();

  ASSERT_EQ(server.Stop(), "");
  ASSERT_EQ(server.StartOnPort(), "");
  threads.clear();
  for (int t = 0; t < PostgresWarehouse::kMaxConnections; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 3; ++i) {
        Result<bool> written = warehouse->Record(Row("p", 100 + 10 * t + i, std::nullopt, kT0, 1));
        EXPECT_TRUE(written.ok() && *written) << written.status().message();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  Status probe = warehouse->Probe();
  EXPECT_TRUE(probe.ok()) << probe.message();
}

// ---- Latency from buildtrace_job_latency's indexes and the histogram, checked against
// percentile_disc over each job's lineage row (the rule's definition, written as plainly as SQL
// allows) and by the plans PostgreSQL makes for its statements.

constexpr const char* kPercentileDiscSql = R"sql(
WITH lineage AS (
  SELECT DISTINCT ON (project, job_id) project, timestamp_ms, latency_ms,
         COALESCE(status, 'succeeded') AS status
  FROM buildtrace_job_metrics WHERE base_job_id < job_id
  ORDER BY project, job_id, base_job_id DESC),
jobs AS (
  SELECT latency_ms FROM lineage
  WHERE timestamp_ms BETWEEN %FROM% AND %TO% AND (%PROJECT%::text IS NULL OR project = %PROJECT%)
    AND (%STATUS%::text IS NULL OR status = %STATUS%))
SELECT COUNT(*), percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms)
FROM jobs
)sql";

// The status a query selects, as stored ("succeeded", "failed"), or nullopt for both.
std::optional<std::string> StatusText(LatencyStatusFilter filter) {
  if (filter == LatencyStatusFilter::kAll) return std::nullopt;
  return std::string(JobStatusName(filter == LatencyStatusFilter::kFailed ? JobStatus::kFailed
                                                                          : JobStatus::kSucceeded));
}

// percentile_disc's answer as text: "count {p50,p95,p99}".
std::string PercentileDiscAnswer(const std::string& database, const LatencyQuery& query) {
  std::string sql = kPercentileDiscSql;
  auto replace = [&](const std::string& from, const std::string& to) {
    for (size_t at = sql.find(from); at != std::string::npos; at = sql.find(from, at + to.size())) {
      sql.replace(at, from.size(), to);
    }
  };
  const std::optional<std::string> status = StatusText(query.status);
  replace("%FROM%", std::to_string(query.from_ms));
  replace("%TO%", std::to_string(query.to_ms));
  replace("%PROJECT%", query.project ? "'" + *query.project + "'" : "NULL");
  replace("%STATUS%", status ? "'" + *status + "'" : "NULL");
  const QueryResult answer = AdminQuery(database, sql);
  EXPECT_EQ(answer.error, "");
  return answer.rows.empty() ? "" : answer.rows[0][0] + " " + answer.rows[0][1];
}

std::string Answer(const Result<LatencyStats>& stats) {
  if (!stats.ok()) return "error: " + stats.status().message();
  std::string text = std::to_string(stats->count) + " {";
  for (size_t i = 0; i < stats->values.size(); ++i) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%.15g", stats->values[i].value_or(-1));
    text += (i ? "," : "") + std::string(buffer);
  }
  return text + "}";
}

// EXPLAIN (FORMAT JSON) of `sql` with the parameters of `query` ($1..$4: the window, the project,
// the status) and then `more` ($5...).
std::string Explain(const std::string& database, const char* sql, const LatencyQuery& query,
                    const std::vector<std::optional<std::string>>& more) {
  PGconn* conn = PQconnectdb(server.Url(database).c_str());
  const std::string text = std::string("EXPLAIN (FORMAT JSON) ") + sql;
  std::vector<std::optional<std::string>> params = {std::to_string(query.from_ms),
                                                    std::to_string(query.to_ms), query.project,
                                                    StatusText(query.status)};
  params.insert(params.end(), more.begin(), more.end());
  int count = static_cast<int>(params.size());
  while (count > 0 &&
         std::string_view(sql).find("$" + std::to_string(count)) == std::string::npos) {
    --count;
  }
  std::vector<const char*> values;
  for (const auto& param : params) values.push_back(param ? param->c_str() : nullptr);
  PGresult* result =
      PQexecParams(conn, text.c_str(), count, nullptr, values.data(), nullptr, nullptr, 0);
  std::string plan =
      PQresultStatus(result) == PGRES_TUPLES_OK ? PQgetvalue(result, 0, 0) : PQerrorMessage(conn);
  PQclear(result);
  PQfinish(conn);
  return plan;
}

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kFirstWholeDay = 1'700'006'400'000;  // the first UTC midnight after kT0

class PostgresLatencyTest : public PostgresWarehouseTest {
 protected:
  void SetUp() override {
    PostgresWarehouseTest::SetUp();
    warehouse_ = OpenOrDie(url_);
    ASSERT_NE(warehouse_, nullptr);
    // 50 000 jobs over 5 projects, 10 s apart (almost 6 days); every 10th has a second row
    // against base 1 with a larger latency, which is its lineage row (except job 1's, whose base
    // 1 is not below it). Statuses as rows of version 1 left them (NULL) and as this version
    // writes them, the two rows of a job not always agreeing.
    const QueryResult filled = AdminQuery(database_, R"sql(
INSERT INTO buildtrace_job_metrics (project, job_id, base_job_id, "timestamp", timestamp_ms,
  latency_ms, added, removed, modified, unchanged, moved, resized, retyped, changed, status)
SELECT 'p' || (n % 5), n + 1, base, 't', 1700000000000 + n * 10000,
       ((n * 7919) % 50021) / 4.0 + base * 1000, 0, 0, 0, 0, 0, 0, 0, 0,
       CASE (n + base * 3) % 7 WHEN 3 THEN 'failed' WHEN 5 THEN 'succeeded' END
FROM generate_series(0, 49999) AS n, (VALUES (0), (1)) AS b(base)
WHERE base = 0 OR n % 10 = 0
)sql");
    ASSERT_EQ(filled.error, "");
    ASSERT_EQ(AdminQuery(database_, "VACUUM ANALYZE buildtrace_job_latency").error, "");
  }

  std::unique_ptr<PostgresWarehouse> warehouse_;
};

TEST_F(PostgresLatencyTest, AnswersEqualPercentileDiscOverTheRows) {
  const std::vector<double> q = {0.5, 0.95, 0.99};
  for (const LatencyQuery& query : {
           LatencyQuery{std::nullopt, kT0, kT0 + 500'000'000, q},
           LatencyQuery{std::nullopt, kT0, kT0 + 500'000'000, q, LatencyStatusFilter::kFailed},
           LatencyQuery{std::nullopt, kT0, kT0 + 500'000'000, q, LatencyStatusFilter::kAll},
           // Whole days only, then whole days and partial ones at both edges.
           LatencyQuery{std::nullopt, kFirstWholeDay, kFirstWholeDay + 3 * kDayMs - 1, q},
           LatencyQuery{std::nullopt, kFirstWholeDay - 1, kFirstWholeDay + 3 * kDayMs, q,
                        LatencyStatusFilter::kAll},
           LatencyQuery{"p3", kT0 + 50'000'000, kT0 + 450'000'000, q},
           LatencyQuery{"p3", kT0 + 50'000'000, kT0 + 450'000'000, q, LatencyStatusFilter::kFailed},
           LatencyQuery{std::nullopt, kT0 + 10'000'000, kT0 + 11'999'999, q},
       }) {
    const std::string expected = PercentileDiscAnswer(database_, query);
    EXPECT_THAT(expected, Not(StartsWith("0 ")));  // every window holds jobs
    EXPECT_EQ(Answer(warehouse_->Latency(query)), expected)
        << (query.project ? *query.project : "all") << " [" << query.from_ms << ", " << query.to_ms
        << "] status " << static_cast<int>(query.status);
  }
}

TEST_F(PostgresLatencyTest, WalksAreIndexScansOfTheLatencyIndexWithoutASort) {
  // One project: the count and the walks.
  const LatencyQuery one{"p3", kT0 + 50'000'000, kT0 + 450'000'000, {0.5}};
  const std::string project = Explain(database_, kPostgresLatencySql.walk_ascending, one, {"3999"});
  EXPECT_THAT(project, HasSubstr("\"Index Name\": \"buildtrace_job_latency_by_project_latency\""));
  EXPECT_THAT(project, Not(HasSubstr("Sort")));
  const std::string backward =
      Explain(database_, kPostgresLatencySql.walk_descending, one, {"399"});
  EXPECT_THAT(backward, HasSubstr("\"Scan Direction\": \"Backward\""));
  EXPECT_THAT(backward, HasSubstr("\"Index Name\": \"buildtrace_job_latency_by_project_latency\""));
  EXPECT_THAT(backward, Not(HasSubstr("Sort")));
  const std::string count = Explain(database_, kPostgresLatencySql.count_window, one, {});
  EXPECT_THAT(count, HasSubstr("\"Index Name\": \"buildtrace_job_latency_by_project"));
  EXPECT_THAT(count, HasSubstr("Index Only Scan"));
  EXPECT_THAT(count, Not(HasSubstr("Seq Scan")));

  // All projects: the bucket counts read the histogram for the whole days (its primary key) and
  // the jobs of the partial days from the timestamp index; the walk stays in one bucket.
  const LatencyQuery all{std::nullopt, kT0, kT0 + 500'000'000, {0.5}};
  const int64_t first_day = kFirstWholeDay / kDayMs;
  const std::string buckets =
      Explain(database_, kPostgresLatencySql.bucket_counts, all,
              {std::to_string(first_day), std::to_string(first_day + 4),
               std::to_string(kFirstWholeDay), std::to_string(kFirstWholeDay + 5 * kDayMs - 1)});
  EXPECT_THAT(buckets, HasSubstr("\"Index Name\": \"buildtrace_latency_histogram_pkey\""));
  EXPECT_THAT(buckets, HasSubstr("\"Index Name\": \"buildtrace_job_latency_by_timestamp\""));
  EXPECT_THAT(buckets, Not(HasSubstr("Seq Scan")));
  const std::string walk =
      Explain(database_, kPostgresLatencySql.walk_bucket, all, {"10", "65892"});  // 100 ms
  EXPECT_THAT(walk, HasSubstr("\"Index Name\": \"buildtrace_job_latency_by_bucket\""));
  EXPECT_THAT(walk, Not(HasSubstr("Sort")));
  EXPECT_THAT(walk, Not(HasSubstr("Seq Scan")));
}

// buildtrace_job_metrics as schema 1 made it (no status).
constexpr const char* kVersionOneTableSql = R"sql(
CREATE TABLE buildtrace_job_metrics (
  project TEXT NOT NULL, job_id BIGINT NOT NULL, base_job_id BIGINT NOT NULL,
  "timestamp" TEXT NOT NULL, timestamp_ms BIGINT NOT NULL, latency_ms DOUBLE PRECISION NOT NULL,
  added BIGINT NOT NULL, removed BIGINT NOT NULL, modified BIGINT NOT NULL,
  unchanged BIGINT NOT NULL, moved BIGINT NOT NULL, resized BIGINT NOT NULL,
  retyped BIGINT NOT NULL, changed BIGINT NOT NULL, recorded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (project, job_id, base_job_id));
)sql";

TEST_F(PostgresWarehouseTest, TableOfAnEarlierVersionGetsJobLatencyFilledOnOpen) {
  const QueryResult old = AdminQuery(database_, std::string(kVersionOneTableSql) + R"sql(
INSERT INTO buildtrace_job_metrics VALUES
  ('p', 1, 0, 't', 1700000000000, 5, 0, 0, 0, 0, 0, 0, 0, 0),
  ('p', 1, 7, 't', 1700000000000, 3, 0, 0, 0, 0, 0, 0, 0, 0),
  ('p', 2, 1, 't', 1700000000000, 7, 0, 0, 0, 0, 0, 0, 0, 0);
)sql");
  ASSERT_EQ(old.error, "");
  std::unique_ptr<PostgresWarehouse> warehouse = OpenOrDie(url_);
  ASSERT_NE(warehouse, nullptr);
  using Rows = std::vector<std::vector<std::string>>;
  EXPECT_EQ(
      AdminQuery(database_, "SELECT value FROM buildtrace_meta WHERE key = 'schema_version'").rows,
      (Rows{{"3"}}));
  // job_results: one row per job, job 1's lineage row (latency 5), not its ad-hoc one.
  EXPECT_EQ(
      AdminQuery(database_, "SELECT job_id, latency_ms FROM job_results ORDER BY job_id").rows,
      (Rows{{"1", "5"}, {"2", "7"}}));
  // Each job's lineage row, succeeded while its status is NULL: job 1's base none (latency 5),
  // not the ad-hoc comparison against job 7 (latency 3), which stays in the table for now.
  EXPECT_EQ(AdminQuery(database_,
                       "SELECT job_id, base_job_id, status, latency_ms FROM buildtrace_job_latency "
                       "ORDER BY job_id")
                .rows,
            (Rows{{"1", "0", "succeeded", "5"}, {"2", "1", "succeeded", "7"}}));
  EXPECT_EQ(AdminQuery(database_,
                       "SELECT COUNT(*) FROM buildtrace_job_metrics "
                       "WHERE status IS NULL")
                .rows,
            (Rows{{"3"}}));
  EXPECT_EQ(AdminQuery(database_,
                       "SELECT status, SUM(jobs) FROM buildtrace_latency_histogram "
                       "GROUP BY status")
                .rows,
            (Rows{{"succeeded", "2"}}));
  EXPECT_EQ(Answer(warehouse->Latency(LatencyQuery{"p", kT0, kT0, {0.0, 1.0}})), "2 {5,7}");
  EXPECT_EQ(Answer(warehouse->Latency(LatencyQuery{std::nullopt, kT0, kT0, {0.0, 1.0}})),
            "2 {5,7}");
  ASSERT_TRUE(warehouse->Record(Row("p", 3, 2, kT0, 1.0)).ok());
  EXPECT_EQ(Answer(warehouse->Latency(LatencyQuery{"p", kT0, kT0, {0.0, 1.0}})), "3 {1,7}");
  // Recording job 1 again (same base: nothing written) drops its ad-hoc row.
  Result<bool> again = warehouse->Record(Row("p", 1, std::nullopt, kT0, 4.0));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_FALSE(*again);
  EXPECT_EQ(AdminQuery(database_,
                       "SELECT base_job_id, latency_ms FROM buildtrace_job_metrics "
                       "WHERE job_id = 1")
                .rows,
            (Rows{{"0", "5"}}));
  // A lineage row deleted by hand leaves the per-job table and the histogram.
  ASSERT_EQ(AdminQuery(database_, "DELETE FROM buildtrace_job_metrics WHERE job_id = 2").error, "");
  EXPECT_EQ(Answer(warehouse->Latency(LatencyQuery{"p", kT0, kT0, {0.0, 1.0}})), "2 {1,5}");
  EXPECT_EQ(Answer(warehouse->Latency(LatencyQuery{std::nullopt, kT0, kT0, {0.0, 1.0}})),
            "2 {1,5}");
}

// A migration fills the derived tables from every row, which may take longer than the
// statement_timeout of every other statement: it runs without one, and the connection gets its
// own back afterwards.
TEST_F(PostgresWarehouseTest, MigrationIsNotCutByTheStatementTimeout) {
  ASSERT_EQ(AdminQuery(database_, std::string(kVersionOneTableSql) + R"sql(
INSERT INTO buildtrace_job_metrics
SELECT 'p', n, n - 1, 't', 1700000000000 + n, n, 0, 0, 0, 0, 0, 0, 0, 0
FROM generate_series(1, 200000) AS n;
)sql")
                .error,
            "");
  Result<std::unique_ptr<PostgresWarehouse>> opened =
      PostgresWarehouse::Open(url_ + "?options=-cstatement_timeout%3D300");
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ(AdminQuery(database_,
                       "SELECT (SELECT COUNT(*) FROM buildtrace_job_latency), "
                       "(SELECT SUM(jobs) FROM buildtrace_latency_histogram)")
                .rows,
            (std::vector<std::vector<std::string>>{{"200000", "200000"}}));
  // A small window answers within the URL's 300 ms on the same connection.
  Result<LatencyStats> stats =
      (*opened)->Latency(LatencyQuery{"p", 1700000000001, 1700000000003, {1.0}});
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->count, 3);
  EXPECT_EQ(stats->values, (std::vector<std::optional<double>>{3.0}));
}

std::string EpochOrError(MetricsWarehouse& warehouse) {
  Result<std::string> epoch = warehouse.Epoch();
  return epoch.ok() ? *epoch : "error: " + epoch.status().message();
}

TEST_F(PostgresWarehouseTest, DroppedAndRecreatedTableHasANewEpoch) {
  std::unique_ptr<PostgresWarehouse> warehouse = OpenOrDie(url_);
  ASSERT_NE(warehouse, nullptr);
  ASSERT_TRUE(warehouse->Record(Row("p", 1, std::nullopt, kT0, 5.0)).ok());
  const std::string first = EpochOrError(*warehouse);
  EXPECT_THAT(first, Not(StartsWith("error")));
  // The view job_results depends on the table: dropping it by hand takes CASCADE.
  EXPECT_THAT(AdminQuery(database_, "DROP TABLE buildtrace_job_metrics").error,
              HasSubstr("view job_results depends on table buildtrace_job_metrics"));
  ASSERT_EQ(AdminQuery(database_, "DROP TABLE buildtrace_job_metrics CASCADE").error, "");

  EXPECT_TRUE(warehouse->Probe().ok());  // re-creates the table and the view, as a restart would
  const std::string second = EpochOrError(*warehouse);
  EXPECT_THAT(second, Not(StartsWith("error")));
  EXPECT_NE(second, first);
  EXPECT_EQ(Answer(warehouse->Latency(LatencyQuery{"p", kT0, kT0, {1.0}})), "0 {-1}");
  Result<bool> written = warehouse->Record(Row("p", 1, std::nullopt, kT0, 6.0));
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_TRUE(*written);
  EXPECT_EQ(Answer(warehouse->Latency(LatencyQuery{"p", kT0, kT0, {1.0}})), "1 {6}");
  EXPECT_EQ(EpochOrError(*OpenOrDie(url_)), second);
  EXPECT_EQ(AdminQuery(database_, "SELECT job_id, latency_ms FROM job_results").rows,
            (std::vector<std::vector<std::string>>{{"1", "6"}}));
}

TEST_F(PostgresWarehouseTest, TruncatedTableHasANewEpochAndNoJobs) {
  std::unique_ptr<PostgresWarehouse> warehouse = OpenOrDie(url_);
  ASSERT_NE(warehouse, nullptr);
  ASSERT_TRUE(warehouse->Record(Row("p", 1, std::nullopt, kT0, 5.0)).ok());
  const std::string first = EpochOrError(*warehouse);
  ASSERT_EQ(AdminQuery(database_, "TRUNCATE buildtrace_job_metrics").error, "");
  EXPECT_EQ(Answer(warehouse->Latency(LatencyQuery{"p", kT0, kT0, {1.0}})), "0 {-1}");
  const std::string second = EpochOrError(*warehouse);
  EXPECT_THAT(second, Not(StartsWith("error")));
  EXPECT_NE(second, first);
}

// ---- job_results: the original service's table, as a view of each succeeded job's lineage row.

using Rows = std::vector<std::vector<std::string>>;

MetricsRow CountedRow(const std::string& project, int64_t job_id, std::optional<int64_t> base,
                      int64_t timestamp_ms, double latency_ms) {
  MetricsRow row = Row(project, job_id, base, timestamp_ms, latency_ms);
  row.timestamp = FormatRfc3339Utc(timestamp_ms);
  row.added = job_id;
  row.removed = 2;
  row.moved = 1;
  row.resized = 0;
  row.retyped = 0;
  row.changed = job_id;
  row.modified = row.moved + row.changed;
  row.unchanged = 7;
  return row;
}

TEST_F(PostgresWarehouseTest, JobResultsShowsEachSucceededJobOnceUnderTheOriginalsColumns) {
  std::unique_ptr<PostgresWarehouse> warehouse = OpenOrDie(url_);
  ASSERT_NE(warehouse, nullptr);
  ASSERT_TRUE(*warehouse->Record(CountedRow("p", 1, std::nullopt, kT0, 10)));
  ASSERT_TRUE(*warehouse->Record(CountedRow("p", 2, 1, kT0 + 1, 20.5)));
  ASSERT_TRUE(*warehouse->Record(CountedRow("p", 3, 1, kT0 + 2, 999)));
  ASSERT_TRUE(*warehouse->Record(CountedRow("p", 3, 2, kT0 + 2, 30)));  // replaces the row above
  MetricsRow failed = CountedRow("p", 4, 3, kT0 + 3, 40);
  failed.status = JobStatus::kFailed;
  ASSERT_TRUE(*warehouse->Record(failed));
  ASSERT_TRUE(*warehouse->Record(CountedRow("q", 1, std::nullopt, kT0 + 4, 50)));
  // An older version's rows of one job (several bases, no status): its lineage row, base 2, only.
  ASSERT_EQ(AdminQuery(database_, R"sql(
INSERT INTO buildtrace_job_metrics (project, job_id, base_job_id, "timestamp", timestamp_ms,
  latency_ms, added, removed, modified, unchanged, moved, resized, retyped, changed) VALUES
  ('p', 5, 1, '2023-11-14T22:13:20.005Z', 1700000000005, 60, 9, 9, 9, 9, 0, 0, 0, 9),
  ('p', 5, 2, '2023-11-14T22:13:20.005Z', 1700000000005, 61, 1, 1, 1, 1, 0, 0, 1, 0)
)sql")
                .error,
            "");
  EXPECT_EQ(AdminQuery(database_, "SELECT COUNT(*) FROM buildtrace_job_metrics").rows,
            (Rows{{"7"}}));
  EXPECT_EQ(AdminQuery(database_,
                       "SET TimeZone = 'UTC'; "
                       "SELECT timestamp, job_id, latency_ms, total_added, total_removed, "
                       "total_modified, total_unchanged, project FROM job_results "
                       "ORDER BY project, job_id")
                .rows,
            (Rows{{"2023-11-14 22:13:20+00", "1", "10", "1", "2", "2", "7", "p"},
                  {"2023-11-14 22:13:20.001+00", "2", "20.5", "2", "2", "3", "7", "p"},
                  {"2023-11-14 22:13:20.002+00", "3", "30", "3", "2", "4", "7", "p"},
                  {"2023-11-14 22:13:20.005+00", "5", "61", "1", "1", "1", "1", "p"},
                  {"2023-11-14 22:13:20.004+00", "1", "50", "1", "2", "2", "7", "q"}}));
  EXPECT_EQ(AdminQuery(database_,
                       "SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_name = 'job_results' ORDER BY ordinal_position")
                .rows,
            (Rows{{"timestamp", "timestamp with time zone"},
                  {"job_id", "bigint"},
                  {"latency_ms", "double precision"},
                  {"total_added", "bigint"},
                  {"total_removed", "bigint"},
                  {"total_modified", "bigint"},
                  {"total_unchanged", "bigint"},
                  {"project", "text"}}));
}

// The P99 query of docs/operations.md for PostgreSQL, the original's adapted.
constexpr const char* kPostgresP99Sql = R"sql(
SELECT percentile_disc(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99_latency_ms
FROM job_results
WHERE timestamp >= now() - INTERVAL '30 days'
)sql";

TEST_F(PostgresWarehouseTest, JobResultsAnswersTheDocumentedP99QueryAsLatencyDoes) {
  std::unique_ptr<PostgresWarehouse> warehouse = OpenOrDie(url_);
  ASSERT_NE(warehouse, nullptr);
  EXPECT_EQ(AdminQuery(database_, kPostgresP99Sql).rows, (Rows{{""}}));  // NULL: no jobs
  constexpr int64_t kDay = 86'400'000;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  // In the last 30 days: jobs 1-149 of latency = id, job 150 (first against base 148 with 9999,
  // then replaced against base 149 with 150), q's job 1 (0.5). Not counted: a failed job and one
  // of 40 days ago. So 151 jobs; the nearest rank of 0.99 is 150, the 150th latency 149. Counting
  // any excluded row would make it 150.
  for (int64_t job = 1; job <= 149; ++job) {
    ASSERT_TRUE(*warehouse->Record(CountedRow("p", job, std::nullopt, now - kDay, job)));
  }
  ASSERT_TRUE(*warehouse->Record(CountedRow("p", 150, 148, now - kDay, 9999)));
  ASSERT_TRUE(*warehouse->Record(CountedRow("p", 150, 149, now - kDay, 150)));
  MetricsRow failed = CountedRow("p", 151, 150, now - kDay, 20000);
  failed.status = JobStatus::kFailed;
  ASSERT_TRUE(*warehouse->Record(failed));
  ASSERT_TRUE(*warehouse->Record(CountedRow("p", 152, 150, now - 40 * kDay, 30000)));
  ASSERT_TRUE(*warehouse->Record(CountedRow("q", 1, std::nullopt, now - 2 * kDay, 0.5)));

  EXPECT_EQ(AdminQuery(database_, kPostgresP99Sql).rows, (Rows{{"149"}}));
  EXPECT_EQ(AdminQuery(database_,
                       "SELECT COUNT(*), MAX(latency_ms), COUNT(DISTINCT (project, job_id)) "
                       "FROM job_results WHERE timestamp >= now() - INTERVAL '30 days'")
                .rows,
            (Rows{{"151", "150", "151"}}));
  EXPECT_EQ(AdminQuery(database_, "SELECT COUNT(*) FROM job_results").rows, (Rows{{"152"}}));
  EXPECT_EQ(Answer(warehouse->Latency(LatencyQuery{std::nullopt, now - 30 * kDay, now, {0.99}})),
            "151 {149}");
}

// A database of version 2 (job_results is what version 3 adds) gains the view when opened, and
// keeps its derived tables as they are.
TEST_F(PostgresWarehouseTest, VersionTwoDatabaseGainsJobResultsOnOpen) {
  {
    std::unique_ptr<PostgresWarehouse> warehouse = OpenOrDie(url_);
    ASSERT_NE(warehouse, nullptr);
    ASSERT_TRUE(*warehouse->Record(CountedRow("p", 1, std::nullopt, kT0, 10)));
  }
  ASSERT_EQ(AdminQuery(database_,
                       "DROP VIEW job_results; "
                       "UPDATE buildtrace_meta SET value = '2' WHERE key = 'schema_version'")
                .error,
            "");
  const Rows oids = AdminQuery(database_,
                               "SELECT to_regclass('buildtrace_job_latency')::oid, "
                               "to_regclass('buildtrace_latency_histogram')::oid")
                        .rows;
  std::unique_ptr<PostgresWarehouse> warehouse = OpenOrDie(url_);
  ASSERT_NE(warehouse, nullptr);
  EXPECT_EQ(
      AdminQuery(database_, "SELECT value FROM buildtrace_meta WHERE key = 'schema_version'").rows,
      (Rows{{"3"}}));
  EXPECT_EQ(AdminQuery(database_, "SELECT job_id, latency_ms, total_added FROM job_results").rows,
            (Rows{{"1", "10", "1"}}));
  EXPECT_EQ(AdminQuery(database_,
                       "SELECT to_regclass('buildtrace_job_latency')::oid, "
                       "to_regclass('buildtrace_latency_histogram')::oid")
                .rows,
            oids);  // not made again
  const Rows view_oid = AdminQuery(database_, "SELECT to_regclass('job_results')::oid").rows;
  ASSERT_NE(OpenOrDie(url_), nullptr);  // and again: nothing to do
  EXPECT_EQ(AdminQuery(database_, "SELECT to_regclass('job_results')::oid").rows, view_oid);
}

TEST_F(PostgresWarehouseTest, TableNamedJobResultsIsRefused) {
  ASSERT_EQ(AdminQuery(database_, "CREATE TABLE job_results (job_id TEXT)").error, "");
  Result<std::unique_ptr<PostgresWarehouse>> opened = PostgresWarehouse::Open(url_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(opened.status().message(),
              HasSubstr("the database has a table job_results, the name of BuildTrace's view for "
                        "the original service's queries; rename or drop that table"));
  EXPECT_EQ(AdminQuery(database_, "SELECT to_regclass('buildtrace_job_metrics')").rows,
            (Rows{{""}}));  // the whole schema rolled back
}

}  // namespace
}  // namespace buildtrace
