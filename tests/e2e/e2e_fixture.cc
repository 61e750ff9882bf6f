// The fixture and helpers of e2e_fixture.h.
#include "tests/e2e/e2e_fixture.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <system_error>
#include <thread>
#include <tuple>

#include "core/json_writer.h"
#include "core/timestamp.h"

namespace buildtrace::e2e {
namespace {

namespace fs = std::filesystem;

// A fresh, empty folder under $TMPDIR (or /tmp), by mkdtemp.
std::string MakeTempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/buildtrace-e2e-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) return "";
  return fs::absolute(pattern).lexically_normal().string();
}

}  // namespace

std::string BinaryPath() { return BUILDTRACE_BINARY; }

std::string TestJob::ToJson() const {
  std::string out = "{\"job_id\":" + std::to_string(job_id) + ",\"project\":";
  AppendJsonString(out, project);
  out += ",\"timestamp\":";
  AppendJsonString(out, timestamp.empty() ? RecentTimestamp(3600 - job_id) : timestamp);
  out += ",\"latency_ms\":";
  AppendJsonNumber(out, latency_ms);
  out += ",\"status\":";
  AppendJsonString(out, status);
  if (!metadata.empty()) out += ",\"metadata\":" + metadata;
  out += ",\"state\":" + state + "}";
  return out;
}

std::string BatchJson(const std::vector<TestJob>& jobs) {
  std::string out = "[";
  for (const TestJob& job : jobs) {
    if (out.size() > 1) out += ",";
    out += job.ToJson();
  }
  return out + "]";
}

std::string RecentTimestamp(int64_t seconds_ago) {
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  return FormatRfc3339Utc((now_s - seconds_ago) * 1000);
}

// --- JsonDoc ---

JsonDoc::JsonDoc(std::string text)
    : text_(std::move(text)), parser_(std::make_unique<simdjson::dom::parser>()) {
  error_ = parser_->parse(text_).get(root_);
  if (error_) {
    ADD_FAILURE() << "not JSON (" << simdjson::error_message(error_) << "): " << text_;
  }
}

simdjson::simdjson_result<simdjson::dom::element> JsonDoc::At(std::string_view pointer) const {
  if (!ok()) return simdjson::TAPE_ERROR;
  return root_.at_pointer(pointer);
}

void JsonDoc::Fail(std::string_view pointer, simdjson::error_code error) const {
  ADD_FAILURE() << "JSON " << pointer << ": " << simdjson::error_message(error) << " in "
                << text_.substr(0, 4000);
}

bool JsonDoc::Has(std::string_view pointer) const { return At(pointer).error() == 0; }

int64_t JsonDoc::Int(std::string_view pointer) const {
  int64_t value = -1;
  if (auto e = At(pointer).get_int64().get(value)) Fail(pointer, e);
  return value;
}

double JsonDoc::Double(std::string_view pointer) const {
  double value = -1;
  if (auto e = At(pointer).get_double().get(value)) Fail(pointer, e);
  return value;
}

std::string JsonDoc::Str(std::string_view pointer) const {
  std::string_view value;
  if (auto e = At(pointer).get_string().get(value)) Fail(pointer, e);
  return std::string(value);
}

bool JsonDoc::Bool(std::string_view pointer) const {
  bool value = false;
  if (auto e = At(pointer).get_bool().get(value)) Fail(pointer, e);
  return value;
}

bool JsonDoc::IsNull(std::string_view pointer) const {
  simdjson::dom::element element;
  if (auto e = At(pointer).get(element)) {
    Fail(pointer, e);
    return false;
  }
  return element.is_null();
}

size_t JsonDoc::Size(std::string_view pointer) const {
  simdjson::dom::element element;
  if (auto e = At(pointer).get(element)) {
    Fail(pointer, e);
    return 0;
  }
  if (element.is_array()) return simdjson::dom::array(element).size();
  if (element.is_object()) return simdjson::dom::object(element).size();
  Fail(pointer, simdjson::INCORRECT_TYPE);
  return 0;
}

std::vector<int64_t> JsonDoc::IntArray(std::string_view pointer) const {
  std::vector<int64_t> out;
  simdjson::dom::array array;
  if (auto e = At(pointer).get_array().get(array)) {
    Fail(pointer, e);
    return out;
  }
  for (simdjson::dom::element item : array) {
    int64_t value = 0;
    if (auto e = item.get_int64().get(value)) Fail(pointer, e);
    out.push_back(value);
  }
  return out;
}

