// POST /process against the real server: re-posting is idempotent, a different job under a
// stored ID is a conflict that leaves the stored bytes alone, and every class of bad input is
// rejected with its own code while nothing at all reaches the store.
#include "core/canonical_hash.h"
#include "tests/e2e/e2e_fixture.h"

namespace buildtrace::e2e {
namespace {

class E2eProcess : public E2eTest {};

// A job with metadata and a structured object, at a fixed time.
TestJob StoredJob() {
  TestJob job;
  job.job_id = 7;
  job.timestamp = "2026-11-28T10:00:00Z";
  job.latency_ms = 5210;
  job.metadata = R"({"branch":"main","commit":"4f2a9c1"})";
  job.state = R"({"D001":"door_10_20_5_5","W001":"window_0_0_2_3",)"
              R"("S001":{"type":"stair","x":1,"y":2,"w":3,"h":4,"rise":"17cm"}})";
  return job;
}

TEST_F(E2eProcess, IdenticalRepostIsIdempotentAndDifferentContentConflicts) {
  const TestJob job = StoredJob();
  JsonDoc first = PostOk(job.ToJson());
  ASSERT_EQ(first.Size("/accepted"), 1u) << first.text();
  EXPECT_FALSE(first.Has("/error"));
  EXPECT_EQ(first.Str("/accepted/0/project"), "web");
  EXPECT_EQ(first.Int("/accepted/0/job_id"), 7);
  EXPECT_TRUE(first.Bool("/accepted/0/created"));
  const std::string digest = first.Str("/accepted/0/digest");

  HttpResponse stored = Get("/jobs/7?project=web");
  ASSERT_EQ(stored.status, 200) << stored.body;
  EXPECT_EQ(stored.content_type, "application/json");
  EXPECT_EQ(ContentDigest(stored.body), digest) << "the digest is the SHA-256 of the stored bytes";
  EXPECT_EQ(JobFilesUnder(states_dir()).size(), 1u);

  // The identical bytes again.
  JsonDoc again = PostOk(job.ToJson(), 200);
  EXPECT_FALSE(again.Bool("/accepted/0/created"));
  EXPECT_EQ(again.Str("/accepted/0/digest"), digest);

  // The same job with its state (and a structured object's attributes) in another order, and
  // a number spelled differently: the same job.
  TestJob reordered = job;
  reordered.state = R"({"S001":{"rise":"17cm","h":4,"w":3.0,"y":2,"x":1,"type":"stair"},)"
                    R"("W001":"window_0_0_2_3","D001":"door_10_20_5_5"})";
  reordered.metadata = R"({"commit":"4f2a9c1","branch":"main"})";
  JsonDoc same = PostOk(reordered.ToJson(), 200);
  EXPECT_FALSE(same.Bool("/accepted/0/created"));
  EXPECT_EQ(same.Str("/accepted/0/digest"), digest);

  // A different latency is a different job: 409, and the stored bytes stay as they were.
  TestJob different = job;
  different.latency_ms = 5211;
  HttpResponse conflict = Post("/process", different.ToJson());
  ASSERT_TRUE(IsError(conflict, 409, "conflict"));
  JsonDoc conflict_doc(conflict.body);
  ASSERT_EQ(conflict_doc.Size("/error/details"), 1u);
  EXPECT_EQ(conflict_doc.Int("/error/details/0/index"), 0);
  EXPECT_EQ(conflict_doc.Str("/error/details/0/field"), "job_id");
  EXPECT_EQ(conflict_doc.Size("/accepted"), 0u);
  HttpResponse after = Get("/jobs/7?project=web");
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, stored.body);

