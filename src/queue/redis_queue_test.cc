// RedisQueue against a real redis-server that this binary starts on a free loopback port: the
// queue conformance suite on a fresh stream per queue, plus what only Redis has: a second
// consumer taking over a dead one's task, the URL's checks, losing and regaining the server, and
// the password from the environment. A server that cannot be started fails every test; nothing
// is skipped.
#include "queue/redis_queue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "queue/redis_connection.h"
#include "testing/analysis_queue_conformance.h"
#include "testing/redis_server.h"

namespace buildtrace {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr milliseconds kLease{1'000};
constexpr milliseconds kPatience{5'000};

RedisServer server;
std::string server_error = "the test environment did not run";  // empty once the server runs

class RedisEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    ::unsetenv("BUILDTRACE_REDIS_PASSWORD");
    server_error = server.Start();
    // Not fatal here, so that every test runs and fails with this message.
    if (!server_error.empty())
      ADD_FAILURE() << "redis-server could not be started: " << server_error;
  }
  void TearDown() override { server.StopAndRemove(); }
};

[[maybe_unused]] ::testing::Environment* const environment =
    ::testing::AddGlobalTestEnvironment(new RedisEnvironment);

// A stream name no other queue of this run uses.
std::string FreshStream() {
  static std::atomic<int> next{0};
  return "bt-test-" + std::to_string(next.fetch_add(1));
}

RedisQueueOptions Options(const RedisServer& on, std::string stream, std::string consumer = "c") {
  RedisQueueOptions options;
  options.host = "127.0.0.1";
  options.port = on.port();
  options.stream = std::move(stream);
  options.consumer = std::move(consumer);
  options.lease = kLease;
  return options;
}

// A queue on the shared server; nullptr (and a failure saying why) when it cannot be opened.
std::unique_ptr<RedisQueue> OpenQueue(RedisQueueOptions options) {
  if (!server_error.empty()) {
    ADD_FAILURE() << "no redis-server: " << server_error;
    return nullptr;
  }
  Result<std::unique_ptr<RedisQueue>> queue = RedisQueue::Open(std::move(options));
  if (!queue.ok()) {
    ADD_FAILURE() << queue.status().message();
    return nullptr;
  }
  return std::move(*queue);
}

// The server is discarded at the end, so a queue leaves nothing behind that matters.
std::unique_ptr<AnalysisQueue> MakeQueue() { return OpenQueue(Options(server, FreshStream())); }

INSTANTIATE_TEST_SUITE_P(Redis, AnalysisQueueConformanceTest,
                         ::testing::Values(AnalysisQueueFactory{"Redis", &MakeQueue, true}),
                         AnalysisQueueFactoryName);

std::vector<QueueDelivery> ReceiveOne(AnalysisQueue& queue, milliseconds wait) {
  Result<std::vector<QueueDelivery>> got = queue.Receive(1, wait);
  EXPECT_TRUE(got.ok()) << got.status().message();
  return got.ok() ? std::move(*got) : std::vector<QueueDelivery>{};
}

TEST(RedisQueueTest, SecondConsumerTakesOverATaskTheFirstNeverAcknowledged) {
  const std::string stream = FreshStream();
  std::unique_ptr<RedisQueue> first = OpenQueue(Options(server, stream, "worker-1"));
  std::unique_ptr<RedisQueue> second = OpenQueue(Options(server, stream, "worker-2"));
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(first->Publish(std::vector<AnalysisTask>{{"p", 5}}).ok());
  std::vector<QueueDelivery> taken = ReceiveOne(*first, kPatience);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].attempt, 1);
  // worker-1 dies holding the task; worker-2 gets it once the lease has run out.
  std::vector<QueueDelivery> again = ReceiveOne(*second, kLease + kPatience);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].task, (AnalysisTask{"p", 5}));
  EXPECT_EQ(again[0].attempt, 2);
  EXPECT_EQ(again[0].receipt, taken[0].receipt);
  // worker-1's late Retry cannot take it back; worker-2's Ack ends it.
  EXPECT_EQ(first->Retry(taken[0], milliseconds(0)).code(), StatusCode::kNotFound);
  ASSERT_TRUE(second->Ack(again[0]).ok());
  EXPECT_EQ(**second->Depth(), 0);
}

