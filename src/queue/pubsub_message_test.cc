// Pub/Sub message data and push envelopes: exact cases, including what Pub/Sub really sends.
#include "queue/pubsub_message.h"

#include <gtest/gtest.h>

namespace buildtrace {
namespace {

// base64 of {"project":"p","job_id":7}, as Pub/Sub carries it.
constexpr const char* kTaskData = "eyJwcm9qZWN0IjoicCIsImpvYl9pZCI6N30=";

TEST(PubSubMessageDataTest, EncodesAsPaddedStandardBase64) {
  EXPECT_EQ(EncodePubSubMessageData(AnalysisTask{"p", 7}), kTaskData);
  // Every padding length, and the characters that differ from base64url.
  EXPECT_EQ(EncodePubSubMessageData(AnalysisTask{"ab", 7}), "eyJwcm9qZWN0IjoiYWIiLCJqb2JfaWQiOjd9");
  EXPECT_EQ(EncodePubSubMessageData(AnalysisTask{"abc", 7}),
            "eyJwcm9qZWN0IjoiYWJjIiwiam9iX2lkIjo3fQ==");
}

TEST(PubSubMessageDataTest, DecodesWhatItEncodes) {
  for (const AnalysisTask& task : {AnalysisTask{"p", 7}, AnalysisTask{"ab", 1},
                                   AnalysisTask{"abc", 9'000'000'000'000'000'000}}) {
    Result<AnalysisTask> decoded = DecodePubSubMessageData(EncodePubSubMessageData(task));
    ASSERT_TRUE(decoded.ok()) << decoded.status().message();
    EXPECT_EQ(*decoded, task);
  }
}

TEST(PubSubMessageDataTest, RefusesWhatIsNotBase64) {
  for (const char* data : {"eyJwcm9qZWN0IjoicCIsImpvYl9pZCI6N30",   // padding left out
                           "eyJwcm9qZWN0IjoicCIsImpvYl9pZCI6N3=0",  // '=' inside
                           "eyJwcm9qZWN0IjoicCIsImpvYl9pZCI6N30===",
                           "eyJwcm9qZWN0IjoicCIsImpvYl9pZCI6N30-_",  // base64url
                           "eyJwcm9q ZWN0IjoicCIsImpvYl9pZCI6N30="}) {
    Result<AnalysisTask> decoded = DecodePubSubMessageData(data);
    ASSERT_FALSE(decoded.ok()) << data;
    EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(decoded.status().message(),
              "the Pub/Sub message data is not padded standard base64 (RFC 4648); publish tasks "
              "with the pubsub:// queue, which encodes them");
  }
}

TEST(PubSubMessageDataTest, RefusesBase64OfSomethingElse) {
  // "not a task"
  Result<AnalysisTask> decoded = DecodePubSubMessageData("bm90IGEgdGFzaw==");
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(decoded.status().message().starts_with(
      "the Pub/Sub message data: an analysis task must be {\"project\""))
      << decoded.status().message();
  // Empty data (Pub/Sub leaves the field out; the queue passes "").
  EXPECT_EQ(DecodePubSubMessageData("").status().code(), StatusCode::kInvalidArgument);
}

TEST(PubSubPushEnvelopeTest, ParsesTheDocumentedEnvelope) {
  // As Pub/Sub posts it, deliveryAttempt and the snake_case duplicates included.
  const std::string body = std::string(R"({
    "message": {
      "attributes": {"key": "value"},
      "data": ")") + kTaskData +
                           R"(",
      "messageId": "2070443601311540",
      "message_id": "2070443601311540",
      "publishTime": "2021-02-26T19:13:55.749Z",
      "publish_time": "2021-02-26T19:13:55.749Z"
    },
    "subscription": "projects/myproject/subscriptions/mysubscription",
    "deliveryAttempt": 2
  })";
  Result<AnalysisTask> task = ParsePubSubPushEnvelope(body);
  ASSERT_TRUE(task.ok()) << task.status().message();
  EXPECT_EQ(*task, (AnalysisTask{"p", 7}));
}

TEST(PubSubPushEnvelopeTest, RefusesAnythingElseSayingWhat) {
  const std::string shape =
      "a Pub/Sub push request must be {\"message\":{\"data\":\"<base64 task>\",...},"
      "\"subscription\":\"projects/P/subscriptions/S\"}; ";
  const std::string data = kTaskData;
  const std::string subscription = R"("subscription":"projects/p/subscriptions/s")";
  const std::pair<std::string, std::string> cases[] = {
      {"", "the body is not a JSON object (Empty: no JSON found)"},
      {"{\"message\":",
       "the body is not a JSON object (The JSON document has an improper "
       "structure: missing or superfluous commas, braces, missing keys, etc.)"},
      {"[]", "the body is not a JSON object (The JSON element does not have the requested type.)"},
      {R"({"message":{"data":")" + data + R"("}})", "\"subscription\" is missing or not a string"},
      {R"({"message":{"data":")" + data + R"("},"subscription":7})",
       "\"subscription\" is missing or not a string"},
      {R"({"message":{"data":")" + data + R"("},"subscription":"mysubscription"})",
       "\"subscription\" does not name a subscription"},
      {"{" + subscription + "}", "\"message\" is missing or not an object"},
      {R"({"message":"x",)" + subscription + "}", "\"message\" is missing or not an object"},
      {R"({"message":{"messageId":"1"},)" + subscription + "}",
       "\"message\" has no \"data\" string"},
      {R"({"message":{"data":null},)" + subscription + "}", "\"message\" has no \"data\" string"},
  };
  for (const auto& [body, why] : cases) {
    Result<AnalysisTask> task = ParsePubSubPushEnvelope(body);
    ASSERT_FALSE(task.ok()) << body;
    EXPECT_EQ(task.status().code(), StatusCode::kInvalidArgument) << body;
    EXPECT_EQ(task.status().message(), shape + why) << body;
  }
}

TEST(PubSubPushEnvelopeTest, DataThatIsNotATaskIsInvalid) {
  Result<AnalysisTask> task = ParsePubSubPushEnvelope(
      R"({"message":{"data":"bm90IGEgdGFzaw=="},"subscription":"projects/p/subscriptions/s"})");
  ASSERT_FALSE(task.ok());
  EXPECT_EQ(task.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(task.status().message().starts_with("the Pub/Sub message data: "))
      << task.status().message();
}

}  // namespace
}  // namespace buildtrace
