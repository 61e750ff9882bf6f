// Tests of the API's part in background analysis, called directly with Beast requests (no
// sockets) on the real FileStateStore and SqliteWarehouse and a real in-process queue: one task
// per created job, the report's BuildTrace-Analysis header, the jobs page, /stats/latency's
// status filter, and the Pub/Sub push route with its worker-scoped token.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/canonical_hash.h"
#include "core/timestamp.h"
#include "http/access_control.h"
#include "http/api.h"
#include "queue/inproc_queue.h"
#include "queue/pubsub_message.h"
#include "testing/api_request.h"
#include "testing/json_body.h"
#include "testing/temp_backends.h"

namespace buildtrace {
namespace {

namespace http = boost::beast::http;

constexpr int64_t kNowMs = 1'795'867'200'000;      // 2026-11-28T12:00:00Z
constexpr int64_t kJobTimeMs = 1'795'860'000'000;  // 2026-11-28T10:00:00Z

// Job `id` of `project`, taking 100 * id ms, its state moving object A with the id.
std::string Job(int64_t id, std::string_view status = "succeeded",
                std::string_view project = "default") {
  return R"({"job_id":)" + std::to_string(id) + R"(,"project":")" + std::string(project) +
         R"(","timestamp":")" + FormatRfc3339Utc(kJobTimeMs + id * 1000) + R"(","latency_ms":)" +
         std::to_string(100 * id) + R"(,"status":")" + std::string(status) +
         R"(","state":{"A":"door_)" + std::to_string(id) + R"(_0_1_1"}})";
}

std::string PushEnvelope(const AnalysisTask& task) {
  return R"({"message":{"data":")" + EncodePubSubMessageData(task) +
         R"(","messageId":"1"},"subscription":"projects/p/subscriptions/s"})";
}

class ApiAnalysisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(backends_.ok());
    MakeApi(&queue_, nullptr);
  }

  // A new Api on the same backends, with `queue` (null: background analysis off) and `access`.
  void MakeApi(AnalysisQueue* queue, const AccessControl* access) {
    api_.reset();
    ApiContext context{*backends_.store(), *backends_.warehouse(), ParseLimits{},
                       [] { return kNowMs; }};
    context.queue = queue;
    context.access = access;
    context.enqueue_failed = [this] { ++enqueue_failures_; };
    api_ = std::make_unique<Api>(std::move(context));
  }

  HttpResponse Send(http::verb method, std::string_view target, std::string body = "",
                    std::string_view authorization = "") {
    HttpRequest request{method, target, 11};
    if (!authorization.empty()) request.set(http::field::authorization, authorization);
    request.body() = std::move(body);
    request.prepare_payload();
    return HandleOwned(*api_, request);
  }
  HttpResponse Get(std::string_view target) { return Send(http::verb::get, target); }
  HttpResponse Post(std::string body) { return Send(http::verb::post, "/process", body); }

  // Every task waiting in the queue, received and acknowledged.
  std::vector<AnalysisTask> Drain() {
    std::vector<AnalysisTask> tasks;
    Result<std::vector<QueueDelivery>> got = queue_.Receive(1000, std::chrono::milliseconds(0));
    EXPECT_TRUE(got.ok()) << got.status().message();
    if (!got.ok()) return tasks;
    for (const QueueDelivery& delivery : *got) {
      tasks.push_back(delivery.task);
      EXPECT_TRUE(queue_.Ack(delivery).ok());
    }
    return tasks;
  }

  TempBackends backends_{"bt-api-analysis"};
  InprocQueue queue_;
  int enqueue_failures_ = 0;
  std::unique_ptr<Api> api_;
};

