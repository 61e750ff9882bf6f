// The dashboard's routes through Api::Handle: each page answers HTML with its data, errors are
// pages, the window filter and paging select the right jobs, and access control holds for pages
// as for the API (the sign-in form, its cookie and its flags, redirects, project-scoped tokens).
// What the pages look like is ui/pages_test.cc's; how they behave in a browser, tests/browser's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>

#include "core/canonical_hash.h"
#include "core/timestamp.h"
#include "http/api.h"
#include "testing/api_request.h"
#include "testing/temp_backends.h"

namespace buildtrace {
namespace {

namespace http = boost::beast::http;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kNowMs = 1'795'867'200'000;  // 2026-11-28T12:00:00Z

// Job `id` of `project`, `minutes_ago` before now; `state` as JSON.
std::string Job(std::string_view project, int64_t id, int64_t minutes_ago, std::string_view state,
                std::string_view status = "succeeded") {
  return R"({"job_id":)" + std::to_string(id) + R"(,"project":")" + std::string(project) +
         R"(","timestamp":")" + FormatRfc3339Utc(kNowMs - minutes_ago * 60'000) +
         R"(","latency_ms":)" + std::to_string(100 * id) + R"(,"status":")" + std::string(status) +
         R"(","state":)" + std::string(state) + "}";
}

// Project demo: job 1 three days ago; jobs 2 (a move, an addition, a removal) and 3 (failed) in
// the last two hours. Project other: one job.
std::string Jobs() {
  return "[" + Job("demo", 1, 3 * 24 * 60, R"({"W1":"wall_0_0_10_1","D1":"door_5_5_1_2"})") + "," +
         Job("demo", 2, 120, R"({"W1":"wall_2_-1_10_1","N1":"window_7_8_1_1"})") + "," +
         Job("demo", 3, 60, R"({"W1":"wall_2_-1_10_1"})", "failed") + "," +
         Job("other", 1, 30, R"({"A":"box_0_0_1_1"})") + "]";
}

std::string TokenLine(std::string_view token, std::string_view rest) {
  return "sha256:" + Sha256Hex(token) + " " + std::string(rest) + "\n";
}

class ApiUiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(backends_.ok());
    Result<AccessControl> access =
        AccessControl::Parse(TokenLine("reader", "read") + TokenLine("demo-reader", "read demo") +
                                 TokenLine("other-reader", "read other") +
                                 TokenLine("ingester", "ingest") + TokenLine("admin", "admin"),
                             "tokens");
    ASSERT_TRUE(access.ok()) << access.status().message();
    access_.emplace(std::move(*access));
    open_ = MakeApi(nullptr);
    secured_ = MakeApi(&*access_);
    const HttpResponse seeded = HandleAs(*open_, "", http::verb::post, "/process", Jobs());
    ASSERT_EQ(seeded.result_int(), 202u) << seeded.body();
  }

  std::unique_ptr<Api> MakeApi(const AccessControl* access) {
    ApiContext context{*backends_.store(), *backends_.warehouse(), ParseLimits{},
                       [] { return kNowMs; }};
    context.access = access;
    return std::make_unique<Api>(std::move(context));
  }

  // A browser's request: the session cookie when `cookie` is given, a form body for a POST.
  static HttpResponse Browse(Api& api, http::verb method, std::string_view target,
                             std::string_view cookie = "", std::string body = "",
                             std::string_view forwarded_proto = "") {
    HttpRequest request{method, target, 11};
    if (!cookie.empty()) request.set(http::field::cookie, std::string(cookie));
    if (!forwarded_proto.empty()) request.set("X-Forwarded-Proto", std::string(forwarded_proto));
    if (!body.empty()) {
      request.set(http::field::content_type, "application/x-www-form-urlencoded");
    }
    request.body() = std::move(body);
    request.prepare_payload();
    return HandleOwned(api, request);
  }
  HttpResponse Get(std::string_view target) { return Browse(*open_, http::verb::get, target); }

  TempBackends backends_{"api_ui"};
  std::optional<AccessControl> access_;
  std::unique_ptr<Api> open_;
  std::unique_ptr<Api> secured_;
};

