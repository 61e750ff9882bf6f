// S3StateStore over libcurl (cloud/http_call.h). libcurl 7.88 signs the path and the query
// exactly as given and does not add x-amz-content-sha256, so this file writes canonical
// (sorted, RFC 3986-encoded) queries and sends the payload hash itself. Object names are
// [A-Za-z0-9._-/], so keys never need escaping in paths; prefixes and continuation tokens in
// queries do.
#include "store/s3_state_store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include "cloud/http_call.h"
#include "store/s3_xml.h"

namespace buildtrace {
namespace {

constexpr std::string_view kUrlForm = "s3://BUCKET/PREFIX?endpoint=URL&region=R";
constexpr std::string_view kDefaultRegion = "us-east-1";
constexpr size_t kMaxPrefixBytes = 511;  // with '/' and a 512-byte name: S3's 1024-byte keys
constexpr size_t kMaxParallelCreates = 8;
constexpr std::chrono::milliseconds kCallTimeout{30'000};
constexpr std::chrono::milliseconds kTimeoutPerMiB{1'000};
constexpr size_t kMaxS3MessageBytes = 300;

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xF];
  }
  return hex;
}

// The payload hash of every request without a body (GET).
const std::string& EmptyPayloadSha256() {
  static const std::string hash = Sha256Hex("");
  return hash;
}

bool IsUnreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

// RFC 3986 encoding as SigV4 wants it: unreserved characters as they are, everything else
// (including '/') as upper-case %XX.
std::string UriEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    if (IsUnreserved(c)) {
      out += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    }
  }
  return out;
}

// The canonical query of SigV4: encoded names and values, sorted, "name=" for empty values.
std::string CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& params) {
  std::vector<std::pair<std::string, std::string>> encoded;
  for (const auto& [name, value] : params) encoded.emplace_back(UriEncode(name), UriEncode(value));
  std::sort(encoded.begin(), encoded.end());
  std::string query;
  for (const auto& [name, value] : encoded) {
    if (!query.empty()) query += '&';
    query += name + "=" + value;
  }
  return query;
}

std::optional<std::string> PercentDecode(std::string_view text) {
  auto hex_value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex_value(text[i + 1]);
    const int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool LooksLikeIpv4(std::string_view name) {
  int parts = 0;
  for (size_t start = 0; start <= name.size(); ++parts) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    const std::string_view part = name.substr(start, dot - start);
    if (part.empty() ||
        !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    start = dot + 1;
  }
  return parts == 4;
}

// S3's rules, plus '_' which Google Cloud Storage allows.
bool IsValidBucketName(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  if (!IsLowerAlnum(name.front()) || !IsLowerAlnum(name.back())) return false;
  for (char c : name) {
    if (!IsLowerAlnum(c) && c != '.' && c != '-' && c != '_') return false;
  }
  return name.find("..") == std::string_view::npos && !LooksLikeIpv4(name);
}

bool IsValidRegion(std::string_view region) {
  return !region.empty() && region.size() <= 64 &&
         std::all_of(region.begin(), region.end(),
                     [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

bool IsValidHost(std::string_view host) {
  if (host.starts_with('[')) {
    return host.size() > 2 && host.ends_with(']') &&
           std::all_of(host.begin() + 1, host.end() - 1, [](char c) {
             return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
           });
  }
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '-';
  });
}

// "http(s)://HOST[:PORT]" with an optional trailing '/', normalized without it; nullopt if not.
std::optional<std::string> NormalizeEndpoint(std::string_view endpoint) {
  std::string scheme;
  for (std::string_view s : {"http://", "https://"}) {
    if (endpoint.size() >= s.size() &&
        std::equal(s.begin(), s.end(), endpoint.begin(), [](char a, char b) {
          return a == std::tolower(static_cast<unsigned char>(b));
        })) {
      scheme = s;
    }
  }
  if (scheme.empty()) return std::nullopt;
  std::string_view authority = endpoint.substr(scheme.size());
  if (authority.ends_with('/')) authority.remove_suffix(1);
  std::string_view host = authority;
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    const std::string_view port = authority.substr(colon + 1);
    host = authority.substr(0, colon);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535) {
      return std::nullopt;
    }
  }
  if (!IsValidHost(host)) return std::nullopt;
  return scheme + std::string(authority);
}

