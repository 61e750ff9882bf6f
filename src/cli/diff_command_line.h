// The parts of the `buildtrace` command line that the small front binary (front_main.cc) shares
// with the full one (command_line.h): the options every command takes, the diff subcommand, and
// the diff's whole command line. The front runs `buildtrace diff` itself, without loading the
// clients of the network backends (libcurl, libpq, hiredis and their libraries: most of a process
// start, docs/PERFORMANCE.md), and hands every other command to the full binary beside it.
#pragma once

#include <CLI/CLI.hpp>
#include <set>
#include <string>
#include <string_view>

#include "cli/diff_command.h"

namespace buildtrace {

inline constexpr const char* kCommandLineDescription =
    "BuildTrace: what changed between one build job and the one before it";

// The subcommands whose options have no variable: diff compares two files offline, and its
// --format and --limit would collide with report's and jobs' variables.
inline const std::set<std::string> kCommandsWithoutEnvironment = {"diff"};

// --version, --log-level and --log-format, before or after the subcommand's name.
void AddGlobalOptions(CLI::App& app, std::string& log_level, std::string& log_format);
// `diff PREVIOUS CURRENT [--format text|json] [--limit N]`.
void AddDiff(CLI::App& app, DiffOptions& options);

// After a bad option: the variables that gave the chosen command's options values (CLI11's
// message names the flag only), on stderr.
void NameVariablesInUse(const CLI::App& app);

// `buildtrace diff ...` (argv[1] is "diff"), parsed and answered as the full command line does
// (the same options, help, messages and exit statuses); diff writes no log lines, so the log
// options are checked and otherwise have no effect.
int RunDiffCommandLine(int argc, char** argv);

// The name of the full binary, installed in the same folder as the front.
inline constexpr std::string_view kFullBinaryName = "buildtrace-full";

}  // namespace buildtrace