TEST_F(ApiUiTest, EachPageAnswersHtmlWithItsData) {
  const HttpResponse home = Get("/");
  ASSERT_EQ(home.result_int(), 200u) << home.body();
  EXPECT_EQ(home[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_THAT(std::string(home["Content-Security-Policy"]), HasSubstr("default-src 'none'"));
  EXPECT_EQ(home[http::field::cache_control], "no-store");
  EXPECT_THAT(home.body(), HasSubstr("data-project=\"demo\""));
  EXPECT_THAT(home.body(), HasSubstr("data-project=\"other\""));
  EXPECT_THAT(home.body(), HasSubstr("href=\"/ui/projects/demo\""));

  const HttpResponse project = Get("/ui/projects/demo?window=30d");
  ASSERT_EQ(project.result_int(), 200u) << project.body();
  for (const char* id : {"1", "2", "3"}) {
    EXPECT_THAT(project.body(), HasSubstr(std::string("<tr data-job-id=\"") + id + "\""));
  }
  EXPECT_THAT(project.body(), HasSubstr("id=\"changes-chart\""));
  EXPECT_THAT(project.body(), HasSubstr("id=\"latency-chart\""));

  const HttpResponse job = Get("/ui/projects/demo/jobs/2");
  ASSERT_EQ(job.result_int(), 200u) << job.body();
  EXPECT_THAT(job.body(), HasSubstr("<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"overlay\""));
  EXPECT_THAT(job.body(), HasSubstr("data-id=\"W1\" data-kind=\"moved\""));
  EXPECT_THAT(job.body(), HasSubstr("data-id=\"N1\" data-kind=\"added\""));
  EXPECT_THAT(job.body(), HasSubstr("data-id=\"D1\" data-kind=\"removed\""));
  EXPECT_THAT(job.body(), HasSubstr("href=\"/ui/projects/demo/jobs/1\""));  // previous
  EXPECT_THAT(job.body(), HasSubstr("href=\"/ui/projects/demo/jobs/3\""));  // next
  EXPECT_THAT(job.body(), HasSubstr("href=\"/report/2.svg?project=demo\""));

  const HttpResponse icon = Get("/favicon.ico");
  ASSERT_EQ(icon.result_int(), 200u);
  EXPECT_EQ(icon[http::field::content_type], "image/svg+xml");
  EXPECT_THAT(icon.body(), HasSubstr("<svg"));
}

TEST_F(ApiUiTest, TheWindowFilterSelectsTheJobsShown) {
  // 3 hours: jobs 2 and 3 only; job 1 is three days old, so there is no older page either.
  const HttpResponse recent = Get("/ui/projects/demo?window=3h");
  ASSERT_EQ(recent.result_int(), 200u) << recent.body();
  EXPECT_THAT(recent.body(), HasSubstr("<tr data-job-id=\"3\""));
  EXPECT_THAT(recent.body(), HasSubstr("<tr data-job-id=\"2\""));
  EXPECT_THAT(recent.body(), Not(HasSubstr("<tr data-job-id=\"1\"")));
  EXPECT_THAT(recent.body(), Not(HasSubstr("id=\"older\"")));
  // Below job 3, in 30 days: jobs 2 and 1.
  const HttpResponse older = Get("/ui/projects/demo?window=30d&before=3");
  ASSERT_EQ(older.result_int(), 200u) << older.body();
  EXPECT_THAT(older.body(), Not(HasSubstr("<tr data-job-id=\"3\"")));
  EXPECT_THAT(older.body(), HasSubstr("<tr data-job-id=\"1\""));
  EXPECT_THAT(older.body(), HasSubstr("id=\"newest\""));
}

// GET / lists 100 projects a page, by name, each with its latest job; the next page follows the
// last one listed.
TEST_F(ApiUiTest, AProjectsJobsCome50APageNewestFirst) {
  std::string batch = "[";
  for (int id = 1; id <= 55; ++id) {
    batch += (id > 1 ? "," : "") + Job("many", id, 60 - id, R"({"A":"box_0_0_1_1"})");
  }
  ASSERT_EQ(HandleAs(*open_, "", http::verb::post, "/process", batch + "]").result_int(), 202u);
  // The first page (its table cut from the charts' read): jobs 55 down to 6, then a link on.
  const HttpResponse first = Get("/ui/projects/many");
  ASSERT_EQ(first.result_int(), 200u) << first.body();
  EXPECT_THAT(first.body(), HasSubstr("<tr data-job-id=\"55\""));
  EXPECT_THAT(first.body(), HasSubstr("<tr data-job-id=\"6\""));
  EXPECT_THAT(first.body(), Not(HasSubstr("<tr data-job-id=\"5\"")));
  EXPECT_THAT(first.body(), HasSubstr("<a id=\"older\" href=\"?window=30d&amp;before=6\">"));
  const HttpResponse second = Get("/ui/projects/many?before=6");
  ASSERT_EQ(second.result_int(), 200u) << second.body();
  EXPECT_THAT(second.body(), HasSubstr("<tr data-job-id=\"5\""));
  EXPECT_THAT(second.body(), HasSubstr("<tr data-job-id=\"1\""));
  EXPECT_THAT(second.body(), Not(HasSubstr("<tr data-job-id=\"6\"")));
  EXPECT_THAT(second.body(), Not(HasSubstr("id=\"older\"")));
}

TEST_F(ApiUiTest, TheProjectsComeAHundredAPage) {
  std::string batch = "[";
  for (int i = 0; i < 101; ++i) {
    char name[8];
    std::snprintf(name, sizeof name, "p%03d", i);
    batch += (i ? "," : "") + Job(name, 1, 10, R"({"A":"box_0_0_1_1"})");
  }
  ASSERT_EQ(HandleAs(*open_, "", http::verb::post, "/process", batch + "]").result_int(), 202u);
  // demo, other and p000-p100, by name: demo, other, p000 ... p097 on the first page.
  const HttpResponse first = Get("/");
  ASSERT_EQ(first.result_int(), 200u);
  EXPECT_THAT(first.body(), HasSubstr("data-project=\"demo\""));
  EXPECT_THAT(first.body(), HasSubstr("data-project=\"p097\""));
  EXPECT_THAT(first.body(), Not(HasSubstr("data-project=\"p098\"")));
  EXPECT_THAT(first.body(), HasSubstr("<a id=\"more-projects\" href=\"/?after=p097\">"));
  const HttpResponse second = Get("/?after=p097");
  ASSERT_EQ(second.result_int(), 200u);
  EXPECT_THAT(second.body(), Not(HasSubstr("data-project=\"p097\"")));
  EXPECT_THAT(second.body(), HasSubstr("data-project=\"p098\""));
  EXPECT_THAT(second.body(), HasSubstr("data-project=\"p100\""));
  EXPECT_THAT(second.body(), Not(HasSubstr("more-projects")));
  EXPECT_EQ(Get("/?after=%2F..").result_int(), 400u);
}

TEST_F(ApiUiTest, ErrorsArePagesWithTheirStatus) {
  const struct {
    std::string target;
    unsigned status;
  } cases[] = {
      {"/ui/projects/nosuch", 404},
      {"/ui/projects/demo/jobs/99", 404},
      {"/ui/projects/-bad", 400},
      {"/ui/projects/demo?window=0x", 400},
      {"/ui/projects/demo?before=abc", 400},
      {"/ui/projects/demo?bogus=1", 400},
      {"/ui/projects/demo/jobs/x", 400},
  };
  for (const auto& c : cases) {
    const HttpResponse res = Get(c.target);
    EXPECT_EQ(res.result_int(), c.status) << c.target;
    EXPECT_EQ(res[http::field::content_type], "text/html; charset=utf-8") << c.target;
    EXPECT_THAT(res.body(), HasSubstr("data-status=\"" + std::to_string(c.status) + "\""))
        << c.target;
  }
}

TEST_F(ApiUiTest, WithoutATokenAPageSendsTheBrowserToSignIn) {
  const HttpResponse home = Browse(*secured_, http::verb::get, "/");
  ASSERT_EQ(home.result_int(), 303u);
  EXPECT_EQ(home[http::field::location], "/ui/signin?next=%2F");
  const HttpResponse page = Browse(*secured_, http::verb::get, "/ui/projects/demo?window=7d");
  ASSERT_EQ(page.result_int(), 303u);
  EXPECT_EQ(page[http::field::location], "/ui/signin?next=%2Fui%2Fprojects%2Fdemo%3Fwindow%3D7d");
  // A cookie with a token nobody has is no token.
  EXPECT_EQ(Browse(*secured_, http::verb::get, "/", "buildtrace_token=nobody").result_int(), 303u);
  // The early decision on the headers alone says the same.
  HttpRequest headers{http::verb::get, "/ui/projects/demo/jobs/2", 11};
  std::optional<HttpResponse> screened = secured_->Screen(headers);
  ASSERT_TRUE(screened.has_value());
  EXPECT_EQ(screened->result_int(), 303u);
  EXPECT_EQ((*screened)[http::field::location],
            "/ui/signin?next=%2Fui%2Fprojects%2Fdemo%2Fjobs%2F2");
  // The form, the icon and the sign-in itself are open.
  EXPECT_EQ(Browse(*secured_, http::verb::get, "/ui/signin?next=%2F").result_int(), 200u);
  EXPECT_EQ(Browse(*secured_, http::verb::get, "/favicon.svg").result_int(), 200u);
}

TEST_F(ApiUiTest, SigningInSetsAStrictHttpOnlyCookieAndGoesBack) {
  const HttpResponse in = Browse(*secured_, http::verb::post, "/ui/signin", "",
                                 "token=reader&next=%2Fui%2Fprojects%2Fdemo%3Fwindow%3D7d");
  ASSERT_EQ(in.result_int(), 303u) << in.body();
  EXPECT_EQ(in[http::field::location], "/ui/projects/demo?window=7d");
  EXPECT_EQ(in[http::field::set_cookie],
            "buildtrace_token=reader; Path=/; HttpOnly; SameSite=Strict");
  // Behind a TLS-terminating proxy the cookie is Secure too.
  const HttpResponse tls =
      Browse(*secured_, http::verb::post, "/ui/signin", "", "token=reader&next=%2F", "https");
  EXPECT_EQ(tls[http::field::set_cookie],
            "buildtrace_token=reader; Path=/; HttpOnly; SameSite=Strict; Secure");
  // The cookie opens the pages.
  const HttpResponse page =
      Browse(*secured_, http::verb::get, "/ui/projects/demo", "a=b; buildtrace_token=reader");
  EXPECT_EQ(page.result_int(), 200u) << page.body();
  EXPECT_THAT(page.body(), HasSubstr("action=\"/ui/signout\""));  // signed in: a way out
  // Signing out clears it.
  const HttpResponse out =
      Browse(*secured_, http::verb::post, "/ui/signout", "buildtrace_token=reader");
  ASSERT_EQ(out.result_int(), 303u);
  EXPECT_EQ(out[http::field::location], "/ui/signin");
  EXPECT_EQ(out[http::field::set_cookie],
            "buildtrace_token=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
}

TEST_F(ApiUiTest, ABadTokenOrAForeignNextIsRefused) {
  const HttpResponse wrong =
      Browse(*secured_, http::verb::post, "/ui/signin", "", "token=guess&next=%2F");
  EXPECT_EQ(wrong.result_int(), 401u);
  EXPECT_EQ(wrong[http::field::set_cookie], "");
  EXPECT_THAT(wrong.body(), HasSubstr("id=\"signin-error\""));
  EXPECT_THAT(wrong.body(), HasSubstr("That token is not valid"));
  const HttpResponse ingest =
      Browse(*secured_, http::verb::post, "/ui/signin", "", "token=ingester&next=%2F");
  EXPECT_EQ(ingest.result_int(), 401u);
  EXPECT_THAT(ingest.body(), HasSubstr("no read scope"));
  // Only a path of this service is a place to go back to.
  for (const char* next : {"%2F%2Fevil.example%2F", "https%3A%2F%2Fevil.example", "%2F%5Cevil"}) {
    const HttpResponse res = Browse(*secured_, http::verb::post, "/ui/signin", "",
                                    std::string("token=reader&next=") + next);
    EXPECT_EQ(res[http::field::location], "/") << next;
  }
}

TEST_F(ApiUiTest, PagesHonourProjectScopedTokens) {
  const HttpResponse home =
      Browse(*secured_, http::verb::get, "/", "buildtrace_token=other-reader");
  ASSERT_EQ(home.result_int(), 200u);
  EXPECT_THAT(home.body(), HasSubstr("data-project=\"other\""));
  EXPECT_THAT(home.body(), Not(HasSubstr("data-project=\"demo\"")));
  const HttpResponse project =
      Browse(*secured_, http::verb::get, "/ui/projects/demo", "buildtrace_token=other-reader");
  EXPECT_EQ(project.result_int(), 403u);
  EXPECT_EQ(project[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_THAT(project.body(), HasSubstr("data-status=\"403\""));
  EXPECT_THAT(std::string(project["Content-Security-Policy"]), HasSubstr("default-src 'none'"));
  EXPECT_EQ(
      Browse(*secured_, http::verb::get, "/ui/projects/demo/jobs/2", "buildtrace_token=demo-reader")
          .result_int(),
      200u);
  // A token without read scope sees no page.
  EXPECT_EQ(Browse(*secured_, http::verb::get, "/", "buildtrace_token=admin").result_int(), 403u);
  // The cookie is for the pages only: the API still wants its Authorization header.
  EXPECT_EQ(Browse(*secured_, http::verb::get, "/report/2?project=demo", "buildtrace_token=reader")
                .result_int(),
            401u);
  EXPECT_EQ(HandleAs(*secured_, "reader", http::verb::get, "/ui/projects/demo").result_int(), 200u);
}

TEST_F(ApiUiTest, WithoutAccessControlSignInIsNotNeeded) {
  const HttpResponse form = Get("/ui/signin?next=%2Fui%2Fprojects%2Fdemo");
  ASSERT_EQ(form.result_int(), 303u);
  EXPECT_EQ(form[http::field::location], "/ui/projects/demo");
  // The pages are not part of the API's description.
  const HttpResponse doc = Get("/openapi.json");
  ASSERT_EQ(doc.result_int(), 200u);
  EXPECT_THAT(doc.body(), Not(HasSubstr("/ui/")));
  EXPECT_THAT(doc.body(), Not(HasSubstr("favicon")));
}

}  // namespace
}  // namespace buildtrace
