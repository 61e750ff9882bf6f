// The `buildtrace` command line: every subcommand and option, declared once with CLI11, each
// long option also read from its BUILDTRACE_* variable (option_environment.h), and the dispatch
// to the commands, which take plain options structs.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <set>
#include <string>

#include "cli/client_commands.h"
#include "cli/diff_command.h"
#include "cli/diff_command_line.h"
#include "cli/rebuild_command.h"
#include "cli/serve_command.h"
#include "cli/worker_command.h"
#include "simulator/simulate.h"

namespace buildtrace {

// What the command line fills in.
struct CommandLine {
  std::string log_level = "info";   // debug, info, warning or error
  std::string log_format = "text";  // text or json
  ServeOptions serve;
  std::string max_body = "64MiB";
  std::string max_inflight_body;  // empty: 4 x max_body
  std::string keep_memory = "160MiB";
  WorkerOptions worker;
  RebuildCommandOptions rebuild;
  SimulateOptions simulate;
  DiffOptions diff;
  PostOptions post;
  ReportOptions report;
  JobsOptions jobs;
  StatsOptions stats;
  DeleteProjectOptions delete_project;
};

// The whole command line, its options bound to `line`; variables bound as BindEnvironment says.
std::unique_ptr<CLI::App> BuildCommandLine(CommandLine& line);

// Parses argv, runs the subcommand and returns the process's exit status (2 for a bad option).
int RunCommandLine(int argc, char** argv);

}  // namespace buildtrace
