// Tests of the harness itself, so that the end-to-end tests cannot pass by accident: a real
// server stops cleanly on SIGINT too, and fake servers (small shell scripts) that never listen,
// exit early, exit with a bad status or ignore SIGTERM are each reported, and never left running.
#include "tests/e2e/server_process.h"

#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <fstream>

#include "tests/e2e/e2e_fixture.h"

namespace buildtrace::e2e {
namespace {

using namespace std::chrono_literals;

class E2eServerProcess : public E2eTest {
 protected:
  bool NeedsServer() const override { return false; }

  ServerProcess::Options OptionsFor(std::string binary) const {
    ServerProcess::Options options;
    options.binary = std::move(binary);
    options.data_dir = data_dir();
    options.log_path = log_path();
    options.start_timeout = 5s;
    options.stop_timeout = 5s;
    return options;
  }

  // A fake `buildtrace` that runs `body` with /bin/sh; returns its path.
  std::string FakeServer(const std::string& body) const {
    const std::string path = root_dir() + "/fake-buildtrace";
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    EXPECT_EQ(::chmod(path.c_str(), 0755), 0);
    return path;
  }

  static bool Running(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }
};

constexpr char kListening[] =
    "echo 'buildtrace listening on http://127.0.0.1:4321 (store fake, warehouse fake)'";
// Stands in for a server that runs until a signal ends it (stdin is /dev/null, so no `cat`).
constexpr char kRunOn[] = "exec sleep 120";

TEST_F(E2eServerProcess, RealServerStopsCleanlyOnSigint) {
  auto server = ServerProcess::Start(OptionsFor(BinaryPath()));
  ASSERT_TRUE(server.ok()) << server.status().message();
  EXPECT_TRUE((*server)->listening_line().starts_with("buildtrace listening on http://127.0.0.1:"));
  HttpClient client((*server)->endpoint());
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health.ok()) << health.status().message();
  EXPECT_EQ(health->status, 200);
  // The client's keep-alive connection is still open: it must not hold the server up.
  const Status stopped = (*server)->Stop(SIGINT);
  EXPECT_TRUE(stopped.ok()) << stopped.message();
  EXPECT_NE((*server)->Stop().message(), "") << "a second Stop is an error";
}

TEST_F(E2eServerProcess, PortComesFromTheListeningLine) {
  auto server =
      ServerProcess::Start(OptionsFor(FakeServer(std::string(kListening) + "\n" + kRunOn)));
  ASSERT_TRUE(server.ok()) << server.status().message();
  EXPECT_EQ((*server)->port(), 4321);
  EXPECT_EQ((*server)->url(), "http://127.0.0.1:4321");
  // sleep dies of SIGTERM: not a clean exit.
  const Status stopped = (*server)->Stop();
  EXPECT_FALSE(stopped.ok());
  EXPECT_NE(stopped.message().find("killed by signal 15"), std::string::npos) << stopped.message();
}

TEST_F(E2eServerProcess, ExitBeforeListeningFailsTheStartWithTheLog) {
  auto server =
      ServerProcess::Start(OptionsFor(FakeServer("echo 'cannot open store' >&2\nexit 3")));
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("exited before"), std::string::npos)
      << server.status().message();
  EXPECT_NE(server.status().message().find("cannot open store"), std::string::npos)
      << server.status().message();
}

TEST_F(E2eServerProcess, SilentServerTimesOut) {
  ServerProcess::Options options = OptionsFor(FakeServer(kRunOn));
  options.start_timeout = 200ms;
  auto server = ServerProcess::Start(std::move(options));
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("no listening line within 200 ms"), std::string::npos)
      << server.status().message();
}

TEST_F(E2eServerProcess, WrongLineFailsTheStart) {
  auto server = ServerProcess::Start(
      OptionsFor(FakeServer(std::string("echo 'listening somewhere'\n") + kRunOn)));
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("listening somewhere"), std::string::npos)
      << server.status().message();
}

TEST_F(E2eServerProcess, NonZeroExitAfterSigtermIsReported) {
  // The shell runs its trap once `wait` is interrupted; the background sleep goes with it.
  auto server = ServerProcess::Start(
      OptionsFor(FakeServer(std::string("trap 'kill $child; exit 4' TERM\n") + kListening +
                            "\nsleep 120 </dev/null >/dev/null 2>&1 &\nchild=$!\nwait")));
  ASSERT_TRUE(server.ok()) << server.status().message();
  const Status stopped = (*server)->Stop();
  EXPECT_NE(stopped.message().find("exited with status 4"), std::string::npos) << stopped.message();
}

TEST_F(E2eServerProcess, ServerIgnoringSigtermIsKilledAfterTheBoundedWait) {
  ServerProcess::Options options =
      OptionsFor(FakeServer(std::string("trap '' TERM\n") + kListening + "\n" + kRunOn));
  options.stop_timeout = 300ms;
  auto server = ServerProcess::Start(std::move(options));
  ASSERT_TRUE(server.ok()) << server.status().message();
  const pid_t pid = (*server)->pid();
  const Status stopped = (*server)->Stop();
  EXPECT_NE(stopped.message().find("was killed with SIGKILL"), std::string::npos)
      << stopped.message();
  EXPECT_EQ((*server)->pid(), -1);
  EXPECT_FALSE(Running(pid)) << "the process is killed and reaped";
}

}  // namespace
}  // namespace buildtrace::e2e
