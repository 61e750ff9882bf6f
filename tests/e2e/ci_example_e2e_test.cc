// The CI examples, run as they are against a live `buildtrace serve`: the `run:` blocks of
// examples/github-actions/buildtrace.yml (in order, with the variables GitHub would give and a
// stand-in build.sh), and examples/ci/post-job.sh. The job each posts must be stored exactly as
// the build's files are, and the workflow's summary must hold the job's report.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/run_command.h"

namespace buildtrace::e2e {
namespace {

namespace fs = std::filesystem;

size_t Indent(const std::string& line) { return line.find_first_not_of(' '); }

// The workflow's `run:` scripts, in order: a one-line `run: command`, or a block scalar
// (`run: |`) whose lines are those indented deeper than the `run:` key (GitHub's YAML, as the
// example writes it; nothing more of YAML is needed).
std::vector<std::string> RunBlocks(const std::string& yaml) {
  std::vector<std::string> blocks;
  std::istringstream lines(yaml);
  std::vector<std::string> all;
  for (std::string line; std::getline(lines, line);) all.push_back(line);
  for (size_t i = 0; i < all.size(); ++i) {
    const size_t indent = Indent(all[i]);
    if (indent == std::string::npos) continue;
    std::string key = all[i].substr(indent);
    if (key.starts_with("- ")) key = key.substr(2);
    if (!key.starts_with("run:")) continue;
    const std::string value = key.substr(4);
    if (value.empty()) continue;  // a mapping, such as defaults' run: shell: bash
    if (value != " |") {
      blocks.push_back(value.substr(1));
      continue;
    }
    const size_t key_indent = all[i].find("run:");
    std::string block;
    size_t body_indent = std::string::npos;
    for (++i; i < all.size(); ++i) {
      const size_t here = Indent(all[i]);
      if (here != std::string::npos && here <= key_indent) break;
      if (here != std::string::npos && body_indent == std::string::npos) body_indent = here;
      block += (here == std::string::npos ? "" : all[i].substr(body_indent)) + "\n";
    }
    --i;
    blocks.push_back(block);
  }
  return blocks;
}

class E2eCiExamples : public E2eTest {
 protected:
  // The token "test", as the workflow's secret would hold it.
  std::vector<std::string> ServeArgs() const override { return TestTokenServeArgs(); }