TEST_F(ApiAnalysisTest, PostAnswers202AndEnqueuesOneTaskPerCreatedJobOnly) {
  const HttpResponse first = Post("[" + Job(1) + "," + Job(2, "failed", "web") + "]");
  ASSERT_EQ(first.result_int(), 202u) << first.body();
  const JsonBody body(first.body());
  EXPECT_EQ(body.Str("/accepted/0/report_url"), "/report/1?project=default");
  EXPECT_EQ(body.Str("/accepted/1/report_url"), "/report/2?project=web");
  EXPECT_EQ(Drain(), (std::vector<AnalysisTask>{{"default", 1}, {"web", 2}}));

  // A pure replay creates nothing: 200, and no task.
  const HttpResponse replay = Post(Job(1));
  ASSERT_EQ(replay.result_int(), 200u) << replay.body();
  EXPECT_EQ(Drain(), std::vector<AnalysisTask>{});
  // A batch of a replay and a new job: 202, one task.
  const HttpResponse mixed = Post("[" + Job(1) + "," + Job(3) + "]");
  ASSERT_EQ(mixed.result_int(), 202u) << mixed.body();
  EXPECT_EQ(Drain(), (std::vector<AnalysisTask>{{"default", 3}}));
  EXPECT_EQ(enqueue_failures_, 0);
}

TEST_F(ApiAnalysisTest, AFullQueueNeverFailsThePostAndCallsForTheSweep) {
  InprocQueue tiny(InprocQueueOptions{.capacity = 1});
  MakeApi(&tiny, nullptr);
  const HttpResponse res = Post("[" + Job(1) + "," + Job(2) + "," + Job(3) + "]");
  ASSERT_EQ(res.result_int(), 202u) << res.body();
  EXPECT_EQ(JsonBody(res.body()).Size("/accepted"), 3u);
  EXPECT_EQ(enqueue_failures_, 1);
  Result<std::optional<int64_t>> depth = tiny.Depth();
  ASSERT_TRUE(depth.ok());
  EXPECT_EQ(*depth, std::optional<int64_t>(1));
}

TEST_F(ApiAnalysisTest, ReportSaysWhetherItWasPrecomputed) {
  ASSERT_EQ(Post("[" + Job(1) + "," + Job(2) + "," + Job(3) + "]").result_int(), 202u);
  // Job 2 analysed in the background; job 3 not.
  ASSERT_TRUE(api_->analyzer().Analyse({"default", 2}).ok());
  const HttpResponse analysed = Get("/report/2");
  ASSERT_EQ(analysed.result_int(), 200u) << analysed.body();
  EXPECT_EQ(analysed["BuildTrace-Analysis"], "precomputed");
  EXPECT_FALSE(JsonBody(analysed.body()).Bool("/warehouse/inserted"));

  const HttpResponse first = Get("/report/3");
  ASSERT_EQ(first.result_int(), 200u) << first.body();
  EXPECT_EQ(first["BuildTrace-Analysis"], "on-demand");
  EXPECT_EQ(JsonBody(first.body()).Str("/warehouse/status"), "recorded");
  EXPECT_TRUE(JsonBody(first.body()).Bool("/warehouse/inserted"));
  // Kept once computed.
  EXPECT_EQ(Get("/report/3?format=text")["BuildTrace-Analysis"], "precomputed");
  // An ad-hoc base is computed every time, and writes no row.
  const HttpResponse adhoc = Get("/report/3?base=1");
  ASSERT_EQ(adhoc.result_int(), 200u) << adhoc.body();
  EXPECT_EQ(adhoc["BuildTrace-Analysis"], "on-demand");
  EXPECT_EQ(JsonBody(adhoc.body()).Str("/warehouse/status"), "not_recorded");
  EXPECT_EQ(ReadSqliteRows(backends_.db_path()).size(), 2u);
}

