// Connections to one Redis server through hiredis, for the Redis Streams queue: connect and AUTH
// with timeouts, commands as argument vectors (never formatted strings, so an argument may hold
// any byte), pipelines, and a pool that lends connections to concurrent callers and replaces lost
// ones. Internal to bt_redis_queue: only redis_queue.cc includes this header.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace buildtrace {

// Where the password comes from; named in the messages about it, never the password itself.
inline constexpr std::string_view kRedisPasswordVariable = "BUILDTRACE_REDIS_PASSWORD";

struct RedisEndpoint {
  std::string host;  // a name or an IP address (IPv6 without brackets)
  int port = 6379;
  std::chrono::milliseconds timeout{5'000};  // for connecting, and for each reply
  std::string password;                      // AUTH with it when not empty
};

struct RedisReplyFree {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using RedisReply = std::unique_ptr<redisReply, RedisReplyFree>;
using RedisCommand = std::vector<std::string>;

// "host:port", or "[host]:port" for an IPv6 address: the server as messages name it.
std::string RedisServerName(const std::string& host, int port);

// The text of a string, status or error reply ("" for other types).
std::string_view ReplyText(const redisReply& reply);

// One connection. Not thread-safe: the pool lends it to one caller at a time.
class RedisConnection {
 public:
  // Connects within the endpoint's timeout and authenticates. kUnavailable naming the server,
  // with hiredis's or the server's words.
  static Result<std::unique_ptr<RedisConnection>> Connect(const RedisEndpoint& endpoint);

  // Sends the commands in one write and reads their replies in order. An error reply is a reply
  // (see Refusal); kUnavailable when the connection fails or times out, which breaks it.
  Result<std::vector<RedisReply>> Pipeline(std::span<const RedisCommand> commands);
  Result<RedisReply> Call(const RedisCommand& command);

  // kUnavailable for an error reply, naming the server and saying what to do where we know.
  Status Refusal(const redisReply& error) const;

  // Whether an I/O error, a timeout or a half-read pipeline left the connection unusable.
  bool broken() const { return broken_ || context_->err != 0; }

 private:
  struct ContextFree {
    void operator()(redisContext* context) const { redisFree(context); }
  };
  using Context = std::unique_ptr<redisContext, ContextFree>;

  RedisConnection(Context context, std::string server, std::chrono::milliseconds timeout)
      : context_(std::move(context)), server_(std::move(server)), timeout_(timeout) {}
  Status Lost();

  Context context_;
  std::string server_;  // "host:port", for messages
  std::chrono::milliseconds timeout_;
  bool broken_ = false;
};

// Connections for concurrent callers: each Run has one to itself, so a caller blocked in a long
// command holds up no other. Idle connections are kept for the next caller (a few of them).
class RedisConnectionPool {
 public:
  // `prepare` runs on each new connection once it is authenticated (e.g. to create a consumer
  // group); a connection it fails on is not used.
  RedisConnectionPool(RedisEndpoint endpoint, std::function<Status(RedisConnection&)> prepare)
      : endpoint_(std::move(endpoint)), prepare_(std::move(prepare)) {}

  // Runs `work` on an idle connection, or a new one when none is idle, and keeps the connection
  // unless it broke. When a kept connection turns out to be lost (the server restarted since it
  // was made), every idle one is dropped and `work` runs once more on a new connection, so the
  // first call after a restart works: `work` must be safe to run twice.
  Status Run(const std::function<Status(RedisConnection&)>& work);

 private:
  static constexpr size_t kMaxIdle = 8;
  Result<std::unique_ptr<RedisConnection>> Make();

  const RedisEndpoint endpoint_;
  const std::function<Status(RedisConnection&)> prepare_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<RedisConnection>> idle_;  // guarded by mutex_
};

}  // namespace buildtrace
