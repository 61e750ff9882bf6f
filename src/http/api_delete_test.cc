// Tests of DELETE /projects/{project}: what it answers and deletes, that a second delete is a
// success too, who may delete (admin scope, the token's projects), and that a run started over
// posts its job IDs again as new jobs while other projects stay as they were.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/canonical_hash.h"
#include "core/timestamp.h"
#include "http/api.h"
#include "testing/api_request.h"
#include "testing/json_body.h"
#include "testing/temp_backends.h"

namespace buildtrace {
namespace {

namespace http = boost::beast::http;
constexpr int64_t kNowMs = 1'795'867'200'000;  // 2026-11-28T12:00:00Z

std::string Job(int64_t id, std::string_view project, std::string_view value = "a") {
  return R"({"job_id":)" + std::to_string(id) + R"(,"project":")" + std::string(project) +
         R"(","timestamp":"2026-11-28T10:00:00Z","latency_ms":100,"state":{"A":")" +
         std::string(value) + R"("}})";
}

std::string TokenLine(std::string_view token, std::string_view rest) {
  return "sha256:" + Sha256Hex(token) + " " + std::string(rest) + "\n";
}

class ApiDeleteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(backends_.ok());
    Result<AccessControl> access = AccessControl::Parse(TokenLine("root", "admin,ingest,read") +
                                                            TokenLine("web-admin", "admin web") +
                                                            TokenLine("all", "ingest,read,worker"),
                                                        "tokens");
    ASSERT_TRUE(access.ok()) << access.status().message();
    access_ = std::make_unique<AccessControl>(std::move(*access));
    ApiContext context{*backends_.store(), *backends_.warehouse(), ParseLimits{},
                       [] { return kNowMs; }};
    context.access = access_.get();
    api_ = std::make_unique<Api>(std::move(context));
  }

  HttpResponse As(std::string_view token, http::verb method, std::string_view target,
                  std::string body = "") {
    return HandleAs(*api_, token, method, target, std::move(body));
  }
  HttpResponse Delete(std::string_view target, std::string_view token = "root") {
    return As(token, http::verb::delete_, target);
  }
  void PostOk(const std::string& body) {
    const HttpResponse res = As("root", http::verb::post, "/process", body);
    ASSERT_EQ(res.result_int(), 202u) << res.body();
  }
  void ReportOk(int64_t job_id, std::string_view project) {
    const HttpResponse res =
        As("root", http::verb::get,
           "/report/" + std::to_string(job_id) + "?project=" + std::string(project));
    ASSERT_EQ(res.result_int(), 200u) << res.body();
  }
  std::vector<std::string> Objects(std::string_view prefix = "") {
    Result<std::vector<std::string>> names = backends_.file_store()->List(prefix);
    EXPECT_TRUE(names.ok()) << names.status().message();
    return names.ok() ? *names : std::vector<std::string>{"<error>"};
  }
  // The objects of `project` in every folder BuildTrace keeps projects in.
  std::vector<std::string> ProjectObjects(std::string_view project) {
    std::vector<std::string> out;
    for (const std::string& name : Objects()) {
      const size_t slash = name.find('/');
      if (slash == std::string::npos) continue;
      const std::string_view rest = std::string_view(name).substr(slash + 1);
      if (rest == project || rest.starts_with(std::string(project) + "/")) out.push_back(name);
    }
    return out;
  }
  size_t WarehouseRows(std::string_view project) {
    size_t n = 0;
    for (const MetricsRow& row : ReadSqliteRows(backends_.db_path())) n += row.project == project;
    return n;
  }

  TempBackends backends_{"bt-api-delete"};
  std::unique_ptr<AccessControl> access_;
  std::unique_ptr<Api> api_;
};

TEST_F(ApiDeleteTest, DeletesEverythingOfTheProjectAndSaysWhat) {
  PostOk("[" + Job(1, "web") + "," + Job(2, "web", "b") + "," + Job(1, "web-2") + "]");
  ReportOk(1, "web");
  ReportOk(2, "web");
  ReportOk(1, "web-2");
  ASSERT_EQ(WarehouseRows("web"), 2u);
  const std::vector<std::string> other_before = ProjectObjects("web-2");

  const HttpResponse res = Delete("/projects/web");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(res[http::field::content_type], "application/json");
  const JsonBody body(res.body());
  EXPECT_EQ(body.Str("/project"), "web");
  EXPECT_EQ(body.Int("/deleted_jobs"), 2);
  EXPECT_EQ(body.Int("/deleted_reports"), 2);
  EXPECT_EQ(body.Int("/deleted_warehouse_rows"), 2);
  EXPECT_EQ(body.Int("/deleted_analysis_records"), 0);  // no background analysis here
  EXPECT_EQ(body.Int("/deleted_dead_letters"), 0);
  EXPECT_EQ(body.Int("/deleted_outbox_entries"), 0);
  EXPECT_GT(body.Int("/deleted_index_entries"), 4);  // two leaves in "all", two in "ok", markers

  EXPECT_EQ(ProjectObjects("web"), std::vector<std::string>{});
  EXPECT_EQ(WarehouseRows("web"), 0u);
  EXPECT_EQ(ProjectObjects("web-2"), other_before);
  EXPECT_EQ(WarehouseRows("web-2"), 1u);
  // Its reports and jobs are gone; the other project's stay.
  EXPECT_EQ(As("root", http::verb::get, "/report/1?project=web").result_int(), 404u);
  EXPECT_EQ(As("root", http::verb::get, "/jobs/2?project=web").result_int(), 404u);
  EXPECT_EQ(As("root", http::verb::get, "/projects/web/jobs").result_int(), 404u);
  ReportOk(1, "web-2");
  EXPECT_EQ(As("root", http::verb::get, "/projects").body(),
            R"({"projects":[{"project":"web-2","jobs":1,"latest_job_id":1}]})"
            "\n");
}

