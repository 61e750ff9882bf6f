// Tests of the API handlers, called directly with Beast requests built by hand (no sockets), on the
// real FileStateStore and SqliteWarehouse in a fresh temporary folder and an injected clock. The
// backends are wrapped in the fault-injection wrappers so a test can make them fail mid-request.
#include "http/api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/resource.h>
#include <zlib.h>

#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "core/canonical_hash.h"
#include "core/timestamp.h"
#include "testing/api_request.h"
#include "testing/gzip.h"
#include "testing/json_body.h"
#include "testing/temp_backends.h"
#include "testing/temp_files.h"

namespace buildtrace {
namespace {

namespace http = boost::beast::http;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using StoreMethod = FaultyStateStore::Method;
using WarehouseMethod = FaultyMetricsWarehouse::Method;

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kNowMs = 1'795'867'200'000;  // 2026-11-28T12:00:00Z

// A job of the default project taking 100 ms at 2026-11-28T10:00:00Z, unless told otherwise.
std::string JobJson(int64_t id, std::string_view state = R"({"A":"a"})",
                    std::string_view more_fields = "") {
  return R"({"job_id":)" + std::to_string(id) +
         R"(,"timestamp":"2026-11-28T10:00:00Z","latency_ms":100,"state":)" + std::string(state) +
         std::string(more_fields) + "}";
}

std::string JobAt(int64_t id, int64_t timestamp_ms, int latency_ms,
                  std::string_view project = "default") {
  return R"({"job_id":)" + std::to_string(id) + R"(,"project":")" + std::string(project) +
         R"(","timestamp":")" + FormatRfc3339Utc(timestamp_ms) + R"(","latency_ms":)" +
         std::to_string(latency_ms) + R"(,"state":{"A":"a"}})";
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(backends_.ok());
    // Not started: tests that need a pass make it themselves.
    outbox_ = std::make_unique<MetricsOutbox>(*store_, *warehouse_, OutboxOptions{},
                                              [this] { return now_ms_; });
    ApiContext context{*store_, *warehouse_, ParseLimits{}, [this] { return now_ms_; }};
    context.outbox = outbox_.get();
    context.responses = &responses_;
    api_ = std::make_unique<Api>(std::move(context));
    jobs_ = std::make_unique<JobRepository>(*file_store_, ParseLimits{});
  }
  void TearDown() override {
    jobs_.reset();
    api_.reset();
    outbox_.reset();
  }

  HttpResponse Send(http::verb method, std::string_view target, std::string body = "",
                    std::string_view accept = "") {
    HttpRequest request{method, target, 11};
    if (!accept.empty()) request.set(http::field::accept, accept);
    request.body() = std::move(body);
    request.prepare_payload();
    return HandleOwned(*api_, request);
  }
  HttpResponse Post(std::string body) { return Send(http::verb::post, "/process", body); }
  // A POST /process with one Content-Encoding header line per entry of `encodings`.
  HttpResponse PostEncoded(std::string body, std::vector<std::string_view> encodings,
                           Api* api = nullptr) {
    HttpRequest request{http::verb::post, "/process", 11};
    for (std::string_view encoding : encodings) {
      request.insert(http::field::content_encoding, encoding);
    }
    request.body() = std::move(body);
    request.prepare_payload();
    return HandleOwned(api != nullptr ? *api : *api_, request);
  }
  HttpResponse Get(std::string_view target, std::string_view accept = "") {
    return Send(http::verb::get, target, "", accept);
  }
  // Posts jobs that are new and expects 202 (stored, analysis queued or deferred to the report).
  void PostOk(std::string body) {
    const HttpResponse res = Post(std::move(body));
    ASSERT_EQ(res.result_int(), 202u) << res.body();
  }

  // The stored bytes of a job in their canonical form (what GET /jobs serves and the digest is
  // of), read from the real store (past the wrapper) and checked against the digest kept in them.
  std::string Stored(int64_t job_id, std::string_view project = "default") {
    JobRepository real(*file_store_, ParseLimits{});
    Result<std::string> bytes = real.ReadRaw(project, job_id);
    EXPECT_TRUE(bytes.ok()) << bytes.status().message();
    return bytes.ok() ? *bytes : "";
  }
  std::vector<int64_t> StoredIds(std::string_view project = "default") {
    Result<std::vector<int64_t>> ids = jobs_->ListJobIds(project);
    EXPECT_TRUE(ids.ok()) << ids.status().message();
    return ids.ok() ? *ids : std::vector<int64_t>{};
  }
  // {"project":..,"job_id":..,"digest":..,"created":..}, an entry of "accepted".
  // What a POST that stored every job answers before its list: the original service's status.
  static inline const std::string kAcceptedPrefix =
      R"({"status":"Jobs accepted and state stored. Ready for reporting.","accepted":[)";

  std::string Accepted(int64_t job_id, bool created, std::string_view project = "default") {
    return R"({"project":")" + std::string(project) + R"(","job_id":)" + std::to_string(job_id) +
           R"(,"digest":")" + ContentDigest(Stored(job_id, project)) + R"(","created":)" +
           (created ? "true" : "false") + R"(,"report_url":"/report/)" + std::to_string(job_id) +
           "?project=" + std::string(project) + R"("})";
  }

  int64_t now_ms_ = kNowMs;
  TempBackends backends_{"bt-api"};
  FileStateStore* file_store_ = backends_.file_store();
  SqliteWarehouse* sqlite_ = backends_.sqlite();
  FaultyStateStore* store_ = backends_.store();
  FaultyMetricsWarehouse* warehouse_ = backends_.warehouse();
  std::unique_ptr<MetricsOutbox> outbox_;
  ResponseCounters responses_;  // counted by the server, which these tests leave out
  std::unique_ptr<Api> api_;
  std::unique_ptr<JobRepository> jobs_;  // for looking at the store directly
};

// --- POST /process ---

TEST_F(ApiTest, PostOneJobStoresItAndListsItAsAccepted) {
  const HttpResponse res = Post(JobJson(1));
  ASSERT_EQ(res.result_int(), 202u) << res.body();
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_EQ(res.body(), kAcceptedPrefix + Accepted(1, true) + "]}\n");
  EXPECT_EQ(Stored(1),
            "{\"job_id\":1,\"project\":\"default\",\"timestamp\":\"2026-11-28T10:00:00Z\","
            "\"latency_ms\":100,\"status\":\"succeeded\",\"metadata\":{},\"state\":{\"A\":\"a\"}}"
            "\n");
}

