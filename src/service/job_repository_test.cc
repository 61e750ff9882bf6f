// Tests of JobRepository on the real FileStateStore, each in a fresh temporary folder: object
// names, the digest, immutability and idempotency of Store, listing, and how Load reports
// missing and corrupt jobs. Store failures come from FaultyStateStore.
#include "service/job_repository.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "core/canonical_hash.h"
#include "core/diff.h"
#include "core/job_writer.h"
#include "core/stored_job.h"
#include "store/file_state_store.h"
#include "testing/faulty_state_store.h"

namespace buildtrace {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Method = FaultyStateStore::Method;

// Job 12 of project "p" as a client might send it: fields out of order, extra spaces, a latency
// written as 1500.0 and no status (so "succeeded").
constexpr std::string_view kJob12 =
    R"({"state": {"A": "door_10_20_5_5", "B": "wall_0_0_100_10"}, "latency_ms": 1500.0,
        "timestamp": "2026-11-28T10:00:00Z", "job_id": 12, "project": "p",
        "metadata": {"branch": "main", "commit": "abc"}})";

// Its stored form, and the SHA-256 of those bytes (computed with sha256sum).
constexpr std::string_view kJob12Stored =
    "{\"job_id\":12,\"project\":\"p\",\"timestamp\":\"2026-11-28T10:00:00Z\",\"latency_ms\":1500,"
    "\"status\":\"succeeded\",\"metadata\":{\"branch\":\"main\",\"commit\":\"abc\"},"
    "\"state\":{\"A\":\"door_10_20_5_5\",\"B\":\"wall_0_0_100_10\"}}\n";
// The stored form: the canonical bytes with their digest kept as a last member.
std::string Sealed(std::string_view canonical) {
  std::string sealed(canonical);
  SealStoredJob(sealed, ContentDigest(canonical));
  return sealed;
}

constexpr std::string_view kJob12Digest =
    "sha256:1156de1e18c1d205c8cc28e3a1889a9925220f6d0afc5ba4654d6e8dc53727ba";

std::unique_ptr<ParsedJobs> Parse(std::string_view json) {
  simdjson::padded_string padded(json);
  Result<std::unique_ptr<ParsedJobs>> parsed = ParseJobDocument(padded, ParseLimits{});
  if (!parsed.ok()) {
    ADD_FAILURE() << "test job does not parse: " << parsed.status().message();
    return nullptr;
  }
  return std::move(*parsed);
}

// A minimal succeeded job of `project` with the given ID and state JSON.
std::string JobJson(std::string_view project, int64_t id, std::string_view state = R"({"A":"a"})",
                    std::string_view extra = "") {
  return R"({"job_id":)" + std::to_string(id) + R"(,"project":")" + std::string(project) +
         R"(","timestamp":"2026-11-28T10:00:00Z","latency_ms":10,"state":)" + std::string(state) +
         std::string(extra) + "}";
}

auto Summary(const ProjectSummary& p) { return std::tuple(p.project, p.jobs, p.latest_job_id); }

class JobRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = ::testing::TempDir() + "bt-job-repository-XXXXXX";
    ASSERT_NE(::mkdtemp(folder_.data()), nullptr) << "cannot make a temporary folder";
    auto opened = FileStateStore::Open(folder_ + "/store");
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    file_store_ = std::move(*opened);
    store_ = std::make_unique<FaultyStateStore>(*file_store_);
    jobs_ = std::make_unique<JobRepository>(*store_, ParseLimits{});
  }
  void TearDown() override {
    jobs_.reset();
    store_.reset();
    file_store_.reset();
    std::error_code ignored;
    fs::remove_all(folder_, ignored);
  }

  // Parses and stores `json`, expecting success.
  StoredJob StoreOk(std::string_view json) {
    auto parsed = Parse(json);
    if (!parsed) return {};
    Result<StoredJob> stored = jobs_->Store(parsed->jobs().front());
    EXPECT_TRUE(stored.ok()) << stored.status().message();
    return stored.ok() ? *stored : StoredJob{};
  }

  // The bytes under `name` in the real store, read past the wrapper.
  std::string StoredBytes(const std::string& name) {
    Result<std::string> bytes = file_store_->Read(name);
    EXPECT_TRUE(bytes.ok()) << bytes.status().message();
    return bytes.ok() ? *bytes : "";
  }

  std::string folder_;
  std::unique_ptr<FileStateStore> file_store_;
  std::unique_ptr<FaultyStateStore> store_;
  std::unique_ptr<JobRepository> jobs_;
};

