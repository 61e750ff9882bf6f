// GcsStateStore: the state store in a Google Cloud Storage bucket, through the JSON API, as a
// Cloud Run service would use it. URL: gs://BUCKET/PREFIX (the prefix is optional); object NAME
// is stored as "PREFIX/NAME". Tokens come from a TokenSource (cloud/google_auth.h).
//
// How the StateStore contract is kept:
// - CreateIfAbsent uploads with ifGenerationMatch=0, so GCS itself refuses (412) a second object
//   of a name, across any number of instances; an upload is atomic and durable when GCS answers.
// - Every call has a timeout and is retried with backoff on 408/429/5xx and lost connections.
//   A create whose retry answers 412 may have been written by our own earlier attempt: the object
//   is read back and the create is Ok if it holds exactly our bytes (a concurrent writer of the
//   very same bytes is then also reported as Ok; the stored content is the same either way).
// - A 401 (expired or revoked token) fetches a new token and repeats the call once.
// - List pages through objects.list; names outside the object-name rules are skipped.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cloud/google_auth.h"
#include "cloud/http_call.h"
#include "store/state_store.h"

namespace buildtrace {

// Cloud Storage's rule for bucket names, as gs:// URLs are checked against it: 3-222 characters
// of a-z 0-9 . _ -, a letter or digit first and last.
bool IsValidBucketName(std::string_view bucket);

class GcsStateStore : public StateStore {
 public:
  // "http://" + $STORAGE_EMULATOR_HOST when that is set, else "https://storage.googleapis.com".
  static std::string DefaultApiBase();

  // Parses `url` (gs://BUCKET or gs://BUCKET/PREFIX); no network call is made (Probe checks the
  // bucket). kInvalidArgument for a malformed URL, a bucket name GCS would refuse or a prefix
  // that is not a valid object name.
  static Result<std::unique_ptr<GcsStateStore>> Open(std::string_view url,
                                                     std::shared_ptr<TokenSource> tokens,
                                                     std::string api_base = DefaultApiBase(),
                                                     RetryPolicy retry = {});

  Status CreateIfAbsent(std::string_view name, std::string_view data) override;
  // One upload after another, each object's pieces joined into its body: the one copy the
  // upload needs.
  std::vector<Status> CreateManyIfAbsent(std::span<const ObjectToCreate> objects) override;
  Result<std::string> Read(std::string_view name) override;
  Result<std::vector<std::string>> List(std::string_view prefix) override;
  // objects.delete; 404 (no such object) is Ok.
  Status Delete(std::string_view name) override;
  // Asks GCS (buckets.testIamPermissions) whether the credentials may create, get and list
  // objects in the bucket; writes nothing.
  Status Probe() override;
  std::string Describe() const override;  // "gs://bucket/prefix"

 private:
  GcsStateStore(std::string bucket, std::string prefix, std::shared_ptr<TokenSource> tokens,
                std::string api_base, RetryPolicy retry);

  std::string FullName(std::string_view name) const;
  std::string ErrorPrefix(std::string_view operation, std::string_view name) const;
  Status ReplyError(std::string_view operation, std::string_view name, const HttpReply& reply,
                    int attempts) const;
  Result<HttpReply> Call(HttpCall call, std::string_view operation, std::string_view name,
                         int* attempts = nullptr);
  // CreateIfAbsent of a name its caller has checked, with the body in a string of its own.
  Status Create(std::string_view name, std::string body);
  // kInvalidArgument for `name`, which is not a valid object name.
  Status NameError(std::string_view operation, std::string_view name) const;
  // One page of objects.list; appends names relative to the store's prefix.
  Result<std::string> ListPage(const std::string& full_prefix, const std::string& page_token,
                               std::string_view prefix, std::vector<std::string>& names);

  const std::string bucket_;
  const std::string prefix_;  // no leading or trailing '/'; may be empty
  const std::shared_ptr<TokenSource> tokens_;
  const std::string api_base_;
  const RetryPolicy retry_;
};

}  // namespace buildtrace
