// Child processes for the test servers (the Pub/Sub emulator, PostgreSQL's tools): started with
// their output in a log file and tied to the test binary's life, stopped by their own pid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/status.h"

namespace buildtrace {

// Starts argv[0] (a path, or a name looked up on PATH) with stdout and stderr appended to `log`.
// It is killed (SIGKILL) if this process dies first, so a crashed or timed-out test binary
// leaves no server behind (kept across exec, so a launcher script that execs java is covered).
Result<pid_t> StartTestProcess(std::vector<std::string> argv, const std::string& log);

// SIGTERM (with SIGCONT, for a stopped process), then SIGKILL once `grace` has passed; reaps it.
// True when it ended within the grace.
bool StopTestProcess(pid_t pid, std::chrono::milliseconds grace);

// The last `bytes` of a file (all of a shorter one; "" if it cannot be read), for failure messages.
std::string TailOfFile(const std::string& path, size_t bytes = 2000);

}  // namespace buildtrace