TEST(JobObjectNameTest, PadsTheIdToNineteenDigits) {
  EXPECT_EQ(JobObjectName("p", 12), "jobs/p/0000000000000000012.json");
  EXPECT_EQ(JobObjectName("default", 1), "jobs/default/0000000000000000001.json");
  EXPECT_EQ(JobObjectName("web.app-2", kMaxJobId), "jobs/web.app-2/9223372036854775807.json");
}

TEST_F(JobRepositoryTest, StoreWritesTheSerializedJobAndReturnsItsDigest) {
  auto parsed = Parse(kJob12);
  ASSERT_NE(parsed, nullptr);
  const Job& job = parsed->jobs().front();
  ASSERT_EQ(SerializeJob(job), kJob12Stored);

  Result<StoredJob> stored = jobs_->Store(job);
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  EXPECT_TRUE(stored->created);
  EXPECT_EQ(stored->digest, kJob12Digest);
  EXPECT_EQ(StoredBytes("jobs/p/0000000000000000012.json"), Sealed(kJob12Stored));
}

// The check given to StoreManyChecked runs in the store's preparation, after the digests: its
// refusal stores nothing and is the answer; then the same jobs go in with their digests.
TEST_F(JobRepositoryTest, StoreManyCheckedStoresNothingWhenItsCheckRefuses) {
  auto parsed = Parse(kJob12);
  ASSERT_NE(parsed, nullptr);
  int checks = 0;
  const auto refused = jobs_->StoreManyChecked(parsed->jobs(), [&] {
    ++checks;
    return InvalidArgument("refused by the check");
  });
  EXPECT_EQ(checks, 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(), "refused by the check");
  EXPECT_EQ(file_store_->Read("jobs/p/0000000000000000012.json").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(*jobs_->ListJobIds("p"), std::vector<int64_t>{});
  // Nor the job index's mark of the new project, which comes only with jobs that are stored.
  EXPECT_EQ(file_store_->List("index-projects/")->size(), 0u);
  const auto stored = jobs_->StoreManyChecked(parsed->jobs(), [&] {
    ++checks;
    return Status::Ok();
  });
  EXPECT_EQ(checks, 2);
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  ASSERT_EQ(stored->size(), 1u);
  ASSERT_TRUE((*stored)[0].ok()) << (*stored)[0].status().message();
  EXPECT_EQ((*stored)[0]->digest, kJob12Digest);
  EXPECT_EQ(StoredBytes("jobs/p/0000000000000000012.json"), Sealed(kJob12Stored));
  EXPECT_EQ(*jobs_->ListJobIds("p"), std::vector<int64_t>{12});
}

TEST_F(JobRepositoryTest, StoringTheSameJobAgainIsNotACreate) {
  const StoredJob first = StoreOk(kJob12);
  const StoredJob second = StoreOk(kJob12);
  EXPECT_TRUE(first.created);
  EXPECT_FALSE(second.created);
  EXPECT_EQ(second.digest, kJob12Digest);
}

TEST_F(JobRepositoryTest, SameJobWithItsStateInAnotherOrderIsNotACreate) {
  StoreOk(kJob12);
  const StoredJob again = StoreOk(
      R"({"job_id":12,"project":"p","timestamp":"2026-11-28T10:00:00Z","latency_ms":1500,
          "status":"succeeded","metadata":{"branch":"main","commit":"abc"},
          "state":{"B":"wall_0_0_100_10","A":"door_10_20_5_5"}})");
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.digest, kJob12Digest);  // the digest of what is stored, not of the new order
  EXPECT_EQ(StoredBytes("jobs/p/0000000000000000012.json"), Sealed(kJob12Stored));
}

TEST_F(JobRepositoryTest, SameJobWithItsMetadataInAnotherOrderIsNotACreate) {
  StoreOk(kJob12);
  const StoredJob again = StoreOk(
      R"({"job_id":12,"project":"p","timestamp":"2026-11-28T10:00:00Z","latency_ms":1500,
          "metadata":{"commit":"abc","branch":"main"},
          "state":{"A":"door_10_20_5_5","B":"wall_0_0_100_10"}})");
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.digest, kJob12Digest);
}

