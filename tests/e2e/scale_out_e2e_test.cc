// Two `buildtrace serve` processes on different ports over one S3 bucket (moto, checking every
// signature) and one PostgreSQL database (a real PostgreSQL 15): jobs posted to one are reported
// by the other, the same job posted to both at once is stored once, a different job under the
// same ID is stored once and refused by the other, and reports asked of both make one row.
#include <libpq-fe.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "testing/fake_google_apis.h"
#include "testing/moto_server.h"
#include "testing/postgres_server.h"
#include "tests/e2e/e2e_fixture.h"

namespace buildtrace::e2e {
namespace {

namespace fs = std::filesystem;

// Runs one statement on `url` and returns the first column of the first row ("" if none), or
// fails the test.
std::string QueryOne(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::string value;
  if (PQstatus(conn) != CONNECTION_OK) {
    ADD_FAILURE() << "cannot connect to " << url << ": " << PQerrorMessage(conn);
  } else {
    PGresult* result = PQexec(conn, sql.c_str());
    const ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      ADD_FAILURE() << sql << ": " << PQerrorMessage(conn);
    } else if (status == PGRES_TUPLES_OK && PQntuples(result) > 0) {
      value = PQgetvalue(result, 0, 0);
    }
    PQclear(result);
  }
  PQfinish(conn);
  return value;
}

class E2eScaleOut : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "bt-scale-out-XXXXXX";
    ASSERT_NE(::mkdtemp(root_.data()), nullptr);
    const std::string pg_error = postgres_.Start();
    ASSERT_EQ(pg_error, "") << "PostgreSQL 15 could not be started";
    QueryOne(postgres_.Url("postgres"), "CREATE DATABASE buildtrace");
    auto moto = MotoServer::Start(root_);
    ASSERT_TRUE(moto.ok()) << moto.status().message();
    moto_ = std::move(*moto);
    // The servers read their S3 credentials from the environment, as in production.
    auto store = moto_->NewStoreUrlForChildren("states");
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_url_ = *store;
    warehouse_url_ = postgres_.Url("buildtrace");
    for (int i = 0; i < 2; ++i) {
      const std::string dir = root_ + "/server" + std::to_string(i);
      fs::create_directories(dir);
      ServerProcess::Options options;
      options.binary = BinaryPath();
      options.data_dir = dir;
      options.log_path = dir + "/server.log";
      // Quick outbox retries and rescans, so that a test sees one instance take over the rows
      // another left within a second.
      options.extra_args = {"--store",
                            store_url_,
                            "--warehouse",
                            warehouse_url_,
                            "--outbox-retry-initial",
                            "50ms",
                            "--outbox-retry-max",
                            "200ms",
                            "--outbox-rescan",
                            "100ms"};
      auto server = ServerProcess::Start(options);
      ASSERT_TRUE(server.ok()) << server.status().message();
      servers_.push_back(std::move(*server));
      clients_.push_back(std::make_unique<HttpClient>(servers_.back()->endpoint()));
    }
  }

  void TearDown() override {
    for (auto& server : servers_) {
      if (server) {  // null: a test stopped it already
        EXPECT_TRUE(server->Stop().ok());
      }
    }
    servers_.clear();
    if (moto_) {
      EXPECT_TRUE(moto_->Stop().ok());
    }
    postgres_.StopAndRemove();
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  HttpResponse Post(int server, const std::string& body) {
    auto r = clients_[server]->Post("/process", body);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : HttpResponse{};
  }
  HttpResponse Get(int server, const std::string& target) {
    auto r = clients_[server]->Get(target);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : HttpResponse{};
  }
  std::string Rows(int64_t job_id) {
    return QueryOne(warehouse_url_,
                    "SELECT count(*) FROM buildtrace_job_metrics WHERE "
                    "project = 'web' AND job_id = " +
                        std::to_string(job_id));
  }

  std::string root_;
  PostgresServer postgres_;
  std::unique_ptr<MotoServer> moto_;
  std::string store_url_, warehouse_url_;
  std::vector<std::unique_ptr<ServerProcess>> servers_;
  std::vector<std::unique_ptr<HttpClient>> clients_;
};

