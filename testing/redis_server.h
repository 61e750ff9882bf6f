// A real Redis 7 server for tests: Debian's redis-server as a child of the test process, on a
// free loopback port, without persistence (--save '' --appendonly no), in a temporary directory.
// Starting waits for the server's own "ready" message (the systemd notify protocol, which
// redis-server speaks with --supervised systemd), not for a guessed time. The kernel kills the
// server if the test process dies first (PR_SET_PDEATHSIG), so unlike PostgresServer it needs no
// guardian process; Start and Stop must come from the same thread (the main one).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "testing/loopback_port.h"
#include "testing/test_process.h"

namespace buildtrace {

// Every method returns an empty string on success or what went wrong.
class RedisServer {
 public:
  // With a password, the server demands it (--requirepass).
  explicit RedisServer(std::string password = "") : password_(std::move(password)) {}
  ~RedisServer() { StopAndRemove(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Makes the directory, then starts on a free port (retried: another process may take it).
  std::string Start();
  // Starts again on the port it had (empty: nothing is persisted).
  std::string StartOnPort();
  std::string Stop();
  void StopAndRemove();

  int port() const { return port_; }
  std::string Url(const std::string& stream) const {
    return "redis://127.0.0.1:" + std::to_string(port_) + "/" + stream;
  }

 private:
  std::string password_;
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace buildtrace
