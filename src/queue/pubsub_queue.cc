// PubSubQueue over the Pub/Sub REST API v1: topics.get/create/publish and
// subscriptions.get/create/pull/acknowledge/modifyAckDeadline. See pubsub_queue.h for how each
// call keeps the AnalysisQueue contract. JSON answers are read with simdjson's DOM API.
#include "queue/pubsub_queue.h"

#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <utility>

#include "core/json_writer.h"
#include "queue/pubsub_message.h"

namespace buildtrace {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kScheme = "pubsub://";
constexpr std::string_view kUsage =
    "; write pubsub://projects/PROJECT/topics/TOPIC?subscription=SUBSCRIPTION";
constexpr size_t kMaxPublishBatch = 1000;  // topics.publish: at most 1000 messages per request
constexpr size_t kMaxPull = 1000;          // subscriptions.pull: maxMessages at most 1000
constexpr int64_t kMaxAckDeadlineSeconds = 600;
constexpr int64_t kCreatedAckDeadlineSeconds = 60;
constexpr milliseconds kDefaultTimeout{10'000};
constexpr milliseconds kFirstPollInterval{25};
constexpr milliseconds kMaxPollInterval{500};

bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Pub/Sub's rule for topic and subscription ids.
bool IsPubSubName(std::string_view name) {
  if (name.size() < 3 || name.size() > 255 || !IsLetter(name.front())) return false;
  if (name.starts_with("goog")) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return IsLetter(c) || IsDigit(c) ||
           std::string_view("-_.~+%").find(c) != std::string_view::npos;
  });
}

// A Google Cloud project id: 6-30 of [a-z0-9-], a letter first, no hyphen last; legacy
// domain-scoped ids ("example.com:my-project") put a domain and ':' before it.
bool IsProjectId(std::string_view project) {
  if (const size_t colon = project.rfind(':'); colon != std::string_view::npos) {
    const std::string_view domain = project.substr(0, colon);
    if (domain.empty() || !std::all_of(domain.begin(), domain.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || IsDigit(c) || c == '-' || c == '.';
        })) {
      return false;
    }
    project.remove_prefix(colon + 1);
  }
  if (project.size() < 6 || project.size() > 30) return false;
  if (!(project.front() >= 'a' && project.front() <= 'z') || project.back() == '-') return false;
  return std::all_of(project.begin(), project.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || IsDigit(c) || c == '-'; });
}

std::string NameError(std::string_view kind, std::string_view name) {
  return std::string(kind) + " \"" + std::string(name) +
         "\" is not a Pub/Sub name; use 3-255 characters of [A-Za-z0-9-_.~+%], starting with a "
         "letter (and not with \"goog\")";
}

struct ParsedUrl {
  std::string project, topic, subscription;
  bool create = false;
  milliseconds timeout = kDefaultTimeout;
};

Status ApplyParameter(std::string_view name, std::string_view value, ParsedUrl& parsed,
                      const std::string& context) {
  if (name == "subscription") {
    if (!IsPubSubName(value)) return InvalidArgument(context + NameError("subscription", value));
    parsed.subscription = std::string(value);
  } else if (name == "create") {
    if (value != "true" && value != "false") {
      return InvalidArgument(context + "create must be true or false");
    }
    parsed.create = value == "true";
  } else if (name == "timeout-ms") {
    int64_t ms = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    if (ec != std::errc() || end != value.data() + value.size() || ms < 100 || ms > 600'000) {
      return InvalidArgument(context + "timeout-ms must be a whole number from 100 to 600000");
    }
    parsed.timeout = milliseconds(ms);
  } else {
    return InvalidArgument(context + "unknown parameter " + std::string(name) +
                           "; pubsub:// takes subscription, create and timeout-ms");
  }
  return Status::Ok();
}

Status ParseQuery(std::string_view query, ParsedUrl& parsed, const std::string& context) {
  std::vector<std::string_view> seen;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == pair.size()) {
      return InvalidArgument(context + "\"" + std::string(pair) +
                             "\" is not a parameter; write name=value");
    }
    const std::string_view name = pair.substr(0, eq);
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      return InvalidArgument(context + std::string(name) + " is given twice");
    }
    seen.push_back(name);
    if (Status status = ApplyParameter(name, pair.substr(eq + 1), parsed, context); !status.ok()) {
      return status;
    }
  }
  if (parsed.subscription.empty()) {
    return InvalidArgument(context +
                           "the subscription is missing; add ?subscription=NAME (every instance "
                           "names the same one)");
  }
  return Status::Ok();
}

