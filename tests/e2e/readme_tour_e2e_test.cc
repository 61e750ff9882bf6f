// The README's five-minute tour, run as written against a live `buildtrace serve`: its ```sh
// blocks (between the tour:begin and tour:end comments) in order, each with bash, the service's
// URL, the binary and the data folder pointed at the test's own; every command must succeed, and
// what a block prints must hold what the README shows after it.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/run_command.h"

namespace buildtrace::e2e {
namespace {

namespace fs = std::filesystem;

// One ```sh block of the tour and, when the README shows it, what it prints.
struct TourStep {
  std::string commands;
  std::optional<std::string> output;  // without its last newline
};

// The tour's steps: fenced blocks between "<!-- tour:begin" and "<!-- tour:end -->"; the first
// fenced block that is not ```sh after an sh block (prose may come between) is its output.
std::vector<TourStep> TourSteps(const std::string& markdown) {
  std::vector<TourStep> steps;
  std::istringstream lines(markdown);
  bool in_tour = false;
  std::optional<std::string> fence_info;  // set inside a fenced block
  std::string block;
  bool output_may_follow = false;
  for (std::string line; std::getline(lines, line);) {
    if (!fence_info) {
      if (line.starts_with("<!-- tour:begin")) in_tour = true;
      if (line.starts_with("<!-- tour:end")) in_tour = false;
      if (!in_tour) continue;
      if (line.starts_with("```")) {
        fence_info = line.substr(3);
        block.clear();
      }
      continue;
    }
    if (line != "```") {
      block += line + "\n";
      continue;
    }
    if (*fence_info == "sh") {
      steps.push_back({block, std::nullopt});
      output_may_follow = true;
    } else if (output_may_follow) {
      if (!block.empty()) block.pop_back();
      steps.back().output = block;
      output_may_follow = false;
    }
    fence_info.reset();
  }
  return steps;
}

// Whether `text` holds the pieces of `shown` in order, "..." and "…" in `shown` standing for
// anything (also nothing, also across lines).
::testing::AssertionResult Shows(const std::string& text, const std::string& shown) {
  size_t at = 0;
  size_t piece_start = 0;
  while (piece_start <= shown.size()) {
    const size_t dots = shown.find("...", piece_start);
    const size_t ellipsis = shown.find("…", piece_start);
    const size_t end = std::min(dots, ellipsis);
    const std::string piece =
        shown.substr(piece_start, end == std::string::npos ? std::string::npos : end - piece_start);
    const size_t found = text.find(piece, at);
    if (found == std::string::npos) {
      return ::testing::AssertionFailure() << "the output lacks, at or after byte " << at << ":\n"
                                           << piece << "\n--- the output:\n"
                                           << text;
    }
    at = found + piece.size();
    if (end == std::string::npos) break;
    piece_start = end + (end == dots ? 3 : std::string("…").size());
  }
  return ::testing::AssertionSuccess();
}

std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

class E2eReadmeTour : public E2eTest {
 protected:
  // As `buildtrace serve` runs by default: reports are precomputed in the background.
  int AnalysisWorkers() const override { return 2; }
};

TEST(TourStepsTest, CommandBlocksAndTheOutputRightAfterThem) {
  const std::vector<TourStep> steps = TourSteps(
      "```sh\nnot in the tour\n```\n<!-- tour:begin -->\n```sh\na\nb\n```\n\n```json\n{}\n```\n"
      "```\nnot an output\n```\ntext\n```sh\nc\n```\n```sh\nd\n```\nprose\n```\nd's\n```\n"
      "<!-- tour:end -->\n```sh\ne\n```\n");
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0].commands, "a\nb\n");
  EXPECT_EQ(steps[0].output, "{}");
  EXPECT_EQ(steps[1].commands, "c\n");
  EXPECT_EQ(steps[1].output, std::nullopt);
  EXPECT_EQ(steps[2].commands, "d\n");
  EXPECT_EQ(steps[2].output, "d's");
}

TEST(TourStepsTest, ShownOutputLeavesOutWhatTheDotsStandFor) {
  EXPECT_TRUE(Shows("a1\nb\nc\nd", "a...\nc"));
  EXPECT_TRUE(Shows("{\"d\":\"sha256:12\",\"x\":1}", "{\"d\":\"sha256:…\",\"x\":1}"));
  EXPECT_FALSE(Shows("a\nc\nb", "a\n...\nb\nc"));
  EXPECT_FALSE(Shows("Summary: 2 added", "Summary: 1 added"));
}

TEST_F(E2eReadmeTour, RunsAsWritten) {
  const std::vector<TourStep> steps = TourSteps(ReadText(BUILDTRACE_SOURCE_DIR "/README.md"));
  ASSERT_GE(steps.size(), 8u) << "the README's tour markers are gone";
  ASSERT_EQ(steps[0].commands, "scripts/start.sh\n") << "the tour starts the service";
  const std::string work = root_dir() + "/work";
  ASSERT_TRUE(fs::create_directory(work));
  const std::string failures = root_dir() + "/failures";
  std::string exports;  // the tour's `export` lines hold for the blocks after them
  int shown = 0;
  for (size_t i = 1; i < steps.size(); ++i) {
    std::string commands = ReplaceAll(steps[i].commands, "http://127.0.0.1:8080", server().url());
    commands = ReplaceAll(commands, "build/buildtrace", BinaryPath());
    commands = ReplaceAll(commands, "./buildtrace-data", data_dir());
    // Every command that fails is noted with its status, and the block goes on; the block's own
    // status is then bash's: 0, unless it could not even be read.
    const std::string script = exports + "trap 'echo \"exit $?: $BASH_COMMAND\" >>" + failures +
                               "' ERR\n" + commands + "exit 0\n";
    // Commands that take the service's URL from their default (simulate) are given the test's.
    auto ran = RunCommand({"/usr/bin/env", "-C", work, "BUILDTRACE_URL=" + server().url(),
                           "/bin/bash", "--noprofile", "--norc", "-c", script},
                          std::chrono::seconds(120));
    ASSERT_TRUE(ran.ok()) << ran.status().message();
    EXPECT_EQ(ran->exit_code, 0) << commands << ran->err;
    if (steps[i].output) {
      ++shown;
      EXPECT_TRUE(Shows(ran->out, *steps[i].output)) << "the block:\n" << commands;
    }
    std::istringstream lines(commands);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("export ")) exports += line + "\n";
    }
  }
  EXPECT_GE(shown, 4);
  // `report` and `diff` exit 1 as the README says they do when the jobs differ; nothing else fails.
  EXPECT_EQ(ReadText(failures), "exit 1: " + BinaryPath() + " diff a.json b.json\nexit 1: " +
                                    BinaryPath() + " report 124\n");
}

}  // namespace
}  // namespace buildtrace::e2e
