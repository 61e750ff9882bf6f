// No request can name data it must not: a file outside the data folder, an object outside the
// store's prefix, or another project's jobs, whatever it puts in a path, a query or a body.
//
// The real Api runs over two stores, each in a sandbox seeded with sentinels (unique strings
// nobody could guess) just outside what the store may touch:
// - File: a temporary sandbox; the store is <sandbox>/data/states, sentinels sit beside the data
//   folder, in a sibling "other project" data folder, in a "data-evil" sibling whose name starts
//   like the data folder's, and in the data folder above the store root;
// - S3 (moto's server): the store is s3://BUCKET/tenant/states, sentinels are objects at the
//   bucket's root, under the parent prefix, and under "tenant/states-evil".
// A large table of hostile requests must each get its specific 4xx; no answer may carry a
// sentinel or project alpha's secret; and the whole sandbox (every file, folder or object,
// with its bytes) must be exactly as before. Then the same tricks with bearer tokens: a token of
// project beta can neither read nor write project alpha.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/canonical_hash.h"
#include "http/api.h"
#include "store/file_state_store.h"
#include "store/s3_state_store.h"
#include "testing/api_request.h"
#include "testing/json_body.h"
#include "testing/moto_server.h"
#include "warehouse/sqlite_warehouse.h"

namespace buildtrace {
namespace {

namespace fs = std::filesystem;
namespace http = boost::beast::http;
using ::testing::HasSubstr;
using Snapshot = std::map<std::string, std::string>;  // path or key -> bytes ("<dir>" for folders)

constexpr int64_t kNowMs = 1'795'867'200'000;

std::string RandomHex() {
  std::mt19937_64 engine{std::random_device{}()};
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(engine()));
  return hex;
}

// Unique per run: a response that holds one of these read something it must not.
const std::string kOutsideSentinel = "OUTSIDE-SENTINEL-" + RandomHex();
const std::string kAlphaSecret = "ALPHA-SECRET-" + RandomHex();

std::string Job(int64_t id, std::string_view project, std::string_view state) {
  return R"({"job_id":)" + std::to_string(id) + R"(,"project":")" + std::string(project) +
         R"(","timestamp":"2026-11-28T10:00:00Z","latency_ms":5,"state":)" + std::string(state) +
         "}";
}
// A body with `field` (already JSON) in place of a valid job's job_id or project.
std::string JobWithId(std::string_view id_json) {
  return R"({"job_id":)" + std::string(id_json) +
         R"(,"timestamp":"2026-11-28T10:00:00Z","latency_ms":5,"state":{}})";
}
std::string JobWithProject(std::string_view project_json) {
  return R"({"job_id":7,"project":)" + std::string(project_json) +
         R"(,"timestamp":"2026-11-28T10:00:00Z","latency_ms":5,"state":{}})";
}
// A job file as another deployment would have stored it, holding the outside sentinel.
std::string SentinelJob(std::string_view project) {
  return Job(1, project, R"({"s":")" + kOutsideSentinel + R"("})") + "\n";
}