Result<ParsedUrl> ParseUrl(std::string_view url) {
  const std::string context = "queue URL \"" + std::string(url) + "\": ";
  if (!url.starts_with(kScheme)) {
    return InvalidArgument(context + "the URL must start with pubsub://" + std::string(kUsage));
  }
  if (url.find('#') != std::string_view::npos) {
    return InvalidArgument(context + "a pubsub:// URL takes no fragment (#)" + std::string(kUsage));
  }
  std::string_view rest = url.substr(kScheme.size());
  const size_t question = rest.find('?');
  const std::string_view query =
      question == std::string_view::npos ? std::string_view() : rest.substr(question + 1);
  const std::string_view path = rest.substr(0, question);
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    const size_t slash = path.find('/', start);
    parts.push_back(path.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() != 4 || parts[0] != "projects" || parts[2] != "topics") {
    return InvalidArgument(context + "expected projects/PROJECT/topics/TOPIC after pubsub://" +
                           std::string(kUsage));
  }
  ParsedUrl parsed;
  if (!IsProjectId(parts[1])) {
    return InvalidArgument(context + "\"" + std::string(parts[1]) +
                           "\" is not a Google Cloud project id; use 6-30 characters of "
                           "[a-z0-9-], starting with a letter and not ending with '-'");
  }
  if (!IsPubSubName(parts[3])) return InvalidArgument(context + NameError("topic", parts[3]));
  parsed.project = std::string(parts[1]);
  parsed.topic = std::string(parts[3]);
  if (Status status = ParseQuery(query, parsed, context); !status.ok()) return status;
  return parsed;
}

bool IsClosed(std::mutex& mutex, const bool& closed) {
  std::lock_guard lock(mutex);
  return closed;
}

}  // namespace

std::string PubSubQueue::DefaultApiBase() {
  const char* host = std::getenv("PUBSUB_EMULATOR_HOST");
  return host != nullptr && *host != '\0' ? EmulatorBaseUrl(host) : "https://pubsub.googleapis.com";
}

Result<std::unique_ptr<PubSubQueue>> PubSubQueue::Open(std::string_view url,
                                                       std::shared_ptr<TokenSource> tokens,
                                                       PubSubQueueOptions options) {
  Result<ParsedUrl> parsed = ParseUrl(url);
  if (!parsed.ok()) return parsed.status();
  if (tokens == nullptr) {
    return InvalidArgument("queue URL \"" + std::string(url) + "\": no token source was given");
  }
  if (options.api_base.empty()) options.api_base = DefaultApiBase();
  while (options.api_base.ends_with('/')) options.api_base.pop_back();
  std::unique_ptr<PubSubQueue> queue(
      new PubSubQueue(Names{parsed->project, parsed->topic, parsed->subscription},
                      std::move(tokens), std::move(options), parsed->timeout));
  if (Status status = queue->Prepare(parsed->create); !status.ok()) return status;
  return queue;
}

PubSubQueue::PubSubQueue(Names names, std::shared_ptr<TokenSource> tokens,
                         PubSubQueueOptions options, milliseconds timeout)
    : names_(std::move(names)),
      tokens_(std::move(tokens)),
      options_(std::move(options)),
      timeout_(timeout) {}

Status PubSubQueue::Prepare(bool create) {
  if (Status status = EnsureTopic(create); !status.ok()) return status;
  return EnsureSubscription(create);
}

Status PubSubQueue::EnsureTopic(bool create) {
  Result<HttpReply> got = Call("GET", TopicUrl(), "", "get topic");
  if (!got.ok()) return got.status();
  if (got->status == 200) return Status::Ok();
  if (got->status != 404) return ReplyError("get topic", *got);
  if (!create) {
    return NotFound("pubsub queue " + Describe() + ": topic " + TopicPath() +
                    " does not exist; create it with `gcloud pubsub topics create " + names_.topic +
                    " --project=" + names_.project + "`, or add &create=true to the queue URL");
  }
  Result<HttpReply> created = Call("PUT", TopicUrl(), "{}", "create topic");
  if (!created.ok()) return created.status();
  if (created->status == 200 || created->status == 409) return Status::Ok();  // 409: a racer
  return ReplyError("create topic", *created);
}