std::vector<std::string> JsonDoc::StrArray(std::string_view pointer) const {
  std::vector<std::string> out;
  simdjson::dom::array array;
  if (auto e = At(pointer).get_array().get(array)) {
    Fail(pointer, e);
    return out;
  }
  for (simdjson::dom::element item : array) {
    std::string_view value;
    if (auto e = item.get_string().get(value)) Fail(pointer, e);
    out.emplace_back(value);
  }
  return out;
}

std::vector<std::string> JsonDoc::Keys(std::string_view pointer) const {
  std::vector<std::string> out;
  simdjson::dom::object object;
  if (auto e = At(pointer).get_object().get(object)) {
    Fail(pointer, e);
    return out;
  }
  for (auto field : object) out.emplace_back(field.key);
  return out;
}

std::map<std::string, std::string> JsonDoc::StringMap(std::string_view pointer) const {
  std::map<std::string, std::string> out;
  simdjson::dom::object object;
  if (auto e = At(pointer).get_object().get(object)) {
    Fail(pointer, e);
    return out;
  }
  for (auto field : object) {
    std::string_view value;
    if (auto e = field.value.get_string().get(value)) Fail(pointer, e);
    if (!out.emplace(field.key, value).second) {
      ADD_FAILURE() << "JSON " << pointer << ": key " << field.key << " appears twice";
    }
  }
  return out;
}

::testing::AssertionResult IsError(const HttpResponse& response, int status,
                                   std::string_view code) {
  auto failure = [&]() {
    return ::testing::AssertionFailure()
           << "expected " << status << " " << code << ", got " << response.status << " ("
           << response.content_type << "): " << response.body;
  };
  if (response.status != status || response.content_type != "application/json") return failure();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(response.body).get(root)) return failure();
  std::string_view actual_code, message;
  if (root.at_pointer("/error/code").get(actual_code) || actual_code != code) return failure();
  if (root.at_pointer("/error/message").get(message) || message.empty()) return failure();
  return ::testing::AssertionSuccess();
}

std::vector<std::string> FilesUnder(const std::string& folder) {
  std::vector<std::string> files;
  std::error_code ec;
  if (!fs::exists(folder, ec)) return files;
  for (auto it = fs::recursive_directory_iterator(folder, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_directory()) files.push_back(fs::relative(it->path(), folder).string());
  }
  if (ec) files.push_back("(walking " + folder + " failed: " + ec.message() + ")");
  return files;
}

Result<std::vector<std::vector<int64_t>>> QueryInts(const std::string& path,
                                                    const std::string& sql) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, sqlite3_close_v2);
  if (rc != SQLITE_OK) return Unavailable("open " + path + ": " + sqlite3_errstr(rc));
  sqlite3_stmt* raw_statement = nullptr;
  if (sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &raw_statement, nullptr) != SQLITE_OK) {
    return InvalidArgument(sql + ": " + sqlite3_errmsg(db.get()));
  }
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> statement(raw_statement, sqlite3_finalize);
  std::vector<std::vector<int64_t>> rows;
  int step;
  while ((step = sqlite3_step(statement.get())) == SQLITE_ROW) {
    std::vector<int64_t>& row = rows.emplace_back();
    for (int i = 0; i < sqlite3_column_count(statement.get()); ++i) {
      row.push_back(sqlite3_column_int64(statement.get(), i));
    }
  }
  if (step != SQLITE_DONE) return Unavailable(sql + ": " + sqlite3_errmsg(db.get()));
  return rows;
}

// --- E2eTest ---

std::vector<std::string> E2eTest::TestTokenServeArgs() const {
  // sha256("test"), computed outside this code base.
  const std::string tokens = root_dir_ + "/tokens";
  std::ofstream(tokens)
      << "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 ingest,read\n";
  return {"--auth-tokens-file", tokens};
}

void E2eTest::SetUp() {
  root_dir_ = MakeTempDir();
  ASSERT_FALSE(root_dir_.empty()) << "cannot create a temporary folder";
  data_dir_ = root_dir_ + "/data";
  ASSERT_TRUE(fs::create_directory(data_dir_));
  if (NeedsServer()) StartServer();
}

void E2eTest::TearDown() {
  client_.reset();
  if (server_) {
    const Status stopped = server_->Stop();
    EXPECT_TRUE(stopped.ok()) << stopped.message();
    server_.reset();
  }
  if (HasFailure()) {
    std::cerr << "---- server log (" << log_path() << ") ----\n"
              << ReadLog(log_path()) << "---- end of server log ----\n";
  }
  std::error_code ec;
  if (!root_dir_.empty()) fs::remove_all(root_dir_, ec);
}

