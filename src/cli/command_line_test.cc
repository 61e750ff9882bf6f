// The command line's promises about the environment, on the real CLI11 app: every long option of
// every command (but diff's) has its BUILDTRACE_* variable, the command line wins over it, a
// command reads only its own variables, and docs/configuration.md names every variable the
// program reads (its options' and those the source reads with getenv and friends).
#include "cli/command_line.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>

#include "cli/option_environment.h"

namespace buildtrace {
namespace {

// Sets a variable for the test's lifetime, then restores what was there.
class Variable {
 public:
  Variable(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~Variable() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// Parses `args` (after the program's name) into `line`; the CLI11 error's message, if any.
std::optional<std::string> Parse(CommandLine& line, std::vector<std::string> args) {
  std::unique_ptr<CLI::App> app = BuildCommandLine(line);
  args.insert(args.begin(), "buildtrace");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  try {
    app->parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

std::vector<std::string> CommandNames() {
  CommandLine line;
  std::vector<std::string> names;
  std::unique_ptr<CLI::App> app = BuildCommandLine(line);
  for (const CLI::App* command : app->get_subcommands({})) {
    names.push_back(command->get_name());
  }
  return names;
}

// command -> its options' variables, as `buildtrace COMMAND --help` binds them; the app's own
// options under "".
std::map<std::string, std::vector<std::string>> VariablesByCommand() {
  std::map<std::string, std::vector<std::string>> variables;
  for (const std::string& name : CommandNames()) {
    CommandLine line;
    std::unique_ptr<CLI::App> app = BuildCommandLine(line);
    const char* argv[] = {"buildtrace", name.c_str(), "--help"};
    EXPECT_THROW(app->parse(3, argv), CLI::CallForHelp);
    for (const CLI::Option* option : app->get_subcommand(name)->get_options()) {
      variables[name].push_back(option->get_envname());
    }
    variables[""].clear();
    for (const CLI::Option* option : app->get_options()) {
      variables[""].push_back(option->get_envname());
    }
  }
  return variables;
}

TEST(CommandLineTest, EveryOptionHasItsVariable) {
  const std::vector<std::string> commands = CommandNames();
  EXPECT_EQ(commands,
            (std::vector<std::string>{"serve", "worker", "rebuild-metrics", "simulate", "diff",
                                      "post", "report", "jobs", "stats", "delete-project"}));
  size_t bound = 0;
  for (const std::string& name : commands) {
    CommandLine line;
    std::unique_ptr<CLI::App> app = BuildCommandLine(line);
    const char* argv[] = {"buildtrace", name.c_str(), "--help"};
    EXPECT_THROW(app->parse(3, argv), CLI::CallForHelp);
    const CLI::App& command = *app->get_subcommand(name);
    for (const CLI::Option* option : command.get_options()) {
      // --yes (delete-project's confirmation) is never read from the environment.
      const bool named = !option->get_lnames().empty() && option != command.get_help_ptr() &&
                         option->get_lnames().front() != "yes";
      const std::string expected = named && !kCommandsWithoutEnvironment.contains(name)
                                       ? EnvironmentVariableOf(option->get_lnames().front())
                                       : "";
      EXPECT_EQ(option->get_envname(), expected) << name << " " << option->get_name();
      bound += !expected.empty();
    }
  }
  EXPECT_GT(bound, 60u) << "serve alone has more than 30 options";
  CommandLine line;
  std::unique_ptr<CLI::App> app = BuildCommandLine(line);
  EXPECT_EQ(app->get_option("--log-level")->get_envname(), "BUILDTRACE_LOG_LEVEL");
  EXPECT_EQ(app->get_option("--log-format")->get_envname(), "BUILDTRACE_LOG_FORMAT");
  EXPECT_EQ(app->get_option("--version")->get_envname(), "");
  EXPECT_EQ(EnvironmentVariableOf("--max-connections-per-client"),
            "BUILDTRACE_MAX_CONNECTIONS_PER_CLIENT");
}

TEST(CommandLineTest, TheCommandLineWins) {
  Variable port("BUILDTRACE_PORT", "9999");
  Variable store("BUILDTRACE_STORE", "file:///from/env");
  CommandLine given;
  EXPECT_EQ(Parse(given, {"serve", "--port", "0"}), std::nullopt);
  EXPECT_EQ(given.serve.port, 0);
  EXPECT_EQ(given.serve.store_url, "file:///from/env");
  CommandLine from_environment;
  EXPECT_EQ(Parse(from_environment, {"serve"}), std::nullopt);
  EXPECT_EQ(from_environment.serve.port, 9999);
}

// An object ID longer than a state entry holds (JobState::kMaxIdBytes) cannot be allowed.
TEST(CommandLineTest, IdLimitStopsWhereAStateEntryDoes) {
  CommandLine most;
  EXPECT_EQ(Parse(most, {"serve", "--max-id-bytes", "16383"}), std::nullopt);
  EXPECT_EQ(most.serve.limits.max_id_bytes, 16383u);
  CommandLine over;
  EXPECT_EQ(Parse(over, {"serve", "--max-id-bytes", "16384"}),
            "--max-id-bytes: Value 16384 not in range 1 to 16383");
}

TEST(CommandLineTest, VariablesOfEveryKind) {
  Variable flag("BUILDTRACE_ALLOW_UNAUTHENTICATED", "true");
  Variable duration("BUILDTRACE_IDLE_TIMEOUT", "2min");
  Variable size("BUILDTRACE_MAX_URL", "16KiB");
  Variable level("BUILDTRACE_LOG_LEVEL", "debug");
  CommandLine line;
  EXPECT_EQ(Parse(line, {"serve"}), std::nullopt);
  EXPECT_TRUE(line.serve.allow_unauthenticated);
  EXPECT_EQ(line.serve.idle_timeout_ms, 120'000);
  EXPECT_EQ(line.serve.max_url_bytes, 16u << 10);
  EXPECT_EQ(line.log_level, "debug");
  Variable bad("BUILDTRACE_MAX_DEPTH", "1000");
  CommandLine refused;
  EXPECT_EQ(Parse(refused, {"serve"}), "--max-depth: Value 1000 not in range 1 to 256");
}

// serve's --threads (0: one per core) and worker's (1-256) share BUILDTRACE_THREADS: each
// command reads it for itself only.
TEST(CommandLineTest, OnlyTheChosenCommandReadsItsVariables) {
  Variable threads("BUILDTRACE_THREADS", "0");
  Variable format("BUILDTRACE_FORMAT", "classic");
  CommandLine serve;
  EXPECT_EQ(Parse(serve, {"serve"}), std::nullopt);
  EXPECT_EQ(serve.serve.worker_threads, 0);
  EXPECT_EQ(serve.worker.analysis.workers, 2) << "worker's default, untouched";
  CommandLine worker;
  EXPECT_EQ(Parse(worker, {"worker", "--queue", "redis://127.0.0.1/q"}),
            "--threads: Value 0 not in range 1 to 256");
  CommandLine report;
  EXPECT_EQ(Parse(report, {"report", "7"}), std::nullopt);
  EXPECT_EQ(report.report.format, "classic");
  CommandLine diff;
  EXPECT_EQ(Parse(diff, {"diff", "a.json", "b.json"}), std::nullopt);
  EXPECT_EQ(diff.diff.format, "text") << "diff reads no variable";
}

TEST(CommandLineTest, Version) {
  CommandLine line;
  std::unique_ptr<CLI::App> app = BuildCommandLine(line);
  const char* argv[] = {"buildtrace", "--version"};
  try {
    app->parse(2, argv);
    ADD_FAILURE() << "--version did not stop the parse";
  } catch (const CLI::CallForVersion& e) {
    EXPECT_EQ(std::string(e.what()), "buildtrace " BUILDTRACE_VERSION);
    EXPECT_EQ(e.get_exit_code(), 0);
  }
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The variables the program's sources read besides its options': getenv("X"), the helpers that
// wrap it (NonEmptyEnv, TokenSourceFor, ChooseBackends' read_env) and named constants
// (kRedisPasswordVariable = "X"). Tests and testing/ are not the program.
std::set<std::string> VariablesReadBySources() {
  const std::regex call(
      R"re(\b(?:getenv|NonEmptyEnv|TokenSourceFor|read_env)\("([A-Z][A-Z0-9_]*)"\))re");
  const std::regex constant(R"re(Variable\s*=\s*"([A-Z][A-Z0-9_]*)")re");
  std::set<std::string> names;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(BUILDTRACE_SOURCE_DIR "/src")) {
    const std::string path = entry.path().string();
    if (!entry.is_regular_file() || path.ends_with("_test.cc") ||
        !(path.ends_with(".cc") || path.ends_with(".h"))) {
      continue;
    }
    const std::string text = ReadFile(entry.path());
    for (const std::regex& pattern : {call, constant}) {
      for (auto it = std::sregex_iterator(text.begin(), text.end(), pattern);
           it != std::sregex_iterator(); ++it) {
        names.insert((*it)[1]);
      }
    }
  }
  return names;
}

TEST(CommandLineTest, DocsNameEveryVariable) {
  std::set<std::string> names = VariablesReadBySources();
  for (const char* expected :
       {"PORT", "BUCKET", "PROJECT_ID", "GOOGLE_APPLICATION_CREDENTIALS", "AWS_ACCESS_KEY_ID",
        "PUBSUB_EMULATOR_HOST", "PGPASSWORD", "BUILDTRACE_REDIS_PASSWORD"}) {
    EXPECT_TRUE(names.contains(expected)) << expected << " not found in the sources: the scan "
                                          << "no longer sees how they are read";
  }
  for (const auto& [command, variables] : VariablesByCommand()) {
    for (const std::string& name : variables) {
      if (!name.empty()) names.insert(name);
    }
  }
  const std::string docs = ReadFile(BUILDTRACE_SOURCE_DIR "/docs/configuration.md");
  ASSERT_FALSE(docs.empty());
  for (const std::string& name : names) {
    EXPECT_NE(docs.find("`" + name + "`"), std::string::npos)
        << name << " is read by buildtrace but docs/configuration.md does not name it (as `" << name
        << "`)";
  }
}

}  // namespace
}  // namespace buildtrace
