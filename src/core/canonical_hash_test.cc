// Tests of the canonical JSON of structured objects (key order, number and string spelling,
// duplicate keys, depth) and of the SHA-256 helpers.
#include "core/canonical_hash.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <string_view>

#include "core/status.h"

namespace buildtrace {
namespace {

// The canonical JSON of the JSON value `json`, read with simdjson On-Demand as the parser does.
Result<std::string> Canonical(std::string_view json, int max_depth = 16) {
  // Wrapped in an array so that scalars can be read as On-Demand values too.
  simdjson::padded_string body("[" + std::string(json) + "]");
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  simdjson::ondemand::array array;
  if (parser.iterate(body).get(doc) || doc.get_array().get(array)) {
    return Internal("test input is not JSON");
  }
  for (auto element : array) {
    simdjson::ondemand::value value;
    if (element.get(value)) return Internal("test input is not JSON");
    std::string out;
    if (Status s = AppendCanonicalJson(value, max_depth, out); !s.ok()) return s;
    return out;
  }
  return Internal("test input is empty");
}

std::string CanonicalOk(std::string_view json, int max_depth = 16) {
  Result<std::string> r = Canonical(json, max_depth);
  EXPECT_TRUE(r.ok()) << json << ": " << r.status().message();
  return r.ok() ? *r : std::string("<error>");
}

void ExpectRejected(std::string_view json, const std::string& message, int max_depth = 16) {
  Result<std::string> r = Canonical(json, max_depth);
  ASSERT_FALSE(r.ok()) << json << " gave " << *r;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << json;
  EXPECT_EQ(r.status().message(), message) << json;
}

TEST(Sha256HexTest, KnownDigests) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex(R"({"type":"door"})"),
            "35bd591c144f48f51cdc173a9117742244abe369f4b9eb30e8c3b3beda1d13e4");
}

TEST(Sha256HexTest, HashesEmbeddedNulBytes) {
  EXPECT_NE(Sha256Hex(std::string_view("a\0b", 3)), Sha256Hex("a"));
  EXPECT_EQ(Sha256Hex(std::string_view("a\0b", 3)).size(), 64u);
}