void E2eTest::StartServer() {
  ServerProcess::Options options;
  options.binary = BinaryPath();
  options.data_dir = data_dir_;
  options.log_path = log_path();
  options.extra_args = ServeArgs();
  options.analysis_workers = AnalysisWorkers();
  options.launcher = Launcher();
  auto started = ServerProcess::Start(std::move(options));
  ASSERT_TRUE(started.ok()) << started.status().message();
  server_ = std::move(*started);
  client_ = std::make_unique<HttpClient>(server_->endpoint(), std::chrono::seconds(20));
}

void E2eTest::StopServer() {
  client_.reset();
  ASSERT_TRUE(server_) << "no server is running";
  const Status stopped = server_->Stop();
  server_.reset();
  ASSERT_TRUE(stopped.ok()) << stopped.message();
}

void E2eTest::RestartServer() {
  ASSERT_NO_FATAL_FAILURE(StopServer());
  ASSERT_NO_FATAL_FAILURE(StartServer());
}

HttpResponse E2eTest::Send(std::string_view method, std::string_view target, std::string body) {
  if (!client_) {
    ADD_FAILURE() << "no server is running";
    return {};
  }
  auto response = client_->Send(method, target, std::move(body), {});
  if (!response.ok()) {
    ADD_FAILURE() << method << " " << target << ": " << response.status().message();
    return {};
  }
  return std::move(*response);
}

HttpResponse E2eTest::Get(std::string_view target,
                          std::vector<std::pair<std::string, std::string>> headers) {
  if (!client_) {
    ADD_FAILURE() << "no server is running";
    return {};
  }
  auto response = client_->Get(target, std::move(headers));
  if (!response.ok()) {
    ADD_FAILURE() << "GET " << target << ": " << response.status().message();
    return {};
  }
  return std::move(*response);
}

HttpResponse E2eTest::Post(std::string_view target, std::string body,
                           std::string_view content_type) {
  if (!client_) {
    ADD_FAILURE() << "no server is running";
    return {};
  }
  auto response = client_->Post(target, std::move(body), content_type);
  if (!response.ok()) {
    ADD_FAILURE() << "POST " << target << ": " << response.status().message();
    return {};
  }
  return std::move(*response);
}

JsonDoc E2eTest::PostOk(std::string body, int status) {
  HttpResponse response = Post("/process", std::move(body));
  EXPECT_EQ(response.status, status) << response.body;
  return JsonDoc(response.body);
}

std::vector<std::string> JobFilesUnder(const std::string& folder) {
  std::vector<std::string> files = FilesUnder(folder);
  std::erase_if(files, [](const std::string& file) { return !file.starts_with("jobs/"); });
  return files;
}

namespace {

// Job `id`'s state: objects that move, resize and come and go with the ID, `extra` more that
// stay the same.
std::string StateOf(int64_t id, int extra) {
  std::string state = "{\"A\":\"door_" + std::to_string(id) + "_0_5_5\",\"B\":\"wall_0_0_" +
                      std::to_string(id % 4 + 1) + "_1\",\"C" + std::to_string(id % 3) +
                      "\":\"window_1_1_1_1\"";
  for (int i = 0; i < extra; ++i) {
    state += ",\"K" + std::to_string(i) + "\":\"stair_" + std::to_string(i) + "_2_1_1\"";
  }
  return state + "}";
}

// The jobs page's job_id -> base (0: none) once it lists `expected` jobs, all analysed.
std::optional<std::map<int64_t, int64_t>> AnalysedBases(const HttpResponse& page, size_t expected) {
  if (page.status != 200) return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::array jobs;
  if (parser.parse(page.body).at_pointer("/jobs").get(jobs) || jobs.size() != expected) {
    return std::nullopt;
  }
  std::map<int64_t, int64_t> bases;
  for (simdjson::dom::element job : jobs) {
    std::string_view analysis;
    int64_t id = 0;
    if (job["analysis"].get(analysis) || analysis != "analysed" || job["job_id"].get(id)) {
      return std::nullopt;
    }
    int64_t base = 0;
    if (!job["base_job_id"].is_null() && job["base_job_id"].get(base)) return std::nullopt;
    bases[id] = base;
  }
  return bases;
}

}  // namespace

std::vector<TestJob> ShuffledJobs(const std::vector<std::string>& projects, int per_project,
                                  int extra_objects) {
  std::vector<TestJob> jobs;
  for (const std::string& project : projects) {
    for (int64_t id = 1; id <= per_project; ++id) {
      TestJob job;
      job.job_id = id;
      job.project = project;
      job.timestamp = RecentTimestamp(3600 - id);  // fixed once: every server gets the same
      job.latency_ms = static_cast<double>(100 * id + static_cast<int64_t>(project.size()));
      job.status = id % 5 == 3 ? "failed" : "succeeded";
      job.state = StateOf(id, extra_objects);
      jobs.push_back(std::move(job));
    }
  }
  std::mt19937 engine(20261205);
  std::shuffle(jobs.begin(), jobs.end(), engine);
  return jobs;
}