void WriteFile(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

HttpResponse Send(Api& api, http::verb method, std::string_view target, std::string body = "",
                  std::string_view token = "") {
  HttpRequest request{method, target, 11};
  if (!token.empty()) request.set(http::field::authorization, "Bearer " + std::string(token));
  request.body() = std::move(body);
  request.prepare_payload();
  return HandleOwned(api, request);
}

// moto, started once per process on first use.
MotoServer* Moto() {
  std::string failure;
  MotoServer* server = SharedMotoServer(&failure);
  if (server == nullptr) ADD_FAILURE() << "these tests need moto's S3 server: " << failure;
  return server;
}

enum class Backend { kFile, kS3 };
void PrintTo(Backend backend, std::ostream* out) {
  *out << (backend == Backend::kFile ? "File" : "S3");
}

// ---- The sandbox: a store, with sentinels just outside what it may touch.

class ApiConfinementTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "bt-confine-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    sandbox_ = pattern;
    auto warehouse = SqliteWarehouse::Open((sandbox_ / "data" / "metrics.db").string());
    ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
    warehouse_ = std::move(*warehouse);
    if (GetParam() == Backend::kFile) {
      SetUpFileStore();
    } else {
      SetUpS3Store();
    }
    if (HasFatalFailure()) return;
    api_ = std::make_unique<Api>(
        ApiContext{*store_, *warehouse_, ParseLimits{}, [] { return kNowMs; }});
    // Project alpha's job 1 holds its secret; beta has job 2 only; "default" has nothing.
    for (const std::string& body : {Job(1, "alpha", R"({"k":")" + kAlphaSecret + R"("})"),
                                    Job(2, "beta", R"({"k":"beta"})")}) {
      const HttpResponse res = Send(*api_, http::verb::post, "/process", body);
      ASSERT_EQ(res.result_int(), 202u) << res.body();
    }
  }
  void TearDown() override {
    api_.reset();
    store_.reset();
    root_store_.reset();
    warehouse_.reset();
    std::error_code ignored;
    fs::remove_all(sandbox_, ignored);
  }

  void SetUpFileStore() {
    WriteFile(sandbox_ / "secret.txt", kOutsideSentinel);
    WriteFile(sandbox_ / "other-project/states/jobs/alpha/0000000000000000001.json",
              SentinelJob("alpha"));
    WriteFile(sandbox_ / "data-evil/jobs/default/0000000000000000001.json", SentinelJob("default"));
    WriteFile(sandbox_ / "data/jobs/default/0000000000000000001.json", SentinelJob("default"));
    WriteFile(sandbox_ / "data/states-evil/jobs/beta/0000000000000000001.json",
              SentinelJob("beta"));
    auto store = FileStateStore::Open((sandbox_ / "data" / "states").string());
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
  }

  void SetUpS3Store() {
    MotoServer* moto = Moto();
    ASSERT_NE(moto, nullptr);
    Result<std::string> bucket = moto->NewBucket();
    ASSERT_TRUE(bucket.ok()) << bucket.status().message();
    const std::string query = "?endpoint=" + moto->endpoint() + "&region=us-east-1";
    auto root = S3StateStore::Open("s3://" + *bucket + query, moto->credentials());
    ASSERT_TRUE(root.ok()) << root.status().message();
    root_store_ = std::move(*root);
    for (const auto& [key, bytes] : std::vector<std::pair<std::string, std::string>>{
             {"secret.txt", kOutsideSentinel},
             {"jobs/alpha/0000000000000000001.json", SentinelJob("alpha")},
             {"tenant/secret.txt", kOutsideSentinel},
             {"tenant/jobs/default/0000000000000000001.json", SentinelJob("default")},
             {"tenant/states-evil/jobs/beta/0000000000000000001.json", SentinelJob("beta")},
             {"other/jobs/alpha/0000000000000000001.json", SentinelJob("alpha")}}) {
      ASSERT_TRUE(root_store_->CreateIfAbsent(key, bytes).ok()) << key;
    }
    auto store =
        S3StateStore::Open("s3://" + *bucket + "/tenant/states" + query, moto->credentials());
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
  }

  // Everything the backend holds, with its bytes: every file and folder of the sandbox (but the
  // SQLite files, which no request here may change anyway), or every object of the bucket.
  Snapshot TakeSnapshot() {
    Snapshot out;
    if (GetParam() == Backend::kS3) {
      Result<std::vector<std::string>> keys = root_store_->List("");
      EXPECT_TRUE(keys.ok()) << keys.status().message();
      for (const std::string& key : keys.ok() ? *keys : std::vector<std::string>{}) {
        Result<std::string> bytes = root_store_->Read(key);
        out[key] = bytes.ok() ? *bytes : "<unreadable: " + bytes.status().message() + ">";
      }
      return out;
    }
    for (const fs::directory_entry& entry : fs::recursive_directory_iterator(sandbox_)) {
      const std::string relative = fs::relative(entry.path(), sandbox_).string();
      if (relative.starts_with("data/metrics.db")) continue;
      out[relative] = entry.is_directory() ? "<dir>" : ReadFile(entry.path());
    }
    return out;
  }

  // A sentinel's name in a snapshot.
  std::string SentinelKey() const {
    return GetParam() == Backend::kFile ? "secret.txt" : "tenant/secret.txt";
  }

  fs::path sandbox_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<S3StateStore> root_store_;  // S3: the bucket's root, for sentinels
  std::unique_ptr<SqliteWarehouse> warehouse_;
  std::unique_ptr<Api> api_;
};

