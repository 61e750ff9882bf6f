// HTTP/1.1 on the wire, written byte by byte over a plain socket: a chunked body (read by the
// HTTP parser) and a body of known length followed at once by a pipelined request (read straight
// into the request, which must take exactly Content-Length bytes and leave the rest).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "tests/e2e/e2e_fixture.h"

namespace buildtrace::e2e {
namespace {

class E2eWire : public E2eTest {
 protected:
  // Sends `bytes` on a fresh connection and reads until `responses` HTTP answers have arrived
  // (counted by their status lines) or 10 s pass.
  std::string Exchange(const std::string& bytes, int responses) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server().port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    std::string answer;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    auto count = [&] {
      int n = 0;
      for (size_t at = answer.find("HTTP/1.1 "); at != std::string::npos;
           at = answer.find("HTTP/1.1 ", at + 1)) {
        ++n;
      }
      return n;
    };
    while (count() < responses && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[65536];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      answer.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return answer;
  }
};

TEST_F(E2eWire, ChunkedBodyIsStored) {
  TestJob job;
  job.job_id = 1;
  const std::string body = job.ToJson();
  const size_t half = body.size() / 2;
  char size1[24], size2[24];
  std::snprintf(size1, sizeof size1, "%zx", half);
  std::snprintf(size2, sizeof size2, "%zx", body.size() - half);
  const std::string request =
      "POST /process HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
      "\r\n" +
      std::string(size1) + "\r\n" + body.substr(0, half) + "\r\n" + size2 + "\r\n" +
      body.substr(half) + "\r\n0\r\n\r\n";
  const std::string answer = Exchange(request, 1);
  EXPECT_EQ(answer.rfind("HTTP/1.1 202", 0), 0u) << answer;
  EXPECT_EQ(Get("/jobs/1?project=web").status, 200);
}

TEST_F(E2eWire, PipelinedRequestAfterABodyOfKnownLengthIsAnsweredToo) {
  TestJob job;
  job.job_id = 2;
  const std::string body = job.ToJson();
  const std::string request =
      "POST /process HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body +
      "GET /jobs/2?project=web HTTP/1.1\r\nHost: x\r\n"
      "Connection: close\r\n\r\n";
  const std::string answer = Exchange(request, 2);
  const size_t second = answer.find("HTTP/1.1 ", 1);
  ASSERT_NE(second, std::string::npos) << answer;
  EXPECT_EQ(answer.rfind("HTTP/1.1 202", 0), 0u) << answer;
  EXPECT_EQ(answer.compare(second, 12, "HTTP/1.1 200"), 0) << answer;
  EXPECT_NE(answer.find("\"job_id\":2", second), std::string::npos) << answer;
}

}  // namespace
}  // namespace buildtrace::e2e
