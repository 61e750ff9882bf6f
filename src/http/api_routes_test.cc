// The route table against what the API really does: every route's answers (successes and errors)
// validated against the OpenAPI document generated from the table, every scoped route refused
// without its scope, and docs/api.md checked against the table.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "core/canonical_hash.h"
#include "core/timestamp.h"
#include "http/api.h"
#include "http/openapi.h"
#include "queue/inproc_queue.h"
#include "queue/pubsub_message.h"
#include "testing/api_request.h"
#include "testing/json_body.h"
#include "testing/json_schema.h"
#include "testing/temp_backends.h"

namespace buildtrace {
namespace {

namespace http = boost::beast::http;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr int64_t kNowMs = 1'795'867'200'000;  // 2026-11-28T12:00:00Z

// Job `id` of project demo at 10:00 + id minutes; `state` as JSON.
std::string DemoJob(int64_t id, std::string_view state, std::string_view status = "succeeded") {
  return R"({"job_id":)" + std::to_string(id) + R"(,"project":"demo","timestamp":")" +
         FormatRfc3339Utc(kNowMs - 7'200'000 + id * 60'000) + R"(","latency_ms":)" +
         std::to_string(100 * id) + R"(,"status":")" + std::string(status) +
         R"(","metadata":{"branch":"main"},"state":)" + std::string(state) + "}";
}

// Three jobs of project demo whose comparisons use every kind of change: job 2 moves, resizes and
// retypes pseudo-hashes and changes a structured object against job 1; job 3 failed.
std::string DemoJobs() {
  return "[" +
         DemoJob(1, R"({"W1":"wall_0_0_10_1","D1":"door_5_5_1_2","C1":"column_1_1_1_1",)"
                    R"("S1":{"type":"stair","x":1,"y":2},"R1":"pipe_1_1_1_1"})") +
         "," +
         DemoJob(2, R"({"W1":"wall_2_-1_10_1","D1":"door_5_5_2_2","C1":"beam_1_1_1_1",)"
                    R"("S1":{"type":"stair","x":1,"y":3},"N1":"window_7_8_1_1"})") +
         "," + DemoJob(3, R"({"W1":"wall_2_-1_10_1"})", "failed") + "]";
}

std::string TokenLine(std::string_view token, std::string_view rest) {
  return "sha256:" + Sha256Hex(token) + " " + std::string(rest) + "\n";
}

class ApiRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(backends_.ok());
    api_ = MakeApi(nullptr);
    const HttpResponse seeded = Send(*api_, http::verb::post, "/process", DemoJobs());
    ASSERT_EQ(seeded.result_int(), 202u) << seeded.body();
  }

  std::unique_ptr<Api> MakeApi(const AccessControl* access) {
    ApiContext context{*backends_.store(), *backends_.warehouse(), ParseLimits{},
                       [] { return kNowMs; }};
    context.queue = &queue_;
    context.access = access;
    return std::make_unique<Api>(std::move(context));
  }

  static HttpResponse Send(Api& api, http::verb method, std::string_view target,
                           std::string body = "", std::string_view token = "") {
    return HandleAs(api, token, method, target, std::move(body));
  }

  // The body a route's example request sends.
  static std::string ExampleBody(const Route& route) {
    if (route.path == "/process") return DemoJob(4, R"({"W1":"wall_2_-1_10_1"})");
    if (route.path == "/tasks/pubsub") {
      return R"({"message":{"data":")" + EncodePubSubMessageData({"demo", 2}) +
             R"(","messageId":"1"},"subscription":"projects/p/subscriptions/s"})";
    }
    return "";
  }

  TempBackends backends_{"api_routes"};
  InprocQueue queue_;
  std::unique_ptr<Api> api_;
};

const Route& RouteAt(http::verb method, std::string_view path) {
  for (const Route& route : Api::ApiRoutes()) {
    if (route.method == method && route.path == path) return route;
  }
  ADD_FAILURE() << "no route " << http::to_string(method) << " " << path;
  return Api::ApiRoutes().front();
}

