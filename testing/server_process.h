// What the tests that run a real server (PostgreSQL, Redis) share: a free loopback port to start
// it on, and the end of its log for the message when it does not start.
#pragma once

#include <filesystem>
#include <string>

namespace buildtrace {

// A loopback port that was free a moment ago (bound to port 0, then released).
int FreeLoopbackPort();

// The last `bytes` bytes of `file` ("" when it cannot be read).
std::string TailOfFile(const std::filesystem::path& file, size_t bytes = 2000);

}  // namespace buildtrace
