// Tests of request-target parsing and the typed query parameters: every value a handler takes
// from the URL, including the edge cases a client can send (bad escapes, repeats, overflow).
#include "http/request_target.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <string>
#include <vector>

namespace buildtrace {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Params = std::map<std::string, std::string>;

RequestTarget ParseOk(std::string_view text) {
  Result<RequestTarget> target = ParseRequestTarget(text);
  EXPECT_TRUE(target.ok()) << text << ": " << target.status().message();
  return target.ok() ? *target : RequestTarget{};
}

void ExpectInvalidTarget(std::string_view text, std::string_view message_part) {
  SCOPED_TRACE(text);
  Result<RequestTarget> target = ParseRequestTarget(text);
  ASSERT_FALSE(target.ok());
  EXPECT_EQ(target.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(target.status().reason(), "invalid_request");
  EXPECT_THAT(target.status().message(), HasSubstr(message_part));
}

TEST(ParseRequestTargetTest, SplitsThePathIntoSegments) {
  EXPECT_THAT(ParseOk("/report/124").segments, ElementsAre("report", "124"));
  EXPECT_THAT(ParseOk("/report/124/").segments, ElementsAre("report", "124"));
  EXPECT_THAT(ParseOk("/healthz").segments, ElementsAre("healthz"));
  EXPECT_THAT(ParseOk("/").segments, IsEmpty());
  EXPECT_THAT(ParseOk("/stats/latency?window=1d").segments, ElementsAre("stats", "latency"));
  // Path segments are percent-decoded, but '+' stays a '+' there.
  EXPECT_THAT(ParseOk("/jobs/a%20b+c").segments, ElementsAre("jobs", "a b+c"));
  EXPECT_THAT(ParseOk("/jobs/1%2F2").segments, ElementsAre("jobs", "1/2"));
}

TEST(ParseRequestTargetTest, DecodesQueryParameters) {
  EXPECT_EQ(ParseOk("/report/1?project=web&limit=10").params,
            (Params{{"project", "web"}, {"limit", "10"}}));
  EXPECT_EQ(ParseOk("/x?q=a%20b+c%2Bd").params, (Params{{"q", "a b c+d"}}));
  EXPECT_EQ(ParseOk("/x?a%5Fb=%C3%A9").params, (Params{{"a_b", "\xC3\xA9"}}));
  EXPECT_EQ(ParseOk("/x?flag&empty=").params, (Params{{"flag", ""}, {"empty", ""}}));
  EXPECT_EQ(ParseOk("/x?a=1=2").params, (Params{{"a", "1=2"}}));
  EXPECT_EQ(ParseOk("/x?&a=1&&b=2&").params, (Params{{"a", "1"}, {"b", "2"}}));
  EXPECT_THAT(ParseOk("/x?").params, IsEmpty());
}

TEST(ParseRequestTargetTest, RejectsAParameterGivenTwice) {
  ExpectInvalidTarget("/report/1?limit=1&limit=2", "gives the parameter \"limit\" twice");
  // Names are compared after decoding.
  ExpectInvalidTarget("/report/1?limit=1&l%69mit=1", "gives the parameter \"limit\" twice");
}

TEST(ParseRequestTargetTest, RejectsBadPercentEncoding) {
  ExpectInvalidTarget("/x?a=%", "invalid percent-encoding");
  ExpectInvalidTarget("/x?a=%2", "invalid percent-encoding");
  ExpectInvalidTarget("/x?a=%zz", "invalid percent-encoding");
  ExpectInvalidTarget("/x?a=%g0", "invalid percent-encoding");
  ExpectInvalidTarget("/x?%=1", "invalid percent-encoding");
  ExpectInvalidTarget("/jobs/%4", "invalid path");
  // A complete escape at the very end is fine.
  EXPECT_EQ(ParseOk("/x?a=%41").params, (Params{{"a", "A"}}));
}

TEST(ParseRequestTargetTest, RejectsControlCharactersRawOrDecoded) {
  ExpectInvalidTarget("/x?a=%00", "invalid percent-encoding");
  ExpectInvalidTarget("/x?a=%0A", "invalid percent-encoding");
  ExpectInvalidTarget("/x?a=%7F", "invalid percent-encoding");
  ExpectInvalidTarget(std::string_view("/x?a=b\tc"), "invalid percent-encoding");
  ExpectInvalidTarget("/jobs/%00", "invalid path");
  ExpectInvalidTarget(std::string_view("/jobs/a\x01", 8), "invalid path");
}

TEST(ParseRequestTargetTest, RejectsMalformedPaths) {
  ExpectInvalidTarget("", "must start with '/'");
  ExpectInvalidTarget("report/1", "must start with '/'");
  ExpectInvalidTarget("http://host/report/1", "must start with '/'");
  ExpectInvalidTarget("//report", "invalid path");
  ExpectInvalidTarget("/report//1", "invalid path");
  ExpectInvalidTarget("/report/1//", "invalid path");
}

TEST(ParseRequestTargetTest, RejectsTargetsOver8KiB) {
  const std::string at_limit = "/x?a=" + std::string(8192 - 5, 'b');
  EXPECT_EQ(ParseOk(at_limit).params.at("a").size(), 8187u);
  ExpectInvalidTarget(at_limit + "b", "longer than 8192 bytes");
}

TEST(CheckParamsTest, NamesTheFirstUnknownParameterAndTheKnownOnes) {
  static constexpr std::array<std::string_view, 2> kAllowed = {"project", "limit"};
  EXPECT_TRUE(CheckParams(ParseOk("/r?project=a&limit=1"), kAllowed).ok());
  EXPECT_TRUE(CheckParams(ParseOk("/r"), kAllowed).ok());

  const Status unknown = CheckParams(ParseOk("/r?project=a&colour=red"), kAllowed);
  EXPECT_EQ(unknown.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(unknown.reason(), "invalid_request");
  EXPECT_EQ(unknown.message(),
            "unknown query parameter \"colour\"; this endpoint takes project, limit");

  const Status none = CheckParams(ParseOk("/r?x=1"), {});
  EXPECT_EQ(none.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(none.message(), "unknown query parameter \"x\"; this endpoint takes none");

  // Names are matched exactly, not by prefix or case.
  EXPECT_FALSE(CheckParams(ParseOk("/r?Project=a"), kAllowed).ok());
  EXPECT_FALSE(CheckParams(ParseOk("/r?projects=a"), kAllowed).ok());
}

TEST(ParseJobIdTextTest, AcceptsPositiveIntegersUpToInt64Max) {
  for (const auto& [text, id] : std::vector<std::pair<std::string, int64_t>>{
           {"1", 1}, {"124", 124}, {"9223372036854775807", INT64_MAX}}) {
    Result<int64_t> parsed = ParseJobIdText(text, "job");
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status().message();
    EXPECT_EQ(*parsed, id);
  }
}

TEST(ParseJobIdTextTest, RejectsEverythingElse) {
  for (const char* text : {"", "0", "-1", "+1", "1x", "x1", " 1", "1 ", "1.0", "1e3",
                           "9223372036854775808", "99999999999999999999"}) {
    SCOPED_TRACE(text);
    Result<int64_t> parsed = ParseJobIdText(text, "base");
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(parsed.status().reason(), "invalid_request");
    EXPECT_EQ(parsed.status().message(), "base must be an integer from 1 to 9223372036854775807");
  }
}

TEST(StringParamTest, ReadsTheDecodedValueOrTheFallback) {
  const RequestTarget target = ParseOk("/r?window=7d&empty=&name=a%20b");
  EXPECT_EQ(StringParam(target, "window", "30d"), "7d");
  EXPECT_EQ(StringParam(target, "empty", "30d"), "");  // sent empty is not absent
  EXPECT_EQ(StringParam(target, "name"), "a b");
  EXPECT_EQ(StringParam(target, "absent", "30d"), "30d");
  EXPECT_EQ(StringParam(target, "absent"), "");
}

TEST(IntParamTest, ReadsValuesInRangeAndDefaultsWhenAbsent) {
  const RequestTarget target = ParseOk("/r?limit=0&max=100&big=7");
  EXPECT_EQ(*IntParam(target, "absent", 42, 100), 42);
  EXPECT_EQ(*IntParam(target, "limit", 42, 100), 0);
  EXPECT_EQ(*IntParam(target, "max", 42, 100), 100);
  EXPECT_EQ(*IntParam(target, "big", 42, 7), 7);
}

TEST(IntParamTest, RejectsValuesOutOfRangeOrNotIntegers) {
  for (const char* value : {"101", "-1", "", "1x", "+1", "1.5", "99999999999999999999"}) {
    SCOPED_TRACE(value);
    RequestTarget target;
    target.params["limit"] = value;
    Result<int64_t> parsed = IntParam(target, "limit", 1, 100);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(parsed.status().message(), "limit must be an integer from 0 to 100");
  }
}

TEST(ParseWindowTest, ConvertsEachUnitToMilliseconds) {
  const std::vector<std::pair<std::string, int64_t>> cases = {
      {"1s", 1'000},
      {"90s", 90'000},
      {"5m", 300'000},
      {"2h", 7'200'000},
      {"30d", 2'592'000'000},
      {"1w", 604'800'000},
      {"36525d", 3'155'760'000'000},  // 100 years of 365.25 days: the largest window
      {"5217w", 5217 * 604'800'000LL},
  };
  for (const auto& [text, ms] : cases) {
    Result<int64_t> window = ParseWindow(text);
    ASSERT_TRUE(window.ok()) << text << ": " << window.status().message();
    EXPECT_EQ(*window, ms) << text;
  }
}

TEST(ParseWindowTest, RejectsZeroMissingOrUnknownUnitsAndHugeWindows) {
  for (const char* text : {"", "d", "0d", "-1d", "+1d", "30", "30y", "30D", "1.5h", " 1d", "1 d",
                           "36526d", "5218w", "9223372036854775807s", "99999999999999999999999d"}) {
    SCOPED_TRACE(text);
    Result<int64_t> window = ParseWindow(text);
    ASSERT_FALSE(window.ok());
    EXPECT_EQ(window.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(window.status().reason(), "invalid_request");
    EXPECT_THAT(window.status().message(), HasSubstr("e.g. 30d"));
  }
}

TEST(ParseQuantilesTest, ReadsOneToTwentyNumbersInZeroToOne) {
  Result<std::vector<double>> q = ParseQuantiles("0.5,0.95,0.99");
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_THAT(*q, ElementsAre(0.5, 0.95, 0.99));

  q = ParseQuantiles("0,1,1e-1");
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_THAT(*q, ElementsAre(0.0, 1.0, 0.1));

  std::string twenty = "0";
  for (int i = 1; i < 20; ++i) twenty += ",0.5";
  q = ParseQuantiles(twenty);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->size(), 20u);
  EXPECT_FALSE(ParseQuantiles(twenty + ",1").ok());
}

TEST(ParseQuantilesTest, RejectsAnythingElse) {
  for (const char* text : {"", ",", "0.5,", ",0.5", "0.5,,0.9", "1.01", "-0.1", "nan", "inf",
                           "0.5x", " 0.5", "0.5 ", "half"}) {
    SCOPED_TRACE(text);
    Result<std::vector<double>> q = ParseQuantiles(text);
    ASSERT_FALSE(q.ok());
    EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(q.status().reason(), "invalid_request");
    EXPECT_THAT(q.status().message(), HasSubstr("1 to 20 comma-separated numbers in [0, 1]"));
  }
}

}  // namespace
}  // namespace buildtrace
