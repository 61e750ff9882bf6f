// Shared pieces of the end-to-end tests: a test fixture that gives each test a fresh temporary
// folder and a running `buildtrace serve` on it, JSON answers read with simdjson, and builders
// for job bodies. The binary's path comes from the build (BUILDTRACE_BINARY).
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/http_client.h"
#include "tests/e2e/server_process.h"

struct sqlite3;

namespace buildtrace::e2e {

// The `buildtrace` binary under test.
std::string BinaryPath();

// A job body for POST /process. `state` and `metadata` are raw JSON objects, so a test can
// write exactly the bytes it means (key order, structured objects, odd spellings).
struct TestJob {
  int64_t job_id = 1;
  std::string project = "web";
  std::string timestamp;  // empty: RecentTimestamp(3600 - job_id), inside any stats window
  double latency_ms = 1000;
  std::string status = "succeeded";
  std::string state = R"({"D1":"door_10_20_5_5"})";
  std::string metadata;  // empty: no metadata field

  std::string ToJson() const;
};

// "[job, job, ...]".
std::string BatchJson(const std::vector<TestJob>& jobs);

// An RFC 3339 UTC time `seconds_ago` seconds before now, in whole seconds.
std::string RecentTimestamp(int64_t seconds_ago);

// A parsed JSON answer. The accessors take a JSON pointer ("/metrics/total_added"); a missing
// value or a wrong type is a test failure naming the pointer and the body, and yields a
// neutral value (-1, "", false, empty) so the test can go on to report more.
class JsonDoc {
 public:
  explicit JsonDoc(std::string text);

  bool ok() const { return error_ == simdjson::SUCCESS; }
  const std::string& text() const { return text_; }
  simdjson::dom::element root() const { return root_; }

  bool Has(std::string_view pointer) const;
  int64_t Int(std::string_view pointer) const;
  double Double(std::string_view pointer) const;
  std::string Str(std::string_view pointer) const;
  bool Bool(std::string_view pointer) const;
  bool IsNull(std::string_view pointer) const;
  size_t Size(std::string_view pointer) const;  // of an array or object
  std::vector<int64_t> IntArray(std::string_view pointer) const;
  std::vector<std::string> StrArray(std::string_view pointer) const;
  std::vector<std::string> Keys(std::string_view pointer) const;  // in document order
  // An object whose values are all strings, such as a job's pseudo-hash state.
  std::map<std::string, std::string> StringMap(std::string_view pointer) const;

 private:
  simdjson::simdjson_result<simdjson::dom::element> At(std::string_view pointer) const;
  void Fail(std::string_view pointer, simdjson::error_code error) const;

  std::string text_;
  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::error_code error_ = simdjson::SUCCESS;
  simdjson::dom::element root_;
};

// The answer is `status` with a JSON error body {"error":{"code":code,"message":"..."}} whose
// message is not empty.
::testing::AssertionResult IsError(const HttpResponse& response, int status, std::string_view code);

// Background analysis, for the tests that run it.
// `per_project` jobs in each project with fixed timestamps, every fifth failed, their states
// moving, resizing, adding and removing objects from job to job (plus `extra_objects` that stay
// the same), in a fixed shuffled order, so that many jobs arrive after the jobs that follow them.
std::vector<TestJob> ShuffledJobs(const std::vector<std::string>& projects, int per_project,
                                  int extra_objects);
// Each job's lineage base in `project`: the greatest succeeded job below it; 0 for none.
std::map<int64_t, int64_t> ExpectedBases(const std::vector<TestJob>& jobs,
                                         const std::string& project);
// Waits up to `timeout` until GET /projects/{project}/jobs shows every job of `expected`
// analysed against its base there (job_id -> base, 0: none); else a failure with the last page.
::testing::AssertionResult AwaitAnalysis(HttpClient& client, const std::string& project,
                                         const std::map<int64_t, int64_t>& expected,
                                         std::chrono::seconds timeout);
// Starts a server without background analysis on `dir` (a folder of its own: file store and
// SQLite), posts `jobs` to it in order, and checks every job's report as `get` answers it
// (GET target -> answer): precomputed, recorded without a new row, and equal, but for its
// warehouse section, to the report the control server computes on demand.
void ExpectReportsAsComputedOnDemand(
    const std::vector<TestJob>& jobs, const std::string& dir,
    const std::function<Result<HttpResponse>(const std::string& target, const TestJob& job)>& get);

// Every entry below `folder` (recursively) that is not a folder, as paths relative to it; empty
// when the folder does not exist.
std::vector<std::string> FilesUnder(const std::string& folder);
// The stored jobs' objects under a file store's folder (jobs/...), without the job index, the
// analysis records and the kept reports beside them.
std::vector<std::string> JobFilesUnder(const std::string& folder);

// Runs `sql` on the SQLite database at `path`, opened read-only (the server may have it open),
// and returns its rows; every column must be an integer (NULL reads as 0).
Result<std::vector<std::vector<int64_t>>> QueryInts(const std::string& path,
                                                    const std::string& sql);

// Holds SQLite's exclusive lock on a database while it lives, as a long write transaction of
// another process would: the server's writes get SQLITE_BUSY after its busy timeout.
class DatabaseLock {
 public:
  explicit DatabaseLock(const std::string& path);
  ~DatabaseLock();
  DatabaseLock(const DatabaseLock&) = delete;
  DatabaseLock& operator=(const DatabaseLock&) = delete;

