// Tests for the pieces of ServiceClient that need no server: what Connect refuses, the error
// text of the service's answers, percent-encoding, and gzip bodies (inflated again with zlib).
// The requests themselves are covered end to end (tests/e2e/cli_e2e_test.cc).
#include "client/service_client.h"

#include <gtest/gtest.h>
#include <zlib.h>

namespace buildtrace {
namespace {

// Inflates one gzip stream; "<error>" when zlib refuses it or bytes follow it.
std::string Gunzip(const std::string& data) {
  z_stream stream{};
  if (inflateInit2(&stream, 15 + 16) != Z_OK) return "<error>";
  std::string out(1 << 16, '\0');
  size_t produced = 0;
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (produced == out.size()) out.resize(out.size() * 2);
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    stream.avail_out = static_cast<uInt>(out.size() - produced);
    rc = inflate(&stream, Z_NO_FLUSH);
    produced = out.size() - stream.avail_out;
  }
  const bool whole = rc == Z_STREAM_END && stream.avail_in == 0;
  inflateEnd(&stream);
  if (!whole) return "<error>";
  out.resize(produced);
  return out;
}

TEST(GzipCompressTest, RoundTrips) {
  std::string json = "[";
  for (int i = 0; i < 20000; ++i) {
    json += (i ? "," : "") + std::string("{\"job_id\":") + std::to_string(i) + "}";
  }
  json += "]";
  const std::string compressed = GzipCompress(json);
  ASSERT_GE(compressed.size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>(compressed[0]), 0x1f) << "gzip magic";
  EXPECT_EQ(static_cast<unsigned char>(compressed[1]), 0x8b);
  EXPECT_LT(compressed.size(), json.size() / 4);
  EXPECT_EQ(Gunzip(compressed), json);
  EXPECT_EQ(Gunzip(GzipCompress("")), "");
}

TEST(ServiceErrorTextTest, MessageAndDetails) {
  EXPECT_EQ(
      ServiceErrorText(R"({"error":{"code":"invalid_job","message":"2 problems found","details":[)"
                       R"({"index":0,"field":"latency_ms","message":"must be >= 0"},)"
                       R"({"index":1,"message":"no field"}]}})"),
      "2 problems found; latency_ms: must be >= 0; no field");
  EXPECT_EQ(ServiceErrorText(R"({"error":{"code":"not_found","message":"no job 7"}})"), "no job 7");
  EXPECT_EQ(ServiceErrorText("Bad Gateway"), "Bad Gateway");
  EXPECT_EQ(ServiceErrorText(""), "(empty body)");
  EXPECT_EQ(ServiceErrorText(std::string(400, 'a')), std::string(300, 'a') + "...");
}

TEST(EscapeUrlComponentTest, KeepsUnreservedOnly) {
  EXPECT_EQ(EscapeUrlComponent("web-1.x_y~"), "web-1.x_y~");
  EXPECT_EQ(EscapeUrlComponent("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
}

TEST(ServiceClientTest, ConnectRefusesBadUrlsAndTokens) {
  auto https = ServiceClient::Connect({.url = "https://bt.example.com"});
  ASSERT_FALSE(https.ok());
  EXPECT_EQ(https.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(https.status().message(),
            "URL \"https://bt.example.com\" uses \"https\", which is not supported; use "
            "http://host:port");
  auto token = ServiceClient::Connect({.url = "http://127.0.0.1:8080", .token = "Bearer abc"});
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().message(),
            "the token holds a space, a line break or a character that is not printable ASCII; "
            "give the token alone, without \"Bearer \"");
  auto fine = ServiceClient::Connect({.url = "http://127.0.0.1:8080/", .token = "abc123"});
  ASSERT_TRUE(fine.ok()) << fine.status().message();
  EXPECT_EQ(fine->url(), "http://127.0.0.1:8080/");
}

}  // namespace
}  // namespace buildtrace
