// A real PostgreSQL 15 server for tests: a fresh cluster in a temporary directory (a copy of one
// that initdb made once per machine and initdb binary, kept in the temporary folder; as the
// postgres user when run as root, as initdb demands), pg_ctl start on a free loopback port, stop
// and removal at the end, and a guardian process that cleans up if the test process dies first.
// Used by the PostgreSQL warehouse's tests and by the end-to-end tests.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "testing/loopback_port.h"

namespace buildtrace {

// One PostgreSQL server in a temporary directory (mode 777 so the postgres user can write it).
// Every method returns an empty string on success or what went wrong.
class PostgresServer {
 public:
  // A fresh cluster, then start on a free port (retried: another process may take the port
  // first).
  std::string Start();
  // Starts the server again on the port it had, keeping its data.
  std::string StartOnPort();
  std::string Stop();
  void StopAndRemove();
  // SIGSTOP / SIGCONT to the postmaster and every process it started (backends, checkpointer,
  // ...): the server keeps its connections open but answers nothing until thawed, as a hung
  // server or a frozen machine would.
  std::string Freeze();
  std::string Thaw();

  int port() const { return port_; }
  // A libpq URL for `database` as the superuser (trust authentication).
  std::string Url(const std::string& database) const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
  }

 private:
  void StartGuardian();
  std::string SignalAll(int signal);

  std::filesystem::path dir_;
  int port_ = 0;
  bool running_ = false;
  int guardian_pipe_ = -1;
};

}  // namespace buildtrace