TEST(ContentDigestTest, PrefixesSha256) {
  EXPECT_EQ(ContentDigest("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ContentDigestTest, PiecesHashAsTheirBytesJoined) {
  const std::string_view abc[] = {"a", "", "bc"};
  EXPECT_EQ(ContentDigest(abc),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ContentDigest(std::span<const std::string_view>()), "sha256:" + Sha256Hex(""));
  const std::string big(300'000, 'q');
  const std::string_view split[] = {std::string_view(big).substr(0, 70'001),
                                    std::string_view(big).substr(70'001)};
  EXPECT_EQ(ContentDigest(split), ContentDigest(big));
}

TEST(AppendCanonicalJsonTest, SortsKeysAndNormalisesNumbers) {
  const std::string a = CanonicalOk(R"({"x":10,"type":"door"})");
  const std::string b = CanonicalOk(R"({"type":"door","x":1e1})");
  EXPECT_EQ(a, R"({"type":"door","x":10})");
  EXPECT_EQ(b, a);
  EXPECT_EQ(Sha256Hex(a), Sha256Hex(b));
}

TEST(AppendCanonicalJsonTest, NestedObjectsAndArrays) {
  EXPECT_EQ(CanonicalOk(R"( { "b" : [ 3 , { "z" : 1 , "a" : 2 } ] ,
                              "a" : { "d" : null , "c" : true , "e" : false } } )"),
            R"({"a":{"c":true,"d":null,"e":false},"b":[3,{"a":2,"z":1}]})");
  EXPECT_EQ(CanonicalOk(R"([[], {}, [{"b":[]}], "s"])"), R"([[],{},[{"b":[]}],"s"])");
}

TEST(AppendCanonicalJsonTest, ArraysKeepTheirOrder) {
  EXPECT_EQ(CanonicalOk("[3, 1, 2]"), "[3,1,2]");
}

TEST(AppendCanonicalJsonTest, NumberSpellings) {
  for (const char* five : {"5", "5.0", "5e0", "50e-1", "0.5E1", "5.000"}) {
    EXPECT_EQ(CanonicalOk(five), "5") << five;
  }
  EXPECT_EQ(CanonicalOk("-0"), "0");
  EXPECT_EQ(CanonicalOk("-0.0"), "0");
  EXPECT_EQ(CanonicalOk("0.1"), "0.1");
  EXPECT_EQ(CanonicalOk("1E2"), "100");
  EXPECT_EQ(CanonicalOk("1e20"), "1e+20");
  EXPECT_EQ(CanonicalOk("-2.50"), "-2.5");
  // Beyond 2^53 an integer is written as the exact value of its nearest double.
  EXPECT_EQ(CanonicalOk("12345678901234567890"), "12345678901234567168");
}

TEST(AppendCanonicalJsonTest, StringSpellings) {
  EXPECT_EQ(CanonicalOk(R"("\u0041\/")"), R"("A/")");
  EXPECT_EQ(CanonicalOk(R"("\u00e9")"), "\"\xc3\xa9\"");
  EXPECT_EQ(CanonicalOk("\"\xc3\xa9\""), "\"\xc3\xa9\"");
  EXPECT_EQ(CanonicalOk(R"("\ud83d\ude00")"), "\"\xf0\x9f\x98\x80\"");
  EXPECT_EQ(CanonicalOk(R"("a\nb\u001fc\"d\\")"), R"("a\nb\u001fc\"d\\")");
  EXPECT_EQ(CanonicalOk(R"("\u0000")"), R"("\u0000")");
}

TEST(AppendCanonicalJsonTest, KeysSortByUtf8Bytes) {
  EXPECT_EQ(CanonicalOk("{\"\xc3\xa9\":1,\"b\":2,\"aa\":3,\"a\":4,\"B\":5,\"\":6}"),
            "{\"\":6,\"B\":5,\"a\":4,\"aa\":3,\"b\":2,\"\xc3\xa9\":1}");
  // Keys compare after unescaping: "\u0062" is "b".
  EXPECT_EQ(CanonicalOk(R"({"\u0062":1,"a":2})"), R"({"a":2,"b":1})");
}

TEST(AppendCanonicalJsonTest, CanonicalFormIsAFixedPoint) {
  for (const char* json : {R"({"x":1e1,"type":"door","tags":["b","a"],"n":{"z":-0,"y":0.1}})",
                           R"({"k":"\u00e9\n","k2":1e300})"}) {
    const std::string once = CanonicalOk(json);
    EXPECT_EQ(CanonicalOk(once), once) << json;
  }
}

TEST(AppendCanonicalJsonTest, RejectsDuplicateKeys) {
  ExpectRejected(R"({"x":1,"type":"door","x":2})",
                 R"(structured object: key "x" appears twice; each attribute must appear once)");
  ExpectRejected(R"({"a":1,"\u0061":1})",
                 R"(structured object: key "a" appears twice; each attribute must appear once)");
  ExpectRejected(R"({"outer":{"in":1,"in":1}})",
                 R"(structured object: key "in" appears twice; each attribute must appear once)");
  ExpectRejected(R"([{"q":1,"q":2}])",
                 R"(structured object: key "q" appears twice; each attribute must appear once)");
}

TEST(AppendCanonicalJsonTest, DepthLimitCountsObjectsAndArrays) {
  EXPECT_EQ(CanonicalOk("5", 0), "5");
  ExpectRejected("{}", "structured object: nests too deeply", 0);
  ExpectRejected("[]", "structured object: nests too deeply", 0);
  EXPECT_EQ(CanonicalOk(R"({"a":1})", 1), R"({"a":1})");
  ExpectRejected(R"({"a":{}})", "structured object: nests too deeply", 1);
  ExpectRejected(R"({"a":[]})", "structured object: nests too deeply", 1);
  EXPECT_EQ(CanonicalOk(R"({"a":{"b":[1]}})", 3), R"({"a":{"b":[1]}})");
  ExpectRejected(R"({"a":{"b":[[1]]}})", "structured object: nests too deeply", 3);
}

TEST(AppendCanonicalJsonTest, RejectsInvalidLiteralsWithoutThrowing) {
  // simdjson reads literals lazily; "nul" once made is_null() throw.
  ExpectRejected(R"({"a":nul})", "structured object: holds an invalid literal");
  ExpectRejected(R"({"a":tru})", "structured object: holds an invalid literal");
  ExpectRejected(R"({"a":[1,fals]})", "structured object: holds an invalid literal");
}

TEST(AppendCanonicalJsonTest, RejectsNumbersThatAreNotDoubles) {
  ExpectRejected(R"({"a":1e400})", "structured object: holds a number that does not fit a double");
}

}  // namespace
}  // namespace buildtrace
