// The access log's pure parts: trace headers, request IDs, the token's redaction, and the access
// line's text and JSON members, value for value.
#include "http/request_log.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace buildtrace {
namespace {

constexpr std::string_view kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";

TEST(RequestLogTest, TraceparentGivesTraceAndSpan) {
  EXPECT_EQ(ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            (TraceContext{std::string(kTrace), "00f067aa0ba902b7"}));
  EXPECT_EQ(ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
            (TraceContext{std::string(kTrace), "00f067aa0ba902b7"}));
}

TEST(RequestLogTest, MalformedTraceparentIsRefused) {
  for (std::string_view bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",      // no flags
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  // too long
           "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // another version
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   // uppercase
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   // zero trace
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   // zero span
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",   // not hex
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // wrong separator
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\n",  // control character
       }) {
    EXPECT_EQ(ParseTraceparent(bad), std::nullopt) << bad;
  }
}

TEST(RequestLogTest, CloudTraceContextSpanBecomesSixteenHexDigits) {
  EXPECT_EQ(ParseCloudTraceContext("4bf92f3577b34da6a3ce929d0e0e4736/1;o=1"),
            (TraceContext{std::string(kTrace), "0000000000000001"}));
  EXPECT_EQ(ParseCloudTraceContext("4bf92f3577b34da6a3ce929d0e0e4736/67667974448284343;o=0"),
            (TraceContext{std::string(kTrace), "00f067aa0ba902b7"}));
  EXPECT_EQ(ParseCloudTraceContext("4BF92F3577B34DA6A3CE929D0E0E4736/18446744073709551615"),
            (TraceContext{std::string(kTrace), "ffffffffffffffff"}));
  // Span 0 names no span: the trace alone.
  EXPECT_EQ(ParseCloudTraceContext("4bf92f3577b34da6a3ce929d0e0e4736/0;o=1"),
            (TraceContext{std::string(kTrace), ""}));
}

TEST(RequestLogTest, MalformedCloudTraceContextIsRefused) {
  for (std::string_view bad : {
           "",
           "4bf92f3577b34da6a3ce929d0e0e4736",                            // no span
           "4bf92f3577b34da6a3ce929d0e0e4736/;o=1",                       // empty span
           "4bf92f3577b34da6a3ce929d0e0e473/1;o=1",                       // 31 hex digits
           "00000000000000000000000000000000/1;o=1",                      // zero trace
           "4bf92f3577b34da6a3ce929d0e0e4736/18446744073709551616",       // span over 2^64-1
           "4bf92f3577b34da6a3ce929d0e0e4736/-1;o=1",                     // negative
           "4bf92f3577b34da6a3ce929d0e0e4736/0x10;o=1",                   // not decimal
           "4bf92f3577b34da6a3ce929d0e0e4736/1;o=2",                      // bad option
           "4bf92f3577b34da6a3ce929d0e0e4736/1;o=1\"},\"severity\":\"x",  // injection
           "4bf92f3577b34da6a3ce929d0e0e473z/1;o=1",                      // not hex
       }) {
    EXPECT_EQ(ParseCloudTraceContext(bad), std::nullopt) << bad;
  }
}

TEST(RequestLogTest, TraceparentWinsWhenBothAreValid) {
  const std::string_view parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const std::string_view cloud = "4bf92f3577b34da6a3ce929d0e0e4736/1;o=1";
  EXPECT_EQ(ChooseTrace(parent, cloud),
            (TraceContext{"0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"}));
  EXPECT_EQ(ChooseTrace("garbage", cloud), (TraceContext{std::string(kTrace), "0000000000000001"}));
  EXPECT_EQ(ChooseTrace("", ""), std::nullopt);
  EXPECT_EQ(ChooseTrace("garbage", "garbage"), std::nullopt);
}

