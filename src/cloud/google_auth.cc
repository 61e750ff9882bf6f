// Token sources and authorized calls for the Google Cloud backends. JSON is read with simdjson's
// DOM API (the answers are small); the JWT is signed with OpenSSL's EVP interface.
#include "cloud/google_auth.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <simdjson.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "core/json_writer.h"

namespace buildtrace {
namespace {

using Clock = std::chrono::system_clock;

std::string Base64Url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = (uint32_t(uint8_t(bytes[i])) << 16) |
                       (uint32_t(uint8_t(bytes[i + 1])) << 8) | uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  if (i < bytes.size()) {
    uint32_t n = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) n |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    if (i + 1 < bytes.size()) out += kAlphabet[(n >> 6) & 63];
  }
  return out;  // no padding, as JWTs are written
}

// The token answer of both the metadata server and the OAuth2 token endpoint:
// {"access_token": "...", "expires_in": 3599, "token_type": "Bearer"}.
Result<GoogleAccessToken> ParseTokenAnswer(const std::string& body, Clock::time_point now,
                                           const std::string& what) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view token;
  int64_t expires_in = 0;
  if (parser.parse(body).get(root) != simdjson::SUCCESS ||
      root["access_token"].get_string().get(token) != simdjson::SUCCESS || token.empty()) {
    return Unavailable(what + ": the answer has no access_token; check the token endpoint");
  }
  if (root["expires_in"].get_int64().get(expires_in) != simdjson::SUCCESS || expires_in <= 0) {
    return Unavailable(what + ": the answer has no positive expires_in");
  }
  return GoogleAccessToken{std::string(token), now + std::chrono::seconds(expires_in)};
}

// The "error" (and "error_description") of an OAuth2 error answer; they name the problem
// (e.g. invalid_grant) without echoing credentials.
std::string OAuthError(const HttpReply& reply) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view error, description;
  std::string text = "HTTP " + std::to_string(reply.status);
  if (parser.parse(reply.body).get(root) != simdjson::SUCCESS) return text;
  if (root["error"].get_string().get(error) == simdjson::SUCCESS) text += ": " + std::string(error);
  if (root["error_description"].get_string().get(description) == simdjson::SUCCESS) {
    text += " (" + std::string(description) + ")";
  }
  return text;
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

Result<std::string> SignRs256(std::string_view pem, std::string_view data) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
    return InvalidArgument(
        "the service-account private_key is not a PEM RSA private key; download a new JSON key");
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  size_t size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return Internal("cannot sign the service-account JWT with OpenSSL");
  }
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return Internal("cannot sign the service-account JWT with OpenSSL");
  }
  signature.resize(size);
  return signature;
}

// application/x-www-form-urlencoded value.
std::string FormEncode(std::string_view text) { return PercentEncode(text); }

}  // namespace

// ---- TokenSource
// ---------------------------------------------------------------------------------

TokenSource::TokenSource(WallClock clock) : clock_(std::move(clock)) {}

Clock::time_point TokenSource::Now() const { return clock_ ? clock_() : Clock::now(); }

Result<std::string> TokenSource::Token() {
  std::lock_guard lock(mutex_);
  const Clock::time_point now = Now();
  if (cached_) {
    const auto lifetime = cached_->token.expires_at - cached_->fetched_at;
    const auto margin = std::min<Clock::duration>(kRefreshMargin, lifetime / 2);
    if (now < cached_->token.expires_at - margin) return cached_->token.value;
  }
  Result<GoogleAccessToken> fresh = Fetch();
  if (!fresh.ok()) {
    if (cached_ && now < cached_->token.expires_at) return cached_->token.value;
    return fresh.status();
  }
  cached_ = Cached{std::move(*fresh), now};
  return cached_->token.value;
}

void TokenSource::Invalidate(std::string_view rejected) {
  std::lock_guard lock(mutex_);
  if (cached_ && cached_->token.value == rejected) cached_.reset();
}

Result<GoogleAccessToken> StaticTokenSource::Fetch() {
  return GoogleAccessToken{token_, Clock::time_point::max()};
}

// ---- Metadata server
// -----------------------------------------------------------------------------

