// Tests of job parsing and validation: every rule of the API, the exact error (reason, job index,
// field, message), all-or-nothing batches, malformed JSON and the configurable limits.
#include "core/job_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/flat_state.h"

namespace buildtrace {
namespace {

using ::testing::ElementsAre;
using ::testing::StartsWith;

using Parsed = Result<std::unique_ptr<ParsedJobs>>;

// The body lives only during the call, as in the service; the jobs must not point into it.
Parsed Batch(std::string_view body, const ParseLimits& limits = {}) {
  auto padded = std::make_unique<simdjson::padded_string>(body);
  return ParseJobBatch(*padded, limits);
}

Parsed Document(std::string_view body, const ParseLimits& limits = {}) {
  auto padded = std::make_unique<simdjson::padded_string>(body);
  return ParseJobDocument(*padded, limits);
}

constexpr std::string_view kHeader =
    R"("job_id":7,"timestamp":"2026-11-28T10:00:00Z","latency_ms":5)";

// A valid job with `extra` fields appended (each starting with a comma).
std::string JobWith(std::string_view extra, std::string_view state = "{}") {
  return "{" + std::string(kHeader) + R"(,"state":)" + std::string(state) + std::string(extra) +
         "}";
}

// A valid job whose field `name` is `value` (replacing the default when there is one).
std::string JobWithField(const std::string& name, const std::string& value) {
  std::string job_id = "7", timestamp = R"("2026-11-28T10:00:00Z")", latency = "5", state = "{}";
  std::string extra;
  if (name == "job_id")
    job_id = value;
  else if (name == "timestamp")
    timestamp = value;
  else if (name == "latency_ms")
    latency = value;
  else if (name == "state")
    state = value;
  else
    extra = ",\"" + name + "\":" + value;
  return R"({"job_id":)" + job_id + R"(,"timestamp":)" + timestamp + R"(,"latency_ms":)" + latency +
         R"(,"state":)" + state + extra + "}";
}

const Job& OnlyJob(const Parsed& r) {
  EXPECT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()->jobs().size(), 1u);
  return r.value()->jobs().front();
}

StatusDetail Detail(std::optional<int64_t> index, std::string field, std::string message) {
  return StatusDetail{index, std::move(field), std::move(message)};
}

// Expects an invalid_job error whose details are exactly `details`.
void ExpectInvalid(const Parsed& r, const std::vector<StatusDetail>& details) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().reason(), "invalid_job");
  ASSERT_EQ(r.status().details().size(), details.size()) << r.status().message();
  for (size_t i = 0; i < details.size(); ++i) {
    const StatusDetail& got = r.status().details()[i];
    EXPECT_EQ(got.index, details[i].index) << "detail " << i << ": " << got.message;
    EXPECT_EQ(got.field, details[i].field) << "detail " << i;
    EXPECT_EQ(got.message, details[i].message) << "detail " << i;
  }
}

void ExpectOneProblem(const Parsed& r, std::optional<int64_t> index, const std::string& field,
                      const std::string& message) {
  ExpectInvalid(r, {Detail(index, field, message)});
}

void ExpectMalformed(const Parsed& r) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().reason(), "malformed_json") << r.status().message();
  EXPECT_THAT(r.status().message(), StartsWith("the body is not valid JSON ("));
  EXPECT_TRUE(r.status().details().empty());
}

const char kJobIdMessage[] = "must be an integer from 1 to 9223372036854775807";
const char kProjectMessage[] =
    "must be 1-128 characters of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit";
const char kTimestampMessage[] =
    "must be an RFC 3339 date-time with an offset, e.g. \"2026-11-28T10:00:00Z\"";
const char kLatencyMessage[] = "must be a number of milliseconds >= 0";
const char kStatusMessage[] = "must be \"succeeded\" or \"failed\"";
const char kUnknownFieldMessage[] =
    "unknown field; the fields of a job are job_id, project, timestamp, latency_ms, status, "
    "metadata, state";

// ---- Accepted jobs ----

TEST(JobParserTest, AcceptsTheDesignFormatAsIs) {
  Parsed r = Batch(R"({"job_id": 124, "timestamp": "2026-11-28T10:00:00Z", "latency_ms": 812.5,
                       "state": {"D003": "door_10_20_5_5", "W001": "sha256:ab"}})");
  const Job& job = OnlyJob(r);
  EXPECT_EQ(job.header.job_id, 124);
  EXPECT_EQ(job.header.project, "default");
  EXPECT_EQ(job.header.timestamp, "2026-11-28T10:00:00Z");
  EXPECT_EQ(job.header.timestamp_ms, 1795860000000);
  EXPECT_EQ(job.header.latency_ms, 812.5);
  EXPECT_EQ(job.header.status, JobStatus::kSucceeded);
  EXPECT_TRUE(job.header.metadata.empty());
  ASSERT_EQ(job.state.size(), 2u);
  EXPECT_EQ(job.state[0].id, "D003");
  EXPECT_EQ(job.state[0].value, "door_10_20_5_5");
  EXPECT_FALSE(job.state[0].structured);
  EXPECT_EQ(job.state[1].id, "W001");
  EXPECT_EQ(job.state[1].value, "sha256:ab");
  EXPECT_FALSE(job.state[1].structured);
}