// One hostile request and the answer it must get.
struct Hostile {
  http::verb method;
  std::string target;
  std::string body;
  unsigned status;
  std::string code;   // error.code
  std::string field;  // for invalid_job: the field of error.details[0]
};

std::vector<Hostile> HostileRequests() {
  using http::verb;
  std::vector<Hostile> out;
  auto get = [&](std::string target, unsigned status, std::string code) {
    out.push_back({verb::get, std::move(target), "", status, std::move(code), ""});
  };
  const std::string bad = "invalid_request";
  // Job IDs in the path: only 1 to 2^63-1 in plain decimal digits.
  for (const std::string endpoint : {"/jobs/", "/report/"}) {
    for (const char* id : {"..",
                           ".",
                           "%2e%2e",
                           "%2E%2E",
                           "..%2f..%2fsecret.txt",
                           "%2e%2e%2fsecret.txt",
                           "1%2f..%2f..%2fsecret.txt",
                           "..%5c..%5csecret.txt",
                           "1%5c..",
                           "%00",
                           "1%00",
                           "1%00.json",
                           "-1",
                           "0",
                           "+1",
                           "%2b1",
                           "00",
                           "1e3",
                           "0x1",
                           "1.0",
                           "1%20",
                           "%201",
                           "1%0a",
                           "%ef%bc%91",
                           "9223372036854775808",
                           "99999999999999999999",
                           "18446744073709551617",
                           "0000000000000000001.json",
                           "1.json",
                           "%2fetc%2fpasswd",
                           "~",
                           "%7e",
                           "*",
                           "1;x",
                           "1,2",
                           "%c0%ae%c0%ae",
                           "%e2%80%a4%e2%80%a4"}) {
      get(endpoint + id, 400, bad);
    }
    get(endpoint + std::string(5000, '9'), 400, bad);
    get(endpoint + std::string(9000, '1'), 400, bad);  // past the 8 KiB target limit
  }
  // More segments, or none, or empty ones: no route, or an invalid path.
  for (const char* target : {"/jobs/../secret.txt",
                             "/jobs/1/..",
                             "/jobs/./1",
                             "/jobs/1/../../secret.txt",
                             "/../../secret.txt",
                             "/%2e%2e/%2e%2e/secret.txt",
                             "/secret.txt",
                             "/data/metrics.db",
                             "/states/jobs/alpha/0000000000000000001.json",
                             "/jobs/alpha/1",
                             "/jobs/alpha/..",
                             "/report/1/..",
                             "/report/1/2",
                             "/stats/..",
                             "/stats/latency/..",
                             "/JOBS/1",
                             "/jobs%2f1",
                             "/jobs%2f..%2fsecret.txt",
                             "/..",
                             "/.",
                             "/%2e"}) {
    get(target, 404, "not_found");
  }
  // /projects/{project} is DELETE's alone; a DELETE names a valid project or nothing happens.
  get("/projects/alpha", 405, "method_not_allowed");
  get("/projects/..", 405, "method_not_allowed");
  for (const char* target :
       {"/projects/..", "/projects/.", "/projects/%2e%2e", "/projects/alpha%2f..",
        "/projects/..%2fsecret.txt", "/projects/-alpha", "/projects/alpha?x=1"}) {
    out.push_back({verb::delete_, target, "", 400, bad, ""});
  }
  for (const char* target : {"/%00", "//jobs/1", "/jobs//1", "/jobs/1//", "///etc/passwd",
                             "/jobs/1?%zz=1", "/jobs/%zz", "/jobs/%", "/jobs/%2", "/jobs/1%"}) {
    get(target, 400, bad);
  }
  get("jobs/1", 400, bad);
  get("\\jobs\\1", 400, bad);
  get("http://127.0.0.1/jobs/1", 400, bad);
  get("*", 400, bad);
  get("/jobs/1?x=" + std::string(9000, 'a'), 400, bad);
  // Project names in the query of every endpoint that takes one.
  const std::vector<std::string> projects = {"..",
                                             ".",
                                             "../x",
                                             "..%2fother-project",
                                             "%2e%2e",
                                             "%2e%2e%2fother-project",
                                             "a/b",
                                             "a%2fb",
                                             "a%2Fb",
                                             "alpha%2f..%2fbeta",
                                             "beta/../alpha",
                                             "alpha/",
                                             "/alpha",
                                             "%2falpha",
                                             "/etc",
                                             "a%5cb",
                                             "..%5calpha",
                                             "a%00",
                                             "alpha%00",
                                             "%00",
                                             "",
                                             "+alpha",
                                             "alpha+",
                                             "%20alpha",
                                             "alpha%0a",
                                             "alpha%09",
                                             ".alpha",
                                             "-alpha",
                                             "_alpha",
                                             "alpha%23x",
                                             "alpha;beta",
                                             "alpha,beta",
                                             "alpha*",
                                             "*",
                                             "%ef%bc%8fetc",
                                             "%e2%80%a4%e2%80%a4",
                                             "%c0%ae%c0%ae",
                                             "%c0%afetc",
                                             "%ef%bc%a1lpha",
                                             "al%cd%8fpha",
                                             "%e2%80%8balpha",
                                             std::string(129, 'a')};
  for (const std::string& project : projects) {
    for (const char* endpoint : {"/jobs/1", "/report/1", "/stats/latency"}) {
      get(std::string(endpoint) + "?project=" + project, 400, bad);
    }
  }
  get("/jobs/1?project=beta&project=alpha", 400, bad);
  get("/jobs/1?project=beta&%70roject=alpha", 400, bad);
  get("/report/2?project=beta&project=alpha", 400, bad);
  get("/report/1?project=alpha&base=..", 400, bad);
  get("/report/1?project=alpha&base=..%2f1", 400, bad);
  get("/report/1?project=alpha&base=-1", 400, bad);
  get("/report/1?project=alpha&base=0", 400, bad);
  get("/report/1?project=alpha&base=1%00", 400, bad);
  get("/jobs/1?project=alpha&path=../secret.txt", 400, bad);
  get("/jobs/1?file=/etc/passwd", 400, bad);
  get("/projects?prefix=..", 400, bad);
  // Another project's jobs, named correctly: absent there, whatever alpha has.
  get("/jobs/1?project=beta", 404, "not_found");
  get("/jobs/1", 404, "not_found");
  get("/jobs/1?project=Alpha", 404, "not_found");
  get("/jobs/1?project=ALPHA", 404, "not_found");
  get("/jobs/1?project=alpha.", 404, "not_found");
  get("/jobs/1?project=alpha..", 404, "not_found");
  get("/jobs/1?project=alpha-", 404, "not_found");
  get("/jobs/1?project=other-project", 404, "not_found");
  get("/jobs/1?project=states-evil", 404, "not_found");
  get("/jobs/1?project=tenant", 404, "not_found");
  get("/report/1?project=beta", 404, "not_found");
  get("/report/2?project=beta&base=1", 404, "not_found");  // beta's job 1, not alpha's
  get("/report/1?project=default", 404, "not_found");

  // Bodies: job_id and project with the same tricks, and key spellings.
  auto post = [&](std::string body, std::string code, std::string field) {
    out.push_back(
        {verb::post, "/process", std::move(body), 400, std::move(code), std::move(field)});
  };
  for (const char* id :
       {R"("../1")", R"("1/..")", R"("1")", "-1", "0", "1.5", "9223372036854775808",
        "99999999999999999999", "null", "true", "[1]", R"({"id":1})", R"("%2e%2e")", "-0", "1e3",
        R"("0000000000000000001.json")"}) {
    post(JobWithId(id), "invalid_job", "job_id");
  }
  for (const std::string& project : std::vector<std::string>{R"("..")",
                                                             R"(".")",
                                                             R"("../x")",
                                                             R"("../../secret.txt")",
                                                             R"("a/b")",
                                                             R"("a\/b")",
                                                             R"("a\u002fb")",
                                                             R"("a\\b")",
                                                             R"("..\\alpha")",
                                                             R"("/abs")",
                                                             R"("/etc/passwd")",
                                                             R"("a\u0000b")",
                                                             R"("alpha\u0000")",
                                                             R"("%2e%2e")",
                                                             R"("a%2Fb")",
                                                             R"("")",
                                                             R"(" alpha")",
                                                             R"("alpha\n")",
                                                             R"("alpha/")",
                                                             R"("beta/../alpha")",
                                                             R"(".alpha")",
                                                             R"("-alpha")",
                                                             R"("\uff41lpha")",
                                                             R"("\u2024\u2024")",
                                                             R"("alpha\u200b")",
                                                             R"("C:\\x")",
                                                             R"("~/x")",
                                                             R"("*")",
                                                             "null",
                                                             "1",
                                                             R"(["alpha"])",
                                                             R"({"name":"alpha"})",
                                                             "\"" + std::string(129, 'a') + "\""}) {
    post(JobWithProject(project), "invalid_job", "project");
  }
  // "project" spelled with an escape is still "project"; given twice it is refused.
  post(R"({"job_id":7,"proj\u0065ct":"../x","timestamp":"2026-11-28T10:00:00Z",)"
       R"("latency_ms":5,"state":{}})",
       "invalid_job", "project");
  post(R"({"job_id":7,"project":"beta","project":"../alpha","timestamp":"2026-11-28T10:00:00Z",)"
       R"("latency_ms":5,"state":{}})",
       "invalid_job", "project");
  post(R"({"job_id":7,"job_id":8,"timestamp":"2026-11-28T10:00:00Z","latency_ms":5,"state":{}})",
       "invalid_job", "job_id");
  post(R"({"job_id":7,"path":"../secret.txt","timestamp":"2026-11-28T10:00:00Z",)"
       R"("latency_ms":5,"state":{}})",
       "invalid_job", "path");
  // One bad job rejects its batch: the good one is not stored either.
  post("[" + Job(5, "beta", "{}") + "," + JobWithProject(R"("../alpha")") + "]", "invalid_job",
       "project");
  out.push_back({verb::post, "/process", "../../secret.txt", 400, "malformed_json", ""});
  // A number beyond a double's range is not valid JSON to the parser.
  out.push_back({verb::post, "/process", JobWithId("1e400"), 400, "malformed_json", ""});
  out.push_back({verb::post, "/process?project=../x", Job(5, "beta", "{}"), 400, bad, ""});
  out.push_back({verb::post, "/process/..", Job(5, "beta", "{}"), 404, "not_found", ""});
  out.push_back(
      {verb::put, "/jobs/1?project=alpha", Job(1, "alpha", "{}"), 405, "method_not_allowed", ""});
  return out;
}