// Each variant differs from kJob12 in one respect; all must conflict and leave the stored job.
TEST_F(JobRepositoryTest, DifferentJobUnderTheSameIdConflictsAndLeavesTheStoredOne) {
  StoreOk(kJob12);
  const std::string header = R"("job_id":12,"project":"p","timestamp":"2026-11-28T10:00:00Z",)";
  const std::string metadata = R"("metadata":{"branch":"main","commit":"abc"},)";
  const std::string state = R"("state":{"A":"door_10_20_5_5","B":"wall_0_0_100_10"})";
  // Each variant, and the one field it changes.
  const std::vector<std::pair<std::string, std::string>> variants = {
      {"{" + header + R"("latency_ms":1501,)" + metadata + state + "}", "latency_ms"},
      {"{" + header + R"("latency_ms":1500,"status":"failed",)" + metadata + state + "}", "status"},
      {"{" + header + R"("latency_ms":1500,"metadata":{"branch":"dev","commit":"abc"},)" + state +
           "}",
       "metadata"},
      {"{" + header + R"("latency_ms":1500,)" + metadata +
           R"("state":{"A":"door_10_20_5_6","B":"wall_0_0_100_10"}})",
       "state"},
      {"{" + header + R"("latency_ms":1500,)" + metadata +
           R"("state":{"A":"door_10_20_5_5","B":"wall_0_0_100_10","C":"c"}})",
       "state"},
      {"{" + header + R"("latency_ms":1500,)" + metadata + R"("state":{"A":"door_10_20_5_5"}})",
       "state"},
      {R"({"job_id":12,"project":"p","timestamp":"2026-11-28T10:00:01Z","latency_ms":1500,)" +
           metadata + state + "}",
       "timestamp"},
  };
  for (const auto& [variant, field] : variants) {
    SCOPED_TRACE(variant);
    auto parsed = Parse(variant);
    ASSERT_NE(parsed, nullptr);
    Result<StoredJob> stored = jobs_->Store(parsed->jobs().front());
    ASSERT_FALSE(stored.ok());
    EXPECT_EQ(stored.status().code(), StatusCode::kConflict);
    EXPECT_EQ(
        stored.status().message(),
        "job 12 of project p is already stored with a different " + field +
            "; jobs are immutable: post it under a new job_id, or, to start a run over, post it "
            "to a new project or delete the project (DELETE /projects/p, `buildtrace "
            "delete-project p --yes`) and post again");
    EXPECT_EQ(StoredBytes("jobs/p/0000000000000000012.json"), Sealed(kJob12Stored));
  }
}

TEST_F(JobRepositoryTest, AConflictNamesEveryFieldThatDiffers) {
  StoreOk(kJob12);
  auto parsed = Parse(
      R"({"job_id":12,"project":"p","timestamp":"2026-11-28T11:00:00Z","latency_ms":9,
          "state":{"A":"door_10_20_5_5"}})");
  ASSERT_NE(parsed, nullptr);
  Result<StoredJob> stored = jobs_->Store(parsed->jobs().front());
  ASSERT_FALSE(stored.ok());
  EXPECT_THAT(stored.status().message(),
              HasSubstr("already stored with a different timestamp, latency_ms, metadata, state;"));
}

// The same instant spelled another way is the same job: a replay, not a conflict.
TEST_F(JobRepositoryTest, TheSameInstantWithAnotherOffsetIsAReplay) {
  StoreOk(kJob12);
  for (const char* timestamp : {"2026-11-28T10:00:00+00:00", "2026-11-28T11:00:00+01:00",
                                "2026-11-28T10:00:00.000Z", "2026-11-28T05:30:00-04:30"}) {
    SCOPED_TRACE(timestamp);
    const StoredJob again = StoreOk(R"({"job_id":12,"project":"p","timestamp":")" +
                                    std::string(timestamp) + R"(","latency_ms":1500,
          "metadata":{"branch":"main","commit":"abc"},
          "state":{"A":"door_10_20_5_5","B":"wall_0_0_100_10"}})");
    EXPECT_FALSE(again.created);
    EXPECT_EQ(again.digest, kJob12Digest);  // the stored job's, unchanged
  }
  EXPECT_EQ(StoredBytes("jobs/p/0000000000000000012.json"), Sealed(kJob12Stored));
}

