// The client commands (`post`, `report`, `jobs`, `stats`) against a real `buildtrace serve`:
// exact output and exit statuses for accepted jobs, changes and no changes, error answers, a
// service that is not there, tokens from the command line and from BUILDTRACE_TOKEN.
#include <fstream>

#include "testing/loopback_port.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/run_command.h"

namespace buildtrace::e2e {
namespace {

class E2eCli : public E2eTest {
 protected:
  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = root_dir() + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  // `buildtrace ARGS...`, with `env` (NAME=value) set for it alone.
  CommandResult Run(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), BinaryPath());
    env.insert(env.begin(), "/usr/bin/env");
    args.insert(args.begin(), env.begin(), env.end());
    auto result = RunCommand(args);
    EXPECT_TRUE(result.ok()) << result.status().message();
    return result.ok() ? *result : CommandResult{};
  }

  static TestJob Job(int64_t id, const std::string& state) {
    TestJob job;
    job.job_id = id;
    job.timestamp = "2026-11-28T10:0" + std::to_string(id) + ":00Z";
    job.latency_ms = 1000 + static_cast<double>(id);
    job.state = state;
    return job;
  }
};

// What `post` printed for one accepted job: the service's answer, checked field by field (the
// digest is the stored bytes' SHA-256, which the service alone computes).
void ExpectAccepted(const std::string& line, int64_t job_id, bool created) {
  JsonDoc answer(line);
  ASSERT_EQ(answer.Size("/accepted"), 1u) << line;
  EXPECT_EQ(answer.Str("/accepted/0/project"), "web");
  EXPECT_EQ(answer.Int("/accepted/0/job_id"), job_id);
  EXPECT_TRUE(answer.Str("/accepted/0/digest").starts_with("sha256:")) << line;
  EXPECT_EQ(answer.Bool("/accepted/0/created"), created);
  EXPECT_EQ(answer.Str("/accepted/0/report_url"),
            "/report/" + std::to_string(job_id) + "?project=web");
}

