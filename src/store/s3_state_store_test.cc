// Tests of S3StateStore against a real S3 implementation that checks every signature: moto's
// server, started by this binary (MotoEnvironment) on a free loopback port with
// INITIAL_NO_AUTH_ACTION_COUNT=4. The four unsigned requests create an IAM user with an s3:*
// policy and its access key; every later request must be signed with that key. Each test gets
// its own bucket. A machine without moto fails these tests; it never skips them.
#include "store/s3_state_store.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "cloud/http_call.h"
#include "testing/moto_server.h"
#include "testing/state_store_conformance.h"

namespace buildtrace {
namespace {

namespace fs = std::filesystem;
using Names = std::vector<std::string>;
using std::chrono::steady_clock;

std::string StatusText(const Status& status) {
  return std::string(StatusCodeName(status.code())) + ": " + status.message();
}

// True unless every test selected to run is one that needs no server (the XML, credentials and
// URL tests), so that running those alone starts no moto.
bool SelectedTestsNeedMoto() {
  const ::testing::UnitTest& unit = *::testing::UnitTest::GetInstance();
  for (int i = 0; i < unit.total_test_suite_count(); ++i) {
    const ::testing::TestSuite& suite = *unit.GetTestSuite(i);
    const std::string_view name = suite.name();
    if (name != "S3XmlTest" && name != "S3CredentialsTest" && name != "S3StateStoreOpenTest" &&
        suite.test_to_run_count() > 0) {
      return true;
    }
  }
  return false;
}

class MotoEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!SelectedTestsNeedMoto()) return;
    char pattern[] = "/tmp/bt-s3-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr) << "cannot make a temporary folder";
    dir_ = pattern;
    Result<std::unique_ptr<MotoServer>> server = MotoServer::Start(dir_);
    if (!server.ok()) {
      // Not fatal here: a fatal failure would make GoogleTest (and CTest) report the tests as
      // skipped. Each test that needs moto fails instead, with this message.
      failure_ = "The S3 store tests need moto's S3 server, which checks signatures. " +
                 server.status().message();
      ADD_FAILURE() << failure_;
      return;
    }
    server_ = std::move(*server);
  }

  void TearDown() override {
    if (server_) {
      const Status stopped = server_->Stop();
      EXPECT_TRUE(stopped.ok()) << stopped.message();
      server_.reset();
    }
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  bool running() const { return server_ != nullptr; }
  // Why moto is not running.
  std::string failure() const {
    return failure_.empty() ? "moto was not started: add this test's suite to "
                              "SelectedTestsNeedMoto()"
                            : failure_;
  }
  MotoServer& server() {
    if (!server_) std::abort();  // callers check running() first
    return *server_;
  }

 private:
  std::string dir_;
  std::string failure_;
  std::unique_ptr<MotoServer> server_;
};

auto* const moto_environment =
    static_cast<MotoEnvironment*>(::testing::AddGlobalTestEnvironment(new MotoEnvironment));

MotoServer& Moto() { return moto_environment->server(); }

std::string StoreUrl(const std::string& bucket, const std::string& prefix,
                     const std::string& extra = "") {
  return "s3://" + bucket + (prefix.empty() ? "" : "/" + prefix) +
         "?endpoint=" + Moto().endpoint() + "&region=us-east-1" + extra;
}

std::unique_ptr<S3StateStore> OpenOrFail(const std::string& url,
                                         std::optional<S3Credentials> credentials = std::nullopt) {
  Result<std::unique_ptr<S3StateStore>> store =
      S3StateStore::Open(url, credentials ? *credentials : Moto().credentials());
  if (!store.ok()) {
    ADD_FAILURE() << url << ": " << StatusText(store.status());
    return nullptr;
  }
  return std::move(*store);
}

// A store in a new bucket; `extra` is appended to the URL's query.
std::unique_ptr<S3StateStore> FreshStore(const std::string& prefix, const std::string& extra = "") {
  if (!moto_environment->running()) {
    ADD_FAILURE() << moto_environment->failure();
    return nullptr;
  }
  Result<std::string> bucket = Moto().NewBucket();
  if (!bucket.ok()) {
    ADD_FAILURE() << StatusText(bucket.status());
    return nullptr;
  }
  return OpenOrFail(StoreUrl(*bucket, prefix, extra));
}