// A damaged stored object is not a conflict with the client's job (which says "post it under a
// new job_id"); it is corruption, reported as Load reports it.
TEST_F(JobRepositoryTest, StoringOverACorruptObjectIsInternalAndLeavesIt) {
  ASSERT_TRUE(file_store_->CreateIfAbsent(JobObjectName("p", 12), "{\"job_id\":").ok());
  auto parsed = Parse(kJob12);
  ASSERT_NE(parsed, nullptr);
  Result<StoredJob> stored = jobs_->Store(parsed->jobs().front());
  ASSERT_FALSE(stored.ok());
  EXPECT_EQ(stored.status().code(), StatusCode::kInternal);
  EXPECT_THAT(stored.status().message(), HasSubstr("jobs/p/0000000000000000012.json"));
  EXPECT_THAT(stored.status().message(), HasSubstr("corrupt"));
  EXPECT_EQ(StoredBytes("jobs/p/0000000000000000012.json"), "{\"job_id\":");
}

// The digest kept in the object: reads give the canonical bytes back, any damage is found, and
// objects written before sealing existed are still read.
TEST_F(JobRepositoryTest, ReadsCheckTheDigestKeptWithTheJob) {
  StoreOk(kJob12);
  Result<std::string> raw = jobs_->ReadRaw("p", 12);
  ASSERT_TRUE(raw.ok()) << raw.status().message();
  EXPECT_EQ(*raw, kJob12Stored);
  EXPECT_EQ(ContentDigest(*raw), kJob12Digest);

  std::string damaged = Sealed(kJob12Stored);
  damaged[damaged.find("door_10")] = 'f';
  ASSERT_TRUE(file_store_->CreateIfAbsent(JobObjectName("p", 13), damaged).ok());
  for (const Status& s : {jobs_->ReadRaw("p", 13).status(), jobs_->Load("p", 13).status(),
                          jobs_->LoadHeader("p", 13).status()}) {
    EXPECT_EQ(s.code(), StatusCode::kInternal);
    EXPECT_EQ(s.reason(), "corrupt_object");
    EXPECT_THAT(s.message(), HasSubstr("stored object jobs/p/0000000000000000013.json in file://"));
  }
  EXPECT_EQ(jobs_->corrupt_objects(), 3u);

  const std::string legacy = "{\"job_id\":14" + std::string(kJob12Stored).substr(12);
  ASSERT_TRUE(file_store_->CreateIfAbsent(JobObjectName("p", 14), legacy).ok());
  Result<std::string> old = jobs_->ReadRaw("p", 14);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(*old, legacy);
  EXPECT_TRUE(jobs_->Load("p", 14).ok());
}

TEST_F(JobRepositoryTest, SameIdInAnotherProjectIsAnotherJob) {
  StoreOk(JobJson("p", 12));
  const StoredJob other = StoreOk(JobJson("q", 12, R"({"A":"different"})"));
  EXPECT_TRUE(other.created);
}

TEST_F(JobRepositoryTest, ListJobIdsIsAscendingNumericAndOnlyThatProject) {
  for (int64_t id : {100, 2, 10}) StoreOk(JobJson("p", id));
  StoreOk(JobJson("pa", 5));
  StoreOk(JobJson("q", 1));
  // Objects below the project's folder that are not jobs are ignored.
  ASSERT_TRUE(file_store_->CreateIfAbsent("jobs/p/notes.json", "x").ok());
  ASSERT_TRUE(file_store_->CreateIfAbsent("jobs/p/0000000000000000000.json", "x").ok());

  Result<std::vector<int64_t>> ids = jobs_->ListJobIds("p");
  ASSERT_TRUE(ids.ok()) << ids.status().message();
  EXPECT_THAT(*ids, ElementsAre(2, 10, 100));

  Result<std::vector<int64_t>> none = jobs_->ListJobIds("nobody");
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_THAT(*none, IsEmpty());
}

TEST_F(JobRepositoryTest, ListProjectsCountsJobsAndTakesTheHighestId) {
  StoreOk(JobJson("beta", 1));
  StoreOk(JobJson("alpha", 7));
  StoreOk(JobJson("alpha", 3));
  StoreOk(JobJson("alpha", 10));

  Result<std::vector<ProjectSummary>> projects = jobs_->ListProjects();
  ASSERT_TRUE(projects.ok()) << projects.status().message();
  ASSERT_EQ(projects->size(), 2u);
  EXPECT_EQ(Summary((*projects)[0]), std::tuple(std::string("alpha"), int64_t{3}, int64_t{10}));
  EXPECT_EQ(Summary((*projects)[1]), std::tuple(std::string("beta"), int64_t{1}, int64_t{1}));
}

