// The S3 store against Ceph's RADOS Gateway, a production S3 server nobody patched for us (the
// other S3 tests run on moto with a query-canonicalisation fix, testing/moto_server.py): the
// StateStore conformance suite, the answers of RGW's that the store relies on (SigV4 checked,
// 412 to If-None-Match: *, continuation tokens that are key names with '/'), and a real
// `buildtrace serve` on it. scripts/s3-interop.sh starts the cluster and passes its endpoint and
// keys in BUILDTRACE_INTEROP_S3_*; without them every test fails (never skips), saying so.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cloud/http_call.h"
#include "store/s3_state_store.h"
#include "store/s3_xml.h"
#include "testing/state_store_conformance.h"
#include "tests/e2e/e2e_fixture.h"

namespace buildtrace {
namespace {

using Names = std::vector<std::string>;

constexpr char kHowToRun[] =
    "this test needs a running S3 server: run it with scripts/s3-interop.sh, which starts Ceph's "
    "RADOS Gateway and passes its endpoint and keys in BUILDTRACE_INTEROP_S3_ENDPOINT, "
    "BUILDTRACE_INTEROP_S3_ACCESS_KEY_ID and BUILDTRACE_INTEROP_S3_SECRET_ACCESS_KEY";

std::string StatusText(const Status& status) {
  return std::string(StatusCodeName(status.code())) + ": " + status.message();
}

// The names under `prefix`, or one "<error: ...>" entry that makes the comparison fail.
Names ListOk(StateStore& store, std::string_view prefix) {
  Result<Names> listed = store.List(prefix);
  return listed.ok() ? *listed : Names{"<error: " + StatusText(listed.status()) + ">"};
}

struct S3Server {
  std::string endpoint;  // http://127.0.0.1:PORT
  S3Credentials credentials;
};

// The server scripts/s3-interop.sh started, from the environment; kUnavailable saying how to
// run the test when a variable is missing.
Result<S3Server> ServerFromEnvironment() {
  S3Server server;
  const std::pair<const char*, std::string*> variables[] = {
      {"BUILDTRACE_INTEROP_S3_ENDPOINT", &server.endpoint},
      {"BUILDTRACE_INTEROP_S3_ACCESS_KEY_ID", &server.credentials.access_key_id},
      {"BUILDTRACE_INTEROP_S3_SECRET_ACCESS_KEY", &server.credentials.secret_access_key}};
  for (const auto& [name, value] : variables) {
    const char* text = ::getenv(name);
    if (text == nullptr || *text == '\0') {
      return Unavailable(std::string(name) + " is not set; " + kHowToRun);
    }
    *value = text;
  }
  return server;
}

// A call signed with the server's keys (or `credentials`), for test-side S3 requests; `path`
// and its query are sent as written, so they must be in canonical form.
HttpCall S3Call(const S3Server& server, std::string method, const std::string& path,
                std::string body = "", std::vector<std::string> headers = {},
                const std::optional<S3Credentials>& credentials = std::nullopt) {
  const S3Credentials& keys = credentials ? *credentials : server.credentials;
  HttpCall call;
  call.method = std::move(method);
  call.url = server.endpoint + path;
  call.body = std::move(body);
  call.headers = std::move(headers);
  call.headers.push_back("x-amz-content-sha256: UNSIGNED-PAYLOAD");
  call.aws_sigv4 = "aws:amz:us-east-1:s3";
  call.user = keys.access_key_id + ":" + keys.secret_access_key;
  return call;
}

// A new, empty bucket with a name no other test uses. The cluster is thrown away after the run,
// which is the cleanup.
Result<std::string> NewBucket(const S3Server& server) {
  static std::atomic<int> counter{0};
  const std::string bucket =
      "bt-interop-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  Result<HttpReply> reply = PerformHttpCall(S3Call(server, "PUT", "/" + bucket), "create bucket");
  if (!reply.ok()) return Unavailable(reply.status().message() + "; " + kHowToRun);
  if (reply->status != 200) {
    return Unavailable("creating bucket " + bucket + ": HTTP " + std::to_string(reply->status) +
                       " " + reply->body);
  }
  return bucket;
}

std::string StoreUrl(const S3Server& server, const std::string& bucket, const std::string& prefix,
                     const std::string& extra = "") {
  return "s3://" + bucket + (prefix.empty() ? "" : "/" + prefix) + "?endpoint=" + server.endpoint +
         "&region=us-east-1" + extra;
}

// A store in a new bucket, or nullptr after a test failure saying why.
std::unique_ptr<S3StateStore> FreshStore(const std::string& prefix, const std::string& extra = "",
                                         std::string* bucket_out = nullptr) {
  Result<S3Server> server = ServerFromEnvironment();
  if (!server.ok()) {
    ADD_FAILURE() << server.status().message();
    return nullptr;
  }
  Result<std::string> bucket = NewBucket(*server);
  if (!bucket.ok()) {
    ADD_FAILURE() << StatusText(bucket.status());
    return nullptr;
  }
  if (bucket_out != nullptr) *bucket_out = *bucket;
  const std::string url = StoreUrl(*server, *bucket, prefix, extra);
  Result<std::unique_ptr<S3StateStore>> store = S3StateStore::Open(url, server->credentials);
  if (!store.ok()) {
    ADD_FAILURE() << url << ": " << StatusText(store.status());
    return nullptr;
  }
  return std::move(*store);
}

// As on moto: under a prefix with 2 keys per listing page, so that every List of more than two
// names pages with RGW's continuation tokens (key names, '/' included, which the store must
// percent-encode in a query it signs), and at the bucket's root with RGW's page size.
INSTANTIATE_TEST_SUITE_P(
    S3, StateStoreConformanceTest,
    ::testing::Values(StateStoreFactory{"RgwPrefixedSmallPages",
                                        [] { return FreshStore("bt/states", "&max-keys=2"); }},
                      StateStoreFactory{"RgwBucketRoot", [] { return FreshStore(""); }}),
    StateStoreFactoryName);

// The tests that talk to RGW directly as well as through the store.
class RgwTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<S3Server> server = ServerFromEnvironment();
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(*server);
  }