// Two instantiations: under a prefix with 3 keys per listing page (so that every List of the
// suite pages), and at the bucket's root with the server's page size. moto keeps everything in
// memory and stops at the end, which is the cleanup.
INSTANTIATE_TEST_SUITE_P(
    S3, StateStoreConformanceTest,
    ::testing::Values(StateStoreFactory{"MotoPrefixedSmallPages",
                                        [] { return FreshStore("bt/states", "&max-keys=3"); }},
                      StateStoreFactory{"MotoBucketRoot", [] { return FreshStore(""); }}),
    StateStoreFactoryName);

// The tests that need moto; each fails (never skips) when it is not running.
class S3StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(moto_environment->running()) << moto_environment->failure(); }
};

// Every message a store can produce for a few operations, for checks on their content.
std::vector<std::string> MessagesOfEveryOperation(StateStore& store) {
  std::vector<std::string> messages = {store.Describe()};
  messages.push_back(store.CreateIfAbsent("jobs/p1/1.json", "data").message());
  messages.push_back(store.Read("jobs/p1/1.json").status().message());
  messages.push_back(store.List("jobs/").status().message());
  messages.push_back(store.Probe().message());
  const std::vector<ObjectToCreate> batch = {{"a", "1"}, {"b", "2"}};
  for (const Status& s : store.CreateManyIfAbsent(batch)) messages.push_back(s.message());
  return messages;
}

TEST_F(S3StateStoreTest, WrongSecretFailsEveryCallWithSignatureDoesNotMatch) {
  Result<std::string> bucket = Moto().NewBucket();
  ASSERT_TRUE(bucket.ok()) << StatusText(bucket.status());
  S3Credentials wrong = Moto().credentials();
  wrong.secret_access_key[0] = wrong.secret_access_key[0] == 'A' ? 'B' : 'A';
  std::unique_ptr<S3StateStore> store = OpenOrFail(StoreUrl(*bucket, "bt"), wrong);
  ASSERT_NE(store, nullptr);

  const std::vector<Status> outcomes = {
      store->CreateIfAbsent("jobs/p1/1.json", "data"),
      store->Read("jobs/p1/1.json").status(),
      store->List("").status(),
      store->List("jobs/").status(),
      store->Probe(),
      store->CreateManyIfAbsent(std::vector<ObjectToCreate>{{"a", "1"}}).front()};
  for (const Status& outcome : outcomes) {
    EXPECT_EQ(outcome.code(), StatusCode::kUnavailable) << StatusText(outcome);
    EXPECT_NE(outcome.message().find("SignatureDoesNotMatch"), std::string::npos)
        << outcome.message();
    EXPECT_NE(outcome.message().find("s3 store s3://" + *bucket + "/bt"), std::string::npos)
        << outcome.message();
  }
  EXPECT_NE(outcomes[0].message().find("create jobs/p1/1.json"), std::string::npos);
  EXPECT_NE(outcomes[1].message().find("read jobs/p1/1.json"), std::string::npos);
  // Nothing was written with the wrong key.
  std::unique_ptr<S3StateStore> good = OpenOrFail(StoreUrl(*bucket, "bt"));
  ASSERT_NE(good, nullptr);
  EXPECT_EQ(good->Read("jobs/p1/1.json").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*good->List(""), Names{});
}

TEST_F(S3StateStoreTest, UnknownAccessKeyIsUnavailableWithInvalidAccessKeyId) {
  Result<std::string> bucket = Moto().NewBucket();
  ASSERT_TRUE(bucket.ok()) << StatusText(bucket.status());
  std::unique_ptr<S3StateStore> store =
      OpenOrFail(StoreUrl(*bucket, ""), S3Credentials{"AKIANOTAKEY000000000", "x", ""});
  ASSERT_NE(store, nullptr);
  const Status probe = store->Probe();
  EXPECT_EQ(probe.code(), StatusCode::kUnavailable);
  EXPECT_NE(probe.message().find("InvalidAccessKeyId"), std::string::npos) << probe.message();
}