// `text` quoted for a message, unless it might hold a secret (a user-info '@') or is unprintable.
std::string Shown(std::string_view text) {
  const bool printable =
      std::all_of(text.begin(), text.end(), [](char c) { return c > ' ' && c < 0x7F && c != '@'; });
  if (!printable || text.size() > 100) return "(not shown)";
  return "\"" + std::string(text) + "\"";
}

Status UrlError(std::string_view what) {
  return InvalidArgument("s3 store URL: " + std::string(what) + "; the form is " +
                         std::string(kUrlForm));
}

// True if `prefix` has a complete ".." segment (a trailing ".." may still grow into "..a").
bool HasDotDotFolder(std::string_view prefix) {
  for (size_t slash = prefix.find('/'); slash != std::string_view::npos; slash = prefix.find('/')) {
    if (prefix.substr(0, slash) == "..") return true;
    prefix.remove_prefix(slash + 1);
  }
  return false;
}

bool IsNameCharOrSlash(char c) { return c == '/' || (IsUnreserved(c) && c != '~'); }

// Printable ASCII, single line: nothing that could split an HTTP header.
bool IsHeaderSafe(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= ' ' && c < 0x7F; });
}

std::string Advice(long status, std::string_view code) {
  if (code == "SignatureDoesNotMatch") return "check the secret access key";
  if (code == "InvalidAccessKeyId") return "check the access key id";
  if (code == "InvalidToken" || code == "ExpiredToken") return "check or renew the session token";
  if (code == "RequestTimeTooSkewed") return "check this machine's clock";
  if (code == "NoSuchBucket") return "create the bucket or fix its name in the store URL";
  if (code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" || status == 301 ||
      status == 307) {
    return "check the region and the endpoint in the store URL";
  }
  if (status == 401 || status == 403) {
    return "check that the credentials may list the bucket and read and write objects in it";
  }
  if (IsRetryableHttpStatus(status) || status == 409) {
    return "the store kept failing after retries; try again later";
  }
  return "check the store URL and the server";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Credentials

namespace {

std::optional<std::string> NonEmptyEnv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

// The profile's keys from the INI text of a shared credentials file.
Result<S3Credentials> ParseCredentialsFile(std::string_view text, const std::string& path,
                                           const std::string& profile) {
  const std::string where = "S3 credentials: profile [" + profile + "] of " + path;
  S3Credentials credentials;
  std::string section;
  bool found = false;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    const std::string_view line = Trim(text.substr(0, newline));
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = std::string(Trim(line.substr(1, line.size() - 2)));
      found = found || section == profile;
      continue;
    }
    const size_t eq = line.find('=');
    if (section != profile || eq == std::string_view::npos) continue;
    const std::string_view key = Trim(line.substr(0, eq));
    const std::string value(Trim(line.substr(eq + 1)));
    if (key == "aws_access_key_id") credentials.access_key_id = value;
    if (key == "aws_secret_access_key") credentials.secret_access_key = value;
    if (key == "aws_session_token" || key == "aws_security_token") {
      credentials.session_token = value;
    }
  }
  if (!found) {
    return InvalidArgument("S3 credentials: " + path + " has no profile [" + profile +
                           "]; add it, or set AWS_PROFILE to a profile it has");
  }
  for (const auto& [value, key] :
       {std::pair{&credentials.access_key_id, "aws_access_key_id"},
        std::pair{&credentials.secret_access_key, "aws_secret_access_key"}}) {
    if (value->empty()) {
      return InvalidArgument(where + " has no " + key + "; add it to that profile");
    }
  }
  return credentials;
}

}  // namespace