TEST_F(ApiTest, PostAnArrayStoresEveryJob) {
  const HttpResponse res =
      Post("[" + JobJson(1) + "," + JobJson(2) + "," + JobAt(1, kNowMs, 5, "web") + "]");
  ASSERT_EQ(res.result_int(), 202u) << res.body();
  EXPECT_EQ(res.body(), kAcceptedPrefix + Accepted(1, true) + "," + Accepted(2, true) + "," +
                            Accepted(1, true, "web") + "]}\n");
  EXPECT_EQ(StoredIds(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(StoredIds("web"), (std::vector<int64_t>{1}));
}

TEST_F(ApiTest, IdenticalRepostIsAcceptedAsNotCreated) {
  PostOk(JobJson(1));
  // The same job with its fields in another order and the latency spelled differently.
  const HttpResponse res =
      Post(R"({"state":{"A":"a"},"latency_ms":1e2,"job_id":1,"timestamp":"2026-11-28T10:00:00Z"})");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(res.body(), kAcceptedPrefix + Accepted(1, false) + "]}\n");
}

TEST_F(ApiTest, BatchWithOneInvalidJobStoresNothing) {
  const HttpResponse res = Post("[" + JobJson(1) + "," +
                                R"({"job_id":2,"timestamp":"2026-11-28T10:00:00Z",)"
                                R"("latency_ms":-5,"state":{}})" +
                                "," + JobJson(3) + "]");
  ASSERT_EQ(res.result_int(), 400u) << res.body();
  const JsonBody body(res.body());
  EXPECT_EQ(body.Str("/error/code"), "invalid_job");
  EXPECT_EQ(body.Size("/error/details"), 1u);
  EXPECT_EQ(body.Int("/error/details/0/index"), 1);
  EXPECT_EQ(body.Str("/error/details/0/field"), "latency_ms");
  EXPECT_THAT(body.Str("/error/message"), HasSubstr("job 1: latency_ms"));
  EXPECT_FALSE(body.Has("/accepted"));
  EXPECT_THAT(StoredIds(), IsEmpty());
  EXPECT_EQ(store_->Calls(StoreMethod::kCreateIfAbsent), 0);
}

// A state of `objects` objects (o0, o1, ...), with o123 listed twice if `twice`: over 4 MiB at
// 250 000 objects, so that the file store writes it while the duplicate-ID check runs.
std::string LargeState(int objects, bool twice) {
  std::string state = "{";
  for (int i = 0; i < objects; ++i) {
    if (i) state += ',';
    state += "\"o" + std::to_string(i) + "\":\"door_1_2_3_4\"";
  }
  return state + (twice ? ",\"o123\":\"door_5_6_7_8\"}" : "}");
}

TEST_F(ApiTest, DuplicateIdInALargeStateIsTheParsersAnswerAndStoresNothing) {
  const std::string state = LargeState(250'000, true);
  ASSERT_GT(state.size(), size_t{4} << 20);
  const HttpResponse res = Post("[" + JobJson(1) + "," + JobJson(2, state) + "]");
  ASSERT_EQ(res.result_int(), 400u) << res.body().substr(0, 500);
  const JsonBody body(res.body());
  EXPECT_EQ(body.Str("/error/code"), "invalid_job");
  EXPECT_EQ(body.Str("/error/message"),
            "1 problem found, the first: job 1: state.o123: this object ID appears twice; each "
            "object must appear once");
  EXPECT_EQ(body.Size("/error/details"), 1u);
  EXPECT_EQ(body.Int("/error/details/0/index"), 1);
  EXPECT_EQ(body.Str("/error/details/0/field"), "state.o123");
  EXPECT_FALSE(body.Has("/accepted"));
  EXPECT_THAT(StoredIds(), IsEmpty());
  EXPECT_THAT(TempFilesBelow(backends_.folder()), IsEmpty());
  EXPECT_FALSE(std::filesystem::exists(backends_.folder() + "/store/jobs/default"));  // no folder
  // Nor the job index's mark of the new project: made only once the check agrees.
  EXPECT_FALSE(std::filesystem::exists(backends_.folder() + "/store/index-projects/default"));
  // The same batch without the repeat is stored whole, with the digest of its canonical bytes.
  const HttpResponse ok =
      Post("[" + JobJson(1) + "," + JobJson(2, LargeState(250'000, false)) + "]");
  ASSERT_EQ(ok.result_int(), 202u) << ok.body();
  EXPECT_EQ(ok.body(), kAcceptedPrefix + Accepted(1, true) + "," + Accepted(2, true) + "]}\n");
  EXPECT_EQ(StoredIds(), (std::vector<int64_t>{1, 2}));
  EXPECT_THAT(TempFilesBelow(backends_.folder()), IsEmpty());
  EXPECT_TRUE(std::filesystem::is_directory(backends_.folder() + "/store/jobs/default"));
}

TEST_F(ApiTest, MalformedJsonIsRejected) {
  for (const std::string body : {R"({"job_id": 1,)", "", "[1, 2", R"({"job_id":1}x)"}) {
    SCOPED_TRACE(body);
    const HttpResponse res = Post(body);
    ASSERT_EQ(res.result_int(), 400u) << res.body();
    EXPECT_EQ(JsonBody(res.body()).Str("/error/code"), "malformed_json");
  }
  EXPECT_THAT(StoredIds(), IsEmpty());
}

TEST_F(ApiTest, ConflictingRepostIs409AndLeavesTheStoredJob) {
  PostOk(JobJson(1));
  const std::string before = Stored(1);
  const HttpResponse res = Post(JobJson(1, R"({"A":"changed"})"));
  ASSERT_EQ(res.result_int(), 409u) << res.body();
  const JsonBody body(res.body());
  EXPECT_EQ(body.Str("/error/code"), "conflict");
  EXPECT_THAT(body.Str("/error/message"),
              HasSubstr("1 of 1 jobs conflict with stored jobs of the same job_id"));
  EXPECT_EQ(body.Int("/error/details/0/index"), 0);
  EXPECT_EQ(body.Str("/error/details/0/field"), "job_id");
  EXPECT_EQ(body.Size("/accepted"), 0u);
  EXPECT_EQ(Stored(1), before);
  EXPECT_EQ(Get("/jobs/1").body(), before);
}

TEST_F(ApiTest, ConflictInABatchStillStoresTheOtherJobs) {
  PostOk(JobJson(1));
  const HttpResponse res =
      Post("[" + JobJson(2) + "," + JobJson(1, R"({"A":"changed"})") + "," + JobJson(3) + "]");
  ASSERT_EQ(res.result_int(), 409u) << res.body();
  const JsonBody body(res.body());
  EXPECT_EQ(body.Str("/error/code"), "conflict");
  EXPECT_EQ(body.Size("/error/details"), 1u);
  EXPECT_EQ(body.Int("/error/details/0/index"), 1);
  EXPECT_EQ(body.Size("/accepted"), 2u);
  EXPECT_EQ(body.Int("/accepted/0/job_id"), 2);
  EXPECT_EQ(body.Int("/accepted/1/job_id"), 3);
  EXPECT_EQ(StoredIds(), (std::vector<int64_t>{1, 2, 3}));
}

TEST_F(ApiTest, StoreFailingMidBatchIs503AndListsWhatWasStored) {
  // A known project (its job index marked complete), so that the fault meets the jobs' creates.
  ASSERT_TRUE(file_store_->CreateIfAbsent("index-projects/default", "").ok());
  store_->FailFrom(StoreMethod::kCreateIfAbsent, 1, Unavailable("disk went away"));
  const HttpResponse res = Post("[" + JobJson(1) + "," + JobJson(2) + "," + JobJson(3) + "]");
  ASSERT_EQ(res.result_int(), 503u) << res.body();
  EXPECT_EQ(res[http::field::retry_after], "5");
  EXPECT_EQ(res.body(),
            R"({"error":{"code":"unavailable","message":"job 2 of project default (index 1 in )"
            R"(the request) was not stored: disk went away"},)"
            R"("accepted":[)" +
                Accepted(1, true) + "]}\n");
  EXPECT_EQ(StoredIds(), (std::vector<int64_t>{1}));

  // Retrying the whole batch once the store is back completes it.
  store_->Heal();
  const HttpResponse retry = Post("[" + JobJson(1) + "," + JobJson(2) + "," + JobJson(3) + "]");
  ASSERT_EQ(retry.result_int(), 202u) << retry.body();
  EXPECT_EQ(retry.body(), kAcceptedPrefix + Accepted(1, false) + "," + Accepted(2, true) + "," +
                              Accepted(3, true) + "]}\n");
}

// A damaged stored object is not the client's conflict: 500, naming the object, no Retry-After.
TEST_F(ApiTest, RepostOverACorruptStoredJobIsInternal) {
  ASSERT_TRUE(file_store_->CreateIfAbsent(JobObjectName("default", 1), "{garbage").ok());
  const HttpResponse res = Post("[" + JobJson(2) + "," + JobJson(1) + "]");
  ASSERT_EQ(res.result_int(), 500u) << res.body();
  EXPECT_EQ(res[http::field::retry_after], "");
  const JsonBody body(res.body());
  EXPECT_EQ(body.Str("/error/code"), "corrupt_object");
  EXPECT_THAT(body.Str("/error/message"), HasSubstr("jobs/default/0000000000000000001.json"));
  EXPECT_THAT(body.Str("/error/message"), HasSubstr("corrupt"));
  EXPECT_EQ(body.Size("/accepted"), 1u);
  EXPECT_EQ(body.Int("/accepted/0/job_id"), 2);
}

TEST_F(ApiTest, TooManyJobsIs413AndStoresNothing) {
  ParseLimits limits;
  limits.max_jobs = 2;
  Api small(ApiContext{*store_, *warehouse_, limits, [] { return kNowMs; }});
  HttpRequest request{http::verb::post, "/process", 11};
  request.body() = "[" + JobJson(1) + "," + JobJson(2) + "," + JobJson(3) + "]";
  request.prepare_payload();
  const HttpResponse res = small.Handle(request);
  ASSERT_EQ(res.result_int(), 413u) << res.body();
  EXPECT_EQ(JsonBody(res.body()).Str("/error/code"), "too_many_jobs");
  EXPECT_THAT(StoredIds(), IsEmpty());
}

TEST_F(ApiTest, PostProcessTakesNoQueryParameters) {
  const HttpResponse res = Send(http::verb::post, "/process?dry_run=1", JobJson(1));
  ASSERT_EQ(res.result_int(), 400u) << res.body();
  EXPECT_EQ(JsonBody(res.body()).Str("/error/code"), "invalid_request");
  EXPECT_THAT(StoredIds(), IsEmpty());
}

TEST_F(ApiTest, GzipBodyIsStoredAsTheSameJobAsTheUncompressedOne) {
  const HttpResponse res = PostEncoded(Gzip("[" + JobJson(1) + "," + JobJson(2) + "]"), {"gzip"});
  ASSERT_EQ(res.result_int(), 202u) << res.body();
  EXPECT_EQ(res.body(), kAcceptedPrefix + Accepted(1, true) + "," + Accepted(2, true) + "]}\n");
  EXPECT_EQ(StoredIds(), (std::vector<int64_t>{1, 2}));
  // The same job posted uncompressed is the identical job, with the same digest.
  const HttpResponse plain = Post(JobJson(1));
  ASSERT_EQ(plain.result_int(), 200u) << plain.body();
  EXPECT_FALSE(JsonBody(plain.body()).Bool("/accepted/0/created"));
  EXPECT_EQ(JsonBody(plain.body()).Str("/accepted/0/digest"),
            JsonBody(res.body()).Str("/accepted/0/digest"));
}

TEST_F(ApiTest, GzipBombOverTheLimitIs413AndStoresNothing) {
  ApiContext context{*store_, *warehouse_, ParseLimits{}, [] { return kNowMs; }};
  context.max_body_bytes = 1 << 20;
  Api small(context);
  // Valid JSON once decompressed (a job and 2 MiB of blanks), about 2 KiB on the wire.
  const std::string bomb = Gzip(JobJson(1) + std::string(2 << 20, ' '));
  ASSERT_LT(bomb.size(), 10'000u);
  const HttpResponse res = PostEncoded(bomb, {"gzip"}, &small);
  ASSERT_EQ(res.result_int(), 413u) << res.body();
  const JsonBody body(res.body());
  EXPECT_EQ(body.Str("/error/code"), "body_too_large");
  EXPECT_THAT(body.Str("/error/message"),
              HasSubstr("the decompressed request body exceeds the limit of 1048576 bytes"));
  EXPECT_THAT(StoredIds(), IsEmpty());
  EXPECT_EQ(store_->Calls(StoreMethod::kCreateIfAbsent), 0);
  // Under the limit the same Api takes it.
  const HttpResponse fits =
      PostEncoded(Gzip(JobJson(1) + std::string(1000, ' ')), {"gzip"}, &small);
  EXPECT_EQ(fits.result_int(), 202u) << fits.body();
}

TEST_F(ApiTest, UnsupportedContentEncodingIs415WithAcceptEncoding) {
  // br, and two header lines that together say "gzip, br".
  for (const auto& encodings :
       {std::vector<std::string_view>{"br"}, std::vector<std::string_view>{"gzip", "br"}}) {
    SCOPED_TRACE(encodings.size());
    const HttpResponse res = PostEncoded(JobJson(1), encodings);
    ASSERT_EQ(res.result_int(), 415u) << res.body();
    EXPECT_EQ(res[http::field::accept_encoding], "gzip");
    const JsonBody body(res.body());
    EXPECT_EQ(body.Str("/error/code"), "unsupported_encoding");
    EXPECT_THAT(body.Str("/error/message"), HasSubstr("is not supported"));
  }
  EXPECT_THAT(StoredIds(), IsEmpty());
}

TEST_F(ApiTest, CorruptGzipBodyIs400BadEncoding) {
  std::string compressed = Gzip(JobJson(1));
  compressed.resize(compressed.size() - 3);
  const HttpResponse res = PostEncoded(compressed, {"gzip"});
  ASSERT_EQ(res.result_int(), 400u) << res.body();
  const JsonBody body(res.body());
  EXPECT_EQ(body.Str("/error/code"), "bad_encoding");
  EXPECT_THAT(body.Str("/error/message"), HasSubstr("truncated"));
  // An explicit identity coding is the plain body.
  const HttpResponse identity = PostEncoded(JobJson(1), {"identity"});
  EXPECT_EQ(identity.result_int(), 202u) << identity.body();
}

// --- GET /report ---

class ApiReportTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    PostOk(
        "[" + JobJson(1, R"({"A":"door_0_0_1_1","B":"b","C":"c"})") + "," +
        JobJson(2, R"({"A":"door_5_0_1_1","C":"c","D":"d"})", R"(,"metadata":{"branch":"main"})") +
        "]");
  }
};

TEST_F(ApiReportTest, FirstJobHasANullBaseAndEverythingAdded) {
  const HttpResponse res = Get("/report/1");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(res[http::field::content_type], "application/json");
  const JsonBody body(res.body());
  EXPECT_EQ(body.Str("/project"), "default");
  EXPECT_EQ(body.Int("/job_id"), 1);
  EXPECT_TRUE(body.IsNull("/base_job_id"));
  EXPECT_EQ(body.Str("/status"), "succeeded");
  EXPECT_EQ(body.Int("/objects"), 3);
  EXPECT_EQ(body.Int("/metrics/job_id"), 1);
  EXPECT_EQ(body.Str("/metrics/timestamp"), "2026-11-28T10:00:00Z");
  EXPECT_EQ(body.Number("/metrics/latency_ms"), 100);
  EXPECT_EQ(body.Int("/metrics/total_added"), 3);
  EXPECT_EQ(body.Int("/metrics/total_removed"), 0);
  EXPECT_EQ(body.Int("/metrics/total_modified"), 0);
  EXPECT_EQ(body.Int("/metrics/total_unchanged"), 0);
  EXPECT_EQ(body.Strings("/changes/added"), (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_EQ(body.Size("/changes/removed"), 0u);
  EXPECT_EQ(body.Size("/changes/modified"), 0u);
  EXPECT_FALSE(body.Bool("/changes/truncated"));
  EXPECT_EQ(body.Int("/limit"), 1000);
  EXPECT_FALSE(body.Bool("/lineage/explicit_base"));
  EXPECT_EQ(body.Int("/lineage/missing_ids"), 0);
  EXPECT_EQ(body.Str("/summary"),
            "Job 1 of project default with no base: 3 added, 0 removed, 0 modified (0 moved, "
            "0 resized, 0 retyped, 0 changed), 0 unchanged. No earlier job succeeded, so every "
            "object counts as added.");
  EXPECT_EQ(body.Str("/warehouse/status"), "recorded");
  EXPECT_TRUE(body.Bool("/warehouse/inserted"));
}

TEST_F(ApiReportTest, SecondJobIsDiffedWithTheFirst) {
  const HttpResponse res = Get("/report/2");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  const JsonBody body(res.body());
  EXPECT_EQ(body.Int("/base_job_id"), 1);
  EXPECT_EQ(body.Str("/metadata/branch"), "main");
  EXPECT_EQ(body.Int("/metrics/total_added"), 1);
  EXPECT_EQ(body.Int("/metrics/total_removed"), 1);
  EXPECT_EQ(body.Int("/metrics/total_modified"), 1);
  EXPECT_EQ(body.Int("/metrics/total_unchanged"), 1);
  EXPECT_EQ(body.Int("/metrics/total_moved"), 1);
  EXPECT_EQ(body.Int("/metrics/total_resized"), 0);
  EXPECT_EQ(body.Int("/metrics/total_retyped"), 0);
  EXPECT_EQ(body.Int("/metrics/total_changed"), 0);
  EXPECT_EQ(body.Strings("/changes/added"), (std::vector<std::string>{"D"}));
  EXPECT_EQ(body.Strings("/changes/removed"), (std::vector<std::string>{"B"}));
  EXPECT_EQ(body.Size("/changes/modified"), 1u);
  EXPECT_EQ(body.Str("/changes/modified/0/id"), "A");
  EXPECT_EQ(body.Str("/changes/modified/0/kind"), "moved");
  EXPECT_EQ(body.Str("/changes/modified/0/before"), "door_0_0_1_1");
  EXPECT_EQ(body.Str("/changes/modified/0/after"), "door_5_0_1_1");
  EXPECT_EQ(body.Str("/summary"),
            "Job 2 of project default against job 1: 1 added, 1 removed, 1 modified (1 moved, "
            "0 resized, 0 retyped, 0 changed), 1 unchanged.");
  EXPECT_EQ(body.Str("/lineage/explanation"), "Job 1 is the previous job.");
}

TEST_F(ApiReportTest, SecondReportFindsTheRowAlreadyRecorded) {
  ASSERT_EQ(Get("/report/2").result_int(), 200u);
  const HttpResponse res = Get("/report/2");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  const JsonBody body(res.body());
  EXPECT_EQ(body.Str("/warehouse/status"), "recorded");
  EXPECT_FALSE(body.Bool("/warehouse/inserted"));
}

// A kept answer is sent from the kept bytes themselves: every repeated report shares them, and
// the response puts them on the wire whole, after a Content-Length of their size.
TEST_F(ApiReportTest, RepeatedReportsShareTheKeptBytesWithoutCopying) {
  ASSERT_EQ(Get("/report/2").result_int(), 200u);  // computed, recorded, kept
  HttpRequest request{http::verb::get, "/report/2", 11};
  HttpResponse second = api_->Handle(request);  // rendered and remembered
  HttpResponse third = api_->Handle(request);   // from memory
  ASSERT_EQ(third.result_int(), 200u);
  EXPECT_EQ(third.body(), "");  // nothing of its own: it shares
  EXPECT_EQ(second.body().text().data(), third.body().text().data());
  const std::string text(third.body().text());
  EXPECT_EQ(JsonBody(text).Str("/warehouse/status"), "recorded");

  third.prepare_payload();
  std::ostringstream wire;
  wire << third;
  const std::string sent = wire.str();
  EXPECT_THAT(sent, HasSubstr("Content-Length: " + std::to_string(text.size()) + "\r\n"));
  ASSERT_GE(sent.size(), text.size());
  EXPECT_EQ(sent.substr(sent.size() - text.size()), text);

  third.body().Own();  // a copy of its own, for code that wants one
  EXPECT_EQ(third.body(), text);
  EXPECT_EQ(third.body().text(), text);
}

TEST_F(ApiReportTest, ExplicitBase) {
  const HttpResponse res = Get("/report/2?base=2");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  const JsonBody body(res.body());
  EXPECT_EQ(body.Int("/base_job_id"), 2);
  EXPECT_TRUE(body.Bool("/lineage/explicit_base"));
  EXPECT_EQ(body.Int("/metrics/total_unchanged"), 3);

  const HttpResponse missing = Get("/report/2?base=7");
  ASSERT_EQ(missing.result_int(), 404u) << missing.body();
  const JsonBody missing_body(missing.body());
  EXPECT_EQ(missing_body.Str("/error/code"), "not_found");
  EXPECT_THAT(missing_body.Str("/error/message"), HasSubstr("base job 7"));

  // A later job may be the base too.
  const HttpResponse later = Get("/report/1?base=2");
  ASSERT_EQ(later.result_int(), 200u) << later.body();
  const JsonBody later_body(later.body());
  EXPECT_EQ(later_body.Int("/base_job_id"), 2);
  EXPECT_EQ(later_body.Strings("/changes/added"), (std::vector<std::string>{"B"}));
  EXPECT_EQ(later_body.Strings("/changes/removed"), (std::vector<std::string>{"D"}));

  EXPECT_EQ(Get("/report/2?base=0").result_int(), 400u);
  EXPECT_EQ(Get("/report/2?base=x").result_int(), 400u);
}

TEST_F(ApiReportTest, TextFormatByParameterOrAcceptHeader) {
  const std::string summary_line =
      "Summary: 1 added, 1 removed, 1 modified (1 moved, 0 resized, 0 retyped, 0 changed), "
      "1 unchanged.\n";
  for (const HttpResponse& res : {Get("/report/2?format=text"), Get("/report/2", "text/plain")}) {
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    EXPECT_EQ(res[http::field::content_type], "text/plain; charset=utf-8");
    EXPECT_THAT(res.body(), HasSubstr(summary_line));
    EXPECT_THAT(res.body(), HasSubstr("Base:      job 1. Job 1 is the previous job.\n"));
    EXPECT_THAT(res.body(),
                HasSubstr("  ~ A (door) moved 5 units east [door_0_0_1_1 -> door_5_0_1_1]\n"));
  }
  // JSON when the client accepts it too, or asks for it explicitly.
  EXPECT_EQ(Get("/report/2", "text/plain, application/json")[http::field::content_type],
            "application/json");
  EXPECT_EQ(Get("/report/2?format=json", "text/plain")[http::field::content_type],
            "application/json");
  const HttpResponse bad = Get("/report/2?format=xml");
  ASSERT_EQ(bad.result_int(), 400u) << bad.body();
  EXPECT_EQ(JsonBody(bad.body()).Str("/error/code"), "invalid_request");
}

TEST_F(ApiReportTest, LimitTruncatesTheListsNotTheTotals) {
  const HttpResponse res = Get("/report/1?limit=1");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  const JsonBody body(res.body());
  EXPECT_EQ(body.Strings("/changes/added"), (std::vector<std::string>{"A"}));
  EXPECT_TRUE(body.Bool("/changes/truncated"));
  EXPECT_EQ(body.Int("/limit"), 1);
  EXPECT_EQ(body.Int("/metrics/total_added"), 3);

  EXPECT_EQ(Get("/report/1?limit=1000000").result_int(), 200u);
  EXPECT_EQ(Get("/report/1?limit=1000001").result_int(), 400u);
  EXPECT_EQ(Get("/report/1?limit=-1").result_int(), 400u);
}

TEST_F(ApiReportTest, RejectsUnknownParametersAndInvalidProjects) {
  const HttpResponse unknown = Get("/report/1?colour=red");
  ASSERT_EQ(unknown.result_int(), 400u) << unknown.body();
  const JsonBody unknown_body(unknown.body());
  EXPECT_EQ(unknown_body.Str("/error/code"), "invalid_request");
  EXPECT_EQ(unknown_body.Str("/error/message"),
            "unknown query parameter \"colour\"; this endpoint takes project, base, format, "
            "limit");

  for (const char* target : {"/report/1?project=-web", "/report/1?project=a%2Fb",
                             "/report/1?project=", "/report/1?project=a%20b"}) {
    SCOPED_TRACE(target);
    const HttpResponse res = Get(target);
    ASSERT_EQ(res.result_int(), 400u) << res.body();
    const JsonBody body(res.body());
    EXPECT_EQ(body.Str("/error/code"), "invalid_request");
    EXPECT_THAT(body.Str("/error/message"), HasSubstr("project must be 1-128 characters"));
  }
  EXPECT_EQ(Get("/report/abc").result_int(), 400u);
  EXPECT_EQ(Get("/report/0").result_int(), 400u);
  EXPECT_EQ(Get("/report/1?limit=1&limit=2").result_int(), 400u);
}

TEST_F(ApiReportTest, MissingJobIs404) {
  for (const char* target : {"/report/3", "/report/1?project=other"}) {
    SCOPED_TRACE(target);
    const HttpResponse res = Get(target);
    ASSERT_EQ(res.result_int(), 404u) << res.body();
    EXPECT_EQ(JsonBody(res.body()).Str("/error/code"), "not_found");
  }
}

TEST_F(ApiReportTest, FailingWarehouseStillAnswersWithTheReportAndKeepsTheRow) {
  warehouse_->Fail(WarehouseMethod::kRecord, Unavailable("warehouse is read-only"));
  const HttpResponse res = Get("/report/2");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  const JsonBody body(res.body());
  EXPECT_EQ(body.Int("/metrics/total_added"), 1);
  EXPECT_EQ(body.Str("/warehouse/status"), "pending");
  EXPECT_FALSE(body.Bool("/warehouse/inserted"));
  EXPECT_EQ(body.Str("/warehouse/message"),
            "the warehouse did not take the row (warehouse is read-only); it is kept in the "
            "outbox and retried in the background");
  EXPECT_TRUE(
      file_store_->Read("outbox/default/0000000000000000002-0000000000000000001.json").ok());

  const HttpResponse text = Get("/report/2?format=text");
  EXPECT_THAT(text.body(), HasSubstr("Warehouse: pending (metrics row of job 2 of project default "
                                     "waits in the outbox for "));
}

TEST_F(ApiReportTest, ReadyzAndMetricsShowTheOutboxBacklogUntilItDrains) {
  warehouse_->Fail(WarehouseMethod::kRecord, Unavailable("warehouse is read-only"));
  const int64_t queued_at = now_ms_;
  ASSERT_EQ(Get("/report/2").result_int(), 200u);
  ASSERT_EQ(Get("/report/1").result_int(), 200u);
  now_ms_ += 12'500;

  const HttpResponse ready = Get("/readyz");
  ASSERT_EQ(ready.result_int(), 200u) << ready.body();
  const JsonBody body(ready.body());
  EXPECT_EQ(body.Str("/status"), "degraded");
  EXPECT_EQ(body.Int("/outbox/pending"), 2);
  EXPECT_EQ(body.Str("/outbox/oldest_queued_at"), FormatRfc3339Utc(queued_at));
  EXPECT_EQ(body.Int("/outbox/corrupt"), 0);

  responses_.Count(200);
  responses_.Count(200);
  responses_.Count(503);
  const HttpResponse metrics = Get("/metrics");
  ASSERT_EQ(metrics.result_int(), 200u) << metrics.body();
  EXPECT_EQ(metrics[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(metrics.body(), HasSubstr("\nbuildtrace_outbox_pending 2\n"));
  EXPECT_THAT(metrics.body(), HasSubstr("\nbuildtrace_outbox_oldest_age_seconds 12.5\n"));
  EXPECT_THAT(metrics.body(), HasSubstr("\nbuildtrace_outbox_recorded_total 0\n"));
  EXPECT_THAT(metrics.body(), HasSubstr("# TYPE buildtrace_http_responses_total counter\n"
                                        "buildtrace_http_responses_total{code=\"200\"} 2\n"
                                        "buildtrace_http_responses_total{code=\"503\"} 1\n"));

  warehouse_->Heal();
  ASSERT_TRUE(outbox_->DrainOnce().ok());
  const JsonBody drained(Get("/readyz").body());
  EXPECT_EQ(drained.Str("/status"), "ready");
  EXPECT_EQ(drained.Int("/outbox/pending"), 0);
  const HttpResponse after = Get("/metrics");
  EXPECT_THAT(after.body(), HasSubstr("\nbuildtrace_outbox_pending 0\n"));
  EXPECT_THAT(after.body(), HasSubstr("\nbuildtrace_outbox_oldest_age_seconds 0\n"));
  EXPECT_THAT(after.body(), HasSubstr("\nbuildtrace_outbox_recorded_total 2\n"));
  EXPECT_THAT(after.body(), HasSubstr("\nbuildtrace_outbox_failed_attempts_total 0\n"));
  EXPECT_EQ(JsonBody(Get("/report/2").body()).Str("/warehouse/status"), "recorded");
}

TEST_F(ApiReportTest, CorruptStoredJobIs500NamingTheObject) {
  ASSERT_TRUE(file_store_->CreateIfAbsent(JobObjectName("default", 3), "[]").ok());
  const HttpResponse res = Get("/report/3");
  ASSERT_EQ(res.result_int(), 500u) << res.body();
  const JsonBody body(res.body());
  EXPECT_EQ(body.Str("/error/code"), "corrupt_object");
  EXPECT_THAT(body.Str("/error/message"), HasSubstr("jobs/default/0000000000000000003.json"));
  EXPECT_THAT(Get("/metrics").body(), HasSubstr("\nbuildtrace_corrupt_objects_total 1\n"));
}

TEST_F(ApiReportTest, FailingStoreIs503WithRetryAfter) {
  store_->Fail(StoreMethod::kRead, Unavailable("store unreachable"));
  const HttpResponse res = Get("/report/2");
  ASSERT_EQ(res.result_int(), 503u) << res.body();
  EXPECT_EQ(res[http::field::retry_after], "5");
  const JsonBody body(res.body());
  EXPECT_EQ(body.Str("/error/code"), "unavailable");
  EXPECT_EQ(body.Str("/error/message"), "store unreachable");
}

TEST_F(ApiTest, MetricsCountIngestExactlyAndTimeRequestsByRouteTemplate) {
  const std::string two =
      R"({"project":"web","job_id":7,"latency_ms":12.5,"status":"failed",)"
      R"("timestamp":"2026-11-28T11:00:00+01:00","state":{"Z":"z","Y":{"y":1,"type":"t"}}})";
  PostOk(two);
  const IngestCounters& ingested = api_->ingested();
  EXPECT_EQ(ingested.jobs.load(), 1u);
  EXPECT_EQ(ingested.objects.load(), 2u);
  EXPECT_EQ(ingested.bytes.load(), two.size());
  // A replay is accepted (its bytes count) but stores nothing new.
  ASSERT_EQ(Post(two).result_int(), 200u);
  EXPECT_EQ(ingested.jobs.load(), 1u);
  EXPECT_EQ(ingested.objects.load(), 2u);
  EXPECT_EQ(ingested.bytes.load(), 2 * two.size());
  // A conflict beside a new job: the new job and its objects count, the request's bytes do not.
  std::string changed = two;
  changed.replace(changed.find("12.5"), 4, "13.5");
  std::string eight = two;
  eight.replace(eight.find("\"job_id\":7"), 10, "\"job_id\":8");
  ASSERT_EQ(Post("[" + changed + "," + eight + "]").result_int(), 409u);
  EXPECT_EQ(ingested.jobs.load(), 2u);
  EXPECT_EQ(ingested.objects.load(), 4u);
  EXPECT_EQ(ingested.bytes.load(), 2 * two.size());

  const Route* process = nullptr;
  for (const Route& route : Api::Routes()) {
    if (route.path == "/process") process = &route;
  }
  ASSERT_NE(process, nullptr);
  const RequestMetrics& requests = api_->request_metrics();
  EXPECT_EQ(requests.Count(process, http::verb::post, 202), 1u);
  EXPECT_EQ(requests.Count(process, http::verb::post, 200), 1u);
  EXPECT_EQ(requests.Count(process, http::verb::post, 409), 1u);
  EXPECT_EQ(requests.Count(process, http::verb::get, 405), 0u);
  ASSERT_EQ(Get("/process").result_int(), 405u);
  EXPECT_EQ(requests.Count(process, http::verb::get, 405), 1u);
  // Unknown paths, each different, share one series.
  for (int i = 0; i < 4; ++i) ASSERT_EQ(Get("/nope/" + std::to_string(i)).result_int(), 404u);
  EXPECT_EQ(requests.Count(nullptr, http::verb::get, 404), 4u);
  const std::string page = Get("/metrics").body();
  EXPECT_THAT(page, HasSubstr("\nbuildtrace_ingested_objects_total 4\n"));
  EXPECT_THAT(page, HasSubstr("\nbuildtrace_http_request_duration_seconds_count{route="
                              "\"unmatched\",method=\"GET\",code=\"404\"} 4\n"));
  EXPECT_THAT(page, Not(HasSubstr("/nope/")));
  EXPECT_THAT(page, HasSubstr("\n# TYPE process_open_fds gauge\n"));
}

// --- GET /jobs, GET /projects ---

TEST_F(ApiTest, GetJobReturnsTheStoredJson) {
  PostOk(R"({"metadata":{"b":"2","a":"1"},"project":"web","job_id":7,"latency_ms":12.50,)"
         R"("status":"failed","timestamp":"2026-11-28T11:00:00+01:00",)"
         R"("state":{"Z":"z","Y":{"y":1,"type":"t"}}})");
  const HttpResponse res = Get("/jobs/7?project=web");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_EQ(res.body(),
            "{\"job_id\":7,\"project\":\"web\",\"timestamp\":\"2026-11-28T11:00:00+01:00\","
            "\"latency_ms\":12.5,\"status\":\"failed\",\"metadata\":{\"b\":\"2\",\"a\":\"1\"},"
            "\"state\":{\"Z\":\"z\",\"Y\":{\"type\":\"t\",\"y\":1}}}\n");
  EXPECT_EQ(res.body(), Stored(7, "web"));
  // The bytes hash to the digest POST /process answered.
  const HttpResponse repost =
      Post(R"({"job_id":7,"project":"web","latency_ms":12.5,"status":"failed","metadata":{"a":"1",)"
           R"("b":"2"},"timestamp":"2026-11-28T11:00:00+01:00","state":{"Y":{"type":"t","y":1},)"
           R"("Z":"z"}})");
  ASSERT_EQ(repost.result_int(), 200u) << repost.body();
  EXPECT_EQ(JsonBody(repost.body()).Str("/accepted/0/digest"), ContentDigest(res.body()));
  EXPECT_FALSE(JsonBody(repost.body()).Bool("/accepted/0/created"));

  const HttpResponse missing = Get("/jobs/7");
  ASSERT_EQ(missing.result_int(), 404u) << missing.body();
  const JsonBody body(missing.body());
  EXPECT_EQ(body.Str("/error/code"), "not_found");
  EXPECT_EQ(body.Str("/error/message"), "job 7 of project default does not exist");
  EXPECT_EQ(Get("/jobs/x").result_int(), 400u);
  EXPECT_EQ(Get("/jobs/7?base=1").result_int(), 400u);
}

TEST_F(ApiTest, GetProjectsListsEachProjectWithItsCountAndLatestJob) {
  const HttpResponse empty = Get("/projects");
  ASSERT_EQ(empty.result_int(), 200u) << empty.body();
  EXPECT_EQ(empty.body(), "{\"projects\":[]}\n");

  PostOk("[" + JobAt(3, kNowMs, 1, "web") + "," + JobAt(12, kNowMs, 1, "web") + "," +
         JobAt(1, kNowMs, 1, "api") + "," + JobJson(5) + "]");
  const HttpResponse res = Get("/projects");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(res.body(), R"({"projects":[{"project":"api","jobs":1,"latest_job_id":1},)"
                        R"({"project":"default","jobs":1,"latest_job_id":5},)"
                        R"({"project":"web","jobs":2,"latest_job_id":12}]})"
                        "\n");
  EXPECT_EQ(Get("/projects?project=web").result_int(), 400u);
}

// --- GET /stats/latency ---

class ApiStatsTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    // Job 1 is 40 days old; job 3 is exactly one day old (on the edge of window=1d).
    PostOk("[" + JobAt(1, kNowMs - 40 * kDayMs, 1000) + "," + JobAt(2, kNowMs - 2 * kDayMs, 100) +
           "," + JobAt(3, kNowMs - kDayMs, 300) + "," + JobAt(4, kNowMs - 3'600'000, 200) + "," +
           JobAt(1, kNowMs - 3'600'000, 50, "other") + "]");
    // Job 4 against base 2, smaller than its lineage base 3: a stale analysis, not written.
    for (const char* target : {"/report/1", "/report/2", "/report/3", "/report/4",
                               "/report/4?base=2", "/report/1?project=other"}) {
      const HttpResponse res = Get(target);
      ASSERT_EQ(res.result_int(), 200u) << target << ": " << res.body();
      ASSERT_EQ(JsonBody(res.body()).Bool("/warehouse/inserted"),
                std::string_view(target) != "/report/4?base=2")
          << target;
    }
  }
};

TEST_F(ApiStatsTest, CountsEachJobOnceInTheWindow) {
  const HttpResponse res = Get("/stats/latency?project=default&quantiles=0,0.5,1");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  // Jobs 2, 3, 4 (latencies 100, 300, 200); job 4, reported against two bases, counts once.
  EXPECT_EQ(res.body(), R"({"project":"default","window":"30d","status":"succeeded","count":3,)"
                        R"("quantiles":{"0":100,"0.5":200,"1":300},"unit":"ms"})"
                        "\n");
}

TEST_F(ApiStatsTest, DefaultsToAllProjectsThirtyDaysAndThreeQuantiles) {
  const HttpResponse res = Get("/stats/latency");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  // Latencies 50, 100, 200, 300: ranks ceil(2) = 2, ceil(3.8) = 4, ceil(3.96) = 4.
  EXPECT_EQ(res.body(), R"({"project":null,"window":"30d","status":"succeeded","count":4,)"
                        R"("quantiles":{"0.5":100,"0.95":300,"0.99":300},"unit":"ms"})"
                        "\n");
}

TEST_F(ApiStatsTest, WindowEndsAtTheInjectedClockAndIncludesItsStart) {
  const HttpResponse day = Get("/stats/latency?project=default&window=1d&quantiles=0,1");
  ASSERT_EQ(day.result_int(), 200u) << day.body();
  EXPECT_EQ(JsonBody(day.body()).Int("/count"), 2);  // jobs 3 (exactly 1d old) and 4
  EXPECT_EQ(JsonBody(day.body()).Number("/quantiles/0"), 200);
  EXPECT_EQ(JsonBody(day.body()).Number("/quantiles/1"), 300);

  const HttpResponse all = Get("/stats/latency?project=default&window=50d&quantiles=1");
  EXPECT_EQ(JsonBody(all.body()).Int("/count"), 4);
  EXPECT_EQ(JsonBody(all.body()).Number("/quantiles/1"), 1000);

  // Two hours earlier, job 4 (one hour old now) lies in the future, outside the window.
  now_ms_ = kNowMs - 2 * 3'600'000;
  const HttpResponse earlier = Get("/stats/latency?project=default&window=1d&quantiles=1");
  EXPECT_EQ(JsonBody(earlier.body()).Int("/count"), 1);  // job 3 only
  EXPECT_EQ(JsonBody(earlier.body()).Number("/quantiles/1"), 300);
}

TEST_F(ApiStatsTest, EmptyWindowHasNullQuantiles) {
  const HttpResponse res = Get("/stats/latency?project=nobody");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(res.body(), R"({"project":"nobody","window":"30d","status":"succeeded","count":0,)"
                        R"("quantiles":{"0.5":null,"0.95":null,"0.99":null},"unit":"ms"})"
                        "\n");
}

TEST_F(ApiStatsTest, RejectsBadParameters) {
  for (const char* target :
       {"/stats/latency?window=0d", "/stats/latency?window=30y", "/stats/latency?quantiles=1.5",
        "/stats/latency?quantiles=", "/stats/latency?project=-x", "/stats/latency?limit=1"}) {
    SCOPED_TRACE(target);
    const HttpResponse res = Get(target);
    ASSERT_EQ(res.result_int(), 400u) << res.body();
    EXPECT_EQ(JsonBody(res.body()).Str("/error/code"), "invalid_request");
  }
}

TEST_F(ApiStatsTest, FailingWarehouseIs503) {
  warehouse_->Fail(WarehouseMethod::kLatency, Unavailable("warehouse unreachable"));
  const HttpResponse res = Get("/stats/latency");
  ASSERT_EQ(res.result_int(), 503u) << res.body();
  EXPECT_EQ(res[http::field::retry_after], "5");
  EXPECT_EQ(JsonBody(res.body()).Str("/error/message"), "warehouse unreachable");
}

// --- health, readiness, routing ---

TEST_F(ApiTest, HealthzIsOk) {
  const HttpResponse res = Get("/healthz");
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), "{\"status\":\"ok\"}\n");
}

// A job the store refused (its project's folder unwritable, say) degrades readiness until a job
// is stored again, though the probe, which writes elsewhere, passes.
TEST_F(ApiTest, ReadyzShowsTheStoresLastRefusalUntilAJobIsStored) {
  store_->Fail(StoreMethod::kCreateIfAbsent, Unavailable("jobs/secret: Permission denied"));
  // A new project: its job index's mark is the first write refused.
  EXPECT_EQ(Post(JobJson(1)).result_int(), 503u);
  EXPECT_EQ(JsonBody(Get("/readyz").body()).Str("/store/last_write_error"),
            "marking the job index of project default complete: jobs/secret: Permission denied");
  store_->Heal();
  PostOk(JobJson(1));
  EXPECT_EQ(JsonBody(Get("/readyz").body()).Str("/status"), "ready");
  // A known project: the job's own create.
  store_->Fail(StoreMethod::kCreateIfAbsent, Unavailable("jobs/secret: Permission denied"));
  EXPECT_EQ(Post(JobJson(2)).result_int(), 503u);
  const HttpResponse refused = Get("/readyz");
  ASSERT_EQ(refused.result_int(), 200u) << refused.body();
  const JsonBody body(refused.body());
  EXPECT_EQ(body.Str("/status"), "degraded");
  EXPECT_EQ(body.Str("/store/status"), "ok");
  EXPECT_EQ(body.Str("/store/last_write_error"), "jobs/secret: Permission denied");
  store_->Heal();
  PostOk(JobJson(2));
  EXPECT_EQ(JsonBody(Get("/readyz").body()).Str("/status"), "ready");
}

// A backend whose probe hangs is reported as not answering within the probe deadline.
TEST_F(ApiTest, ReadyzAnswersWithinTheDeadlineWhateverTheBackendsDo) {
  ApiContext context{*store_, *warehouse_, ParseLimits{}, [this] { return now_ms_; }};
  context.probe_deadline = std::chrono::milliseconds(20);
  Api api(std::move(context));
  warehouse_->Delay(WarehouseMethod::kProbe, std::chrono::milliseconds(300));
  HttpRequest request{http::verb::get, "/readyz", 11};
  const HttpResponse res = api.Handle(request);
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  const JsonBody body(res.body());
  EXPECT_EQ(body.Str("/status"), "degraded");
  EXPECT_EQ(body.Str("/warehouse/message"),
            warehouse_->Describe() +
                ": probe: no answer within 20 ms; the backend is slow or stuck, retry later");
  store_->Delay(StoreMethod::kProbe, std::chrono::milliseconds(300));
  warehouse_->Heal();
  const HttpResponse store_stuck = api.Handle(request);
  EXPECT_EQ(store_stuck.result_int(), 503u) << store_stuck.body();
  EXPECT_EQ(JsonBody(store_stuck.body()).Str("/store/message"),
            store_->Describe() +
                ": probe: no answer within 20 ms; the backend is slow or stuck, retry later");
  store_->Heal();
}

TEST_F(ApiTest, ReadyzReportsEachBackend) {
  const std::string store_url = file_store_->Describe();
  const std::string warehouse_url = sqlite_->Describe();
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  // The descriptors open change with the machine: the body is compared around them.
  auto without_descriptors = [](const std::string& body) {
    const size_t at = body.find(R"("descriptors":{"open":)");
    const size_t end = body.find("},", at);
    return at == std::string::npos || end == std::string::npos
               ? body
               : body.substr(0, at) + "DESCRIPTORS" + body.substr(end + 2);
  };
  const HttpResponse ready = Get("/readyz");
  ASSERT_EQ(ready.result_int(), 200u) << ready.body();
  const std::string outbox =
      R"("outbox":{"pending":0,"oldest_queued_at":null,"corrupt":0,"last_error":""})";
  EXPECT_EQ(without_descriptors(ready.body()),
            R"({"status":"ready","store":{"url":")" + store_url +
                R"(","status":"ok"},"warehouse":{"url":")" + warehouse_url +
                R"(","status":"ok"},DESCRIPTORS)" + outbox + "}\n");
  const JsonBody descriptors(ready.body());
  EXPECT_EQ(descriptors.Int("/descriptors/limit"), static_cast<int64_t>(limit.rlim_cur));
  EXPECT_GT(descriptors.Int("/descriptors/open"), 3);

  store_->Fail(StoreMethod::kProbe, Unavailable("file store: cannot write: disk full"));
  const HttpResponse store_down = Get("/readyz");
  ASSERT_EQ(store_down.result_int(), 503u) << store_down.body();
  EXPECT_EQ(without_descriptors(store_down.body()),
            R"({"status":"unavailable","store":{"url":")" + store_url +
                R"(","status":"unavailable","message":"file store: cannot write: disk full"},)"
                R"("warehouse":{"url":")" +
                warehouse_url + R"(","status":"ok"},DESCRIPTORS)" + outbox + "}\n");

  // A warehouse outage degrades the service but leaves it in rotation: the outbox keeps rows.
  store_->Heal();
  warehouse_->Fail(WarehouseMethod::kProbe, Unavailable("database is locked"));
  const HttpResponse warehouse_down = Get("/readyz");
  ASSERT_EQ(warehouse_down.result_int(), 200u) << warehouse_down.body();
  const JsonBody body(warehouse_down.body());
  EXPECT_EQ(body.Str("/status"), "degraded");
  EXPECT_EQ(body.Str("/store/status"), "ok");
  EXPECT_EQ(body.Str("/warehouse/status"), "unavailable");
  EXPECT_EQ(body.Str("/warehouse/message"), "database is locked");
}