TEST_F(S3StateStoreTest, IfNoneMatchKeepsTheFirstObjectAcrossInstances) {
  Result<std::string> bucket = Moto().NewBucket();
  ASSERT_TRUE(bucket.ok()) << StatusText(bucket.status());
  // Two instances, as two service processes would open the same URL.
  std::unique_ptr<S3StateStore> first = OpenOrFail(StoreUrl(*bucket, "shared"));
  std::unique_ptr<S3StateStore> second = OpenOrFail(StoreUrl(*bucket, "shared"));
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(first->CreateIfAbsent("jobs/p/1.json", "first").ok());
  const Status again = second->CreateIfAbsent("jobs/p/1.json", "second");
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << StatusText(again);
  EXPECT_EQ(*second->Read("jobs/p/1.json"), "first");
  // The server enforces it: a plain conditional PUT of the same key gets 412.
  HttpCall put = Moto().S3Call("PUT", "/" + *bucket + "/shared/jobs/p/1.json", "third");
  put.headers.push_back("If-None-Match: *");
  Result<HttpReply> reply = PerformHttpCall(put, "conditional put");
  ASSERT_TRUE(reply.ok()) << StatusText(reply.status());
  EXPECT_EQ(reply->status, 412) << reply->body;
  EXPECT_EQ(*first->Read("jobs/p/1.json"), "first");
}

TEST_F(S3StateStoreTest, CredentialsNeverAppearInMessages) {
  Result<std::string> bucket = Moto().NewBucket();
  ASSERT_TRUE(bucket.ok()) << StatusText(bucket.status());
  const S3Credentials planted{Moto().credentials().access_key_id, "SeCrEtPlantedSecretValue0000",
                              "ToKeNPlantedSessionToken0000"};
  std::vector<std::string> messages;
  for (const std::string& url :
       {StoreUrl(*bucket, "p"), StoreUrl("no-such-bucket-here", "p"),
        "s3://" + *bucket + "?endpoint=http://127.0.0.1:1&region=us-east-1"}) {
    std::unique_ptr<S3StateStore> store = OpenOrFail(url, planted);
    ASSERT_NE(store, nullptr);
    for (std::string& m : MessagesOfEveryOperation(*store)) messages.push_back(std::move(m));
  }
  // The real key, in failures of its own (a missing bucket).
  std::unique_ptr<S3StateStore> real = OpenOrFail(StoreUrl("no-such-bucket-here", ""));
  ASSERT_NE(real, nullptr);
  for (std::string& m : MessagesOfEveryOperation(*real)) messages.push_back(std::move(m));
  // Open's own errors.
  for (std::string_view url : {"s3://x", "s3://bucket?endpoint=http://user:SeCrEtPlanted@h"}) {
    messages.push_back(S3StateStore::Open(url, planted).status().message());
  }
  for (const std::string& message : messages) {
    EXPECT_EQ(message.find("SeCrEt"), std::string::npos) << message;
    EXPECT_EQ(message.find("ToKeN"), std::string::npos) << message;
    EXPECT_EQ(message.find(Moto().credentials().secret_access_key), std::string::npos) << message;
    EXPECT_EQ(message.find(Moto().credentials().access_key_id), std::string::npos) << message;
  }
}

TEST_F(S3StateStoreTest, ListPagesThroughManyKeys) {
  std::unique_ptr<S3StateStore> store = FreshStore("paging", "&max-keys=10");
  ASSERT_NE(store, nullptr);
  ExpectListingsPageThroughManyKeys(*store);
}

TEST_F(S3StateStoreTest, NamesWithPunctuationRoundTrip) {
  std::unique_ptr<S3StateStore> store = FreshStore("team-1/bt_states.v2", "&max-keys=2");
  ASSERT_NE(store, nullptr);
  const Names names = {"-", "-._/_.-", ".hidden/..x/x..", "_/a-b_c.d", "a.b-c_d/e", "A/Z/0/9"};
  for (const std::string& name : names) {
    ASSERT_TRUE(store->CreateIfAbsent(name, "data of " + name).ok()) << name;
    EXPECT_EQ(*store->Read(name), "data of " + name);
  }
  Names sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(*store->List(""), sorted);
  EXPECT_EQ(*store->List("-"), (Names{"-", "-._/_.-"}));
  EXPECT_EQ(*store->List(".hidden/..x/"), Names{".hidden/..x/x.."});
  EXPECT_EQ(*store->List("_/"), Names{"_/a-b_c.d"});
}

