// Tests of base selection (gaps, failed jobs skipped newest first, lazy status reads, errors) and
// of the exact explanation sentences.
#include "core/lineage.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <vector>

namespace buildtrace {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A fake store of job statuses that records which IDs were asked for.
class Statuses {
 public:
  explicit Statuses(std::map<int64_t, Result<JobStatus>> statuses)
      : statuses_(std::move(statuses)) {}

  std::function<Result<JobStatus>(int64_t)> Reader() {
    return [this](int64_t id) -> Result<JobStatus> {
      calls_.push_back(id);
      auto it = statuses_.find(id);
      if (it == statuses_.end()) return NotFound("job " + std::to_string(id) + " is not stored");
      return it->second;
    };
  }
  const std::vector<int64_t>& calls() const { return calls_; }

 private:
  std::map<int64_t, Result<JobStatus>> statuses_;
  std::vector<int64_t> calls_;
};

constexpr JobStatus kOk = JobStatus::kSucceeded;
constexpr JobStatus kFailed = JobStatus::kFailed;

BaseSelection Selection(std::optional<int64_t> base, std::vector<int64_t> skipped,
                        int64_t missing) {
  BaseSelection s;
  s.base_job_id = base;
  s.skipped_failed = std::move(skipped);
  s.missing_ids = missing;
  return s;
}

TEST(SelectBaseTest, LatestEarlierJobWithGaps) {
  Statuses store({{1, kOk}, {2, kOk}, {5, kOk}});
  const std::vector<int64_t> earlier = {1, 2, 5};
  Result<BaseSelection> r = SelectBase(7, earlier, store.Reader());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, Selection(5, {}, 1));  // 6 was never posted
  EXPECT_FALSE(r->explicit_base);
  EXPECT_THAT(store.calls(), ElementsAre(5));
}

TEST(SelectBaseTest, PreviousJob) {
  Statuses store({{6, kOk}});
  const std::vector<int64_t> earlier = {6};
  Result<BaseSelection> r = SelectBase(7, earlier, store.Reader());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Selection(6, {}, 0));
}

TEST(SelectBaseTest, FailedJobsAreSkippedNewestFirstAndReadOnlyUntilASuccess) {
  Statuses store({{1, kOk}, {2, kOk}, {5, kFailed}, {6, kFailed}});
  const std::vector<int64_t> earlier = {1, 2, 5, 6};
  Result<BaseSelection> r = SelectBase(7, earlier, store.Reader());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Selection(2, {6, 5}, 2));            // 3 and 4 were never posted
  EXPECT_THAT(store.calls(), ElementsAre(6, 5, 2));  // never job 1
}

TEST(SelectBaseTest, FirstJobHasNoBase) {
  Statuses store({});
  const std::vector<int64_t> none;
  Result<BaseSelection> first = SelectBase(1, none, store.Reader());
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, Selection(std::nullopt, {}, 0));
  Result<BaseSelection> later = SelectBase(5, none, store.Reader());
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(*later, Selection(std::nullopt, {}, 4));
  EXPECT_THAT(store.calls(), IsEmpty());
}

TEST(SelectBaseTest, AllEarlierJobsFailed) {
  Statuses store({{2, kFailed}, {3, kFailed}});
  const std::vector<int64_t> earlier = {2, 3};
  Result<BaseSelection> r = SelectBase(5, earlier, store.Reader());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Selection(std::nullopt, {3, 2}, 2));  // 1 and 4 were never posted
  EXPECT_THAT(store.calls(), ElementsAre(3, 2));
}

TEST(SelectBaseTest, StatusErrorsArePropagatedAsTheyAre) {
  Statuses store({{1, kOk}, {4, kFailed}, {5, Result<JobStatus>(Unavailable("store is down"))}});
  const std::vector<int64_t> earlier = {1, 4, 5};
  Result<BaseSelection> r = SelectBase(6, earlier, store.Reader());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(), "store is down");
  EXPECT_THAT(store.calls(), ElementsAre(5));

  Statuses gap({{1, kOk}, {4, kFailed}});  // 3 is listed but cannot be read
  const std::vector<int64_t> listed = {1, 3, 4};
  Result<BaseSelection> missing = SelectBase(6, listed, gap.Reader());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "job 3 is not stored");
  EXPECT_THAT(gap.calls(), ElementsAre(4, 3));
}

TEST(ExplicitBaseTest, NamesTheBase) {
  BaseSelection want;
  want.base_job_id = 3;
  want.explicit_base = true;
  EXPECT_EQ(ExplicitBase(3), want);
}

TEST(ExplainBaseTest, PreviousJob) {
  EXPECT_EQ(ExplainBase(7, Selection(6, {}, 0)), "Job 6 is the previous job.");
}

TEST(ExplainBaseTest, SkippedFailedJobs) {
  EXPECT_EQ(ExplainBase(7, Selection(5, {6}, 0)),
            "Job 5 is the latest earlier job that succeeded; failed job 6 was skipped.");
  EXPECT_EQ(ExplainBase(7, Selection(2, {6, 5}, 2)),
            "Job 2 is the latest earlier job that succeeded; failed jobs 6, 5 were skipped; "
            "2 job IDs in between were never posted.");
}

TEST(ExplainBaseTest, Gaps) {
  EXPECT_EQ(ExplainBase(7, Selection(5, {}, 1)),
            "Job 5 is the latest earlier job that succeeded; 1 job ID in between was never "
            "posted.");
  EXPECT_EQ(ExplainBase(120, Selection(100, {}, 19)),
            "Job 100 is the latest earlier job that succeeded; 19 job IDs in between were never "
            "posted.");
}

TEST(ExplainBaseTest, LongListsOfFailedJobsAreShortened) {
  std::vector<int64_t> failed;
  for (int64_t id = 13; id >= 2; --id) failed.push_back(id);  // 12 jobs
  EXPECT_EQ(ExplainBase(14, Selection(1, failed, 0)),
            "Job 1 is the latest earlier job that succeeded; failed jobs 13, 12, 11, 10, 9, 8, 7, "
            "6, 5, 4 and 2 more were skipped.");
}

TEST(ExplainBaseTest, ExplicitBase) {
  EXPECT_EQ(ExplainBase(7, ExplicitBase(3)), "Job 3 was named as the base by the request.");
  EXPECT_EQ(ExplainBase(7, ExplicitBase(6)), "Job 6 was named as the base by the request.");
}

TEST(ExplainBaseTest, NoBase) {
  EXPECT_EQ(ExplainBase(1, Selection(std::nullopt, {}, 0)),
            "No earlier job succeeded, so every object counts as added.");
  EXPECT_EQ(ExplainBase(5, Selection(std::nullopt, {3, 2}, 2)),
            "No earlier job succeeded, so every object counts as added; failed jobs 3, 2 were "
            "skipped; 2 job IDs in between were never posted.");
  EXPECT_EQ(ExplainBase(2, Selection(std::nullopt, {1}, 0)),
            "No earlier job succeeded, so every object counts as added; failed job 1 was "
            "skipped.");
}

}  // namespace
}  // namespace buildtrace