std::map<int64_t, int64_t> ExpectedBases(const std::vector<TestJob>& jobs,
                                         const std::string& project) {
  std::map<int64_t, bool> succeeded;
  for (const TestJob& job : jobs) {
    if (job.project == project) succeeded[job.job_id] = job.status == "succeeded";
  }
  std::map<int64_t, int64_t> bases;
  int64_t last_succeeded = 0;
  for (const auto& entry : succeeded) {
    bases[entry.first] = last_succeeded;
    if (entry.second) last_succeeded = entry.first;
  }
  return bases;
}

::testing::AssertionResult AwaitAnalysis(HttpClient& client, const std::string& project,
                                         const std::map<int64_t, int64_t>& expected,
                                         std::chrono::seconds timeout) {
  const std::string target = "/projects/" + project + "/jobs?limit=1000";
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    Result<HttpResponse> page = client.Get(target);
    if (page.ok()) {
      if (AnalysedBases(*page, expected.size()) == expected) {
        return ::testing::AssertionSuccess();
      }
      last = page->body;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling pace
  }
  return ::testing::AssertionFailure()
         << "project " << project << " not analysed within " << timeout.count() << " s: " << last;
}

void ExpectReportsAsComputedOnDemand(
    const std::vector<TestJob>& jobs, const std::string& dir,
    const std::function<Result<HttpResponse>(const std::string& target, const TestJob& job)>& get) {
  // A report's body without its "warehouse" member (which names the instance's database).
  auto without_warehouse = [](const std::string& body) {
    const size_t at = body.rfind(",\"warehouse\":");
    return at == std::string::npos ? body : body.substr(0, at);
  };
  fs::create_directories(dir);
  auto control = ServerProcess::Start({BinaryPath(), dir, dir + "/server.log"});
  ASSERT_TRUE(control.ok()) << control.status().message();
  HttpClient control_client((*control)->endpoint(), std::chrono::seconds(20));
  std::vector<TestJob> in_order = jobs;
  std::sort(in_order.begin(), in_order.end(), [](const TestJob& a, const TestJob& b) {
    return std::tie(a.project, a.job_id) < std::tie(b.project, b.job_id);
  });
  auto posted = control_client.Post("/process", BatchJson(in_order));
  ASSERT_TRUE(posted.ok()) << posted.status().message();
  ASSERT_EQ(posted->status, 202) << posted->body;
  for (const TestJob& job : in_order) {
    const std::string target = "/report/" + std::to_string(job.job_id) + "?project=" + job.project;
    SCOPED_TRACE(target);
    Result<HttpResponse> kept = get(target, job);
    ASSERT_TRUE(kept.ok()) << kept.status().message();
    ASSERT_EQ(kept->status, 200) << kept->body;
    EXPECT_EQ(kept->headers["buildtrace-analysis"], "precomputed");
    JsonDoc doc(kept->body);
    EXPECT_EQ(doc.Str("/warehouse/status"), "recorded");
    EXPECT_FALSE(doc.Bool("/warehouse/inserted"));
    Result<HttpResponse> fresh = control_client.Get(target);
    ASSERT_TRUE(fresh.ok()) << fresh.status().message();
    ASSERT_EQ(fresh->status, 200) << fresh->body;
    EXPECT_EQ(fresh->headers["buildtrace-analysis"], "on-demand");
    EXPECT_EQ(without_warehouse(kept->body), without_warehouse(fresh->body));
  }
  EXPECT_TRUE((*control)->Stop().ok());
}

void E2eTest::ExpectNothingStored() {
  HttpResponse projects = Get("/projects");
  ASSERT_EQ(projects.status, 200) << projects.body;
  JsonDoc doc(projects.body);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc.Keys(""), std::vector<std::string>{"projects"});
  EXPECT_EQ(doc.Size("/projects"), 0u) << projects.body;
  EXPECT_EQ(FilesUnder(states_dir()), std::vector<std::string>{});
}

DatabaseLock::DatabaseLock(const std::string& path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK ||
      sqlite3_exec(db_, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot lock " << path << ": " << sqlite3_errmsg(db_);
  }
}

DatabaseLock::~DatabaseLock() {
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close_v2(db_);
}

bool Eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll pacing
  }
  return condition();
}

}  // namespace buildtrace::e2e