TEST_F(S3StateStoreTest, KeysThatAreNotObjectNamesOrOutsideThePrefixAreNotListed) {
  Result<std::string> bucket = Moto().NewBucket();
  ASSERT_TRUE(bucket.ok()) << StatusText(bucket.status());
  // Written by other tools; "a&b" comes back as "a&amp;b" in the XML listing. (moto checks
  // signatures of paths with percent-encoded reserved characters wrongly, so '&' goes raw.)
  for (std::string_view key :
       {"bt/a&b", "bt/a=b", "bt/x//y", "bt/sp%20ace", "bt", "bt2/ok", "other/ok", "bt/ok"}) {
    Result<HttpReply> reply =
        PerformHttpCall(Moto().S3Call("PUT", "/" + *bucket + "/" + std::string(key), "x"), "put");
    ASSERT_TRUE(reply.ok()) << StatusText(reply.status());
    ASSERT_EQ(reply->status, 200) << key << ": " << reply->body;
  }
  std::unique_ptr<S3StateStore> store = OpenOrFail(StoreUrl(*bucket, "bt", "&max-keys=2"));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->List(""), Names{"ok"});
  EXPECT_EQ(*store->List("a"), Names{});
}

TEST_F(S3StateStoreTest, MissingBucketIsUnavailableWithNoSuchBucket) {
  std::unique_ptr<S3StateStore> store = OpenOrFail(StoreUrl("never-created-bucket", "p"));
  ASSERT_NE(store, nullptr);
  for (const Status& outcome : {store->Probe(), store->Read("x").status(), store->List("").status(),
                                store->CreateIfAbsent("x", "y")}) {
    EXPECT_EQ(outcome.code(), StatusCode::kUnavailable) << StatusText(outcome);
    EXPECT_NE(outcome.message().find("NoSuchBucket"), std::string::npos) << outcome.message();
  }
}

TEST_F(S3StateStoreTest, UnreachableEndpointIsUnavailableNamingOperationAndObject) {
  Result<int> port = PickFreePort();  // nothing listens there
  ASSERT_TRUE(port.ok());
  const std::string url =
      "s3://bucket/p?endpoint=http://127.0.0.1:" + std::to_string(*port) + "&region=eu-west-1";
  std::unique_ptr<S3StateStore> store = OpenOrFail(url);
  ASSERT_NE(store, nullptr);
  const Status read = store->Read("jobs/a/1.json").status();
  EXPECT_EQ(read.code(), StatusCode::kUnavailable);
  EXPECT_NE(read.message().find("s3 store " + url + ": read jobs/a/1.json: "), std::string::npos)
      << read.message();
  EXPECT_NE(read.message().find("4 attempts"), std::string::npos) << read.message();
  const Status created = store->CreateIfAbsent("jobs/a/1.json", "x");
  EXPECT_EQ(created.code(), StatusCode::kUnavailable);
  EXPECT_NE(created.message().find("create jobs/a/1.json"), std::string::npos) << created.message();
  EXPECT_EQ(store->Probe().code(), StatusCode::kUnavailable);
}

