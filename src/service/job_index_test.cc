// The job index: walks, base selection and the cost promise (listings counted, never timed).
#include "service/job_index.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "testing/temp_backends.h"

namespace buildtrace {
namespace {

using Method = FaultyStateStore::Method;
constexpr JobStatus kOk = JobStatus::kSucceeded;
constexpr JobStatus kFail = JobStatus::kFailed;

class JobIndexTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(backends_.ok()); }

  void Add(std::vector<IndexedJob> jobs, std::string_view project = "p") {
    Status added = index_.Add(project, jobs);
    ASSERT_TRUE(added.ok()) << added.message();
  }
  std::vector<IndexedJob> Down(std::optional<int64_t> before, size_t max) {
    std::vector<IndexedJob> out;
    Status s = index_.Descending("p", before, [&](const IndexedJob& j) {
      out.push_back(j);
      return out.size() < max;
    });
    EXPECT_TRUE(s.ok()) << s.message();
    return out;
  }
  BaseSelection Base(int64_t job_id) {
    Result<BaseSelection> s = index_.SelectBase("p", job_id);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? *s : BaseSelection{};
  }

  TempBackends backends_{"job_index"};
  JobIndex index_{*backends_.store()};
};

TEST_F(JobIndexTest, WalksNewestFirstAndOldestFirstAcrossFolders) {
  Add({{1, kOk}, {999, kFail}, {1000, kOk}, {1'000'001, kOk}, {9'000'000'000'000'000'000, kOk}});
  EXPECT_EQ(Down(std::nullopt, 10), (std::vector<IndexedJob>{{9'000'000'000'000'000'000, kOk},
                                                             {1'000'001, kOk},
                                                             {1000, kOk},
                                                             {999, kFail},
                                                             {1, kOk}}));
  EXPECT_EQ(Down(1'000'001, 2), (std::vector<IndexedJob>{{1000, kOk}, {999, kFail}}));
  EXPECT_EQ(Down(1, 10), std::vector<IndexedJob>{});
  std::vector<IndexedJob> up;
  ASSERT_TRUE(index_
                  .Ascending("p", 999,
                             [&](const IndexedJob& j) {
                               up.push_back(j);
                               return true;
                             })
                  .ok());
  EXPECT_EQ(up, (std::vector<IndexedJob>{
                    {1000, kOk}, {1'000'001, kOk}, {9'000'000'000'000'000'000, kOk}}));
}

TEST_F(JobIndexTest, AddingTwiceIsHarmlessAndProjectsAreListed) {
  Add({{5, kOk}});
  Add({{5, kOk}, {6, kFail}});
  Add({{1, kOk}}, "other");
  EXPECT_EQ(Down(std::nullopt, 10), (std::vector<IndexedJob>{{6, kFail}, {5, kOk}}));
  // Only projects marked complete are listed; the mark is in the store, for every instance.
  EXPECT_EQ(*index_.Projects(), std::vector<std::string>{});
  EXPECT_FALSE(*index_.IsComplete("p"));
  ASSERT_TRUE(index_.MarkComplete("p").ok());
  ASSERT_TRUE(index_.MarkComplete("p").ok());
  ASSERT_TRUE(index_.MarkComplete("other").ok());
  EXPECT_EQ(*index_.Projects(), (std::vector<std::string>{"other", "p"}));
  JobIndex another(*backends_.store());
  EXPECT_TRUE(*another.IsComplete("other"));
}

