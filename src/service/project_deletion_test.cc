// Tests of ProjectDeletion against real backends: the folder store with SQLite, and S3 (moto's
// server, checking signatures) with PostgreSQL. Every folder of the project and its warehouse
// rows go, other projects stay, a second deletion deletes nothing, the caches are forgotten, and
// a concurrent store of the project happens wholly after the deletion, never half within it.
#include "service/project_deletion.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/job_parser.h"
#include "service/analysis.h"
#include "store/file_state_store.h"
#include "store/s3_state_store.h"
#include "testing/moto_server.h"
#include "testing/postgres_server.h"
#include "testing/temp_backends.h"
#include "warehouse/postgres_warehouse.h"
#include "warehouse/sqlite_warehouse.h"

namespace buildtrace {
namespace {

using Names = std::vector<std::string>;

// A warehouse whose DeleteProject waits, once armed, until the test lets it go: a deletion held
// half-way, with the project's lock taken.
class GatedDelete : public MetricsWarehouse {
 public:
  explicit GatedDelete(MetricsWarehouse& inner) : inner_(inner) {}
  Result<bool> Record(const MetricsRow& row) override { return inner_.Record(row); }
  Result<LatencyStats> Latency(const LatencyQuery& q) override { return inner_.Latency(q); }
  Result<int64_t> DeleteProject(std::string_view project) override {
    {
      std::unique_lock lock(mutex_);
      entered_ = true;
      changed_.notify_all();
      changed_.wait(lock, [this] { return !armed_; });
    }
    return inner_.DeleteProject(project);
  }
  Status Probe() override { return inner_.Probe(); }
  Result<std::string> Epoch() override { return inner_.Epoch(); }
  std::string Describe() const override { return inner_.Describe(); }

  void Arm() {
    std::lock_guard lock(mutex_);
    armed_ = true;
  }
  void AwaitEntered() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return entered_; });
  }
  void Release() {
    std::lock_guard lock(mutex_);
    armed_ = false;
    changed_.notify_all();
  }

 private:
  MetricsWarehouse& inner_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool armed_ = false;
  bool entered_ = false;
};

// The store and the warehouse of one parameter, and what they need kept alive.
struct Backends {
  std::unique_ptr<TempBackends> temp;  // file + SQLite
  std::unique_ptr<StateStore> s3;
  std::unique_ptr<MetricsWarehouse> postgres;
  StateStore* store = nullptr;
  MetricsWarehouse* warehouse = nullptr;
};

// One PostgreSQL server for the process, started on first use, stopped and removed at its exit.
class SharedPostgresServer {
 public:
  static PostgresServer* Get() {
    static SharedPostgresServer shared;
    if (!shared.error_.empty()) {
      ADD_FAILURE() << "PostgreSQL 15 could not be started: " << shared.error_;
      return nullptr;
    }
    return &shared.server_;
  }

 private:
  SharedPostgresServer() : error_(server_.Start()) {}
  ~SharedPostgresServer() { server_.StopAndRemove(); }

  PostgresServer server_;
  std::string error_;
};

std::string CreateDatabase(PostgresServer& server) {
  static std::atomic<int> counter{0};
  const std::string name =
      "bt_deletion_" + std::to_string(::getpid()) + "_" + std::to_string(counter.fetch_add(1));
  PGconn* conn = PQconnectdb(server.Url("postgres").c_str());
  PGresult* result = PQexec(conn, ("CREATE DATABASE " + name).c_str());
  EXPECT_EQ(PQresultStatus(result), PGRES_COMMAND_OK) << PQerrorMessage(conn);
  PQclear(result);
  PQfinish(conn);
  return name;
}

Backends MakeBackends(const std::string& kind) {
  Backends b;
  if (kind == "file_sqlite") {
    b.temp = std::make_unique<TempBackends>("bt-deletion");
    if (!b.temp->ok()) return b;
    b.store = b.temp->file_store();
    b.warehouse = b.temp->sqlite();
    return b;
  }
  std::string failure;
  MotoServer* moto = SharedMotoServer(&failure);
  if (moto == nullptr) {
    ADD_FAILURE() << "these tests need moto's S3 server: " << failure;
    return b;
  }
  Result<std::string> bucket = moto->NewBucket();
  if (!bucket.ok()) {
    ADD_FAILURE() << bucket.status().message();
    return b;
  }
  auto s3 = S3StateStore::Open(
      "s3://" + *bucket + "/bt?endpoint=" + moto->endpoint() + "&region=us-east-1",
      moto->credentials());
  EXPECT_TRUE(s3.ok()) << s3.status().message();
  PostgresServer* server = SharedPostgresServer::Get();
  if (!s3.ok() || server == nullptr) return b;
  auto postgres = PostgresWarehouse::Open(server->Url(CreateDatabase(*server)));
  EXPECT_TRUE(postgres.ok()) << postgres.status().message();
  if (!postgres.ok()) return b;
  b.s3 = std::move(*s3);
  b.postgres = std::move(*postgres);
  b.store = b.s3.get();
  b.warehouse = b.postgres.get();
  return b;
}