TEST_F(E2eCli, PostThenReport) {
  const std::string first = WriteFile("1.json", Job(1, R"({"D1":"door_10_20_5_5"})").ToJson());
  const std::string second =
      WriteFile("2.json", Job(2, R"({"D1":"door_12_20_5_5","W1":"window_0_0_2_3"})").ToJson());
  CommandResult posted = Run({"post", "--url", server().url(), first, second});
  ASSERT_EQ(posted.exit_code, 0) << posted.err;
  EXPECT_EQ(posted.err, "");
  const size_t newline = posted.out.find('\n');
  ASSERT_NE(newline, std::string::npos) << posted.out;
  ExpectAccepted(posted.out.substr(0, newline), 1, true);
  ExpectAccepted(posted.out.substr(newline + 1), 2, true);
  EXPECT_TRUE(posted.out.ends_with("}\n")) << "one answer a line";

  // The same file again: stored before, so 200 and created false, still exit 0.
  CommandResult again = Run({"post", first}, {"BUILDTRACE_URL=" + server().url()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  ExpectAccepted(again.out, 1, false);

  CommandResult changed = Run({"report", "2", "--project", "web", "--url", server().url()});
  EXPECT_EQ(changed.exit_code, 1) << changed.err;
  EXPECT_EQ(changed.err, "");
  EXPECT_EQ(changed.out,
            "BuildTrace report: project web, job 2 (succeeded)\n"
            "Timestamp: 2026-11-28T10:02:00Z\n"
            "Latency:   1002 ms\n"
            "Objects:   2\n"
            "Base:      job 1. Job 1 is the previous job.\n"
            "\n"
            "Summary: 1 added, 0 removed, 1 modified (1 moved, 0 resized, 0 retyped, 0 changed), "
            "0 unchanged.\n"
            "\n"
            "Added (1)\n"
            "  + W1 (window added at x:0, y:0)\n"
            "Removed (0)\n"
            "Moved (1)\n"
            "  ~ D1 (door) moved 2 units east [door_10_20_5_5 -> door_12_20_5_5]\n"
            "Resized (0)\n"
            "Retyped (0)\n"
            "Changed (0)\n"
            "\n"
            "Warehouse: recorded (metrics row written to sqlite://" +
                metrics_db() + ")\n");

  // Job 3 has job 2's state: no change, exit 0; its JSON report as the service answers it.
  WriteFile("3.json", Job(3, R"({"W1":"window_0_0_2_3","D1":"door_12_20_5_5"})").ToJson());
  ASSERT_EQ(Run({"post", "--url", server().url(), root_dir() + "/3.json"}).exit_code, 0);
  CommandResult same = Run({"report", "3", "--format", "json"},
                           {"BUILDTRACE_URL=" + server().url(), "BUILDTRACE_PROJECT=web"});
  EXPECT_EQ(same.exit_code, 0) << same.err;
  JsonDoc report(same.out);
  EXPECT_EQ(report.Int("/base_job_id"), 2);
  EXPECT_EQ(report.Int("/metrics/total_unchanged"), 2);
  EXPECT_TRUE(report.Bool("/warehouse/inserted")) << "the first request for it, the CLI's";
  // Asked again, the same report but for the row, now already there.
  std::string again_json = Get("/report/3?project=web&format=json").body;
  const std::string recorded = "\"inserted\":false,\"message\":\"metrics row already in sqlite://" +
                               metrics_db() + " from the job's analysis or an earlier report\"}}";
  ASSERT_TRUE(again_json.ends_with(recorded + "\n")) << again_json;
  again_json.replace(
      again_json.size() - recorded.size() - 1, recorded.size(),
      "\"inserted\":true,\"message\":\"metrics row written to sqlite://" + metrics_db() + "\"}}");
  EXPECT_EQ(same.out, again_json);
}

TEST_F(E2eCli, JobsAndStatsPrintTheServiceAnswer) {
  for (int64_t id : {1, 2, 3}) PostOk(Job(id, R"({"D1":"door_10_20_5_5"})").ToJson());
  CommandResult jobs = Run({"jobs", "--project", "web", "--limit", "2", "--url", server().url()});
  EXPECT_EQ(jobs.exit_code, 0) << jobs.err;
  const std::string page = Get("/projects/web/jobs?limit=2").body;
  EXPECT_EQ(jobs.out, page);
  EXPECT_EQ(JsonDoc(page).Int("/next_before"), 2);
  CommandResult next = Run({"jobs", "--before", "2"},
                           {"BUILDTRACE_URL=" + server().url(), "BUILDTRACE_PROJECT=web"});
  EXPECT_EQ(next.exit_code, 0) << next.err;
  EXPECT_EQ(next.out, Get("/projects/web/jobs?before=2").body);

  ASSERT_EQ(Get("/report/2?project=web").status, 200);  // rows for jobs 1 and 2
  ASSERT_EQ(Get("/report/3?project=web").status, 200);
  CommandResult stats = Run({"stats", "--project", "web", "--status", "all", "--window", "3650d",
                             "--quantiles", "0.5,1", "--url", server().url()});
  EXPECT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_EQ(stats.out, R"({"project":"web","window":"3650d","status":"all","count":2,)"
                       R"("quantiles":{"0.5":1002,"1":1003},"unit":"ms"})"
                       "\n");
}

TEST_F(E2eCli, ErrorAnswers) {
  TestJob bad = Job(1, R"({"D1":"door_10_20_5_5"})");
  bad.latency_ms = -1;
  const std::string path = WriteFile("bad.json", bad.ToJson());
  CommandResult refused = Run({"post", "--url", server().url(), path});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(refused.out, "");
  EXPECT_EQ(refused.err, "buildtrace post: " + path +
                             ": the service answered 400: 1 problem found, the first: job 0: "
                             "latency_ms: must be a number of milliseconds >= 0; latency_ms: "
                             "must be a number of milliseconds >= 0\n");
  ExpectNothingStored();

  CommandResult missing = Run({"report", "7", "--project", "web", "--url", server().url()});
  EXPECT_EQ(missing.exit_code, 2) << "trouble, as diff";
  EXPECT_EQ(missing.out, "");
  EXPECT_TRUE(
      missing.err.starts_with("buildtrace report: GET /report/7?project=web&format=text: "
                              "the service answered 404: "))
      << missing.err;

  CommandResult no_project = Run({"jobs", "--project", "nothing", "--url", server().url()});
  EXPECT_EQ(no_project.exit_code, 1);
  EXPECT_TRUE(no_project.err.starts_with(
      "buildtrace jobs: GET /projects/nothing/jobs: the service answered 404: "))
      << no_project.err;

  CommandResult bad_status = Run({"stats", "--status", "some", "--url", server().url()});
  EXPECT_EQ(bad_status.exit_code, 2) << "refused by the command line, before any request";
  EXPECT_EQ(bad_status.out, "");
}

TEST_F(E2eCli, ServeRefusesAKeepMemoryThatIsNotASize) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"serve", "--port", "0", "--keep-memory", "12X"},
        std::vector<std::string>{"serve", "--port", "0", "--keep-memory", "-1"}}) {
    CommandResult refused = Run(args);
    EXPECT_EQ(refused.exit_code, 2);
    EXPECT_EQ(refused.out, "");
    EXPECT_EQ(refused.err, "buildtrace serve: --keep-memory \"" + args.back() +
                               "\" is not a size; write e.g. 64MiB, 0 or 1GiB\n");
  }
}

