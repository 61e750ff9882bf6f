// Token sources: the service-account JWT (checked with the public half of a key pair made here),
// the JWT bearer exchange and the metadata flow against the loopback fake, and the cache: reuse,
// refresh before expiry on an injected clock, a failed refresh, Invalidate, one fetch for many
// concurrent callers.
#include "cloud/google_auth.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <latch>
#include <thread>

#include "testing/fake_google_apis.h"

namespace buildtrace {
namespace {

using Op = FakeGoogleApis::Op;
using namespace std::chrono_literals;
using Names = std::vector<std::string>;

RetryPolicy NoSleep(int attempts = 4) {
  RetryPolicy policy;
  policy.max_attempts = attempts;
  policy.sleep = [](std::chrono::milliseconds) {};
  return policy;
}

struct KeyPair {
  std::string private_pem;
  std::string public_pem;
};

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

KeyPair MakeKeyPair() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  EXPECT_NE(key, nullptr);
  BIO* priv = BIO_new(BIO_s_mem());
  BIO* pub = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_bio_PUBKEY(pub, key);
  KeyPair pair{BioText(priv), BioText(pub)};
  BIO_free(priv);
  BIO_free(pub);
  EVP_PKEY_free(key);
  return pair;
}

const KeyPair& TestKey() {
  static const KeyPair pair = MakeKeyPair();
  return pair;
}

std::string Base64UrlDecode(std::string_view text) {
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    int v = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '-'             ? 62
            : c == '_'             ? 63
                                   : -1;
    if (v < 0) return "<invalid base64url>";
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xFF);
    }
  }
  return out;
}

ServiceAccountKey TestAccount(const std::string& token_uri) {
  ServiceAccountKey key;
  key.client_email = "bt@example-project.iam.gserviceaccount.com";
  key.private_key = TestKey().private_pem;
  key.private_key_id = "key-1";
  key.token_uri = token_uri;
  return key;
}