TEST_P(ApiConfinementTest, HostileRequestsAreRefusedAndTouchNothing) {
  const Snapshot before = TakeSnapshot();
  // The snapshot sees the sentinels (a snapshot that saw nothing would prove nothing).
  ASSERT_EQ(before.count(SentinelKey()), 1u);
  ASSERT_EQ(before.at(SentinelKey()), kOutsideSentinel);
  const std::vector<Hostile> requests = HostileRequests();
  ASSERT_GT(requests.size(), 300u);
  RecordProperty("hostile_requests", static_cast<int>(requests.size()));
  for (const Hostile& h : requests) {
    SCOPED_TRACE(std::string(http::to_string(h.method)) + " " + h.target.substr(0, 120) + " " +
                 h.body.substr(0, 200));
    const HttpResponse res = Send(*api_, h.method, h.target, h.body);
    EXPECT_EQ(res.result_int(), h.status) << res.body();
    const JsonBody body(res.body());
    EXPECT_EQ(body.Str("/error/code"), h.code);
    if (!h.field.empty()) {
      EXPECT_EQ(body.Str("/error/details/0/field"), h.field);
    }
    EXPECT_THAT(res.body(), Not(HasSubstr(kOutsideSentinel)));
    EXPECT_THAT(res.body(), Not(HasSubstr(kAlphaSecret)));
  }
  EXPECT_EQ(TakeSnapshot(), before);
}