TEST(JobParserTest, AcceptsEveryOptionalField) {
  Parsed r = Batch(R"({"status":"failed","metadata":{"branch":"main","commit":"abc"},
                       "state":{"b":"2","a":"1"},"project":"web.app_2-x","latency_ms":0,
                       "timestamp":"2026-11-28t10:00:00.250+02:00","job_id":9})");
  const Job& job = OnlyJob(r);
  EXPECT_EQ(job.header.job_id, 9);
  EXPECT_EQ(job.header.project, "web.app_2-x");
  EXPECT_EQ(job.header.timestamp, "2026-11-28t10:00:00.250+02:00");  // as the client wrote it
  EXPECT_EQ(job.header.timestamp_ms, 1795852800250);
  EXPECT_EQ(job.header.latency_ms, 0);
  EXPECT_EQ(job.header.status, JobStatus::kFailed);
  using Entry = std::pair<std::string, std::string>;
  EXPECT_THAT(job.header.metadata, ElementsAre(Entry{"branch", "main"}, Entry{"commit", "abc"}));
  ASSERT_EQ(job.state.size(), 2u);  // in the client's order
  EXPECT_EQ(job.state[0].id, "b");
  EXPECT_EQ(job.state[1].id, "a");
}

TEST(JobParserTest, AcceptsAnArrayOfJobsInOrder) {
  Parsed r = Batch("[" + JobWithField("job_id", "3") + "," + JobWithField("job_id", "1") + "," +
                   JobWithField("status", R"("failed")") + "]");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r.value()->jobs().size(), 3u);
  EXPECT_EQ(r.value()->jobs()[0].header.job_id, 3);
  EXPECT_EQ(r.value()->jobs()[1].header.job_id, 1);
  EXPECT_EQ(r.value()->jobs()[2].header.job_id, 7);
  EXPECT_EQ(r.value()->jobs()[2].header.status, JobStatus::kFailed);
}

TEST(JobParserTest, EmptyStateIsAllowed) { EXPECT_TRUE(OnlyJob(Batch(JobWith(""))).state.empty()); }

TEST(JobParserTest, EscapedTopLevelKeysNameTheSameFields) {
  Parsed r = Batch(
      R"({"job\u005fid":5,"timestamp":"2026-11-28T10:00:00Z","latency_ms":1,"st\u0061te":{}})");
  const Job& job = OnlyJob(r);
  EXPECT_EQ(job.header.job_id, 5);
}

TEST(JobParserTest, DocumentAcceptsOneObjectAndRejectsAnArray) {
  EXPECT_EQ(OnlyJob(Document(JobWith(""))).header.job_id, 7);
  ExpectOneProblem(Document("[" + JobWith("") + "]"), std::nullopt, "",
                   "the document must be a job object");
}

// ---- job_id ----

TEST(JobParserTest, JobIdRange) {
  EXPECT_EQ(OnlyJob(Batch(JobWithField("job_id", "1"))).header.job_id, 1);
  EXPECT_EQ(OnlyJob(Batch(JobWithField("job_id", "9223372036854775807"))).header.job_id, INT64_MAX);
  for (const char* bad : {"0", "-1", "-0", "1.5", "1.0", R"("7")", "9223372036854775808",
                          "18446744073709551616", "null", "true", "[1]", "{}"}) {
    ExpectOneProblem(Batch(JobWithField("job_id", bad)), 0, "job_id", kJobIdMessage);
  }
}

// ---- project ----

TEST(JobParserTest, ProjectNames) {
  EXPECT_EQ(OnlyJob(Batch(JobWithField("project", R"("a")"))).header.project, "a");
  EXPECT_EQ(OnlyJob(Batch(JobWithField("project", R"("9.A_b-c")"))).header.project, "9.A_b-c");
  const std::string longest(128, 'p');
  EXPECT_EQ(OnlyJob(Batch(JobWithField("project", "\"" + longest + "\""))).header.project, longest);
  for (const std::string& bad : std::vector<std::string>{
           R"("")", R"("_x")", R"(".x")", R"("-x")", R"("a b")", R"("a/b")", "\"\xc3\xa9\"",
           R"("a\u0000")", "5", "null", "\"" + std::string(129, 'p') + "\""}) {
    ExpectOneProblem(Batch(JobWithField("project", bad)), 0, "project", kProjectMessage);
  }
}

// ---- timestamp ----

TEST(JobParserTest, Timestamps) {
  EXPECT_EQ(
      OnlyJob(Batch(JobWithField("timestamp", R"("2024-02-29T00:00:00Z")"))).header.timestamp_ms,
      1709164800000);
  for (const char* bad :
       {R"("2026-11-28T10:00:00")", R"("2026-02-30T10:00:00Z")", R"("2023-02-29T10:00:00Z")",
        R"("2026-11-28T24:00:00Z")", R"("2026-11-28")", R"("")", "1795860000000", "null"}) {
    ExpectOneProblem(Batch(JobWithField("timestamp", bad)), 0, "timestamp", kTimestampMessage);
  }
}

// ---- latency_ms ----

TEST(JobParserTest, Latency) {
  EXPECT_EQ(OnlyJob(Batch(JobWithField("latency_ms", "0"))).header.latency_ms, 0);
  EXPECT_EQ(OnlyJob(Batch(JobWithField("latency_ms", "0.25"))).header.latency_ms, 0.25);
  EXPECT_EQ(OnlyJob(Batch(JobWithField("latency_ms", "1e3"))).header.latency_ms, 1000);
  for (const char* bad : {"-1", "-0.001", R"("5")", "null", "true", "{}"}) {
    ExpectOneProblem(Batch(JobWithField("latency_ms", bad)), 0, "latency_ms", kLatencyMessage);
  }
}

// ---- status ----

TEST(JobParserTest, Status) {
  EXPECT_EQ(OnlyJob(Batch(JobWithField("status", R"("succeeded")"))).header.status,
            JobStatus::kSucceeded);
  EXPECT_EQ(OnlyJob(Batch(JobWithField("status", R"("failed")"))).header.status,
            JobStatus::kFailed);
  for (const char* bad : {R"("Failed")", R"("ok")", R"("")", "1", "null", "false"}) {
    ExpectOneProblem(Batch(JobWithField("status", bad)), 0, "status", kStatusMessage);
  }
}

// ---- metadata ----