 private:
  sqlite3* db_ = nullptr;
};

// Checks `condition` until it holds or 60 s pass (a bound only a broken server reaches), every
// 20 ms; returns whether it held.
bool Eventually(const std::function<bool()>& condition);

// Each test gets a fresh temporary folder (removed afterwards) holding the data dir and the
// server log, and a server started on it in SetUp. The server log is printed when a test
// fails; TearDown stops the server and expects a clean exit (status 0 on SIGTERM).
class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Extra `serve` arguments for the server SetUp starts; none by default.
  virtual std::vector<std::string> ServeArgs() const { return {}; }
  // `--auth-tokens-file` with a file under root_dir() holding one token, "test", with the ingest
  // and read scopes for every project: for ServeArgs of tests of clients that send a token.
  std::vector<std::string> TestTokenServeArgs() const;
  // serve's --analysis-workers: none unless a test of background analysis asks.
  virtual int AnalysisWorkers() const { return 0; }
  // A command that runs the server binary (ServerProcess::Options::launcher); none by default.
  virtual std::vector<std::string> Launcher() const { return {}; }
  // Whether SetUp starts a server at all (tests of the offline commands need none).
  virtual bool NeedsServer() const { return true; }

  // Starts the server on data_dir() (fatal failure if it does not come up).
  void StartServer();
  // Stops the server with SIGTERM (fatal failure unless it exits with status 0).
  void StopServer();
  // Stop, then start again on the same data dir (a new port, a new client).
  void RestartServer();

  // One request over the fixture's keep-alive client; a transport failure is a test failure
  // and yields status 0.
  HttpResponse Get(std::string_view target,
                   std::vector<std::pair<std::string, std::string>> headers = {});
  HttpResponse Post(std::string_view target, std::string body,
                    std::string_view content_type = "application/json");
  HttpResponse Send(std::string_view method, std::string_view target, std::string body = "");
  // POST /process with `body`, expecting `status` (202: new jobs stored, analysis to come; 200:
  // nothing new, pure replays); the parsed answer.
  JsonDoc PostOk(std::string body, int status = 202);

  // Fails the test unless GET /projects is {"projects":[]} and no file lies under the states
  // folder (no job, no temporary file).
  void ExpectNothingStored();

  const std::string& root_dir() const { return root_dir_; }
  const std::string& data_dir() const { return data_dir_; }
  std::string states_dir() const { return data_dir_ + "/states"; }
  std::string metrics_db() const { return data_dir_ + "/metrics.db"; }
  std::string log_path() const { return root_dir_ + "/server.log"; }
  ServerProcess& server() { return *server_; }

 private:
  std::string root_dir_;
  std::string data_dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;

 protected:
  HttpClient& client() { return *client_; }
};

}  // namespace buildtrace::e2e