Status PubSubQueue::EnsureSubscription(bool create) {
  Result<HttpReply> got = Call("GET", SubscriptionUrl(), "", "get subscription");
  if (!got.ok()) return got.status();
  if (got->status == 200) return ReadSubscription(*got);
  if (got->status != 404) return ReplyError("get subscription", *got);
  if (!create) {
    return NotFound("pubsub queue " + Describe() + ": subscription " + SubscriptionPath() +
                    " does not exist; create it with `gcloud pubsub subscriptions create " +
                    names_.subscription + " --topic=" + names_.topic +
                    " --project=" + names_.project +
                    " --ack-deadline=" + std::to_string(kCreatedAckDeadlineSeconds) +
                    "`, or add &create=true to the queue URL");
  }
  std::string body;
  JsonWriter json(body);
  json.BeginObject().Key("topic").String(TopicPath());
  json.Key("ackDeadlineSeconds").Int(kCreatedAckDeadlineSeconds).EndObject();
  Result<HttpReply> created = Call("PUT", SubscriptionUrl(), body, "create subscription");
  if (!created.ok()) return created.status();
  if (created->status == 200) return ReadSubscription(*created);
  if (created->status != 409) return ReplyError("create subscription", *created);
  return EnsureSubscription(false);  // created meanwhile by another instance: read it
}

// The subscription resource: {"topic": ..., "ackDeadlineSeconds": N, "deadLetterPolicy": {...},
// "pushConfig": {"pushEndpoint": ...}}.
Status PubSubQueue::ReadSubscription(const HttpReply& reply) {
  const std::string prefix = "pubsub queue " + Describe() + ": ";
  simdjson::dom::parser parser;
  simdjson::dom::object subscription;
  if (parser.parse(reply.body).get_object().get(subscription) != simdjson::SUCCESS) {
    return Unavailable(prefix + "the subscription's description is not a JSON object");
  }
  std::string_view topic;
  if (subscription["topic"].get_string().get(topic) != simdjson::SUCCESS || topic != TopicPath()) {
    return InvalidArgument(prefix + "subscription " + names_.subscription + " belongs to " +
                           std::string(topic.empty() ? std::string_view("no topic") : topic) +
                           ", not to " + TopicPath() + "; name a subscription of that topic");
  }
  std::string_view push_endpoint;
  if (subscription["pushConfig"]["pushEndpoint"].get_string().get(push_endpoint) ==
          simdjson::SUCCESS &&
      !push_endpoint.empty()) {
    return InvalidArgument(prefix + "subscription " + names_.subscription +
                           " is a push subscription; a pubsub:// queue pulls, so name a pull "
                           "subscription (or receive pushes on the HTTP route)");
  }
  int64_t seconds = 0;
  if (subscription["ackDeadlineSeconds"].get_int64().get(seconds) != simdjson::SUCCESS) {
    seconds = 10;  // the API's default when the field is left out
  }
  lease_ = std::chrono::seconds(std::clamp<int64_t>(seconds, 10, kMaxAckDeadlineSeconds));
  simdjson::dom::object dead_letter;
  counts_attempts_ =
      subscription["deadLetterPolicy"].get_object().get(dead_letter) == simdjson::SUCCESS;
  return Status::Ok();
}

Status PubSubQueue::Publish(std::span<const AnalysisTask> tasks) {
  for (size_t i = 0; i < tasks.size(); i += kMaxPublishBatch) {
    const size_t n = std::min(kMaxPublishBatch, tasks.size() - i);
    if (Status status = PublishBatch(tasks.subspan(i, n)); !status.ok()) {
      return Unavailable(status.message() + "; " + std::to_string(tasks.size() - i) +
                         " tasks left to the sweep");
    }
  }
  return Status::Ok();
}

Status PubSubQueue::PublishBatch(std::span<const AnalysisTask> tasks) {
  std::string body;
  JsonWriter json(body);
  json.BeginObject().Key("messages").BeginArray();
  for (const AnalysisTask& task : tasks) {
    json.BeginObject().Key("data").String(EncodePubSubMessageData(task)).EndObject();
  }
  json.EndArray().EndObject();
  Result<HttpReply> reply = Call("POST", TopicUrl() + ":publish", std::move(body), "publish");
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) return ReplyError("publish", *reply);
  return Status::Ok();
}

