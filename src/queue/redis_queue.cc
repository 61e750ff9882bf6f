// The Redis Streams queue. Every operation borrows a connection from the pool, so a Receive
// blocked in XREADGROUP holds up no Publish or Ack; the checks that must not race with another
// consumer (is this entry still pending, and to whom) run inside Lua scripts, which Redis runs
// atomically.
#include "queue/redis_queue.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "backends/backend_url.h"
#include "queue/redis_connection.h"

namespace buildtrace {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kBlockSlice{200};  // how long a Receive may miss a Close()
constexpr size_t kMaxNameLength = 128;
constexpr const char* kExample = "redis://127.0.0.1:6379/buildtrace-analysis";

// KEYS[1] stream; ARGV group, entry id. 1 when the entry was pending and is now acknowledged and
// deleted; 0 when it was not pending (an entry never delivered is left alone).
constexpr const char* kAckScript = R"(
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('XDEL', KEYS[1], ARGV[2])
  return 1
end
return 0)";

// KEYS[1] stream; ARGV group, consumer, entry id, idle ms. When the entry is pending to this
// consumer, sets its idle time (XAUTOCLAIM takes it once that reaches the lease) without counting
// a delivery (JUSTID) and returns 1; otherwise 0.
constexpr const char* kRetryScript = R"(
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #pending == 0 or pending[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'IDLE', ARGV[4], 'JUSTID')
return 1)";

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

Status BadUrl(const std::string& url, const std::string& why) {
  return InvalidArgument("queue URL \"" + url + "\" " + why);
}

Status CheckName(const BackendUrl& url, const std::string& what, const std::string& name) {
  if (!name.empty() && name.size() <= kMaxNameLength &&
      std::all_of(name.begin(), name.end(), IsNameChar)) {
    return Status::Ok();
  }
  return BadUrl(url.text, "has an invalid " + what + " name \"" + name +
                              "\"; use 1 to 128 letters, digits and . _ : -");
}

// "HOST", "HOST:PORT", "[IPv6]" or "[IPv6]:PORT" into options.host and options.port.
Status ParseAuthority(const BackendUrl& url, std::string_view authority,
                      RedisQueueOptions& options) {
  std::string_view after_host;
  bool host_ok = false;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return BadUrl(url.text, "has no ']' after its IPv6 address; write e.g. redis://[::1]:6379/S");
    }
    options.host = std::string(authority.substr(1, close - 1));
    after_host = authority.substr(close + 1);
    host_ok = options.host.find_first_not_of("0123456789abcdefABCDEF:.") == std::string::npos;
  } else {
    const size_t colon = authority.find(':');
    options.host = std::string(authority.substr(0, colon));
    after_host = colon == std::string_view::npos ? "" : authority.substr(colon);
    host_ok = std::all_of(options.host.begin(), options.host.end(),
                          [](char c) { return c != ':' && c != '_' && IsNameChar(c); });
  }
  if (options.host.empty()) {
    return BadUrl(url.text,
                  std::string("names no host; write redis://HOST:PORT/STREAM, e.g. ") + kExample);
  }
  if (!host_ok) {
    return BadUrl(url.text, "has an invalid host \"" + options.host +
                                "\"; give a host name, an IPv4 address or [an IPv6 address]");
  }
  if (after_host.empty()) return Status::Ok();
  if (!after_host.starts_with(':')) {
    return BadUrl(url.text, "has something other than :PORT after its host");
  }
  Result<int64_t> port =
      ParseBoundedParameter(url, "the port", std::string(after_host.substr(1)), 1, 65'535);
  if (!port.ok()) return port.status();
  options.port = static_cast<int>(*port);
  return Status::Ok();
}

