// Tests of the JSON writer: string escaping, number formatting and the streaming writer's commas.
#include "core/json_writer.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <string_view>

namespace buildtrace {
namespace {

std::string Str(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

std::string Num(double d) {
  std::string out;
  AppendJsonNumber(out, d);
  return out;
}

TEST(AppendJsonStringTest, PlainTextIsQuoted) {
  EXPECT_EQ(Str(""), R"("")");
  EXPECT_EQ(Str("door_10_20_5_5"), R"("door_10_20_5_5")");
}

TEST(AppendJsonStringTest, EscapesQuoteAndBackslash) {
  EXPECT_EQ(Str(R"(a"b\c)"), R"("a\"b\\c")");
  EXPECT_EQ(Str(R"(\")"), R"("\\\"")");
  EXPECT_EQ(Str("/"), R"("/")");  // '/' may stay as it is
}

TEST(AppendJsonStringTest, EscapesControlCharactersShortFormsFirst) {
  EXPECT_EQ(Str("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(Str("\x01"), R"("\u0001")");
  EXPECT_EQ(Str("\x1f"), R"("\u001f")");
  EXPECT_EQ(Str("\x0b"), R"("\u000b")");
  EXPECT_EQ(Str(std::string_view("a\0b", 3)), R"("a\u0000b")");
  EXPECT_EQ(Str("x\x1ey"), R"("x\u001ey")");
}

TEST(AppendJsonStringTest, LeavesDelAndUtf8Unchanged) {
  EXPECT_EQ(Str("\x7f"), "\"\x7f\"");
  EXPECT_EQ(Str("\xc3\xa9"), "\"\xc3\xa9\"");                  // é
  EXPECT_EQ(Str("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");  // 😀
  EXPECT_EQ(Str("caf\xc3\xa9\n"), "\"caf\xc3\xa9\\n\"");
}

TEST(AppendJsonStringTest, AppendsToExistingText) {
  std::string out = "x=";
  AppendJsonString(out, "y");
  EXPECT_EQ(out, R"(x="y")");
}

TEST(AppendJsonNumberTest, IntegralValuesHaveNoFractionOrExponent) {
  EXPECT_EQ(Num(5), "5");
  EXPECT_EQ(Num(5.0), "5");
  EXPECT_EQ(Num(-3), "-3");
  EXPECT_EQ(Num(0), "0");
  EXPECT_EQ(Num(1e15), "1000000000000000");
  EXPECT_EQ(Num(9007199254740991.0), "9007199254740991");  // 2^53 - 1
  EXPECT_EQ(Num(-9007199254740991.0), "-9007199254740991");
}

TEST(AppendJsonNumberTest, NegativeZeroIsZero) {
  EXPECT_EQ(Num(-0.0), "0");
  EXPECT_TRUE(std::signbit(-0.0));  // the input really was negative zero
}

TEST(AppendJsonNumberTest, FractionsAndLargeValuesUseShortestForm) {
  EXPECT_EQ(Num(5.5), "5.5");
  EXPECT_EQ(Num(0.1), "0.1");
  EXPECT_EQ(Num(-0.25), "-0.25");
  EXPECT_EQ(Num(1e20), "1e+20");
  EXPECT_EQ(Num(1e-7), "1e-07");
  EXPECT_EQ(Num(812.5), "812.5");
}

TEST(AppendJsonNumberTest, NonFiniteIsNull) {
  EXPECT_EQ(Num(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(Num(-std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(Num(std::numeric_limits<double>::quiet_NaN()), "null");
}

double ReadBack(const std::string& text) {
  double d = std::numeric_limits<double>::quiet_NaN();
  auto r = std::from_chars(text.data(), text.data() + text.size(), d);
  EXPECT_EQ(r.ec, std::errc()) << text;
  EXPECT_EQ(r.ptr, text.data() + text.size()) << text;
  return d;
}

TEST(AppendJsonNumberTest, ReadsBackToTheSameDouble) {
  for (double d : {0.1, 1e20, 5.5, 1.0 / 3, 2.5e-300, 1.7976931348623157e308, 4.9e-324,
                   9007199254740992.0, 123456.789, -1e21}) {
    EXPECT_EQ(ReadBack(Num(d)), d) << Num(d);
  }
  std::mt19937_64 rng(42);
  for (int i = 0; i < 10000; ++i) {
    const uint64_t bits = rng();
    double d;
    static_assert(sizeof d == sizeof bits);
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isfinite(d)) continue;
    const std::string text = Num(d);
    ASSERT_EQ(ReadBack(text), d) << text;
  }
}

TEST(JsonWriterTest, WritesCommasBetweenMembersAndElements) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("a").Int(1);
  w.Key("b").BeginArray().Bool(true).Bool(false).Null().String("x").Number(2.5).EndArray();
  w.Key("c").BeginObject().EndObject();
  w.Key("d").BeginArray().EndArray();
  w.Key("e").BeginObject().Key("f").String("g").EndObject();
  w.Key("r").Raw(R"({"raw":1})");
  w.Key("n").Number(-0.0);
  w.EndObject();
  EXPECT_EQ(out, R"({"a":1,"b":[true,false,null,"x",2.5],"c":{},"d":[],"e":{"f":"g"},)"
                 R"("r":{"raw":1},"n":0})");
}

TEST(JsonWriterTest, ArrayOfObjectsAndNestedArrays) {
  std::string out;
  JsonWriter w(out);
  w.BeginArray();
  w.BeginObject().Key("id").Int(1).EndObject();
  w.BeginObject().Key("id").Int(2).EndObject();
  w.BeginArray().BeginArray().EndArray().Int(3).EndArray();
  w.EndArray();
  EXPECT_EQ(out, R"([{"id":1},{"id":2},[[],3]])");
}

TEST(JsonWriterTest, EscapesKeysAndStrings) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject().Key("a\"b").String("c\\d\n").Key("\xc3\xa9").String("\x01").EndObject();
  EXPECT_EQ(out, "{\"a\\\"b\":\"c\\\\d\\n\",\"\xc3\xa9\":\"\\u0001\"}");
}

TEST(JsonWriterTest, IntWritesTheFullInt64Range) {
  std::string out;
  JsonWriter w(out);
  w.BeginArray()
      .Int(std::numeric_limits<int64_t>::max())
      .Int(std::numeric_limits<int64_t>::min())
      .Int(0)
      .EndArray();
  EXPECT_EQ(out, "[9223372036854775807,-9223372036854775808,0]");
}

TEST(JsonWriterTest, AppendsAfterExistingText) {
  std::string out = "prefix ";
  JsonWriter w(out);
  w.BeginObject().Key("k").Int(1).EndObject();
  EXPECT_EQ(out, R"(prefix {"k":1})");
}

}  // namespace
}  // namespace buildtrace