TEST_F(E2eCli, ServiceNotThere) {
  // A port that was free a moment ago, with nothing listening: the connection is refused.
  const std::string url = "http://127.0.0.1:" + std::to_string(FreeLoopbackPort());
  const std::string path = WriteFile("1.json", Job(1, "{}").ToJson());
  const std::string refused = "cannot connect to " + url.substr(7) +
                              " (Connection refused); check that the server is running at that "
                              "address\n";
  CommandResult post = Run({"post", "--url", url, path});
  EXPECT_EQ(post.exit_code, 3);
  EXPECT_EQ(post.err, "buildtrace post: " + path + ": " + refused);
  CommandResult report = Run({"report", "1", "--url", url});
  EXPECT_EQ(report.exit_code, 3);
  EXPECT_EQ(report.err, "buildtrace report: GET /report/1?project=default&format=text: " + refused);
  CommandResult jobs = Run({"jobs"}, {"BUILDTRACE_URL=" + url});
  EXPECT_EQ(jobs.exit_code, 3);
  EXPECT_EQ(jobs.err, "buildtrace jobs: GET /projects/default/jobs: " + refused);
  CommandResult stats = Run({"stats", "--url", url});
  EXPECT_EQ(stats.exit_code, 3);
  EXPECT_EQ(stats.err, "buildtrace stats: GET /stats/latency: " + refused);
}