TEST(RequestLogTest, TraceResourceNamesTheProjectWhenKnown) {
  EXPECT_EQ(TraceResource("my-proj", kTrace),
            "projects/my-proj/traces/4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(TraceResource("", kTrace), kTrace);
}

TEST(RequestLogTest, SaneRequestIdsAreEchoedOthersReplaced) {
  EXPECT_TRUE(IsSaneRequestId("a"));
  EXPECT_TRUE(IsSaneRequestId("req-42_abc.DEF:/~!"));
  EXPECT_TRUE(IsSaneRequestId(std::string(128, 'x')));
  EXPECT_FALSE(IsSaneRequestId(""));
  EXPECT_FALSE(IsSaneRequestId(std::string(129, 'x')));
  EXPECT_FALSE(IsSaneRequestId("a b"));
  EXPECT_FALSE(IsSaneRequestId("a\tb"));
  EXPECT_FALSE(IsSaneRequestId("a\x7f"));
  EXPECT_FALSE(IsSaneRequestId("caf\xc3\xa9"));
  EXPECT_EQ(ChooseRequestId("req-42"), "req-42");
  const std::string fresh = ChooseRequestId("a b");
  EXPECT_EQ(fresh.size(), 32u);
  EXPECT_EQ(fresh.find_first_not_of("0123456789abcdef"), std::string::npos) << fresh;
}

TEST(RequestLogTest, NewRequestIdsAre32HexDigitsAndDiffer) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewRequestId();
    ASSERT_EQ(id.size(), 32u);
    ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(RequestLogTest, TokenIsRedactedAndControlCharactersReplaced) {
  EXPECT_EQ(LoggableTarget("/push?token=s3cret&x=1"), "/push?token=REDACTED&x=1");
  EXPECT_EQ(LoggableTarget("/push?a=1&token=s3cret"), "/push?a=1&token=REDACTED");
  EXPECT_EQ(LoggableTarget("/push?mytoken=keep"), "/push?mytoken=keep");
  EXPECT_EQ(LoggableTarget("/token=keep"), "/token=keep");
  EXPECT_EQ(LoggableTarget("/a\nb"), "/a?b");
  EXPECT_EQ(LoggableTarget(std::string(300, 'a')), std::string(200, 'a'));
}

AccessRecord Sample() {
  AccessRecord record;
  record.method = "GET";
  record.url = "/report/1?token=REDACTED";
  record.status = 200;
  record.response_bytes = 7;
  record.latency = std::chrono::microseconds(12'345);
  record.user_agent = "curl/7.88 \"quoted\"";
  record.remote_ip = "127.0.0.1";
  record.protocol = "HTTP/1.1";
  record.request_id = "req-1";
  return record;
}

TEST(RequestLogTest, AccessMessageIsTheFamiliarLine) {
  EXPECT_EQ(AccessMessage(Sample()), "GET /report/1?token=REDACTED 200 7B 12.3ms");
}

TEST(RequestLogTest, AccessJsonMembersWithoutTrace) {
  EXPECT_EQ(AccessJsonMembers(Sample(), "my-proj"),
            R"("requestId":"req-1","httpRequest":{"requestMethod":"GET",)"
            R"("requestUrl":"/report/1?token=REDACTED","status":200,"responseSize":"7",)"
            R"("userAgent":"curl/7.88 \"quoted\"","remoteIp":"127.0.0.1","latency":"0.012345s",)"
            R"("protocol":"HTTP/1.1"})");
}

TEST(RequestLogTest, AccessJsonMembersWithTrace) {
  AccessRecord record = Sample();
  record.latency = std::chrono::microseconds(2'000'001);
  record.remote_ip = "";
  record.trace = TraceContext{std::string(kTrace), "00f067aa0ba902b7"};
  EXPECT_EQ(
      AccessJsonMembers(record, "my-proj"),
      R"("requestId":"req-1","httpRequest":{"requestMethod":"GET",)"
      R"("requestUrl":"/report/1?token=REDACTED","status":200,"responseSize":"7",)"
      R"("userAgent":"curl/7.88 \"quoted\"","latency":"2.000001s","protocol":"HTTP/1.1"},)"
      R"("logging.googleapis.com/trace":"projects/my-proj/traces/)"
      R"(4bf92f3577b34da6a3ce929d0e0e4736","logging.googleapis.com/spanId":"00f067aa0ba902b7")");
  record.trace->span_id = "";
  EXPECT_EQ(AccessJsonMembers(record, "").substr(AccessJsonMembers(record, "").rfind(",\"")),
            R"(,"logging.googleapis.com/trace":"4bf92f3577b34da6a3ce929d0e0e4736")");
}

}  // namespace
}  // namespace buildtrace