TEST_F(ApiTest, UnknownPathIs404) {
  // "/" is the dashboard (api_ui_test.cc); its other paths are under /ui/.
  for (const char* target : {"/nope", "/report", "/report/1/2", "/stats/other", "/jobs", "/ui",
                             "/ui/projects", "/ui/projects/p/jobs"}) {
    SCOPED_TRACE(target);
    const HttpResponse res = Get(target);
    ASSERT_EQ(res.result_int(), 404u) << res.body();
    EXPECT_EQ(JsonBody(res.body()).Str("/error/code"), "not_found");
  }
}

TEST_F(ApiTest, WrongMethodIs405WithAllow) {
  const std::vector<std::tuple<http::verb, std::string, std::string>> cases = {
      {http::verb::get, "/process", "POST"},  {http::verb::put, "/process", "POST"},
      {http::verb::post, "/report/1", "GET"}, {http::verb::delete_, "/jobs/1", "GET"},
      {http::verb::post, "/projects", "GET"}, {http::verb::post, "/stats/latency", "GET"},
      {http::verb::post, "/healthz", "GET"},  {http::verb::put, "/readyz", "GET"},
      {http::verb::post, "/metrics", "GET"},
  };
  for (const auto& [method, target, allow] : cases) {
    SCOPED_TRACE(target);
    const HttpResponse res = Send(method, target, JobJson(1));
    ASSERT_EQ(res.result_int(), 405u) << res.body();
    EXPECT_EQ(res[http::field::allow], allow);
    EXPECT_EQ(JsonBody(res.body()).Str("/error/code"), "method_not_allowed");
  }
  EXPECT_THAT(StoredIds(), IsEmpty());
}