  S3Server server_;
};

TEST_F(RgwTest, WrongSecretIsSignatureDoesNotMatch) {
  Result<std::string> bucket = NewBucket(server_);
  ASSERT_TRUE(bucket.ok()) << StatusText(bucket.status());
  S3Credentials wrong = server_.credentials;
  wrong.secret_access_key += "x";
  Result<HttpReply> reply = PerformHttpCall(
      S3Call(server_, "PUT", "/" + *bucket + "/k", "data", {}, wrong), "put with a wrong secret");
  ASSERT_TRUE(reply.ok()) << StatusText(reply.status());
  EXPECT_EQ(reply->status, 403);
  EXPECT_EQ(ParseS3Error(reply->body).code, "SignatureDoesNotMatch") << reply->body;

  Result<std::unique_ptr<S3StateStore>> store =
      S3StateStore::Open(StoreUrl(server_, *bucket, "bt"), wrong);
  ASSERT_TRUE(store.ok()) << StatusText(store.status());
  // RGW leaves the error's <Message> empty (AWS and moto fill it), so the store's message
  // carries S3's code alone, after the HTTP status.
  for (const Status& status :
       {(*store)->CreateIfAbsent("jobs/p/1.json", "x"), (*store)->Read("jobs/p/1.json").status(),
        (*store)->List("jobs/").status(), (*store)->Probe()}) {
    EXPECT_EQ(status.code(), StatusCode::kUnavailable) << StatusText(status);
    EXPECT_NE(status.message().find("HTTP 403 SignatureDoesNotMatch;"), std::string::npos)
        << status.message();
  }
}

TEST_F(RgwTest, IfNoneMatchOnAnExistingKeyIs412PreconditionFailed) {
  Result<std::string> bucket = NewBucket(server_);
  ASSERT_TRUE(bucket.ok()) << StatusText(bucket.status());
  const std::string path = "/" + *bucket + "/bt/jobs/p/1.json";
  Result<HttpReply> first =
      PerformHttpCall(S3Call(server_, "PUT", path, "first", {"If-None-Match: *"}), "first put");
  ASSERT_TRUE(first.ok()) << StatusText(first.status());
  EXPECT_EQ(first->status, 200) << first->body;
  Result<HttpReply> second =
      PerformHttpCall(S3Call(server_, "PUT", path, "second", {"If-None-Match: *"}), "second put");
  ASSERT_TRUE(second.ok()) << StatusText(second.status());
  EXPECT_EQ(second->status, 412) << second->body;
  EXPECT_EQ(ParseS3Error(second->body).code, "PreconditionFailed") << second->body;

  // The store reads that 412 as "already exists" and leaves the first object.
  Result<std::unique_ptr<S3StateStore>> store =
      S3StateStore::Open(StoreUrl(server_, *bucket, "bt"), server_.credentials);
  ASSERT_TRUE(store.ok()) << StatusText(store.status());
  const Status again = (*store)->CreateIfAbsent("jobs/p/1.json", "third");
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << StatusText(again);
  Result<std::string> kept = (*store)->Read("jobs/p/1.json");
  ASSERT_TRUE(kept.ok()) << StatusText(kept.status());
  EXPECT_EQ(*kept, "first");
}

TEST_F(RgwTest, ContinuationTokensAreKeyNamesThatTheStorePagesThrough) {
  std::string bucket;
  std::unique_ptr<S3StateStore> store = FreshStore("bt", "&max-keys=1", &bucket);
  ASSERT_NE(store, nullptr);
  const Names names = {"jobs/a/1.json", "jobs/a/2.json", "jobs/b/1.json"};
  for (const std::string& name : names) ASSERT_TRUE(store->CreateIfAbsent(name, name).ok());

  // One page of RGW's own: its token is the last key listed, '/' and all.
  Result<HttpReply> reply = PerformHttpCall(
      S3Call(server_, "GET", "/" + bucket + "?list-type=2&max-keys=1&prefix=bt%2Fjobs%2F"),
      "list one key");
  ASSERT_TRUE(reply.ok()) << StatusText(reply.status());
  ASSERT_EQ(reply->status, 200) << reply->body;
  Result<S3ListPage> page = ParseListObjectsV2(reply->body);
  ASSERT_TRUE(page.ok()) << StatusText(page.status()) << "\n" << reply->body;
  EXPECT_EQ(page->keys, Names{"bt/jobs/a/1.json"});
  EXPECT_TRUE(page->is_truncated);
  EXPECT_EQ(page->next_continuation_token, "bt/jobs/a/1.json");

  // The store sends such tokens back, percent-encoded in a query it signs, page after page.
  EXPECT_EQ(ListOk(*store, "jobs/"), names);
  EXPECT_EQ(ListOk(*store, "jobs/a/"), (Names{"jobs/a/1.json", "jobs/a/2.json"}));
  EXPECT_EQ(ListOk(*store, ""), names);
}