Result<S3Credentials> S3CredentialsFromEnvironment() {
  const std::optional<std::string> id = NonEmptyEnv("AWS_ACCESS_KEY_ID");
  const std::optional<std::string> secret = NonEmptyEnv("AWS_SECRET_ACCESS_KEY");
  if (id || secret) {
    if (!id || !secret) {
      return InvalidArgument(std::string("S3 credentials: ") +
                             (id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY") + " is set but " +
                             (id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID") +
                             " is not; set both, or neither to use the credentials file");
    }
    return S3Credentials{*id, *secret, NonEmptyEnv("AWS_SESSION_TOKEN").value_or("")};
  }
  std::string path;
  if (std::optional<std::string> file = NonEmptyEnv("AWS_SHARED_CREDENTIALS_FILE")) {
    path = *file;
  } else if (std::optional<std::string> home = NonEmptyEnv("HOME")) {
    path = *home + "/.aws/credentials";
  } else {
    return InvalidArgument(
        "S3 credentials: none found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
        "AWS_SHARED_CREDENTIALS_FILE (HOME is not set, so there is no ~/.aws/credentials)");
  }
  const std::string profile = NonEmptyEnv("AWS_PROFILE").value_or("default");
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return InvalidArgument(
        "S3 credentials: none found; AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY are not set and " +
        path + " cannot be read (" + std::generic_category().message(errno) +
        "); set the variables or write that file");
  }
  std::string text;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), file)) > 0;) text.append(buffer, n);
  const bool read_error = std::ferror(file) != 0;
  std::fclose(file);
  if (read_error) return InvalidArgument("S3 credentials: cannot read " + path);
  return ParseCredentialsFile(text, path, profile);
}

// ---------------------------------------------------------------------------------------------
// Opening

Result<S3StateStore::Location> S3StateStore::ParseUrl(std::string_view url) {
  constexpr std::string_view kScheme = "s3://";
  if (url.size() < kScheme.size() ||
      !std::equal(kScheme.begin(), kScheme.end(), url.begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
      })) {
    return UrlError("it does not start with s3://");
  }
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find('#') != std::string_view::npos) return UrlError("a fragment ('#') is not allowed");
  const size_t question = rest.find('?');
  std::string_view query =
      question == std::string_view::npos ? std::string_view() : rest.substr(question + 1);
  rest = rest.substr(0, question);
  const size_t slash = rest.find('/');
  Location location;
  location.bucket = std::string(rest.substr(0, slash));
  if (!IsValidBucketName(location.bucket)) {
    return UrlError("invalid bucket name " + Shown(location.bucket) +
                    "; use 3-63 characters of a-z, 0-9, '.', '-', '_', starting and ending with a "
                    "letter or digit, no \"..\", not an IP address");
  }
  std::string_view prefix = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  if (prefix.ends_with('/')) prefix.remove_suffix(1);
  if (!prefix.empty() && (prefix.size() > kMaxPrefixBytes || !IsValidObjectName(prefix))) {
    return UrlError("invalid prefix " + Shown(prefix) +
                    "; use up to 511 bytes of [A-Za-z0-9._-] in '/'-separated parts, none of them "
                    "empty, \".\" or \"..\"");
  }
  location.prefix = std::string(prefix);
  std::optional<std::string> endpoint;
  std::optional<std::string> region;
  std::optional<std::string> max_keys;
  std::optional<std::string> timeout_ms;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    const size_t eq = param.find('=');
    const std::string_view name = param.substr(0, eq);
    std::optional<std::string>* slot = name == "endpoint"     ? &endpoint
                                       : name == "region"     ? &region
                                       : name == "max-keys"   ? &max_keys
                                       : name == "timeout-ms" ? &timeout_ms
                                                              : nullptr;
    if (slot == nullptr) {
      return UrlError("unknown parameter " + Shown(name) +
                      "; use endpoint, region, max-keys or timeout-ms");
    }
    if (slot->has_value()) return UrlError("parameter " + std::string(name) + " is given twice");
    *slot = PercentDecode(eq == std::string_view::npos ? "" : param.substr(eq + 1));
    if (!slot->has_value() || (*slot)->empty()) {
      return UrlError("parameter " + std::string(name) + " has an empty or malformed value");
    }
  }
  location.region = region.value_or(std::string(kDefaultRegion));
  if (!IsValidRegion(location.region)) {
    return UrlError("invalid region " + Shown(location.region) +
                    "; use the bucket's region, e.g. us-east-1 (auto for GCS or R2)");
  }
  if (endpoint) {
    std::optional<std::string> normalized = NormalizeEndpoint(*endpoint);
    if (!normalized) {
      return UrlError("invalid endpoint " + Shown(*endpoint) +
                      "; use http(s)://HOST[:PORT] without user, path or query");
    }
    location.endpoint = std::move(*normalized);
  } else {
    location.endpoint = "https://s3." + location.region + ".amazonaws.com";
  }
  if (max_keys) {
    const bool digits =
        max_keys->size() <= 4 && std::all_of(max_keys->begin(), max_keys->end(),
                                             [](char c) { return c >= '0' && c <= '9'; });
    location.max_keys = digits ? std::stoi(*max_keys) : 0;
    if (location.max_keys < 1 || location.max_keys > 1000) {
      return UrlError("max-keys must be a number from 1 to 1000");
    }
  }
  if (timeout_ms) {
    const bool digits =
        timeout_ms->size() <= 6 && std::all_of(timeout_ms->begin(), timeout_ms->end(),
                                               [](char c) { return c >= '0' && c <= '9'; });
    location.timeout_ms = digits ? std::stoi(*timeout_ms) : 0;
    if (location.timeout_ms < 100 || location.timeout_ms > 600'000) {
      return UrlError("timeout-ms must be a number of milliseconds from 100 to 600000");
    }
  }
  return location;
}