Result<std::vector<QueueDelivery>> PubSubQueue::Receive(size_t max, milliseconds wait) {
  std::vector<QueueDelivery> out;
  const Clock::time_point deadline = Clock::now() + wait;
  for (milliseconds interval = kFirstPollInterval; max > 0 && !IsClosed(mutex_, closed_);
       interval = std::min(interval * 2, kMaxPollInterval)) {
    if (Status status = PullOnce(std::min(max, kMaxPull), out); !status.ok()) return status;
    if (!out.empty()) break;
    const Clock::time_point now = Clock::now();
    if (now >= deadline) break;
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - now) + milliseconds(1);
    if (!WaitUnlessClosed(std::min(interval, left))) break;
  }
  if (!out.empty() && IsClosed(mutex_, closed_)) {
    // Closed while the pull was under way: hand the tasks back instead of keeping them leased.
    for (const QueueDelivery& delivery : out) (void)ModifyAckDeadline(delivery.receipt, 0, "close");
    out.clear();
  }
  return out;
}

// The pull answer: {"receivedMessages": [{"ackId": ..., "message": {"data": ..., "messageId":
// ...}, "deliveryAttempt": N}, ...]}, or {} when there are none.
Status PubSubQueue::PullOnce(size_t max, std::vector<QueueDelivery>& out) {
  std::string body;
  JsonWriter json(body);
  json.BeginObject().Key("maxMessages").Int(static_cast<int64_t>(max));
  json.Key("returnImmediately").Bool(true).EndObject();
  Result<HttpReply> reply = Call("POST", SubscriptionUrl() + ":pull", std::move(body), "pull");
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) return ReplyError("pull", *reply);
  simdjson::dom::parser parser;
  simdjson::dom::object answer;
  if (parser.parse(reply->body).get_object().get(answer) != simdjson::SUCCESS) {
    return Unavailable("pubsub queue " + Describe() + ": pull: the answer is not a JSON object");
  }
  simdjson::dom::array received;
  if (answer["receivedMessages"].get_array().get(received) != simdjson::SUCCESS) {
    return Status::Ok();
  }
  for (simdjson::dom::element item : received) {
    std::string_view ack_id;
    if (item["ackId"].get_string().get(ack_id) != simdjson::SUCCESS || ack_id.empty()) continue;
    std::string_view data;
    if (item["message"]["data"].get_string().get(data) != simdjson::SUCCESS) {
      data = {};  // Pub/Sub leaves "data" out of a message with empty data
    }
    Result<AnalysisTask> task = DecodePubSubMessageData(data);
    if (!task.ok()) {
      DropMalformed(std::string(ack_id), task.status());
      continue;
    }
    int64_t attempt = 0;
    if (item["deliveryAttempt"].get_int64().get(attempt) != simdjson::SUCCESS) {
      attempt = 0;  // absent unless the subscription has a dead-letter policy
    }
    out.push_back(QueueDelivery{std::move(*task), std::string(ack_id), attempt});
  }
  return Status::Ok();
}

