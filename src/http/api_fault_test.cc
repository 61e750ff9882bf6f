// The API over failing, slow and frozen backends. The store half is one value-parameterized suite
// run over every store backend: the folder store, S3 (moto's server, started by this binary) and
// GCS (the loopback fake of its JSON API), each behind FaultyStateStore. The warehouse half runs
// over a real PostgreSQL server started by this binary, behind FaultyMetricsWarehouse or frozen
// with SIGSTOP. Every answer is compared with the one a fault-free control service (folder store,
// SQLite) gives for the same requests: a fault may delay an answer, never change it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/canonical_hash.h"
#include "http/api.h"
#include "store/file_state_store.h"
#include "store/gcs_state_store.h"
#include "store/s3_state_store.h"
#include "testing/api_request.h"
#include "testing/fake_google_apis.h"
#include "testing/faulty_metrics_warehouse.h"
#include "testing/faulty_state_store.h"
#include "testing/json_body.h"
#include "testing/moto_server.h"
#include "testing/postgres_server.h"
#include "warehouse/postgres_warehouse.h"
#include "warehouse/sqlite_warehouse.h"

namespace buildtrace {
namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using StoreMethod = FaultyStateStore::Method;
using WarehouseMethod = FaultyMetricsWarehouse::Method;
using Names = std::vector<std::string>;

constexpr int64_t kNowMs = 1'795'867'200'000;  // 2026-11-28T12:00:00Z

// A job at 2026-11-28T10:00:00Z whose state is `state` (a JSON object).
std::string Job(int64_t id, std::string_view state, std::string_view project = "default",
                int latency_ms = 100) {
  return R"({"job_id":)" + std::to_string(id) + R"(,"project":")" + std::string(project) +
         R"(","timestamp":"2026-11-28T10:00:00Z","latency_ms":)" + std::to_string(latency_ms) +
         R"(,"state":)" + std::string(state) + "}";
}

// Three jobs of the default project whose states differ in every way a diff reports.
const std::string kJob1 = Job(1, R"({"a":"1","b":"2","c":"3"})", "default", 100);
const std::string kJob2 = Job(2, R"({"a":"1","b":"20","d":"4"})", "default", 200);
const std::string kJob3 = Job(3, R"({"a":"9","d":"4","e":"5","f":"6"})", "default", 300);

std::string MakeTempDir(const std::string& name) {
  std::string dir = ::testing::TempDir() + name + "-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) {
    ADD_FAILURE() << "cannot make a temporary folder";
    return "";
  }
  return dir;
}

HttpResponse Call(Api& api, http::verb method, std::string_view target, std::string body = "") {
  HttpRequest request{method, target, 11};
  request.body() = std::move(body);
  request.prepare_payload();
  return HandleOwned(api, request);
}

// A report's JSON without its "warehouse" member (always the last one): what the store and the
// diff decide, the same whichever warehouse recorded the row.
std::string WithoutWarehouse(const std::string& report) {
  const size_t at = report.rfind(",\"warehouse\":");
  if (at == std::string::npos) {
    ADD_FAILURE() << "no warehouse section in " << report;
    return report;
  }
  return report.substr(0, at) + "}\n";
}

// ---- Servers started once per process, on first use, stopped at its exit.

MotoServer* SharedMoto() {
  std::string failure;
  MotoServer* server = SharedMotoServer(&failure);
  if (server == nullptr) ADD_FAILURE() << "these tests need moto's S3 server: " << failure;
  return server;
}

class SharedPostgres {
 public:
  static PostgresServer* Get() {
    static SharedPostgres shared;
    if (!shared.error_.empty()) {
      ADD_FAILURE() << "PostgreSQL 15 could not be started: " << shared.error_;
      return nullptr;
    }
    return &shared.server_;
  }

 private:
  SharedPostgres() : error_(server_.Start()) {}
  ~SharedPostgres() { server_.StopAndRemove(); }

  PostgresServer server_;
  std::string error_;
};

// ---- Store backends

// A GCS store together with the fake it talks to; checks at the end that every request the
// store sent matched the API reference.
class FakeGcsStore : public StateStore {
 public:
  FakeGcsStore() {
    fake_.AddBucket("bt-bucket");
    fake_.AcceptToken("test-token");
    RetryPolicy retry;
    retry.sleep = [](std::chrono::milliseconds) {};
    auto store = GcsStateStore::Open("gs://bt-bucket/states/v1",
                                     std::make_shared<StaticTokenSource>("test-token"),
                                     fake_.base_url(), retry);
    EXPECT_TRUE(store.ok()) << store.status().message();
    if (store.ok()) store_ = std::move(*store);
  }
  ~FakeGcsStore() override { EXPECT_EQ(fake_.ProtocolErrors(), Names{}); }
  bool ok() const { return store_ != nullptr; }

