// Reports and the small endpoints over HTTP: lineage (failed jobs and gaps skipped), the text
// format chosen by parameter or Accept header, health and readiness, unknown endpoints and
// wrong methods.
#include "testing/gzip.h"
#include "tests/e2e/e2e_fixture.h"

namespace buildtrace::e2e {
namespace {

class E2eLineage : public E2eTest {};
class E2eTextReport : public E2eTest {};
class E2eEndpoints : public E2eTest {};
class E2eCompression : public E2eTest {};

// Jobs 1 (succeeded), 2 (failed) and 4 (succeeded) of project "lin"; 3 is never posted.
std::vector<TestJob> LineageJobs() {
  TestJob one, two, four;
  one.project = two.project = four.project = "lin";
  one.job_id = 1;
  one.state = R"({"B1":"wall_0_0_10_1","A1":"door_1_2_3_4","C1":{"type":"stair","x":1}})";
  two.job_id = 2;
  two.status = "failed";
  two.state = R"({"A1":"door_9_9_3_4"})";
  four.job_id = 4;
  four.state = R"({"C1":{"x":1.0,"type":"stair"},"A1":"door_5_2_3_4","D1":"window_0_0_2_3"})";
  return {one, two, four};
}

TEST_F(E2eLineage, BaseSkipsFailedJobsAndGaps) {
  PostOk(BatchJson(LineageJobs()));

  HttpResponse response = Get("/report/4?project=lin");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.content_type, "application/json");
  JsonDoc four(response.body);
  EXPECT_EQ(four.Str("/project"), "lin");
  EXPECT_EQ(four.Int("/job_id"), 4);
  EXPECT_EQ(four.Int("/base_job_id"), 1);
  EXPECT_FALSE(four.Bool("/lineage/explicit_base"));
  EXPECT_EQ(four.IntArray("/lineage/skipped_failed"), std::vector<int64_t>{2});
  EXPECT_EQ(four.Int("/lineage/missing_ids"), 1);
  EXPECT_EQ(four.Str("/lineage/explanation"),
            "Job 1 is the latest earlier job that succeeded; failed job 2 was skipped; 1 job ID "
            "in between was never posted.");
  EXPECT_EQ(four.Int("/metrics/total_added"), 1);
  EXPECT_EQ(four.Int("/metrics/total_removed"), 1);
  EXPECT_EQ(four.Int("/metrics/total_modified"), 1);
  EXPECT_EQ(four.Int("/metrics/total_moved"), 1);
  EXPECT_EQ(four.Int("/metrics/total_unchanged"), 1);  // C1: the same attributes
  EXPECT_EQ(four.StrArray("/changes/added"), std::vector<std::string>{"D1"});
  EXPECT_EQ(four.StrArray("/changes/removed"), std::vector<std::string>{"B1"});
  ASSERT_EQ(four.Size("/changes/modified"), 1u);
  EXPECT_EQ(four.Str("/changes/modified/0/id"), "A1");
  EXPECT_EQ(four.Str("/changes/modified/0/kind"), "moved");
  EXPECT_EQ(four.Str("/changes/modified/0/before"), "door_1_2_3_4");
  EXPECT_EQ(four.Str("/changes/modified/0/after"), "door_5_2_3_4");

  JsonDoc one(Get("/report/1?project=lin").body);
  EXPECT_TRUE(one.IsNull("/base_job_id"));
  EXPECT_EQ(one.Int("/objects"), 3);
  EXPECT_EQ(one.Int("/metrics/total_added"), 3);
  EXPECT_EQ(one.Int("/metrics/total_removed"), 0);
  EXPECT_EQ(one.Int("/metrics/total_modified"), 0);
  EXPECT_EQ(one.Int("/metrics/total_unchanged"), 0);
  EXPECT_EQ(one.StrArray("/changes/added"), (std::vector<std::string>{"A1", "B1", "C1"}));
  EXPECT_EQ(one.IntArray("/lineage/skipped_failed"), std::vector<int64_t>{});
  EXPECT_EQ(one.Int("/lineage/missing_ids"), 0);

