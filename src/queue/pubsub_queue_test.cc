// pubsub:// against Google's Pub/Sub emulator (one per test binary): the queue conformance suite
// on a plain subscription (no attempt counts) and on one with a dead-letter policy (counted),
// then what only Pub/Sub does: URL rules, missing resources, malformed messages, Retry timing.
// Each queue gets a fresh topic and subscription with the minimum ack deadline (10 s).
#include "queue/pubsub_queue.h"

#include <gtest/gtest.h>

#include <optional>

#include "queue/pubsub_message.h"
#include "testing/analysis_queue_conformance.h"
#include "testing/pubsub_emulator.h"

namespace buildtrace {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr const char* kProject = "bt-test-project";

std::string QueueUrl(const std::string& topic, const std::string& subscription) {
  return std::string("pubsub://projects/") + kProject + "/topics/" + topic +
         "?subscription=" + subscription;
}

std::shared_ptr<TokenSource> EmulatorTokens() {
  Result<std::unique_ptr<TokenSource>> tokens = TokenSourceFor("PUBSUB_EMULATOR_HOST");
  return tokens.ok() ? std::shared_ptr<TokenSource>(std::move(*tokens)) : nullptr;
}

// A topic and a 10 s subscription of it made on the emulator (with a dead-letter policy when
// asked), and a queue opened on them without create=true. nullptr (the test fails) if any step
// fails.
std::unique_ptr<PubSubQueue> MakeQueue(bool dead_letter, PubSubQueueOptions options = {},
                                       std::string* topic_out = nullptr) {
  const PubSubEmulator* emulator = SharedPubSubEmulator();
  if (emulator == nullptr) return nullptr;
  const std::string topic = UniquePubSubName("tasks");
  if (topic_out != nullptr) *topic_out = topic;
  const std::string subscription = UniquePubSubName("workers");
  std::optional<std::string> dead_letter_topic;
  if (dead_letter) dead_letter_topic = UniquePubSubName("dead");
  for (Status status :
       {emulator->CreateTopic(kProject, topic),
        dead_letter_topic ? emulator->CreateTopic(kProject, *dead_letter_topic) : Status::Ok(),
        emulator->CreateSubscription(kProject, subscription, topic, 10, dead_letter_topic)}) {
    if (!status.ok()) {
      ADD_FAILURE() << status.message();
      return nullptr;
    }
  }
  Result<std::unique_ptr<PubSubQueue>> queue =
      PubSubQueue::Open(QueueUrl(topic, subscription), EmulatorTokens(), std::move(options));
  if (!queue.ok()) {
    ADD_FAILURE() << queue.status().message();
    return nullptr;
  }
  return std::move(*queue);
}

INSTANTIATE_TEST_SUITE_P(
    PubSub, AnalysisQueueConformanceTest,
    ::testing::Values(
        AnalysisQueueFactory{"PlainSubscription", [] { return MakeQueue(false); }, false},
        AnalysisQueueFactory{"DeadLetterSubscription", [] { return MakeQueue(true); }, true}),
    AnalysisQueueFactoryName);

std::vector<QueueDelivery> ReceiveOne(AnalysisQueue& queue, milliseconds wait) {
  Result<std::vector<QueueDelivery>> got = queue.Receive(1, wait);
  EXPECT_TRUE(got.ok()) << got.status().message();
  return got.ok() ? std::move(*got) : std::vector<QueueDelivery>();
}

TEST(PubSubQueueTest, MissedAcknowledgementRedeliversWithTheNextAttempt) {
  std::unique_ptr<PubSubQueue> queue = MakeQueue(true);
  ASSERT_NE(queue, nullptr);
  EXPECT_TRUE(queue->counts_attempts());
  EXPECT_EQ(queue->lease(), milliseconds(10'000));
  ASSERT_TRUE(queue->Publish(std::vector<AnalysisTask>{{"p", 11}}).ok());
  std::vector<QueueDelivery> first = ReceiveOne(*queue, milliseconds(5'000));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].attempt, 1);
  const Clock::time_point delivered = Clock::now();
  std::vector<QueueDelivery> second = ReceiveOne(*queue, milliseconds(20'000));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_GE(Clock::now() - delivered, milliseconds(9'000));  // not before the deadline
  EXPECT_EQ(second[0].task, (AnalysisTask{"p", 11}));
  EXPECT_EQ(second[0].attempt, 2);
  EXPECT_NE(second[0].receipt, first[0].receipt);
  // The late ack of the first delivery is harmless; the second one's is what counts.
  Status late = queue->Ack(first[0]);
  EXPECT_TRUE(late.ok() || late.code() == StatusCode::kNotFound) << late.message();
  EXPECT_TRUE(queue->Ack(second[0]).ok());
}

TEST(PubSubQueueTest, RetryZeroRedeliversAtOnce) {
  std::unique_ptr<PubSubQueue> queue = MakeQueue(false);
  ASSERT_NE(queue, nullptr);
  EXPECT_FALSE(queue->counts_attempts());
  ASSERT_TRUE(queue->Publish(std::vector<AnalysisTask>{{"p", 5}}).ok());
  std::vector<QueueDelivery> first = ReceiveOne(*queue, milliseconds(5'000));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].attempt, 0);  // no dead-letter policy: Pub/Sub does not count
  const Clock::time_point retried = Clock::now();
  ASSERT_TRUE(queue->Retry(first[0], milliseconds(0)).ok());
  std::vector<QueueDelivery> second = ReceiveOne(*queue, milliseconds(5'000));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_LT(Clock::now() - retried, milliseconds(5'000));  // well inside the 10 s lease
  EXPECT_EQ(second[0].task, (AnalysisTask{"p", 5}));
  EXPECT_TRUE(queue->Ack(second[0]).ok());
}

TEST(PubSubQueueTest, RetryWithADelayIsNotDeliveredSooner) {
  std::unique_ptr<PubSubQueue> queue = MakeQueue(false);
  ASSERT_NE(queue, nullptr);
  ASSERT_TRUE(queue->Publish(std::vector<AnalysisTask>{{"p", 6}}).ok());
  std::vector<QueueDelivery> first = ReceiveOne(*queue, milliseconds(5'000));
  ASSERT_EQ(first.size(), 1u);
  const Clock::time_point retried = Clock::now();
  ASSERT_TRUE(queue->Retry(first[0], milliseconds(1'500)).ok());  // rounded up to 2 s
  std::vector<QueueDelivery> second = ReceiveOne(*queue, milliseconds(8'000));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_GE(Clock::now() - retried, milliseconds(1'500));
  EXPECT_TRUE(queue->Ack(second[0]).ok());
}

TEST(PubSubQueueTest, MalformedMessagesAreAcknowledgedAndSkipped) {
  auto warnings = std::make_shared<std::vector<std::string>>();
  PubSubQueueOptions options;
  options.warn = [warnings](std::string_view line) { warnings->emplace_back(line); };
  std::string topic;
  std::unique_ptr<PubSubQueue> queue = MakeQueue(false, std::move(options), &topic);
  ASSERT_NE(queue, nullptr);
  const PubSubEmulator* emulator = SharedPubSubEmulator();
  // "not a task", and a message with attributes only (Pub/Sub then leaves "data" out).
  ASSERT_TRUE(emulator->PublishRaw(kProject, topic, R"({"data":"bm90IGEgdGFzaw=="})").ok());
  ASSERT_TRUE(emulator->PublishRaw(kProject, topic, R"({"attributes":{"k":"v"}})").ok());
  ASSERT_TRUE(queue->Publish(std::vector<AnalysisTask>{{"p", 8}}).ok());
  std::vector<QueueDelivery> got;
  for (int i = 0; i < 20 && got.empty(); ++i) got = ReceiveOne(*queue, milliseconds(1'000));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].task, (AnalysisTask{"p", 8}));
  ASSERT_TRUE(queue->Ack(got[0]).ok());
  EXPECT_EQ(queue->malformed_messages(), 2);
  ASSERT_EQ(warnings->size(), 1u);  // the first one only
  EXPECT_TRUE((*warnings)[0].starts_with(
      "pubsub queue " + queue->Describe() +
      ": acknowledged and dropped a message that is not an analysis task (the Pub/Sub message "
      "data"))
      << (*warnings)[0];
  // Acknowledged, so they do not come back once their lease would have run out.
  Result<std::vector<QueueDelivery>> later =
      queue->Receive(10, queue->lease() + milliseconds(2'000));
  ASSERT_TRUE(later.ok()) << later.status().message();
  EXPECT_TRUE(later->empty());
  EXPECT_EQ(queue->malformed_messages(), 2);
}

TEST(PubSubQueueTest, MissingTopicOrSubscriptionWithoutCreateSaysHowToCreateIt) {
  const PubSubEmulator* emulator = SharedPubSubEmulator();
  ASSERT_NE(emulator, nullptr);
  Result<std::unique_ptr<PubSubQueue>> no_topic =
      PubSubQueue::Open(QueueUrl("absent-topic", "workers"), EmulatorTokens());
  ASSERT_FALSE(no_topic.ok());
  EXPECT_EQ(no_topic.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(no_topic.status().message(),
            "pubsub queue pubsub://projects/bt-test-project/topics/absent-topic?subscription="
            "workers: topic projects/bt-test-project/topics/absent-topic does not exist; create "
            "it with `gcloud pubsub topics create absent-topic --project=bt-test-project`, or add "
            "&create=true to the queue URL");

  const std::string topic = UniquePubSubName("lonely");
  ASSERT_TRUE(emulator->CreateTopic(kProject, topic).ok());
  Result<std::unique_ptr<PubSubQueue>> no_subscription =
      PubSubQueue::Open(QueueUrl(topic, "absent-sub"), EmulatorTokens());
  ASSERT_FALSE(no_subscription.ok());
  EXPECT_EQ(no_subscription.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(no_subscription.status().message(),
            "pubsub queue " + QueueUrl(topic, "absent-sub") +
                ": subscription projects/bt-test-project/subscriptions/absent-sub does not "
                "exist; create it with `gcloud pubsub subscriptions create absent-sub --topic=" +
                topic +
                " --project=bt-test-project --ack-deadline=60`, or add &create=true to the "
                "queue URL");
}

TEST(PubSubQueueTest, CreateTrueCreatesTopicAndSubscriptionOnce) {
  ASSERT_NE(SharedPubSubEmulator(), nullptr);
  const std::string url =
      QueueUrl(UniquePubSubName("fresh"), UniquePubSubName("fresh-sub")) + "&create=true";
  Result<std::unique_ptr<PubSubQueue>> created = PubSubQueue::Open(url, EmulatorTokens());
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_EQ((*created)->lease(), milliseconds(60'000));
  EXPECT_FALSE((*created)->counts_attempts());
  EXPECT_TRUE((*created)->Probe().ok());
  EXPECT_EQ((*created)->Depth()->has_value(), false);
  // A second instance with the same URL finds both and shares the messages.
  Result<std::unique_ptr<PubSubQueue>> second = PubSubQueue::Open(url, EmulatorTokens());
  ASSERT_TRUE(second.ok()) << second.status().message();
  ASSERT_TRUE((*created)->Publish(std::vector<AnalysisTask>{{"p", 1}}).ok());
  std::vector<QueueDelivery> got = ReceiveOne(**second, milliseconds(5'000));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE((*created)->Ack(got[0]).ok());  // an ack id works on any instance
}

TEST(PubSubQueueTest, SubscriptionOfAnotherTopicIsRefused) {
  const PubSubEmulator* emulator = SharedPubSubEmulator();
  ASSERT_NE(emulator, nullptr);
  const std::string topic = UniquePubSubName("mine");
  const std::string other = UniquePubSubName("theirs");
  const std::string subscription = UniquePubSubName("theirs-sub");
  ASSERT_TRUE(emulator->CreateTopic(kProject, topic).ok());
  ASSERT_TRUE(emulator->CreateTopic(kProject, other).ok());
  ASSERT_TRUE(emulator->CreateSubscription(kProject, subscription, other, 10, std::nullopt).ok());
  Result<std::unique_ptr<PubSubQueue>> queue =
      PubSubQueue::Open(QueueUrl(topic, subscription), EmulatorTokens());
  ASSERT_FALSE(queue.ok());
  EXPECT_EQ(queue.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(queue.status().message(), "pubsub queue " + QueueUrl(topic, subscription) +
                                          ": subscription " + subscription +
                                          " belongs to projects/bt-test-project/topics/" + other +
                                          ", not to projects/bt-test-project/topics/" + topic +
                                          "; name a subscription of that topic");
}

TEST(PubSubQueueTest, UnreachableApiIsUnavailable) {
  PubSubQueueOptions options;
  options.api_base = "http://127.0.0.1:1";  // nothing listens on port 1
  options.retry.max_attempts = 1;
  Result<std::unique_ptr<PubSubQueue>> queue = PubSubQueue::Open(
      QueueUrl("tasks", "workers"), std::make_shared<StaticTokenSource>("t"), std::move(options));
  ASSERT_FALSE(queue.ok());
  EXPECT_EQ(queue.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(queue.status().message().starts_with(
      "pubsub queue pubsub://projects/bt-test-project/topics/tasks?subscription=workers: get "
      "topic"))
      << queue.status().message();
}

TEST(PubSubQueueUrlTest, MalformedUrlsSayWhatToFix) {
  const std::string usage =
      "; write pubsub://projects/PROJECT/topics/TOPIC?subscription=SUBSCRIPTION";
  const std::string name_rule =
      "\" is not a Pub/Sub name; use 3-255 characters of [A-Za-z0-9-_.~+%], starting with a "
      "letter (and not with \"goog\")";
  const std::pair<std::string, std::string> cases[] = {
      {"gs://projects/my-project/topics/tasks?subscription=s1",
       "the URL must start with pubsub://" + usage},
      {"pubsub://my-project/tasks?subscription=workers",
       "expected projects/PROJECT/topics/TOPIC after pubsub://" + usage},
      {"pubsub://projects/my-project/subscriptions/workers",
       "expected projects/PROJECT/topics/TOPIC after pubsub://" + usage},
      {"pubsub://projects/my-project/topics/tasks/extra?subscription=workers",
       "expected projects/PROJECT/topics/TOPIC after pubsub://" + usage},
      {"pubsub://projects/my-project/topics/tasks?subscription=workers#x",
       "a pubsub:// URL takes no fragment (#)" + usage},
      {"pubsub://projects/P/topics/tasks?subscription=workers",
       "\"P\" is not a Google Cloud project id; use 6-30 characters of [a-z0-9-], starting with "
       "a letter and not ending with '-'"},
      {"pubsub://projects/my-project/topics/t?subscription=workers", "topic \"t" + name_rule},
      {"pubsub://projects/my-project/topics/9tasks?subscription=workers",
       "topic \"9tasks" + name_rule},
      {"pubsub://projects/my-project/topics/google-tasks?subscription=workers",
       "topic \"google-tasks" + name_rule},
      {"pubsub://projects/my-project/topics/ta$ks?subscription=workers",
       "topic \"ta$ks" + name_rule},
      {"pubsub://projects/my-project/topics/" + std::string(256, 'a') + "?subscription=workers",
       "topic \"" + std::string(256, 'a') + name_rule},
      {"pubsub://projects/my-project/topics/tasks",
       "the subscription is missing; add ?subscription=NAME (every instance names the same one)"},
      {"pubsub://projects/my-project/topics/tasks?subscription=w/x",
       "subscription \"w/x" + name_rule},
      {"pubsub://projects/my-project/topics/tasks?subscription=workers&create=yes",
       "create must be true or false"},
      {"pubsub://projects/my-project/topics/tasks?subscription=workers&timeout-ms=50",
       "timeout-ms must be a whole number from 100 to 600000"},
      {"pubsub://projects/my-project/topics/tasks?subscription=workers&timeout-ms=1s",
       "timeout-ms must be a whole number from 100 to 600000"},
      {"pubsub://projects/my-project/topics/tasks?subscription=workers&lease-ms=10",
       "unknown parameter lease-ms; pubsub:// takes subscription, create and timeout-ms"},
      {"pubsub://projects/my-project/topics/tasks?subscription=a1b&subscription=c2d",
       "subscription is given twice"},
      {"pubsub://projects/my-project/topics/tasks?subscription",
       "\"subscription\" is not a "
       "parameter; write name=value"},
  };
  for (const auto& [url, why] : cases) {
    Result<std::unique_ptr<PubSubQueue>> queue =
        PubSubQueue::Open(url, std::make_shared<StaticTokenSource>("t"));
    ASSERT_FALSE(queue.ok()) << url;
    EXPECT_EQ(queue.status().code(), StatusCode::kInvalidArgument) << url;
    EXPECT_EQ(queue.status().message(), "queue URL \"" + url + "\": " + why);
  }
}

TEST(PubSubQueueUrlTest, AcceptsEveryNameCharacterAndDomainScopedProjects) {
  // No server behind this base: Open gets as far as its first call, which proves the URL parsed.
  PubSubQueueOptions options;
  options.api_base = "http://127.0.0.1:1";
  options.retry.max_attempts = 1;
  for (const char* url : {"pubsub://projects/my-project/topics/Az0-_.~+%25?subscription=w.1~x",
                          "pubsub://projects/example.com:my-project/topics/tasks?subscription=w1x"
                          "&create=false&timeout-ms=100"}) {
    Result<std::unique_ptr<PubSubQueue>> queue =
        PubSubQueue::Open(url, std::make_shared<StaticTokenSource>("t"), options);
    ASSERT_FALSE(queue.ok());
    EXPECT_EQ(queue.status().code(), StatusCode::kUnavailable) << queue.status().message();
  }
}

}  // namespace
}  // namespace buildtrace