TEST_F(ApiTest, MalformedTargetIs400) {
  const HttpResponse res = Get("/report/1?project=%zz");
  ASSERT_EQ(res.result_int(), 400u) << res.body();
  EXPECT_EQ(JsonBody(res.body()).Str("/error/code"), "invalid_request");
}

// --- access control ---

// The same backends behind an Api with tokens: "admin" (both scopes, every project), "reader"
// (read, web and api), "ci" (ingest, web).
class ApiAccessTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    auto line = [](std::string_view token, std::string_view rest) {
      return "sha256:" + Sha256Hex(token) + " " + std::string(rest) + "\n";
    };
    Result<AccessControl> access = AccessControl::Parse(
        line("admin", "ingest,read") + line("reader", "read web,api") + line("ci", "ingest web"),
        "tokens");
    ASSERT_TRUE(access.ok()) << access.status().message();
    access_ = std::make_unique<AccessControl>(std::move(*access));
    ApiContext context{*store_, *warehouse_, ParseLimits{}, [this] { return now_ms_; }};
    context.access = access_.get();
    secured_ = std::make_unique<Api>(std::move(context));
  }
  void TearDown() override {
    secured_.reset();
    ApiTest::TearDown();
  }
  HttpResponse As(std::string_view token, http::verb method, std::string_view target,
                  std::string body = "") {
    return HandleAs(*secured_, token, method, target, std::move(body));
  }

  std::unique_ptr<AccessControl> access_;
  std::unique_ptr<Api> secured_;
};