TEST_F(E2eScaleOut, TwoInstancesShareOneStoreAndOneWarehouse) {
  // /readyz names both backends, and neither URL holds a secret.
  HttpResponse ready = Get(1, "/readyz");
  ASSERT_EQ(ready.status, 200) << ready.body;
  EXPECT_NE(ready.body.find("s3://"), std::string::npos) << ready.body;
  EXPECT_NE(ready.body.find("postgresql://"), std::string::npos) << ready.body;
  EXPECT_EQ(ready.body.find(moto_->credentials().secret_access_key), std::string::npos);

  // Posted to one, reported by the other.
  TestJob first;
  first.job_id = 1;
  first.state = R"({"D1":"door_10_20_5_5","W1":"window_0_0_2_3"})";
  TestJob second;
  second.job_id = 2;
  second.state = R"({"D1":"door_12_20_5_5","W1":"window_0_0_2_3","W2":"window_9_9_2_3"})";
  ASSERT_EQ(Post(0, BatchJson({first, second})).status, 202);
  JsonDoc report(Get(1, "/report/2?project=web").body);
  EXPECT_EQ(report.Int("/base_job_id"), 1);
  EXPECT_EQ(report.Int("/metrics/total_added"), 1);
  EXPECT_EQ(report.Int("/metrics/total_moved"), 1);
  EXPECT_EQ(report.Str("/warehouse/status"), "recorded");

  // Reports asked of both: one warehouse row.
  JsonDoc again(Get(0, "/report/2?project=web").body);
  EXPECT_EQ(again.Int("/metrics/total_added"), 1);
  EXPECT_FALSE(again.Bool("/warehouse/inserted"));
  EXPECT_EQ(Rows(2), "1");

  // The same job posted to both at once is stored once.
  TestJob third;
  third.job_id = 3;
  // One body for both: the default timestamp is taken when the JSON is written, and two
  // writings a second apart would be two different jobs.
  const std::string third_json = third.ToJson();
  HttpResponse answers[2];
  {
    std::thread a([&] { answers[0] = Post(0, third_json); });
    std::thread b([&] { answers[1] = Post(1, third_json); });
    a.join();
    b.join();
  }
  const bool created0 = JsonDoc(answers[0].body).Bool("/accepted/0/created");
  const bool created1 = JsonDoc(answers[1].body).Bool("/accepted/0/created");
  ASSERT_EQ(answers[0].status, created0 ? 202 : 200) << answers[0].body;
  ASSERT_EQ(answers[1].status, created1 ? 202 : 200) << answers[1].body;
  EXPECT_NE(created0, created1) << "exactly one instance creates the job";

  // Different content under one ID, at once: one stored, the other refused with a conflict.
  TestJob fourth_a;
  fourth_a.job_id = 4;
  TestJob fourth_b = fourth_a;
  fourth_b.latency_ms = 4321;
  {
    std::thread a([&] { answers[0] = Post(0, fourth_a.ToJson()); });
    std::thread b([&] { answers[1] = Post(1, fourth_b.ToJson()); });
    a.join();
    b.join();
  }
  const int ok = (answers[0].status == 202) + (answers[1].status == 202);
  const int conflict = (answers[0].status == 409) + (answers[1].status == 409);
  EXPECT_EQ(ok, 1) << answers[0].body << answers[1].body;
  EXPECT_EQ(conflict, 1) << answers[0].body << answers[1].body;

  // Both see the same projects.
  EXPECT_EQ(Get(0, "/projects").body, Get(1, "/projects").body);
  JsonDoc projects(Get(0, "/projects").body);
  EXPECT_EQ(projects.Int("/projects/0/jobs"), 4);
}