Status ParseParameter(const BackendUrl& url, const std::string& name, const std::string& value,
                      RedisQueueOptions& options) {
  if (name == "group" || name == "consumer") {
    (name == "group" ? options.group : options.consumer) = value;
    return CheckName(url, name, value);
  }
  if (name == "lease-ms" || name == "timeout-ms") {
    const bool lease = name == "lease-ms";
    Result<int64_t> ms = ParseBoundedParameter(url, name, value, 100, lease ? 86'400'000 : 600'000);
    if (!ms.ok()) return ms.status();
    (lease ? options.lease : options.timeout) = milliseconds(*ms);
    return Status::Ok();
  }
  return BadUrl(url.text, "has an unknown parameter " + name +
                              "; redis:// takes group, consumer, lease-ms and timeout-ms");
}

// <hostname>-<pid>, the hostname cut to the characters a consumer name may hold.
std::string DefaultConsumer() {
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  std::string name;
  for (const char c : std::string_view(host).substr(0, 100)) name += IsNameChar(c) ? c : '_';
  return (name.empty() ? "buildtrace" : name) + "-" + std::to_string(::getpid());
}

// A stream entry id, "<ms>-<seq>"; the only receipts this queue hands out.
bool IsEntryId(std::string_view id) {
  const size_t dash = id.find('-');
  auto digits = [](std::string_view s) {
    return !s.empty() && s.size() <= 20 && s.find_first_not_of("0123456789") == s.npos;
  };
  return dash != id.npos && digits(id.substr(0, dash)) && digits(id.substr(dash + 1));
}

// A stream entry as XREADGROUP and XAUTOCLAIM return it.
struct StreamEntry {
  std::string id;
  std::string task;     // the `task` field; "" when there is none
  int64_t attempt = 1;  // deliveries counted by the group; 0 when the entry is no longer pending
};

// Appends the entries of [[id, [field, value, ...]], ...]; false for any other shape. Redis 6.2
// gives a deleted entry that was still pending as [id, nil]: it gets no task.
bool ReadEntries(const redisReply& list, std::vector<StreamEntry>& out) {
  if (list.type != REDIS_REPLY_ARRAY) return false;
  for (size_t i = 0; i < list.elements; ++i) {
    const redisReply& entry = *list.element[i];
    if (entry.type != REDIS_REPLY_ARRAY || entry.elements != 2 ||
        entry.element[0]->type != REDIS_REPLY_STRING) {
      return false;
    }
    StreamEntry parsed{std::string(ReplyText(*entry.element[0]))};
    const redisReply& fields = *entry.element[1];
    for (size_t j = 0; fields.type == REDIS_REPLY_ARRAY && j + 1 < fields.elements; j += 2) {
      if (ReplyText(*fields.element[j]) == "task") {
        parsed.task = std::string(ReplyText(*fields.element[j + 1]));
      }
    }
    out.push_back(std::move(parsed));
  }
  return true;
}

Status Unexpected(const char* command) {
  return Unavailable(std::string("unexpected answer to ") + command +
                     "; is this server Redis 6.2 or later?");
}

// The integer answer to a command or script.
Result<int64_t> IntegerReply(RedisConnection& connection, const RedisCommand& command) {
  Result<RedisReply> reply = connection.Call(command);
  if (!reply.ok()) return reply.status();
  if ((*reply)->type == REDIS_REPLY_ERROR) return connection.Refusal(**reply);
  if ((*reply)->type != REDIS_REPLY_INTEGER) return Unexpected(command[0].c_str());
  return static_cast<int64_t>((*reply)->integer);
}

Status CreateGroup(RedisConnection& connection, const RedisQueueOptions& options) {
  // From id 0, so that a group made again (a restart without persistence lost it while
  // publishers made the stream anew) delivers what the stream holds.
  Result<RedisReply> reply =
      connection.Call({"XGROUP", "CREATE", options.stream, options.group, "0", "MKSTREAM"});
  if (!reply.ok()) return reply.status();
  if ((*reply)->type == REDIS_REPLY_ERROR && !ReplyText(**reply).starts_with("BUSYGROUP")) {
    return connection.Refusal(**reply);
  }
  return Status::Ok();
}

Status ReadRefused(RedisConnection& connection, const RedisQueueOptions& options,
                   const redisReply& error) {
  // The group went with its stream (FLUSHALL, or a restart without persistence while this
  // connection was kept): make it again; this read finds nothing, the next one does.
  if (ReplyText(error).starts_with("NOGROUP")) return CreateGroup(connection, options);
  return connection.Refusal(error);
}

// Sets each claimed entry's attempt to the group's count of its deliveries.
Status CountDeliveries(RedisConnection& connection, const RedisQueueOptions& options,
                       std::vector<StreamEntry>& entries) {
  std::vector<RedisCommand> commands;
  for (const StreamEntry& entry : entries) {
    commands.push_back({"XPENDING", options.stream, options.group, entry.id, entry.id, "1"});
  }
  Result<std::vector<RedisReply>> replies = connection.Pipeline(commands);
  if (!replies.ok()) return replies.status();
  for (size_t i = 0; i < entries.size(); ++i) {
    const redisReply& reply = *(*replies)[i];
    if (reply.type == REDIS_REPLY_ERROR) return connection.Refusal(reply);
    if (reply.type != REDIS_REPLY_ARRAY) return Unexpected("XPENDING");
    // [[id, consumer, idle ms, deliveries]]; none when another receiver acknowledged it since.
    const bool pending = reply.elements == 1 && reply.element[0]->type == REDIS_REPLY_ARRAY &&
                         reply.element[0]->elements == 4 &&
                         reply.element[0]->element[3]->type == REDIS_REPLY_INTEGER;
    entries[i].attempt = pending ? static_cast<int64_t>(reply.element[0]->element[3]->integer) : 0;
  }
  return Status::Ok();
}

// Adds the entries still pending to `out`, and acknowledges and deletes those that hold no valid
// task.
Status Deliver(RedisConnection& connection, const RedisQueueOptions& options,
               const std::vector<StreamEntry>& entries, std::vector<QueueDelivery>& out) {
  std::vector<RedisCommand> drop;
  for (const StreamEntry& entry : entries) {
    if (entry.attempt == 0) continue;
    Result<AnalysisTask> task = ParseAnalysisTask(entry.task);
    if (task.ok()) {
      out.push_back(QueueDelivery{std::move(*task), entry.id, entry.attempt});
    } else {
      drop.push_back({"EVAL", kAckScript, "1", options.stream, options.group, entry.id});
    }
  }
  if (drop.empty()) return Status::Ok();
  Result<std::vector<RedisReply>> dropped = connection.Pipeline(drop);
  return dropped.ok() ? Status::Ok() : dropped.status();
}

}  // namespace