TEST_F(ApiAccessTest, NoOrWrongTokenIs401WithWwwAuthenticate) {
  const std::vector<std::pair<http::verb, std::string>> requests = {
      {http::verb::post, "/process"},      {http::verb::get, "/report/1"},
      {http::verb::get, "/jobs/1"},        {http::verb::get, "/projects"},
      {http::verb::get, "/stats/latency"}, {http::verb::get, "/nope"},
      {http::verb::get, "/metrics"},
  };
  for (const std::string token : {"", "wrong", "admi"}) {
    for (const auto& [method, target] : requests) {
      SCOPED_TRACE(token + " " + target);
      const HttpResponse res = As(token, method, target, "[" + JobJson(1) + "]");
      ASSERT_EQ(res.result_int(), 401u) << res.body();
      EXPECT_EQ(res[http::field::www_authenticate], "Bearer");
      EXPECT_EQ(JsonBody(res.body()).Str("/error/code"), "unauthenticated");
    }
  }
  EXPECT_THAT(StoredIds(), IsEmpty());
}

// A body both invalid and outside the token's projects: the parse's answer comes first, as
// before the duplicate-ID check was deferred.
TEST_F(ApiAccessTest, DuplicateIdOutsideTheTokensProjectsIs400) {
  const HttpResponse res =
      As("ci", http::verb::post, "/process", JobJson(1, R"({"A":"a","B":"b","A":"c"})"));
  ASSERT_EQ(res.result_int(), 400u) << res.body();
  EXPECT_EQ(JsonBody(res.body()).Str("/error/details/0/field"), "state.A");
  const HttpResponse denied = As("ci", http::verb::post, "/process", JobJson(1));
  ASSERT_EQ(denied.result_int(), 403u) << denied.body();
  EXPECT_THAT(StoredIds(), IsEmpty());
}

