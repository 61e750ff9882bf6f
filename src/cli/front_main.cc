// The `buildtrace` command users run: `buildtrace diff` here, in a binary that links only the core
// (its process start about half the full binary's on the machines this runs on,
// docs/PERFORMANCE.md);
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

// The folder of `path`, or "" when it names none.
std::string FolderOf(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? "" : std::string(path.substr(0, slash + 1));
}

// Where the full binary is: beside this executable (/proc/self/exe, symbolic links resolved),
// else beside the path it was run by, else looked up in PATH (execvp).
std::string FullBinary(const char* argv0) {
  const std::string name(buildtrace::kFullBinaryName);
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n > 0) {
    const std::string folder = FolderOf(std::string_view(path, static_cast<size_t>(n)));
    if (!folder.empty()) return folder + name;
  }
  const std::string folder = argv0 != nullptr ? FolderOf(argv0) : "";
  return folder + name;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "diff") {
    return buildtrace::RunDiffCommandLine(argc, argv);
  }
  const std::string full = FullBinary(argc > 0 ? argv[0] : nullptr);
  ::execvp(full.c_str(), argv);  // a path with a slash is used as it is
  const int error = errno;
  std::cerr << "buildtrace: cannot run " << full << " (" << std::strerror(error)
            << "): every command but diff runs there; install it next to buildtrace "
               "(docs/operations.md)\n";
  return 2;
}
