// Graceful shutdown: on SIGTERM the server refuses new connections at once, still reads, handles
// and answers a request whose headers had arrived, and then exits with status 0.
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/raw_connection.h"

namespace buildtrace::e2e {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// The fixture's server is not used: this test signals its own and waits for the exit itself.
class E2eShutdown : public E2eTest {
 protected:
  bool NeedsServer() const override { return false; }
};

// A job of several MB, so that its body is a request worth finishing.
std::string LargeJob() {
  TestJob job;
  job.job_id = 7;
  std::string state = "{";
  for (int i = 0; i < 150'000; ++i) {
    if (i > 0) state += ',';
    state += "\"OBJ" + std::to_string(i) + "\":\"door_" + std::to_string(i % 997) + "_20_5_5\"";
  }
  job.state = state + "}";
  return job.ToJson();
}

TEST_F(E2eShutdown, RequestInFlightIsAnsweredNewConnectionsAreRefusedExitIsClean) {
  ServerProcess::Options options;
  options.binary = BinaryPath();
  options.data_dir = data_dir();
  options.log_path = log_path();
  auto started = ServerProcess::Start(options);
  ASSERT_TRUE(started.ok()) << started.status().message();
  ServerProcess& server = **started;
  const std::string body = LargeJob();
  ASSERT_GT(body.size(), 3u << 20);

  // The 100 Continue proves the server has the headers: the request is in flight.
  RawConnection conn(server.port());
  ASSERT_TRUE(conn.ok()) << conn.error();
  ASSERT_TRUE(
      conn.Send("POST /process HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Expect: 100-continue\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n"));
  ASSERT_TRUE(conn.ReadUntil("\r\n\r\n", milliseconds(10'000))) << conn.received();
  ASSERT_EQ(conn.received().rfind("HTTP/1.1 100", 0), 0u) << conn.received();
  ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);

  // New connections are refused while the request is still in flight (its body unsent).
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  int refused = 0;
  while (Clock::now() < deadline) {
    RawConnection probe(server.port());
    if (!probe.ok()) {
      refused = probe.error();
      break;
    }
    std::this_thread::sleep_for(milliseconds(10));  // retry pacing, not synchronisation
  }
  EXPECT_EQ(refused, ECONNREFUSED);

  ASSERT_TRUE(conn.Send(body));
  EXPECT_TRUE(conn.ReadUntilClosed(milliseconds(30'000))) << conn.received();
  const std::string& answer = conn.received();
  const size_t second = answer.find("HTTP/1.1 ", 1);
  ASSERT_NE(second, std::string::npos) << answer;
  EXPECT_EQ(answer.compare(second, 12, "HTTP/1.1 202"), 0) << answer;
  EXPECT_NE(answer.find("Connection: close", second), std::string::npos) << answer;
  const size_t body_at = answer.find("\r\n\r\n", second);
  ASSERT_NE(body_at, std::string::npos) << answer;
  JsonDoc doc(answer.substr(body_at + 4));
  EXPECT_EQ(doc.Int("/accepted/0/job_id"), 7);
  EXPECT_TRUE(doc.Bool("/accepted/0/created"));

  const Status exited = server.AwaitExit();
  EXPECT_TRUE(exited.ok()) << exited.message();
}

}  // namespace
}  // namespace buildtrace::e2e