  Status CreateIfAbsent(std::string_view n, std::string_view d) override {
    return store_->CreateIfAbsent(n, d);
  }
  std::vector<Status> CreateManyIfAbsent(std::span<const ObjectToCreate> objects) override {
    return store_->CreateManyIfAbsent(objects);
  }
  Result<std::string> Read(std::string_view n) override { return store_->Read(n); }
  Result<Names> List(std::string_view p) override { return store_->List(p); }
  Status Delete(std::string_view n) override { return store_->Delete(n); }
  Status Probe() override { return store_->Probe(); }
  std::string Describe() const override { return store_->Describe(); }

 private:
  FakeGoogleApis fake_;
  std::unique_ptr<GcsStateStore> store_;
};

struct StoreBackend {
  std::string name;
  // A new, empty store; `dir` is the test's temporary folder.
  std::function<std::unique_ptr<StateStore>(const std::string& dir)> open;
};

std::unique_ptr<StateStore> OpenFileStore(const std::string& dir) {
  auto store = FileStateStore::Open(dir + "/states");
  EXPECT_TRUE(store.ok()) << store.status().message();
  return store.ok() ? std::move(*store) : nullptr;
}

// A store under a prefix of a new bucket.
// On a fresh bucket of the shared moto; `options` are more URL parameters ("&timeout-ms=300").
std::unique_ptr<StateStore> OpenS3Store(const std::string&, const std::string& options = "") {
  MotoServer* moto = SharedMoto();
  if (moto == nullptr) return nullptr;
  Result<std::string> bucket = moto->NewBucket();
  if (!bucket.ok()) {
    ADD_FAILURE() << bucket.status().message();
    return nullptr;
  }
  auto store = S3StateStore::Open(
      "s3://" + *bucket + "/bt/states?endpoint=" + moto->endpoint() + "&region=us-east-1" + options,
      moto->credentials());
  EXPECT_TRUE(store.ok()) << store.status().message();
  return store.ok() ? std::move(*store) : nullptr;
}

std::unique_ptr<StateStore> OpenGcsStore(const std::string&) {
  auto store = std::make_unique<FakeGcsStore>();
  return store->ok() ? std::move(store) : nullptr;
}

// ---- The service under test and its fault-free control twin

// An Api over a store and a warehouse, each behind a fault-injecting wrapper.
struct Service {
  Service(StateStore& store, MetricsWarehouse& warehouse)
      : faulty_store(store),
        faulty_warehouse(warehouse),
        outbox(faulty_store, faulty_warehouse, OutboxOptions{}, [] { return kNowMs; }),
        api(ApiContext{faulty_store, faulty_warehouse, ParseLimits{}, [] { return kNowMs; },
                       64ull << 20, nullptr, &outbox}) {}

  HttpResponse Post(std::string body) { return Call(api, http::verb::post, "/process", body); }
  HttpResponse Get(std::string_view target) { return Call(api, http::verb::get, target); }

  FaultyStateStore faulty_store;
  FaultyMetricsWarehouse faulty_warehouse;
  MetricsOutbox outbox;  // not started: the tests make its passes
  Api api;
};

// A folder store and an SQLite warehouse that never fail: the expected answers.
class Control {
 public:
  explicit Control(const std::string& dir) {
    auto store = FileStateStore::Open(dir + "/control-states");
    EXPECT_TRUE(store.ok()) << store.status().message();
    auto warehouse = SqliteWarehouse::Open(dir + "/control.db");
    EXPECT_TRUE(warehouse.ok()) << warehouse.status().message();
    if (!store.ok() || !warehouse.ok()) return;
    store_ = std::move(*store);
    warehouse_ = std::move(*warehouse);
    service_ = std::make_unique<Service>(*store_, *warehouse_);
  }
  bool ok() const { return service_ != nullptr; }

  // Posts new jobs and expects 202; the answer's body.
  std::string Post(std::string body) {
    const HttpResponse res = service_->Post(std::move(body));
    EXPECT_EQ(res.result_int(), 202u) << res.body();
    return res.body();
  }
  // The report without its warehouse section.
  std::string Report(std::string_view target) {
    const HttpResponse res = service_->Get(target);
    EXPECT_EQ(res.result_int(), 200u) << res.body();
    return WithoutWarehouse(res.body());
  }
  StateStore& store() { return *store_; }

 private:
  std::unique_ptr<FileStateStore> store_;
  std::unique_ptr<SqliteWarehouse> warehouse_;
  std::unique_ptr<Service> service_;
};

