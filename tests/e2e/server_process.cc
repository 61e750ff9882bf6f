// fork/exec of `buildtrace serve`. Everything the child needs (argv, file descriptors) is made
// before fork(), so the child only calls async-signal-safe functions (dup2, execv, _exit), as it
// must in a process that may have other threads. Waiting is poll() with a deadline on the
// server's stdout or on a pidfd, never a sleep.
#include "tests/e2e/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

namespace buildtrace::e2e {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kListeningPrefix = "buildtrace listening on http://";
constexpr size_t kLogTailBytes = 64 * 1024;

std::string ErrnoText(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// Milliseconds left until `deadline`, for poll(); 0 once it has passed.
int MillisLeft(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// poll() on one descriptor until it is ready or the deadline passes; true when ready.
bool PollUntil(int fd, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int rc = ::poll(&p, 1, MillisLeft(deadline));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

// "buildtrace listening on http://127.0.0.1:PORT (store ..., warehouse ...)" -> PORT; 0 if the
// line does not have that shape.
uint16_t PortOfListeningLine(std::string_view line) {
  if (!line.starts_with(kListeningPrefix)) return 0;
  std::string_view authority = line.substr(kListeningPrefix.size());
  authority = authority.substr(0, authority.find(' '));
  const size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos) return 0;
  const std::string_view digits = authority.substr(colon + 1);
  unsigned port = 0;
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (r.ec != std::errc() || r.ptr != digits.data() + digits.size() || port == 0 || port > 65535) {
    return 0;
  }
  return static_cast<uint16_t>(port);
}

}  // namespace

std::string ReadLog(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "(no server log at " + path + ")";
  std::ostringstream text;
  text << in.rdbuf();
  std::string log = text.str();
  if (log.size() > kLogTailBytes) log = "...\n" + log.substr(log.size() - kLogTailBytes);
  return log;
}

ServerProcess::ServerProcess(Options options, pid_t pid, int stdout_fd, int pid_fd)
    : options_(std::move(options)), pid_(pid), stdout_fd_(stdout_fd), pid_fd_(pid_fd) {}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) KillAndReap();
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  if (pid_fd_ >= 0) ::close(pid_fd_);
}

Result<std::unique_ptr<ServerProcess>> ServerProcess::Start(Options options) {
  std::vector<std::string> args = {options.binary,
                                   "serve",
                                   "--port",
                                   "0",
                                   "--data-dir",
                                   options.data_dir,
                                   "--analysis-workers",
                                   std::to_string(options.analysis_workers)};
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  args.insert(args.begin(), options.launcher.begin(), options.launcher.end());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Unavailable(ErrnoText("pipe2"));
  const int log_fd =
      ::open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    const Status error = Unavailable(ErrnoText("open " + options.log_path + " or /dev/null"));
    for (int fd : {out[0], out[1], log_fd, null_fd}) {
      if (fd >= 0) ::close(fd);
    }
    return error;
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    // The child: dup2 clears O_CLOEXEC on the copies, so exactly fds 0-2 survive execv.
    if (::dup2(null_fd, 0) < 0 || ::dup2(out[1], 1) < 0 || ::dup2(log_fd, 2) < 0) ::_exit(126);
    ::execv(argv[0], argv.data());
    static constexpr char kExecFailed[] = "e2e: execv of the buildtrace binary failed\n";
    [[maybe_unused]] ssize_t ignored = ::write(2, kExecFailed, sizeof(kExecFailed) - 1);
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::close(out[1]);
  ::close(log_fd);
  ::close(null_fd);
  if (pid < 0) {
    ::close(out[0]);
    errno = fork_errno;
    return Unavailable(ErrnoText("fork"));
  }
  // A pidfd tells when the process exits; kernels without one fall back to the stdout pipe.
  const int pid_fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  std::unique_ptr<ServerProcess> server(
      new ServerProcess(std::move(options), pid, out[0], pid_fd < 0 ? -1 : pid_fd));
  if (Status s = server->ReadListeningLine(); !s.ok()) {
    server->KillAndReap();
    return Unavailable(s.message() + "; server log:\n" + ReadLog(server->options_.log_path));
  }
  return server;
}

Status ServerProcess::ReadListeningLine() {
  const auto deadline = Clock::now() + options_.start_timeout;
  std::string received;
  for (;;) {
    if (const size_t newline = received.find('\n'); newline != std::string::npos) {
      listening_line_ = received.substr(0, newline);
      port_ = PortOfListeningLine(listening_line_);
      if (port_ == 0) {
        return Unavailable("the server's first line is not \"" + std::string(kListeningPrefix) +
                           "HOST:PORT ...\": \"" + listening_line_ + "\"");
      }
      return Status::Ok();
    }
    if (!PollUntil(stdout_fd_, deadline)) {
      return Unavailable("the server printed no listening line within " +
                         std::to_string(options_.start_timeout.count()) + " ms");
    }
    char buffer[4096];
    const ssize_t n = ::read(stdout_fd_, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Unavailable(ErrnoText("read the server's stdout"));
    if (n == 0) return Unavailable("the server exited before it printed its listening line");
    received.append(buffer, static_cast<size_t>(n));
  }
}

bool ServerProcess::WaitForExit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  if (pid_fd_ >= 0) return PollUntil(pid_fd_, deadline);
  // Without a pidfd: the server holds its stdout until it exits, so end of file means exit.
  for (;;) {
    if (!PollUntil(stdout_fd_, deadline)) return false;
    char buffer[4096];
    const ssize_t n = ::read(stdout_fd_, buffer, sizeof(buffer));
    if (n == 0) return true;
    if (n < 0 && errno != EINTR) return true;  // the pipe is gone: reaping will tell
  }
}

int ServerProcess::Reap() {
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return status;
}

void ServerProcess::KillAndReap() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  Reap();
}

Status ServerProcess::Stop(int signal) {
  if (pid_ <= 0) return Internal("the server was already stopped; start a new one");
  const pid_t pid = pid_;
  const std::string name = signal == SIGTERM  ? "SIGTERM"
                           : signal == SIGINT ? "SIGINT"
                                              : "signal " + std::to_string(signal);
  if (::kill(pid, signal) != 0) return Internal(ErrnoText("kill(" + name + ")"));
  return AwaitExitAfter(name);
}

Status ServerProcess::AwaitExit() {
  if (pid_ <= 0) return Internal("the server was already stopped; start a new one");
  return AwaitExitAfter("the test's signal");
}

Status ServerProcess::AwaitExitAfter(const std::string& cause) {
  const pid_t pid = pid_;
  if (!WaitForExit(options_.stop_timeout)) {
    KillAndReap();
    return Unavailable("server " + std::to_string(pid) + " did not exit within " +
                       std::to_string(options_.stop_timeout.count()) + " ms of " + cause +
                       " and was killed with SIGKILL");
  }
  const int status = Reap();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  return Internal("server " + std::to_string(pid) + " " + DescribeWaitStatus(status) + " after " +
                  cause + "; expected a clean exit with status 0");
}

}  // namespace buildtrace::e2e
