// The client commands' parts that need no service: the tables printed on a terminal, and the
// usage errors found before any request. Requests and exit statuses against a real service are
// in tests/e2e/cli_e2e_test.cc.
#include "cli/client_commands.h"

#include <gtest/gtest.h>

#include <sstream>

namespace buildtrace {
namespace {

TEST(JobsTableTest, OneRowPerJob) {
  const std::string page =
      R"({"project":"web","jobs":[)"
      R"({"job_id":126,"timestamp":"2026-11-28T10:15:00Z","status":"succeeded","latency_ms":4410,)"
      R"("analysis":"analysed","base_job_id":124,"counts":{"added":0,"removed":0,"modified":1,)"
      R"("moved":0,"resized":1,"retyped":0,"changed":0,"unchanged":2},"report_url":"/r"},)"
      R"({"job_id":125,"timestamp":"2026-11-28T10:10:00Z","status":"failed","latency_ms":900.5,)"
      R"("analysis":"pending","base_job_id":null,"counts":null,"report_url":"/r"}],)"
      R"("next_before":125})";
  EXPECT_EQ(JobsTable(page),
            "JOB  TIMESTAMP             STATUS     LATENCY_MS  ANALYSIS  BASE  ADDED  REMOVED  "
            "MODIFIED  UNCHANGED\n"
            "126  2026-11-28T10:15:00Z  succeeded  4410        analysed  124   0      0        "
            "1         2\n"
            "125  2026-11-28T10:10:00Z  failed     900.5       pending   -     -      -        "
            "-         -\n"
            "more: --before 125\n");
  EXPECT_EQ(JobsTable(R"({"project":"web","jobs":[],"next_before":null})"),
            "JOB  TIMESTAMP  STATUS  LATENCY_MS  ANALYSIS  BASE  ADDED  REMOVED  MODIFIED  "
            "UNCHANGED\n");
  EXPECT_EQ(JobsTable(R"({"error":{"code":"not_found","message":"x"}})"), std::nullopt);
  EXPECT_EQ(JobsTable("not json"), std::nullopt);
}

TEST(StatsTableTest, QuantilesInOrder) {
  EXPECT_EQ(StatsTable(R"({"project":"web","window":"7d","status":"succeeded","count":3,)"
                       R"("quantiles":{"0.5":5210,"0.95":5321.5,"0.99":null},"unit":"ms"})"),
            "project web, window 7d, status succeeded: 3 jobs\n"
            "QUANTILE  LATENCY_MS\n"
            "0.5       5210\n"
            "0.95      5321.5\n"
            "0.99      -\n");
  EXPECT_EQ(StatsTable(R"({"project":null,"window":"30d","status":"all","count":0,)"
                       R"("quantiles":{"0.5":null},"unit":"ms"})"),
            "all projects, window 30d, status all: 0 jobs\n"
            "QUANTILE  LATENCY_MS\n"
            "0.5       -\n");
  EXPECT_EQ(StatsTable(R"({"count":1})"), std::nullopt);
}

TEST(RunPostTest, UsageErrorsSendNothing) {
  std::istringstream in;
  std::ostringstream out, err;
  PostOptions options;
  EXPECT_EQ(RunPost(options, in, out, err), kExitUsage);
  EXPECT_EQ(err.str(), "buildtrace post: name at least one job file, or - for standard input\n");
  options.files = {"/nonexistent/job.json"};
  options.connection.url = "http://127.0.0.1:1";  // never reached: the file is read first
  err.str("");
  EXPECT_EQ(RunPost(options, in, out, err), kExitUsage);
  EXPECT_EQ(err.str(),
            "buildtrace post: /nonexistent/job.json: cannot open the file (No such file or "
            "directory); nothing more was sent\n");
  options.connection.url = "https://bt.example.com";
  err.str("");
  EXPECT_EQ(RunPost(options, in, out, err), kExitUsage);
  EXPECT_EQ(err.str(),
            "buildtrace post: URL \"https://bt.example.com\" uses \"https\", which is not "
            "supported; use http://host:port\n");
  EXPECT_EQ(out.str(), "");
}

TEST(RunDeleteProjectTest, WithoutYesNothingIsSent) {
  std::ostringstream out, err;
  DeleteProjectOptions options;
  options.project = "web";
  options.connection.url = "http://127.0.0.1:1";  // never reached
  EXPECT_EQ(RunDeleteProject(options, out, err), kExitUsage);
  EXPECT_EQ(err.str(),
            "buildtrace delete-project: this deletes every job, report and metrics row of project "
            "web for good; add --yes to do it\n");
  EXPECT_EQ(out.str(), "");
}

}  // namespace
}  // namespace buildtrace
