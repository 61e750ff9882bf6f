// Tests of the job status cache: exact answers for jobs learned in any order, per project, and
// the bound.
#include "service/job_status_cache.h"

#include <gtest/gtest.h>

#include <random>

namespace buildtrace {
namespace {

JobStatus StatusOf(int64_t id) { return id % 3 == 0 ? JobStatus::kFailed : JobStatus::kSucceeded; }

TEST(JobStatusCacheTest, JobsLearnedInAnyOrderAreFound) {
  JobStatusCache cache;
  std::vector<int64_t> ids;
  for (int64_t id = 1; id <= 20000; id += 2) ids.push_back(id);
  std::mt19937 rng(3);
  std::shuffle(ids.begin(), ids.end(), rng);
  for (int64_t id : ids) cache.Remember("p", id, StatusOf(id));
  for (int64_t id = 20000; id >= 1; --id) cache.Remember("p", id, StatusOf(id));  // newest first
  cache.Remember("p", INT64_MAX, JobStatus::kFailed);
  EXPECT_EQ(cache.size(), 20001u);
  for (int64_t id = 1; id <= 20000; ++id) {
    ASSERT_EQ(cache.Find("p", id), StatusOf(id)) << id;
  }
  EXPECT_EQ(cache.Find("p", INT64_MAX), JobStatus::kFailed);
  EXPECT_EQ(cache.Find("p", 20001), std::nullopt);
  EXPECT_EQ(cache.Find("q", 1), std::nullopt);
}

TEST(JobStatusCacheTest, ProjectsAreSeparate) {
  JobStatusCache cache;
  cache.Remember("a", 5, JobStatus::kFailed);
  cache.Remember("b", 5, JobStatus::kSucceeded);
  EXPECT_EQ(cache.Find("a", 5), JobStatus::kFailed);
  EXPECT_EQ(cache.Find("b", 5), JobStatus::kSucceeded);
}

TEST(JobStatusCacheTest, StartsAgainEmptyWhenFull) {
  JobStatusCache cache(3);
  for (int64_t id = 1; id <= 3; ++id) cache.Remember("p", id, JobStatus::kSucceeded);
  EXPECT_EQ(cache.size(), 3u);
  cache.Remember("p", 3, JobStatus::kSucceeded);  // known: nothing changes
  EXPECT_EQ(cache.size(), 3u);
  cache.Remember("p", 4, JobStatus::kFailed);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.Find("p", 1), std::nullopt);
  EXPECT_EQ(cache.Find("p", 4), JobStatus::kFailed);
}

}  // namespace
}  // namespace buildtrace