std::string MetadataServerTokenSource::DefaultBaseUrl() {
  const char* host = std::getenv("GCE_METADATA_HOST");
  return host != nullptr && *host != '\0' ? EmulatorBaseUrl(host)
                                          : "http://metadata.google.internal";
}

MetadataServerTokenSource::MetadataServerTokenSource(std::string base_url, WallClock clock,
                                                     RetryPolicy retry)
    : TokenSource(std::move(clock)), base_url_(std::move(base_url)), retry_(std::move(retry)) {
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

Result<GoogleAccessToken> MetadataServerTokenSource::Fetch() {
  const std::string what = Describe() + ": fetch access token";
  HttpCall call;
  call.url = base_url_ + "/computeMetadata/v1/instance/service-accounts/default/token";
  call.headers = {"Metadata-Flavor: Google"};
  call.timeout = std::chrono::seconds(10);
  call.connect_timeout = std::chrono::seconds(2);
  call.max_response_bytes = 64 << 10;
  Result<HttpReply> reply = CallWithRetries(retry_, [&] { return PerformHttpCall(call, what); });
  if (!reply.ok()) {
    return Unavailable(reply.status().message() +
                       "; outside Google Cloud, set GOOGLE_APPLICATION_CREDENTIALS to a key file");
  }
  if (reply->status != 200) {
    return Unavailable(what + ": HTTP " + std::to_string(reply->status) +
                       "; check that the instance has a service account");
  }
  return ParseTokenAnswer(reply->body, Now(), what);
}

// ---- Service account
// -----------------------------------------------------------------------------

Result<ServiceAccountKey> ParseServiceAccountKey(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(simdjson::padded_string(json)).get(root) != simdjson::SUCCESS ||
      !root.is_object()) {
    return InvalidArgument("the service-account key is not a JSON object; download a new key");
  }
  ServiceAccountKey key;
  for (auto [field, out, required] :
       {std::tuple<const char*, std::string*, bool>{"client_email", &key.client_email, true},
        {"private_key", &key.private_key, true},
        {"private_key_id", &key.private_key_id, false},
        {"token_uri", &key.token_uri, false}}) {
    std::string_view value;
    if (root[field].get_string().get(value) == simdjson::SUCCESS && !value.empty()) {
      *out = std::string(value);
    } else if (required) {
      return InvalidArgument(std::string("the service-account key has no string field \"") + field +
                             "\"; use a JSON key of type service_account");
    }
  }
  return key;
}

Result<std::string> MakeServiceAccountJwt(const ServiceAccountKey& key, std::string_view scope,
                                          int64_t issued_at_s) {
  std::string header;
  JsonWriter h(header);
  h.BeginObject().Key("alg").String("RS256").Key("typ").String("JWT");
  if (!key.private_key_id.empty()) h.Key("kid").String(key.private_key_id);
  h.EndObject();
  std::string claims;
  JsonWriter(claims)
      .BeginObject()
      .Key("iss")
      .String(key.client_email)
      .Key("scope")
      .String(scope)
      .Key("aud")
      .String(key.token_uri)
      .Key("iat")
      .Int(issued_at_s)
      .Key("exp")
      .Int(issued_at_s + 3600)
      .EndObject();
  std::string signing_input = Base64Url(header) + "." + Base64Url(claims);
  Result<std::string> signature = SignRs256(key.private_key, signing_input);
  if (!signature.ok()) return signature.status();
  return signing_input + "." + Base64Url(*signature);
}

Result<std::unique_ptr<ServiceAccountTokenSource>> ServiceAccountTokenSource::FromFile(
    const std::string& path, WallClock clock, RetryPolicy retry) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  if (!file || file.bad()) {
    return InvalidArgument("service-account key file " + path +
                           ": cannot be read; check GOOGLE_APPLICATION_CREDENTIALS");
  }
  Result<ServiceAccountKey> key = ParseServiceAccountKey(text.str());
  if (!key.ok()) return key.status().WithContext("service-account key file " + path + ": ");
  return std::make_unique<ServiceAccountTokenSource>(std::move(*key), std::move(clock),
                                                     std::move(retry));
}