TEST(JobParserTest, MetadataMustBeAnObjectOfStrings) {
  EXPECT_TRUE(OnlyJob(Batch(JobWithField("metadata", "{}"))).header.metadata.empty());
  for (const char* bad : {"[]", R"("branch=main")", "null", "1"}) {
    ExpectOneProblem(Batch(JobWithField("metadata", bad)), 0, "metadata",
                     "must be an object of string values, e.g. {\"branch\": \"main\"}");
  }
  ExpectOneProblem(Batch(JobWithField("metadata", R"({"a":"1","b":2})")), 0, "metadata.b",
                   "must be a string");
}

TEST(JobParserTest, MetadataKeyTwiceIsRejected) {
  ExpectOneProblem(Batch(JobWithField("metadata", R"({"a":"1","b":"2","a":"3"})")), 0, "metadata.a",
                   "appears twice; each key must appear once");
}

TEST(JobParserTest, MetadataLimits) {
  ParseLimits limits;
  limits.max_metadata_entries = 2;
  limits.max_metadata_key_bytes = 3;
  limits.max_metadata_value_bytes = 4;
  Parsed r = Batch(JobWithField("metadata", R"({"abc":"1234","k":""})"), limits);
  const Job& job = OnlyJob(r);
  EXPECT_EQ(job.header.metadata.size(), 2u);

  ExpectOneProblem(Batch(JobWithField("metadata", R"({"abcd":"1"})"), limits), 0, "metadata.abcd",
                   "keys must be 1-3 bytes");
  ExpectOneProblem(Batch(JobWithField("metadata", R"({"":"1"})"), limits), 0, "metadata.",
                   "keys must be 1-3 bytes");
  ExpectOneProblem(Batch(JobWithField("metadata", R"({"k":"12345"})"), limits), 0, "metadata.k",
                   "must be at most 4 bytes");
  // The walk stops at the entry over the limit and goes on with the job's next field.
  ExpectInvalid(
      Batch(JobWithField("metadata", R"({"a":"1","b":"2","c":"3","d":4}, "status":"x")"), limits),
      {Detail(0, "metadata", "holds more than 2 entries"), Detail(0, "status", kStatusMessage)});
}

TEST(JobParserTest, MetadataDefaultKeyLimitIs128Bytes) {
  const std::string key128(128, 'k'), key129(129, 'k');
  EXPECT_EQ(
      OnlyJob(Batch(JobWithField("metadata", "{\"" + key128 + "\":\"v\"}"))).header.metadata.size(),
      1u);
  ExpectOneProblem(Batch(JobWithField("metadata", "{\"" + key129 + "\":\"v\"}")), 0,
                   "metadata." + key129, "keys must be 1-128 bytes");
}

// ---- state ----

TEST(JobParserTest, StateMustBeAnObject) {
  for (const char* bad : {"[]", R"("door")", "null", "5"}) {
    ExpectOneProblem(
        Batch(JobWithField("state", bad)), 0, "state",
        "must be an object mapping object IDs to hashes, e.g. {\"D003\": \"door_10_20_5_5\"}");
  }
}

TEST(JobParserTest, StateValueMustBeAHashOrAnObject) {
  for (const char* bad : {"5", "null", "true", R"(["door"])"}) {
    ExpectOneProblem(Batch(JobWith("", std::string(R"({"ok":"h","D1":)") + bad + "}")), 0,
                     "state.D1",
                     "must be a hash string or an object of attributes such as {\"type\": "
                     "\"door\", \"x\": 10, \"y\": 20, \"w\": 5, \"h\": 5}");
  }
}

TEST(JobParserTest, StateIdTwiceIsRejected) {
  ExpectOneProblem(Batch(JobWith("", R"({"a":"1","b":"2","a":"1"})")), 0, "state.a",
                   "this object ID appears twice; each object must appear once");
  // Also when the repeat is spelled with an escape.
  ExpectOneProblem(Batch(JobWith("", R"({"a":"1","\u0061":"2"})")), 0, "state.a",
                   "this object ID appears twice; each object must appear once");
}

TEST(JobParserTest, HashLength) {
  ParseLimits limits;
  limits.max_hash_bytes = 4;
  EXPECT_EQ(OnlyJob(Batch(JobWith("", R"({"a":"1234"})"), limits)).state[0].value, "1234");
  ExpectOneProblem(Batch(JobWith("", R"({"a":"12345"})"), limits), 0, "state.a",
                   "a hash must be 1-4 bytes");
  ExpectOneProblem(Batch(JobWith("", R"({"a":""})")), 0, "state.a", "a hash must be 1-1024 bytes");
  const std::string h1024(1024, 'h');
  EXPECT_EQ(OnlyJob(Batch(JobWith("", "{\"a\":\"" + h1024 + "\"}"))).state[0].value, h1024);
  ExpectOneProblem(Batch(JobWith("", "{\"a\":\"" + h1024 + "h\"}")), 0, "state.a",
                   "a hash must be 1-1024 bytes");
}

TEST(JobParserTest, IdLength) {
  ExpectOneProblem(Batch(JobWith("", R"({"":"h"})")), 0, "state",
                   "object IDs must be 1-1024 bytes; \"\" is not");
  const std::string id1024(1024, 'i');
  EXPECT_EQ(OnlyJob(Batch(JobWith("", "{\"" + id1024 + "\":\"h\"}"))).state[0].id, id1024);
  ExpectOneProblem(Batch(JobWith("", "{\"" + id1024 + "i\":\"h\"}")), 0, "state",
                   "object IDs must be 1-1024 bytes; \"" + std::string(64, 'i') + "...\" is not");
  ParseLimits limits;
  limits.max_id_bytes = 2;
  ExpectOneProblem(Batch(JobWith("", R"({"ab":"h","abc":"h"})"), limits), 0, "state",
                   "object IDs must be 1-2 bytes; \"abc\" is not");
}

