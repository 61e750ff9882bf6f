// Tests of the stored form of a job: exact bytes, and the round trip through ParseJobDocument
// (same job, and the same bytes when written again), including escaped and non-ASCII keys.
#include "core/job_writer.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/job_parser.h"

namespace buildtrace {
namespace {

std::unique_ptr<ParsedJobs> ParseOk(std::string_view text) {
  simdjson::padded_string padded(text);
  Result<std::unique_ptr<ParsedJobs>> r = ParseJobDocument(padded, ParseLimits{});
  EXPECT_TRUE(r.ok()) << r.status().message() << "\n" << text;
  if (!r.ok()) return nullptr;
  EXPECT_EQ(r.value()->jobs().size(), 1u);
  return std::move(r).value();
}

// Serialize, parse, serialize again: the second text must equal the first.
std::string ExpectStableRoundTrip(const Job& job) {
  const std::string first = SerializeJob(job);
  std::unique_ptr<ParsedJobs> parsed = ParseOk(first);
  if (!parsed) return first;
  EXPECT_EQ(SerializeJob(parsed->jobs().front()), first);
  return first;
}

TEST(AppendStateJsonTest, EmptyAndMixedStates) {
  std::string out;
  AppendStateJson({}, out);
  EXPECT_EQ(out, "{}");
  out = "x";
  const JobState state = {{"b", "door_1_2_3_4", false}, {"a", R"({"type":"door"})", true}};
  AppendStateJson(state, out);
  EXPECT_EQ(out, R"(x{"b":"door_1_2_3_4","a":{"type":"door"}})");
}

TEST(SerializeJobTest, ExactBytesOfADefaultJob) {
  Job job;
  job.header.job_id = 7;
  job.header.timestamp = "2026-11-28T10:00:00Z";
  job.header.latency_ms = 5.5;
  EXPECT_EQ(SerializeJob(job),
            R"({"job_id":7,"project":"default","timestamp":"2026-11-28T10:00:00Z",)"
            R"("latency_ms":5.5,"status":"succeeded","metadata":{},"state":{}})"
            "\n");
}

TEST(SerializeJobTest, ExactBytesWithEveryField) {
  Job job;
  job.header.job_id = INT64_MAX;
  job.header.project = "web";
  job.header.timestamp = "2026-11-28t10:00:00.250+02:00";
  job.header.latency_ms = 1e20;
  job.header.status = JobStatus::kFailed;
  job.header.metadata = {{"z", "last"}, {"a", "first"}};
  job.state = {{"D2", "door_1_2_3_4", false}, {"D1", R"({"type":"door","x":1})", true}};
  EXPECT_EQ(SerializeJob(job),
            R"({"job_id":9223372036854775807,"project":"web",)"
            R"("timestamp":"2026-11-28t10:00:00.250+02:00","latency_ms":1e+20,"status":"failed",)"
            R"("metadata":{"z":"last","a":"first"},)"
            R"("state":{"D2":"door_1_2_3_4","D1":{"type":"door","x":1}}})"
            "\n");
}

TEST(SerializeJobTest, ParsesBackToTheSameJob) {
  Job job;
  job.header.job_id = 42;
  job.header.project = "p-1";
  job.header.timestamp = "2024-02-29T23:59:59.5+01:00";
  job.header.latency_ms = 0.1;
  job.header.status = JobStatus::kFailed;
  job.header.metadata = {{"branch", "main"}};
  job.state = {{"b", "h2", false}, {"a", R"({"tags":["x"],"type":"door"})", true}};
  std::unique_ptr<ParsedJobs> parsed = ParseOk(SerializeJob(job));
  ASSERT_TRUE(parsed);
  const Job& back = parsed->jobs().front();
  EXPECT_EQ(back.header.job_id, 42);
  EXPECT_EQ(back.header.project, "p-1");
  EXPECT_EQ(back.header.timestamp, "2024-02-29T23:59:59.5+01:00");
  EXPECT_EQ(back.header.timestamp_ms, 1709247599500);
  EXPECT_EQ(back.header.latency_ms, 0.1);
  EXPECT_EQ(back.header.status, JobStatus::kFailed);
  EXPECT_EQ(back.header.metadata, job.header.metadata);
  ASSERT_EQ(back.state.size(), 2u);
  EXPECT_EQ(back.state[0].id, "b");
  EXPECT_EQ(back.state[0].value, "h2");
  EXPECT_FALSE(back.state[0].structured);
  EXPECT_EQ(back.state[1].id, "a");
  EXPECT_EQ(back.state[1].value, R"({"tags":["x"],"type":"door"})");
  EXPECT_TRUE(back.state[1].structured);
}

TEST(SerializeJobTest, EscapedAndNonAsciiKeysRoundTripExactly) {
  // A client body with escapes; the parsed IDs are raw bytes, the stored form escapes only
  // what JSON requires.
  const std::string body =
      R"({"job_id":3,"timestamp":"2026-11-28T10:00:00Z","latency_ms":1,)"
      R"("metadata":{"k\u00e9y":"v\"al\\ue","tab\tkey":"\u0001"},)"
      R"("state":{"\u00e9":"h\u00e9","a\"b":"x\\y","\ud83d\ude00":"door_1_2_3_4",)"
      R"("nul\u0000id":"\n","\/slash":{"\u00e9":"\ud83d\ude00","k\"":[1.50,"\u001f"]}}})";
  std::unique_ptr<ParsedJobs> parsed = ParseOk(body);
  ASSERT_TRUE(parsed);
  const Job& job = parsed->jobs().front();
  ASSERT_EQ(job.state.size(), 5u);
  EXPECT_EQ(job.state[0].id, "\xc3\xa9");
  EXPECT_EQ(job.state[0].value, "h\xc3\xa9");
  EXPECT_EQ(job.state[1].id, "a\"b");
  EXPECT_EQ(job.state[1].value, "x\\y");
  EXPECT_EQ(job.state[2].id, "\xf0\x9f\x98\x80");
  EXPECT_EQ(job.state[3].id, std::string_view("nul\0id", 6));
  EXPECT_EQ(job.state[3].value, "\n");
  EXPECT_EQ(job.state[4].id, "/slash");
  EXPECT_EQ(job.state[4].value, "{\"k\\\"\":[1.5,\"\\u001f\"],\"\xc3\xa9\":\"\xf0\x9f\x98\x80\"}");
  ASSERT_EQ(job.header.metadata.size(), 2u);
  EXPECT_EQ(job.header.metadata[0].first, "k\xc3\xa9y");
  EXPECT_EQ(job.header.metadata[0].second, "v\"al\\ue");
  EXPECT_EQ(job.header.metadata[1].first, "tab\tkey");
  EXPECT_EQ(job.header.metadata[1].second, "\x01");

  const std::string stored = SerializeJob(job);
  EXPECT_EQ(stored,
            "{\"job_id\":3,\"project\":\"default\",\"timestamp\":\"2026-11-28T10:00:00Z\","
            "\"latency_ms\":1,\"status\":\"succeeded\","
            "\"metadata\":{\"k\xc3\xa9y\":\"v\\\"al\\\\ue\",\"tab\\tkey\":\"\\u0001\"},"
            "\"state\":{\"\xc3\xa9\":\"h\xc3\xa9\",\"a\\\"b\":\"x\\\\y\","
            "\"\xf0\x9f\x98\x80\":\"door_1_2_3_4\",\"nul\\u0000id\":\"\\n\","
            "\"/slash\":{\"k\\\"\":[1.5,\"\\u001f\"],\"\xc3\xa9\":\"\xf0\x9f\x98\x80\"}}}\n");

  std::unique_ptr<ParsedJobs> again = ParseOk(stored);
  ASSERT_TRUE(again);
  const Job& job2 = again->jobs().front();
  ASSERT_EQ(job2.state.size(), job.state.size());
  for (size_t i = 0; i < job.state.size(); ++i) {
    EXPECT_EQ(job2.state[i].id, job.state[i].id) << i;
    EXPECT_EQ(job2.state[i].value, job.state[i].value) << i;
    EXPECT_EQ(job2.state[i].structured, job.state[i].structured) << i;
  }
  EXPECT_EQ(job2.header.metadata, job.header.metadata);
  EXPECT_EQ(SerializeJob(job2), stored);
}