TEST(S3StateStoreOpenTest, ValidatesTheUrl) {
  const S3Credentials credentials{"AKIAEXAMPLE", "secret", ""};
  const std::vector<std::string> bad = {"",
                                        "s3:/bucket",
                                        "gs://bucket",
                                        "s3://",
                                        "s3://ab",
                                        "s3://" + std::string(64, 'a'),
                                        "s3://Bucket",
                                        "s3://-bucket",
                                        "s3://bucket-",
                                        "s3://bu..cket",
                                        "s3://192.168.1.1",
                                        "s3://buc ket",
                                        "s3://bucket/../x",
                                        "s3://bucket//x",
                                        "s3://bucket/a//b",
                                        "s3://bucket/a b",
                                        "s3://bucket/./a",
                                        "s3://bucket/" + std::string(512, 'p'),
                                        "s3://bucket#frag",
                                        "s3://bucket?endpoint=ftp://host",
                                        "s3://bucket?endpoint=http://",
                                        "s3://bucket?endpoint=http://user:pw@host",
                                        "s3://bucket?endpoint=http://host/path",
                                        "s3://bucket?endpoint=http://host:0",
                                        "s3://bucket?endpoint=http://host:99999",
                                        "s3://bucket?endpoint=http://host?x=1",
                                        "s3://bucket?region=US-EAST-1",
                                        "s3://bucket?region=",
                                        "s3://bucket?region=a%2",
                                        "s3://bucket?region=a&region=b",
                                        "s3://bucket?colour=blue",
                                        "s3://bucket?max-keys=0",
                                        "s3://bucket?max-keys=1001",
                                        "s3://bucket?max-keys=ten",
                                        "s3://bucket?timeout-ms=99",
                                        "s3://bucket?timeout-ms=600001",
                                        "s3://bucket?timeout-ms=1s"};
  for (const std::string& url : bad) {
    Result<std::unique_ptr<S3StateStore>> store = S3StateStore::Open(url, credentials);
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument) << "'" << url << "'";
  }
  const std::vector<std::pair<std::string_view, std::string_view>> good = {
      {"s3://bucket", "s3://bucket?endpoint=https://s3.us-east-1.amazonaws.com&region=us-east-1"},
      {"S3://my.bucket_1/a/b/?region=eu-west-1",
       "s3://my.bucket_1/a/b?endpoint=https://s3.eu-west-1.amazonaws.com&region=eu-west-1"},
      {"s3://bkt/p?endpoint=http%3A%2F%2F127.0.0.1%3A9000%2F&max-keys=7",
       "s3://bkt/p?endpoint=http://127.0.0.1:9000&region=us-east-1&max-keys=7"},
      {"s3://bkt?endpoint=HTTPS://storage.googleapis.com&region=auto",
       "s3://bkt?endpoint=https://storage.googleapis.com&region=auto"},
      {"s3://bkt?endpoint=http://[::1]:9000",
       "s3://bkt?endpoint=http://[::1]:9000&region=us-east-1"},
      {"s3://bkt?timeout-ms=2500&max-keys=5",
       "s3://bkt?endpoint=https://s3.us-east-1.amazonaws.com&region=us-east-1&max-keys=5"
       "&timeout-ms=2500"},
  };
  for (const auto& [url, described] : good) {
    Result<std::unique_ptr<S3StateStore>> store = S3StateStore::Open(url, credentials);
    ASSERT_TRUE(store.ok()) << url << ": " << StatusText(store.status());
    EXPECT_EQ((*store)->Describe(), described);
  }
}

TEST(S3StateStoreOpenTest, RejectsIncompleteCredentials) {
  for (const S3Credentials& credentials :
       {S3Credentials{"", "secret", ""}, S3Credentials{"AKIA", "", ""},
        S3Credentials{"AK:IA", "secret", ""}, S3Credentials{"AKIA", "sec\nret", ""},
        S3Credentials{"AKIA", "secret", "tok\r\nen"}}) {
    const Status status = S3StateStore::Open("s3://bucket", credentials).status();
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.message();
  }
}

// Sets environment variables for one test and restores them afterwards.
class ScopedEnvironment {
 public:
  ScopedEnvironment() {
    for (const char* name : kNames) {
      const char* value = std::getenv(name);
      saved_.emplace_back(name, value ? std::optional<std::string>(value) : std::nullopt);
      ::unsetenv(name);
    }
  }
  ~ScopedEnvironment() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name, value->c_str(), 1);
      } else {
        ::unsetenv(name);
      }
    }
  }
  void Set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }

 private:
  static constexpr const char* kNames[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                           "AWS_SESSION_TOKEN", "AWS_SHARED_CREDENTIALS_FILE",
                                           "AWS_PROFILE",       "HOME"};
  std::vector<std::pair<const char*, std::optional<std::string>>> saved_;
};