Result<RedisQueueOptions> ParseRedisQueueUrl(std::string_view text) {
  if (text.find('@') != std::string_view::npos) {  // not echoed: it may hold a password
    return InvalidArgument(
        "a redis:// queue URL holds no user or password (it has an '@'); give the password in " +
        std::string(kRedisPasswordVariable) + " and write e.g. " + kExample);
  }
  Result<BackendUrl> url = ParseBackendUrl(text);
  if (!url.ok()) return url.status();
  if (url->scheme != "redis") {
    return BadUrl(url->text, std::string("is not a redis:// URL; write e.g. ") + kExample);
  }
  Result<UrlQuery> query = SplitQuery(*url);
  if (!query.ok()) return query.status();
  const std::string& rest = query->without_query.rest;
  const size_t slash = rest.find('/');
  RedisQueueOptions options;
  if (Status s = ParseAuthority(*url, std::string_view(rest).substr(0, slash), options); !s.ok()) {
    return s;
  }
  if (slash == std::string::npos || slash + 1 == rest.size()) {
    return BadUrl(url->text,
                  std::string("names no stream; write redis://HOST:PORT/STREAM, e.g. ") + kExample);
  }
  options.stream = rest.substr(slash + 1);
  if (Status s = CheckName(*url, "stream", options.stream); !s.ok()) return s;
  for (const auto& [name, value] : query->parameters) {
    if (Status s = ParseParameter(*url, name, value, options); !s.ok()) return s;
  }
  return options;
}

RedisQueue::RedisQueue(RedisQueueOptions options, std::string password)
    : options_(std::move(options)) {
  RedisEndpoint endpoint{options_.host, options_.port, options_.timeout, std::move(password)};
  pool_ = std::make_unique<RedisConnectionPool>(
      std::move(endpoint),
      [this](RedisConnection& connection) { return CreateGroup(connection, options_); });
}