// "a-b" and "a.c" list before "a/" in byte order of object names ('-' and '.' sort before '/'),
// but the projects themselves are listed by name.
TEST_F(JobRepositoryTest, ListProjectsIsSortedByProjectName) {
  StoreOk(JobJson("a-b", 1));
  StoreOk(JobJson("a", 4));
  StoreOk(JobJson("a", 2));
  StoreOk(JobJson("a.c", 3));

  Result<std::vector<ProjectSummary>> projects = jobs_->ListProjects();
  ASSERT_TRUE(projects.ok()) << projects.status().message();
  ASSERT_EQ(projects->size(), 3u);
  EXPECT_EQ(Summary((*projects)[0]), std::tuple(std::string("a"), int64_t{2}, int64_t{4}));
  EXPECT_EQ(Summary((*projects)[1]), std::tuple(std::string("a-b"), int64_t{1}, int64_t{1}));
  EXPECT_EQ(Summary((*projects)[2]), std::tuple(std::string("a.c"), int64_t{1}, int64_t{3}));
}

TEST_F(JobRepositoryTest, ListProjectsOfAnEmptyStoreIsEmpty) {
  Result<std::vector<ProjectSummary>> projects = jobs_->ListProjects();
  ASSERT_TRUE(projects.ok()) << projects.status().message();
  EXPECT_THAT(*projects, IsEmpty());
}

TEST_F(JobRepositoryTest, LoadGivesBackTheStoredJob) {
  auto original = Parse(kJob12);
  ASSERT_NE(original, nullptr);
  StoreOk(kJob12);
  Result<std::unique_ptr<ParsedJobs>> loaded = jobs_->Load("p", 12);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_EQ((*loaded)->jobs().size(), 1u);
  EXPECT_TRUE(SameJob((*loaded)->jobs().front(), original->jobs().front()));
  EXPECT_EQ(SerializeJob((*loaded)->jobs().front()), kJob12Stored);

  Result<std::string> raw = jobs_->ReadRaw("p", 12);
  ASSERT_TRUE(raw.ok()) << raw.status().message();
  EXPECT_EQ(*raw, kJob12Stored);
}

// Every stored job's header is cached for lineage; with the metadata limits (64 entries of up
// to 4 KiB) a header may hold 270 KB, so the cache must be bounded in bytes, not in headers:
// when it held up to 100 000 headers, the server's memory grew by the metadata of every job.
TEST_F(JobRepositoryTest, HeaderCacheStaysWithinItsByteBudgetAndDroppedHeadersReadBackWhole) {
  std::string metadata = R"(,"metadata":{)";
  for (int i = 0; i < 64; ++i) {
    metadata +=
        (i > 0 ? ",\"k" : "\"k") + std::to_string(i) + "\":\"" + std::string(4096, 'v') + "\"";
  }
  metadata += "}";
  constexpr int kJobs = 64;  // about 17 MB of metadata, twice the cache's budget
  for (int id = 1; id <= kJobs; ++id) StoreOk(JobJson("p", id, R"({"A":"a"})", metadata));
  EXPECT_GT(jobs_->cached_header_bytes(), 0u);
  EXPECT_LE(jobs_->cached_header_bytes(), JobRepository::kMaxCachedHeaderBytes);

  for (int id : {1, kJobs}) {  // the first was dropped from the cache, the last is in it
    Result<JobHeader> header = jobs_->LoadHeader("p", id);
    ASSERT_TRUE(header.ok()) << header.status().message();
    EXPECT_EQ(header->job_id, id);
    ASSERT_EQ(header->metadata.size(), 64u);
    EXPECT_EQ(header->metadata[63].first, "k63");
    EXPECT_EQ(header->metadata[63].second, std::string(4096, 'v'));
  }
}

TEST_F(JobRepositoryTest, LoadOfAMissingJobIsNotFound) {
  StoreOk(JobJson("p", 4));
  Result<std::unique_ptr<ParsedJobs>> loaded = jobs_->Load("p", 5);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(loaded.status().message(),
            "job 5 of project p does not exist; post it to /process first");

  Result<std::string> raw = jobs_->ReadRaw("p", 5);
  ASSERT_FALSE(raw.ok());
  EXPECT_EQ(raw.status().code(), StatusCode::kNotFound);
}