TEST(JobParserTest, MaxObjects) {
  ParseLimits limits;
  limits.max_objects = 2;
  EXPECT_EQ(OnlyJob(Batch(JobWith("", R"({"a":"1","b":"2"})"), limits)).state.size(), 2u);
  // The rest of the state is skipped and the job's next field still read.
  ExpectInvalid(
      Batch(JobWith(R"(,"status":"x")", R"({"a":"1","b":"2","c":{"d":[1]},"e":"5"})"), limits),
      {Detail(0, "state", "holds more than 2 objects"), Detail(0, "status", kStatusMessage)});
}

TEST(JobParserTest, StructuredObjectsAreCanonicalised) {
  Parsed r = Batch("[" + JobWith("", R"({"D1":{"x":10,"type":"door"}})") + "," +
                   JobWith("", R"({"D1":{"type":"door","x":1e1}})") + "]");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto& jobs = r.value()->jobs();
  ASSERT_EQ(jobs.size(), 2u);
  ASSERT_EQ(jobs[0].state.size(), 1u);
  ASSERT_EQ(jobs[1].state.size(), 1u);
  EXPECT_TRUE(jobs[0].state[0].structured);
  EXPECT_TRUE(jobs[1].state[0].structured);
  EXPECT_EQ(jobs[0].state[0].value, R"({"type":"door","x":10})");
  EXPECT_EQ(jobs[1].state[0].value, jobs[0].state[0].value);
}

TEST(JobParserTest, StructuredObjectErrors) {
  ExpectOneProblem(Batch(JobWith("", R"({"o":{"x":1,"x":1}})")), 0, "state.o",
                   R"(structured object: key "x" appears twice; each attribute must appear once)");
  ParseLimits limits;
  limits.max_depth = 2;
  EXPECT_TRUE(Batch(JobWith("", R"({"o":{"a":{"b":1}}})"), limits).ok());
  ExpectOneProblem(Batch(JobWith("", R"({"o":{"a":{"b":{}}}})"), limits), 0, "state.o",
                   "structured object: nests too deeply");
  limits = ParseLimits{};
  limits.max_structured_bytes = 10;
  EXPECT_EQ(OnlyJob(Batch(JobWith("", R"({"o":{ "a" : "bc" }})"), limits)).state[0].value,
            R"({"a":"bc"})");
  ExpectOneProblem(Batch(JobWith("", R"({"o":{"a":"bcd"}})"), limits), 0, "state.o",
                   "a structured object must be at most 10 bytes of canonical JSON");
}

TEST(JobParserTest, EscapedAndNonAsciiIds) {
  Parsed r = Batch(JobWith("", R"({"\u00e9":"1","a\"b":"2","\ud83d\ude00":"3","raw)"
                               "\xf0\x9f\x98\x80"
                               R"(":"4"})"));
  const Job& job = OnlyJob(r);
  ASSERT_EQ(job.state.size(), 4u);
  EXPECT_EQ(job.state[0].id, "\xc3\xa9");
  EXPECT_EQ(job.state[1].id, "a\"b");
  EXPECT_EQ(job.state[2].id, "\xf0\x9f\x98\x80");
  EXPECT_EQ(job.state[3].id, "raw\xf0\x9f\x98\x80");
}

// ---- unknown and repeated fields ----

TEST(JobParserTest, UnknownFieldIsRejected) {
  ExpectOneProblem(Batch(JobWith(R"(,"extra":1)")), 0, "extra", kUnknownFieldMessage);
  ExpectOneProblem(Batch(JobWith(R"(,"Job_id":1)")), 0, "Job_id", kUnknownFieldMessage);
}

TEST(JobParserTest, TopLevelKeyTwiceIsRejected) {
  ExpectOneProblem(Batch(JobWith(R"(,"job_id":8)")), 0, "job_id",
                   "appears twice; each field must appear once");
  ExpectOneProblem(Batch(JobWith(R"(,"state":{})")), 0, "state",
                   "appears twice; each field must appear once");
  ExpectOneProblem(Batch(JobWith(R"(,"status":"failed","status":"failed")")), 0, "status",
                   "appears twice; each field must appear once");
}

TEST(JobParserTest, RequiredFields) {
  ExpectInvalid(Batch("{}"),
                {Detail(0, "job_id", "is required"), Detail(0, "timestamp", "is required"),
                 Detail(0, "latency_ms", "is required"), Detail(0, "state", "is required")});
  ExpectOneProblem(Batch(R"({"job_id":1,"timestamp":"2026-11-28T10:00:00Z","latency_ms":1})"), 0,
                   "state", "is required");
}

// ---- batches ----

TEST(JobParserTest, BatchIsAllOrNothing) {
  Parsed r =
      Batch("[" + JobWith("") + "," + JobWithField("latency_ms", "-1") + "," + JobWith("") + "]");
  ExpectOneProblem(r, 1, "latency_ms", kLatencyMessage);
  EXPECT_EQ(r.status().message(),
            "1 problem found, the first: job 1: latency_ms: must be a number of milliseconds >= 0");
}

TEST(JobParserTest, EveryProblemOfEveryJobIsListed) {
  Parsed r = Batch("[" + JobWithField("job_id", "0") + "," + JobWith("") + "," +
                   JobWith(R"(,"status":"x","bad":1)") + "]");
  ExpectInvalid(r, {Detail(0, "job_id", kJobIdMessage), Detail(2, "status", kStatusMessage),
                    Detail(2, "bad", kUnknownFieldMessage)});
  EXPECT_EQ(r.status().message(),
            "3 problems found, the first: job 0: job_id: must be an integer from 1 to "
            "9223372036854775807");
}

TEST(JobParserTest, MaxDetailsCapsTheListNotTheCount) {
  ParseLimits limits;
  limits.max_details = 2;
  Parsed r = Batch("{}", limits);
  ExpectInvalid(r, {Detail(0, "job_id", "is required"), Detail(0, "timestamp", "is required")});
  EXPECT_THAT(r.status().message(), StartsWith("4 problems found, the first: job 0: job_id: "));
}

