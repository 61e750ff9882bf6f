// `buildtrace diff PREV CUR`, the binary itself: exit 1 and the report when the jobs differ,
// exit 0 when they do not, exit 2 naming the file when one cannot be read.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/run_command.h"

namespace buildtrace::e2e {
namespace {

class E2eDiffCli : public E2eTest {
 protected:
  bool NeedsServer() const override { return false; }

  // Writes `job` to a file in the test's folder; returns its path.
  std::string WriteJob(const std::string& name, const TestJob& job) {
    const std::string path = root_dir() + "/" + name;
    std::ofstream(path, std::ios::binary) << job.ToJson();
    return path;
  }

  CommandResult Diff(std::vector<std::string> args) {
    args.insert(args.begin(), {BinaryPath(), "diff"});
    auto result = RunCommand(args);
    EXPECT_TRUE(result.ok()) << result.status().message();
    return result.ok() ? *result : CommandResult{};
  }
};

// A state large enough to be mapped (store/input_file.h maps files of 256 KiB and more) gives the
// same report from the files as from pipes, which are read.
TEST_F(E2eDiffCli, MappedFilesAndPipesGiveTheSameReport) {
  TestJob previous, current;
  previous.job_id = 1;
  current.job_id = 2;
  previous.timestamp = current.timestamp = "2026-11-28T10:00:00Z";
  std::string before_state = "{", after_state = "{";
  for (int i = 0; i < 12000; ++i) {
    const std::string id = "\"O" + std::to_string(i) + "\":";
    before_state += (i ? "," : "") + id + "\"door_" + std::to_string(i) + "_1_2_3\"";
    if (i % 10 == 3) continue;  // removed
    after_state += (after_state.size() > 1 ? "," : "") + id + "\"door_" +
                   std::to_string(i % 7 == 0 ? i + 1 : i) + "_1_2_3\"";
  }
  previous.state = before_state + "}";
  current.state = after_state + "}";
  const std::string before = WriteJob("previous.json", previous);
  const std::string after = WriteJob("current.json", current);
  ASSERT_GE(std::filesystem::file_size(before), 256u << 10);

  CommandResult from_files = Diff({before, after, "--format", "json"});
  EXPECT_EQ(from_files.exit_code, 1) << from_files.err;
  JsonDoc report(from_files.out);
  EXPECT_EQ(report.Int("/metrics/total_removed"), 1200);
  EXPECT_EQ(report.Int("/metrics/total_moved"), 1544);
  auto piped =
      RunCommand({"/bin/bash", "-c", "\"$0\" diff <(cat \"$1\") <(cat \"$2\") --format json",
                  BinaryPath(), before, after});
  ASSERT_TRUE(piped.ok()) << piped.status().message();
  EXPECT_EQ(piped->exit_code, 1) << piped->err;
  EXPECT_EQ(piped->out, from_files.out);
}

TEST_F(E2eDiffCli, ExitCodeAndJsonTotals) {
  TestJob previous, current;
  previous.job_id = 1;
  previous.timestamp = "2026-11-28T10:00:00Z";
  previous.state = R"({"A":"door_1_2_3_4","B":"wall_0_0_1_1","C":"window_0_0_2_3"})";
  current.job_id = 2;
  current.timestamp = "2026-11-28T10:05:00Z";
  current.latency_ms = 4410;
  current.state = R"({"A":"door_2_2_3_4","C":"window_0_0_2_3","D":"door_0_0_1_1",)"
                  R"("E":"door_0_0_1_2"})";
  const std::string before = WriteJob("previous.json", previous);
  const std::string after = WriteJob("current.json", current);

  CommandResult changed = Diff({before, after, "--format", "json"});
  EXPECT_EQ(changed.exit_code, 1) << changed.err;
  EXPECT_EQ(changed.err, "");
  JsonDoc report(changed.out);
  EXPECT_EQ(report.Int("/job_id"), 2);
  EXPECT_EQ(report.Int("/base_job_id"), 1);
  EXPECT_TRUE(report.Bool("/lineage/explicit_base"));
  EXPECT_EQ(report.Int("/objects"), 4);
  EXPECT_EQ(report.Double("/metrics/latency_ms"), 4410);
  EXPECT_EQ(report.Int("/metrics/total_added"), 2);
  EXPECT_EQ(report.Int("/metrics/total_removed"), 1);
  EXPECT_EQ(report.Int("/metrics/total_modified"), 1);
  EXPECT_EQ(report.Int("/metrics/total_moved"), 1);
  EXPECT_EQ(report.Int("/metrics/total_unchanged"), 1);
  EXPECT_EQ(report.StrArray("/changes/added"), (std::vector<std::string>{"D", "E"}));
  EXPECT_EQ(report.StrArray("/changes/removed"), std::vector<std::string>{"B"});
  EXPECT_FALSE(report.Has("/warehouse")) << "the offline diff records nothing";

  CommandResult same = Diff({before, before, "--format", "json"});
  EXPECT_EQ(same.exit_code, 0) << same.err;
  JsonDoc unchanged(same.out);
  EXPECT_EQ(unchanged.Int("/metrics/total_added"), 0);
  EXPECT_EQ(unchanged.Int("/metrics/total_removed"), 0);
  EXPECT_EQ(unchanged.Int("/metrics/total_modified"), 0);
  EXPECT_EQ(unchanged.Int("/metrics/total_unchanged"), 3);

  const std::string missing = root_dir() + "/no-such-job.json";
  CommandResult trouble = Diff({before, missing, "--format", "json"});
  EXPECT_EQ(trouble.exit_code, 2);
  EXPECT_EQ(trouble.out, "");
  EXPECT_TRUE(trouble.err.starts_with("buildtrace diff: ")) << trouble.err;
  EXPECT_NE(trouble.err.find(missing), std::string::npos) << trouble.err;
}

// `buildtrace` is the front binary: `diff` runs there and must answer exactly as the full binary
// does, for good and bad command lines alike (the usage lines name the program as it was run).
TEST_F(E2eDiffCli, TheFrontAnswersDiffExactlyAsTheFullBinaryDoes) {
  TestJob a, b;
  a.state = R"({"A":"door_0_0_1_1","B":"box_1_1_1_1"})";
  b.state = R"({"A":"door_2_0_1_1","C":"box_1_1_1_1"})";
  const std::string before = WriteJob("a.json", a), after = WriteJob("b.json", b);
  const std::string front = BinaryPath(), full = BinaryPath() + "-full";
  const std::vector<std::vector<std::string>> lines = {
      {"diff", before, after},
      {"diff", before, after, "--format", "json", "--limit", "1"},
      {"diff", before, before},
      {"diff", before, after, "--log-level", "debug"},
      {"diff", "--help"},
      {"diff", before},
      {"diff", before, after, "--format", "xml"},
      {"diff", before, after, "--limit", "many"},
      {"diff", before, after, "--log-level", "loud"},
      {"diff", before, root_dir() + "/missing.json"},
  };
  auto named_as = [](std::string text, const std::string& from, const std::string& to) {
    for (size_t at = text.find(from); at != std::string::npos;
         at = text.find(from, at + to.size())) {
      text.replace(at, from.size(), to);
    }
    return text;
  };
  // The same lines with variables in the environment: the global options take theirs, diff's
  // own options none (a BUILDTRACE_FORMAT meant for `report` must not change it).
  const std::vector<std::string> environments = {"BUILDTRACE_LOG_LEVEL=loud",
                                                 "BUILDTRACE_FORMAT=xml", "BUILDTRACE_LIMIT=x"};
  auto compare = [&](const std::vector<std::string>& line, const std::string& environment) {
    std::vector<std::string> by_front = line, by_full = line;
    by_front.insert(by_front.begin(), front);
    by_full.insert(by_full.begin(), full);
    if (!environment.empty()) {
      by_front.insert(by_front.begin(), {"/usr/bin/env", environment});
      by_full.insert(by_full.begin(), {"/usr/bin/env", environment});
    }
    Result<CommandResult> f = RunCommand(by_front), g = RunCommand(by_full);
    ASSERT_TRUE(f.ok() && g.ok());
    std::string what = environment;
    for (const std::string& word : line) what += " " + word;
    EXPECT_EQ(f->exit_code, g->exit_code) << what;
    EXPECT_EQ(f->out, named_as(g->out, full, front)) << what;
    EXPECT_EQ(f->err, named_as(g->err, full, front)) << what;
  };
  for (const std::vector<std::string>& line : lines) compare(line, "");
  for (const std::string& environment : environments) {
    compare({"diff", before, after, "--format", "json"}, environment);
  }
}

// The front loads no network client: the dynamic loader's list of what it would map.
TEST_F(E2eDiffCli, TheFrontLinksNoNetworkClient) {
  Result<CommandResult> listed =
      RunCommand({"/usr/bin/env", "LD_TRACE_LOADED_OBJECTS=1", BinaryPath()});
  ASSERT_TRUE(listed.ok());
  EXPECT_NE(listed->out.find("libsimdjson"), std::string::npos) << listed->out;
  for (const char* library : {"libcurl", "libpq", "libhiredis", "libsqlite3"}) {
    EXPECT_EQ(listed->out.find(library), std::string::npos) << library << " in " << listed->out;
  }
  Result<CommandResult> full =
      RunCommand({"/usr/bin/env", "LD_TRACE_LOADED_OBJECTS=1", BinaryPath() + "-full"});
  ASSERT_TRUE(full.ok());
  EXPECT_NE(full->out.find("libcurl"), std::string::npos) << full->out;
}

// Every other command runs in the full binary, which the front becomes: the same arguments (the
// usage line names the program as it was run), the same exit status. Without the full binary
// beside it, the front says where it looked.
TEST_F(E2eDiffCli, OtherCommandsRunInTheFullBinaryBesideTheFront) {
  Result<CommandResult> version = RunCommand({BinaryPath(), "--version"});
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->exit_code, 0);
  EXPECT_EQ(version->out, "buildtrace " BUILDTRACE_VERSION "\n");
  Result<CommandResult> help = RunCommand({BinaryPath(), "report", "--help"});
  ASSERT_TRUE(help.ok());
  EXPECT_EQ(help->exit_code, 0);
  EXPECT_NE(help->out.find("Usage: " + BinaryPath() + " report"), std::string::npos) << help->out;
  Result<CommandResult> bad = RunCommand({BinaryPath(), "jobs", "--limit", "x"});
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->exit_code, 2);

  const std::string alone = root_dir() + "/alone";
  std::filesystem::create_directory(alone);
  std::filesystem::copy_file(BinaryPath(), alone + "/buildtrace");
  Result<CommandResult> orphan = RunCommand({alone + "/buildtrace", "jobs", "--help"});
  ASSERT_TRUE(orphan.ok());
  EXPECT_EQ(orphan->exit_code, 2);
  EXPECT_EQ(orphan->out, "");
  EXPECT_TRUE(orphan->err.starts_with("buildtrace: cannot run " + alone +
                                      "/buildtrace-full (No such file or directory)"))
      << orphan->err;
  // diff needs nothing beside it.
  TestJob a, b;
  b.state = R"({"D1":"door_11_20_5_5"})";
  const std::string before = WriteJob("a.json", a), after = WriteJob("b.json", b);
  Result<CommandResult> diff = RunCommand({alone + "/buildtrace", "diff", before, after});
  ASSERT_TRUE(diff.ok());
  EXPECT_EQ(diff->exit_code, 1) << diff->err;
  EXPECT_NE(diff->out.find("D1"), std::string::npos) << diff->out;
}

}  // namespace
}  // namespace buildtrace::e2e
