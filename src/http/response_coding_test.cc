// Tests of answer compression: Accept-Encoding negotiation (weights, wildcards, refusals, what
// does not parse), which types are compressed, and EncodeForClient on answers of each kind.
#include "http/response_coding.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>

#include "testing/gzip.h"

namespace buildtrace {
namespace {

namespace http = boost::beast::http;

TEST(AcceptsGzipTest, Negotiates) {
  struct Case {
    const char* field;
    bool gzip;
  };
  const Case cases[] = {
      {"", false},
      {"gzip", true},
      {"GZip", true},
      {"x-gzip", true},
      {"gzip, deflate, br", true},  // browsers, Python's requests
      {"deflate, gzip", true},
      {"deflate", false},
      {"br;q=1, gzip;q=0.9", true},
      {"*", true},
      {"*;q=0.1", true},
      {"identity", false},
      {"identity;q=0", false},  // we send identity all the same (RFC 9110 12.5.3 allows it)
      {"gzip;q=0", false},
      {"gzip; q=0.000", false},
      {"gzip;q=0, *", false},
      {"*, gzip;q=0", false},
      {"*;q=0", false},
      {"gzip;q=0.5", true},  // identity is acceptable but not ranked
      {"gzip;q=0.5, identity", false},
      {"gzip;q=0.5, identity;q=0.5", true},
      {"gzip;q=1.0, identity;q=0.5", true},
      {"*;q=0.5, identity;q=0.6", false},
      {"*;q=1, gzip;q=0.5", false},
      {" gzip ; q=0.8 ", true},
      {"gzip;Q=0.3", true},
      {"gzip;level=9", true},  // a parameter other than q is ignored
      {",, gzip ,,", true},
      // Elements that do not parse are ignored.
      {"gzip;q=2", false},
      {"gzip;q=1.5", false},
      {"gzip;q=0.0001", false},
      {"gzip;q=", false},
      {"gzip;q=abc, deflate", false},
      {"gzip;junk", false},
      {"gzip;q=0.5;q=x", false},
      {"gzip; q = 0", false},  // blanks around "=" are not in the grammar, but plainly a refusal
      {"gzip;q= 0.5", true},
      {"gzipx", false},
      {"gzip;q=abc, x-gzip;q=0.2", true},
  };
  for (const Case& c : cases) EXPECT_EQ(AcceptsGzip(c.field), c.gzip) << '"' << c.field << '"';
}

TEST(AcceptEncodingOfTest, JoinsFieldLines) {
  HttpRequest request{http::verb::get, "/", 11};
  EXPECT_EQ(AcceptEncodingOf(request), "");
  request.insert(http::field::accept_encoding, "deflate");
  request.insert(http::field::accept_encoding, "gzip;q=0.5");
  EXPECT_EQ(AcceptEncodingOf(request), "deflate, gzip;q=0.5");
  EXPECT_TRUE(AcceptsGzip(AcceptEncodingOf(request)));
}

TEST(IsCompressibleTypeTest, TextTypesOnly) {
  for (const char* type : {"application/json", "Application/JSON", "text/plain; charset=utf-8",
                           "text/html", "text/css", "text/csv", "application/javascript",
                           "image/svg+xml", "application/xml", "application/problem+json",
                           "application/x-ndjson", " text/plain ", "text/plain; version=0.0.4"}) {
    EXPECT_TRUE(IsCompressibleType(type)) << type;
  }
  for (const char* type : {"", "image/png", "application/octet-stream", "application/gzip",
                           "application/zip", "+json", "image/svg", "application/jsonx"}) {
    EXPECT_FALSE(IsCompressibleType(type)) << type;
  }
}

// A JSON-like answer that compresses well.
std::string Compressible(size_t bytes) {
  std::string s = "[";
  for (int i = 0; s.size() + 12 < bytes; ++i) s += "\"B" + std::to_string(100000 + i) + "\",";
  s.resize(bytes - 1);
  return s + "]";
}

HttpRequest Asking(std::string_view accept_encoding) {
  HttpRequest request{http::verb::get, "/report/2", 11};
  if (!accept_encoding.empty()) request.set(http::field::accept_encoding, accept_encoding);
  return request;
}

HttpResponse Answer(std::string body, std::string_view type = "application/json",
                    unsigned status = 200) {
  HttpResponse res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, type);
  res.body() = std::move(body);
  return res;
}

TEST(EncodeForClientTest, CompressesForAClientThatAsks) {
  const std::string body = Compressible(100000);
  HttpResponse res = Answer(body);
  EncodeForClient(Asking("gzip, deflate"), res);
  EXPECT_EQ(res[http::field::content_encoding], "gzip");
  EXPECT_EQ(res[http::field::vary], "Accept-Encoding");
  EXPECT_LT(res.body().text().size() * 4, body.size());
  EXPECT_EQ(Gunzip(res.body().text()), body);
}

TEST(EncodeForClientTest, LeavesTheAnswerForAClientThatDoesNotAsk) {
  for (const char* field : {"", "identity", "gzip;q=0", "br"}) {
    const std::string body = Compressible(100000);
    HttpResponse res = Answer(body);
    EncodeForClient(Asking(field), res);
    EXPECT_EQ(res.find(http::field::content_encoding), res.end()) << field;
    EXPECT_EQ(res[http::field::vary], "Accept-Encoding") << field;  // it could have varied
    EXPECT_EQ(res.body().text(), body) << field;
  }
}

TEST(EncodeForClientTest, SmallAnswersGoAsTheyAre) {
  HttpResponse below = Answer(Compressible(kMinGzipAnswerBytes - 1));
  EncodeForClient(Asking("gzip"), below);
  EXPECT_EQ(below.find(http::field::content_encoding), below.end());
  EXPECT_EQ(below.body().text().size(), kMinGzipAnswerBytes - 1);
  HttpResponse at = Answer(Compressible(kMinGzipAnswerBytes));
  EncodeForClient(Asking("gzip"), at);
  EXPECT_EQ(at[http::field::content_encoding], "gzip");
  EXPECT_EQ(Gunzip(at.body().text()), Compressible(kMinGzipAnswerBytes));
}

TEST(EncodeForClientTest, OtherTypesAreNeitherCompressedNorVaried) {
  HttpResponse res = Answer(Compressible(100000), "application/octet-stream");
  EncodeForClient(Asking("gzip"), res);
  EXPECT_EQ(res.find(http::field::content_encoding), res.end());
  EXPECT_EQ(res.find(http::field::vary), res.end());
  EXPECT_EQ(res.body().text().size(), 100000u);
}

TEST(EncodeForClientTest, AnAnswerAlreadyEncodedIsLeftAlone) {
  const std::string compressed = Gzip(Compressible(100000));
  HttpResponse res = Answer(compressed);
  res.set(http::field::content_encoding, "gzip");
  EncodeForClient(Asking("gzip"), res);
  EXPECT_EQ(res.body().text(), compressed);  // not compressed twice
  EXPECT_EQ(res[http::field::vary], "Accept-Encoding");
}

TEST(EncodeForClientTest, StatusesWithoutContentAreLeftAlone) {
  for (unsigned status : {204u, 304u}) {
    HttpResponse res = Answer(Compressible(5000), "application/json", status);
    EncodeForClient(Asking("gzip"), res);
    EXPECT_EQ(res.find(http::field::content_encoding), res.end()) << status;
    EXPECT_EQ(res.find(http::field::vary), res.end()) << status;
  }
  HttpResponse error = Answer(Compressible(5000), "application/json", 404);
  EncodeForClient(Asking("gzip"), error);
  EXPECT_EQ(error[http::field::content_encoding], "gzip");  // a long error is an answer too
}

TEST(EncodeForClientTest, IncompressibleAnswersGoAsTheyAre) {
  std::mt19937 rng(5);
  std::string body(20000, '\0');
  for (char& c : body) c = static_cast<char>(rng());  // gzip makes it a little larger
  HttpResponse res = Answer(body, "text/plain");
  EncodeForClient(Asking("gzip"), res);
  EXPECT_EQ(res.find(http::field::content_encoding), res.end());
  EXPECT_EQ(res.body().text(), body);
}

TEST(EncodeForClientTest, AnswersOverThePerRequestCapGoAsTheyAre) {
  HttpResponse res = Answer(Compressible(kMaxGzipPerRequestBytes + 1));
  EncodeForClient(Asking("gzip"), res);
  EXPECT_EQ(res.find(http::field::content_encoding), res.end());
  EXPECT_EQ(res.body().text().size(), kMaxGzipPerRequestBytes + 1);
  EXPECT_EQ(res[http::field::vary], "Accept-Encoding");
}

TEST(EncodeForClientTest, AnAnswerWhoseCodingWasChosenIsSentAsItIs) {
  const std::string body = Compressible(100000);
  HttpResponse res = Answer(body);
  res.body().ChooseCoding();
  EncodeForClient(Asking("gzip"), res);
  EXPECT_EQ(res.find(http::field::content_encoding), res.end());
  EXPECT_EQ(res.body().text(), body);
  EXPECT_EQ(res[http::field::vary], "Accept-Encoding");
  res.body() = body;  // a new body: its coding is open again
  EncodeForClient(Asking("gzip"), res);
  EXPECT_EQ(res[http::field::content_encoding], "gzip");
}

TEST(EncodeForClientTest, VaryKeepsWhatWasThere) {
  HttpResponse other = Answer(Compressible(100));
  other.set(http::field::vary, "Origin");
  EncodeForClient(Asking(""), other);
  EXPECT_EQ(other[http::field::vary], "Origin, Accept-Encoding");
  HttpResponse already = Answer(Compressible(100));
  already.set(http::field::vary, "origin, accept-encoding");
  EncodeForClient(Asking(""), already);
  EXPECT_EQ(already[http::field::vary], "origin, accept-encoding");
}

TEST(EncodeForClientTest, SharedBytesStayAsTheyWere) {
  auto kept = std::make_shared<const std::string>(Compressible(50000));
  HttpResponse res = Answer("");
  res.body().Share(kept);
  EncodeForClient(Asking("gzip"), res);
  EXPECT_EQ(res[http::field::content_encoding], "gzip");
  EXPECT_EQ(*kept, Compressible(50000));  // the kept answer is not touched
  EXPECT_EQ(Gunzip(res.body().text()), *kept);
}

}  // namespace
}  // namespace buildtrace
