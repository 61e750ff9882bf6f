// Tests of RFC 3339 parsing (every field's range, leap years, offsets) and UTC formatting.
#include "core/timestamp.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

namespace buildtrace {
namespace {

TEST(ParseRfc3339Test, EpochAndAKnownInstant) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), std::optional<int64_t>(0));
  EXPECT_EQ(ParseRfc3339("2026-11-28T10:00:00Z"), std::optional<int64_t>(1795860000000));
  EXPECT_EQ(ParseRfc3339("1969-12-31T23:59:59Z"), std::optional<int64_t>(-1000));
}

TEST(ParseRfc3339Test, OffsetsAreSubtracted) {
  EXPECT_EQ(ParseRfc3339("2026-11-28T10:00:00+00:00"), std::optional<int64_t>(1795860000000));
  EXPECT_EQ(ParseRfc3339("2026-11-28T12:00:00+02:00"), std::optional<int64_t>(1795860000000));
  EXPECT_EQ(ParseRfc3339("2026-11-28T04:30:00-05:30"), std::optional<int64_t>(1795860000000));
  EXPECT_EQ(ParseRfc3339("2026-11-28T10:00:00-00:00"), std::optional<int64_t>(1795860000000));
  EXPECT_EQ(ParseRfc3339("2000-02-29T12:34:56-05:30"), std::optional<int64_t>(951847496000));
  EXPECT_EQ(ParseRfc3339("2026-11-29T09:59:00+23:59"), std::optional<int64_t>(1795860000000));
}

TEST(ParseRfc3339Test, LowerCaseLettersAndSpaceSeparator) {
  EXPECT_EQ(ParseRfc3339("2026-11-28t10:00:00z"), std::optional<int64_t>(1795860000000));
  EXPECT_EQ(ParseRfc3339("2026-11-28 10:00:00Z"), std::optional<int64_t>(1795860000000));
}

TEST(ParseRfc3339Test, FractionsAreTruncatedToMilliseconds) {
  EXPECT_EQ(ParseRfc3339("2026-11-28T10:00:00.250+02:00"), std::optional<int64_t>(1795852800250));
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00.1Z"), std::optional<int64_t>(100));
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00.12Z"), std::optional<int64_t>(120));
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00.123456789Z"), std::optional<int64_t>(123));
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00.999999Z"), std::optional<int64_t>(999));
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00.000Z"), std::optional<int64_t>(0));
  EXPECT_EQ(ParseRfc3339("1969-12-31T23:59:59.5Z"), std::optional<int64_t>(-500));
}