// Every object under "jobs/" with its bytes: what "converged" compares.
std::vector<std::pair<std::string, std::string>> JobObjects(StateStore& store) {
  std::vector<std::pair<std::string, std::string>> out;
  Result<Names> names = store.List("jobs/");
  EXPECT_TRUE(names.ok()) << names.status().message();
  if (!names.ok()) return out;
  for (const std::string& name : *names) {
    Result<std::string> bytes = store.Read(name);
    EXPECT_TRUE(bytes.ok()) << name << ": " << bytes.status().message();
    out.emplace_back(name, bytes.ok() ? *bytes : "<unreadable>");
  }
  return out;
}

// ==== Store faults, over every store backend

class ApiStoreFaultTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("bt-api-fault");
    ASSERT_FALSE(dir_.empty());
    real_store_ = GetParam().open(dir_);
    ASSERT_NE(real_store_, nullptr);
    auto sqlite = SqliteWarehouse::Open(dir_ + "/metrics.db");
    ASSERT_TRUE(sqlite.ok()) << sqlite.status().message();
    sqlite_ = std::move(*sqlite);
    service_ = std::make_unique<Service>(*real_store_, *sqlite_);
    control_ = std::make_unique<Control>(dir_);
    ASSERT_TRUE(control_->ok());
  }
  void TearDown() override {
    service_.reset();
    control_.reset();
    real_store_.reset();
    sqlite_.reset();
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  FaultyStateStore& store() { return service_->faulty_store; }
  HttpResponse Post(std::string body) { return service_->Post(std::move(body)); }
  HttpResponse Get(std::string_view target) { return service_->Get(target); }
  // Posts to the service and to the control; both must accept.
  void PostToBoth(const std::string& body) {
    const HttpResponse res = Post(body);
    ASSERT_EQ(res.result_int(), 202u) << res.body();
    control_->Post(body);
  }

  // Marks the projects' job index complete in the real store, as it is once a project has jobs:
  // a fault then meets the jobs' own creates first, not a new project's mark
  // (JobRepositoryTest covers that one).
  void MarkKnown(std::initializer_list<std::string_view> projects) {
    for (std::string_view project : projects) {
      ASSERT_TRUE(real_store_->CreateIfAbsent("index-projects/" + std::string(project), "").ok());
    }
  }
  // The bytes of a job in the real store (past the fault wrapper), "" if absent.
  std::string StoredBytes(int64_t job_id, std::string_view project = "default") {
    Result<std::string> bytes = real_store_->Read(JobObjectName(project, job_id));
    return bytes.ok() ? *bytes : "";
  }
  // {"project":..,"job_id":..,"digest":..,"created":..} as "accepted" lists it, the digest that
  // of the control's copy of the job.
  // A job's canonical bytes (what GET /jobs serves and its digest is of) in the control's store.
  Result<std::string> ControlBytes(std::string_view project, int64_t job_id) {
    return JobRepository(control_->store(), ParseLimits{}).ReadRaw(project, job_id);
  }

  std::string Accepted(int64_t job_id, bool created, std::string_view project = "default") {
    Result<std::string> expected = ControlBytes(project, job_id);
    EXPECT_TRUE(expected.ok()) << expected.status().message();
    return R"({"project":")" + std::string(project) + R"(","job_id":)" + std::to_string(job_id) +
           R"(,"digest":")" + ContentDigest(expected.ok() ? *expected : "") + R"(","created":)" +
           (created ? "true" : "false") + R"(,"report_url":"/report/)" + std::to_string(job_id) +
           "?project=" + std::string(project) + R"("})";
  }

  // The job as GET /jobs answers it: 200 with exactly the control's bytes, whole.
  void ExpectWhole(int64_t job_id, std::string_view project = "default") {
    SCOPED_TRACE("job " + std::to_string(job_id) + " of " + std::string(project));
    const HttpResponse res =
        Get("/jobs/" + std::to_string(job_id) + "?project=" + std::string(project));
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    Result<std::string> expected = ControlBytes(project, job_id);
    ASSERT_TRUE(expected.ok()) << expected.status().message();
    EXPECT_EQ(res.body(), *expected);
    Result<std::string> sealed = control_->store().Read(JobObjectName(project, job_id));
    ASSERT_TRUE(sealed.ok());
    EXPECT_EQ(StoredBytes(job_id, project), *sealed);  // the stored object, digest and all
  }
  void ExpectAbsent(int64_t job_id, std::string_view project = "default") {
    SCOPED_TRACE("job " + std::to_string(job_id) + " of " + std::string(project));
    const HttpResponse res =
        Get("/jobs/" + std::to_string(job_id) + "?project=" + std::string(project));
    ASSERT_EQ(res.result_int(), 404u) << res.body();
    EXPECT_EQ(JsonBody(res.body()).Str("/error/code"), "not_found");
    EXPECT_EQ(real_store_->Read(JobObjectName(project, job_id)).status().code(),
              StatusCode::kNotFound);
  }

  std::string dir_;
  std::unique_ptr<StateStore> real_store_;
  std::unique_ptr<SqliteWarehouse> sqlite_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<Control> control_;
};

