// GcsStateStore over the Cloud Storage JSON API: objects.insert (media upload), objects.get
// (alt=media), objects.list and buckets.testIamPermissions. See gcs_state_store.h for how each
// call keeps the StateStore contract.
#include "store/gcs_state_store.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

namespace buildtrace {
namespace {

constexpr std::string_view kScheme = "gs://";
// GCS names are at most 1024 bytes; the store's own names take up to 512 plus a '/'.
constexpr size_t kMaxPrefixBytes = 1024 - 513;
constexpr const char* kProbePermissions[] = {"storage.objects.create", "storage.objects.get",
                                             "storage.objects.list"};

// True if `prefix`, split on '/', has a complete ".." segment (a trailing ".." may still grow into
// a valid segment such as "..a"). Same rule as the file store.
bool HasDotDotFolder(std::string_view prefix) {
  for (size_t slash = prefix.find('/'); slash != std::string_view::npos; slash = prefix.find('/')) {
    if (prefix.substr(0, slash) == "..") return true;
    prefix.remove_prefix(slash + 1);
  }
  return false;
}

}  // namespace

bool IsValidBucketName(std::string_view bucket) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (bucket.size() < 3 || bucket.size() > 222) return false;
  if (!alnum(bucket.front()) || !alnum(bucket.back())) return false;
  return std::all_of(bucket.begin(), bucket.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

std::string GcsStateStore::DefaultApiBase() {
  const char* host = std::getenv("STORAGE_EMULATOR_HOST");
  return host != nullptr && *host != '\0' ? EmulatorBaseUrl(host)
                                          : "https://storage.googleapis.com";
}

Result<std::unique_ptr<GcsStateStore>> GcsStateStore::Open(std::string_view url,
                                                           std::shared_ptr<TokenSource> tokens,
                                                           std::string api_base,
                                                           RetryPolicy retry) {
  const std::string context = "gcs store " + std::string(url) + ": ";
  if (!url.starts_with(kScheme)) {
    return InvalidArgument(context + "the URL must start with gs://; use gs://BUCKET/PREFIX");
  }
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return InvalidArgument(context + "a gs:// URL takes no query or fragment");
  }
  const size_t slash = rest.find('/');
  const std::string_view bucket = rest.substr(0, slash);
  std::string_view prefix = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  while (prefix.ends_with('/')) prefix.remove_suffix(1);
  if (!IsValidBucketName(bucket)) {
    return InvalidArgument(context + "\"" + std::string(bucket) +
                           "\" is not a bucket name; use 3-63 characters of [a-z0-9._-]");
  }
  if (!prefix.empty() && (!IsValidObjectName(prefix) || prefix.size() > kMaxPrefixBytes)) {
    return InvalidArgument(context + "the prefix must be at most " +
                           std::to_string(kMaxPrefixBytes) +
                           " bytes of [A-Za-z0-9._-] in '/'-separated parts");
  }
  if (tokens == nullptr) return InvalidArgument(context + "no token source was given");
  while (api_base.ends_with('/')) api_base.pop_back();
  return std::unique_ptr<GcsStateStore>(new GcsStateStore(std::string(bucket), std::string(prefix),
                                                          std::move(tokens), std::move(api_base),
                                                          std::move(retry)));
}

GcsStateStore::GcsStateStore(std::string bucket, std::string prefix,
                             std::shared_ptr<TokenSource> tokens, std::string api_base,
                             RetryPolicy retry)
    : bucket_(std::move(bucket)),
      prefix_(std::move(prefix)),
      tokens_(std::move(tokens)),
      api_base_(std::move(api_base)),
      retry_(std::move(retry)) {}

Status GcsStateStore::CreateIfAbsent(std::string_view name, std::string_view data) {
  if (!IsValidObjectName(name)) return NameError("create", name);
  return Create(name, std::string(data));
}

std::vector<Status> GcsStateStore::CreateManyIfAbsent(std::span<const ObjectToCreate> objects) {
  std::vector<Status> results;
  results.reserve(objects.size());
  for (const ObjectToCreate& object : objects) {
    const std::string_view name = object.name();
    results.push_back(IsValidObjectName(name) ? Create(name, object.Joined())
                                              : NameError("create", name));
  }
  return results;
}

Status GcsStateStore::Create(std::string_view name, std::string body) {
  HttpCall call;
  call.method = "POST";
  call.url = api_base_ + "/upload/storage/v1/b/" + bucket_ +
             "/o?uploadType=media&ifGenerationMatch=0&name=" + PercentEncode(FullName(name));
  call.headers = {"Content-Type: application/octet-stream"};
  call.body = std::move(body);
  call.max_response_bytes = 1 << 20;
  int attempts = 0;
  const std::string what = ErrorPrefix("create", name);
  // The call stays here, so that its body is what a retried create compares, not a copy of it.
  Result<HttpReply> reply =
      CallGoogleApiOn(*tokens_, retry_, call, what.substr(0, what.size() - 2), &attempts);
  if (!reply.ok()) return reply.status();
  if (reply->status == 200) return Status::Ok();
  if (reply->status == 412) {
    if (attempts > 1) {
      // An earlier attempt may have written the object before its answer was lost.
      Result<std::string> stored = Read(name);
      if (stored.ok() && *stored == call.body) return Status::Ok();
    }
    return AlreadyExists(ErrorPrefix("create", name) + "object exists");
  }
  return ReplyError("create", name, *reply, attempts);
}

Status GcsStateStore::NameError(std::string_view operation, std::string_view name) const {
  return InvalidArgument(ErrorPrefix(operation, name) + std::string(kObjectNameRule));
}

Result<std::string> GcsStateStore::Read(std::string_view name) {
  if (!IsValidObjectName(name)) return NameError("read", name);
  HttpCall call;
  call.url =
      api_base_ + "/storage/v1/b/" + bucket_ + "/o/" + PercentEncode(FullName(name)) + "?alt=media";
  int attempts = 0;
  Result<HttpReply> reply = Call(std::move(call), "read", name, &attempts);
  if (!reply.ok()) return reply.status();
  if (reply->status == 404) {
    return NotFound("gcs store " + Describe() + ": object " + std::string(name) + " not found");
  }
  if (reply->status != 200) return ReplyError("read", name, *reply, attempts);
  std::string bytes = std::move(reply->body);
  if (bytes.capacity() - bytes.size() < kReadPadding) bytes.reserve(bytes.size() + kReadPadding);
  return bytes;
}

Status GcsStateStore::Delete(std::string_view name) {
  if (!IsValidObjectName(name)) return NameError("delete", name);
  HttpCall call;
  call.method = "DELETE";
  call.url = api_base_ + "/storage/v1/b/" + bucket_ + "/o/" + PercentEncode(FullName(name));
  int attempts = 0;
  Result<HttpReply> reply = Call(std::move(call), "delete", name, &attempts);
  if (!reply.ok()) return reply.status();
  if (reply->status == 204 || reply->status == 200 || reply->status == 404) return Status::Ok();
  return ReplyError("delete", name, *reply, attempts);
}

Result<std::vector<std::string>> GcsStateStore::List(std::string_view prefix) {
  if (prefix.starts_with('/') || HasDotDotFolder(prefix)) {
    return InvalidArgument(ErrorPrefix("list", prefix) +
                           "a prefix must not start with '/' or contain a \"..\" segment");
  }
  const std::string full_prefix =
      prefix_.empty() ? std::string(prefix) : prefix_ + "/" + std::string(prefix);
  std::vector<std::string> names;
  std::string page_token;
  do {
    Result<std::string> next = ListPage(full_prefix, page_token, prefix, names);
    if (!next.ok()) return next.status();
    page_token = std::move(*next);
  } while (!page_token.empty());
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::string> GcsStateStore::ListPage(const std::string& full_prefix,
                                            const std::string& page_token, std::string_view prefix,
                                            std::vector<std::string>& names) {
  HttpCall call;
  call.url = api_base_ + "/storage/v1/b/" + bucket_ + "/o?prefix=" + PercentEncode(full_prefix) +
             "&fields=" + PercentEncode("items(name),nextPageToken");
  if (!page_token.empty()) call.url += "&pageToken=" + PercentEncode(page_token);
  int attempts = 0;
  Result<HttpReply> reply = Call(std::move(call), "list", prefix, &attempts);
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) return ReplyError("list", prefix, *reply, attempts);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(reply->body).get(root) != simdjson::SUCCESS || !root.is_object()) {
    return Unavailable(ErrorPrefix("list", prefix) + "the answer is not a JSON object");
  }
  simdjson::dom::array items;
  if (root["items"].get_array().get(items) == simdjson::SUCCESS) {
    const size_t strip = prefix_.empty() ? 0 : prefix_.size() + 1;
    for (simdjson::dom::element item : items) {
      std::string_view full;
      if (item["name"].get_string().get(full) != simdjson::SUCCESS || full.size() < strip) continue;
      const std::string_view name = full.substr(strip);
      if (IsValidObjectName(name)) names.emplace_back(name);
    }
  }
  std::string_view next;
  if (root["nextPageToken"].get_string().get(next) != simdjson::SUCCESS) return std::string();
  return std::string(next);
}