std::string JobJson(int64_t id, std::string_view project, double latency_ms) {
  return R"({"job_id":)" + std::to_string(id) + R"(,"project":")" + std::string(project) +
         R"(","timestamp":"2026-11-28T10:00:00Z","latency_ms":)" +
         std::to_string(static_cast<int>(latency_ms)) + R"(,"state":{"A":")" + std::to_string(id) +
         R"("}})";
}

class ProjectDeletionTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    backends_ = MakeBackends(GetParam());
    ASSERT_NE(backends_.store, nullptr);
    gated_ = std::make_unique<GatedDelete>(*backends_.warehouse);
    jobs_ = std::make_unique<JobRepository>(*backends_.store, ParseLimits{});
    outbox_ = std::make_unique<MetricsOutbox>(*backends_.store, *gated_, OutboxOptions{},
                                              [] { return int64_t{1'795'867'200'000}; });
    reports_ = std::make_unique<ReportService>(*jobs_, *gated_, outbox_.get());
    analyzer_ = std::make_unique<Analyzer>(*jobs_, *reports_, nullptr);
    deletion_ = std::make_unique<ProjectDeletion>(*jobs_, *reports_, *gated_, outbox_.get());
  }

  Result<StoredJob> Store(int64_t id, std::string_view project, double latency_ms = 100) {
    simdjson::padded_string body(JobJson(id, project, latency_ms));
    auto parsed = ParseJobDocument(body, ParseLimits{});
    EXPECT_TRUE(parsed.ok()) << parsed.status().message();
    if (!parsed.ok()) return parsed.status();
    return jobs_->Store((*parsed)->jobs().front());
  }
  void StoreAndAnalyse(int64_t id, std::string_view project) {
    ASSERT_TRUE(Store(id, project).ok());
    Status analysed = analyzer_->Analyse(AnalysisTask{std::string(project), id});
    ASSERT_TRUE(analysed.ok()) << analysed.message();
  }
  Names List(std::string_view prefix) {
    Result<Names> names = backends_.store->List(prefix);
    EXPECT_TRUE(names.ok()) << names.status().message();
    return names.ok() ? *names : Names{"<error>"};
  }
  // Every object of `project`, in all the folders a project has.
  Names ProjectObjects(std::string_view project) {
    Names out;
    for (const std::string& name : List("")) {
      const size_t slash = name.find('/');
      const std::string_view rest = std::string_view(name).substr(slash + 1);
      if (slash != std::string::npos &&
          (rest == project || rest.starts_with(std::string(project) + "/"))) {
        out.push_back(name);
      }
    }
    return out;
  }
  int64_t LatencyCount(std::string_view project) {
    LatencyQuery query{std::string(project), 0, INT64_MAX / 2, {}};
    query.status = LatencyStatusFilter::kAll;
    Result<LatencyStats> stats = backends_.warehouse->Latency(query);
    EXPECT_TRUE(stats.ok()) << stats.status().message();
    return stats.ok() ? stats->count : -1;
  }

  Backends backends_;
  std::unique_ptr<GatedDelete> gated_;
  std::unique_ptr<JobRepository> jobs_;
  std::unique_ptr<MetricsOutbox> outbox_;
  std::unique_ptr<ReportService> reports_;
  std::unique_ptr<Analyzer> analyzer_;
  std::unique_ptr<ProjectDeletion> deletion_;
};