TEST_F(ApiAnalysisTest, JobsPageListsNewestFirstWithAnalysisAndPages) {
  ASSERT_EQ(Post("[" + Job(1) + "," + Job(2, "failed") + "," + Job(3) + "]").result_int(), 202u);
  ASSERT_TRUE(api_->analyzer().Analyse({"default", 3}).ok());
  const HttpResponse page = Get("/projects/default/jobs?limit=2");
  ASSERT_EQ(page.result_int(), 200u) << page.body();
  EXPECT_EQ(page.body(),
            R"({"project":"default","jobs":[)"
            R"({"job_id":3,"timestamp":"2026-11-28T10:00:03Z","status":"succeeded",)"
            R"("latency_ms":300,"analysis":"analysed","base_job_id":1,"counts":{"added":0,)"
            R"("removed":0,"modified":1,"moved":1,"resized":0,"retyped":0,"changed":0,)"
            R"("unchanged":0},"report_url":"/report/3?project=default"},)"
            R"({"job_id":2,"timestamp":"2026-11-28T10:00:02Z","status":"failed",)"
            R"("latency_ms":200,"analysis":"pending","base_job_id":null,"counts":null,)"
            R"("report_url":"/report/2?project=default"}],"next_before":2})"
            "\n");
  const HttpResponse rest = Get("/projects/default/jobs?limit=2&before=2");
  ASSERT_EQ(rest.result_int(), 200u) << rest.body();
  const JsonBody next(rest.body());
  EXPECT_EQ(next.Size("/jobs"), 1u);
  EXPECT_EQ(next.Int("/jobs/0/job_id"), 1);
  EXPECT_TRUE(next.IsNull("/next_before"));

  EXPECT_EQ(JsonBody(Get("/projects/nobody/jobs").body()).Str("/error/code"), "not_found");
  for (const char* bad : {"/projects/default/jobs?limit=0", "/projects/default/jobs?limit=1001",
                          "/projects/default/jobs?before=x", "/projects/..%2Fx/jobs",
                          "/projects/default/jobs?page=2"}) {
    SCOPED_TRACE(bad);
    const HttpResponse res = Get(bad);
    EXPECT_EQ(res.result_int(), 400u) << res.body();
    EXPECT_EQ(JsonBody(res.body()).Str("/error/code"), "invalid_request");
  }
}

TEST_F(ApiAnalysisTest, LatencyStatsCountEachJobOnceByStatus) {
  ASSERT_EQ(Post("[" + Job(1) + "," + Job(2, "failed") + "," + Job(3) + "]").result_int(), 202u);
  for (int64_t id : {1, 2, 3}) ASSERT_TRUE(api_->analyzer().Analyse({"default", id}).ok());
  // Reading the reports adds nothing.
  for (const char* target : {"/report/1", "/report/2", "/report/3", "/report/3?base=2"}) {
    ASSERT_EQ(Get(target).result_int(), 200u);
  }
  auto count = [&](std::string_view query) {
    const HttpResponse res = Get("/stats/latency?project=default" + std::string(query));
    EXPECT_EQ(res.result_int(), 200u) << res.body();
    return JsonBody(res.body()).Int("/count");
  };
  EXPECT_EQ(count(""), 2);
  EXPECT_EQ(count("&status=succeeded"), 2);
  EXPECT_EQ(count("&status=failed"), 1);
  EXPECT_EQ(count("&status=all"), 3);
  EXPECT_EQ(Get("/stats/latency?project=default&status=failed").body(),
            R"({"project":"default","window":"30d","status":"failed","count":1,)"
            R"("quantiles":{"0.5":200,"0.95":200,"0.99":200},"unit":"ms"})"
            "\n");
  const HttpResponse bad = Get("/stats/latency?status=ok");
  ASSERT_EQ(bad.result_int(), 400u);
  EXPECT_EQ(JsonBody(bad.body()).Str("/error/message"), "status must be succeeded, failed or all");
}

TEST_F(ApiAnalysisTest, PushRouteAnalysesTheTaskBeforeAnswering2xx) {
  ASSERT_EQ(Post("[" + Job(1) + "," + Job(2) + "]").result_int(), 202u);
  const HttpResponse res = Send(http::verb::post, "/tasks/pubsub", PushEnvelope({"default", 2}));
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(res.body(), "{\"status\":\"analysed\"}\n");
  EXPECT_EQ(JsonBody(Get("/projects/default/jobs").body()).Str("/jobs/0/analysis"), "analysed");
  EXPECT_EQ(ReadSqliteRows(backends_.db_path()).size(), 1u);

  // A message that can never be a task is acknowledged, or Pub/Sub would push it for ever.
  const HttpResponse junk = Send(http::verb::post, "/tasks/pubsub", R"({"message":{}})");
  ASSERT_EQ(junk.result_int(), 200u) << junk.body();
  EXPECT_EQ(JsonBody(junk.body()).Str("/status"), "dropped");
  // A task for a job never stored: nothing to do.
  EXPECT_EQ(Send(http::verb::post, "/tasks/pubsub", PushEnvelope({"default", 9})).result_int(),
            200u);
  EXPECT_EQ(Send(http::verb::get, "/tasks/pubsub").result_int(), 405u);

  // Without a queue this instance runs no analysis.
  MakeApi(nullptr, nullptr);
  const HttpResponse off = Send(http::verb::post, "/tasks/pubsub", PushEnvelope({"default", 1}));
  ASSERT_EQ(off.result_int(), 503u) << off.body();
  EXPECT_EQ(JsonBody(off.body()).Str("/error/code"), "analysis_off");
}