TEST(ServiceAccountJwtTest, IsSignedWithRs256AndCarriesTheClaims) {
  const ServiceAccountKey key = TestAccount("https://oauth2.googleapis.com/token");
  Result<std::string> jwt = MakeServiceAccountJwt(key, kCloudPlatformScope, 1'700'000'000);
  ASSERT_TRUE(jwt.ok()) << jwt.status().message();
  const size_t dot1 = jwt->find('.');
  const size_t dot2 = jwt->rfind('.');
  ASSERT_NE(dot1, dot2);
  EXPECT_EQ(Base64UrlDecode(jwt->substr(0, dot1)), R"({"alg":"RS256","typ":"JWT","kid":"key-1"})");
  EXPECT_EQ(Base64UrlDecode(jwt->substr(dot1 + 1, dot2 - dot1 - 1)),
            R"({"iss":"bt@example-project.iam.gserviceaccount.com",)"
            R"("scope":"https://www.googleapis.com/auth/cloud-platform",)"
            R"("aud":"https://oauth2.googleapis.com/token","iat":1700000000,"exp":1700003600})");
  const std::string signature = Base64UrlDecode(jwt->substr(dot2 + 1));
  EXPECT_EQ(signature.size(), 256u);  // RSA 2048
  EXPECT_TRUE(VerifyRs256(TestKey().public_pem, jwt->substr(0, dot2), signature));
  std::string tampered = jwt->substr(0, dot2);
  tampered[dot1 + 3] ^= 1;
  EXPECT_FALSE(VerifyRs256(TestKey().public_pem, tampered, signature));
  EXPECT_FALSE(VerifyRs256(MakeKeyPair().public_pem, jwt->substr(0, dot2), signature));
}

TEST(ServiceAccountJwtTest, RefusesAKeyThatIsNotRsaWithoutEchoingIt) {
  ServiceAccountKey key = TestAccount("https://oauth2.googleapis.com/token");
  key.private_key = "-----BEGIN PRIVATE KEY-----\nnot-a-key-SECRET\n-----END PRIVATE KEY-----\n";
  Result<std::string> jwt = MakeServiceAccountJwt(key, kCloudPlatformScope, 1);
  EXPECT_EQ(jwt.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(jwt.status().message().find("SECRET"), std::string::npos);
}

TEST(ServiceAccountKeyTest, ParsesTheKeyFileFields) {
  Result<ServiceAccountKey> key = ParseServiceAccountKey(
      R"({"type":"service_account","client_email":"a@b.iam.gserviceaccount.com",)"
      R"("private_key":"-----BEGIN PRIVATE KEY-----\nAAA\n-----END PRIVATE KEY-----\n",)"
      R"("private_key_id":"k9"})");
  ASSERT_TRUE(key.ok()) << key.status().message();
  EXPECT_EQ(key->client_email, "a@b.iam.gserviceaccount.com");
  EXPECT_EQ(key->private_key, "-----BEGIN PRIVATE KEY-----\nAAA\n-----END PRIVATE KEY-----\n");
  EXPECT_EQ(key->private_key_id, "k9");
  EXPECT_EQ(key->token_uri, "https://oauth2.googleapis.com/token");  // the default

  Result<ServiceAccountKey> missing =
      ParseServiceAccountKey(R"({"client_email":"a@b","private_key_id":"SECRET-ID"})");
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("\"private_key\""), std::string::npos);
  EXPECT_EQ(ParseServiceAccountKey("[1]").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseServiceAccountKey("{").status().code(), StatusCode::kInvalidArgument);
}

class TokenFlowTest : public ::testing::Test {
 protected:
  using Clock = std::chrono::system_clock;

  void TearDown() override { EXPECT_EQ(fake_.ProtocolErrors(), Names{}); }

  Clock::time_point Now() const { return Clock::time_point(std::chrono::seconds(now_s_.load())); }
  WallClock clock() {
    return [this] { return Now(); };
  }

  FakeGoogleApis fake_;
  std::atomic<int64_t> now_s_{1'700'000'000};
};

TEST_F(TokenFlowTest, ServiceAccountExchangesASignedJwt) {
  fake_.SetServiceAccount("bt@example-project.iam.gserviceaccount.com", TestKey().public_pem);
  ServiceAccountTokenSource source(TestAccount(fake_.base_url() + "/token"), clock(), NoSleep());
  Result<std::string> token = source.Token();
  ASSERT_TRUE(token.ok()) << token.status().message();
  EXPECT_EQ(*token, "sa-token-1");
  EXPECT_EQ(*source.Token(), "sa-token-1");
  EXPECT_EQ(fake_.Count(Op::kOAuthToken), 1);
}

TEST_F(TokenFlowTest, ServiceAccountWithAnotherKeyIsRefused) {
  fake_.SetServiceAccount("bt@example-project.iam.gserviceaccount.com", MakeKeyPair().public_pem);
  ServiceAccountTokenSource source(TestAccount(fake_.base_url() + "/token"), clock(), NoSleep());
  Result<std::string> token = source.Token();
  EXPECT_EQ(token.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(token.status().message().find("invalid_grant"), std::string::npos)
      << token.status().message();
  EXPECT_EQ(token.status().message().find("PRIVATE KEY"), std::string::npos);
}

TEST_F(TokenFlowTest, DefaultTokenSourceReadsGoogleApplicationCredentials) {
  fake_.SetServiceAccount("bt@example-project.iam.gserviceaccount.com", TestKey().public_pem);
  const std::string path = ::testing::TempDir() + "bt-key-" + std::to_string(::getpid()) + ".json";
  {
    std::ofstream file(path);
    std::string pem;
    for (char c : TestKey().private_pem) pem += c == '\n' ? std::string("\\n") : std::string(1, c);
    file
        << R"({"type":"service_account","client_email":"bt@example-project.iam.gserviceaccount.com",)"
        << R"("private_key_id":"key-1","private_key":")" << pem << R"(","token_uri":")"
        << fake_.base_url() << "/token\"}";
  }
  std::optional<ScopedEnv> credentials(std::in_place, "GOOGLE_APPLICATION_CREDENTIALS",
                                       path.c_str());
  Result<std::unique_ptr<TokenSource>> source = DefaultTokenSource();
  std::remove(path.c_str());
  ASSERT_TRUE(source.ok()) << source.status().message();
  EXPECT_NE((*source)->Describe().find("service account"), std::string::npos);
  Result<std::string> token = (*source)->Token();
  ASSERT_TRUE(token.ok()) << token.status().message();
  EXPECT_EQ(*token, "sa-token-1");

  credentials.emplace("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json");
  EXPECT_EQ(DefaultTokenSource().status().code(), StatusCode::kInvalidArgument);
  credentials.emplace("GOOGLE_APPLICATION_CREDENTIALS", nullptr);
  Result<std::unique_ptr<TokenSource>> metadata = DefaultTokenSource();
  ASSERT_TRUE(metadata.ok());
  EXPECT_NE((*metadata)->Describe().find("metadata server"), std::string::npos);
}

TEST_F(TokenFlowTest, MetadataServerTokenIsCachedAndRefreshedBeforeExpiry) {
  fake_.SetIssuedTokenLifetime(3600s);
  MetadataServerTokenSource source(fake_.base_url(), clock(), NoSleep());
  EXPECT_EQ(*source.Token(), "meta-token-1");
  now_s_ += 3600 - 61;  // 61 s left: still used
  EXPECT_EQ(*source.Token(), "meta-token-1");
  EXPECT_EQ(fake_.Count(Op::kMetadataToken), 1);
  now_s_ += 2;  // 59 s left: refreshed
  EXPECT_EQ(*source.Token(), "meta-token-2");
  EXPECT_EQ(fake_.Count(Op::kMetadataToken), 2);
}

TEST_F(TokenFlowTest, ShortLivedTokensAreRefreshedAtHalfTheirLife) {
  fake_.SetIssuedTokenLifetime(100s);
  MetadataServerTokenSource source(fake_.base_url(), clock(), NoSleep());
  EXPECT_EQ(*source.Token(), "meta-token-1");
  now_s_ += 49;
  EXPECT_EQ(*source.Token(), "meta-token-1");
  now_s_ += 2;
  EXPECT_EQ(*source.Token(), "meta-token-2");
}

TEST_F(TokenFlowTest, FailedRefreshKeepsTheTokenUntilItExpires) {
  MetadataServerTokenSource source(fake_.base_url(), clock(), NoSleep(2));
  EXPECT_EQ(*source.Token(), "meta-token-1");
  fake_.FailNext(Op::kMetadataToken, 503, 100);
  now_s_ += 3600 - 30;
  EXPECT_EQ(*source.Token(), "meta-token-1");
  now_s_ += 31;
  Result<std::string> expired = source.Token();
  EXPECT_EQ(expired.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(expired.status().message().find("metadata server"), std::string::npos);
}

TEST_F(TokenFlowTest, InvalidateDropsOnlyTheRejectedToken) {
  MetadataServerTokenSource source(fake_.base_url(), clock(), NoSleep());
  EXPECT_EQ(*source.Token(), "meta-token-1");
  source.Invalidate("some-older-token");
  EXPECT_EQ(*source.Token(), "meta-token-1");
  source.Invalidate("meta-token-1");
  EXPECT_EQ(*source.Token(), "meta-token-2");
}

TEST_F(TokenFlowTest, ConcurrentCallersShareOneFetch) {
  MetadataServerTokenSource source(fake_.base_url(), clock(), NoSleep());
  constexpr int kThreads = 8;
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  std::atomic<int> right{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      Result<std::string> token = source.Token();
      if (token.ok() && *token == "meta-token-1") ++right;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(right.load(), kThreads);
  EXPECT_EQ(fake_.Count(Op::kMetadataToken), 1);
}

TEST_F(TokenFlowTest, UnreachableMetadataServerSaysWhatToDo) {
  MetadataServerTokenSource source("http://127.0.0.1:1", clock(), NoSleep(2));
  Result<std::string> token = source.Token();
  EXPECT_EQ(token.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(token.status().message().find("GOOGLE_APPLICATION_CREDENTIALS"), std::string::npos)
      << token.status().message();
}

TEST_F(TokenFlowTest, CallGoogleApiRefreshesOnceOn401) {
  fake_.AddBucket("b");
  MetadataServerTokenSource source(fake_.base_url(), clock(), NoSleep());
  HttpCall call;
  call.url = fake_.base_url() + "/storage/v1/b/b/o?prefix=";
  int attempts = 0;
  Result<HttpReply> reply = CallGoogleApi(source, NoSleep(), call, "list", &attempts);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(attempts, 1);
  fake_.ExpireAllTokens();
  reply = CallGoogleApi(source, NoSleep(), call, "list", &attempts);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(attempts, 3);
  EXPECT_EQ(fake_.Count(Op::kMetadataToken), 2);
}

TEST(GoogleAuthHelpersTest, MetadataHostEnvironmentAndEncoding) {
  {
    ScopedEnv unset("GCE_METADATA_HOST", nullptr);
    EXPECT_EQ(MetadataServerTokenSource::DefaultBaseUrl(), "http://metadata.google.internal");
  }
  {
    ScopedEnv host("GCE_METADATA_HOST", "127.0.0.1:8080");
    EXPECT_EQ(MetadataServerTokenSource::DefaultBaseUrl(), "http://127.0.0.1:8080");
  }
  EXPECT_EQ(PercentEncode("jobs/a b~_.-+é"), "jobs%2Fa%20b~_.-%2B%C3%A9");
  HttpReply reply{403, R"({"error":{"code":403,"message":"no access"}})", {}};
  EXPECT_EQ(DescribeGoogleError(reply), "HTTP 403: no access");
  EXPECT_EQ(DescribeGoogleError(HttpReply{502, "<html>", {}}), "HTTP 502");
}

}  // namespace
}  // namespace buildtrace
