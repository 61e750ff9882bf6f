// The PostgreSQL test server.
#include "testing/postgres_server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "testing/test_process.h"

namespace buildtrace {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPostgresBin = "/usr/lib/postgresql/15/bin";

// Runs argv with stdout and stderr appended to `log`; returns the exit status (-1 if it could not
// run). When this process is root the command runs as the postgres user, as initdb demands.
int Run(std::vector<std::string> argv, const fs::path& log) {
  if (::geteuid() == 0) argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0666);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    std::vector<char*> args;
    for (std::string& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// initdb making a cluster in `data`: every cluster of these tests is made the same way.
std::vector<std::string> InitdbCommand(const std::string& data) {
  return {std::string(kPostgresBin) + "/initdb",
          "-D",
          data,
          "-U",
          "postgres",
          "--auth=trust",
          "-E",
          "UTF8",
          "--no-sync"};
}

// A fresh cluster made by initdb, kept once per machine, user and initdb binary (its size and
// time in the name), so that each test copies it (about 0.2 s) instead of running initdb again
// (about 1.4 s of CPU). Made in a folder of its own and renamed into place whole, so no test
// ever sees half of one; when two processes race, the second's rename fails and it removes its
// own. Empty when it cannot be made: then the caller runs initdb itself and reports that.
fs::path ClusterTemplate(const fs::path& temp, const fs::path& log) {
  struct stat initdb_file {};
  const std::string binary = std::string(kPostgresBin) + "/initdb";
  if (::stat(binary.c_str(), &initdb_file) != 0) return {};
  const fs::path made =
      temp / ("bt_postgres_template_" + std::to_string(::geteuid()) + "_" +
              std::to_string(initdb_file.st_size) + "_" + std::to_string(initdb_file.st_mtime));
  std::error_code ec;
  // Only a folder this user made counts: /tmp is shared, and anyone could plant one there.
  const auto ours = [&made] {
    struct stat folder {};
    return ::lstat(made.c_str(), &folder) == 0 && S_ISDIR(folder.st_mode) &&
           folder.st_uid == ::geteuid();
  };
  if (ours() && fs::exists(made / "data" / "PG_VERSION", ec)) return made / "data";
  std::string pattern = (temp / "bt_postgres_template_XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return {};
  ::chmod(pattern.c_str(), 0777);
  if (Run(InitdbCommand(pattern + "/data"), log) != 0 ||
      ::rename(pattern.c_str(), made.c_str()) != 0) {
    fs::remove_all(pattern, ec);
  }
  return ours() && fs::exists(made / "data" / "PG_VERSION", ec) ? made / "data" : fs::path();
}

}  // namespace

std::string PostgresServer::Start() {
  std::string pattern = (fs::path(::testing::TempDir()) / "bt_postgres_XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) return "cannot create a temporary directory";
  dir_ = pattern;
  ::chmod(dir_.c_str(), 0777);
  StartGuardian();
  const fs::path cluster = ClusterTemplate(::testing::TempDir(), dir_ / "initdb.log");
  // cp -a as the postgres user (Run), so the copy is its own, with the template's modes.
  const bool copied =
      !cluster.empty() &&
      Run({"cp", "-a", cluster.string(), (dir_ / "data").string()}, dir_ / "initdb.log") == 0;
  if (!copied && Run(InitdbCommand((dir_ / "data").string()), dir_ / "initdb.log") != 0) {
    return "initdb failed (is Debian's postgresql 15 installed?):\n" +
           TailOfFile(dir_ / "initdb.log");
  }
  for (int attempt = 0; attempt < 5; ++attempt) {  // another process may take the port first
    port_ = FreeLoopbackPort();
    if (StartOnPort().empty()) return "";
  }
  return "pg_ctl start failed 5 times:\n" + TailOfFile(dir_ / "server.log");
}

std::string PostgresServer::StartOnPort() {
  const std::string options = "-k " + dir_.string() + " -p " + std::to_string(port_) +
                              " -c listen_addresses=127.0.0.1 -c fsync=off";
  if (Run({std::string(kPostgresBin) + "/pg_ctl", "-D", (dir_ / "data").string(), "-l",
           (dir_ / "server.log").string(), "-w", "-t", "60", "-o", options, "start"},
          dir_ / "pg_ctl.log") != 0) {
    return "pg_ctl start failed:\n" + TailOfFile(dir_ / "server.log");
  }
  running_ = true;
  return "";
}

std::string PostgresServer::Stop() {
  if (!running_) return "";
  SignalAll(SIGCONT);  // a frozen server would never act on pg_ctl's signal
  if (Run({std::string(kPostgresBin) + "/pg_ctl", "-D", (dir_ / "data").string(), "-m", "fast",
           "-w", "stop"},
          dir_ / "pg_ctl.log") != 0) {
    return "pg_ctl stop failed:\n" + TailOfFile(dir_ / "pg_ctl.log");
  }
  running_ = false;
  return "";
}

// The postmaster first, so that it starts no new process once the others are signalled.
std::string PostgresServer::SignalAll(int signal) {
  if (!running_) return "the server is not running";
  std::ifstream pid_file(dir_ / "data" / "postmaster.pid");
  pid_t postmaster = 0;
  if (!(pid_file >> postmaster) || postmaster <= 0) return "no postmaster.pid";
  if (::kill(postmaster, signal) != 0) return "cannot signal the postmaster";
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    // /proc/PID/stat: "PID (COMM) STATE PPID ..."; COMM may hold spaces and parentheses.
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    std::string state;
    pid_t parent = 0;
    if (rest >> state >> parent && parent == postmaster) {
      ::kill(static_cast<pid_t>(std::stol(name)), signal);
    }
  }
  return "";
}

std::string PostgresServer::Freeze() { return SignalAll(SIGSTOP); }
std::string PostgresServer::Thaw() { return SignalAll(SIGCONT); }

void PostgresServer::StopAndRemove() {
  Stop();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

// A child process that outlives this one only long enough to stop the server and remove the
// directory when this process dies without TearDown (killed by a timeout, a crash, SIGPIPE):
// it waits for the end of a pipe whose only writer is this process.
void PostgresServer::StartGuardian() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return;  // CLOEXEC: postgres must not hold the writer
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[1]);
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, STDOUT_FILENO);  // so that whoever reads our output is not kept waiting
    ::dup2(null, STDERR_FILENO);
    char byte;
    ssize_t n;
    do {
      n = ::read(fds[0], &byte, 1);
    } while (n > 0 || (n < 0 && errno == EINTR));
    if (fs::exists(dir_ / "data" / "postmaster.pid")) {
      Run({std::string(kPostgresBin) + "/pg_ctl", "-D", (dir_ / "data").string(), "-m", "immediate",
           "-w", "stop"},
          "/dev/null");
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
    ::_exit(0);
  }
  ::close(fds[0]);
  if (pid < 0) {
    ::close(fds[1]);
    return;
  }
  guardian_pipe_ = fds[1];  // left open: this process's exit closes it
}

}  // namespace buildtrace