TEST(JobParserTest, ANonObjectInTheArrayIsAnInvalidJob) {
  ExpectOneProblem(Batch("[" + JobWith("") + ",5]"), 1, "", "a job must be a JSON object");
  ExpectOneProblem(Batch("[[]]"), 0, "", "a job must be a JSON object");
}

TEST(JobParserTest, EmptyArrayIsAnInvalidJob) {
  Parsed r = Batch(" [ ] ");
  ExpectOneProblem(r, std::nullopt, "", "the array holds no jobs; send at least one");
  EXPECT_EQ(r.status().message(),
            "1 problem found, the first: the array holds no jobs; send at least one");
}

TEST(JobParserTest, TopLevelScalarIsAnInvalidJob) {
  for (const char* body : {"5", R"("job")", "true", "null"}) {
    ExpectOneProblem(Batch(body), std::nullopt, "",
                     "the body must be a job object or an array of job objects");
  }
}

TEST(JobParserTest, TooManyJobs) {
  ParseLimits limits;
  limits.max_jobs = 2;
  const std::string two = "[" + JobWith("") + "," + JobWith("") + "]";
  ASSERT_TRUE(Batch(two, limits).ok());
  EXPECT_EQ(Batch(two, limits).value()->jobs().size(), 2u);
  for (const std::string& third : {JobWith(""), JobWithField("job_id", "0")}) {
    Parsed r = Batch("[" + JobWith("") + "," + JobWith("") + "," + third + "]", limits);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kTooLarge);
    EXPECT_EQ(r.status().reason(), "too_many_jobs");
    EXPECT_EQ(r.status().message(),
              "the request holds more than 2 jobs; split it into smaller requests");
  }
}

// ---- malformed JSON ----

TEST(JobParserTest, TruncatedBodyIsMalformed) {
  const std::string job = JobWith("", R"({"a":"door_1_2_3_4","b":{"x":[1,2]}})");
  for (size_t n : {size_t{0}, size_t{1}, size_t{10}, job.size() / 2, job.size() - 1}) {
    ExpectMalformed(Batch(job.substr(0, n)));
    ExpectMalformed(Batch("[" + job.substr(0, n)));
  }
  ExpectMalformed(Batch("[" + job));
  ExpectMalformed(Batch("[" + job + ","));
}

TEST(JobParserTest, TrailingGarbageIsMalformed) {
  for (const char* body : {"{}x", "{} {}", "[] 5", "{}}"}) {
    ExpectMalformed(Batch(body));
  }
  ExpectMalformed(Batch(JobWith("") + "x"));
  ExpectMalformed(Batch(JobWith("") + " " + JobWith("")));
  // A document (a stored job, a file) is not told what to send: its reader says what to do.
  const Parsed document = Document(JobWith("") + "]");
  ASSERT_FALSE(document.ok());
  EXPECT_EQ(document.status().reason(), "malformed_json");
  EXPECT_EQ(document.status().message(),
            "the document is not valid JSON (JSON document ended early in the middle of an object "
            "or array.)");
}

TEST(JobParserTest, BadLiteralsAreMalformed) {
  // simdjson reads a literal only when asked; a bad one must not pass for a wrong type.
  for (const std::string& body :
       {std::string("tru"), std::string("nul"), std::string("[tru]"), JobWithField("status", "tru"),
        JobWithField("job_id", "12x"), JobWithField("latency_ms", "-"),
        JobWithField("metadata", R"({"a":fals})"), JobWithField("extra", "[1,{\"a\":nul}]"),
        JobWith("", R"({"a":nul})"), JobWith("", R"({"a":{"b":nul}})"),
        JobWith("", R"({"a":{"b":[1,tru]}})"), JobWith(R"(,"job_id":tru)")}) {
    ExpectMalformed(Batch(body));
  }
}

TEST(JobParserTest, OtherSyntaxErrorsAreMalformed) {
  for (const std::string& body :
       {std::string(""), std::string("   "), std::string(R"({"job_id" 1})"),
        std::string(R"({job_id:1})"), JobWith("", R"({"a":"1",})"), "[" + JobWith("") + ",]",
        JobWith("", R"({"a":"bad \x escape"})"), JobWith("", R"({"a":"unterminated})"),
        std::string("{\"job_id\":1,\"state\":{\"a\":\"\xff\"}}")}) {
    ExpectMalformed(Batch(body));
  }
}

TEST(JobParserTest, DeepNestingInARejectedBodyDoesNotOverflowTheStack) {
  const size_t n = 1'000'000;
  const std::string deep = std::string(n, '[') + std::string(n, ']');
  ExpectMalformed(Batch(JobWithField("extra", deep)));
  ExpectMalformed(Batch(deep));
  Parsed r = Batch(JobWith("", R"({"o":)" + std::string(n, '[') + std::string(n, ']') + "}"));
  ExpectMalformed(r);
  EXPECT_THAT(r.status().message(), ::testing::HasSubstr("too deep"));
  // Within the JSON parser's depth (1024) the job's own problem is reported.
  const std::string nested = std::string(1000, '[') + std::string(1000, ']');
  ExpectOneProblem(Batch(JobWithField("extra", nested)), 0, "extra", kUnknownFieldMessage);
  ExpectOneProblem(Batch(JobWith("", R"({"o":{"a":)" + nested + "}}")), 0, "state.o",
                   "structured object: nests too deeply");
}

TEST(JobParserTest, ValidJsonWithABadJobIsNotMalformed) {
  // The check for malformed JSON reads the whole rejected body; valid values pass it.
  ExpectOneProblem(Batch(JobWithField("extra", R"([1,{"a":null,"b":[true,false,"s",-1.5e3]}])")), 0,
                   "extra", kUnknownFieldMessage);
}

}  // namespace
}  // namespace buildtrace