TEST_P(ProjectDeletionTest, DeletesEveryFolderAndRowOfTheProjectOnly) {
  StoreAndAnalyse(1, "web");
  StoreAndAnalyse(2, "web");
  StoreAndAnalyse(1, "web-2");
  ASSERT_TRUE(backends_.store->CreateIfAbsent(DeadLetterName("web", 2), "{}").ok());
  MetricsRow waiting;
  waiting.project = "web";
  waiting.job_id = 3;
  ASSERT_TRUE(outbox_->Add(waiting).ok());
  ASSERT_TRUE(outbox_->IsPending(waiting));
  const Names other = ProjectObjects("web-2");
  ASSERT_EQ(LatencyCount("web"), 2);

  Result<DeletedProject> deleted = deletion_->Delete("web");
  ASSERT_TRUE(deleted.ok()) << deleted.status().message();
  // Index: 2 leaves in each of the two trees, 6 markers in each, and the "complete" marker.
  EXPECT_EQ(*deleted, (DeletedProject{"web", 2, 17, 2, 2, 1, 1, 2}));
  EXPECT_EQ(ProjectObjects("web"), Names{});
  EXPECT_EQ(LatencyCount("web"), 0);
  EXPECT_FALSE(outbox_->IsPending(waiting));
  EXPECT_EQ(ProjectObjects("web-2"), other);
  EXPECT_EQ(LatencyCount("web-2"), 1);

  deleted = deletion_->Delete("web");
  ASSERT_TRUE(deleted.ok()) << deleted.status().message();
  EXPECT_EQ(*deleted, (DeletedProject{"web", 0, 0, 0, 0, 0, 0, 0}));

  // The run starts over: job 1 is new, and what this process knew of the old one is forgotten.
  Result<StoredJob> again = Store(1, "web", 250);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->created);
  Result<JobHeader> header = jobs_->LoadHeader("web", 1);
  ASSERT_TRUE(header.ok()) << header.status().message();
  EXPECT_EQ(header->latency_ms, 250);
  ASSERT_TRUE(analyzer_->Analyse(AnalysisTask{"web", 1}).ok());
  EXPECT_EQ(LatencyCount("web"), 1);
  Result<bool> complete = jobs_->index().IsComplete("web");
  ASSERT_TRUE(complete.ok());
  EXPECT_TRUE(*complete);
}

TEST_P(ProjectDeletionTest, InvalidNameIsRefusedBeforeAnythingIsDeleted) {
  Result<DeletedProject> deleted = deletion_->Delete("../web");
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(deleted.status().reason(), "invalid_request");
}

TEST_P(ProjectDeletionTest, AStoreDuringTheDeletionWaitsAndHappensWhollyAfterIt) {
  StoreAndAnalyse(1, "web");
  gated_->Arm();
  Result<DeletedProject> deleted = Internal("not deleted");
  std::thread deleting([&] { deleted = deletion_->Delete("web"); });
  gated_->AwaitEntered();  // half-way, holding the project's lock: outbox and reports gone
  Result<StoredJob> stored = Internal("not stored");
  std::thread storing([&] { stored = Store(5, "web"); });
  jobs_->project_locks().AwaitUsers("web", 2);  // the store waits for the deletion
  gated_->Release();
  deleting.join();
  storing.join();
  ASSERT_TRUE(deleted.ok()) << deleted.status().message();
  EXPECT_EQ(deleted->jobs, 1);
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  EXPECT_TRUE(stored->created);
  // Job 5 is whole: its state and its index entry, the index complete; nothing of job 1.
  EXPECT_EQ(List(JobFolder("web")), Names{JobObjectName("web", 5)});
  std::vector<int64_t> indexed;
  ASSERT_TRUE(jobs_->index()
                  .Ascending("web", std::nullopt,
                             [&](const IndexedJob& job) {
                               indexed.push_back(job.job_id);
                               return true;
                             })
                  .ok());
  EXPECT_EQ(indexed, std::vector<int64_t>{5});
  EXPECT_EQ(LatencyCount("web"), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, ProjectDeletionTest,
                         ::testing::Values("file_sqlite", "s3_postgres"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST(ProjectLocksTest, SharedHoldersShareAndLocksGoWhenUnused) {
  ProjectLocks locks;
  {
    const std::vector<std::string_view> projects = {"b", "a", "b"};
    ProjectLocks::Held both = locks.Share(projects);
    ProjectLocks::Held again = locks.Share("a");  // another holder: shared
    EXPECT_EQ(locks.size(), 2u);
    ProjectLocks::Held moved = std::move(both);
    EXPECT_EQ(locks.size(), 2u);
  }
  EXPECT_EQ(locks.size(), 0u);
  { ProjectLocks::Held exclusive = locks.Exclusive("a"); }
  EXPECT_EQ(locks.size(), 0u);
}

}  // namespace
}  // namespace buildtrace
