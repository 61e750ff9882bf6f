// The Redis test server.
#include "testing/redis_server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string_view>
#include <vector>

namespace buildtrace {
namespace {

namespace fs = std::filesystem;

constexpr std::chrono::seconds kStartTimeout{30};

// A datagram socket bound to `path`, on which redis-server sends "READY=1"; -1 on failure.
int NotifySocket(const fs::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof(address.sun_path)) return -1;
  std::strcpy(address.sun_path, path.c_str());
  ::unlink(path.c_str());
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Starts argv as a child with NOTIFY_SOCKET set and its output in `log`; the child's pid or -1.
// Everything the child needs is made before fork: after it, only async-signal-safe calls.
pid_t Spawn(std::vector<std::string> argv, const fs::path& notify, const fs::path& log) {
  std::vector<std::string> environment{"NOTIFY_SOCKET=" + notify.string()};
  for (char** variable = environ; *variable != nullptr; ++variable) {
    if (!std::string_view(*variable).starts_with("NOTIFY_SOCKET=")) {
      environment.emplace_back(*variable);
    }
  }
  std::vector<char*> args;
  std::vector<char*> env;
  for (std::string& arg : argv) args.push_back(arg.data());
  for (std::string& variable : environment) env.push_back(variable.data());
  args.push_back(nullptr);
  env.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(1);  // the test died before prctl
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
  }
  ::execvpe(args[0], args.data(), env.data());
  ::_exit(127);
}

}  // namespace

std::string RedisServer::Start() {
  std::string pattern = (fs::path(::testing::TempDir()) / "bt_redis_XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return "cannot create a temporary directory";
  dir_ = pattern;
  std::string error;
  for (int attempt = 0; attempt < 5; ++attempt) {  // another process may take the port first
    port_ = FreeLoopbackPort();
    error = StartOnPort();
    if (error.empty() || error.find("could not be run") != std::string::npos) return error;
  }
  return "redis-server did not start in 5 attempts: " + error;
}

std::string RedisServer::StartOnPort() {
  const fs::path notify = dir_ / "notify";
  const int socket = NotifySocket(notify);
  if (socket < 0) return "cannot bind the notify socket " + notify.string();
  std::vector<std::string> argv{"redis-server",
                                "--port",
                                std::to_string(port_),
                                "--bind",
                                "127.0.0.1",
                                "--save",
                                "",
                                "--appendonly",
                                "no",
                                "--dir",
                                dir_.string(),
                                "--supervised",
                                "systemd"};
  if (!password_.empty()) argv.insert(argv.end(), {"--requirepass", password_});
  pid_ = Spawn(argv, notify, dir_ / "server.log");
  if (pid_ < 0) {
    ::close(socket);
    return "cannot fork";
  }
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  std::string error = "redis-server sent no READY=1 within 30 s";
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd ready{socket, POLLIN, 0};
    if (::poll(&ready, 1, 200) == 1) {
      char message[512] = {};
      const ssize_t n = ::recv(socket, message, sizeof(message) - 1, 0);
      if (n > 0 && std::strstr(message, "READY=1") != nullptr) {
        ::close(socket);
        return "";
      }
      continue;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // it gave up: the port was taken, ...
      pid_ = -1;
      error = WIFEXITED(status) && WEXITSTATUS(status) == 127
                  ? "redis-server could not be run; install Debian's redis-server "
                    "(scripts/install-deps.sh)"
                  : "redis-server exited:\n" + TailOfFile(dir_ / "server.log");
      break;
    }
  }
  ::close(socket);
  Stop();
  return error;
}

std::string RedisServer::Stop() {
  if (pid_ <= 0) return "";
  ::kill(pid_, SIGTERM);
  int status = 0;
  const pid_t waited = ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return waited > 0 ? "" : "cannot wait for redis-server to end";
}

void RedisServer::StopAndRemove() {
  Stop();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
  dir_.clear();
}

}  // namespace buildtrace
