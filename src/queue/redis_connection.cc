// hiredis connections and their pool. hiredis (0.14) in blocking mode: a socket timeout bounds
// every reply, and any I/O error leaves the context unusable, so a broken connection is dropped
// and the next caller gets a new one.
#include "queue/redis_connection.h"

#include <sys/time.h>

#include <cstring>

namespace buildtrace {
namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

}  // namespace

std::string RedisServerName(const std::string& host, int port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string_view ReplyText(const redisReply& reply) {
  const bool text = reply.type == REDIS_REPLY_STRING || reply.type == REDIS_REPLY_STATUS ||
                    reply.type == REDIS_REPLY_ERROR;
  return text && reply.str != nullptr ? std::string_view(reply.str, reply.len) : std::string_view();
}

Result<std::unique_ptr<RedisConnection>> RedisConnection::Connect(const RedisEndpoint& endpoint) {
  const std::string server = RedisServerName(endpoint.host, endpoint.port);
  const timeval timeout = ToTimeval(endpoint.timeout);
  Context context(redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, timeout));
  if (context == nullptr) return Unavailable("cannot connect to " + server + ": out of memory");
  if (context->err != 0) {
    return Unavailable("cannot connect to " + server + " (" + context->errstr +
                       "); check that Redis runs there and the URL's host and port");
  }
  if (redisSetTimeout(context.get(), timeout) != REDIS_OK) {
    return Unavailable("cannot set the socket timeout towards " + server + ": " + context->errstr);
  }
  std::unique_ptr<RedisConnection> connection(
      new RedisConnection(std::move(context), server, endpoint.timeout));
  if (endpoint.password.empty()) return connection;
  Result<RedisReply> reply = connection->Call({"AUTH", endpoint.password});
  if (!reply.ok()) return reply.status();
  if ((*reply)->type == REDIS_REPLY_ERROR) {
    // Redis never repeats the password in its answer, so its words can be shown.
    return Unavailable(server + " refused the password in " + std::string(kRedisPasswordVariable) +
                       " (" + std::string(ReplyText(**reply)) +
                       "); set it to the server's password (requirepass), or unset it if the "
                       "server has none");
  }
  return connection;
}

Status RedisConnection::Lost() {
  broken_ = true;
  const bool timed_out =
      context_->err == REDIS_ERR_IO && std::strcmp(context_->errstr, std::strerror(EAGAIN)) == 0;
  if (timed_out) {
    return Unavailable(server_ + " did not answer within " + std::to_string(timeout_.count()) +
                       " ms; check the server's load, or raise the URL's timeout-ms");
  }
  return Unavailable("lost the connection to " + server_ + " (" +
                     (context_->err != 0 ? context_->errstr : "unreadable reply") +
                     "); the next call connects again");
}

Result<std::vector<RedisReply>> RedisConnection::Pipeline(std::span<const RedisCommand> commands) {
  if (broken()) return Lost();
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const RedisCommand& command : commands) {
    argv.clear();
    lengths.clear();
    for (const std::string& arg : command) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    if (redisAppendCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(),
                               lengths.data()) != REDIS_OK) {
      return Lost();
    }
  }
  std::vector<RedisReply> replies;
  for (size_t i = 0; i < commands.size(); ++i) {
    void* reply = nullptr;
    if (redisGetReply(context_.get(), &reply) != REDIS_OK || reply == nullptr) return Lost();
    replies.emplace_back(static_cast<redisReply*>(reply));
  }
  return replies;
}

Result<RedisReply> RedisConnection::Call(const RedisCommand& command) {
  Result<std::vector<RedisReply>> replies = Pipeline(std::span(&command, 1));
  if (!replies.ok()) return replies.status();
  return std::move((*replies)[0]);
}

Status RedisConnection::Refusal(const redisReply& error) const {
  const std::string_view text = ReplyText(error);
  std::string hint;
  if (text.starts_with("NOAUTH")) {
    hint = "; the server wants a password: set " + std::string(kRedisPasswordVariable);
  } else if (text.find("unknown command") != std::string_view::npos) {
    hint = "; the Redis Streams queue needs Redis 6.2 or later";
  }
  return Unavailable(server_ + " answered: " + std::string(text) + hint);
}

Result<std::unique_ptr<RedisConnection>> RedisConnectionPool::Make() {
  Result<std::unique_ptr<RedisConnection>> made = RedisConnection::Connect(endpoint_);
  if (!made.ok()) return made.status();
  if (Status prepared = prepare_(**made); !prepared.ok()) return prepared;
  return made;
}

Status RedisConnectionPool::Run(const std::function<Status(RedisConnection&)>& work) {
  for (bool first_round = true;; first_round = false) {
    std::unique_ptr<RedisConnection> connection;
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        connection = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    const bool reused = connection != nullptr;
    if (!reused) {
      Result<std::unique_ptr<RedisConnection>> made = Make();
      if (!made.ok()) return made.status();
      connection = std::move(*made);
    }
    Status status = work(*connection);
    if (!connection->broken()) {
      std::lock_guard lock(mutex_);
      if (idle_.size() < kMaxIdle) idle_.push_back(std::move(connection));
      return status;
    }
    if (!reused || !first_round) return status;
    // The server went away after the connection was made: the other idle ones are lost too.
    std::lock_guard lock(mutex_);
    idle_.clear();
  }
}

}  // namespace buildtrace