TEST_F(ApiAnalysisTest, PushRouteNeedsAWorkerTokenInTheHeaderOrTheUrl) {
  Result<AccessControl> access = AccessControl::Parse(
      "sha256:" + Sha256Hex("push-secret") + " worker\nsha256:" + Sha256Hex("reader") + " read\n",
      "test tokens");
  ASSERT_TRUE(access.ok()) << access.status().message();
  MakeApi(&queue_, &*access);
  const std::string envelope = PushEnvelope({"default", 1});
  auto push = [&](std::string_view target, std::string_view authorization = "") {
    return Send(http::verb::post, target, envelope, authorization).result_int();
  };
  EXPECT_EQ(push("/tasks/pubsub"), 401u);
  EXPECT_EQ(push("/tasks/pubsub?token=wrong"), 401u);
  EXPECT_EQ(push("/tasks/pubsub?token=reader"), 403u);
  EXPECT_EQ(push("/tasks/pubsub", "Bearer reader"), 403u);
  EXPECT_EQ(push("/tasks/pubsub?token=push-secret"), 200u);
  EXPECT_EQ(push("/tasks/pubsub", "Bearer push-secret"), 200u);
  // The URL's token is for the push route only.
  EXPECT_EQ(Send(http::verb::get, "/projects?token=reader").result_int(), 401u);
  // A worker token reads nothing and stores nothing.
  EXPECT_EQ(Send(http::verb::get, "/projects", "", "Bearer push-secret").result_int(), 403u);
  EXPECT_EQ(Send(http::verb::post, "/process", Job(1), "Bearer push-secret").result_int(), 403u);
}

TEST_F(ApiAnalysisTest, ReadyzAndMetricsShowTheQueueAndTheDeadLetters) {
  ASSERT_EQ(Post("[" + Job(1) + "," + Job(2) + "]").result_int(), 202u);
  HttpResponse ready = Get("/readyz");
  ASSERT_EQ(ready.result_int(), 200u) << ready.body();
  JsonBody fine(ready.body());
  EXPECT_EQ(fine.Str("/status"), "ready");
  EXPECT_EQ(fine.Str("/analysis/queue"), "inproc://?capacity=10000&lease-ms=60000");
  EXPECT_EQ(fine.Str("/analysis/status"), "ok");
  EXPECT_EQ(fine.Int("/analysis/depth"), 2);
  EXPECT_EQ(fine.Int("/analysis/dead_letters"), 0);

  // A task given up on: the service is degraded until an operator deals with it. (A new Api:
  // the count of dead letters is cached for 10 s.)
  ASSERT_TRUE(backends_.file_store()
                  ->CreateIfAbsent(DeadLetterName("default", 2), R"({"reason":"test"})")
                  .ok());
  MakeApi(&queue_, nullptr);
  ready = Get("/readyz");
  ASSERT_EQ(ready.result_int(), 200u) << ready.body();
  JsonBody degraded(ready.body());
  EXPECT_EQ(degraded.Str("/status"), "degraded");
  EXPECT_EQ(degraded.Int("/analysis/dead_letters"), 1);
  const std::string metrics = Get("/metrics").body();
  EXPECT_NE(metrics.find("\nbuildtrace_analysis_dead_letters 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("\nbuildtrace_analysis_queue_depth 2\n"), std::string::npos) << metrics;
  EXPECT_EQ(JsonBody(Get("/projects/default/jobs").body()).Str("/jobs/0/analysis"), "dead_letter");

  // Without a queue there is no analysis section.
  MakeApi(nullptr, nullptr);
  EXPECT_FALSE(JsonBody(Get("/readyz").body()).Has("/analysis"));
}

}  // namespace
}  // namespace buildtrace
