// redis://HOST:PORT/STREAM — the analysis queue as a Redis Stream (Redis 6.2 or later) read
// through one consumer group, so that any number of `serve` processes share its tasks. Each task
// is one stream entry (field `task`, the body of EncodeAnalysisTask); a delivery's receipt is the
// entry's id.
//
// How the AnalysisQueue contract maps onto Redis:
// - Publish: XADD per task, pipelined.
// - Receive: first XAUTOCLAIM takes over entries delivered more than lease() ago and never
//   acknowledged (by any consumer of the group, e.g. a process that died); then XREADGROUP
//   reads new entries, blocking in slices of at most 200 ms so that Close() is seen promptly.
//   attempt is 1 for a new entry and the group's delivery count (XPENDING) for a claimed one.
// - Ack: XACK and XDEL in one script, so that the stream holds only tasks not yet done.
// - Retry(delay): the entry stays pending to this consumer, and its idle time is set to
//   lease - delay (XCLAIM ... IDLE ... JUSTID, which does not count a delivery), so XAUTOCLAIM
//   takes it after `delay`, counting the delivery then. Redis cannot make an entry's idle time
//   negative, so a delay longer than the lease is cut to the lease.
// - Depth: XLEN (acknowledged entries are deleted). One stream serves one group: a second group
//   on the same stream would lose entries the first one acknowledged.
// - An entry whose `task` is missing or not a valid task is acknowledged and deleted when read
//   (it can never succeed); the sweep enqueues its job again if the job still needs analysing.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "queue/analysis_queue.h"

namespace buildtrace {

class RedisConnection;
class RedisConnectionPool;

struct RedisQueueOptions {
  std::string host;  // a name or an IP address (IPv6 without brackets)
  int port = 6379;
  std::string stream;
  std::string group = "buildtrace";
  std::string consumer;  // "" for <hostname>-<pid>
  std::chrono::milliseconds lease{60'000};
  std::chrono::milliseconds timeout{5'000};  // for connecting, and for each reply
};

// Parses "redis://HOST[:PORT]/STREAM[?group=G&consumer=C&lease-ms=N&timeout-ms=N]" (port 6379
// when not given; HOST may be "[IPv6]"). Stream, group and consumer names are 1 to 128 letters,
// digits and . _ : -; lease-ms is 100 to 86400000, timeout-ms 100 to 600000. A password in the
// URL is refused: it comes from BUILDTRACE_REDIS_PASSWORD. kInvalidArgument naming the URL and
// saying what to change.
Result<RedisQueueOptions> ParseRedisQueueUrl(std::string_view url);

class RedisQueue final : public AnalysisQueue {
 public:
  // Parses the URL, reads the password from BUILDTRACE_REDIS_PASSWORD (AUTH when set), connects
  // and creates the group (and the stream) unless it exists. kInvalidArgument for a bad URL;
  // kUnavailable, naming the server, when it cannot be reached or refuses the password.
  static Result<std::unique_ptr<RedisQueue>> Open(std::string_view url);
  static Result<std::unique_ptr<RedisQueue>> Open(RedisQueueOptions options);
  ~RedisQueue() override;

  Status Publish(std::span<const AnalysisTask> tasks) override;
  Result<std::vector<QueueDelivery>> Receive(size_t max, std::chrono::milliseconds wait) override;
  // kNotFound when the entry is not pending (acknowledged already, or never delivered).
  Status Ack(const QueueDelivery& delivery) override;
  // kNotFound when the entry is not pending to this consumer (acknowledged, or taken over by
  // another consumer after the lease ran out).
  Status Retry(const QueueDelivery& delivery, std::chrono::milliseconds delay) override;
  Result<std::optional<int64_t>> Depth() override;
  std::chrono::milliseconds lease() const override { return options_.lease; }
  Status Probe() override;
  void Close() override;
  // redis://HOST:PORT/STREAM?group=G&consumer=C&lease-ms=N&timeout-ms=N (never a password).
  std::string Describe() const override;

 private:
  RedisQueue(RedisQueueOptions options, std::string password);

  // Each adds what one Receive slice found to `out`.
  Status ClaimExpired(RedisConnection& connection, size_t max, std::vector<QueueDelivery>& out);
  Status ReadNew(RedisConnection& connection, size_t max, std::chrono::milliseconds block,
                 std::vector<QueueDelivery>& out);
  // Runs `work` on a pooled connection; an error names the queue and `operation`.
  Status Run(const char* operation, const std::function<Status(RedisConnection&)>& work);
  // "redis queue redis://HOST:PORT/STREAM", which begins every message.
  std::string Name() const;

  const RedisQueueOptions options_;
  std::unique_ptr<RedisConnectionPool> pool_;
  std::atomic<bool> closed_{false};
};

}  // namespace buildtrace
