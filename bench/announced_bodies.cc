// Resident memory of a running `buildtrace serve` while many connections each announce a large
// body (Content-Length) and send one byte of it: the attack that once made the server allocate
// every announced body in full. Prints the server's RSS before and once it has settled.
//
//   announced_bodies PORT PID [CONNECTIONS=100] [ANNOUNCED_MIB=64] [AUTHORIZATION]
//
// AUTHORIZATION is sent as the Authorization header's value (e.g. "Bearer TOKEN"), for a server
// with access control that should read the bodies rather than refuse them.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "resident_memory.h"
#include "tests/e2e/raw_connection.h"

namespace {

using buildtrace::ReadRssMib;
using buildtrace::e2e::RawConnection;

// Samples RSS every 100 ms until it has not changed by more than 1 MiB for a second (`settled`),
// or for 20 s.
double SettledRssMib(pid_t pid, bool& settled) {
  double last = ReadRssMib(pid);
  int stable = 0;
  for (int i = 0; i < 200 && stable < 10; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const double now = ReadRssMib(pid);
    stable = now - last < 1.0 && last - now < 1.0 ? stable + 1 : 0;
    last = now;
  }
  settled = stable >= 10;
  return last;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s PORT PID [CONNECTIONS] [ANNOUNCED_MIB] [AUTHORIZATION]\n",
                 argv[0]);
    return 2;
  }
  const auto port = static_cast<uint16_t>(std::atoi(argv[1]));
  const auto pid = static_cast<pid_t>(std::atoi(argv[2]));
  const int connections = argc > 3 ? std::atoi(argv[3]) : 100;
  const long announced_mib = argc > 4 ? std::atol(argv[4]) : 64;
  const std::string auth = argc > 5 ? std::string("Authorization: ") + argv[5] + "\r\n" : "";
  const double before = ReadRssMib(pid);
  if (before < 0) {
    std::fprintf(stderr, "no process %d\n", static_cast<int>(pid));
    return 1;
  }
  const std::string request = "POST /process HTTP/1.1\r\nHost: bench\r\n" + auth +
                              "Content-Length: " + std::to_string(announced_mib << 20) +
                              "\r\n\r\n[";
  std::vector<std::unique_ptr<RawConnection>> open;
  int answered = 0;
  for (int i = 0; i < connections; ++i) {
    auto conn = std::make_unique<RawConnection>(port);
    if (!conn->ok() || !conn->Send(request)) {
      std::fprintf(stderr, "connection %d failed (errno %d)\n", i, conn->error());
      return 1;
    }
    open.push_back(std::move(conn));
  }
  bool settled = false;
  const double after = SettledRssMib(pid, settled);
  for (auto& conn : open) {
    conn->WaitForClose(std::chrono::milliseconds(0));
    answered += conn->received().empty() ? 0 : 1;
  }
  std::printf(
      "server RSS: %.1f MiB before, %.1f MiB with %d connections each announcing %ld MiB "
      "and sending 1 byte (%+.1f MiB, %s; %d answered at once)\n",
      before, after, connections, announced_mib, after - before,
      settled ? "settled" : "still growing after 20 s", answered);
  return 0;
}