RedisQueue::~RedisQueue() = default;

Result<std::unique_ptr<RedisQueue>> RedisQueue::Open(std::string_view url) {
  Result<RedisQueueOptions> options = ParseRedisQueueUrl(url);
  if (!options.ok()) return options.status();
  return Open(std::move(*options));
}

Result<std::unique_ptr<RedisQueue>> RedisQueue::Open(RedisQueueOptions options) {
  if (options.consumer.empty()) options.consumer = DefaultConsumer();
  const char* password = std::getenv(std::string(kRedisPasswordVariable).c_str());
  std::unique_ptr<RedisQueue> queue(
      new RedisQueue(std::move(options), password != nullptr ? password : ""));
  // The first connection creates the group: a wrong address or password shows at start.
  if (Status reached = queue->Run("open", [](RedisConnection&) { return Status::Ok(); });
      !reached.ok()) {
    return reached;
  }
  return queue;
}

Status RedisQueue::Run(const char* operation, const std::function<Status(RedisConnection&)>& work) {
  Status status = pool_->Run(work);
  if (status.ok()) return status;
  return status.WithContext(Name() + ": " + operation + ": ");
}

std::string RedisQueue::Name() const {
  return "redis queue redis://" + RedisServerName(options_.host, options_.port) + "/" +
         options_.stream;
}

Status RedisQueue::Publish(std::span<const AnalysisTask> tasks) {
  std::vector<RedisCommand> commands;
  for (const AnalysisTask& task : tasks) {
    commands.push_back({"XADD", options_.stream, "*", "task", EncodeAnalysisTask(task)});
  }
  if (commands.empty()) return Status::Ok();
  return Run("publish", [&](RedisConnection& connection) {
    Result<std::vector<RedisReply>> replies = connection.Pipeline(commands);
    if (!replies.ok()) return replies.status();
    for (const RedisReply& reply : *replies) {
      if (reply->type == REDIS_REPLY_ERROR) return connection.Refusal(*reply);
    }
    return Status::Ok();
  });
}

Result<std::vector<QueueDelivery>> RedisQueue::Receive(size_t max, milliseconds wait) {
  std::vector<QueueDelivery> out;
  const milliseconds slice = std::min(kBlockSlice, options_.timeout / 2);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (max > 0 && !closed_.load()) {
    const milliseconds left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    const milliseconds block = std::clamp(left, milliseconds(0), slice);
    Status status = Run("receive", [&](RedisConnection& connection) {
      out.clear();  // the pool may run this twice
      Status claimed = ClaimExpired(connection, max, out);
      if (!claimed.ok() || out.size() >= max) return claimed;
      return ReadNew(connection, max - out.size(), out.empty() ? block : milliseconds(0), out);
    });
    if (!status.ok()) return status;
    if (!out.empty() || left <= milliseconds(0)) break;
  }
  return out;
}

Status RedisQueue::ClaimExpired(RedisConnection& connection, size_t max,
                                std::vector<QueueDelivery>& out) {
  std::vector<StreamEntry> claimed;
  std::string cursor = "0-0";
  do {  // each XAUTOCLAIM looks at no more than 10 x COUNT pending entries
    Result<RedisReply> reply =
        connection.Call({"XAUTOCLAIM", options_.stream, options_.group, options_.consumer,
                         std::to_string(options_.lease.count()), cursor, "COUNT",
                         std::to_string(max - claimed.size())});
    if (!reply.ok()) return reply.status();
    const redisReply& answer = **reply;
    if (answer.type == REDIS_REPLY_ERROR) return ReadRefused(connection, options_, answer);
    if (answer.type != REDIS_REPLY_ARRAY || answer.elements < 2 ||
        !ReadEntries(*answer.element[1], claimed)) {
      return Unexpected("XAUTOCLAIM");
    }
    cursor = std::string(ReplyText(*answer.element[0]));
  } while (cursor != "0-0" && !cursor.empty() && claimed.size() < max);
  if (claimed.empty()) return Status::Ok();
  if (Status counted = CountDeliveries(connection, options_, claimed); !counted.ok())
    return counted;
  return Deliver(connection, options_, claimed, out);
}