class S3CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/bt-s3-credentials-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    file_ = dir_ + "/credentials";
    std::ofstream(file_) << "# comment\n"
                            "[default]\n"
                            "aws_access_key_id = AKIADEFAULT\n"
                            "aws_secret_access_key=default/secret+key\n"
                            "\n"
                            "[ci]\r\n"
                            "; another comment\r\n"
                            "  aws_access_key_id = AKIACI  \r\n"
                            "aws_secret_access_key = ci-secret\r\n"
                            "aws_session_token = ci-token\r\n"
                            "[broken]\n"
                            "aws_access_key_id = AKIABROKEN\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  ScopedEnvironment env_;
  std::string dir_;
  std::string file_;
};

TEST_F(S3CredentialsTest, VariablesComeFirst) {
  env_.Set("AWS_ACCESS_KEY_ID", "AKIAENV");
  env_.Set("AWS_SECRET_ACCESS_KEY", "env-secret");
  env_.Set("AWS_SESSION_TOKEN", "env-token");
  env_.Set("AWS_SHARED_CREDENTIALS_FILE", file_);
  Result<S3Credentials> credentials = S3CredentialsFromEnvironment();
  ASSERT_TRUE(credentials.ok()) << credentials.status().message();
  EXPECT_EQ(credentials->access_key_id, "AKIAENV");
  EXPECT_EQ(credentials->secret_access_key, "env-secret");
  EXPECT_EQ(credentials->session_token, "env-token");
}

TEST_F(S3CredentialsTest, HalfSetVariablesAreAnError) {
  env_.Set("AWS_ACCESS_KEY_ID", "AKIAENV");
  env_.Set("AWS_SHARED_CREDENTIALS_FILE", file_);
  const Status status = S3CredentialsFromEnvironment().status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("AWS_SECRET_ACCESS_KEY is not"), std::string::npos)
      << status.message();
  EXPECT_EQ(status.message().find("AKIAENV"), std::string::npos) << status.message();
}

TEST_F(S3CredentialsTest, FileDefaultProfile) {
  env_.Set("AWS_SHARED_CREDENTIALS_FILE", file_);
  Result<S3Credentials> credentials = S3CredentialsFromEnvironment();
  ASSERT_TRUE(credentials.ok()) << credentials.status().message();
  EXPECT_EQ(credentials->access_key_id, "AKIADEFAULT");
  EXPECT_EQ(credentials->secret_access_key, "default/secret+key");
  EXPECT_EQ(credentials->session_token, "");
}

TEST_F(S3CredentialsTest, FileNamedProfileWithToken) {
  env_.Set("AWS_SHARED_CREDENTIALS_FILE", file_);
  env_.Set("AWS_PROFILE", "ci");
  Result<S3Credentials> credentials = S3CredentialsFromEnvironment();
  ASSERT_TRUE(credentials.ok()) << credentials.status().message();
  EXPECT_EQ(credentials->access_key_id, "AKIACI");
  EXPECT_EQ(credentials->secret_access_key, "ci-secret");
  EXPECT_EQ(credentials->session_token, "ci-token");
}

TEST_F(S3CredentialsTest, HomeFileIsTheDefault) {
  fs::create_directories(dir_ + "/home/.aws");
  fs::copy_file(file_, dir_ + "/home/.aws/credentials");
  env_.Set("HOME", dir_ + "/home");
  Result<S3Credentials> credentials = S3CredentialsFromEnvironment();
  ASSERT_TRUE(credentials.ok()) << credentials.status().message();
  EXPECT_EQ(credentials->access_key_id, "AKIADEFAULT");
}

TEST_F(S3CredentialsTest, MissingProfileKeyOrFileIsAnErrorWithoutSecrets) {
  env_.Set("AWS_SHARED_CREDENTIALS_FILE", file_);
  env_.Set("AWS_PROFILE", "nope");
  Status status = S3CredentialsFromEnvironment().status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("no profile [nope]"), std::string::npos) << status.message();

  env_.Set("AWS_PROFILE", "broken");
  status = S3CredentialsFromEnvironment().status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("aws_secret_access_key"), std::string::npos) << status.message();
  EXPECT_EQ(status.message().find("AKIABROKEN"), std::string::npos) << status.message();

  env_.Set("AWS_SHARED_CREDENTIALS_FILE", dir_ + "/missing");
  status = S3CredentialsFromEnvironment().status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(dir_ + "/missing"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace buildtrace