TEST_F(ApiAccessTest, OutOfScopeIs403AndStoresNothing) {
  const HttpResponse post = As("reader", http::verb::post, "/process", JobAt(1, kNowMs, 1, "web"));
  ASSERT_EQ(post.result_int(), 403u) << post.body();
  EXPECT_EQ(JsonBody(post.body()).Str("/error/code"), "forbidden");
  EXPECT_THAT(StoredIds("web"), IsEmpty());
  for (const char* target : {"/report/1?project=web", "/jobs/1?project=web", "/projects",
                             "/stats/latency?project=web", "/metrics"}) {
    SCOPED_TRACE(target);
    const HttpResponse res = As("ci", http::verb::get, target);
    ASSERT_EQ(res.result_int(), 403u) << res.body();
    EXPECT_EQ(JsonBody(res.body()).Str("/error/code"), "forbidden");
    EXPECT_TRUE(res[http::field::www_authenticate].empty());
  }
}

TEST_F(ApiAccessTest, OutOfProjectIs403AndStoresNothing) {
  // One job of another project rejects the whole batch.
  const HttpResponse post =
      As("ci", http::verb::post, "/process",
         "[" + JobAt(1, kNowMs, 1, "web") + "," + JobAt(2, kNowMs, 1, "api") + "]");
  ASSERT_EQ(post.result_int(), 403u) << post.body();
  EXPECT_THAT(JsonBody(post.body()).Str("/error/message"), HasSubstr("project api"));
  EXPECT_THAT(StoredIds("web"), IsEmpty());
  EXPECT_THAT(StoredIds("api"), IsEmpty());
  // The default project when the job names none.
  EXPECT_EQ(As("ci", http::verb::post, "/process", JobJson(1)).result_int(), 403u);
  EXPECT_THAT(StoredIds(), IsEmpty());

  PostOk(JobAt(1, kNowMs, 1, "secret"));
  for (const char* target : {"/report/1?project=secret", "/jobs/1?project=secret", "/jobs/1",
                             "/report/1", "/stats/latency?project=secret", "/stats/latency"}) {
    SCOPED_TRACE(target);
    const HttpResponse res = As("reader", http::verb::get, target);
    ASSERT_EQ(res.result_int(), 403u) << res.body();
    EXPECT_EQ(JsonBody(res.body()).Str("/error/code"), "forbidden");
  }
}