Result<std::unique_ptr<S3StateStore>> S3StateStore::Open(std::string_view url,
                                                         const S3Credentials& credentials) {
  Result<Location> location = ParseUrl(url);
  if (!location.ok()) return location.status();
  const std::string& id = credentials.access_key_id;
  if (id.empty() || !IsHeaderSafe(id) || id.find(':') != std::string::npos ||
      id.find(' ') != std::string::npos) {
    return InvalidArgument(
        "s3 store: the access key id is empty or has characters keys never "
        "have (':', spaces, control characters); check the credentials");
  }
  if (credentials.secret_access_key.empty() || !IsHeaderSafe(credentials.secret_access_key) ||
      !IsHeaderSafe(credentials.session_token)) {
    return InvalidArgument(
        "s3 store: the secret access key is empty, or the secret or the session "
        "token has control characters; check the credentials");
  }
  return std::unique_ptr<S3StateStore>(new S3StateStore(std::move(*location), credentials));
}

S3StateStore::S3StateStore(Location location, S3Credentials credentials)
    : location_(std::move(location)),
      credentials_(std::move(credentials)),
      sigv4_("aws:amz:" + location_.region + ":s3"),
      user_(credentials_.access_key_id + ":" + credentials_.secret_access_key) {}

S3StateStore::~S3StateStore() = default;

std::string S3StateStore::Describe() const {
  std::string text = "s3://" + location_.bucket;
  if (!location_.prefix.empty()) text += "/" + location_.prefix;
  text += "?endpoint=" + location_.endpoint + "&region=" + location_.region;
  if (location_.max_keys > 0) text += "&max-keys=" + std::to_string(location_.max_keys);
  if (location_.timeout_ms > 0) text += "&timeout-ms=" + std::to_string(location_.timeout_ms);
  return text;
}

// ---------------------------------------------------------------------------------------------
// Requests

std::string S3StateStore::KeyOf(std::string_view name) const {
  return location_.prefix.empty() ? std::string(name) : location_.prefix + "/" + std::string(name);
}

std::string S3StateStore::ObjectUrl(std::string_view name) const {
  // Keys are made of unreserved characters and '/', which S3 keeps as is in paths.
  return location_.endpoint + "/" + location_.bucket + "/" + KeyOf(name);
}

std::string S3StateStore::ListUrl(std::string_view key_prefix, int max_keys,
                                  std::string_view continuation_token) const {
  std::vector<std::pair<std::string, std::string>> params = {{"list-type", "2"}};
  if (!key_prefix.empty()) params.emplace_back("prefix", key_prefix);
  if (max_keys > 0) params.emplace_back("max-keys", std::to_string(max_keys));
  if (!continuation_token.empty()) params.emplace_back("continuation-token", continuation_token);
  return location_.endpoint + "/" + location_.bucket + "?" + CanonicalQuery(params);
}

HttpCall S3StateStore::SignedCall(std::string method, std::string url,
                                  std::string payload_sha256) const {
  HttpCall call;
  call.method = std::move(method);
  call.url = std::move(url);
  call.headers.push_back("x-amz-content-sha256: " + payload_sha256);
  if (!credentials_.session_token.empty()) {
    call.headers.push_back("x-amz-security-token: " + credentials_.session_token);
  }
  call.aws_sigv4 = sigv4_;
  call.user = user_;
  call.timeout =
      location_.timeout_ms > 0 ? std::chrono::milliseconds(location_.timeout_ms) : kCallTimeout;
  return call;
}