namespace buildtrace {
namespace {

TEST(JobParserStringsTest, RawControlCharacterInAStateStringIsMalformedJson) {
  for (const char* body : {"{\"job_id\":1,\"timestamp\":\"2026-11-28T10:00:00Z\",\"latency_ms\":1,"
                           "\"state\":{\"a\nb\":\"h\"}}",
                           "{\"job_id\":1,\"timestamp\":\"2026-11-28T10:00:00Z\",\"latency_ms\":1,"
                           "\"state\":{\"a\":\"h\tx\"}}"}) {
    auto r = ParseJobDocument(std::string(body), ParseLimits{});
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().reason(), "malformed_json") << body;
  }
}

TEST(JobParserStringsTest, EscapedAndPlainStringsGiveTheSameViews) {
  auto r = ParseJobDocument(
      std::string("{\"job_id\":1,\"timestamp\":\"2026-11-28T10:00:00Z\",\"latency_ms\":1,"
                  "\"state\":{\"plain\":\"door_1_2_3_4\",\"esc\\u0061ped\":\"a\\\"b\\\\c\","
                  "\"\\n\":\"\\u00e9\"}}"),
      ParseLimits{});
  ASSERT_TRUE(r.ok()) << r.status().message();
  const JobState& state = (*r)->jobs().front().state;
  ASSERT_EQ(state.size(), 3u);
  EXPECT_EQ(state[0].id, "plain");
  EXPECT_EQ(state[0].value, "door_1_2_3_4");
  EXPECT_EQ(state[1].id, "escaped");
  EXPECT_EQ(state[1].value, "a\"b\\c");
  EXPECT_EQ(state[2].id, "\n");
  EXPECT_EQ(state[2].value, "\xc3\xa9");
}

// A state of plain hash strings, spaced or not, takes the compact layout (job_state.h) from the
// flat scan and from the simdjson walk alike: its entries point into the input. An escaped string
// (unescaped into a string of its own) or a structured value makes it wide. What it reads back is
// the same either way (the tests above and flat_state_test.cc).
TEST(JobParserStringsTest, CommonStatesTakeTheCompactLayout) {
  const std::string head = "{\"job_id\":1,\"timestamp\":\"2026-11-28T10:00:00Z\",\"latency_ms\":1,";
  struct Case {
    std::string state;
    bool wide;
  };
  const std::vector<Case> cases = {
      {R"({"D1":"door_1_2_3_4","W2":"window_5_6_7_8"})", false},
      {R"({ "D1" : "door_1_2_3_4",
            "W2" :  "window_5_6_7_8" })",
       false},
      {R"({"esc\u0061ped":"a\"b","\n":"\u00e9"})", true},
      {R"({"D1":"door_1_2_3_4","S2":{"type":"door","x":1}})", true},
  };
  struct Restore {
    bool was = FlatStatesEnabled();
    ~Restore() { SetFlatStatesEnabled(was); }
  } restore;  // also when an assertion ends the test early
  for (const bool flat : {true, false}) {
    SetFlatStatesEnabled(flat);
    for (const Case& c : cases) {
      auto r = ParseJobDocument(head + "\"state\":" + c.state + "}", ParseLimits{});
      ASSERT_TRUE(r.ok()) << c.state << ": " << r.status().message();
      EXPECT_EQ((*r)->jobs().front().state.wide(), c.wide) << c.state << " flat " << flat;
      EXPECT_EQ((*r)->jobs().front().state.size(), 2u) << c.state;
    }
  }
}

// Strings are scanned eight bytes at a time: an escape, a quote after a backslash, a raw control
// character or the closing quote at every offset of the first three words, in IDs and hashes.
TEST(JobParserStringsTest, EveryOffsetOfAnEscapeOrAControlCharacterIsSeen) {
  const std::string head = "{\"job_id\":1,\"timestamp\":\"2026-11-28T10:00:00Z\",\"latency_ms\":1,";
  for (size_t at = 0; at <= 24; ++at) {
    const std::string pad(at, 'x');
    // Plain, a string of exactly `at` bytes, ending where a word may end.
    auto plain =
        ParseJobDocument(head + "\"state\":{\"" + pad + "y\":\"" + pad + "\"}}", ParseLimits{});
    if (at == 0) {
      ASSERT_FALSE(plain.ok());  // an empty hash
    } else {
      ASSERT_TRUE(plain.ok()) << at << ": " << plain.status().message();
      EXPECT_EQ((*plain)->jobs().front().state[0].id, pad + "y");
      EXPECT_EQ((*plain)->jobs().front().state[0].value, pad);
    }
    // Escapes: \" and \\ (a backslash before the closing quote) and \u0041.
    auto escaped = ParseJobDocument(
        head + "\"state\":{\"" + pad + "\\\"q\":\"" + pad + "\\\\\",\"" + pad + "\\u0041\":\"h\"}}",
        ParseLimits{});
    ASSERT_TRUE(escaped.ok()) << at << ": " << escaped.status().message();
    const JobState& state = (*escaped)->jobs().front().state;
    ASSERT_EQ(state.size(), 2u);
    EXPECT_EQ(state[0].id, pad + "\"q");
    EXPECT_EQ(state[0].value, pad + "\\");
    EXPECT_EQ(state[1].id, pad + "A");
    // A raw control character, in the ID and in the hash, after `at` plain bytes.
    for (const std::string& body : {head + "\"state\":{\"" + pad + "\x01z\":\"h\"}}",
                                    head + "\"state\":{\"i\":\"" + pad + "\x1f\"}}"}) {
      auto r = ParseJobDocument(body, ParseLimits{});
      ASSERT_FALSE(r.ok()) << at;
      EXPECT_EQ(r.status().reason(), "malformed_json") << at;
    }
  }
}

