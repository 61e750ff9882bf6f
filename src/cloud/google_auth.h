// OAuth2 access tokens for the Google Cloud backends (gs:// and bigquery://), and the one way
// those backends call a Google API: with "Authorization: Bearer", retries, and one token refresh
// when the API answers 401. Tokens come from the metadata server (Cloud Run, GCE, GKE), from a
// service-account key file (a JWT signed here with OpenSSL and exchanged at the token URI), or
// are given (emulators, tests). No message ever carries a token or key material.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "cloud/http_call.h"
#include "core/status.h"

namespace buildtrace {

inline constexpr std::string_view kCloudPlatformScope =
    "https://www.googleapis.com/auth/cloud-platform";

using WallClock = std::function<std::chrono::system_clock::time_point()>;

// (Not "AccessToken": that is the bearer-token entry of http/access_control.h, and two classes of
// one name in one namespace, linked into one binary, break the one-definition rule.)
struct GoogleAccessToken {
  std::string value;
  std::chrono::system_clock::time_point expires_at;
};

// Hands out an access token, fetched once and reused until shortly before it expires.
// Thread-safe: concurrent callers share one fetch (the others wait for it). Subclasses implement
// Fetch(); the cache lives here.
class TokenSource {
 public:
  // A cached token is replaced once less than this much of its life is left (or, for tokens
  // that live under two minutes, once half of it is gone).
  static constexpr std::chrono::seconds kRefreshMargin{60};

  virtual ~TokenSource() = default;

  // The current token, fetching a new one when none is cached or it is about to expire. If the
  // fetch fails but the cached token has not expired yet, returns the cached one (the next call
  // tries again). kUnavailable, naming the source and the cause, when there is no usable token.
  Result<std::string> Token();

  // Drops the cached token if it is still `rejected` (an API answered 401 to it), so that the
  // next Token() fetches a new one. A token already replaced by another thread stays.
  void Invalidate(std::string_view rejected);

  // Where the tokens come from, for messages, e.g. "metadata server http://...".
  virtual std::string Describe() const = 0;

 protected:
  explicit TokenSource(WallClock clock = {});
  std::chrono::system_clock::time_point Now() const;

  // Gets a new token from the source. Called with the cache locked, so never concurrently.
  virtual Result<GoogleAccessToken> Fetch() = 0;

 private:
  struct Cached {
    GoogleAccessToken token;
    std::chrono::system_clock::time_point fetched_at;
  };

  WallClock clock_;
  std::mutex mutex_;
  std::optional<Cached> cached_;
};

// A fixed token that never expires: for emulators that ignore authentication, and for tests.
class StaticTokenSource : public TokenSource {
 public:
  explicit StaticTokenSource(std::string token) : token_(std::move(token)) {}
  std::string Describe() const override { return "static token"; }

 protected:
  Result<GoogleAccessToken> Fetch() override;

 private:
  std::string token_;
};

// Tokens of the default service account from the metadata server:
// GET {base}/computeMetadata/v1/instance/service-accounts/default/token, "Metadata-Flavor: Google".
class MetadataServerTokenSource : public TokenSource {
 public:
  // "http://" + $GCE_METADATA_HOST when that is set, else "http://metadata.google.internal".
  static std::string DefaultBaseUrl();

  explicit MetadataServerTokenSource(std::string base_url = DefaultBaseUrl(), WallClock clock = {},
                                     RetryPolicy retry = {});
  std::string Describe() const override { return "metadata server " + base_url_; }

 protected:
  Result<GoogleAccessToken> Fetch() override;

 private:
  std::string base_url_;
  RetryPolicy retry_;
};

// The fields of a service-account key file that the JWT flow needs.
struct ServiceAccountKey {
  std::string client_email;
  std::string private_key;     // PEM, PKCS#8
  std::string private_key_id;  // the JWT's "kid"; may be empty
  std::string token_uri = "https://oauth2.googleapis.com/token";
};

// Parses a key file's JSON. kInvalidArgument naming the missing field (never its value).
Result<ServiceAccountKey> ParseServiceAccountKey(std::string_view json);

// The signed assertion of the JWT bearer flow (RFC 7523): header {"alg":"RS256","typ":"JWT",
// "kid":...}, claims {"iss": client_email, "scope", "aud": token_uri, "iat", "exp": iat + 3600},
// RS256 over "base64url(header).base64url(claims)". kInvalidArgument if the key is not a PEM RSA
// private key.
Result<std::string> MakeServiceAccountJwt(const ServiceAccountKey& key, std::string_view scope,
                                          int64_t issued_at_s);

// Tokens for a service account: POST to the key's token_uri with
// grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer and the signed JWT as assertion.
class ServiceAccountTokenSource : public TokenSource {
 public:
  // Reads and parses the key file at `path`.
  static Result<std::unique_ptr<ServiceAccountTokenSource>> FromFile(const std::string& path,
                                                                     WallClock clock = {},
                                                                     RetryPolicy retry = {});

  explicit ServiceAccountTokenSource(ServiceAccountKey key, WallClock clock = {},
                                     RetryPolicy retry = {},
                                     std::string scope = std::string(kCloudPlatformScope));
  std::string Describe() const override;

 protected:
  Result<GoogleAccessToken> Fetch() override;

 private:
  ServiceAccountKey key_;
  RetryPolicy retry_;
  std::string scope_;
};

// The key file named by GOOGLE_APPLICATION_CREDENTIALS when that is set, else the metadata server.
Result<std::unique_ptr<TokenSource>> DefaultTokenSource();

// A fixed token ("emulator") when the environment variable `emulator_variable` (for example
// STORAGE_EMULATOR_HOST) is set, since emulators take any bearer token and have no metadata
// server beside them; DefaultTokenSource() otherwise.
Result<std::unique_ptr<TokenSource>> TokenSourceFor(const char* emulator_variable);

// ---- Calling Google APIs ------------------------------------------------------------------------

// Performs `call` with the token of `tokens` as "Authorization: Bearer", through CallWithRetries
// with `policy`. A 401 drops the token, fetches a new one and repeats the call once. `attempts`,
// when given, is increased by every HTTP attempt made. Messages start with `what`.
Result<HttpReply> CallGoogleApi(TokenSource& tokens, const RetryPolicy& policy, HttpCall call,
                                std::string_view what, int* attempts = nullptr);
// The same on a call its caller keeps (a large upload's body, to compare with what a retried
// create finds, without a copy of it): `call` gets the Authorization header, and keeps it.
Result<HttpReply> CallGoogleApiOn(TokenSource& tokens, const RetryPolicy& policy, HttpCall& call,
                                  std::string_view what, int* attempts = nullptr);

// "HTTP <status>: <the error.message of a Google JSON error body, if any>", for messages.
std::string DescribeGoogleError(const HttpReply& reply);

// RFC 3986 percent-encoding of everything but unreserved characters ('/' becomes %2F).
std::string PercentEncode(std::string_view text);

// "http://" + `host` unless `host` already names a scheme; trailing '/' removed. For the
// *_EMULATOR_HOST variables, which are "host:port" or a URL.
std::string EmulatorBaseUrl(std::string_view host);

}  // namespace buildtrace