// Five jobs of two projects; the fault hits the fourth object of the batch.
TEST_P(ApiStoreFaultTest, BatchFailingFromTheKthObjectListsExactlyTheStoredJobs) {
  const std::string batch = "[" + kJob1 + "," + kJob2 + "," + Job(1, R"({"w":"1"})", "web") + "," +
                            kJob3 + "," + Job(2, R"({"w":"2"})", "web") + "]";
  control_->Post(batch);
  MarkKnown({"default", "web"});
  store().FailFrom(StoreMethod::kCreateIfAbsent, 3, Unavailable("injected: store went away"));
  const HttpResponse res = Post(batch);
  ASSERT_EQ(res.result_int(), 503u) << res.body();
  EXPECT_EQ(res[http::field::retry_after], "5");
  EXPECT_EQ(res.body(),
            R"({"error":{"code":"unavailable","message":"job 3 of project default (index 3 in )"
            R"(the request) was not stored: injected: store went away"},"accepted":[)" +
                Accepted(1, true) + "," + Accepted(2, true) + "," + Accepted(1, true, "web") +
                "]}\n");
  // Every job of the batch is tried once (the job index's entries, under index/, come after; a
  // new project's mark, under index-projects/, came before).
  EXPECT_EQ(store().CreateCallsUnder("jobs/"), 5);
  ExpectWhole(1);
  ExpectWhole(2);
  ExpectWhole(1, "web");
  ExpectAbsent(3);
  ExpectAbsent(2, "web");
  EXPECT_EQ(*real_store_->List("jobs/"),
            (Names{"jobs/default/0000000000000000001.json", "jobs/default/0000000000000000002.json",
                   "jobs/web/0000000000000000001.json"}));

  // The fault clears: the same batch stores the rest, and the store converges.
  store().Heal();
  const HttpResponse retry = Post(batch);
  ASSERT_EQ(retry.result_int(), 202u) << retry.body();
  EXPECT_EQ(retry.body(),
            R"({"status":"Jobs accepted and state stored. Ready for reporting.","accepted":[)" +
                Accepted(1, false) + "," + Accepted(2, false) + "," + Accepted(1, false, "web") +
                "," + Accepted(3, true) + "," + Accepted(2, true, "web") + "]}\n");
  EXPECT_EQ(JobObjects(*real_store_), JobObjects(control_->store()));
  ExpectWhole(3);
  ExpectWhole(2, "web");
}

TEST_P(ApiStoreFaultTest, BatchFailingFromTheFirstObjectStoresNothing) {
  control_->Post("[" + kJob1 + "," + kJob2 + "]");
  MarkKnown({"default"});
  store().Fail(StoreMethod::kCreateIfAbsent, Unavailable("injected: store is read-only"));
  const HttpResponse res = Post("[" + kJob1 + "," + kJob2 + "]");
  ASSERT_EQ(res.result_int(), 503u) << res.body();
  EXPECT_EQ(res[http::field::retry_after], "5");
  EXPECT_EQ(res.body(),
            R"({"error":{"code":"unavailable","message":"job 1 of project default (index 0 in )"
            R"(the request) was not stored: injected: store is read-only"},"accepted":[]})"
            "\n");
  ExpectAbsent(1);
  ExpectAbsent(2);
  EXPECT_EQ(*real_store_->List(""), Names{"index-projects/default"});

  store().Heal();
  const HttpResponse retry = Post("[" + kJob1 + "," + kJob2 + "]");
  ASSERT_EQ(retry.result_int(), 202u) << retry.body();
  EXPECT_EQ(retry.body(),
            R"({"status":"Jobs accepted and state stored. Ready for reporting.","accepted":[)" +
                Accepted(1, true) + "," + Accepted(2, true) + "]}\n");
  EXPECT_EQ(JobObjects(*real_store_), JobObjects(control_->store()));
}

