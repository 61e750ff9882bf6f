// The `buildtrace` command users run: `buildtrace diff` here, in a binary that links only the core
// (a process start of 8 ms instead of 25 ms on the machines this runs on, docs/PERFORMANCE.md);
// every other command, and `diff` after a global option, by the full binary installed beside it
// (kFullBinaryName), which this process becomes (execv: the same process ID, arguments,
// environment and descriptors).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

#include "cli/diff_command_line.h"

namespace {

// The folder of this executable, from /proc/self/exe; "" when it cannot be read.
std::string OwnFolder() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return "";
  const std::string_view self(path, static_cast<size_t>(n));
  const size_t slash = self.rfind('/');
  return slash == std::string_view::npos ? "" : std::string(self.substr(0, slash));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "diff") {
    return buildtrace::RunDiffCommandLine(argc, argv);
  }
  const std::string full = OwnFolder() + "/" + std::string(buildtrace::kFullBinaryName);
  ::execv(full.c_str(), argv);
  const int error = errno;
  std::cerr << "buildtrace: cannot run " << full << " (" << std::strerror(error)
            << "): every command but diff runs there; install it next to buildtrace "
               "(docs/operations.md)\n";
  return 2;
}