ServiceAccountTokenSource::ServiceAccountTokenSource(ServiceAccountKey key, WallClock clock,
                                                     RetryPolicy retry, std::string scope)
    : TokenSource(std::move(clock)),
      key_(std::move(key)),
      retry_(std::move(retry)),
      scope_(std::move(scope)) {}

std::string ServiceAccountTokenSource::Describe() const {
  return "service account " + key_.client_email + " at " + key_.token_uri;
}

Result<GoogleAccessToken> ServiceAccountTokenSource::Fetch() {
  const std::string what = Describe() + ": fetch access token";
  const Clock::time_point now = Now();
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  Result<std::string> jwt = MakeServiceAccountJwt(key_, scope_, now_s);
  if (!jwt.ok()) return jwt.status().WithContext(what + ": ");
  HttpCall call;
  call.method = "POST";
  call.url = key_.token_uri;
  call.headers = {"Content-Type: application/x-www-form-urlencoded"};
  call.body = "grant_type=" + FormEncode("urn:ietf:params:oauth:grant-type:jwt-bearer") +
              "&assertion=" + FormEncode(*jwt);
  call.timeout = std::chrono::seconds(20);
  call.max_response_bytes = 64 << 10;
  Result<HttpReply> reply = CallWithRetries(retry_, [&] { return PerformHttpCall(call, what); });
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    return Unavailable(what + ": " + OAuthError(*reply) +
                       "; check that the key is valid and not revoked, and the clock is right");
  }
  return ParseTokenAnswer(reply->body, now, what);
}

Result<std::unique_ptr<TokenSource>> DefaultTokenSource() {
  const char* path = std::getenv("GOOGLE_APPLICATION_CREDENTIALS");
  if (path != nullptr && *path != '\0') {
    Result<std::unique_ptr<ServiceAccountTokenSource>> source =
        ServiceAccountTokenSource::FromFile(path);
    if (!source.ok()) return source.status();
    return std::unique_ptr<TokenSource>(std::move(*source));
  }
  return std::unique_ptr<TokenSource>(std::make_unique<MetadataServerTokenSource>());
}

Result<std::unique_ptr<TokenSource>> TokenSourceFor(const char* emulator_variable) {
  const char* emulator = std::getenv(emulator_variable);
  if (emulator != nullptr && *emulator != '\0') {
    return std::unique_ptr<TokenSource>(std::make_unique<StaticTokenSource>("emulator"));
  }
  return DefaultTokenSource();
}

// ---- Calling Google APIs
// -------------------------------------------------------------------------

Result<HttpReply> CallGoogleApi(TokenSource& tokens, const RetryPolicy& policy, HttpCall call,
                                std::string_view what, int* attempts) {
  return CallGoogleApiOn(tokens, policy, call, what, attempts);
}

Result<HttpReply> CallGoogleApiOn(TokenSource& tokens, const RetryPolicy& policy, HttpCall& call,
                                  std::string_view what, int* attempts) {
  call.headers.emplace_back();  // the Authorization header, set per token below
  for (bool refreshed = false;; refreshed = true) {
    Result<std::string> token = tokens.Token();
    if (!token.ok()) {
      return Unavailable(std::string(what) + ": no access token: " + token.status().message());
    }
    call.headers.back() = "Authorization: Bearer " + *token;
    Result<HttpReply> reply = CallWithRetries(policy, [&] {
      if (attempts != nullptr) ++*attempts;
      return PerformHttpCall(call, what);
    });
    if (reply.ok() && reply->status == 401 && !refreshed) {
      tokens.Invalidate(*token);
      continue;
    }
    return reply;
  }
}

std::string DescribeGoogleError(const HttpReply& reply) {
  std::string text = "HTTP " + std::to_string(reply.status);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view message;
  if (parser.parse(reply.body).get(root) == simdjson::SUCCESS &&
      root["error"]["message"].get_string().get(message) == simdjson::SUCCESS) {
    text += ": " + std::string(message.substr(0, 300));
  }
  return text;
}

std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '.' || u == '_' || u == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string EmulatorBaseUrl(std::string_view host) {
  std::string url = host.find("://") == std::string_view::npos ? "http://" + std::string(host)
                                                               : std::string(host);
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace buildtrace
