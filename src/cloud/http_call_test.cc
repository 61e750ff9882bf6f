// Tests of the retry policy (with an injected sleep) and of a call that gets no answer. The calls
// that do get answers are tested by the backends that make them, against real servers.
#include "cloud/http_call.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

namespace buildtrace {
namespace {

RetryPolicy RecordingPolicy(std::vector<std::chrono::milliseconds>& sleeps, int attempts = 4) {
  RetryPolicy policy;
  policy.max_attempts = attempts;
  policy.first_delay = std::chrono::milliseconds(100);
  policy.max_delay = std::chrono::milliseconds(250);
  policy.sleep = [&sleeps](std::chrono::milliseconds d) { sleeps.push_back(d); };
  return policy;
}

Result<HttpReply> Reply(long status) {
  HttpReply reply;
  reply.status = status;
  return reply;
}

TEST(CallWithRetriesTest, RetriesRetryableAnswersUntilOneIsNot) {
  std::vector<std::chrono::milliseconds> sleeps;
  std::vector<long> answers = {503, 429, 200};
  size_t calls = 0;
  Result<HttpReply> r =
      CallWithRetries(RecordingPolicy(sleeps), [&] { return Reply(answers[calls++]); });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(calls, 3u);
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_LE(sleeps[0].count(), 100);
  EXPECT_LE(sleeps[1].count(), 200);
}

TEST(CallWithRetriesTest, StopsAfterTheLastAttemptWithTheLastOutcome) {
  std::vector<std::chrono::milliseconds> sleeps;
  size_t calls = 0;
  Result<HttpReply> r = CallWithRetries(RecordingPolicy(sleeps, 3), [&]() -> Result<HttpReply> {
    ++calls;
    return Unavailable("no route");
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "no route");
  EXPECT_EQ(calls, 3u);
  EXPECT_EQ(sleeps.size(), 2u);
}

TEST(CallWithRetriesTest, NeverRetriesWhatIsNotRetryable) {
  for (long status : {200L, 201L, 304L, 400L, 401L, 403L, 404L, 409L, 412L}) {
    std::vector<std::chrono::milliseconds> sleeps;
    size_t calls = 0;
    Result<HttpReply> r = CallWithRetries(RecordingPolicy(sleeps), [&] {
      ++calls;
      return Reply(status);
    });
    EXPECT_EQ(calls, 1u) << status;
    EXPECT_TRUE(sleeps.empty()) << status;
  }
  std::vector<std::chrono::milliseconds> sleeps;
  size_t calls = 0;
  Result<HttpReply> r = CallWithRetries(RecordingPolicy(sleeps), [&]() -> Result<HttpReply> {
    ++calls;
    return InvalidArgument("bad");
  });
  EXPECT_EQ(calls, 1u);
}

TEST(RetryPolicyTest, DelaysGrowExponentiallyUpToTheCap) {
  RetryPolicy policy;
  policy.first_delay = std::chrono::milliseconds(100);
  policy.max_delay = std::chrono::milliseconds(700);
  std::mt19937_64 rng(7);
  for (int attempt = 1; attempt <= 6; ++attempt) {
    const int64_t cap = std::min<int64_t>(700, 100 << (attempt - 1));
    for (int i = 0; i < 200; ++i) {
      const auto d = policy.DelayBefore(attempt, rng);
      EXPECT_GE(d.count(), 0);
      EXPECT_LE(d.count(), cap) << attempt;
    }
  }
}

TEST(PerformHttpCallTest, NoAnswerIsUnavailableNamingWhat) {
  // A port that was free a moment ago: nothing listens there.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  HttpCall call;
  call.url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/x";
  Result<HttpReply> r = PerformHttpCall(call, "test store: read x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message().rfind("test store: read x: ", 0), 0u) << r.status().message();
}

}  // namespace
}  // namespace buildtrace