TEST_F(RgwTest, ListPagesThroughManyKeys) {
  std::unique_ptr<S3StateStore> store = FreshStore("paging", "&max-keys=10");
  ASSERT_NE(store, nullptr);
  ExpectListingsPageThroughManyKeys(*store);
}

}  // namespace
}  // namespace buildtrace

namespace buildtrace::e2e {
namespace {

// A real `buildtrace serve` whose store is a bucket on RGW, with the keys in the environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) as in production.
class RgwE2e : public E2eTest {
 protected:
  void SetUp() override {
    Result<S3Server> server = ServerFromEnvironment();
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = *server;
    Result<std::string> bucket = NewBucket(server_);
    ASSERT_TRUE(bucket.ok()) << StatusText(bucket.status());
    store_url_ = StoreUrl(server_, *bucket, "states", "&max-keys=2");
    ::setenv("AWS_ACCESS_KEY_ID", server_.credentials.access_key_id.c_str(), 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", server_.credentials.secret_access_key.c_str(), 1);
    ::unsetenv("AWS_SESSION_TOKEN");
    E2eTest::SetUp();
  }

  std::vector<std::string> ServeArgs() const override { return {"--store", store_url_}; }

  S3Server server_;
  std::string store_url_;
};

TEST_F(RgwE2e, ProcessTwoJobsThenReportTheDiffOfTheSecond) {
  HttpResponse ready = Get("/readyz");
  ASSERT_EQ(ready.status, 200) << ready.body;
  EXPECT_NE(ready.body.find("s3://"), std::string::npos) << ready.body;
  EXPECT_EQ(ready.body.find(server_.credentials.secret_access_key), std::string::npos);

  TestJob first;
  first.job_id = 1;
  first.state = R"({"D1":"door_10_20_5_5","W1":"window_0_0_2_3"})";
  TestJob second;
  second.job_id = 2;
  second.state = R"({"D1":"door_12_20_5_5","W1":"window_0_0_2_3","W2":"window_9_9_2_3"})";
  // Fixed once, so that posting the job again below sends the very same bytes.
  first.timestamp = RecentTimestamp(3600);
  second.timestamp = RecentTimestamp(3590);
  JsonDoc posted = PostOk(BatchJson({first, second}));
  EXPECT_TRUE(posted.Bool("/accepted/0/created")) << posted.text();
  EXPECT_TRUE(posted.Bool("/accepted/1/created")) << posted.text();

  HttpResponse response = Get("/report/2?project=web");
  ASSERT_EQ(response.status, 200) << response.body;
  JsonDoc report(response.body);
  EXPECT_EQ(report.Int("/job_id"), 2);
  EXPECT_EQ(report.Int("/base_job_id"), 1);
  EXPECT_EQ(report.Int("/metrics/total_added"), 1);
  EXPECT_EQ(report.Int("/metrics/total_removed"), 0);
  EXPECT_EQ(report.Int("/metrics/total_modified"), 1);
  EXPECT_EQ(report.Int("/metrics/total_moved"), 1);
  EXPECT_EQ(report.Int("/metrics/total_unchanged"), 1);
  EXPECT_EQ(report.StrArray("/changes/added"), std::vector<std::string>{"W2"});
  ASSERT_EQ(report.Size("/changes/modified"), 1u);
  EXPECT_EQ(report.Str("/changes/modified/0/id"), "D1");
  EXPECT_EQ(report.Str("/changes/modified/0/kind"), "moved");
  EXPECT_EQ(report.Str("/changes/modified/0/before"), "door_10_20_5_5");
  EXPECT_EQ(report.Str("/changes/modified/0/after"), "door_12_20_5_5");

  // The same job again is a replay: RGW's 412 on the existing object, nothing new stored.
  JsonDoc replay = PostOk(second.ToJson(), 200);
  EXPECT_FALSE(replay.Bool("/accepted/0/created")) << replay.text();

  // Restarted, the server reads the jobs back from the bucket.
  ASSERT_NO_FATAL_FAILURE(RestartServer());
  JsonDoc again(Get("/report/2?project=web").body);
  EXPECT_EQ(again.Int("/base_job_id"), 1);
  EXPECT_EQ(again.Int("/metrics/total_added"), 1);
  EXPECT_EQ(again.Int("/metrics/total_moved"), 1);
}

}  // namespace
}  // namespace buildtrace::e2e