void PubSubQueue::DropMalformed(const std::string& ack_id, const Status& why) {
  if (malformed_.fetch_add(1) == 0) {
    const std::string line = "pubsub queue " + Describe() +
                             ": acknowledged and dropped a message that is not an analysis task (" +
                             why.message() + "); later ones are only counted";
    if (options_.warn) {
      options_.warn(line);
    } else {
      const std::string text = "WARN " + line + "\n";
      [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
    }
  }
  // If this fails the message comes back after its lease and is dropped then.
  (void)Ack(QueueDelivery{{}, ack_id, 0});
}

Status PubSubQueue::Ack(const QueueDelivery& delivery) {
  std::string body;
  JsonWriter json(body);
  json.BeginObject().Key("ackIds").BeginArray().String(delivery.receipt).EndArray().EndObject();
  Result<HttpReply> reply =
      Call("POST", SubscriptionUrl() + ":acknowledge", std::move(body), "acknowledge");
  if (!reply.ok()) return reply.status();
  if (reply->status == 200) return Status::Ok();
  if (reply->status == 400) {
    return NotFound("pubsub queue " + Describe() + ": acknowledge: Pub/Sub does not know ack id " +
                    delivery.receipt + " (" + DescribeGoogleError(*reply) + ")");
  }
  return ReplyError("acknowledge", *reply);
}

Status PubSubQueue::Retry(const QueueDelivery& delivery, milliseconds delay) {
  // Rounded up so that the task never comes back sooner than asked.
  const int64_t seconds = std::clamp<int64_t>((std::max<int64_t>(delay.count(), 0) + 999) / 1000, 0,
                                              kMaxAckDeadlineSeconds);
  return ModifyAckDeadline(delivery.receipt, seconds, "retry");
}

Status PubSubQueue::ModifyAckDeadline(const std::string& ack_id, int64_t seconds,
                                      std::string_view operation) {
  std::string body;
  JsonWriter json(body);
  json.BeginObject().Key("ackIds").BeginArray().String(ack_id).EndArray();
  json.Key("ackDeadlineSeconds").Int(seconds).EndObject();
  Result<HttpReply> reply =
      Call("POST", SubscriptionUrl() + ":modifyAckDeadline", std::move(body), operation);
  if (!reply.ok()) return reply.status();
  if (reply->status == 200) return Status::Ok();
  if (reply->status == 400) {
    return NotFound("pubsub queue " + Describe() + ": " + std::string(operation) +
                    ": Pub/Sub does not know ack id " + ack_id + " (" +
                    DescribeGoogleError(*reply) + ")");
  }
  return ReplyError(operation, *reply);
}

Status PubSubQueue::Probe() {
  Result<HttpReply> reply = Call("GET", SubscriptionUrl(), "", "probe");
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) return ReplyError("probe", *reply);
  return Status::Ok();
}

void PubSubQueue::Close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  closed_signal_.notify_all();
}

bool PubSubQueue::WaitUnlessClosed(milliseconds interval) {
  std::unique_lock lock(mutex_);
  closed_signal_.wait_for(lock, interval, [&] { return closed_; });
  return !closed_;
}

std::string PubSubQueue::Describe() const {
  return std::string(kScheme) + "projects/" + names_.project + "/topics/" + names_.topic +
         "?subscription=" + names_.subscription;
}

Result<HttpReply> PubSubQueue::Call(std::string method, const std::string& url, std::string body,
                                    std::string_view operation) {
  HttpCall call;
  call.method = std::move(method);
  call.url = url;
  call.body = std::move(body);
  if (!call.body.empty()) call.headers = {"Content-Type: application/json"};
  call.timeout = timeout_;
  call.max_response_bytes = 64 << 20;  // a pull of 1000 messages of up to 10 MB each is refused
  return CallGoogleApi(*tokens_, options_.retry, std::move(call),
                       "pubsub queue " + Describe() + ": " + std::string(operation));
}

Status PubSubQueue::ReplyError(std::string_view operation, const HttpReply& reply) const {
  std::string message = "pubsub queue " + Describe() + ": " + std::string(operation) + ": " +
                        DescribeGoogleError(reply);
  if (reply.status == 401 || reply.status == 403) {
    message += "; grant the service account roles/pubsub.publisher on topic " + names_.topic +
               ", and roles/pubsub.subscriber and roles/pubsub.viewer on subscription " +
               names_.subscription;
  } else if (reply.status == 404) {
    message +=
        "; check that topic " + TopicPath() + " and subscription " + SubscriptionPath() + " exist";
  } else if (IsRetryableHttpStatus(reply.status)) {
    message += " after retries; retry later";
  }
  return Unavailable(std::move(message));
}

std::string PubSubQueue::TopicPath() const {
  return "projects/" + names_.project + "/topics/" + names_.topic;
}

std::string PubSubQueue::SubscriptionPath() const {
  return "projects/" + names_.project + "/subscriptions/" + names_.subscription;
}

std::string PubSubQueue::TopicUrl() const {
  return options_.api_base + "/v1/projects/" + PercentEncode(names_.project) + "/topics/" +
         PercentEncode(names_.topic);
}

std::string PubSubQueue::SubscriptionUrl() const {
  return options_.api_base + "/v1/projects/" + PercentEncode(names_.project) + "/subscriptions/" +
         PercentEncode(names_.subscription);
}

}  // namespace buildtrace
