// Runs a short-lived command (here: `buildtrace diff`) to completion with fork/exec and captures
// its exit status, stdout and stderr, for the end-to-end tests of the command line.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/status.h"

namespace buildtrace::e2e {

struct CommandResult {
  int exit_code = -1;  // the exit status; -1 when a signal ended the command
  std::string out;     // everything written to stdout
  std::string err;     // everything written to stderr
};

// Runs argv[0] (a path, not looked up in PATH) with `argv` and stdin from /dev/null. A command
// still running after `timeout` is killed and reported as kUnavailable.
Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The whole file at `path` (a README, an example); empty when it cannot be read.
std::string ReadText(const std::string& path);

}  // namespace buildtrace::e2e