Status GcsStateStore::Probe() {
  HttpCall call;
  call.url = api_base_ + "/storage/v1/b/" + bucket_ + "/iam/testPermissions?";
  for (const char* permission : kProbePermissions) {
    call.url += std::string(call.url.ends_with('?') ? "" : "&") + "permissions=" + permission;
  }
  int attempts = 0;
  Result<HttpReply> reply = Call(std::move(call), "probe", "bucket", &attempts);
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) return ReplyError("probe", "bucket", *reply, attempts);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(reply->body).get(root) != simdjson::SUCCESS) {
    return Unavailable(ErrorPrefix("probe", "bucket") + "the answer is not JSON");
  }
  std::vector<std::string_view> granted;
  simdjson::dom::array permissions;
  if (root["permissions"].get_array().get(permissions) == simdjson::SUCCESS) {
    for (simdjson::dom::element p : permissions) {
      std::string_view text;
      if (p.get_string().get(text) == simdjson::SUCCESS) granted.push_back(text);
    }
  }
  for (const char* permission : kProbePermissions) {
    if (std::find(granted.begin(), granted.end(), permission) == granted.end()) {
      return Unavailable(ErrorPrefix("probe", "bucket") + "the credentials lack " + permission +
                         "; grant roles/storage.objectUser on bucket " + bucket_);
    }
  }
  return Status::Ok();
}