  // In a batch, the other jobs are still stored and listed.
  TestJob next = job;
  next.job_id = 8;
  HttpResponse mixed = Post("/process", BatchJson({different, next}));
  ASSERT_TRUE(IsError(mixed, 409, "conflict"));
  JsonDoc mixed_doc(mixed.body);
  ASSERT_EQ(mixed_doc.Size("/error/details"), 1u);
  EXPECT_EQ(mixed_doc.Int("/error/details/0/index"), 0);
  ASSERT_EQ(mixed_doc.Size("/accepted"), 1u);
  EXPECT_EQ(mixed_doc.Int("/accepted/0/job_id"), 8);
  EXPECT_TRUE(mixed_doc.Bool("/accepted/0/created"));
  EXPECT_EQ(Get("/jobs/8?project=web").status, 200);
  EXPECT_EQ(Get("/jobs/7?project=web").body, stored.body);
}

// --- Bad input ---

struct BadInput {
  std::string name;
  std::string body;
  std::string content_type = "application/json";
  std::string code;  // every case is a 400
  // The (index, field) of each detail; index -1 when the detail has none. Empty: no details.
  std::vector<std::pair<int64_t, std::string>> details;
};

std::vector<std::pair<int64_t, std::string>> DetailsOf(const JsonDoc& doc) {
  std::vector<std::pair<int64_t, std::string>> out;
  if (!doc.Has("/error/details")) return out;
  for (size_t i = 0; i < doc.Size("/error/details"); ++i) {
    const std::string at = "/error/details/" + std::to_string(i);
    out.emplace_back(doc.Has(at + "/index") ? doc.Int(at + "/index") : -1, doc.Str(at + "/field"));
  }
  return out;
}

// A valid job of project web.
std::string ValidBody() {
  TestJob job;
  job.job_id = 1;
  job.timestamp = "2026-11-28T10:00:00Z";
  job.latency_ms = 5;
  job.state = R"({"D1":"door_1_2_3_4","W1":"window_0_0_2_3"})";
  return job.ToJson();
}

// ValidBody() with the first `from` replaced by `to`.
std::string EditedJob(std::string_view from, std::string_view to) {
  std::string body = ValidBody();
  const size_t at = body.find(from);
  if (at == std::string::npos) {
    ADD_FAILURE() << "\"" << from << "\" is not in " << body;
    return body;
  }
  return body.replace(at, from.size(), to);
}

std::vector<BadInput> BadInputs() {
  TestJob valid;
  valid.timestamp = "2026-11-28T10:00:00Z";
  TestJob second = valid, third = valid;
  second.job_id = 2;
  second.status = "done";
  third.job_id = 3;
  const std::string whole = valid.ToJson();
  const std::string long_id(1025, 'a');
  // One case per entry reads better than one field per line.
  // clang-format off
  return {
      {"malformed JSON", EditedJob(R"("window_0_0_2_3"})", R"("window_0_0_2_3",})"),
       "application/json", "malformed_json", {}},
      {"truncated JSON", whole.substr(0, whole.size() / 2), "application/json",
       "malformed_json", {}},
      {"job 2 of 3 invalid", BatchJson({valid, second, third}), "application/json",
       "invalid_job", {{1, "status"}}},
      {"unknown field", EditedJob(R"("latency_ms":5,)", R"("latency_ms":5,"latency":5,)"),
       "application/json", "invalid_job", {{0, "latency"}}},
      {"duplicate field", EditedJob(R"("job_id":1,)", R"("job_id":1,"job_id":1,)"),
       "application/json", "invalid_job", {{0, "job_id"}}},
      {"duplicate object ID", EditedJob(R"("W1":)", R"("D1":)"),
       "application/json", "invalid_job", {{0, "state.D1"}}},
      {"job_id 0", EditedJob(R"("job_id":1,)", R"("job_id":0,)"),
       "application/json", "invalid_job", {{0, "job_id"}}},
      {"timestamp without offset", EditedJob("10:00:00Z", "10:00:00"),
       "application/json", "invalid_job", {{0, "timestamp"}}},
      {"negative latency", EditedJob(R"("latency_ms":5,)", R"("latency_ms":-5,)"),
       "application/json", "invalid_job", {{0, "latency_ms"}}},
      {"bad project", EditedJob(R"("project":"web")", R"("project":"../web")"),
       "application/json", "invalid_job", {{0, "project"}}},
      {"state not an object",
       EditedJob(R"("state":{"D1":"door_1_2_3_4","W1":"window_0_0_2_3"})",
                 R"("state":["D1","door_1_2_3_4"])"),
       "application/json", "invalid_job", {{0, "state"}}},
      {"object ID over 1024 bytes", EditedJob(R"("W1":)", "\"" + long_id + "\":"),
       "application/json", "invalid_job", {{0, "state"}}},
      {"empty array", "[]", "application/json", "invalid_job", {{-1, ""}}},
      {"not JSON at all", "job_id=1&latency_ms=5", "application/x-www-form-urlencoded",
       "malformed_json", {}},
      {"plain text", "hello, server", "text/plain", "malformed_json", {}},
  };
  // clang-format on
}

TEST_F(E2eProcess, EveryClassOfBadInputIsRejectedAndNothingIsStored) {
  for (const BadInput& input : BadInputs()) {
    SCOPED_TRACE(input.name + ": " + input.body.substr(0, 300));
    HttpResponse response = Post("/process", input.body, input.content_type);
    EXPECT_TRUE(IsError(response, 400, input.code));
    JsonDoc doc(response.body);
    EXPECT_EQ(DetailsOf(doc), input.details);
    EXPECT_FALSE(doc.Has("/accepted")) << "a rejected request stores nothing and lists nothing";
    ASSERT_NO_FATAL_FAILURE(ExpectNothingStored());
  }
  // The same server still stores a valid job: the rejections above were about the input.
  JsonDoc ok = PostOk(ValidBody());
  EXPECT_TRUE(ok.Bool("/accepted/0/created"));
  EXPECT_EQ(JobFilesUnder(states_dir()).size(), 1u);
}

class E2eBodyLimit : public E2eTest {
 protected:
  std::vector<std::string> ServeArgs() const override { return {"--max-body", "1KiB"}; }
};

TEST_F(E2eBodyLimit, BodyOverTheLimitIs413AndNothingIsStored) {
  TestJob big;
  big.state = "{";
  for (int i = 0; i < 60; ++i) {
    big.state += (i ? ",\"D" : "\"D") + std::to_string(i) + "\":\"door_1_2_3_4\"";
  }
  big.state += "}";
  const std::string body = big.ToJson();
  ASSERT_GT(body.size(), 1024u);
  EXPECT_TRUE(IsError(Post("/process", body), 413, "body_too_large"));
  ASSERT_NO_FATAL_FAILURE(ExpectNothingStored());
  // A body under the limit passes: the limit, not the job, was the reason.
  TestJob small;
  ASSERT_LT(small.ToJson().size(), 1024u);
  EXPECT_TRUE(PostOk(small.ToJson()).Bool("/accepted/0/created"));
}

}  // namespace
}  // namespace buildtrace::e2e