Result<HttpReply> S3StateStore::Send(const HttpCall& call, std::string_view operation,
                                     std::string_view object, int* attempts) const {
  std::string what = ErrorPrefix(operation, object);
  what.resize(what.size() - 2);  // PerformHttpCall adds ": <cause>"
  int count = 0;
  bool transport_failure = false;
  Result<HttpReply> reply = CallWithRetries(RetryPolicy{}, [&]() -> Result<HttpReply> {
    ++count;
    Result<HttpReply> outcome = PerformHttpCall(call, what);
    transport_failure = !outcome.ok();
    // 409 ConditionalRequestConflict: a concurrent conditional write; S3 says to retry.
    if (outcome.ok() && outcome->status == 409 && call.method == "PUT") {
      return HttpError(operation, object, *outcome);
    }
    return outcome;
  });
  if (attempts != nullptr) *attempts = count;
  if (transport_failure) {
    return Unavailable(reply.status().message() + " (" + std::to_string(count) +
                       " attempts); check the endpoint and that the store is reachable");
  }
  return reply;
}

std::string S3StateStore::ErrorPrefix(std::string_view operation, std::string_view object) const {
  return "s3 store " + Describe() + ": " + std::string(operation) + " " + std::string(object) +
         ": ";
}

Status S3StateStore::HttpError(std::string_view operation, std::string_view object,
                               const HttpReply& reply) const {
  const S3ErrorBody error = ParseS3Error(reply.body);
  std::string cause = "HTTP " + std::to_string(reply.status);
  if (!error.code.empty()) cause += " " + error.code;
  if (!error.message.empty()) {
    std::string message = error.message.substr(0, kMaxS3MessageBytes);
    for (char& c : message) {
      if (c < ' ') c = ' ';
    }
    cause += ": " + message;
  }
  return Unavailable(ErrorPrefix(operation, object) + cause + "; " +
                     Advice(reply.status, error.code));
}

// ---------------------------------------------------------------------------------------------
// Operations

Status S3StateStore::NameError(std::string_view operation, std::string_view name) const {
  return InvalidArgument(ErrorPrefix(operation, name) + std::string(kObjectNameRule));
}

Status S3StateStore::CreateIfAbsent(std::string_view name, std::string_view data) {
  if (!IsValidObjectName(name)) return NameError("create", name);
  return Create(name, std::string(data));
}

Status S3StateStore::Create(std::string_view name, std::string body) {
  HttpCall call = SignedCall("PUT", ObjectUrl(name), Sha256Hex(body));
  call.headers.push_back("If-None-Match: *");
  // Google Cloud Storage's XML API applies If-None-Match to reads only; its create-only
  // precondition is this header, which S3 and the other S3-compatible servers ignore.
  call.headers.push_back("x-goog-if-generation-match: 0");
  call.headers.push_back("Content-Type: application/octet-stream");
  call.body = std::move(body);
  call.timeout += kTimeoutPerMiB * static_cast<int64_t>(call.body.size() >> 20);
  int attempts = 0;
  Result<HttpReply> reply = Send(call, "create", name, &attempts);
  if (!reply.ok()) return reply.status();
  if (reply->status >= 200 && reply->status < 300) return Status::Ok();
  if (reply->status == 412) {
    if (attempts > 1) return CheckRetriedCreate(name, call.body);
    return AlreadyExists(ErrorPrefix("create", name) + "object exists");
  }
  return HttpError("create", name, *reply);
}

Status S3StateStore::CheckRetriedCreate(std::string_view name, std::string_view data) {
  Result<std::string> stored = Read(name);
  if (stored.ok() && *stored == data) return Status::Ok();
  std::string message = ErrorPrefix("create", name) + "object exists";
  if (!stored.ok()) {
    message += " (after a retry; reading it back to see whether it is ours failed: " +
               stored.status().message() + ")";
  }
  return AlreadyExists(std::move(message));
}

