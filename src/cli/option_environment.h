// Options from the environment: every long option `--some-flag` of the command line can also be
// given as the variable BUILDTRACE_SOME_FLAG, the command line winning, so that a container (Cloud
// Run, Kubernetes, systemd) configures the service without a command line. Applied in one place,
// to every option declared, so that no flag can be left without its variable.
#pragma once

#include <CLI/CLI.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace buildtrace {

// "--max-body" or "max-body" -> "BUILDTRACE_MAX_BODY".
std::string EnvironmentVariableOf(std::string_view long_name);

// Gives every long option of `app` (but --help, --version and --yes) and of its subcommands (but
// those named in `without`) its variable, as CLI11's envname. A subcommand's options get theirs
// only when that subcommand is the one being parsed: CLI11 reads the variables of every subcommand,
// chosen or not, and would otherwise check, say, worker's --threads (1-256) against a
// BUILDTRACE_THREADS=0 meant for serve's. Call once, after every option is declared.
void BindEnvironment(CLI::App& app, const std::set<std::string>& without);

// The variables of the options of `command` (the app or one subcommand, once it is bound) that
// are set and not empty, e.g. {"BUILDTRACE_PORT"}: for messages about a bad value, which CLI11
// names by its flag only. Names, never values (a token may be among them).
std::vector<std::string> VariablesInUse(const CLI::App& command);

}  // namespace buildtrace