TEST(SerializeJobTest, RoundTripIsByteIdentical) {
  Job job;
  job.header.job_id = 1;
  job.header.timestamp = "2026-11-28T10:00:00Z";
  for (double latency : {0.0, 0.1, 812.5, 1e20, 123456789.125, 1e-7}) {
    job.header.latency_ms = latency;
    ExpectStableRoundTrip(job);
  }
  job.header.metadata = {{"\xf0\x9f\x98\x80", "\x7f"}, {"q\"", "\\"}};
  job.state = {{"\x1f", "\x01", false}, {"x", R"({"n":1e+20,"s":"\u0000"})", true}};
  ExpectStableRoundTrip(job);
}

TEST(SerializeJobTest, ParsedClientJobIsStableAfterOneWrite) {
  // Numbers and key order inside structured objects are normalised on the first parse.
  std::unique_ptr<ParsedJobs> parsed = ParseOk(
      R"({ "state" : { "o" : { "y" : 2.0, "x" : 1e1 , "w":-0} }, "latency_ms" : 5.0,
           "timestamp" : "2026-11-28T10:00:00Z", "job_id" : 9, "project": "p" })");
  ASSERT_TRUE(parsed);
  const std::string stored = ExpectStableRoundTrip(parsed->jobs().front());
  EXPECT_EQ(stored,
            R"({"job_id":9,"project":"p","timestamp":"2026-11-28T10:00:00Z","latency_ms":5,)"
            R"("status":"succeeded","metadata":{},"state":{"o":{"w":0,"x":10,"y":2}}})"
            "\n");
}