  // Runs `script` with bash as GitHub does (shell: bash), in `workspace`, with `variables`.
  CommandResult Bash(const std::string& script, const std::string& workspace,
                     const std::vector<std::string>& variables) {
    std::vector<std::string> args = {"/usr/bin/env", "-C", workspace};
    args.insert(args.end(), variables.begin(), variables.end());
    args.insert(args.end(),
                {"/bin/bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script});
    auto result = RunCommand(args);
    EXPECT_TRUE(result.ok()) << result.status().message();
    return result.ok() ? *result : CommandResult{};
  }

  // The stored job's state, as GET /jobs answers it.
  std::map<std::string, std::string> StoredState(int64_t job_id, const std::string& project) {
    HttpResponse job = Get("/jobs/" + std::to_string(job_id) + "?project=" + project,
                           {{"Authorization", "Bearer test"}});
    EXPECT_EQ(job.status, 200) << job.body;
    return JsonDoc(job.body).StringMap("/state");
  }
};

TEST(RunBlocksTest, OneLineAndBlockScalars) {
  EXPECT_EQ(
      RunBlocks("defaults:\n  run:\n    shell: bash\nsteps:\n  - uses: x\n  - run: echo one\n  - "
                "name: b\n    run: |\n"
                "      echo two\n        indented\n\n      echo three\n  - run: echo four\n"),
      (std::vector<std::string>{"echo one", "echo two\n  indented\n\necho three\n", "echo four"}));
}

TEST_F(E2eCiExamples, GitHubActionsWorkflow) {
  const std::vector<std::string> blocks =
      RunBlocks(ReadText(BUILDTRACE_SOURCE_DIR "/examples/github-actions/buildtrace.yml"));
  ASSERT_EQ(blocks.size(), 4u);
  const std::string workspace = root_dir() + "/workspace";
  const std::string runner_temp = root_dir() + "/runner-temp";
  ASSERT_TRUE(fs::create_directory(workspace));
  ASSERT_TRUE(fs::create_directory(runner_temp));
  // The repository's build, standing in for a real one: two files in dist/, one in a folder.
  std::ofstream(workspace + "/build.sh") << "#!/bin/sh\nmkdir -p \"$1/css\"\n"
                                            "printf 'app' > \"$1/app.js\"\n"
                                            "printf 'body{}' > \"$1/css/site.css\"\n";
  fs::permissions(workspace + "/build.sh", fs::perms::owner_all);
  const std::string summary = root_dir() + "/summary.md";
  const std::vector<std::string> variables = {"BUILDTRACE_URL=" + server().url(),
                                              "BUILDTRACE_TOKEN=test",
                                              "BUILDTRACE_PROJECT=site",
                                              "GITHUB_RUN_NUMBER=42",
                                              "GITHUB_SHA=4f2a9c1",
                                              "GITHUB_REF_NAME=main",
                                              "GITHUB_STEP_SUMMARY=" + summary,
                                              "RUNNER_TEMP=" + runner_temp};
  std::string outputs;
  for (const std::string& block : blocks) {
    EXPECT_EQ(block.find("${{"), std::string::npos) << "GitHub expressions stay in env:";
    CommandResult step = Bash(block, workspace, variables);
    ASSERT_EQ(step.exit_code, 0) << block << "\n" << step.err;
    outputs += step.out;
  }
  EXPECT_EQ(
      StoredState(42, "site"),
      (std::map<std::string, std::string>{
          {"app.js", "sha256:a172cedcae47474b615c54d510a5d84a8dea3032e958587430b413538be3f333"},
          {"css/site.css",
           "sha256:7c98040a541657584690ae2a1cc3b42a8b53b159cc60c5d3abbfecbaeac6c94a"}}));
  HttpResponse job = Get("/jobs/42?project=site", {{"Authorization", "Bearer test"}});
  JsonDoc stored(job.body);
  EXPECT_EQ(stored.StringMap("/metadata"),
            (std::map<std::string, std::string>{{"branch", "main"}, {"commit", "4f2a9c1"}}));
  EXPECT_GE(stored.Double("/latency_ms"), 0);
  const std::string report = "BuildTrace report: project site, job 42 (succeeded)\n";
  EXPECT_TRUE(ReadText(summary).starts_with("```\n" + report)) << ReadText(summary);
  EXPECT_NE(outputs.find("\"created\":true"), std::string::npos) << outputs;
  EXPECT_NE(outputs.find("Summary: 2 added, 0 removed, 0 modified"), std::string::npos) << outputs;
}

TEST_F(E2eCiExamples, PostJobScript) {
  const std::string dist = root_dir() + "/dist";
  ASSERT_TRUE(fs::create_directories(dist + "/a \"quoted\" dir"));
  std::ofstream(dist + "/a \"quoted\" dir/x.txt") << "x";
  // Started 1.5 s ago; a folder name that needs JSON escaping.
  CommandResult posted =
      Bash("'" BUILDTRACE_SOURCE_DIR "/examples/ci/post-job.sh' dist 7 $(($(date +%s%3N) - 1500))",
           root_dir(),
           {"BUILDTRACE_URL=" + server().url(), "BUILDTRACE_TOKEN=test", "BUILDTRACE_PROJECT=ci"});
  ASSERT_EQ(posted.exit_code, 0) << posted.err;
  JsonDoc answer(posted.out);
  EXPECT_EQ(answer.Str("/accepted/0/project"), "ci");
  EXPECT_EQ(answer.Int("/accepted/0/job_id"), 7);
  EXPECT_TRUE(answer.Bool("/accepted/0/created"));
  EXPECT_EQ(StoredState(7, "ci"),
            (std::map<std::string, std::string>{
                {"a \"quoted\" dir/x.txt",
                 "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"}}));
  HttpResponse job = Get("/jobs/7?project=ci", {{"Authorization", "Bearer test"}});
  EXPECT_GE(JsonDoc(job.body).Double("/latency_ms"), 1500);
  // Without BUILDTRACE_URL it says what to set, and posts nothing.
  CommandResult unset =
      Bash("'" BUILDTRACE_SOURCE_DIR "/examples/ci/post-job.sh' dist 8", root_dir(), {});
  EXPECT_NE(unset.exit_code, 0);
  EXPECT_NE(unset.err.find("set BUILDTRACE_URL to the service"), std::string::npos) << unset.err;
}

}  // namespace
}  // namespace buildtrace::e2e
