// Connection-level limits, each set small through its `serve` flag: a client that trickles its
// headers is cut off by the header timeout, a long URL gets 414, large headers 431, and a
// connection beyond the maximum, when none of the open ones is idle, gets 503 and is closed.
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/raw_connection.h"

namespace buildtrace::e2e {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class E2eHeaderTimeout : public E2eTest {
 protected:
  // The idle (60 s) and whole-request (120 s) timeouts keep their defaults, far beyond the test.
  std::vector<std::string> ServeArgs() const override { return {"--header-timeout", "500ms"}; }
};

TEST_F(E2eHeaderTimeout, ClientTricklingItsHeadersIsCutOff) {
  RawConnection conn(server().port());
  ASSERT_TRUE(conn.ok()) << conn.error();
  const std::string start = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  const auto first_byte = Clock::now();
  // One byte every 50 ms, forever: headers that never end, and never reach the size limit.
  for (size_t i = 0; !conn.closed() && Clock::now() - first_byte < std::chrono::seconds(10); ++i) {
    if (!conn.Send(std::string(1, i < start.size() ? start[i] : 'a'))) break;
    conn.WaitForClose(milliseconds(50));
  }
  const auto elapsed = Clock::now() - first_byte;
  EXPECT_TRUE(conn.closed() || conn.WaitForClose(milliseconds(1000)))
      << "still open after 10 s of trickled headers";
  EXPECT_GE(elapsed, milliseconds(400));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  EXPECT_EQ(conn.received(), "");
}

TEST_F(E2eHeaderTimeout, IdleWaitBeforeTheFirstByteIsNotCutOff) {
  RawConnection conn(server().port());
  ASSERT_TRUE(conn.ok()) << conn.error();
  // Twice the header timeout without a byte: only the idle timeout applies yet.
  EXPECT_FALSE(conn.WaitForClose(milliseconds(1000)));
  ASSERT_TRUE(conn.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  ASSERT_TRUE(conn.ReadUntilClosed(milliseconds(10'000)));
  EXPECT_EQ(conn.received().rfind("HTTP/1.1 200", 0), 0u) << conn.received();
}

class E2eRequestSizeLimits : public E2eTest {
 protected:
  std::vector<std::string> ServeArgs() const override {
    return {"--max-url", "1KiB", "--max-headers", "4KiB"};
  }
};

TEST_F(E2eRequestSizeLimits, LongUrlIs414) {
  EXPECT_TRUE(IsError(Get("/jobs/1?project=" + std::string(1100, 'a')), 414, "uri_too_long"));
  const int under_limit = Get("/jobs/1?project=" + std::string(900, 'a')).status;
  EXPECT_NE(under_limit, 414);
  EXPECT_NE(under_limit, 0);
}

TEST_F(E2eRequestSizeLimits, LargeHeadersAre431) {
  EXPECT_TRUE(
      IsError(Get("/healthz", {{"X-Big", std::string(5000, 'b')}}), 431, "headers_too_large"));
  EXPECT_EQ(Get("/healthz", {{"X-Big", std::string(3000, 'b')}}).status, 200);
}

class E2eMaxConnections : public E2eTest {
 protected:
  std::vector<std::string> ServeArgs() const override { return {"--max-connections", "2"}; }
};

TEST_F(E2eMaxConnections, ConnectionBeyondTheMaximumGets503AndIsClosed) {
  // Two busy connections: each has sent the headers of a request whose body has not come (the
  // 100 Continue says the server has read them). Idle ones would be closed to make room instead.
  auto first = std::make_unique<RawConnection>(server().port());
  RawConnection second(server().port());
  ASSERT_TRUE(first->ok() && second.ok());
  for (RawConnection* busy : {first.get(), &second}) {
    ASSERT_TRUE(
        busy->Send("POST /process HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
                   "Expect: 100-continue\r\n\r\n"));
    ASSERT_TRUE(busy->ReadUntil("HTTP/1.1 100 Continue\r\n\r\n", milliseconds(10'000)));
  }
  RawConnection third(server().port());
  ASSERT_TRUE(third.ok()) << third.error();
  ASSERT_TRUE(third.ReadUntilClosed(milliseconds(10'000))) << third.received();
  EXPECT_EQ(third.received().rfind("HTTP/1.1 503", 0), 0u) << third.received();
  EXPECT_NE(third.received().find("\"too_many_connections\""), std::string::npos)
      << third.received();
  third.Close();

  // Once one closes, a new connection is served (the server sees the close asynchronously).
  first.reset();
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  int status = 0;
  while (Clock::now() < deadline) {
    RawConnection probe(server().port());
    ASSERT_TRUE(probe.ok()) << probe.error();
    ASSERT_TRUE(probe.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    probe.ReadUntilClosed(milliseconds(5000));
    if (probe.received().rfind("HTTP/1.1 200", 0) == 0) {
      status = 200;
      break;
    }
    std::this_thread::sleep_for(milliseconds(20));  // retry pacing, not synchronisation
  }
  EXPECT_EQ(status, 200);
}

class E2eJobLimits : public E2eTest {
 protected:
  std::vector<std::string> ServeArgs() const override {
    return {"--max-objects", "2", "--max-jobs-per-request", "2", "--max-id-bytes", "4"};
  }
};

TEST_F(E2eJobLimits, EachLimitHasItsOwnErrorAndNothingIsStored) {
  TestJob many;
  many.state = R"({"a":"h","b":"h","c":"h"})";
  HttpResponse objects = Post("/process", many.ToJson());
  EXPECT_TRUE(IsError(objects, 400, "invalid_job"));
  EXPECT_NE(objects.body.find("holds more than 2 objects"), std::string::npos) << objects.body;

  TestJob long_id;
  long_id.state = R"({"abcde":"h"})";
  HttpResponse id = Post("/process", long_id.ToJson());
  EXPECT_TRUE(IsError(id, 400, "invalid_job"));
  EXPECT_NE(id.body.find("object IDs must be 1-4 bytes"), std::string::npos) << id.body;

  TestJob a, b, c;
  a.job_id = 1;
  b.job_id = 2;
  c.job_id = 3;
  HttpResponse jobs = Post("/process", BatchJson({a, b, c}));
  EXPECT_TRUE(IsError(jobs, 413, "too_many_jobs"));
  ExpectNothingStored();
  EXPECT_EQ(Post("/process", BatchJson({a, b})).status, 202);
}

}  // namespace
}  // namespace buildtrace::e2e
