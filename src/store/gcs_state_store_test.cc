// GcsStateStore: the StateStore conformance suite against the loopback fake of the Cloud Storage
// JSON API (testing/fake_google_apis.h), plus the faults the API documents: 412, 429 and 503
// then success, lost answers, expired tokens, missing permissions, paging.
//
// With BT_TEST_GCS_URL=gs://BUCKET/PREFIX set, the conformance suite runs against that bucket
// instead (credentials from GOOGLE_APPLICATION_CREDENTIALS or the metadata server; set
// STORAGE_EMULATOR_HOST for an emulator), each test under a fresh random prefix. The fault tests
// always use the fake.
#include "store/gcs_state_store.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "testing/fake_google_apis.h"
#include "testing/state_store_conformance.h"

namespace buildtrace {
namespace {

using Op = FakeGoogleApis::Op;
using Names = std::vector<std::string>;
constexpr const char* kToken = "test-token";

RetryPolicy NoSleep(int attempts = 4) {
  RetryPolicy policy;
  policy.max_attempts = attempts;
  policy.sleep = [](std::chrono::milliseconds) {};
  return policy;
}

std::string RandomHex() {
  std::mt19937_64 engine{std::random_device{}()};
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(engine()));
  return hex;
}

// A store that owns the fake it talks to, and checks at the end that every request the store
// sent matched the API reference.
class FakeBackedStore : public StateStore {
 public:
  FakeBackedStore() {
    fake_.AddBucket("bt-bucket");
    fake_.AcceptToken(kToken);
    auto store =
        GcsStateStore::Open("gs://bt-bucket/states/v1", std::make_shared<StaticTokenSource>(kToken),
                            fake_.base_url(), NoSleep());
    EXPECT_TRUE(store.ok()) << store.status().message();
    if (store.ok()) store_ = std::move(*store);
  }
  ~FakeBackedStore() override {
    EXPECT_EQ(fake_.ProtocolErrors(), Names{}) << "requests that break the API reference";
  }
  bool ok() const { return store_ != nullptr; }

  Status CreateIfAbsent(std::string_view n, std::string_view d) override {
    return store_->CreateIfAbsent(n, d);
  }
  Result<std::string> Read(std::string_view n) override { return store_->Read(n); }
  Result<Names> List(std::string_view p) override { return store_->List(p); }
  Status Delete(std::string_view n) override { return store_->Delete(n); }
  Status Probe() override { return store_->Probe(); }
  std::string Describe() const override { return store_->Describe(); }

 private:
  FakeGoogleApis fake_;
  std::unique_ptr<GcsStateStore> store_;
};

std::unique_ptr<StateStore> MakeStore() {
  if (const char* url = std::getenv("BT_TEST_GCS_URL"); url != nullptr && *url != '\0') {
    auto tokens = TokenSourceFor("STORAGE_EMULATOR_HOST");
    if (!tokens.ok()) {
      ADD_FAILURE() << tokens.status().message();
      return nullptr;
    }
    std::string base(url);
    if (!base.ends_with('/')) base += '/';
    auto store = GcsStateStore::Open(base + "bt-test-" + RandomHex(),
                                     std::shared_ptr<TokenSource>(std::move(*tokens)));
    if (!store.ok()) ADD_FAILURE() << store.status().message();
    return store.ok() ? std::unique_ptr<StateStore>(std::move(*store)) : nullptr;
  }
  auto store = std::make_unique<FakeBackedStore>();
  return store->ok() ? std::move(store) : nullptr;
}

INSTANTIATE_TEST_SUITE_P(Gcs, StateStoreConformanceTest,
                         ::testing::Values(StateStoreFactory{"Gcs", &MakeStore}),
                         StateStoreFactoryName);

class GcsStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.AddBucket("bucket");
    fake_.AcceptToken(kToken);
    store_ = Open("gs://bucket/pre");
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override { EXPECT_EQ(fake_.ProtocolErrors(), Names{}); }

  std::unique_ptr<GcsStateStore> Open(std::string_view url,
                                      std::shared_ptr<TokenSource> tokens = nullptr,
                                      int attempts = 4) {
    if (tokens == nullptr) tokens = std::make_shared<StaticTokenSource>(kToken);
    auto store = GcsStateStore::Open(url, std::move(tokens), fake_.base_url(), NoSleep(attempts));
    EXPECT_TRUE(store.ok()) << store.status().message();
    return store.ok() ? std::move(*store) : nullptr;
  }

  FakeGoogleApis fake_;
  std::unique_ptr<GcsStateStore> store_;
};