TEST_F(JobIndexTest, SelectsTheBaseAsLineageDoes) {
  Add({{2, kOk}, {3, kFail}, {5, kFail}, {7, kOk}});
  BaseSelection six = Base(6);
  EXPECT_EQ(six.base_job_id, 2);
  EXPECT_EQ(six.skipped_failed, (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(six.missing_ids, 1);  // 4
  EXPECT_FALSE(six.skipped_failed_capped);
  EXPECT_EQ(Base(8).base_job_id, 7);
  EXPECT_EQ(Base(8).missing_ids, 0);
  BaseSelection first = Base(2);
  EXPECT_EQ(first.base_job_id, std::nullopt);
  EXPECT_EQ(first.missing_ids, 1);
}

TEST_F(JobIndexTest, FollowingStopsAtTheFirstLaterSuccess) {
  Add({{4, kOk}, {6, kFail}, {7, kFail}, {8, kOk}, {9, kOk}});
  Result<std::vector<IndexedJob>> after5 = index_.Following("p", 5, 100);
  ASSERT_TRUE(after5.ok());
  EXPECT_EQ(*after5, (std::vector<IndexedJob>{{6, kFail}, {7, kFail}, {8, kOk}}));
  EXPECT_EQ(*index_.Following("p", 9, 100), std::vector<IndexedJob>{});
  EXPECT_EQ(index_.Following("p", 5, 2)->size(), 2u);
}

TEST_F(JobIndexTest, ALongRunOfFailedJobsIsJumpedOver) {
  std::vector<IndexedJob> jobs{{10, kOk}};
  for (int64_t id = 11; id <= 2'600; ++id) jobs.push_back({id, kFail});
  Add(jobs);
  BaseSelection s = Base(2'601);
  EXPECT_EQ(s.base_job_id, 10);
  EXPECT_TRUE(s.skipped_failed_capped);
  ASSERT_EQ(s.skipped_failed.size(), JobIndex::kMaxSkippedListed);
  EXPECT_EQ(s.skipped_failed.front(), 2'600);
  EXPECT_EQ(s.skipped_failed.back(), 1'601);
  EXPECT_EQ(s.missing_ids, 0);
}

// The promise: base selection and the newest page cost the same number of listings however
// many jobs a project holds.
TEST_F(JobIndexTest, CostDoesNotGrowWithTheNumberOfJobs) {
  auto listings_for_base = [&](int64_t job_id) {
    const int64_t before = backends_.store()->Calls(Method::kList);
    BaseSelection s = Base(job_id);
    EXPECT_EQ(s.base_job_id, job_id - 1);
    return backends_.store()->Calls(Method::kList) - before;
  };
  std::vector<IndexedJob> jobs;
  for (int64_t id = 1; id <= 5'000; ++id) jobs.push_back({id, kOk});
  Add(jobs);
  EXPECT_EQ(listings_for_base(500), 1);  // the base in the job's own folder
  EXPECT_EQ(listings_for_base(4'500), 1);
  EXPECT_EQ(listings_for_base(5'000), 3);  // its folder, the folder above, the folder before
  EXPECT_EQ(listings_for_base(1'000), 3);  // the next folder up, to find the one before
  const int64_t before = backends_.store()->Calls(Method::kList);
  EXPECT_EQ(Down(std::nullopt, 50).front().job_id, 5'000);
  EXPECT_EQ(backends_.store()->Calls(Method::kList) - before, 8);  // c6 .. c1, then two leaves
}

TEST_F(JobIndexTest, RandomHistoriesAgreeWithLineage) {
  std::mt19937_64 random(7);
  std::vector<IndexedJob> jobs;
  std::vector<int64_t> ids;
  for (int64_t id = 1; id <= 1'500; ++id) {
    if (random() % 3 == 0) continue;  // a gap
    jobs.push_back({id * 997, random() % 4 == 0 ? kFail : kOk});
    ids.push_back(id * 997);
  }
  std::shuffle(jobs.begin(), jobs.end(), random);
  Add(jobs);
  std::map<int64_t, JobStatus> status;
  for (const IndexedJob& j : jobs) status[j.job_id] = j.status;
  for (int i = 0; i < 200; ++i) {
    const int64_t job_id = static_cast<int64_t>(random() % 1'500'000) + 1;
    std::vector<int64_t> earlier;
    for (int64_t id : ids) {
      if (id < job_id) earlier.push_back(id);
    }
    Result<BaseSelection> expected =
        SelectBase(job_id, earlier, [&](int64_t id) { return Result<JobStatus>(status[id]); });
    ASSERT_TRUE(expected.ok());
    EXPECT_EQ(Base(job_id), *expected) << "job " << job_id;
  }
}

TEST_F(JobIndexTest, StoreErrorsAreReturned) {
  Add({{1, kOk}});
  backends_.store()->Fail(Method::kList, Unavailable("the disk is gone"));
  Result<BaseSelection> s = index_.SelectBase("p", 2);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.status().message(), "the disk is gone");
  backends_.store()->Fail(Method::kCreateIfAbsent, Unavailable("read-only"));
  Status added = index_.Add("p", std::vector<IndexedJob>{{2'000'000, kOk}});
  EXPECT_EQ(added.code(), StatusCode::kUnavailable);
  EXPECT_THAT(added.message(), ::testing::HasSubstr("to the job index: read-only"));
}

}  // namespace
}  // namespace buildtrace