// PostgreSQL goes away: a report on instance 0 keeps its row in the outbox (in the shared S3
// bucket). Instance 0 stops; PostgreSQL comes back; instance 1, which never saw the row, finds it
// on its next rescan and writes it, once.
TEST_F(E2eScaleOut, AnotherInstanceWritesTheRowsAStoppedOneLeftInTheOutbox) {
  TestJob job;
  job.job_id = 5;
  ASSERT_EQ(Post(0, job.ToJson()).status, 202);
  ASSERT_EQ(postgres_.Stop(), "");
  const HttpResponse report = Get(0, "/report/5?project=web");
  ASSERT_EQ(report.status, 200) << report.body;
  EXPECT_EQ(JsonDoc(report.body).Str("/warehouse/status"), "pending") << report.body;
  const JsonDoc ready(Get(0, "/readyz").body);
  EXPECT_EQ(ready.Str("/status"), "degraded");
  EXPECT_EQ(ready.Str("/warehouse/status"), "unavailable");
  EXPECT_EQ(ready.Int("/outbox/pending"), 1);
  EXPECT_EQ(Get(0, "/stats/latency?project=web").status, 503);

  ASSERT_TRUE(servers_[0]->Stop().ok());
  servers_[0] = nullptr;
  ASSERT_EQ(postgres_.StartOnPort(), "");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  auto recorded = [&] {
    return Get(1, "/metrics").body.find("\nbuildtrace_outbox_recorded_total 1\n") !=
           std::string::npos;
  };
  while (!recorded() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // poll pacing
  }
  ASSERT_TRUE(recorded()) << Get(1, "/metrics").body;
  EXPECT_EQ(Rows(5), "1");
  const JsonDoc after(Get(1, "/readyz").body);
  EXPECT_EQ(after.Str("/status"), "ready");
  EXPECT_EQ(after.Int("/outbox/pending"), 0);
  const JsonDoc again(Get(1, "/report/5?project=web").body);
  EXPECT_EQ(again.Str("/warehouse/status"), "recorded");
  EXPECT_FALSE(again.Bool("/warehouse/inserted"));
  EXPECT_EQ(Rows(5), "1");
}

// `buildtrace serve --store gs://... --warehouse bigquery://...` pointed at emulators through
// STORAGE_EMULATOR_HOST and BIGQUERY_EMULATOR_HOST, played by the loopback fake of the Google
// APIs (no emulator runs on these machines): the URLs reach the right backends, emulators get a
// fixed token, and a job goes in, a report comes out and its row lands in BigQuery once.
TEST(E2eGoogleCloud, ServeOnGcsAndBigQueryEmulators) {
  FakeGoogleApis google;
  google.AcceptToken("emulator");
  google.AddBucket("bt-states");
  google.AddDataset("my-project", "buildtrace");
  ScopedEnv storage("STORAGE_EMULATOR_HOST", google.base_url().c_str());
  ScopedEnv bigquery("BIGQUERY_EMULATOR_HOST", google.base_url().c_str());
  std::string root = ::testing::TempDir() + "bt-google-XXXXXX";
  ASSERT_NE(::mkdtemp(root.data()), nullptr);
  ServerProcess::Options options;
  options.binary = BinaryPath();
  options.data_dir = root;
  options.log_path = root + "/server.log";
  options.extra_args = {"--store", "gs://bt-states/prod", "--warehouse",
                        "bigquery://my-project/buildtrace/job_metrics"};
  auto server = ServerProcess::Start(options);
  ASSERT_TRUE(server.ok()) << server.status().message();
  HttpClient client((*server)->endpoint());

  auto ready = client.Get("/readyz");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200) << ready->body;
  TestJob first;
  first.job_id = 1;
  TestJob second;
  second.job_id = 2;
  second.state = R"({"D1":"door_11_20_5_5"})";
  auto posted = client.Post("/process", BatchJson({first, second}));
  ASSERT_TRUE(posted.ok());
  ASSERT_EQ(posted->status, 202) << posted->body;
  EXPECT_TRUE(google.Object("bt-states", "prod/jobs/web/0000000000000000002.json").has_value());
  for (int i = 0; i < 2; ++i) {
    auto report = client.Get("/report/2?project=web");
    ASSERT_TRUE(report.ok());
    ASSERT_EQ(report->status, 200) << report->body;
    JsonDoc doc(report->body);
    EXPECT_EQ(doc.Int("/metrics/total_moved"), 1);
    EXPECT_EQ(doc.Str("/warehouse/status"), "recorded");
  }
  EXPECT_EQ(google.RowCount("my-project", "buildtrace", "job_metrics"), 1u);
  EXPECT_TRUE(google.ProtocolErrors().empty()) << google.ProtocolErrors().front();
  EXPECT_TRUE((*server)->Stop().ok());
  std::error_code ignored;
  std::filesystem::remove_all(root, ignored);
}

}  // namespace
}  // namespace buildtrace::e2e