TEST(ParseRfc3339Test, LeapDays) {
  EXPECT_EQ(ParseRfc3339("2024-02-29T00:00:00Z"), std::optional<int64_t>(1709164800000));
  EXPECT_TRUE(ParseRfc3339("2000-02-29T00:00:00Z"));  // divisible by 400
  EXPECT_FALSE(ParseRfc3339("2023-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("1900-02-29T00:00:00Z"));  // divisible by 100, not by 400
  EXPECT_FALSE(ParseRfc3339("2024-02-30T00:00:00Z"));
  EXPECT_TRUE(ParseRfc3339("2023-02-28T00:00:00Z"));
}

TEST(ParseRfc3339Test, DaysPerMonth) {
  EXPECT_TRUE(ParseRfc3339("2026-01-31T00:00:00Z"));
  EXPECT_TRUE(ParseRfc3339("2026-12-31T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2026-04-31T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2026-06-31T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2026-09-31T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2026-11-31T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2026-01-32T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2026-01-00T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2026-00-10T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2026-13-10T00:00:00Z"));
}

TEST(ParseRfc3339Test, TimeFieldRanges) {
  EXPECT_TRUE(ParseRfc3339("2026-11-28T23:59:59Z"));
  EXPECT_FALSE(ParseRfc3339("2026-11-28T24:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("2026-11-28T10:60:00Z"));
  EXPECT_FALSE(ParseRfc3339("2026-11-28T10:00:61Z"));
  // A leap second counts as the start of the next second.
  EXPECT_EQ(ParseRfc3339("2016-12-31T23:59:60Z"), std::optional<int64_t>(1483228800000));
}

TEST(ParseRfc3339Test, YearRange) {
  EXPECT_EQ(ParseRfc3339("0001-01-01T00:00:00Z"), std::optional<int64_t>(-62135596800000));
  EXPECT_EQ(ParseRfc3339("9999-12-31T23:59:59.999Z"), std::optional<int64_t>(253402300799999));
  EXPECT_FALSE(ParseRfc3339("0000-01-01T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("-001-01-01T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("10000-01-01T00:00:00Z"));
}

TEST(ParseRfc3339Test, RequiresAnOffset) {
  EXPECT_FALSE(ParseRfc3339("2026-11-28T10:00:00"));
  EXPECT_FALSE(ParseRfc3339("2026-11-28T10:00:00.250"));
}

TEST(ParseRfc3339Test, RejectsMalformedOffsets) {
  for (const char* text :
       {"2026-11-28T10:00:00+0200", "2026-11-28T10:00:00+02", "2026-11-28T10:00:00+2:00",
        "2026-11-28T10:00:00+24:00", "2026-11-28T10:00:00+02:60", "2026-11-28T10:00:00 Z",
        "2026-11-28T10:00:00UTC", "2026-11-28T10:00:00ZZ", "2026-11-28T10:00:00Z ",
        "2026-11-28T10:00:00+02:00Z"}) {
    EXPECT_FALSE(ParseRfc3339(text)) << text;
  }
}

TEST(ParseRfc3339Test, RejectsOtherShapes) {
  for (const char* text :
       {"", "2026-11-28", "2026-11-28T10:00Z", "2026-11-28T10:00:00.Z", "2026-11-28T10:00:00,5Z",
        "20261128T100000Z", "2026/11/28T10:00:00Z", "2026-11-28X10:00:00Z", " 2026-11-28T10:00:00Z",
        "2026-1-28T10:00:00Z", "2026-11-28T1:00:00Z", "2026-11-28T10:00:0aZ",
        "2026-11-28T10:00:00.2a5Z"}) {
    EXPECT_FALSE(ParseRfc3339(text)) << text;
  }
}

TEST(FormatRfc3339UtcTest, WholeSecondsHaveNoFraction) {
  EXPECT_EQ(FormatRfc3339Utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Utc(1795860000000), "2026-11-28T10:00:00Z");
  EXPECT_EQ(FormatRfc3339Utc(1709164800000), "2024-02-29T00:00:00Z");
}

TEST(FormatRfc3339UtcTest, MillisecondsHaveThreeDigits) {
  EXPECT_EQ(FormatRfc3339Utc(250), "1970-01-01T00:00:00.250Z");
  EXPECT_EQ(FormatRfc3339Utc(1795852800250), "2026-11-28T08:00:00.250Z");
  EXPECT_EQ(FormatRfc3339Utc(5), "1970-01-01T00:00:00.005Z");
}

TEST(FormatRfc3339UtcTest, BeforeTheEpoch) {
  EXPECT_EQ(FormatRfc3339Utc(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Utc(-1000), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339Utc(-86400000), "1969-12-31T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Utc(-62135596800000), "0001-01-01T00:00:00Z");
}

TEST(FormatRfc3339UtcTest, RoundTripsThroughParse) {
  for (const char* text : {"2024-02-29T23:59:59.500+01:00", "9999-12-31T23:59:59.999Z",
                           "2000-03-01T00:00:00-00:01", "1999-12-31T23:59:59.001+00:00"}) {
    const std::optional<int64_t> ms = ParseRfc3339(text);
    ASSERT_TRUE(ms) << text;
    EXPECT_EQ(ParseRfc3339(FormatRfc3339Utc(*ms)), ms) << text;
  }
  EXPECT_EQ(FormatRfc3339Utc(*ParseRfc3339("2024-02-29T23:59:59.5+01:00")),
            "2024-02-29T22:59:59.500Z");
  EXPECT_EQ(FormatRfc3339Utc(*ParseRfc3339("2000-03-01T00:00:00+00:01")), "2000-02-29T23:59:00Z");
}

}  // namespace
}  // namespace buildtrace
