// S3StateStore: the StateStore on any S3-compatible object store (AWS S3, MinIO, Ceph,
// Cloudflare R2, moto, Google Cloud Storage through its XML API with HMAC keys), named by
//   s3://BUCKET[/PREFIX][?endpoint=URL][&region=R][&max-keys=N]
// Object "jobs/a/1.json" is the key "PREFIX/jobs/a/1.json", addressed path-style as
// <endpoint>/<bucket>/<key>. Requests are signed with AWS Signature V4 by libcurl.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/state_store.h"

namespace buildtrace {

struct HttpCall;
struct HttpReply;

struct S3Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-lived keys
};

// The credentials the AWS tools would use, in their order: AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN if set) when either is set; otherwise the shared
// credentials file (AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials), profile AWS_PROFILE
// (else "default"), keys aws_access_key_id, aws_secret_access_key, aws_session_token.
// kInvalidArgument, naming the variable, file or profile (never a value), when none are found,
// only one of the two variables is set, or the profile lacks a key.
Result<S3Credentials> S3CredentialsFromEnvironment();

class S3StateStore : public StateStore {
 public:
  // Parses and validates `url`; makes no network call (Probe() checks the bucket and the
  // credentials). URL parts, all checked, kInvalidArgument naming the bad part otherwise:
  // - BUCKET: 3-63 characters of a-z, 0-9, '.', '-', '_', starting and ending with a letter or
  // digit, no
  //   "..", not an IPv4 address.
  // - PREFIX: optional, up to 511 bytes, '/'-separated segments as in object names; a trailing
  //   '/' is dropped.
  // - endpoint: http(s)://HOST[:PORT] (no user, path or query); default
  //   https://s3.REGION.amazonaws.com. Query values may be percent-encoded.
  // - region: [a-z0-9-], 1-64 characters, the signing region; default us-east-1 ("auto" for
  //   GCS and R2).
  // - max-keys: 1-1000, keys per ListObjectsV2 page (the server's default, 1000, if absent); for
  //   tests of paging.
  // - timeout-ms: 100-600000, how long one HTTP call may take (default 30000, plus 1 s per MiB
  //   uploaded); with the 4 attempts of a failing call it bounds how long a request waits for a
  //   store that has stopped answering.
  // `credentials` needs an access key id and a secret; it never appears in a message.
  static Result<std::unique_ptr<S3StateStore>> Open(std::string_view url,
                                                    const S3Credentials& credentials);

  // The StateStore contract, with these S3 specifics. Each HTTP call has a timeout (30 s or
  // timeout-ms, plus 1 s per MiB uploaded) and is retried with backoff (4 attempts) on a transport
  // error, 408, 429 or 5xx. A store that keeps failing gives kUnavailable naming the store, the
  // operation and the object; S3 error answers (403 SignatureDoesNotMatch, AccessDenied,
  // NoSuchBucket...) are kUnavailable carrying S3's code and message. Thread-safe: the store holds
  // no state that changes.
  // - CreateIfAbsent is one PUT with "If-None-Match: *" and "x-goog-if-generation-match: 0"
  //   (GCS's form of it); 412 is kAlreadyExists. The server makes this atomic across instances
  //   (a server that ignores both headers would overwrite: use one that supports them). S3
  //   makes a stored object durable and atomic, and readable at once. A 409
  //   ConditionalRequestConflict (a concurrent create) is retried too.
  //   When a retried PUT gets 412, the lost answer of an earlier attempt may have been a
  //   success, so the object is read back: Ok if it holds exactly `data`, else (or if it cannot
  //   be read) kAlreadyExists. A concurrent creator of the very same bytes may thus get Ok too,
  //   which is harmless: the stored object is the same.
  Status CreateIfAbsent(std::string_view name, std::string_view data) override;
  // Up to 8 PUTs at a time; objects of the same name are created in their order in `objects`.
  // An object in pieces is joined into the PUT's body.
  std::vector<Status> CreateManyIfAbsent(std::span<const ObjectToCreate> objects) override;
  // One GET; 404 NoSuchKey is kNotFound.
  Result<std::string> Read(std::string_view name) override;
  // ListObjectsV2 pages under PREFIX/`prefix`, names relative to PREFIX, in byte order. Keys
  // under the prefix that are not valid object names (written by other tools) are not listed.
  // kInvalidArgument if `prefix` starts with '/' or has a complete ".." segment.
  Result<std::vector<std::string>> List(std::string_view prefix) override;
  // One DELETE (S3 answers 204 whether or not the key existed; a 404 is Ok as well). Needs the
  // s3:DeleteObject permission on PREFIX/outbox/*.
  Status Delete(std::string_view name) override;
  // A ListObjectsV2 of at most one key under PREFIX: checks the endpoint, the credentials, the
  // bucket and the permission to list. It cannot check the permission to write without leaving
  // an object behind or needing the permission to delete, which an append-only policy lacks.
  Status Probe() override;
  // "s3://BUCKET/PREFIX?endpoint=URL&region=R" (and "&max-keys=N", "&timeout-ms=N" if set); no
  // credentials.
  std::string Describe() const override;

  ~S3StateStore() override;

 private:
  struct Location {
    std::string bucket;
    std::string prefix;    // no leading or trailing '/'; may be empty
    std::string endpoint;  // scheme://host[:port], no trailing '/'
    std::string region;
    int max_keys = 0;    // 0: the server's default
    int timeout_ms = 0;  // 0: kCallTimeout (30 s)
  };
  static Result<Location> ParseUrl(std::string_view url);

  S3StateStore(Location location, S3Credentials credentials);

  // A call signed with the store's credentials, for a body whose SHA-256 is `payload_sha256`.
  HttpCall SignedCall(std::string method, std::string url, std::string payload_sha256) const;
  // The call with retries; `attempts` (if given) is set to the number of attempts made.
  Result<HttpReply> Send(const HttpCall& call, std::string_view operation, std::string_view object,
                         int* attempts = nullptr) const;
  std::string KeyOf(std::string_view name) const;
  std::string ObjectUrl(std::string_view name) const;
  // The URL of a ListObjectsV2 call for keys starting with `key_prefix`.
  std::string ListUrl(std::string_view key_prefix, int max_keys,
                      std::string_view continuation_token) const;
  // CreateIfAbsent of a name its caller has checked, with the body already in a string of its
  // own (the pieces of a batch's object are joined into it, the one copy the PUT's body needs).
  Status Create(std::string_view name, std::string body);
  // kInvalidArgument for `name`, which is not a valid object name.
  Status NameError(std::string_view operation, std::string_view name) const;
  // After a retried PUT got 412: Ok if the stored object is `data`, else kAlreadyExists.
  Status CheckRetriedCreate(std::string_view name, std::string_view data);
  // "s3 store <Describe()>: <operation> <object>: ", the prefix of every error message.
  std::string ErrorPrefix(std::string_view operation, std::string_view object) const;
  // kUnavailable for an HTTP answer that is not a success, with S3's code, message and advice.
  Status HttpError(std::string_view operation, std::string_view object,
                   const HttpReply& reply) const;

  const Location location_;
  const S3Credentials credentials_;
  const std::string sigv4_;  // "aws:amz:REGION:s3"
  const std::string user_;   // "ACCESS_KEY_ID:SECRET", for libcurl
};

}  // namespace buildtrace