TEST_F(JobRepositoryTest, LoadOfACorruptObjectIsInternalAndNamesIt) {
  ASSERT_TRUE(file_store_->CreateIfAbsent(JobObjectName("p", 5), "{\"job_id\": 5, garbage").ok());
  Result<std::unique_ptr<ParsedJobs>> loaded = jobs_->Load("p", 5);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInternal);
  EXPECT_EQ(loaded.status().reason(), "corrupt_object");
  EXPECT_EQ(loaded.status().message(),
            "stored job p/5 (jobs/p/0000000000000000005.json in " + file_store_->Describe() +
                ") is corrupt: the document is not valid JSON (JSON document ended early in the "
                "middle of an object or array.); restore it from a "
                "backup");
}

// A repeated object ID in a stored job is a corrupt object, named. A caller that diffs the state
// (IdCheck::kByTheDiff) leaves the check of a sealed job to the diff: POST validated those bytes,
// and the digest proves them unchanged. An object from before sealing (no digest) is checked
// either way.
TEST_F(JobRepositoryTest, ARepeatedIdIsCorruptUnlessTheCallerDiffsASealedJob) {
  constexpr auto kByTheDiff = JobRepository::IdCheck::kByTheDiff;
  std::string legacy(kJob12Stored);
  legacy.replace(legacy.find("\"B\""), 3, "\"A\"");
  ASSERT_TRUE(file_store_->CreateIfAbsent(JobObjectName("p", 12), legacy).ok());
  // Sealed by something other than POST /process, which refuses a repeated ID.
  std::string sealed = "{\"job_id\":13" + legacy.substr(12);
  SealStoredJob(sealed, ContentDigest(sealed));
  ASSERT_TRUE(file_store_->CreateIfAbsent(JobObjectName("p", 13), sealed).ok());
  for (const auto& [id, ids] :
       {std::pair{12, JobRepository::IdCheck::kByLoad}, std::pair{12, kByTheDiff},
        std::pair{13, JobRepository::IdCheck::kByLoad}}) {
    Result<std::unique_ptr<ParsedJobs>> loaded = jobs_->Load("p", id, ids);
    ASSERT_FALSE(loaded.ok()) << id;
    EXPECT_EQ(loaded.status().reason(), "corrupt_object");
    EXPECT_THAT(loaded.status().message(), HasSubstr("this object ID appears twice"));
  }
  EXPECT_EQ(jobs_->corrupt_objects(), 3u);

  Result<std::unique_ptr<ParsedJobs>> unchecked = jobs_->Load("p", 13, kByTheDiff);
  ASSERT_TRUE(unchecked.ok()) << unchecked.status().message();
  const Result<DiffResult> diff = DiffStates((*unchecked)->jobs()[0].state, {}, 10);
  ASSERT_FALSE(diff.ok());
  EXPECT_EQ(diff.status().message(),
            "object ID \"A\" appears twice in the earlier job; each object must appear once");
}

TEST_F(JobRepositoryTest, LoadOfAnObjectHoldingAnotherJobIsInternal) {
  ASSERT_TRUE(file_store_->CreateIfAbsent(JobObjectName("p", 5), JobJson("p", 6)).ok());
  Result<std::unique_ptr<ParsedJobs>> loaded = jobs_->Load("p", 5);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kInternal);
  EXPECT_THAT(loaded.status().message(), HasSubstr("jobs/p/0000000000000000005.json"));
  EXPECT_THAT(loaded.status().message(), HasSubstr("holds another job"));
}