// Reads and listings failing at each point of a report: a 503 that carries only the error, no
// metrics row; once healed, the report the control computes without faults.
TEST_P(ApiStoreFaultTest, ReportOverAFailingStoreIs503UntilHealedThenRight) {
  PostToBoth("[" + kJob1 + "," + kJob2 + "," + kJob3 + "]");
  const std::string expected = control_->Report("/report/3");
  // A report reads: the kept copy (absent), then job 3 and its base, job 2, in parallel.
  const std::vector<std::pair<std::string, std::function<void()>>> faults = {
      {"every read", [&] { store().Fail(StoreMethod::kRead, Unavailable("injected: no read")); }},
      {"every list", [&] { store().Fail(StoreMethod::kList, Unavailable("injected: no read")); }},
      {"reads after the first",
       [&] { store().FailFrom(StoreMethod::kRead, 1, Unavailable("injected: no read")); }},
      {"the last read",
       [&] { store().FailFrom(StoreMethod::kRead, 2, Unavailable("injected: no read")); }},
  };
  for (const auto& [name, inject] : faults) {
    SCOPED_TRACE(name);
    store().Heal();
    inject();
    const HttpResponse res = Get("/report/3");
    ASSERT_EQ(res.result_int(), 503u) << res.body();
    EXPECT_EQ(res[http::field::retry_after], "5");
    EXPECT_EQ(res.body(), R"({"error":{"code":"unavailable","message":"injected: no read"}})"
                          "\n");
  }
  EXPECT_EQ(service_->faulty_warehouse.Calls(WarehouseMethod::kRecord), 0);

  store().Heal();
  const HttpResponse healed = Get("/report/3");
  ASSERT_EQ(healed.result_int(), 200u) << healed.body();
  EXPECT_EQ(WithoutWarehouse(healed.body()), expected);
  EXPECT_EQ(service_->faulty_warehouse.Calls(WarehouseMethod::kRecord), 1);
  // Asked again, the kept copy answers: the same report.
  const HttpResponse kept = Get("/report/3");
  ASSERT_EQ(kept.result_int(), 200u) << kept.body();
  EXPECT_EQ(WithoutWarehouse(kept.body()), expected);
}

// Keeping the rendered report is an optimisation: a store that cannot take it still answers.
TEST_P(ApiStoreFaultTest, ReportWhoseCopyCannotBeKeptIsStillAnswered) {
  PostToBoth("[" + kJob1 + "," + kJob2 + "]");
  const std::string expected = control_->Report("/report/2");
  store().Fail(StoreMethod::kCreateIfAbsent, Unavailable("injected: store is read-only"));
  const HttpResponse res = Get("/report/2");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(WithoutWarehouse(res.body()), expected);
  EXPECT_EQ(*real_store_->List("reports/"), Names{});
  store().Heal();
  const HttpResponse again = Get("/report/2");
  ASSERT_EQ(again.result_int(), 200u) << again.body();
  EXPECT_EQ(WithoutWarehouse(again.body()), expected);
  EXPECT_EQ(real_store_->List("reports/")->size(), 1u);
}