TEST_F(E2eCli, DeleteProjectNeedsYesThenDeletesAndRunsStartOver) {
  const std::string path = WriteFile("1.json", Job(1, R"({"A":"first"})").ToJson());
  ASSERT_EQ(Run({"post", "--url", server().url(), path}).exit_code, 0);
  const std::string rerun = WriteFile("1b.json", Job(1, R"({"A":"second"})").ToJson());
  CommandResult conflict = Run({"post", "--url", server().url(), rerun});
  EXPECT_EQ(conflict.exit_code, 1);
  EXPECT_NE(conflict.err.find("or delete the project (DELETE /projects/web, `buildtrace "
                              "delete-project web --yes`) and post again"),
            std::string::npos)
      << conflict.err;

  // Not from the environment: --yes is on the command line or nothing happens.
  CommandResult unconfirmed =
      Run({"delete-project", "web", "--url", server().url()}, {"BUILDTRACE_YES=1"});
  EXPECT_EQ(unconfirmed.exit_code, 2);
  EXPECT_EQ(unconfirmed.err,
            "buildtrace delete-project: this deletes every job, report and metrics row of project "
            "web for good; add --yes to do it\n");
  EXPECT_EQ(JsonDoc(Get("/projects").body).Size("/projects"), 1u);

  CommandResult deleted =
      Run({"delete-project", "web", "--yes"}, {"BUILDTRACE_URL=" + server().url()});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_EQ(deleted.err, "");
  JsonDoc answer(deleted.out);
  EXPECT_EQ(answer.Str("/project"), "web");
  EXPECT_EQ(answer.Int("/deleted_jobs"), 1);
  EXPECT_EQ(JsonDoc(Get("/projects").body).Size("/projects"), 0u);
  CommandResult again = Run({"delete-project", "web", "--yes", "--url", server().url()});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(JsonDoc(again.out).Int("/deleted_jobs"), 0);

  CommandResult reposted = Run({"post", "--url", server().url(), rerun});
  ASSERT_EQ(reposted.exit_code, 0) << reposted.err;
  ExpectAccepted(reposted.out, 1, true);

  CommandResult bad = Run({"delete-project", "-x", "--yes", "--url", server().url()});
  EXPECT_NE(bad.exit_code, 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(FreeLoopbackPort());
  CommandResult nobody = Run({"delete-project", "web", "--yes", "--url", url});
  EXPECT_EQ(nobody.exit_code, 3);
  EXPECT_EQ(nobody.err, "buildtrace delete-project: DELETE /projects/web: cannot connect to " +
                            url.substr(7) +
                            " (Connection refused); check that the server is running at that "
                            "address\n");
}

TEST_F(E2eCli, PostFromStandardInput) {
  const std::string path =
      WriteFile("batch.json", BatchJson({Job(1, R"({"A":"x"})"), Job(2, R"({"A":"y"})")}));
  auto result = RunCommand({"/bin/sh", "-c", "exec \"$0\" post --no-gzip --url \"$1\" - < \"$2\"",
                            BinaryPath(), server().url(), path});
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->exit_code, 0) << result->err;
  JsonDoc answer(result->out);
  EXPECT_EQ(answer.Size("/accepted"), 2u);
  EXPECT_EQ(JsonDoc(Get("/projects").body).Int("/projects/0/jobs"), 2);
}

// With access control: the token from --token or BUILDTRACE_TOKEN, a missing one a 401.
class E2eCliTokens : public E2eCli {
 protected:
  std::vector<std::string> ServeArgs() const override { return TestTokenServeArgs(); }
};

TEST_F(E2eCliTokens, TokenFromFlagOrEnvironment) {
  const std::string path = WriteFile("1.json", Job(1, R"({"D1":"door_1_1_1_1"})").ToJson());
  CommandResult anonymous = Run({"post", "--url", server().url(), path});
  EXPECT_EQ(anonymous.exit_code, 1);
  EXPECT_TRUE(
      anonymous.err.starts_with("buildtrace post: " + path + ": the service answered 401: "))
      << anonymous.err;
  CommandResult flag = Run({"post", "--url", server().url(), "--token", "test", path});
  EXPECT_EQ(flag.exit_code, 0) << flag.err;
  CommandResult env = Run({"report", "1", "--project", "web"},
                          {"BUILDTRACE_URL=" + server().url(), "BUILDTRACE_TOKEN=test"});
  EXPECT_EQ(env.exit_code, 1) << env.err;  // job 1 has no base: one object added
  EXPECT_TRUE(env.out.starts_with("BuildTrace report: project web, job 1 (succeeded)\n"))
      << env.out;
  // The token has no admin scope: 403, exit 1, nothing deleted.
  CommandResult refused =
      Run({"delete-project", "web", "--yes", "--token", "test", "--url", server().url()});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(refused.err,
            "buildtrace delete-project: DELETE /projects/web: the service answered 403: the token "
            "lacks the admin scope this request needs; use a token that has it\n");
  CommandResult wrong =
      Run({"jobs", "--project", "web", "--token", "nope", "--url", server().url()});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_TRUE(
      wrong.err.starts_with("buildtrace jobs: GET /projects/web/jobs: the service answered 401: "))
      << wrong.err;
}

}  // namespace
}  // namespace buildtrace::e2e