std::string GcsStateStore::Describe() const {
  return std::string(kScheme) + bucket_ + (prefix_.empty() ? "" : "/" + prefix_);
}

std::string GcsStateStore::FullName(std::string_view name) const {
  return prefix_.empty() ? std::string(name) : prefix_ + "/" + std::string(name);
}

std::string GcsStateStore::ErrorPrefix(std::string_view operation, std::string_view name) const {
  return "gcs store " + Describe() + ": " + std::string(operation) + " " + std::string(name) + ": ";
}

Result<HttpReply> GcsStateStore::Call(HttpCall call, std::string_view operation,
                                      std::string_view name, int* attempts) {
  const std::string what = ErrorPrefix(operation, name);
  return CallGoogleApi(*tokens_, retry_, std::move(call), what.substr(0, what.size() - 2),
                       attempts);
}

Status GcsStateStore::ReplyError(std::string_view operation, std::string_view name,
                                 const HttpReply& reply, int attempts) const {
  std::string message = ErrorPrefix(operation, name) + DescribeGoogleError(reply);
  if (reply.status == 401 || reply.status == 403) {
    message += "; check that the credentials may use bucket " + bucket_;
  } else if (reply.status == 404) {
    message += "; check that bucket " + bucket_ + " exists";
  } else if (IsRetryableHttpStatus(reply.status)) {
    message += " after " + std::to_string(attempts) + " attempts; retry later";
  }
  return Unavailable(std::move(message));
}

}  // namespace buildtrace