std::vector<Status> S3StateStore::CreateManyIfAbsent(std::span<const ObjectToCreate> objects) {
  // One lane per name, in order, so that the first of several objects of one name wins.
  std::vector<std::vector<size_t>> lanes;
  std::unordered_map<std::string_view, size_t> lane_of_name;
  for (size_t i = 0; i < objects.size(); ++i) {
    const auto [it, added] = lane_of_name.try_emplace(objects[i].name(), lanes.size());
    if (added) lanes.emplace_back();
    lanes[it->second].push_back(i);
  }
  std::vector<Status> results(objects.size());
  std::atomic<size_t> next_lane{0};
  auto work = [&] {
    for (size_t lane; (lane = next_lane.fetch_add(1)) < lanes.size();) {
      for (size_t i : lanes[lane]) {
        const std::string_view name = objects[i].name();
        results[i] =
            IsValidObjectName(name) ? Create(name, objects[i].Joined()) : NameError("create", name);
      }
    }
  };
  std::vector<std::thread> helpers;
  const size_t wanted = std::min(lanes.size(), kMaxParallelCreates);
  try {
    while (helpers.size() + 1 < wanted) helpers.emplace_back(work);
  } catch (const std::system_error&) {
    // No more threads to be had: the ones running (and this one) do all the work.
  }
  work();
  for (std::thread& helper : helpers) helper.join();
  return results;
}

Result<std::string> S3StateStore::Read(std::string_view name) {
  if (!IsValidObjectName(name)) return NameError("read", name);
  Result<HttpReply> reply =
      Send(SignedCall("GET", ObjectUrl(name), EmptyPayloadSha256()), "read", name);
  if (!reply.ok()) return reply.status();
  if (reply->status == 404) {
    const std::string code = ParseS3Error(reply->body).code;
    if (code.empty() || code == "NoSuchKey") {
      return NotFound("s3 store " + Describe() + ": object " + std::string(name) + " not found");
    }
  }
  if (reply->status != 200) return HttpError("read", name, *reply);
  std::string body = std::move(reply->body);
  if (body.capacity() - body.size() < kReadPadding) body.reserve(body.size() + kReadPadding);
  return body;
}

Status S3StateStore::Delete(std::string_view name) {
  if (!IsValidObjectName(name)) return NameError("delete", name);
  Result<HttpReply> reply =
      Send(SignedCall("DELETE", ObjectUrl(name), EmptyPayloadSha256()), "delete", name);
  if (!reply.ok()) return reply.status();
  if ((reply->status >= 200 && reply->status < 300) || reply->status == 404) return Status::Ok();
  return HttpError("delete", name, *reply);
}

Result<std::vector<std::string>> S3StateStore::List(std::string_view prefix) {
  const std::string object = "prefix \"" + std::string(prefix) + "\"";
  if (prefix.starts_with('/') || HasDotDotFolder(prefix)) {
    return InvalidArgument(ErrorPrefix("list", object) +
                           "a prefix must not start with '/' or contain a \"..\" segment");
  }
  std::vector<std::string> names;
  // A prefix with other characters, or longer than a name, is a prefix of no object name.
  if (prefix.size() > 512 || !std::all_of(prefix.begin(), prefix.end(), IsNameCharOrSlash)) {
    return names;
  }
  const std::string store_prefix = location_.prefix.empty() ? "" : location_.prefix + "/";
  const std::string key_prefix = store_prefix + std::string(prefix);
  std::string token;
  while (true) {
    Result<HttpReply> reply = Send(
        SignedCall("GET", ListUrl(key_prefix, location_.max_keys, token), EmptyPayloadSha256()),
        "list", object);
    if (!reply.ok()) return reply.status();
    if (reply->status != 200) return HttpError("list", object, *reply);
    Result<S3ListPage> page = ParseListObjectsV2(reply->body);
    if (!page.ok()) {
      return Unavailable(ErrorPrefix("list", object) +
                         "the store's answer is not a listing: " + page.status().message());
    }
    for (std::string& key : page->keys) {
      if (!key.starts_with(store_prefix)) continue;
      std::string name = key.substr(store_prefix.size());
      if (IsValidObjectName(name)) names.push_back(std::move(name));
    }
    if (!page->is_truncated) break;
    if (page->next_continuation_token.empty() || page->next_continuation_token == token) {
      return Unavailable(ErrorPrefix("list", object) +
                         "the store said the listing goes on but gave no new continuation token");
    }
    token = std::move(page->next_continuation_token);
  }
  // S3 lists in UTF-8 binary order already; sorting keeps the promise for any other server.
  std::sort(names.begin(), names.end());
  return names;
}

Status S3StateStore::Probe() {
  const std::string prefix = location_.prefix.empty() ? "" : location_.prefix + "/";
  Result<HttpReply> reply =
      Send(SignedCall("GET", ListUrl(prefix, 1, ""), EmptyPayloadSha256()), "probe", "bucket");
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) return HttpError("probe", "bucket", *reply);
  return Status::Ok();
}

}  // namespace buildtrace