// Checks `res` against what `route` documents in `document`: a documented status, a documented
// media type for it, and a body that satisfies the documented schema.
void ExpectDocumented(const JsonSchemaChecker& checker, const Route& route, const HttpResponse& res,
                      std::string_view what) {
  SCOPED_TRACE(std::string(http::to_string(route.method)) + " " + std::string(route.path) + " " +
               std::string(what));
  const std::string content_type(res[http::field::content_type]);
  const std::string media = content_type.substr(0, content_type.find(';'));
  bool status_documented = false;
  bool checked = false;
  for (const RouteAnswer& answer : DocumentedAnswers(route)) {
    if (answer.status != static_cast<int>(res.result_int())) continue;
    status_documented = true;
    if (answer.media != media) continue;
    checked = true;
    if (media == "application/json") {
      EXPECT_THAT(checker.Check(answer.schema, res.body()), IsEmpty()) << res.body();
    } else {
      EXPECT_FALSE(res.body().empty());
    }
  }
  EXPECT_TRUE(status_documented) << "status " << res.result_int()
                                 << " is not documented: " << res.body();
  EXPECT_TRUE(checked) << "media type " << media << " is not documented for status "
                       << res.result_int();
}

TEST_F(ApiRoutesTest, EveryRoutesExampleAnswersAsDocumented) {
  const JsonSchemaChecker checker(OpenApiDocument(Api::ApiRoutes(), "test"));
  for (const Route& route : Api::ApiRoutes()) {
    const HttpResponse res = Send(*api_, route.method, route.example, ExampleBody(route));
    EXPECT_GE(res.result_int(), 200u);
    EXPECT_LT(res.result_int(), 300u) << route.path << ": " << res.body();
    ExpectDocumented(checker, route, res, "example");
  }
}

TEST_F(ApiRoutesTest, EveryRoutesErrorsAnswerAsDocumented) {
  const JsonSchemaChecker checker(OpenApiDocument(Api::ApiRoutes(), "test"));
  // An unknown parameter is a 400 on every route that is not lenient about them.
  for (const Route& route : Api::ApiRoutes()) {
    if (route.lenient_params) continue;
    const std::string target = std::string(route.example) +
                               (route.example.find('?') == std::string_view::npos ? "?" : "&") +
                               "bogus=1";
    const HttpResponse res = Send(*api_, route.method, target, ExampleBody(route));
    ASSERT_EQ(res.result_int(), 400u) << target;
    std::string takes;
    for (std::string_view name : QueryParamNames(route)) {
      takes += (takes.empty() ? "" : ", ") + std::string(name);
    }
    EXPECT_EQ(JsonBody(res.body()).Str("/error/message"),
              "unknown query parameter \"bogus\"; this endpoint takes " +
                  (takes.empty() ? std::string("none") : takes));
    ExpectDocumented(checker, route, res, "unknown parameter");
  }
  const struct {
    http::verb method;
    std::string_view path;
    std::string target;
    std::string body;
    unsigned status;
  } cases[] = {
      {http::verb::get, "/report/{job_id}", "/report/99?project=demo", "", 404},
      {http::verb::get, "/report/{job_id}", "/report/x?project=demo", "", 400},
      {http::verb::get, "/report/{job_id}", "/report/2?project=demo&format=xml", "", 400},
      {http::verb::get, "/report/{job_id}", "/report/2?project=demo&format=classic", "", 200},
      {http::verb::get, "/report/{job_id}", "/report/2?project=demo&format=text", "", 200},
      {http::verb::get, "/report/{job_id}", "/report/3?project=demo&base=1", "", 200},
      {http::verb::get, "/report/{job_id}", "/report/1?project=demo", "", 200},
      {http::verb::get, "/jobs/{job_id}", "/jobs/99?project=demo", "", 404},
      {http::verb::get, "/jobs/{job_id}", "/jobs/1?project=no%20such", "", 400},
      {http::verb::get, "/projects/{project}/jobs", "/projects/-x/jobs", "", 400},
      {http::verb::get, "/projects/{project}/jobs", "/projects/demo/jobs?limit=0", "", 400},
      {http::verb::get, "/stats/latency", "/stats/latency?window=0x", "", 400},
      {http::verb::get, "/stats/latency", "/stats/latency?project=none", "", 200},
      {http::verb::post, "/process", "/process", "{", 400},
      {http::verb::post, "/process", "/process", R"({"job_id":1})", 400},
      {http::verb::post, "/process", "/process", DemoJobs(), 200},
      {http::verb::post, "/process", "/process", DemoJob(1, R"({"W1":"other_0_0_1_1"})"), 409},
      {http::verb::post, "/tasks/pubsub", "/tasks/pubsub", R"({"message":{}})", 200},
  };
  for (const auto& c : cases) {
    const HttpResponse res = Send(*api_, c.method, c.target, c.body);
    EXPECT_EQ(res.result_int(), c.status) << c.target << ": " << res.body();
    ExpectDocumented(checker, RouteAt(c.method, c.path), res, c.target);
  }
}