std::string Joined(const SerializedJob& pieces) {
  return pieces.head + std::string(pieces.state) + std::string(kJobEnd);
}

TEST(SerializeJobPiecesTest, KeepsTheClientsStateBytesWithoutACopy) {
  std::unique_ptr<ParsedJobs> parsed = ParseOk(
      R"({"job_id":3,"timestamp":"2026-11-28T10:00:00Z","latency_ms":1,"metadata":{"k":"v"},)"
      R"("state":{"a":"door_1_2_3_4","b":"x"}})");
  ASSERT_TRUE(parsed);
  const Job& job = parsed->jobs().front();
  ASSERT_FALSE(job.state_json.empty());  // a flat state: the parser kept its bytes
  const SerializedJob pieces = SerializeJobPieces(job);
  EXPECT_EQ(pieces.state.data(), job.state_json.data());
  EXPECT_EQ(pieces.state.size(), job.state_json.size());
  EXPECT_EQ(pieces.head, R"({"job_id":3,"project":"default","timestamp":"2026-11-28T10:00:00Z",)"
                         R"("latency_ms":1,"status":"succeeded","metadata":{"k":"v"},"state":)");
  EXPECT_EQ(Joined(pieces), SerializeJob(job));
}

TEST(SerializeJobPiecesTest, EmptyStateAndEscapedMetadata) {
  std::unique_ptr<ParsedJobs> parsed =
      ParseOk(R"({"job_id":5,"timestamp":"2026-11-28T10:00:00Z","latency_ms":2,)"
              R"("metadata":{"q\"":"\u00e9\n"},"state":{}})");
  ASSERT_TRUE(parsed);
  const SerializedJob pieces = SerializeJobPieces(parsed->jobs().front());
  EXPECT_EQ(Joined(pieces), R"({"job_id":5,"project":"default","timestamp":"2026-11-28T10:00:00Z",)"
                            R"("latency_ms":2,"status":"succeeded","metadata":{"q\"":")"
                            "\xc3\xa9"
                            R"(\n"},"state":{}})"
                            "\n");
}

TEST(SerializeJobPiecesTest, WritesAStateWithoutClientBytesIntoTheHead) {
  Job job;
  job.header.job_id = 4;
  job.header.timestamp = "2026-11-28T10:00:00Z";
  job.state = {{"b", "door_1_2_3_4", false}, {"a", R"({"type":"door"})", true}};
  const SerializedJob pieces = SerializeJobPieces(job);
  EXPECT_TRUE(pieces.state.empty());
  EXPECT_EQ(Joined(pieces), R"({"job_id":4,"project":"default","timestamp":"2026-11-28T10:00:00Z",)"
                            R"("latency_ms":0,"status":"succeeded","metadata":{},)"
                            R"("state":{"b":"door_1_2_3_4","a":{"type":"door"}}})"
                            "\n");
}

}  // namespace
}  // namespace buildtrace