TEST_F(JobRepositoryTest, StoreFailureOnCreateIsPropagatedAndStoresNothing) {
  StoreOk(JobJson("p", 1));  // the project is known: its index is marked complete already
  store_->Fail(Method::kCreateIfAbsent, Unavailable("store is down; retry later"));
  auto parsed = Parse(kJob12);
  ASSERT_NE(parsed, nullptr);
  Result<StoredJob> stored = jobs_->Store(parsed->jobs().front());
  ASSERT_FALSE(stored.ok());
  EXPECT_EQ(stored.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(stored.status().message(), "store is down; retry later");

  store_->Heal();
  Result<std::vector<int64_t>> ids = jobs_->ListJobIds("p");
  ASSERT_TRUE(ids.ok()) << ids.status().message();
  EXPECT_EQ(*ids, std::vector<int64_t>{1});
}

// A re-post must read the stored job to compare; when that read fails the answer is the read's
// error, not a conflict and not a success.
TEST_F(JobRepositoryTest, StoreFailureReadingTheExistingJobIsPropagated) {
  StoreOk(kJob12);
  store_->Fail(Method::kRead, Unavailable("cannot read the store"));
  auto parsed = Parse(kJob12);
  ASSERT_NE(parsed, nullptr);
  Result<StoredJob> stored = jobs_->Store(parsed->jobs().front());
  ASSERT_FALSE(stored.ok());
  EXPECT_EQ(stored.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(stored.status().message(), "cannot read the store");
}

TEST_F(JobRepositoryTest, ListFailuresArePropagated) {
  StoreOk(kJob12);
  store_->Fail(Method::kList, Unavailable("cannot list"));
  Result<std::vector<int64_t>> ids = jobs_->ListJobIds("p");
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(ids.status().code(), StatusCode::kUnavailable);
  Result<std::vector<ProjectSummary>> projects = jobs_->ListProjects();
  ASSERT_FALSE(projects.ok());
  EXPECT_EQ(projects.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(projects.status().message(), "cannot list");
}

// A FaultyStateStore that runs `on_list` (once) when a listing of `prefix` starts: lets a test
// put a whole request between another's steps.
class ListHookStore : public FaultyStateStore {
 public:
  ListHookStore(StateStore& target, std::string prefix, std::function<void()> on_list)
      : FaultyStateStore(target), prefix_(std::move(prefix)), on_list_(std::move(on_list)) {}
  Result<std::vector<std::string>> List(std::string_view prefix) override {
    if (prefix == prefix_ && on_list_) std::exchange(on_list_, nullptr)();
    return FaultyStateStore::List(prefix);
  }

 private:
  std::string prefix_;
  std::function<void()> on_list_;
};

// Two first requests of a project, the second stored whole while the first looks at the project:
// the index is complete all the same, and holds both jobs. (Decided after storing, as it once
// was, each saw the other's job and neither marked it.)
TEST_F(JobRepositoryTest, ConcurrentFirstRequestsOfAProjectMakeItsIndexComplete) {
  auto first = Parse(JobJson("p", 1));
  auto second = Parse(JobJson("p", 2));
  ASSERT_TRUE(first && second);
  std::unique_ptr<JobRepository> jobs;
  ListHookStore hooked(*file_store_, "jobs/p/", [&] {
    std::thread other([&] {
      std::vector<Result<StoredJob>> stored = jobs->StoreMany(second->jobs());
      EXPECT_TRUE(stored.front().ok()) << stored.front().status().message();
    });
    other.join();
  });
  jobs = std::make_unique<JobRepository>(hooked, ParseLimits{});
  std::vector<Result<StoredJob>> stored = jobs->StoreMany(first->jobs());
  ASSERT_TRUE(stored.front().ok()) << stored.front().status().message();
  Result<std::vector<int64_t>> ids = jobs->ListJobIds("p");
  ASSERT_TRUE(ids.ok()) << ids.status().message();
  EXPECT_EQ(*ids, (std::vector<int64_t>{1, 2}));
  Result<bool> complete = JobIndex(*file_store_).IsComplete("p");
  ASSERT_TRUE(complete.ok()) << complete.status().message();
  EXPECT_TRUE(*complete);
  std::vector<int64_t> indexed;
  ASSERT_TRUE(JobIndex(*file_store_)
                  .Ascending("p", std::nullopt,
                             [&](const IndexedJob& job) {
                               indexed.push_back(job.job_id);
                               return true;
                             })
                  .ok());
  EXPECT_EQ(indexed, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(jobs->index_failures(), 0u);
}

// Whether `project`'s index is complete, as a fresh reader of the store sees it (false on error,
// which fails the test).
bool MarkedComplete(StateStore& store, std::string_view project) {
  Result<bool> complete = JobIndex(store).IsComplete(project);
  EXPECT_TRUE(complete.ok()) << complete.status().message();
  return complete.ok() && *complete;
}

// A project with a job stored before its index (by an earlier version) is left to the sweep:
// listed by the first request of this process, not by every later one.
TEST_F(JobRepositoryTest, AProjectWithJobsButNoCompleteIndexIsListedOncePerProcess) {
  auto legacy = Parse(JobJson("p", 1));
  ASSERT_NE(legacy, nullptr);
  ASSERT_TRUE(
      file_store_
          ->CreateIfAbsent(JobObjectName("p", 1), Sealed(SerializeJob(legacy->jobs().front())))
          .ok());
  for (int64_t id : {2, 3, 4}) StoreOk(JobJson("p", id));
  EXPECT_EQ(store_->Calls(Method::kList), 1);
  EXPECT_FALSE(MarkedComplete(*file_store_, "p"));
  // A new project is listed once too, and its index is complete from its first job on.
  for (int64_t id : {1, 2, 3}) StoreOk(JobJson("q", id));
  EXPECT_EQ(store_->Calls(Method::kList), 2);
  EXPECT_TRUE(MarkedComplete(*file_store_, "q"));
  EXPECT_FALSE(MarkedComplete(*file_store_, "p"));
  // Deleted (ProjectDeletion removes the files, then makes the repository forget the project),
  // "p" is a new project again: listed once more, and complete from its next first job on.
  fs::remove_all(folder_ + "/store/jobs/p");
  fs::remove_all(folder_ + "/store/index/p");
  jobs_->ForgetProject("p");
  StoreOk(JobJson("p", 1));
  EXPECT_EQ(store_->Calls(Method::kList), 3);
  EXPECT_TRUE(MarkedComplete(*file_store_, "p"));
  EXPECT_EQ(jobs_->index_failures(), 0u);
}

// A new project whose mark the store refuses is not stored without it (it would pass for one of
// an earlier version, listed until the sweep): the batch fails whole, and its retry marks it.
TEST_F(JobRepositoryTest, ANewProjectThatCannotBeMarkedCompleteStoresNothing) {
  auto parsed = Parse(JobJson("p", 1));
  ASSERT_NE(parsed, nullptr);
  store_->Fail(Method::kCreateIfAbsent, Unavailable("injected: store went away"));
  std::vector<Result<StoredJob>> stored = jobs_->StoreMany(parsed->jobs());
  ASSERT_EQ(stored.size(), 1u);
  ASSERT_FALSE(stored[0].ok());
  EXPECT_EQ(stored[0].status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(stored[0].status().message(),
            "marking the job index of project p complete: injected: store went away");
  EXPECT_EQ(file_store_->List("jobs/")->size(), 0u);
  EXPECT_FALSE(MarkedComplete(*file_store_, "p"));
  store_->Heal();
  stored = jobs_->StoreMany(parsed->jobs());
  ASSERT_TRUE(stored[0].ok()) << stored[0].status().message();
  EXPECT_TRUE(MarkedComplete(*file_store_, "p"));
}

// A new project whose first jobs cannot be indexed loses its mark again: marked complete, its
// index would hide them from lineage until the sweep; unmarked, readers list its jobs.
TEST_F(JobRepositoryTest, ANewProjectWhoseFirstJobsCannotBeIndexedIsNotLeftMarked) {
  auto parsed = Parse(JobJson("p", 1));
  ASSERT_NE(parsed, nullptr);
  // Call 1 is the job's create, call 2 the mark's (in the store's preparation); the index's fail.
  store_->FailFrom(Method::kCreateIfAbsent, 2, Unavailable("injected: store went away"));
  std::vector<Result<StoredJob>> stored = jobs_->StoreMany(parsed->jobs());
  ASSERT_TRUE(stored[0].ok()) << stored[0].status().message();
  EXPECT_EQ(store_->CreateCallsUnder("index-projects/"), 1);
  EXPECT_EQ(jobs_->index_failures(), 1u);
  EXPECT_FALSE(MarkedComplete(*file_store_, "p"));
  Result<bool> here = jobs_->index().IsComplete("p");
  ASSERT_TRUE(here.ok()) << here.status().message();
  EXPECT_FALSE(*here);
  Result<std::vector<int64_t>> ids = jobs_->ListJobIds("p");
  ASSERT_TRUE(ids.ok()) << ids.status().message();
  EXPECT_EQ(*ids, std::vector<int64_t>{1});
}

TEST(SameJobTest, ComparesHeaderAndObjectsInAnyOrder) {
  auto a = Parse(JobJson("p", 1, R"({"A":"a","B":{"x":1,"type":"t"}})"));
  auto b = Parse(JobJson("p", 1, R"({"B":{"type":"t","x":1.0},"A":"a"})"));
  auto c = Parse(JobJson("p", 1, R"({"A":"a","B":"{\"type\":\"t\",\"x\":1}"})"));
  ASSERT_TRUE(a && b && c);
  EXPECT_TRUE(SameJob(a->jobs()[0], b->jobs()[0]));
  // A structured object and a hash string with the same text are different objects.
  EXPECT_FALSE(SameJob(a->jobs()[0], c->jobs()[0]));
}

}  // namespace
}  // namespace buildtrace