TEST(RedisQueueTest, DelayedRetryComesBackNoSoonerThanItsDelay) {
  std::unique_ptr<RedisQueue> queue = OpenQueue(Options(server, FreshStream()));
  ASSERT_TRUE(queue);
  ASSERT_TRUE(queue->Publish(std::vector<AnalysisTask>{{"p", 1}}).ok());
  std::vector<QueueDelivery> first = ReceiveOne(*queue, kPatience);
  ASSERT_EQ(first.size(), 1u);
  const milliseconds delay{600};
  const auto retried_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(queue->Retry(first[0], delay).ok());
  std::vector<QueueDelivery> second = ReceiveOne(*queue, delay + kPatience);
  ASSERT_EQ(second.size(), 1u);
  // Redis counts idle time in whole milliseconds: allow it one.
  EXPECT_GE(std::chrono::steady_clock::now() - retried_at, delay - milliseconds(1));
  EXPECT_EQ(second[0].attempt, 2);
  // A second Retry counts one more delivery, not two.
  ASSERT_TRUE(queue->Retry(second[0], milliseconds(0)).ok());
  std::vector<QueueDelivery> third = ReceiveOne(*queue, kPatience);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].attempt, 3);
  ASSERT_TRUE(queue->Ack(third[0]).ok());
}

TEST(RedisQueueTest, UnknownReceiptIsNotFound) {
  const std::string stream = FreshStream();
  std::unique_ptr<RedisQueue> queue = OpenQueue(Options(server, stream));
  ASSERT_TRUE(queue);
  for (const char* receipt : {"", "x12", "12", "1-2-3", "99-0"}) {
    const QueueDelivery delivery{{"p", 1}, receipt, 1};
    EXPECT_EQ(queue->Ack(delivery).code(), StatusCode::kNotFound) << receipt;
    EXPECT_EQ(queue->Retry(delivery, milliseconds(0)).code(), StatusCode::kNotFound) << receipt;
  }
  EXPECT_EQ(queue->Ack(QueueDelivery{{"p", 1}, "99-0", 1}).message(),
            "redis queue " + server.Url(stream) +
                ": entry \"99-0\" is not pending (acknowledged already, or never delivered)");
}

TEST(RedisQueueTest, EntryWithoutAValidTaskIsDroppedNotDelivered) {
  const std::string stream = FreshStream();
  std::unique_ptr<RedisQueue> queue = OpenQueue(Options(server, stream));
  ASSERT_TRUE(queue);
  Result<std::unique_ptr<RedisConnection>> raw =
      RedisConnection::Connect(RedisEndpoint{"127.0.0.1", server.port()});
  ASSERT_TRUE(raw.ok()) << raw.status().message();
  for (const RedisCommand& bad : {RedisCommand{"XADD", stream, "*", "task", "{\"job_id\":0}"},
                                  RedisCommand{"XADD", stream, "*", "other", "x"}}) {
    Result<RedisReply> added = (*raw)->Call(bad);
    ASSERT_TRUE(added.ok() && (*added)->type == REDIS_REPLY_STRING);
  }
  ASSERT_TRUE(queue->Publish(std::vector<AnalysisTask>{{"p", 9}}).ok());
  EXPECT_EQ(**queue->Depth(), 3);
  Result<std::vector<QueueDelivery>> got = queue->Receive(10, kPatience);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].task, (AnalysisTask{"p", 9}));
  EXPECT_EQ(**queue->Depth(), 1);  // the two bad entries are gone
}

TEST(RedisQueueTest, DescribeNamesEveryParameterAndDefaults) {
  std::unique_ptr<RedisQueue> queue = OpenQueue(Options(server, "described", "me"));
  ASSERT_TRUE(queue);
  EXPECT_EQ(queue->Describe(), "redis://127.0.0.1:" + std::to_string(server.port()) +
                                   "/described?group=buildtrace&consumer=me&lease-ms=1000"
                                   "&timeout-ms=5000");
  RedisQueueOptions defaults = Options(server, "described", "");
  std::unique_ptr<RedisQueue> unnamed = OpenQueue(defaults);
  ASSERT_TRUE(unnamed);
  EXPECT_THAT(unnamed->Describe(), HasSubstr("-" + std::to_string(::getpid()) + "&lease-ms=1000"));
}