TEST(JobParserStringsTest, DuplicateCheckCanBeLeftToTheDiff) {
  const std::string body =
      "{\"job_id\":1,\"timestamp\":\"2026-11-28T10:00:00Z\",\"latency_ms\":1,"
      "\"state\":{\"a\":\"1\",\"a\":\"2\"}}";
  auto checked = ParseJobDocument(body, ParseLimits{});
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.status().reason(), "invalid_job");
  ParseLimits unchecked;
  unchecked.check_duplicate_ids = false;
  auto parsed = ParseJobDocument(body, unchecked);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ((*parsed)->jobs().front().state.size(), 2u);
}

// Whether two statuses say exactly the same: code, reason, message and every detail.
void ExpectSameStatus(const Status& got, const Status& want, const std::string& body) {
  EXPECT_EQ(got.code(), want.code()) << body;
  EXPECT_EQ(got.reason(), want.reason()) << body;
  EXPECT_EQ(got.message(), want.message()) << body;
  ASSERT_EQ(got.details().size(), want.details().size()) << body;
  for (size_t i = 0; i < got.details().size(); ++i) {
    EXPECT_EQ(got.details()[i].index, want.details()[i].index) << body;
    EXPECT_EQ(got.details()[i].field, want.details()[i].field) << body;
    EXPECT_EQ(got.details()[i].message, want.details()[i].message) << body;
  }
}

// A random batch: jobs with flat, escaped and structured states, some repeating an ID (also
// once plainly and once escaped), some with other problems, some cut short.
std::string RandomBatch(std::mt19937_64& rng) {
  const auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  std::string body;
  const int jobs = 1 + pick(4);
  const bool array = jobs > 1 || pick(2) == 0;
  if (array) body += '[';
  for (int j = 0; j < jobs; ++j) {
    if (j) body += ',';
    body += "{\"job_id\":" + std::to_string(j + 1);
    body += pick(6) == 0 ? "" : ",\"timestamp\":\"2026-11-28T10:00:00Z\"";
    body += pick(6) == 0 ? ",\"latency_ms\":-3" : ",\"latency_ms\":5";
    body += ",\"state\":{";
    const int objects = pick(40);
    const int repeat = pick(3) == 0 && objects > 1 ? pick(objects) : -1;
    for (int o = 0; o < objects; ++o) {
      if (o) body += ',';
      const std::string id = "o" + std::to_string(o % 10) + std::to_string(o);
      body += "\"" + (pick(8) == 0 ? "\\u006f" + id.substr(1) : id) + "\":";
      switch (pick(5)) {
        case 0:
          body += "\"door\\/1_2_3_4\"";
          break;
        case 1:
          body += "{\"b\":1,\"a\":[true,null]}";
          break;
        default:
          body += "\"door_1_2_3_4\"";
          break;
      }
      if (o == repeat) body += ",\"" + id + "\":\"twice\"";
    }
    body += "}";
    if (pick(10) == 0) body += ",\"status\":\"unknown\"";
    body += "}";
  }
  if (array) body += ']';
  if (pick(12) == 0) body.resize(static_cast<size_t>(pick(static_cast<int>(body.size()))));
  return body;
}

// The deferred duplicate-ID check answers exactly as the check made during the parse, whatever
// else is wrong with the body and however many problems the answer may list.
TEST(JobParserTest, DeferredDuplicateCheckGivesTheSameAnswers) {
  std::mt19937_64 rng(20261207);
  int refused_later = 0, refused_at_once = 0, accepted = 0;
  for (int round = 0; round < 3000; ++round) {
    const std::string body = RandomBatch(rng);
    ParseLimits limits;
    limits.max_details = 1 + rng() % 4;
    ParseLimits deferring = limits;
    deferring.defer_duplicate_check = true;
    const Parsed want = ParseJobBatch(std::string_view(body), limits);
    const Parsed got = ParseJobBatch(std::string_view(body), deferring);
    if (!got.ok()) {
      ++refused_at_once;
      ASSERT_FALSE(want.ok()) << body;
      ExpectSameStatus(got.status(), want.status(), body);
      continue;
    }
    const Status checked = (*got)->CheckDuplicateIds();
    if (!checked.ok()) {
      ++refused_later;
      ASSERT_FALSE(want.ok()) << body;
      ExpectSameStatus(checked, want.status(), body);
      continue;
    }
    ++accepted;
    ASSERT_TRUE(want.ok()) << body << ": " << want.status().message();
    ASSERT_EQ((*got)->jobs().size(), (*want)->jobs().size()) << body;
    for (size_t j = 0; j < (*got)->jobs().size(); ++j) {
      const JobState& a = (*got)->jobs()[j].state;
      const JobState& b = (*want)->jobs()[j].state;
      ASSERT_EQ(a.size(), b.size()) << body;
      for (size_t o = 0; o < a.size(); ++o) {
        EXPECT_EQ(a[o].id, b[o].id) << body;
        EXPECT_EQ(a[o].value, b[o].value) << body;
      }
    }
  }
  // Every kind of outcome was met, often.
  EXPECT_GT(refused_later, 100);
  EXPECT_GT(refused_at_once, 100);
  EXPECT_GT(accepted, 100);
}