TEST_F(ApiRoutesTest, AWrongMethodIs405WithTheMethodsOfThePath) {
  const HttpResponse put = Send(*api_, http::verb::put, "/report/1");
  ASSERT_EQ(put.result_int(), 405u);
  EXPECT_EQ(put[http::field::allow], "GET");
  EXPECT_EQ(JsonBody(put.body()).Str("/error/message"), "PUT is not allowed on /report/1; use GET");
  const HttpResponse get = Send(*api_, http::verb::get, "/process");
  ASSERT_EQ(get.result_int(), 405u);
  EXPECT_EQ(get[http::field::allow], "POST");
  const HttpResponse nope = Send(*api_, http::verb::get, "/report");
  ASSERT_EQ(nope.result_int(), 404u);
  EXPECT_EQ(JsonBody(nope.body()).Str("/error/message"),
            "no such endpoint: /report; see /docs or docs/api.md for the endpoints");
}

TEST_F(ApiRoutesTest, HealthIgnoresQueryParametersLikeTheOriginal) {
  EXPECT_EQ(Send(*api_, http::verb::get, "/health?probe=lb").result_int(), 200u);
  EXPECT_EQ(Send(*api_, http::verb::get, "/healthz?x=1").result_int(), 200u);
}

TEST_F(ApiRoutesTest, TheLaneComesFromTheTable) {
  auto lane = [](http::verb method, std::string_view target) {
    HttpRequest request{method, target, 11};
    return Api::Lane(request);
  };
  EXPECT_EQ(lane(http::verb::get, "/healthz"), RequestLane::kInline);
  EXPECT_EQ(lane(http::verb::get, "/health?x=1"), RequestLane::kInline);
  EXPECT_EQ(lane(http::verb::get, "/readyz"), RequestLane::kControl);
  EXPECT_EQ(lane(http::verb::get, "/metrics"), RequestLane::kControl);
  EXPECT_EQ(lane(http::verb::get, "/openapi.json"), RequestLane::kControl);
  EXPECT_EQ(lane(http::verb::get, "/report/1"), RequestLane::kWork);
  EXPECT_EQ(lane(http::verb::post, "/healthz"), RequestLane::kWork);
}