Status RedisQueue::ReadNew(RedisConnection& connection, size_t max, milliseconds block,
                           std::vector<QueueDelivery>& out) {
  RedisCommand command{"XREADGROUP",      "GROUP", options_.group,
                       options_.consumer, "COUNT", std::to_string(max)};
  if (block > milliseconds(0)) {  // BLOCK 0 would wait for ever
    command.insert(command.end(), {"BLOCK", std::to_string(block.count())});
  }
  command.insert(command.end(), {"STREAMS", options_.stream, ">"});
  Result<RedisReply> reply = connection.Call(command);
  if (!reply.ok()) return reply.status();
  const redisReply& answer = **reply;
  if (answer.type == REDIS_REPLY_ERROR) return ReadRefused(connection, options_, answer);
  if (answer.type == REDIS_REPLY_NIL) return Status::Ok();
  // [[stream, [entry, ...]]]: one stream asked, one answered.
  std::vector<StreamEntry> entries;
  if (answer.type != REDIS_REPLY_ARRAY || answer.elements != 1 ||
      answer.element[0]->type != REDIS_REPLY_ARRAY || answer.element[0]->elements != 2 ||
      !ReadEntries(*answer.element[0]->element[1], entries)) {
    return Unexpected("XREADGROUP");
  }
  return Deliver(connection, options_, entries, out);
}

Status RedisQueue::Ack(const QueueDelivery& delivery) {
  int64_t acknowledged = 0;
  if (IsEntryId(delivery.receipt)) {
    Status status = Run("ack", [&](RedisConnection& connection) {
      Result<int64_t> n = IntegerReply(
          connection, {"EVAL", kAckScript, "1", options_.stream, options_.group, delivery.receipt});
      acknowledged = n.ok() ? *n : 0;
      return n.status();
    });
    if (!status.ok()) return status;
  }
  if (acknowledged == 1) return Status::Ok();
  return NotFound(Name() + ": entry \"" + delivery.receipt +
                  "\" is not pending (acknowledged already, or never delivered)");
}

Status RedisQueue::Retry(const QueueDelivery& delivery, milliseconds delay) {
  const milliseconds idle = std::max(milliseconds(0), options_.lease - delay);
  int64_t retried = 0;
  if (IsEntryId(delivery.receipt)) {
    Status status = Run("retry", [&](RedisConnection& connection) {
      Result<int64_t> n = IntegerReply(
          connection, {"EVAL", kRetryScript, "1", options_.stream, options_.group,
                       options_.consumer, delivery.receipt, std::to_string(idle.count())});
      retried = n.ok() ? *n : 0;
      return n.status();
    });
    if (!status.ok()) return status;
  }
  if (retried == 1) return Status::Ok();
  return NotFound(Name() + ": entry \"" + delivery.receipt +
                  "\" is not pending to this consumer (acknowledged already, or taken over by "
                  "another consumer after its lease ran out)");
}

Result<std::optional<int64_t>> RedisQueue::Depth() {
  int64_t length = 0;
  Status status = Run("depth", [&](RedisConnection& connection) {
    Result<int64_t> n = IntegerReply(connection, {"XLEN", options_.stream});
    length = n.ok() ? *n : 0;
    return n.status();
  });
  if (!status.ok()) return status;
  return std::optional<int64_t>(length);
}

Status RedisQueue::Probe() {
  // XLEN also fails when the key holds something other than a stream.
  return Run("probe", [&](RedisConnection& connection) {
    return IntegerReply(connection, {"XLEN", options_.stream}).status();
  });
}

void RedisQueue::Close() { closed_.store(true); }

std::string RedisQueue::Describe() const {
  return "redis://" + RedisServerName(options_.host, options_.port) + "/" + options_.stream +
         "?group=" + options_.group + "&consumer=" + options_.consumer +
         "&lease-ms=" + std::to_string(options_.lease.count()) +
         "&timeout-ms=" + std::to_string(options_.timeout.count());
}

}  // namespace buildtrace
