// `buildtrace diff PREV CUR`, the binary itself: exit 1 and the report when the jobs differ,
// exit 0 when they do not, exit 2 naming the file when one cannot be read.
#include <filesystem>
#include <fstream>

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

}  // namespace
}  // namespace buildtrace::e2e