// With tokens on: for each scoped route, no token is a 401, a token of every other scope a 403,
// a token of the right scope for another project a 403 where the route touches one project, and
// the right token passes. The open routes are exactly the health checks and the API's description.
TEST_F(ApiRoutesTest, NoRouteIsReachableWithoutItsScope) {
  const std::vector<std::pair<AccessScope, std::string>> scopes = {{AccessScope::kIngest, "ingest"},
                                                                   {AccessScope::kRead, "read"},
                                                                   {AccessScope::kWorker, "worker"},
                                                                   {AccessScope::kAdmin, "admin"}};
  std::string tokens;
  for (const auto& [scope, name] : scopes) {
    tokens += TokenLine(name, name);
    tokens += TokenLine(name + "-other", name + " other");
  }
  Result<AccessControl> access = AccessControl::Parse(tokens, "tokens");
  ASSERT_TRUE(access.ok()) << access.status().message();
  std::unique_ptr<Api> secured = MakeApi(&*access);
  std::set<std::string> open;
  for (const Route& route : Api::ApiRoutes()) {
    const std::string name =
        std::string(http::to_string(route.method)) + " " + std::string(route.path);
    SCOPED_TRACE(name);
    auto send = [&](std::string_view token) {
      return Send(*secured, route.method, route.example, ExampleBody(route), token).result_int();
    };
    if (!route.scope) {
      open.insert(name);
      EXPECT_EQ(send(""), 200u);
      continue;
    }
    EXPECT_EQ(send(""), 401u);
    EXPECT_EQ(send("not-a-token"), 401u);
    for (const auto& [scope, token] : scopes) {
      if (scope == *route.scope) {
        EXPECT_THAT(send(token), Not(::testing::AnyOf(401u, 403u)));
        if (route.project_from != ProjectFrom::kNone &&
            route.project_from != ProjectFrom::kFilteredAnswer) {
          EXPECT_EQ(send(token + "-other"), 403u) << "a token of another project";
        }
      } else {
        EXPECT_EQ(send(token), 403u) << "a token of scope " << token;
      }
    }
    // The early decision on the headers alone agrees with the full one.
    HttpRequest headers{route.method, route.example, 11};
    std::optional<HttpResponse> screened = secured->Screen(headers);
    ASSERT_TRUE(screened.has_value());
    EXPECT_EQ(screened->result_int(), 401u);
  }
  EXPECT_THAT(open, ::testing::UnorderedElementsAre("GET /healthz", "GET /health", "GET /readyz",
                                                    "GET /openapi.json", "GET /docs"));
}

TEST_F(ApiRoutesTest, TheDocumentDescribesEveryRoute) {
  const HttpResponse res = Send(*api_, http::verb::get, "/openapi.json");
  ASSERT_EQ(res.result_int(), 200u);
  JsonBody doc(res.body());
  EXPECT_EQ(doc.Str("/openapi"), "3.1.0");
  EXPECT_EQ(doc.Str("/info/title"), "BuildTrace");
  std::set<std::string> operation_ids;
  for (const Route& route : Api::ApiRoutes()) {
    std::string method(http::to_string(route.method));
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string lower = "/paths/";  // a JSON pointer escapes "/" as "~1"
    for (char c : route.path) lower += c == '/' ? std::string("~1") : std::string(1, c);
    lower += "/" + method;
    EXPECT_EQ(doc.Str(lower + "/summary"), route.summary);
    operation_ids.insert(doc.Str(lower + "/operationId"));
    for (const RouteAnswer& answer : DocumentedAnswers(route)) {
      EXPECT_FALSE(
          doc.Str(lower + "/responses/" + std::to_string(answer.status) + "/description").empty());
    }
  }
  EXPECT_EQ(operation_ids.size(), Api::ApiRoutes().size()) << "operationIds are unique";
  // Every $ref resolves, and every component schema uses only keywords the checker knows (an
  // empty object satisfies no strict schema, so the checker walks each one).
  const JsonSchemaChecker checker(res.body());
  for (const std::string name : {"Report", "ClassicReport", "ProcessAnswer", "ProcessRequest",
                                 "StoredJob", "Projects", "ProjectJobs", "LatencyStats", "Health",
                                 "Ready", "PushAnswer", "Error", "DeletedProject"}) {
    for (const std::string& error : checker.CheckAt("/components/schemas/" + name, "{}")) {
      EXPECT_THAT(error, Not(HasSubstr("does not know the keyword"))) << name;
      EXPECT_THAT(error, Not(HasSubstr("does not resolve"))) << name;
    }
  }
}

TEST_F(ApiRoutesTest, TheDocsPageListsEveryRouteWithoutScripts) {
  const HttpResponse res = Send(*api_, http::verb::get, "/docs");
  ASSERT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res[http::field::content_type], "text/html; charset=utf-8");
  for (const Route& route : Api::ApiRoutes()) {
    EXPECT_THAT(res.body(),
                HasSubstr("<span class=\"m\">" + std::string(http::to_string(route.method)) +
                          "</span> <code>" + std::string(route.path) + "</code>"));
  }
  EXPECT_THAT(res.body(), Not(HasSubstr("<script")));
  EXPECT_THAT(res.body(), Not(HasSubstr("http://cdn")));
  EXPECT_THAT(res.body(), HasSubstr("curl -H &quot;Authorization: Bearer $BUILDTRACE_TOKEN&quot; "
                                    "&quot;http://127.0.0.1:8080/report/2?project=demo&quot;"));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// docs/api.md has a heading naming each route ("## GET /report/{job_id}"), the dashboard's pages