// What the legitimate requests see: only what lies inside the store, and alpha only as alpha.
TEST_P(ApiConfinementTest, ListingsAndReportsSeeOnlyTheStore) {
  const HttpResponse projects = Send(*api_, http::verb::get, "/projects");
  ASSERT_EQ(projects.result_int(), 200u) << projects.body();
  EXPECT_EQ(projects.body(), R"({"projects":[{"project":"alpha","jobs":1,"latest_job_id":1},)"
                             R"({"project":"beta","jobs":1,"latest_job_id":2}]})"
                             "\n");
  const HttpResponse alpha = Send(*api_, http::verb::get, "/jobs/1?project=alpha");
  ASSERT_EQ(alpha.result_int(), 200u) << alpha.body();
  EXPECT_THAT(alpha.body(), HasSubstr(kAlphaSecret));
  // Spelled with escapes it is still alpha (the same job, nothing else).
  EXPECT_EQ(Send(*api_, http::verb::get, "/jobs/1?%70roject=%61lpha").body(), alpha.body());
  EXPECT_EQ(Send(*api_, http::verb::get, "/jobs/%31?project=alpha").body(), alpha.body());
  const HttpResponse report = Send(*api_, http::verb::get, "/report/1?project=alpha");
  ASSERT_EQ(report.result_int(), 200u) << report.body();
  EXPECT_THAT(report.body(), Not(HasSubstr(kOutsideSentinel)));
  const HttpResponse beta = Send(*api_, http::verb::get, "/report/2?project=beta");
  ASSERT_EQ(beta.result_int(), 200u) << beta.body();
  EXPECT_THAT(beta.body(), Not(HasSubstr(kAlphaSecret)));
  EXPECT_THAT(beta.body(), HasSubstr(R"("base_job_id":null)"));
}

