// The log line's two formats, through the test sink: JSON with the caller's extra members in the
// same object, text without them, and the level filter.
#include "service/log.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

namespace buildtrace {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogSinkForTest([this](std::string_view line) { lines_.emplace_back(line); });
  }
  void TearDown() override {
    SetLogSinkForTest({});
    SetLogFormat(LogFormat::kText);
    SetLogLevel(LogLevel::kInfo);
  }
  // The only line logged, its time replaced by T.
  std::string OnlyLine() {
    EXPECT_EQ(lines_.size(), 1u);
    if (lines_.empty()) return "";
    std::string line =
        std::regex_replace(lines_[0], std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"), "T");
    return line;
  }
  std::vector<std::string> lines_;
};

TEST_F(LogTest, JsonRecordCarriesTheExtraMembers) {
  SetLogFormat(LogFormat::kJson);
  LogRecord(LogLevel::kWarning, "say \"hi\"\n", R"("requestId":"r1","httpRequest":{"status":200})");
  EXPECT_EQ(OnlyLine(), R"({"severity":"WARNING","message":"say \"hi\"\n","time":"T",)"
                        R"("requestId":"r1","httpRequest":{"status":200}})"
                        "\n");
}

TEST(LogTimestampTest, AlwaysHasMilliseconds) {
  EXPECT_EQ(LogTimestamp(1764324000000), "2025-11-28T10:00:00.000Z");
  EXPECT_EQ(LogTimestamp(1764324000007), "2025-11-28T10:00:00.007Z");
  EXPECT_EQ(LogTimestamp(1764324000123), "2025-11-28T10:00:00.123Z");
}

TEST_F(LogTest, JsonWithoutExtrasIsTheThreeFields) {
  SetLogFormat(LogFormat::kJson);
  LogError("boom");
  EXPECT_EQ(OnlyLine(), "{\"severity\":\"ERROR\",\"message\":\"boom\",\"time\":\"T\"}\n");
}

TEST_F(LogTest, TextLeavesTheExtrasOut) {
  EXPECT_EQ(GetLogFormat(), LogFormat::kText);
  LogRecord(LogLevel::kInfo, "GET / 200 2B 0.1ms", R"("requestId":"r1")");
  EXPECT_EQ(OnlyLine(), "T INFO GET / 200 2B 0.1ms\n");
}

TEST_F(LogTest, LinesBelowTheLevelAreDropped) {
  SetLogLevel(LogLevel::kWarning);
  LogRecord(LogLevel::kInfo, "dropped", "");
  LogWarning("kept");
  EXPECT_EQ(OnlyLine(), "T WARN kept\n");
}

}  // namespace
}  // namespace buildtrace