// A slow store (every call delayed before it reaches the backend) under two overlapping batches
// and two reports at once: each job is created exactly once, and the answers are the control's.
TEST_P(ApiStoreFaultTest, SlowStoreStillCreatesEachJobOnceAndAnswersRightly) {
  control_->Post("[" + kJob1 + "," + kJob2 + "," + kJob3 + "]");
  const std::string expected = control_->Report("/report/3");
  store().Delay(StoreMethod::kCreateIfAbsent, std::chrono::milliseconds(150));
  store().Delay(StoreMethod::kRead, std::chrono::milliseconds(30));
  store().Delay(StoreMethod::kList, std::chrono::milliseconds(30));
  auto first =
      std::async(std::launch::async, [&] { return Post("[" + kJob1 + "," + kJob2 + "]"); });
  auto second =
      std::async(std::launch::async, [&] { return Post("[" + kJob2 + "," + kJob3 + "]"); });
  const HttpResponse a = first.get();
  const HttpResponse b = second.get();
  ASSERT_EQ(a.result_int(), 202u) << a.body();  // each creates a job (1, and 3)
  ASSERT_EQ(b.result_int(), 202u) << b.body();
  const JsonBody ja(a.body()), jb(b.body());
  EXPECT_EQ(ja.Int("/accepted/1/job_id"), 2);
  EXPECT_EQ(jb.Int("/accepted/0/job_id"), 2);
  EXPECT_TRUE(ja.Bool("/accepted/0/created"));
  EXPECT_TRUE(jb.Bool("/accepted/1/created"));
  // Job 2 is in both batches: exactly one of them created it, both name the same bytes. (The S3
  // and GCS stores may call both creates successful only when one of them had to be retried,
  // which nothing here provokes.)
  EXPECT_NE(ja.Bool("/accepted/1/created"), jb.Bool("/accepted/0/created"));
  EXPECT_EQ(ja.Str("/accepted/1/digest"), jb.Str("/accepted/0/digest"));
  EXPECT_EQ(JobObjects(*real_store_), JobObjects(control_->store()));

  auto report_a = std::async(std::launch::async, [&] { return Get("/report/3"); });
  auto report_b = std::async(std::launch::async, [&] { return Get("/report/3"); });
  for (const HttpResponse& res : {report_a.get(), report_b.get()}) {
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_EQ(WithoutWarehouse(res.body()), expected);
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllStores, ApiStoreFaultTest,
    ::testing::Values(StoreBackend{"File", &OpenFileStore},
                      StoreBackend{"S3", [](const std::string& dir) { return OpenS3Store(dir); }},
                      StoreBackend{"Gcs", &OpenGcsStore}),
    [](const auto& param_info) { return param_info.param.name; });

// ==== A real S3 server that stops answering

// moto frozen with SIGSTOP while a batch is inside the store: the request waits (it does not
// fail, and stores nothing half-way), and completes rightly once moto is thawed. (With the
// default 30 s per call and 4 attempts a store that stays frozen would take two minutes to give
// up; the next test shortens that with timeout-ms.)
TEST(ApiFrozenS3Test, BatchWaitsForAFrozenServerAndCompletesWhenThawed) {
  const std::string dir = MakeTempDir("bt-api-frozen-s3");
  MotoServer* moto = SharedMoto();
  ASSERT_NE(moto, nullptr);
  std::unique_ptr<StateStore> s3 = OpenS3Store(dir);
  ASSERT_NE(s3, nullptr);
  auto sqlite = SqliteWarehouse::Open(dir + "/metrics.db");
  ASSERT_TRUE(sqlite.ok());
  Service service(*s3, **sqlite);
  Control control(dir);
  const std::string batch = "[" + kJob1 + "," + kJob2 + "]";
  const std::string expected = control.Post(batch);

  ASSERT_TRUE(moto->Freeze().ok());
  auto posted = std::async(std::launch::async, [&] { return service.Post(batch); });
  const bool entered =
      service.faulty_store.WaitForCalls(StoreMethod::kCreateIfAbsent, 2, std::chrono::seconds(30));
  // While moto is frozen the request cannot have been answered.
  const bool answered_while_frozen =
      posted.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  ASSERT_TRUE(moto->Thaw().ok());
  ASSERT_TRUE(entered) << "the batch never reached the store";
  EXPECT_FALSE(answered_while_frozen);
  const HttpResponse res = posted.get();
  ASSERT_EQ(res.result_int(), 202u) << res.body();
  EXPECT_EQ(res.body(), expected);
  EXPECT_EQ(JobObjects(*s3), JobObjects(control.store()));
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

// A store whose calls time out after 300 ms (timeout-ms): with moto frozen, a report is a 503
// naming the store after the retries, not a hang and not a report on partial data; thawed, the
// report is right.
TEST(ApiFrozenS3Test, ReportOverAFrozenServerIs503AfterTheCallTimeout) {
  const std::string dir = MakeTempDir("bt-api-frozen-s3-timeout");
  MotoServer* moto = SharedMoto();
  ASSERT_NE(moto, nullptr);
  std::unique_ptr<StateStore> s3 = OpenS3Store(dir, "&timeout-ms=300");
  ASSERT_NE(s3, nullptr);
  EXPECT_THAT(s3->Describe(), HasSubstr("&timeout-ms=300"));
  auto sqlite = SqliteWarehouse::Open(dir + "/metrics.db");
  ASSERT_TRUE(sqlite.ok());
  Service service(*s3, **sqlite);
  Control control(dir);
  const std::string batch = "[" + kJob1 + "," + kJob2 + "]";
  control.Post(batch);
  ASSERT_EQ(service.Post(batch).result_int(), 202u);

  ASSERT_TRUE(moto->Freeze().ok());
  // On another thread, so that a request that never returns fails the test instead of hanging it.
  auto frozen = std::async(std::launch::async, [&] { return service.Get("/report/2"); });
  const bool answered = frozen.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  ASSERT_TRUE(moto->Thaw().ok());
  ASSERT_TRUE(answered) << "a report over a frozen store did not return within 60 s";
  const HttpResponse res = frozen.get();
  ASSERT_EQ(res.result_int(), 503u) << res.body();
  EXPECT_EQ(res[http::field::retry_after], "5");
  const JsonBody body(res.body());
  EXPECT_EQ(body.Str("/error/code"), "unavailable");
  EXPECT_THAT(body.Str("/error/message"), StartsWith("s3 store " + s3->Describe() + ": "));
  EXPECT_THAT(body.Str("/error/message"), HasSubstr("(4 attempts)"));
  EXPECT_FALSE(body.Has("/metrics"));

  const HttpResponse healed = service.Get("/report/2");
  ASSERT_EQ(healed.result_int(), 200u) << healed.body();
  EXPECT_EQ(WithoutWarehouse(healed.body()), control.Report("/report/2"));
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

// ==== Warehouse faults over a real PostgreSQL

// Rows of the metrics table, as text, for `sql` on `database`.
std::vector<std::vector<std::string>> PostgresRows(PostgresServer& server,
                                                   const std::string& database,
                                                   const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  PGconn* conn = PQconnectdb(server.Url(database).c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    ADD_FAILURE() << PQerrorMessage(conn);
    PQfinish(conn);
    return rows;
  }
  PGresult* result = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    ADD_FAILURE() << sql << ": " << PQerrorMessage(conn);
  }
  for (int row = 0; row < PQntuples(result); ++row) {
    rows.emplace_back();
    for (int column = 0; column < PQnfields(result); ++column) {
      rows.back().push_back(PQgetvalue(result, row, column));
    }
  }
  PQclear(result);
  PQfinish(conn);
  return rows;
}

// The service over a folder store and a PostgreSQL warehouse on a database of its own, whose
// calls wait at most 1 s for an answer and 2 s for a connection.
class ApiWarehouseFaultTest : public ::testing::Test {
 protected:
  static constexpr std::chrono::milliseconds kAnswerTimeout{1000};

  void SetUp() override {
    server_ = SharedPostgres::Get();
    ASSERT_NE(server_, nullptr);
    static int counter = 0;
    database_ = "bt_api_fault_" + std::to_string(counter++);
    PostgresRows(*server_, "postgres", "CREATE DATABASE " + database_);
    dir_ = MakeTempDir("bt-api-pg");
    auto store = FileStateStore::Open(dir_ + "/states");
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
    auto warehouse =
        PostgresWarehouse::Open(server_->Url(database_) + "?connect_timeout=2", kAnswerTimeout);
    ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
    postgres_ = std::move(*warehouse);
    service_ = std::make_unique<Service>(*store_, *postgres_);
    control_ = std::make_unique<Control>(dir_);
    ASSERT_TRUE(control_->ok());
    const std::string batch = "[" + kJob1 + "," + kJob2 + "]";
    ASSERT_EQ(service_->Post(batch).result_int(), 202u);
    control_->Post(batch);
  }
  void TearDown() override {
    service_.reset();
    postgres_.reset();
    control_.reset();
    store_.reset();
    if (server_ != nullptr && !database_.empty()) {
      PostgresRows(*server_, "postgres", "DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
    }
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  // The metrics rows, as (project, job_id, base_job_id, latency_ms, added, removed, modified,
  // unchanged).
  std::vector<std::vector<std::string>> Rows() {
    return PostgresRows(*server_, database_,
                        "SELECT project, job_id, base_job_id, latency_ms, added, removed, "
                        "modified, unchanged FROM buildtrace_job_metrics ORDER BY job_id");
  }
  // A report answered while the warehouse fails: the control's report, with a warehouse section
  // that says the row waits in the outbox, whose entry is in the store.
  void ExpectReportWithRowPending(const HttpResponse& res, const std::string& expected,
                                  const std::string& outbox_entry) {
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_EQ(WithoutWarehouse(res.body()), expected);
    const JsonBody body(res.body());
    EXPECT_EQ(body.Str("/warehouse/status"), "pending");
    EXPECT_FALSE(body.Bool("/warehouse/inserted"));
    EXPECT_TRUE(store_->Read(outbox_entry).ok()) << outbox_entry;
  }

  PostgresServer* server_ = nullptr;
  std::string database_;
  std::string dir_;
  std::unique_ptr<FileStateStore> store_;
  std::unique_ptr<PostgresWarehouse> postgres_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<Control> control_;
};

const std::string kOutboxEntry2 = "outbox/default/0000000000000000002-0000000000000000001.json";

const std::vector<std::vector<std::string>> kBothRows = {
    {"default", "1", "0", "100", "3", "0", "0", "0"},
    {"default", "2", "1", "200", "1", "1", "1", "1"},
};

TEST_F(ApiWarehouseFaultTest, FailingRecordStillAnswersTheReportAndConvergesOnceHealed) {
  const std::string expected = control_->Report("/report/2");
  service_->faulty_warehouse.Fail(WarehouseMethod::kRecord, Unavailable("injected: no insert"));
  ExpectReportWithRowPending(service_->Get("/report/2"), expected, kOutboxEntry2);
  EXPECT_EQ(Rows(), (std::vector<std::vector<std::string>>{}));
  const Status refused = service_->outbox.DrainOnce();
  EXPECT_EQ(refused.message(), "injected: no insert");
  EXPECT_EQ(Rows(), (std::vector<std::vector<std::string>>{}));

  service_->faulty_warehouse.Heal();
  ASSERT_TRUE(service_->outbox.DrainOnce().ok());
  EXPECT_EQ(store_->Read(kOutboxEntry2).status().code(), StatusCode::kNotFound);
  for (const char* target : {"/report/1", "/report/2"}) {
    const HttpResponse res = service_->Get(target);
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_EQ(WithoutWarehouse(res.body()), control_->Report(target));
  }
  EXPECT_EQ(Rows(), kBothRows);
}

TEST_F(ApiWarehouseFaultTest, FailingLatencyIs503ThenRight) {
  for (const char* target : {"/report/1", "/report/2"}) {
    ASSERT_EQ(service_->Get(target).result_int(), 200u);
  }
  service_->faulty_warehouse.Fail(WarehouseMethod::kLatency, Unavailable("injected: no query"));
  const HttpResponse failed = service_->Get("/stats/latency?quantiles=0,1");
  ASSERT_EQ(failed.result_int(), 503u) << failed.body();
  EXPECT_EQ(failed[http::field::retry_after], "5");
  EXPECT_EQ(failed.body(), R"({"error":{"code":"unavailable","message":"injected: no query"}})"
                           "\n");
  service_->faulty_warehouse.Heal();
  const HttpResponse healed = service_->Get("/stats/latency?quantiles=0,1");
  ASSERT_EQ(healed.result_int(), 200u) << healed.body();
  EXPECT_EQ(healed.body(), R"({"project":null,"window":"30d","status":"succeeded","count":2,)"
                           R"("quantiles":{"0":100,"1":200},"unit":"ms"})"
                           "\n");
}

// PostgreSQL frozen with SIGSTOP (it keeps every connection open and answers nothing): a report
// is still answered, within the warehouse's answer timeout; latency and readiness are 503 naming
// the warehouse. Thawed, everything converges.
TEST_F(ApiWarehouseFaultTest, FrozenPostgresStillAnswersReportsAndConvergesWhenThawed) {
  const std::string expected = control_->Report("/report/2");
  ASSERT_EQ(server_->Freeze(), "");
  struct Answers {
    HttpResponse report, latency, ready;
  };
  // On another thread, so that a request that never returns fails the test instead of hanging it.
  auto frozen = std::async(std::launch::async, [&] {
    Answers answers;
    answers.report = service_->Get("/report/2");
    answers.latency = service_->Get("/stats/latency");
    answers.ready = service_->Get("/readyz");
    return answers;
  });
  const bool answered = frozen.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  ASSERT_EQ(server_->Thaw(), "");
  ASSERT_TRUE(answered) << "requests over a frozen PostgreSQL did not return within 60 s";
  const Answers answers = frozen.get();
  const std::string backend = "postgresql warehouse " + postgres_->Describe() + ": ";
  ExpectReportWithRowPending(answers.report, expected, kOutboxEntry2);

  ASSERT_EQ(answers.latency.result_int(), 503u) << answers.latency.body();
  EXPECT_EQ(answers.latency[http::field::retry_after], "5");
  const JsonBody latency(answers.latency.body());
  EXPECT_EQ(latency.Str("/error/code"), "unavailable");
  EXPECT_THAT(latency.Str("/error/message"), StartsWith(backend + "latency of all projects in ["));

  // Degraded, not unavailable: the outbox keeps the rows, so the instance stays in rotation.
  ASSERT_EQ(answers.ready.result_int(), 200u) << answers.ready.body();
  const JsonBody ready(answers.ready.body());
  EXPECT_EQ(ready.Str("/status"), "degraded");
  EXPECT_EQ(ready.Int("/outbox/pending"), 1);
  EXPECT_EQ(ready.Str("/store/status"), "ok");
  EXPECT_EQ(ready.Str("/warehouse/status"), "unavailable");
  // /readyz waits for no backend longer than its probe deadline (1 s by default).
  EXPECT_EQ(ready.Str("/warehouse/message"),
            postgres_->Describe() +
                ": probe: no answer within 1000 ms; the backend is slow or stuck, retry later");

  // Thawed: the outbox writes the row once (the timed-out INSERT may have run already), both
  // reports are right, each row is there once.
  ASSERT_TRUE(service_->outbox.DrainOnce().ok());
  for (const char* target : {"/report/1", "/report/2"}) {
    const HttpResponse res = service_->Get(target);
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_EQ(WithoutWarehouse(res.body()), control_->Report(target));
  }
  EXPECT_EQ(Rows(), kBothRows);
  EXPECT_EQ(service_->Get("/readyz").result_int(), 200u);
  const HttpResponse stats = service_->Get("/stats/latency?quantiles=1");
  ASSERT_EQ(stats.result_int(), 200u) << stats.body();
  EXPECT_EQ(JsonBody(stats.body()).Int("/count"), 2);
}

}  // namespace
}  // namespace buildtrace