TEST(JobParserTest, DeferredDuplicateCheckLeavesTheJobsAsTheyAre) {
  const std::string body =
      "[{\"job_id\":1,\"timestamp\":\"2026-11-28T10:00:00Z\",\"latency_ms\":1,"
      "\"state\":{\"a\":\"1\",\"b\":\"2\",\"a\":\"3\"}},"
      "{\"job_id\":2,\"timestamp\":\"2026-11-28T10:00:00Z\",\"latency_ms\":1,"
      "\"state\":{\"c\":\"1\",\"c\":\"2\"}}]";
  ParseLimits deferring;
  deferring.defer_duplicate_check = true;
  const Parsed parsed = ParseJobBatch(std::string_view(body), deferring);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  const Status checked = (*parsed)->CheckDuplicateIds();
  ExpectInvalid(
      Parsed(checked),
      {Detail(0, "state.a", "this object ID appears twice; each object must appear once"),
       Detail(1, "state.c", "this object ID appears twice; each object must appear once")});
  EXPECT_EQ(checked.message(),
            "2 problems found, the first: job 0: state.a: this object ID appears twice; each "
            "object must appear once");
  ASSERT_EQ((*parsed)->jobs().size(), 2u);
  EXPECT_EQ((*parsed)->jobs()[0].state.size(), 3u);
  EXPECT_EQ((*parsed)->jobs()[1].state[1].value, "2");
  // Without the check asked for, nothing was deferred.
  ParseLimits unchecked = deferring;
  unchecked.check_duplicate_ids = false;
  const Parsed loose = ParseJobBatch(std::string_view(body), unchecked);
  ASSERT_TRUE(loose.ok());
  EXPECT_TRUE((*loose)->CheckDuplicateIds().ok());
}

// A job of `objects` objects (IDs o0, o1, ...), as a document.
std::string JobOfObjects(int objects, std::string_view value) {
  std::string body =
      "{\"job_id\":1,\"timestamp\":\"2026-11-28T10:00:00Z\",\"latency_ms\":1,\"state\":{";
  for (int i = 0; i < objects; ++i) {
    if (i) body += ',';
    body += "\"o" + std::to_string(i) + "\":\"" + std::string(value) + "\"";
  }
  return body + "}}";
}

class KeptParsersTest : public ::testing::Test {
 protected:
  void TearDown() override { SetParsersKept(0); }
};

// The states here hold escaped hashes ("door\/1" is "door/1"), so that the full parser reads
// them with a simdjson parser sized to the whole document: a flat state is scanned without one
// (flat_state.h), and only its header is parsed (below).
constexpr std::string_view kEscapedDoor = "door\\/1_2_3_4";
constexpr std::string_view kEscapedWall = "wall\\/10_20_30_40";

TEST_F(KeptParsersTest, NoneKeptByDefault) {
  ASSERT_TRUE(ParseJobDocument(JobOfObjects(100, kEscapedDoor), ParseLimits{}).ok());
  EXPECT_EQ(ParsersKeptNow(), 0u);
}

TEST_F(KeptParsersTest, AParserIsKeptAsItsCapacityAndReusedWithTheSameResults) {
  SetParsersKept(1 << 20);
  const std::string small = JobOfObjects(100, kEscapedDoor);
  ASSERT_TRUE(ParseJobDocument(small, ParseLimits{}).ok());
  // simdjson sizes a parser to the document, at least its minimal capacity (32 bytes)
  const size_t kept = ParsersKeptNow();
  EXPECT_EQ(kept, small.size());
  // The same parser again (none added), and a larger document after a smaller one: the
  // parser grows, and is kept as its new capacity.
  auto again = ParseJobDocument(small, ParseLimits{});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->jobs().front().state.size(), 100u);
  EXPECT_EQ(ParsersKeptNow(), kept);
  const std::string larger = JobOfObjects(1000, kEscapedWall);
  auto grown = ParseJobDocument(larger, ParseLimits{});
  ASSERT_TRUE(grown.ok());
  EXPECT_EQ((*grown)->jobs().front().state.size(), 1000u);
  EXPECT_EQ((*grown)->jobs().front().state[999].id, "o999");
  EXPECT_EQ((*grown)->jobs().front().state[999].value, "wall/10_20_30_40");
  EXPECT_EQ(ParsersKeptNow(), larger.size());
  // A failed parse gives its parser back too, and the next parse is not confused by it.
  ASSERT_FALSE(ParseJobDocument(std::string("{\"job_id\":"), ParseLimits{}).ok());
  EXPECT_EQ(ParsersKeptNow(), larger.size());
  auto after = ParseJobDocument(small, ParseLimits{});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)->jobs().front().state[42].id, "o42");
}

TEST_F(KeptParsersTest, AParserOverTheCapIsFreedAndLoweringTheCapFreesKeptOnes) {
  const std::string body = JobOfObjects(1000, kEscapedDoor);
  SetParsersKept(body.size() - 1);
  ASSERT_TRUE(ParseJobDocument(body, ParseLimits{}).ok());
  EXPECT_EQ(ParsersKeptNow(), 0u);
  SetParsersKept(body.size());
  ASSERT_TRUE(ParseJobDocument(body, ParseLimits{}).ok());
  EXPECT_EQ(ParsersKeptNow(), body.size());
  SetParsersKept(body.size() - 1);
  EXPECT_EQ(ParsersKeptNow(), 0u);
}

// A flat state's document needs a parser for its header only: the document with {} for the state.
TEST_F(KeptParsersTest, AFlatStateIsParsedWithAParserForItsHeaderOnly) {
  SetParsersKept(1 << 20);
  const std::string body = JobOfObjects(1000, "door_1_2_3_4");
  auto parsed = ParseJobDocument(body, ParseLimits{});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ((*parsed)->jobs().front().state.size(), 1000u);
  EXPECT_EQ((*parsed)->jobs().front().state[999].value, "door_1_2_3_4");
  const std::string header = JobOfObjects(0, "");
  EXPECT_EQ(ParsersKeptNow(), header.size());
}

TEST_F(KeptParsersTest, ParsesOnManyThreadsShareTheKeptParsers) {
  SetParsersKept(size_t{8} << 20);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        const int objects = 10 + t * 100 + round;
        auto parsed = ParseJobDocument(JobOfObjects(objects, "door_1_2_3_4"), ParseLimits{});
        if (!parsed.ok() ||
            (*parsed)->jobs().front().state.size() != static_cast<size_t>(objects)) {
          ++wrong;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(ParsersKeptNow(), 0u);
  EXPECT_LE(ParsersKeptNow(), size_t{8} << 20);
}

}  // namespace
}  // namespace buildtrace
