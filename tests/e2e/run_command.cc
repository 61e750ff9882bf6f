// fork/exec with both output pipes drained by one poll() loop, so that a command writing much to
// one stream never blocks on a full pipe while we wait on the other.
#include "tests/e2e/run_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace buildtrace::e2e {
namespace {

using Clock = std::chrono::steady_clock;

int WaitFor(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Reads `out_fd` and `err_fd` until both reach end of file or the deadline passes; false then.
bool Drain(int out_fd, int err_fd, CommandResult& result, Clock::time_point deadline) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open = 2;
  while (open > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    const int rc = ::poll(fds, 2, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return false;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[8192];
      const ssize_t n = ::read(fds[i].fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;  // poll() ignores negative descriptors
        --open;
        continue;
      }
      sinks[i]->append(buffer, static_cast<size_t>(n));
    }
  }
  return true;
}

}  // namespace

Result<CommandResult> RunCommand(const std::vector<std::string>& argv_strings,
                                 std::chrono::milliseconds timeout) {
  if (argv_strings.empty()) return InvalidArgument("RunCommand needs at least the program");
  std::vector<std::string> args = argv_strings;
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Unavailable(std::string("pipe2: ") + strerror(errno));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return Unavailable(std::string("pipe2: ") + strerror(errno));
  }
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::dup2(null_fd, 0) < 0 || ::dup2(out[1], 1) < 0 || ::dup2(err[1], 2) < 0) ::_exit(126);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  const int fork_errno = errno;
  for (int fd : {out[1], err[1], null_fd}) {
    if (fd >= 0) ::close(fd);
  }
  if (pid < 0) {
    ::close(out[0]);
    ::close(err[0]);
    return Unavailable(std::string("fork: ") + strerror(fork_errno));
  }
  CommandResult result;
  const bool finished = Drain(out[0], err[0], result, Clock::now() + timeout);
  ::close(out[0]);
  ::close(err[0]);
  if (!finished) {
    ::kill(pid, SIGKILL);
    WaitFor(pid);
    return Unavailable(args[0] + " did not finish within " + std::to_string(timeout.count()) +
                       " ms and was killed");
  }
  const int status = WaitFor(pid);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace buildtrace::e2e