// included, and no heading names a route the table does not have.
TEST(ApiDocsTest, ApiMdIsCheckedAgainstTheRouteTable) {
  const std::string docs = ReadFile(BUILDTRACE_SOURCE_DIR "/docs/api.md");
  ASSERT_FALSE(docs.empty());
  std::vector<std::string> headings;
  std::istringstream lines(docs);
  bool fenced = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("```", 0) == 0) fenced = !fenced;
    if (!fenced && line.rfind("#", 0) == 0) headings.push_back(line);
  }
  for (const Route& route : Api::Routes()) {
    const std::string name =
        std::string(http::to_string(route.method)) + " " + std::string(route.path);
    const bool found = std::any_of(headings.begin(), headings.end(), [&](const std::string& h) {
      for (size_t at = h.find(name); at != std::string::npos; at = h.find(name, at + 1)) {
        const size_t end = at + name.size();
        if (end == h.size() || std::string(" ?,").find(h[end]) != std::string::npos) return true;
      }
      return false;
    });
    EXPECT_TRUE(found) << "docs/api.md has no heading naming " << name;
  }
  const std::regex named(R"((GET|POST|PUT|PATCH|DELETE|HEAD) (/[^ ?,]*))");
  for (const std::string& heading : headings) {
    for (std::sregex_iterator it(heading.begin(), heading.end(), named), end; it != end; ++it) {
      bool known = false;
      for (const Route& route : Api::Routes()) {
        known |= http::to_string(route.method) == (*it)[1].str() && route.path == (*it)[2].str();
      }
      EXPECT_TRUE(known) << "docs/api.md names " << (*it)[0] << ", which no route answers";
    }
  }
}

TEST(JsonSchemaCheckerTest, ReportsEachViolationWithItsPointer) {
  const JsonSchemaChecker checker(
      R"({"s":{"Point":{"type":"object","required":["x"],"additionalProperties":false,)"
      R"("properties":{"x":{"type":"integer","minimum":0},"tag":{"enum":["a","b"]}}}}})");
  const std::string_view schema = R"({"type":"array","items":{"$ref":"#/s/Point"}})";
  EXPECT_THAT(checker.Check(schema, R"([{"x":1},{"x":2,"tag":"a"}])"), IsEmpty());
  EXPECT_THAT(checker.Check(schema, R"([{"x":-1},{"tag":"c","y":0},{"x":1.5}])"),
              ElementsAre("/0/x: -1 is beyond the minimum 0", "/1: the member \"x\" is missing",
                          "/1: the member \"y\" is not described",
                          "/1/tag: \"c\" is not one of [\"a\",\"b\"]",
                          "/2/x: 1.5 is not of type \"integer\""));
  EXPECT_THAT(checker.Check(R"({"type":"string"})", "1"),
              ElementsAre("/: 1 is not of type \"string\""));
  EXPECT_THAT(checker.Check(R"({"maxLength":3})", R"("abcd")"),
              ElementsAre("/: the checker does not know the keyword \"maxLength\""));
  EXPECT_THAT(checker.Check(R"({"$ref":"#/s/Nope"})", "{}"),
              ElementsAre("/: $ref \"#/s/Nope\" does not resolve in the document"));
  EXPECT_THAT(checker.Check(R"({"oneOf":[{"type":"integer"},{"type":"number"}]})", "1"),
              ElementsAre(HasSubstr("/: matches 2 of the oneOf schemas, not exactly one")));
  EXPECT_THAT(checker.Check(R"({"type":["integer","null"]})", "null"), IsEmpty());
  EXPECT_THAT(checker.Check(R"({"const":"ms"})", R"("s")"), ElementsAre("/: \"s\" is not \"ms\""));
  EXPECT_THAT(checker.Check(R"({"pattern":"^[a-z]+$"})", R"("A")"),
              ElementsAre("/: \"A\" does not match \"^[a-z]+$\""));
}

}  // namespace
}  // namespace buildtrace