  EXPECT_TRUE(IsError(Get("/report/3?project=lin"), 404, "not_found"));
  EXPECT_TRUE(IsError(Get("/report/4?project=lin&base=3"), 404, "not_found"));
  EXPECT_TRUE(IsError(Get("/report/4?projet=lin"), 400, "invalid_request"));
}

TEST_F(E2eTextReport, FormatTextAndAcceptHeaderGiveText) {
  PostOk(BatchJson(LineageJobs()));
  const std::string first_line = "BuildTrace report: project lin, job 4 (succeeded)\n";

  HttpResponse by_parameter = Get("/report/4?project=lin&format=text");
  EXPECT_EQ(by_parameter.status, 200);
  EXPECT_EQ(by_parameter.content_type, "text/plain; charset=utf-8");
  EXPECT_TRUE(by_parameter.body.starts_with(first_line)) << by_parameter.body;
  EXPECT_NE(by_parameter.body.find("\nBase:      job 1. "), std::string::npos) << by_parameter.body;

  HttpResponse by_accept = Get("/report/4?project=lin", {{"Accept", "text/plain"}});
  EXPECT_EQ(by_accept.status, 200);
  EXPECT_EQ(by_accept.content_type, "text/plain; charset=utf-8");
  EXPECT_TRUE(by_accept.body.starts_with(first_line)) << by_accept.body;

  // JSON when the client accepts it too, or when the parameter says so.
  HttpResponse both = Get("/report/4?project=lin", {{"Accept", "text/plain, application/json"}});
  EXPECT_EQ(both.content_type, "application/json");
  EXPECT_EQ(JsonDoc(both.body).Int("/job_id"), 4);
  HttpResponse json = Get("/report/4?project=lin&format=json", {{"Accept", "text/plain"}});
  EXPECT_EQ(json.content_type, "application/json");
  EXPECT_EQ(JsonDoc(json.body).Int("/job_id"), 4);

  EXPECT_TRUE(IsError(Get("/report/4?project=lin&format=xml"), 400, "invalid_request"));
}

// Jobs 1 and 2 of project "gz", 300 objects each, every third moved in 2: answers long enough to
// be compressed.
std::vector<TestJob> LongJobs() {
  TestJob one, two;
  one.project = two.project = "gz";
  two.job_id = 2;
  one.state = two.state = "{";
  for (int i = 0; i < 300; ++i) {
    const std::string id = (i ? ",\"B" : "\"B") + std::to_string(1000 + i) + "\":";
    one.state += id + "\"box_" + std::to_string(i) + "_0_1_1\"";
    two.state += id + "\"box_" + std::to_string(i % 3 == 0 ? i + 1 : i) + "_0_1_1\"";
  }
  one.state += "}";
  two.state += "}";
  return {one, two};
}

// A client that sends Accept-Encoding: gzip gets long answers compressed, with the bytes the
// uncompressed answer holds; every answer of a text type says it varies with Accept-Encoding.
TEST_F(E2eCompression, LongAnswersComeGzippedToClientsThatAsk) {
  PostOk(BatchJson(LongJobs()));
  ASSERT_EQ(Get("/report/2?project=gz").status, 200);      // computed and recorded
  const HttpResponse plain = Get("/report/2?project=gz");  // kept from now on
  ASSERT_EQ(plain.status, 200);
  EXPECT_EQ(plain.headers.count("content-encoding"), 0u);
  EXPECT_EQ(plain.headers.at("vary"), "Accept, Accept-Encoding");
  EXPECT_EQ(JsonDoc(plain.body).Int("/metrics/total_moved"), 100);

  for (const char* accept : {"gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8, *;q=0.1"}) {
    const HttpResponse gz = Get("/report/2?project=gz", {{"Accept-Encoding", accept}});
    ASSERT_EQ(gz.status, 200) << accept;
    EXPECT_EQ(gz.headers.at("content-encoding"), "gzip") << accept;
    EXPECT_EQ(gz.headers.at("vary"), "Accept, Accept-Encoding") << accept;
    EXPECT_EQ(gz.headers.at("content-length"), std::to_string(gz.body.size())) << accept;
    EXPECT_LT(gz.body.size() * 3, plain.body.size()) << accept;
    EXPECT_EQ(Gunzip(gz.body), plain.body) << accept;
  }
  for (const char* refused : {"identity", "gzip;q=0", "deflate"}) {
    const HttpResponse as_is = Get("/report/2?project=gz", {{"Accept-Encoding", refused}});
    EXPECT_EQ(as_is.headers.count("content-encoding"), 0u) << refused;
    EXPECT_EQ(as_is.body, plain.body) << refused;
  }

  // The text report, the drawing and the stored job (compressed per request) too.
  for (const char* target : {"/report/2?project=gz&format=text", "/report/2.svg?project=gz",
                             "/jobs/2?project=gz", "/report/2?project=gz&base=1"}) {
    const HttpResponse as_is = Get(target);
    ASSERT_EQ(as_is.status, 200) << target;
    ASSERT_GE(as_is.body.size(), 1400u) << target;
    const HttpResponse gz = Get(target, {{"Accept-Encoding", "gzip"}});
    ASSERT_EQ(gz.status, 200) << target;
    EXPECT_EQ(gz.headers.at("content-encoding"), "gzip") << target;
    EXPECT_EQ(gz.content_type, as_is.content_type) << target;
    EXPECT_EQ(Gunzip(gz.body), as_is.body) << target;
  }

  // Short answers go as they are, and so do those of the lanes that keep health checks
  // answered, however long (the API's description is).
  const HttpResponse health = Get("/healthz", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.headers.count("content-encoding"), 0u);
  const HttpResponse openapi = Get("/openapi.json", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(openapi.status, 200);
  EXPECT_GT(openapi.body.size(), 1400u);
  EXPECT_EQ(openapi.headers.count("content-encoding"), 0u);
  EXPECT_EQ(JsonDoc(openapi.body).Str("/openapi"), "3.1.0");
}

TEST_F(E2eEndpoints, HealthReadinessUnknownEndpointsAndWrongMethods) {
  HttpResponse health = Get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.content_type, "application/json");
  EXPECT_EQ(health.headers["cache-control"], "no-store");
  EXPECT_EQ(JsonDoc(health.body).Str("/status"), "ok");

  HttpResponse ready = Get("/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  JsonDoc readiness(ready.body);
  EXPECT_EQ(readiness.Str("/status"), "ready");
  EXPECT_EQ(readiness.Str("/store/status"), "ok");
  EXPECT_EQ(readiness.Str("/store/url"), "file://" + states_dir());
  EXPECT_EQ(readiness.Str("/warehouse/status"), "ok");
  EXPECT_EQ(readiness.Str("/warehouse/url"), "sqlite://" + metrics_db());

  EXPECT_TRUE(IsError(Get("/nope"), 404, "not_found"));
  EXPECT_TRUE(IsError(Get("/report/1/extra"), 404, "not_found"));
  EXPECT_TRUE(IsError(Get("/jobs/1?project=web"), 404, "not_found"));

  HttpResponse get_process = Get("/process");
  EXPECT_TRUE(IsError(get_process, 405, "method_not_allowed"));
  EXPECT_EQ(get_process.headers["allow"], "POST");
  HttpResponse delete_job = Send("DELETE", "/jobs/1");
  EXPECT_TRUE(IsError(delete_job, 405, "method_not_allowed"));
  EXPECT_EQ(delete_job.headers["allow"], "GET");
  HttpResponse post_health = Post("/healthz", "{}");
  EXPECT_TRUE(IsError(post_health, 405, "method_not_allowed"));
  EXPECT_EQ(post_health.headers["allow"], "GET");
}

}  // namespace
}  // namespace buildtrace::e2e