TEST(RedisQueueUrlTest, ReadsEveryPart) {
  Result<RedisQueueOptions> full = ParseRedisQueueUrl(
      "redis://cache.example.com:6380/bt:analysis?group=g-1&consumer=host_7.a&lease-ms=30000"
      "&timeout-ms=250");
  ASSERT_TRUE(full.ok()) << full.status().message();
  EXPECT_EQ(full->host, "cache.example.com");
  EXPECT_EQ(full->port, 6380);
  EXPECT_EQ(full->stream, "bt:analysis");
  EXPECT_EQ(full->group, "g-1");
  EXPECT_EQ(full->consumer, "host_7.a");
  EXPECT_EQ(full->lease, milliseconds(30'000));
  EXPECT_EQ(full->timeout, milliseconds(250));

  Result<RedisQueueOptions> defaults = ParseRedisQueueUrl("REDIS://10.0.0.2/s");
  ASSERT_TRUE(defaults.ok()) << defaults.status().message();
  EXPECT_EQ(defaults->host, "10.0.0.2");
  EXPECT_EQ(defaults->port, 6379);
  EXPECT_EQ(defaults->group, "buildtrace");
  EXPECT_EQ(defaults->consumer, "");  // Open makes it <hostname>-<pid>
  EXPECT_EQ(defaults->lease, milliseconds(60'000));
  EXPECT_EQ(defaults->timeout, milliseconds(5'000));

  Result<RedisQueueOptions> ipv6 = ParseRedisQueueUrl("redis://[::1]:7000/s");
  ASSERT_TRUE(ipv6.ok()) << ipv6.status().message();
  EXPECT_EQ(ipv6->host, "::1");
  EXPECT_EQ(ipv6->port, 7000);
}

TEST(RedisQueueUrlTest, SaysWhatToFix) {
  const std::string example = "redis://127.0.0.1:6379/buildtrace-analysis";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"redis://:secret@h:6379/s",
       "a redis:// queue URL holds no user or password (it has an '@'); give the password in "
       "BUILDTRACE_REDIS_PASSWORD and write e.g. " +
           example},
      {"rediss://h/s", "queue URL \"rediss://h/s\" is not a redis:// URL; write e.g. " + example},
      {"redis://h:6379",
       "queue URL \"redis://h:6379\" names no stream; write "
       "redis://HOST:PORT/STREAM, e.g. " +
           example},
      {"redis://h:6379/",
       "queue URL \"redis://h:6379/\" names no stream; write "
       "redis://HOST:PORT/STREAM, e.g. " +
           example},
      {"redis://:6379/s",
       "queue URL \"redis://:6379/s\" names no host; write "
       "redis://HOST:PORT/STREAM, e.g. " +
           example},
      {"redis://h_1/s",
       "queue URL \"redis://h_1/s\" has an invalid host \"h_1\"; give a host "
       "name, an IPv4 address or [an IPv6 address]"},
      {"redis://[::1/s",
       "queue URL \"redis://[::1/s\" has no ']' after its IPv6 address; "
       "write e.g. redis://[::1]:6379/S"},
      {"redis://h:0/s", "URL \"redis://h:0/s\": the port must be a whole number from 1 to 65535"},
      {"redis://h:x/s", "URL \"redis://h:x/s\": the port must be a whole number from 1 to 65535"},
      {"redis://h:70000/s",
       "URL \"redis://h:70000/s\": the port must be a whole number from 1 to 65535"},
      {"redis://h/a/b",
       "queue URL \"redis://h/a/b\" has an invalid stream name \"a/b\"; use 1 to "
       "128 letters, digits and . _ : -"},
      {"redis://h/" + std::string(129, 's'),
       "queue URL \"redis://h/" + std::string(129, 's') + "\" has an invalid stream name \"" +
           std::string(129, 's') + "\"; use 1 to 128 letters, digits and . _ : -"},
      {"redis://h/s?group=a%20b",
       "queue URL \"redis://h/s?group=a%20b\" has an invalid group "
       "name \"a%20b\"; use 1 to 128 letters, digits and . _ : -"},
      {"redis://h/s?consumer=x*",
       "queue URL \"redis://h/s?consumer=x*\" has an invalid consumer "
       "name \"x*\"; use 1 to 128 letters, digits and . _ : -"},
      {"redis://h/s?lease-ms=99",
       "URL \"redis://h/s?lease-ms=99\": lease-ms must be a whole number from 100 to 86400000"},
      {"redis://h/s?timeout-ms=1h",
       "URL \"redis://h/s?timeout-ms=1h\": timeout-ms must be a whole number from 100 to 600000"},
      {"redis://h/s?db=2",
       "queue URL \"redis://h/s?db=2\" has an unknown parameter db; redis:// "
       "takes group, consumer, lease-ms and timeout-ms"},
      {"redis://h/s?group=a&group=b",
       "backend URL \"redis://h/s?group=a&group=b\" gives "
       "parameter group twice; write parameters as "
       "?name=value&name=value"},
  };
  for (const auto& [url, message] : cases) {
    Result<RedisQueueOptions> parsed = ParseRedisQueueUrl(url);
    ASSERT_FALSE(parsed.ok()) << url;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << url;
    EXPECT_EQ(parsed.status().message(), message) << url;
    EXPECT_EQ(RedisQueue::Open(url).status().message(), message) << url;
  }
}

TEST(RedisQueueTest, StoppedServerIsUnavailableNamingItThenTheNextCallWorks) {
  RedisServer own;  // not the shared one: the other tests keep theirs
  ASSERT_EQ(own.Start(), "");
  const std::string stream = FreshStream();
  Result<std::unique_ptr<RedisQueue>> opened = RedisQueue::Open(own.Url(stream) + "?lease-ms=1000");
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  RedisQueue& queue = **opened;
  const std::string prefix = "redis queue " + own.Url(stream) + ": ";
  const std::string refused = "cannot connect to 127.0.0.1:" + std::to_string(own.port()) +
                              " (Connection refused); check that Redis runs there and the URL's "
                              "host and port";

  // Restarted between two calls: the kept connection is lost, and the call makes a new one.
  ASSERT_EQ(own.Stop(), "");
  ASSERT_EQ(own.StartOnPort(), "");
  EXPECT_TRUE(queue.Probe().ok()) << queue.Probe().message();

  // Down: every call says so, naming the server; none crashes or hangs.
  ASSERT_EQ(own.Stop(), "");
  EXPECT_EQ(queue.Probe().code(), StatusCode::kUnavailable);
  EXPECT_EQ(queue.Probe().message(), prefix + "probe: " + refused);
  EXPECT_EQ(queue.Publish(std::vector<AnalysisTask>{{"p", 1}}).message(),
            prefix + "publish: " + refused);
  Result<std::vector<QueueDelivery>> receive = queue.Receive(1, milliseconds(100));
  EXPECT_EQ(receive.status().message(), prefix + "receive: " + refused);
  EXPECT_EQ(queue.Depth().status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(RedisQueue::Open(own.Url(stream)).status().message(), prefix + "open: " + refused);

  // Back (empty: no persistence): the group is made again and the queue works.
  ASSERT_EQ(own.StartOnPort(), "");
  EXPECT_TRUE(queue.Probe().ok()) << queue.Probe().message();
  ASSERT_TRUE(queue.Publish(std::vector<AnalysisTask>{{"p", 2}}).ok());
  std::vector<QueueDelivery> got = ReceiveOne(queue, kPatience);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].task, (AnalysisTask{"p", 2}));
  EXPECT_EQ(got[0].attempt, 1);
  EXPECT_TRUE(queue.Ack(got[0]).ok());
}

// Sets BUILDTRACE_REDIS_PASSWORD for one scope.
class PasswordVariable {
 public:
  explicit PasswordVariable(const char* value) {
    if (value != nullptr) ::setenv("BUILDTRACE_REDIS_PASSWORD", value, 1);
  }
  ~PasswordVariable() { ::unsetenv("BUILDTRACE_REDIS_PASSWORD"); }
};

TEST(RedisQueueTest, PasswordComesFromTheEnvironment) {
  RedisServer guarded("s3cret-pass");
  ASSERT_EQ(guarded.Start(), "");
  const std::string stream = FreshStream();
  const std::string server_name = "127.0.0.1:" + std::to_string(guarded.port());
  {
    PasswordVariable password("s3cret-pass");
    Result<std::unique_ptr<RedisQueue>> opened = RedisQueue::Open(guarded.Url(stream));
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    ASSERT_TRUE((*opened)->Publish(std::vector<AnalysisTask>{{"p", 3}}).ok());
    EXPECT_EQ(ReceiveOne(**opened, kPatience).size(), 1u);
    EXPECT_THAT((*opened)->Describe(), Not(HasSubstr("s3cret")));
  }
  {
    PasswordVariable password("wrong-pass");
    Result<std::unique_ptr<RedisQueue>> opened = RedisQueue::Open(guarded.Url(stream));
    EXPECT_EQ(opened.status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(opened.status().message(),
              "redis queue " + guarded.Url(stream) + ": open: " + server_name +
                  " refused the password in BUILDTRACE_REDIS_PASSWORD (WRONGPASS invalid "
                  "username-password pair or user is disabled.); set it to the server's password "
                  "(requirepass), or unset it if the server has none");
  }
  {
    PasswordVariable none(nullptr);
    Result<std::unique_ptr<RedisQueue>> opened = RedisQueue::Open(guarded.Url(stream));
    EXPECT_EQ(opened.status().code(), StatusCode::kUnavailable);
    EXPECT_THAT(opened.status().message(),
                StartsWith("redis queue " + guarded.Url(stream) + ": open: " + server_name +
                           " answered: NOAUTH"));
    EXPECT_THAT(opened.status().message(),
                HasSubstr("; the server wants a password: set BUILDTRACE_REDIS_PASSWORD"));
  }
}

}  // namespace
}  // namespace buildtrace
