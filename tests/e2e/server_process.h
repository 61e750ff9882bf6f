// A real `buildtrace serve` process for the end-to-end tests: started with fork/exec on port 0,
// its port learnt from the one line it prints once it listens, its log (stderr) kept in a file,
// stopped with SIGTERM the way an operator or a service manager stops it.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client/http_client.h"
#include "core/status.h"

namespace buildtrace::e2e {

class ServerProcess {
 public:
  struct Options {
    std::string binary;    // path of the `buildtrace` executable
    std::string data_dir;  // --data-dir; must exist
    std::string log_path;  // the server's stderr is appended here (kept across restarts)
    std::vector<std::string> extra_args;  // after `serve --port 0 --data-dir DIR`
    // --analysis-workers: none by default, so that a test's reports are computed when it asks
    // (and say so: "inserted"); tests of background analysis ask for workers.
    int analysis_workers = 0;
    // A command that runs the binary, before it on the command line (e.g. {"/usr/bin/prlimit",
    // "--nofile=160:160", "--"}); it must exec the binary in its own process. Empty: none.
    std::vector<std::string> launcher;
    // How long the server may take to print its listening line, and to exit after SIGTERM.
    std::chrono::milliseconds start_timeout = std::chrono::seconds(15);
    std::chrono::milliseconds stop_timeout = std::chrono::seconds(15);
  };

  // Starts the server and returns once it listens. Fails (kUnavailable, with the server's log
  // in the message) when it exits or stays silent for `start_timeout` instead; the process is
  // then killed and reaped, never left behind.
  static Result<std::unique_ptr<ServerProcess>> Start(Options options);

  // Kills (SIGKILL) and reaps the process if Stop() has not been called.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Sends `signal` (SIGTERM or SIGINT) and waits up to `stop_timeout` for the process to exit.
  // Ok only when it exited by itself with status 0; otherwise the message says what happened
  // (another exit status, a signal, or no exit in time, after which it was killed with SIGKILL
  // and reaped). Once only.
  Status Stop(int signal = SIGTERM);
  // Like Stop(), for a process the test has already signalled itself (::kill(pid(), ...)):
  // only waits for its exit and reports it the same way. Once only, instead of Stop().
  Status AwaitExit();

  pid_t pid() const { return pid_; }  // -1 once the process is reaped
  uint16_t port() const { return port_; }
  HttpEndpoint endpoint() const { return HttpEndpoint{"127.0.0.1", port_}; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The line the server printed on stdout once it listened, without the newline.
  const std::string& listening_line() const { return listening_line_; }

 private:
  ServerProcess(Options options, pid_t pid, int stdout_fd, int pid_fd);

  Status ReadListeningLine();
  // Waits until the process has exited or `timeout` has passed; true when it has exited.
  bool WaitForExit(std::chrono::milliseconds timeout);
  // Reaps the exited process; returns its wait status.
  int Reap();
  void KillAndReap();
  // Waits for the exit that `cause` (e.g. "SIGTERM") should bring, then reaps: see Stop().
  Status AwaitExitAfter(const std::string& cause);

  Options options_;
  pid_t pid_ = -1;      // -1 once reaped
  int stdout_fd_ = -1;  // read end of the server's stdout
  int pid_fd_ = -1;     // pidfd of the server, or -1 where the kernel has none
  uint16_t port_ = 0;
  std::string listening_line_;
};

// The server log at `path`, for a failure message; a note instead when it cannot be read.
std::string ReadLog(const std::string& path);

}  // namespace buildtrace::e2e