TEST_F(ApiAccessTest, AllowedRequestsPass) {
  const HttpResponse post = As("ci", http::verb::post, "/process", JobAt(1, kNowMs, 1, "web"));
  ASSERT_EQ(post.result_int(), 202u) << post.body();
  EXPECT_THAT(StoredIds("web"), ::testing::ElementsAre(1));
  EXPECT_EQ(As("reader", http::verb::get, "/jobs/1?project=web").result_int(), 200u);
  EXPECT_EQ(As("reader", http::verb::get, "/report/1?project=web").result_int(), 200u);
  EXPECT_EQ(As("reader", http::verb::get, "/stats/latency?project=web").result_int(), 200u);
  EXPECT_EQ(As("admin", http::verb::get, "/stats/latency").result_int(), 200u);
  EXPECT_EQ(As("admin", http::verb::post, "/process", JobJson(2)).result_int(), 202u);
  EXPECT_EQ(As("admin", http::verb::get, "/jobs/2").result_int(), 200u);
  // Authenticated, then the usual answers: 404 for a missing job, 405 for a wrong method.
  EXPECT_EQ(As("reader", http::verb::get, "/jobs/9?project=web").result_int(), 404u);
  EXPECT_EQ(As("reader", http::verb::post, "/projects").result_int(), 405u);
}