TEST_F(GcsStateStoreTest, ObjectsLiveUnderThePrefix) {
  ASSERT_TRUE(store_->CreateIfAbsent("jobs/p/1.json", "one").ok());
  EXPECT_EQ(fake_.Object("bucket", "pre/jobs/p/1.json"), "one");
  auto other = Open("gs://bucket/other/");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(*other->List(""), Names{});
  EXPECT_EQ(other->Read("jobs/p/1.json").status().code(), StatusCode::kNotFound);
  auto root = Open("gs://bucket");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(*root->List(""), Names{"pre/jobs/p/1.json"});
}

TEST_F(GcsStateStoreTest, CreateRetries429And503ThenSucceeds) {
  fake_.FailNext(Op::kUpload, 429);
  EXPECT_TRUE(store_->CreateIfAbsent("a", "x").ok());
  fake_.FailNext(Op::kUpload, 503, 2);
  EXPECT_TRUE(store_->CreateIfAbsent("b", "y").ok());
  EXPECT_EQ(fake_.Count(Op::kUpload), 5);
  EXPECT_EQ(*store_->Read("b"), "y");
}

TEST_F(GcsStateStoreTest, LostAnswerOfOurOwnCreateIsOk) {
  fake_.FailNextAfterApplying(Op::kUpload, 503);
  EXPECT_TRUE(store_->CreateIfAbsent("a", "mine").ok());
  EXPECT_EQ(fake_.Count(Op::kUpload), 2);     // the retry met 412
  EXPECT_EQ(fake_.Count(Op::kGetObject), 1);  // and read the object back
}

// A batch's object in pieces is uploaded as their one joined body, which is also what its
// retried create compares with the object it finds; a bad name fails alone.
TEST_F(GcsStateStoreTest, BatchObjectsInPiecesAreUploadedJoinedAndBadNamesFailAlone) {
  fake_.FailNextAfterApplying(Op::kUpload, 503);
  const std::vector<ObjectToCreate> batch = {
      ObjectToCreate("a", {"h", "middle", "s"}), ObjectToCreate("../b", {"x"}), {"c", "plain"}};
  const std::vector<Status> results = store_->CreateManyIfAbsent(batch);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].ok()) << results[0].message();
  EXPECT_EQ(results[1].code(), StatusCode::kInvalidArgument);
  EXPECT_NE(results[1].message().find("gcs store gs://bucket/pre: create ../b: "),
            std::string::npos)
      << results[1].message();
  EXPECT_TRUE(results[2].ok()) << results[2].message();
  EXPECT_EQ(fake_.Object("bucket", "pre/a"), "hmiddles");
  EXPECT_EQ(fake_.Object("bucket", "pre/c"), "plain");
  EXPECT_EQ(fake_.Count(Op::kUpload), 3);     // a twice (the retry met 412), c once
  EXPECT_EQ(fake_.Count(Op::kGetObject), 1);  // a read back, and found ours
}

TEST_F(GcsStateStoreTest, RetryMeetingSomeoneElsesObjectIsAlreadyExists) {
  ASSERT_TRUE(store_->CreateIfAbsent("a", "theirs").ok());
  fake_.FailNext(Op::kUpload, 503);
  const Status second = store_->CreateIfAbsent("a", "mine");
  EXPECT_EQ(second.code(), StatusCode::kAlreadyExists) << second.message();
  EXPECT_EQ(fake_.Object("bucket", "pre/a"), "theirs");
}

TEST_F(GcsStateStoreTest, PersistentFailureIsUnavailableNamingTheObject) {
  fake_.FailNext(Op::kGetObject, 503, 100);
  auto read = store_->Read("jobs/x");
  EXPECT_EQ(read.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(read.status().message().find("gs://bucket/pre: read jobs/x: HTTP 503"),
            std::string::npos)
      << read.status().message();
  EXPECT_EQ(fake_.Count(Op::kGetObject), 4);
  fake_.FailNext(Op::kUpload, 500, 100);
  EXPECT_EQ(store_->CreateIfAbsent("a", "x").code(), StatusCode::kUnavailable);
  fake_.FailNext(Op::kListObjects, 502, 100);
  EXPECT_EQ(store_->List("").status().code(), StatusCode::kUnavailable);
}

TEST_F(GcsStateStoreTest, UnreachableServerIsUnavailable) {
  auto store = GcsStateStore::Open("gs://bucket/pre", std::make_shared<StaticTokenSource>(kToken),
                                   "http://127.0.0.1:1", NoSleep(2));
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->CreateIfAbsent("a", "x").code(), StatusCode::kUnavailable);
  EXPECT_EQ((*store)->Probe().code(), StatusCode::kUnavailable);
}

