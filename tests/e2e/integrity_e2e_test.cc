// Stored bytes are checked and readers cannot grow the store, end to end on the embedded
// defaults: a flipped bit or a truncation in a stored job (or a kept report) is a 500
// corrupt_object naming the object, never served or diffed, and counted in /metrics; forty
// report requests of every format, limit and base leave one kept comparison per job.
#include <gmock/gmock.h>
#include <openssl/sha.h>

#include <fstream>
#include <iterator>

#include "tests/e2e/e2e_fixture.h"

namespace buildtrace::e2e {
namespace {

using ::testing::HasSubstr;

std::string Sha256Digest(const std::string& bytes) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), md);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned char c : md) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

class IntegrityE2eTest : public E2eTest {
 protected:
  std::string JobFile(int64_t id) const {
    std::string digits = std::to_string(id);
    return states_dir() + "/jobs/web/" + std::string(19 - digits.size(), '0') + digits + ".json";
  }
};

TEST_F(IntegrityE2eTest, AckedBytesAreServedAndDamagedOnesNever) {
  const JsonDoc posted = PostOk(BatchJson(
      {{.job_id = 1}, {.job_id = 2, .state = R"({"D1":"door_11_20_5_5"})"}, {.job_id = 3}}));
  // GET /jobs serves the bytes the digest was given for, though the file keeps it inside.
  const HttpResponse job = Get("/jobs/1?project=web");
  ASSERT_EQ(job.status, 200) << job.body;
  EXPECT_EQ(Sha256Digest(job.body), posted.Str("/accepted/0/digest"));
  const std::string file = ReadFile(JobFile(1));
  EXPECT_THAT(file, HasSubstr(",\"digest\":\"" + posted.Str("/accepted/0/digest") + "\"}\n"));

  // One flipped bit in job 1, job 2 cut short: neither is served, nor diffed.
  std::string flipped = file;
  flipped[flipped.find("door_10")] ^= 0x01;
  WriteFile(JobFile(1), flipped);
  const std::string two = ReadFile(JobFile(2));
  WriteFile(JobFile(2), two.substr(0, two.size() - 10));
  const HttpResponse served = Get("/jobs/1?project=web");
  EXPECT_TRUE(IsError(served, 500, "corrupt_object"));
  EXPECT_THAT(served.body, HasSubstr("jobs/web/0000000000000000001.json"));
  EXPECT_THAT(served.body, Not(HasSubstr("door_")));
  EXPECT_TRUE(IsError(Get("/report/2?project=web"), 500, "corrupt_object"));
  const HttpResponse diffed = Get("/report/3?project=web");  // its base, job 2, is damaged
  EXPECT_TRUE(IsError(diffed, 500, "corrupt_object"));
  EXPECT_THAT(diffed.body, HasSubstr("jobs/web/0000000000000000002.json"));
  // A re-post of the damaged job is not taken for the stored one.
  EXPECT_TRUE(IsError(Post("/process", TestJob{.job_id = 1}.ToJson()), 500, "corrupt_object"));
  // Five finds: /jobs/1, both states of report 2 (job 2 and its base, job 1), report 3's base,
  // the re-post.
  EXPECT_THAT(Get("/metrics").body, HasSubstr("\nbuildtrace_corrupt_objects_total 5\n"));
  EXPECT_TRUE(FilesUnder(states_dir() + "/reports").empty());
}

TEST_F(IntegrityE2eTest, ADamagedKeptReportIsAnErrorNotAnAnswer) {
  PostOk(BatchJson({{.job_id = 1}, {.job_id = 2, .state = R"({"D1":"door_11_20_5_5"})"}}));
  ASSERT_EQ(Get("/report/2?project=web").status, 200);
  const std::vector<std::string> kept = FilesUnder(states_dir() + "/reports");
  ASSERT_EQ(kept.size(), 1u);
  const std::string path = states_dir() + "/reports/" + kept[0];
  const std::string bytes = ReadFile(path);
  WriteFile(path, bytes.substr(0, bytes.size() / 2));
  const HttpResponse report = Get("/report/2?project=web&format=text");
  EXPECT_TRUE(IsError(report, 500, "corrupt_object"));
  EXPECT_THAT(report.body, HasSubstr("kept report reports/web/0000000000000000002/"));
}

TEST_F(IntegrityE2eTest, ReadersKeepOneComparisonPerJob) {
  PostOk(BatchJson({{.job_id = 1},
                    {.job_id = 2, .state = R"({"D1":"door_11_20_5_5","W1":"wall_0_0_1_1"})"},
                    {.job_id = 3, .state = R"({"W1":"wall_0_0_1_2"})"}}));
  int requests = 0;
  for (const char* format : {"json", "text"}) {
    for (int limit : {1, 2, 3, 5, 10, 100, 999, 1000, 5000, 1000000}) {
      for (const char* base : {"", "&base=1"}) {
        const std::string target = "/report/3?project=web&format=" + std::string(format) +
                                   "&limit=" + std::to_string(limit) + base;
        ASSERT_EQ(Get(target).status, 200) << target;
        ++requests;
      }
    }
  }
  EXPECT_EQ(requests, 40);
  EXPECT_EQ(
      FilesUnder(states_dir() + "/reports"),
      std::vector<std::string>{"web/0000000000000000003/0000000000000000002-l0-1000-v2.json"});
}

}  // namespace
}  // namespace buildtrace::e2e