TEST_F(ApiAccessTest, MetricsNeedsAnyReadToken) {
  EXPECT_EQ(As("reader", http::verb::get, "/metrics").result_int(), 200u);
  EXPECT_EQ(As("admin", http::verb::get, "/metrics").result_int(), 200u);
}

TEST_F(ApiAccessTest, HealthAndReadinessStayOpen) {
  EXPECT_EQ(As("", http::verb::get, "/healthz").result_int(), 200u);
  EXPECT_EQ(As("", http::verb::get, "/readyz").result_int(), 200u);
  EXPECT_EQ(As("wrong", http::verb::get, "/healthz").result_int(), 200u);
}

// Readiness details can name projects and paths ("record job 1 of project secretproj: ..."):
// without a read token only the verdict, with the same status codes.
TEST_F(ApiAccessTest, ReadinessDetailsNeedAReadToken) {
  warehouse_->Fail(WarehouseMethod::kProbe, Unavailable("record job 1 of project secretproj"));
  for (const char* token : {"", "wrong", "ci"}) {
    const HttpResponse res = As(token, http::verb::get, "/readyz");
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res.body(), "{\"status\":\"degraded\"}\n") << token;
  }
  const HttpResponse reader = As("reader", http::verb::get, "/readyz");
  EXPECT_EQ(JsonBody(reader.body()).Str("/warehouse/message"),
            "record job 1 of project secretproj");
  store_->Fail(StoreMethod::kProbe, Unavailable("disk full at /srv/secret"));
  const HttpResponse down = As("", http::verb::get, "/readyz");
  EXPECT_EQ(down.result_int(), 503u);
  EXPECT_EQ(down.body(), "{\"status\":\"unavailable\"}\n");
}

TEST_F(ApiAccessTest, ProjectsListsOnlyTheTokensProjects) {
  PostOk("[" + JobAt(3, kNowMs, 1, "web") + "," + JobAt(1, kNowMs, 1, "api") + "," +
         JobAt(1, kNowMs, 1, "secret") + "]");
  const HttpResponse reader = As("reader", http::verb::get, "/projects");
  ASSERT_EQ(reader.result_int(), 200u) << reader.body();
  EXPECT_EQ(reader.body(), R"({"projects":[{"project":"api","jobs":1,"latest_job_id":1},)"
                           R"({"project":"web","jobs":1,"latest_job_id":3}]})"
                           "\n");
  const HttpResponse admin = As("admin", http::verb::get, "/projects");
  ASSERT_EQ(admin.result_int(), 200u) << admin.body();
  EXPECT_EQ(JsonBody(admin.body()).Size("/projects"), 3u);
}

// --- GET /report/{job_id}.svg ---

size_t CountOf(const std::string& text, std::string_view needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

constexpr std::string_view kWeb = R"(,"project":"web")";

TEST_F(ApiTest, ReportSvgDrawsEachChangeOnce) {
  PostOk(
      "[" + JobJson(1, R"({"a":"box_0_0_1_1","b":"box_5_5_1_1","c":"box_2_2_1_1","d":"x"})", kWeb) +
      "," +
      JobJson(
          2,
          R"({"a":"box_0_0_1_1","b":"box_9_9_1_1","n1":"box_3_3_1_1","n2":"door_4_4_1_1","d":"x"})",
          kWeb) +
      "]");
  const HttpResponse res = Get("/report/2.svg?project=web");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(res[http::field::content_type], "image/svg+xml");
  EXPECT_EQ(CountOf(res.body(), "class=\"bt-added\""), 2u);
  EXPECT_EQ(CountOf(res.body(), "class=\"bt-removed\""), 1u);
  EXPECT_EQ(CountOf(res.body(), "class=\"bt-moved\""), 1u);
  EXPECT_EQ(CountOf(res.body(), "class=\"bt-unchanged\""), 1u);
  EXPECT_THAT(res.body(), HasSubstr("1 without a geometry"));
  // The same comparison as GET /report's, base= included.
  const HttpResponse against_self = Get("/report/2.svg?project=web&base=2");
  ASSERT_EQ(against_self.result_int(), 200u) << against_self.body();
  EXPECT_EQ(CountOf(against_self.body(), "class=\"bt-unchanged\""), 4u);
  EXPECT_EQ(CountOf(against_self.body(), "class=\"bt-added\""), 0u);
}

TEST_F(ApiTest, ReportSvgErrorsAreThoseOfReport) {
  PostOk(JobJson(1, R"({"a":"box_0_0_1_1"})", kWeb));
  EXPECT_EQ(Get("/report/9.svg?project=web").result_int(), 404u);
  EXPECT_EQ(Get("/report/1.svg?project=b%20d").result_int(), 400u);
  EXPECT_EQ(Get("/report/1.svg?project=web&format=text").result_int(), 400u);
  for (const std::string_view bad : {"/report/12x.svg", "/report/.svg", "/report/12.svg.svg",
                                     "/report/0.svg", "/report/-1.svg"}) {
    SCOPED_TRACE(bad);
    const HttpResponse res = Get(std::string(bad) + "?project=web");
    EXPECT_EQ(res.result_int(), Get("/report/12x?project=web").result_int()) << res.body();
    EXPECT_EQ(res.result_int(), 400u) << res.body();
  }
}

TEST_F(ApiAccessTest, ReportSvgNeedsReadOnTheProject) {
  PostOk(JobJson(1, R"({"a":"box_0_0_1_1"})", R"(,"project":"other")"));
  EXPECT_EQ(As("reader", http::verb::get, "/report/1.svg?project=other").result_int(), 403u);
  EXPECT_EQ(As("ci", http::verb::get, "/report/1.svg?project=web").result_int(), 403u);
  EXPECT_EQ(As("", http::verb::get, "/report/1.svg?project=other").result_int(), 401u);
  EXPECT_EQ(As("admin", http::verb::get, "/report/1.svg?project=other").result_int(), 200u);
}

}  // namespace
}  // namespace buildtrace
