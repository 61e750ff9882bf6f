// `buildtrace serve` configured from the environment, the real binary: BUILDTRACE_* variables
// for its flags (the command line winning), JSON log lines, and the original service's BUCKET
// and PROJECT_ID reaching Cloud Storage and BigQuery (played by the loopback fake of the Google
// APIs through the *_EMULATOR_HOST variables), a malformed BUCKET refused with exit status 2.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "testing/fake_google_apis.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/run_command.h"

namespace buildtrace::e2e {
namespace {

class E2eEnvironment : public E2eTest {
 protected:
  bool NeedsServer() const override { return false; }

  // Starts serve through `sh`, which drops "--port 0 --data-dir DIR" from the fixture's command
  // line (ServerProcess always passes them) and runs the binary with `variables` set and
  // `args` instead, so that the variables alone say what those flags would.
  Result<std::unique_ptr<ServerProcess>> StartWith(const std::vector<std::string>& variables,
                                                   const std::vector<std::string>& args) {
    ServerProcess::Options options;
    options.binary = BinaryPath();
    options.data_dir = data_dir();
    options.log_path = log_path();
    // $0 is the binary; $1-$5 are "serve --port 0 --data-dir DIR"; the rest is kept.
    std::string script = "bin=$0; shift 5; exec env";
    for (const std::string& variable : variables) script += " '" + variable + "'";
    script += " \"$bin\" serve";
    for (const std::string& arg : args) script += " '" + arg + "'";
    script += " \"$@\"";
    options.launcher = {"/bin/sh", "-c", script};
    return ServerProcess::Start(std::move(options));
  }

  std::vector<std::string> LogLines() {
    std::vector<std::string> lines;
    std::istringstream log(ReadLog(log_path()));
    for (std::string line; std::getline(log, line);) lines.push_back(line);
    return lines;
  }
};

TEST_F(E2eEnvironment, FlagsFromVariables) {
  const std::string elsewhere = root_dir() + "/elsewhere";
  ASSERT_TRUE(std::filesystem::create_directory(elsewhere));
  // BUILDTRACE_PORT would not parse: the command line's --port 0 wins, so it is never read.
  auto server = StartWith({"BUILDTRACE_DATA_DIR=" + elsewhere, "BUILDTRACE_PORT=not-a-port",
                           "BUILDTRACE_LOG_FORMAT=json"},
                          {"--port", "0"});
  ASSERT_TRUE(server.ok()) << server.status().message();
  EXPECT_TRUE((*server)->listening_line().ends_with(
      "(store file://" + elsewhere + "/states, warehouse sqlite://" + elsewhere + "/metrics.db)"))
      << (*server)->listening_line();
  HttpClient client((*server)->endpoint());
  TestJob job;
  auto posted = client.Post("/process", job.ToJson());
  ASSERT_TRUE(posted.ok());
  EXPECT_EQ(posted->status, 202) << posted->body;
  EXPECT_EQ(JobFilesUnder(elsewhere + "/states").size(), 1u);
  EXPECT_EQ(FilesUnder(states_dir()).size(), 0u) << "the fixture's --data-dir was not given";
  ASSERT_TRUE((*server)->Stop().ok());

  const std::vector<std::string> lines = LogLines();
  ASSERT_FALSE(lines.empty());
  // First thing: where it stores and records, as a Cloud Logging line.
  const JsonDoc first(lines.front());
  EXPECT_EQ(first.Str("/severity"), "INFO");
  EXPECT_EQ(first.Str("/message"), "store file://" + elsewhere +
                                       "/states (default in --data-dir), warehouse sqlite://" +
                                       elsewhere + "/metrics.db (default in --data-dir)");
  EXPECT_EQ(first.Str("/time").size(), std::string("2026-11-28T10:00:00.000Z").size());
  for (const std::string& line : lines) EXPECT_TRUE(JsonDoc(line).ok()) << line;
}

TEST_F(E2eEnvironment, BadVariableIsNamed) {
  auto result = RunCommand({"/usr/bin/env", "BUILDTRACE_PORT=not-a-port", BinaryPath(), "serve",
                            "--data-dir", data_dir()});
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->exit_code, 2);
  EXPECT_EQ(result->out, "");
  EXPECT_EQ(result->err,
            "Could not convert: --port = not-a-port\nRun with --help for more information.\n"
            "(options set from the environment: BUILDTRACE_PORT)\n");
}

// PROJECT_ID=demo BUCKET=gs://my-bucket buildtrace serve: the states go to the bucket and the
// metrics to the original's BigQuery table, nothing to the local disk.
TEST_F(E2eEnvironment, BucketAndProjectOfTheOriginalService) {
  FakeGoogleApis google;
  google.AcceptToken("emulator");
  google.AddBucket("my-bucket");
  google.AddDataset("demo", "buildtrace_metrics");
  auto server = StartWith(
      {"PROJECT_ID=demo", "BUCKET=gs://my-bucket", "STORAGE_EMULATOR_HOST=" + google.base_url(),
       "BIGQUERY_EMULATOR_HOST=" + google.base_url()},
      {"--port", "0"});
  ASSERT_TRUE(server.ok()) << server.status().message();
  EXPECT_TRUE((*server)->listening_line().ends_with(
      "(store gs://my-bucket, warehouse bigquery://demo/buildtrace_metrics/job_results)"))
      << (*server)->listening_line();
  TestJob job;
  job.job_id = 7;
  const std::string path = root_dir() + "/7.json";
  std::ofstream(path) << job.ToJson();
  auto posted = RunCommand({BinaryPath(), "post", "--url", (*server)->url(), path});
  ASSERT_TRUE(posted.ok());
  EXPECT_EQ(posted->exit_code, 0) << posted->err;
  EXPECT_TRUE(google.Object("my-bucket", "jobs/web/0000000000000000007.json").has_value());
  auto report = RunCommand({BinaryPath(), "report", "7", "--project", "web", "--format", "json",
                            "--url", (*server)->url()});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->exit_code, 1) << report->err;  // no base: its object is added
  EXPECT_EQ(JsonDoc(report->out).Str("/warehouse/status"), "recorded");
  EXPECT_EQ(google.RowCount("demo", "buildtrace_metrics", "job_results"), 1u);
  EXPECT_TRUE(google.ProtocolErrors().empty()) << google.ProtocolErrors().front();
  ASSERT_TRUE((*server)->Stop().ok());
  EXPECT_TRUE(FilesUnder(data_dir()).empty()) << "nothing on the local disk";
  const std::vector<std::string> lines = LogLines();
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(
      lines.front().ends_with(" INFO store gs://my-bucket (from BUCKET), warehouse "
                              "bigquery://demo/buildtrace_metrics/job_results (from PROJECT_ID)"))
      << lines.front();
}

TEST_F(E2eEnvironment, MalformedBucketIsRefused) {
  for (const std::string bucket : {"s3://my-bucket", "My_Bucket"}) {
    auto result = RunCommand({"/usr/bin/env", "BUCKET=" + bucket, BinaryPath(), "serve", "--port",
                              "0", "--data-dir", data_dir()});
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_EQ(result->exit_code, 2);
    EXPECT_EQ(result->out, "");
    EXPECT_EQ(result->err, "buildtrace serve: BUCKET=" + bucket +
                               " is not a Cloud Storage bucket; set it to gs://NAME, "
                               "gs://NAME/PREFIX or NAME (3-222 characters of a-z 0-9 . _ -), or "
                               "give --store URL\n");
  }
  EXPECT_TRUE(FilesUnder(data_dir()).empty());
}

}  // namespace
}  // namespace buildtrace::e2e