// ---- Tokens: a token of project beta cannot reach project alpha by any of these tricks.

class ApiConfinementTokenTest : public ApiConfinementTest {
 protected:
  void SetUp() override {
    ApiConfinementTest::SetUp();
    if (HasFatalFailure()) return;
    auto line = [](std::string_view token, std::string_view rest) {
      return "sha256:" + Sha256Hex(token) + " " + std::string(rest) + "\n";
    };
    Result<AccessControl> access = AccessControl::Parse(line("tok-alpha", "ingest,read alpha") +
                                                            line("tok-beta", "ingest,read beta") +
                                                            line("tok-beta-read", "read beta"),
                                                        "tokens");
    ASSERT_TRUE(access.ok()) << access.status().message();
    access_ = std::make_unique<AccessControl>(std::move(*access));
    ApiContext context{*store_, *warehouse_, ParseLimits{}, [] { return kNowMs; }};
    context.access = access_.get();
    secured_ = std::make_unique<Api>(std::move(context));
  }
  void TearDown() override {
    secured_.reset();
    ApiConfinementTest::TearDown();
  }

  std::unique_ptr<AccessControl> access_;
  std::unique_ptr<Api> secured_;
};

TEST_P(ApiConfinementTokenTest, BetaTokenCannotReadOrWriteAlpha) {
  using http::verb;
  struct Case {
    std::string token;
    verb method;
    std::string target;
    std::string body;
    unsigned status;
    std::string code;
  };
  const std::string forbidden = "forbidden";
  std::vector<Case> cases;
  for (const char* target :
       {"/jobs/1?project=alpha", "/jobs/1?project=%61lpha", "/jobs/1?%70roject=alpha",
        "/jobs/1?project=%61%6c%70%68%61", "/jobs/1?project=beta/../alpha",
        "/jobs/1?project=beta%2f..%2falpha", "/jobs/1?project=Alpha", "/jobs/1",
        "/jobs/%31?project=alpha", "/jobs/01?project=alpha", "/report/1?project=alpha",
        "/report/1?project=alpha&base=1", "/report/1?%70roject=%61lpha",
        "/stats/latency?project=alpha", "/stats/latency", "/stats/latency?project=%61lpha",
        "/report/1?project=beta,alpha", "/jobs/1?project=alpha%20"}) {
    cases.push_back({"tok-beta", verb::get, target, "", 403, forbidden});
  }
  // Malformed before anything is decided: the same 400 for everyone.
  for (const char* target : {"/jobs/1?project=beta&project=alpha",
                             "/jobs/1?project=alpha&%70roject=beta", "/jobs/1?project=alpha%00"}) {
    cases.push_back({"tok-beta", verb::get, target, "", 400, "invalid_request"});
  }
  // Beta's own names stay beta's: its report cannot take alpha's job as a base.
  cases.push_back({"tok-beta", verb::get, "/report/2?project=beta&base=1", "", 404, "not_found"});
  cases.push_back({"tok-beta", verb::get, "/jobs/1?project=beta", "", 404, "not_found"});
  // Writes: the project is decided by the parsed body, however it is spelled.
  const std::string ts = R"(,"timestamp":"2026-11-28T10:00:00Z","latency_ms":5,"state":{})";
  for (const std::string& body : std::vector<std::string>{
           Job(9, "alpha", "{}"), "[" + Job(9, "beta", "{}") + "," + Job(9, "alpha", "{}") + "]",
           R"({"job_id":9,"proj\u0065ct":"alpha")" + ts + "}",
           R"({"job_id":9,"project":"\u0061lpha")" + ts + "}", R"({"job_id":9)" + ts + "}"}) {
    cases.push_back({"tok-beta", verb::post, "/process", body, 403, forbidden});
  }
  cases.push_back({"tok-beta", verb::post, "/process",
                   R"({"job_id":9,"project":"beta","project":"alpha")" + ts + "}", 400,
                   "invalid_job"});
  cases.push_back({"tok-beta-read", verb::post, "/process", Job(9, "beta", "{}"), 403, forbidden});
  // Without a valid token: 401, whatever the target says.
  for (const std::string& token : std::vector<std::string>{
           "", "TOK-ALPHA", "tok-alph", Sha256Hex("tok-alpha"), "sha256:" + Sha256Hex("tok-alpha"),
           "tok-alpha%00", "tok-beta\ttok-alpha"}) {
    cases.push_back({token, verb::get, "/jobs/1?project=alpha", "", 401, "unauthenticated"});
    cases.push_back({token, verb::post, "/process", Job(9, "alpha", "{}"), 401, "unauthenticated"});
  }
  const Snapshot before = TakeSnapshot();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.token + " " + std::string(http::to_string(c.method)) + " " + c.target + " " +
                 c.body);
    const HttpResponse res = Send(*secured_, c.method, c.target, c.body, c.token);
    EXPECT_EQ(res.result_int(), c.status) << res.body();
    EXPECT_EQ(JsonBody(res.body()).Str("/error/code"), c.code);
    EXPECT_THAT(res.body(), Not(HasSubstr(kAlphaSecret)));
    EXPECT_THAT(res.body(), Not(HasSubstr(kOutsideSentinel)));
  }
  EXPECT_EQ(TakeSnapshot(), before);

  // The listing shows beta only; alpha's own token still reads alpha.
  const HttpResponse listed = Send(*secured_, verb::get, "/projects", "", "tok-beta");
  ASSERT_EQ(listed.result_int(), 200u) << listed.body();
  EXPECT_EQ(listed.body(), R"({"projects":[{"project":"beta","jobs":1,"latest_job_id":2}]})"
                           "\n");
  const HttpResponse own = Send(*secured_, verb::get, "/jobs/1?project=alpha", "", "tok-alpha");
  ASSERT_EQ(own.result_int(), 200u) << own.body();
  EXPECT_THAT(own.body(), HasSubstr(kAlphaSecret));
}

const auto kBackends = ::testing::Values(Backend::kFile, Backend::kS3);
std::string BackendName(const ::testing::TestParamInfo<Backend>& param_info) {
  return param_info.param == Backend::kFile ? "File" : "S3";
}
INSTANTIATE_TEST_SUITE_P(Stores, ApiConfinementTest, kBackends, BackendName);
INSTANTIATE_TEST_SUITE_P(Stores, ApiConfinementTokenTest, kBackends, BackendName);

}  // namespace
}  // namespace buildtrace