TEST_F(GcsStateStoreTest, ExpiredTokenIsRefreshedOnceAndTheCallRepeated) {
  auto tokens =
      std::make_shared<MetadataServerTokenSource>(fake_.base_url(), WallClock{}, NoSleep());
  auto store = Open("gs://bucket/pre", tokens);
  ASSERT_TRUE(store->CreateIfAbsent("a", "x").ok());
  EXPECT_EQ(fake_.Count(Op::kMetadataToken), 1);
  fake_.ExpireAllTokens();  // the cached token is now refused with 401
  auto read = store->Read("a");
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(*read, "x");
  EXPECT_EQ(fake_.Count(Op::kMetadataToken), 2);
  EXPECT_EQ(fake_.Count(Op::kGetObject), 2);
}

TEST_F(GcsStateStoreTest, RefusedTokenIsUnavailableAndNeverInTheMessage) {
  auto store = Open("gs://bucket/pre", std::make_shared<StaticTokenSource>("secret-token-xyz"));
  const Status created = store->CreateIfAbsent("a", "x");
  EXPECT_EQ(created.code(), StatusCode::kUnavailable);
  EXPECT_NE(created.message().find("HTTP 401"), std::string::npos) << created.message();
  EXPECT_EQ(created.message().find("secret-token-xyz"), std::string::npos);
  EXPECT_EQ(fake_.Count(Op::kUpload), 2);  // one repeat after dropping the token, no more
}

TEST_F(GcsStateStoreTest, ListPagesThroughAllPages) {
  fake_.SetListPageSize(2);
  Names expected;
  for (int i = 0; i < 7; ++i) {
    expected.push_back("jobs/" + std::to_string(i));
    ASSERT_TRUE(store_->CreateIfAbsent(expected.back(), "x").ok());
  }
  EXPECT_EQ(*store_->List("jobs/"), expected);
  EXPECT_EQ(fake_.Count(Op::kListObjects), 4);
}

TEST_F(GcsStateStoreTest, ListStaysInsideThePrefixFolder) {
  auto root = Open("gs://bucket");
  ASSERT_TRUE(root->CreateIfAbsent("pre/ok", "x").ok());
  ASSERT_TRUE(root->CreateIfAbsent("pre2/not-mine", "y").ok());
  ASSERT_TRUE(root->CreateIfAbsent("prefix", "z").ok());
  EXPECT_EQ(*store_->List(""), (Names{"ok"}));
  EXPECT_EQ(*store_->List("o"), (Names{"ok"}));
}

TEST_F(GcsStateStoreTest, ProbeChecksPermissionsWithoutWriting) {
  EXPECT_TRUE(store_->Probe().ok());
  EXPECT_EQ(fake_.Count(Op::kUpload), 0);
  fake_.SetGrantedPermissions({"storage.objects.get", "storage.objects.list"});
  const Status probe = store_->Probe();
  EXPECT_EQ(probe.code(), StatusCode::kUnavailable);
  EXPECT_NE(probe.message().find("storage.objects.create"), std::string::npos) << probe.message();
  auto missing = Open("gs://no-such-bucket");
  const Status gone = missing->Probe();
  EXPECT_EQ(gone.code(), StatusCode::kUnavailable);
  EXPECT_NE(gone.message().find("no-such-bucket exists"), std::string::npos) << gone.message();
}

TEST_F(GcsStateStoreTest, OpenParsesTheUrl) {
  EXPECT_EQ(Open("gs://bucket/a/b/")->Describe(), "gs://bucket/a/b");
  EXPECT_EQ(Open("gs://my.bucket_1")->Describe(), "gs://my.bucket_1");
  for (std::string_view url : {"s3://bucket", "gs://", "gs://AB", "gs://b", "gs://bucket/a//b",
                               "gs://bucket/../x", "gs://bucket/p?x=1", "gs://-bucket"}) {
    auto store = GcsStateStore::Open(url, std::make_shared<StaticTokenSource>(kToken));
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument) << url;
  }
  EXPECT_EQ(GcsStateStore::Open("gs://bucket", nullptr).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(GcsStateStoreApiBaseTest, EmulatorHostOverridesTheDefault) {
  {
    ScopedEnv unset("STORAGE_EMULATOR_HOST", nullptr);
    EXPECT_EQ(GcsStateStore::DefaultApiBase(), "https://storage.googleapis.com");
  }
  {
    ScopedEnv host("STORAGE_EMULATOR_HOST", "localhost:9023");
    EXPECT_EQ(GcsStateStore::DefaultApiBase(), "http://localhost:9023");
  }
  ScopedEnv url("STORAGE_EMULATOR_HOST", "https://gcs.example:4443/");
  EXPECT_EQ(GcsStateStore::DefaultApiBase(), "https://gcs.example:4443");
}

}  // namespace
}  // namespace buildtrace