TEST_F(ApiDeleteTest, ASecondDeleteAndAProjectThatNeverWasAreSuccessesWithNothingDeleted) {
  PostOk(Job(1, "web"));
  ASSERT_EQ(Delete("/projects/web").result_int(), 200u);
  for (const std::string target : {"/projects/web", "/projects/never"}) {
    const HttpResponse res = Delete(target);
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    const std::string project = target.substr(10);
    EXPECT_EQ(res.body(), R"({"project":")" + project +
                              R"(","deleted_jobs":0,"deleted_index_entries":0,"deleted_reports":0,)"
                              R"("deleted_analysis_records":0,"deleted_dead_letters":0,)"
                              R"("deleted_outbox_entries":0,"deleted_warehouse_rows":0})"
                              "\n");
  }
}

TEST_F(ApiDeleteTest, ARunStartedOverPostsItsJobsAgainAsNewJobs) {
  PostOk(Job(1, "web", "first run"));
  ReportOk(1, "web");
  const HttpResponse conflict = As("root", http::verb::post, "/process", Job(1, "web", "second"));
  ASSERT_EQ(conflict.result_int(), 409u) << conflict.body();
  ASSERT_EQ(Delete("/projects/web").result_int(), 200u);

  const HttpResponse res = As("root", http::verb::post, "/process", Job(1, "web", "second"));
  ASSERT_EQ(res.result_int(), 202u) << res.body();
  EXPECT_EQ(JsonBody(res.body()).Bool("/accepted/0/created"), true);
  const HttpResponse job = As("root", http::verb::get, "/jobs/1?project=web");
  ASSERT_EQ(job.result_int(), 200u);
  EXPECT_THAT(job.body(), ::testing::HasSubstr(R"("A":"second")"));
  ReportOk(1, "web");
  EXPECT_EQ(WarehouseRows("web"), 1u);
}

TEST_F(ApiDeleteTest, OnlyAnAdminTokenOfTheProjectMayDelete) {
  PostOk("[" + Job(1, "web") + "," + Job(1, "api") + "]");
  HttpResponse res = Delete("/projects/web", "");
  EXPECT_EQ(res.result_int(), 401u) << res.body();
  EXPECT_EQ(res[http::field::www_authenticate], "Bearer");
  EXPECT_EQ(JsonBody(res.body()).Str("/error/code"), "unauthenticated");
  res = Delete("/projects/web", "all");  // ingest, read and worker, but not admin
  EXPECT_EQ(res.result_int(), 403u) << res.body();
  EXPECT_EQ(JsonBody(res.body()).Str("/error/message"),
            "the token lacks the admin scope this request needs; use a token that has it");
  res = Delete("/projects/api", "web-admin");
  EXPECT_EQ(res.result_int(), 403u) << res.body();
  EXPECT_EQ(JsonBody(res.body()).Str("/error/message"),
            "the token does not allow project api; use a token listed for that project");
  // Nothing was deleted by the refused requests; the admin of web deletes web only.
  EXPECT_EQ(Objects("jobs/").size(), 2u);
  EXPECT_EQ(Delete("/projects/web", "web-admin").result_int(), 200u);
  EXPECT_EQ(Objects("jobs/"), std::vector<std::string>{"jobs/api/0000000000000000001.json"});
}

TEST_F(ApiDeleteTest, InvalidNamesAreRejectedAndOtherMethodsAre405) {
  const HttpResponse bad = Delete("/projects/-web");
  ASSERT_EQ(bad.result_int(), 400u) << bad.body();
  EXPECT_EQ(JsonBody(bad.body()).Str("/error/code"), "invalid_request");
  EXPECT_EQ(JsonBody(bad.body()).Str("/error/message"),
            "the project in /projects/{project} must be 1-128 characters of A-Z, a-z, 0-9, '.', "
            "'_' or '-', starting with a letter or digit");
  const HttpResponse get = As("root", http::verb::get, "/projects/web");
  ASSERT_EQ(get.result_int(), 405u) << get.body();
  EXPECT_EQ(get[http::field::allow], "DELETE");
  EXPECT_EQ(Delete("/projects/web?force=1").result_int(), 400u);
}

TEST_F(ApiDeleteTest, AWarehouseThatCannotDeleteIs503AndKeepsTheJobs) {
  PostOk(Job(1, "web"));
  ReportOk(1, "web");
  backends_.warehouse()->Fail(FaultyMetricsWarehouse::Method::kDeleteProject,
                              Unavailable("warehouse down"));
  const HttpResponse res = Delete("/projects/web");
  ASSERT_EQ(res.result_int(), 503u) << res.body();
  EXPECT_EQ(res[http::field::retry_after], "5");
  EXPECT_EQ(JsonBody(res.body()).Str("/error/message"),
            "deleting project web: the warehouse rows: warehouse down; the deletion is partial "
            "(the jobs are kept until the last step), send the DELETE again to finish it");
  EXPECT_EQ(Objects("jobs/"), std::vector<std::string>{"jobs/web/0000000000000000001.json"});
  EXPECT_EQ(WarehouseRows("web"), 1u);
  backends_.warehouse()->Heal();
  ASSERT_EQ(Delete("/projects/web").result_int(), 200u);
  EXPECT_EQ(ProjectObjects("web"), std::vector<std::string>{});
  EXPECT_EQ(WarehouseRows("web"), 0u);
}

}  // namespace
}  // namespace buildtrace
