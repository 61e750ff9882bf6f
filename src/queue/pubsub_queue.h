// PubSubQueue: the analysis queue on a Google Cloud Pub/Sub topic and one pull subscription of
// it, through the REST API v1. URL:
//
//   pubsub://projects/PROJECT/topics/TOPIC?subscription=SUBSCRIPTION[&create=true][&timeout-ms=N]
//
// Every instance (serve processes, analysis workers) names the same topic and subscription: they
// publish to the topic and share the subscription's messages. $PUBSUB_EMULATOR_HOST (host:port)
// sends every call to the emulator instead of pubsub.googleapis.com, with no token.
//
// How the AnalysisQueue contract is kept on Pub/Sub:
// - Open reads the topic and the subscription (GET). Missing ones are created when the URL says
//   create=true (a subscription with a 60 s ack deadline), and are otherwise an error naming the
//   gcloud command that creates them. A subscription of another topic is an error.
// - Publish: topics.publish in batches of up to 1000 messages (the API's limit), each message's
//   data the base64 of EncodeAnalysisTask. Repeated on 5xx and lost connections, which may
//   publish a task twice (at-least-once allows it).
// - Receive: subscriptions.pull with returnImmediately, polled (25 ms, doubling to 500 ms) until a
//   message comes, `wait` runs out or Close(). Not a long pull: the emulator holds an empty long
//   pull for 90 s, and the only way to cut one short is to drop the connection, after which the
//   messages the server had already handed it stay leased, unseen, until their ack deadline.
//   Google discourages returnImmediately because such a pull may come back empty while messages
//   wait; the next poll, at most 500 ms later, gets them.
//   Messages whose data is not a task are acknowledged (so they do not come back forever),
//   counted (malformed_messages()) and reported through the warn callback, the first one only.
// - lease() is the subscription's ackDeadlineSeconds, read at Open.
// - attempt is Pub/Sub's deliveryAttempt, which Pub/Sub (and its emulator) only counts for a
//   subscription with a dead-letter policy; without one, attempt is 0 (counts_attempts() says
//   which).
// - Ack: subscriptions.acknowledge. Pub/Sub answers 200 to an ack id whose lease ran out, so a
//   late or second Ack is Ok; an ack id Pub/Sub does not recognize at all is kNotFound.
// - Retry(delay): subscriptions.modifyAckDeadline to ceil(delay) seconds (0: at once), at most
//   600 s (the API's limit: a longer delay is cut to 600 s).
// - Depth: nullopt; the REST API cannot count a subscription's messages (Cloud Monitoring's
//   num_undelivered_messages can, a minute late).
// - Probe: GET the subscription.
// Each call has the URL's timeout (default 10 s) and is repeated with backoff on 408/429/5xx and
// lost connections; a 401 fetches a new token and repeats the call once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "cloud/google_auth.h"
#include "cloud/http_call.h"
#include "queue/analysis_queue.h"

namespace buildtrace {

struct PubSubQueueOptions {
  // "http://" + $PUBSUB_EMULATOR_HOST when that is set, else "https://pubsub.googleapis.com".
  std::string api_base;
  RetryPolicy retry;
  // Told about the first malformed message (one line, no secrets); later ones are only counted.
  // Unset: the line goes to stderr.
  std::function<void(std::string_view)> warn;
};

class PubSubQueue final : public AnalysisQueue {
 public:
  static std::string DefaultApiBase();

  // Parses `url` (see the file comment), then reads, or with create=true creates, the topic and
  // the subscription. kInvalidArgument for a malformed URL or a name Pub/Sub would refuse, saying
  // what to fix; kNotFound for a missing topic or subscription (without create=true), naming the
  // gcloud command that creates it; kUnavailable when Pub/Sub cannot be reached or refuses.
  static Result<std::unique_ptr<PubSubQueue>> Open(std::string_view url,
                                                   std::shared_ptr<TokenSource> tokens,
                                                   PubSubQueueOptions options = {});

  Status Publish(std::span<const AnalysisTask> tasks) override;
  Result<std::vector<QueueDelivery>> Receive(size_t max, std::chrono::milliseconds wait) override;
  Status Ack(const QueueDelivery& delivery) override;
  Status Retry(const QueueDelivery& delivery, std::chrono::milliseconds delay) override;
  Result<std::optional<int64_t>> Depth() override { return std::optional<int64_t>(); }
  std::chrono::milliseconds lease() const override { return lease_; }
  Status Probe() override;
  void Close() override;
  // "pubsub://projects/P/topics/T?subscription=S" (create and timeout-ms left out).
  std::string Describe() const override;

  // Whether the subscription has a dead-letter policy, so that deliveries carry an attempt.
  bool counts_attempts() const { return counts_attempts_; }
  // Messages acknowledged and dropped because their data was not a task.
  int64_t malformed_messages() const { return malformed_.load(); }

 private:
  struct Names {
    std::string project, topic, subscription;
  };

  PubSubQueue(Names names, std::shared_ptr<TokenSource> tokens, PubSubQueueOptions options,
              std::chrono::milliseconds timeout);

  // Ensures the topic, then the subscription, exist (creating them when `create`), and reads the
  // subscription's ack deadline and dead-letter policy.
  Status Prepare(bool create);
  Status EnsureTopic(bool create);
  Status EnsureSubscription(bool create);
  Status ReadSubscription(const HttpReply& reply);
  Status PublishBatch(std::span<const AnalysisTask> tasks);
  // One pull; appends the tasks to `out`, acknowledging malformed messages.
  Status PullOnce(size_t max, std::vector<QueueDelivery>& out);
  void DropMalformed(const std::string& ack_id, const Status& why);
  Status ModifyAckDeadline(const std::string& ack_id, int64_t seconds, std::string_view operation);
  // Sleeps up to `interval`, or less when Close() is called; returns false once closed.
  bool WaitUnlessClosed(std::chrono::milliseconds interval);

  Result<HttpReply> Call(std::string method, const std::string& url, std::string body,
                         std::string_view operation);
  Status ReplyError(std::string_view operation, const HttpReply& reply) const;
  std::string TopicPath() const;         // projects/P/topics/T
  std::string SubscriptionPath() const;  // projects/P/subscriptions/S
  std::string TopicUrl() const;
  std::string SubscriptionUrl() const;

  const Names names_;
  const std::shared_ptr<TokenSource> tokens_;
  const PubSubQueueOptions options_;
  const std::chrono::milliseconds timeout_;
  std::chrono::milliseconds lease_{0};  // set by Prepare, before the queue is shared
  bool counts_attempts_ = false;        // likewise

  std::mutex mutex_;
  std::condition_variable closed_signal_;
  bool closed_ = false;  // guarded by mutex_
  std::atomic<int64_t> malformed_{0};
};

}  // namespace buildtrace
