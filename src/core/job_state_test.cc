// Tests of the packed state entries: every length the parser allows (and the packing's own
// limits) comes back exactly, with its flag, in order; what does not fit is refused.
#include "core/job_state.h"

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace buildtrace {
namespace {

TEST(JobStateTest, EntriesComeBackExactlyAtEveryLength) {
  const std::string ids(JobState::kMaxIdBytes, 'i');
  const std::string values(JobState::kMaxValueBytes, 'v');
  std::mt19937_64 rng(5);
  std::vector<StateEntry> want;
  for (size_t id_size : {size_t{0}, size_t{1}, size_t{1024}, JobState::kMaxIdBytes}) {
    for (size_t value_size : {size_t{0}, size_t{1}, size_t{65535}, size_t{65536}, size_t{65537},
                              JobState::kMaxValueBytes}) {
      const size_t id_at = rng() % (ids.size() - id_size + 1);
      const size_t value_at = rng() % (values.size() - value_size + 1);
      want.push_back({std::string_view(ids).substr(id_at, id_size),
                      std::string_view(values).substr(value_at, value_size), rng() % 2 == 0});
    }
  }
  JobState state(want.begin(), want.end());
  ASSERT_EQ(state.size(), want.size());
  size_t i = 0;
  for (const StateEntry& got : state) {
    EXPECT_EQ(got.id.data(), want[i].id.data()) << i;
    EXPECT_EQ(got.id.size(), want[i].id.size()) << i;
    EXPECT_EQ(got.value.data(), want[i].value.data()) << i;
    EXPECT_EQ(got.value.size(), want[i].value.size()) << i;
    EXPECT_EQ(got.structured, want[i].structured) << i;
    ++i;
  }
  EXPECT_EQ(i, want.size());
  EXPECT_EQ(state.back().value.size(), want.back().value.size());
  EXPECT_EQ(state.end() - state.begin(), static_cast<std::ptrdiff_t>(want.size()));
}

TEST(JobStateTest, TooLongIsRefused) {
  const std::string long_id(JobState::kMaxIdBytes + 1, 'i');
  const std::string long_value(JobState::kMaxValueBytes + 1, 'v');
  JobState state;
  EXPECT_THROW(state.push_back({long_id, "v"}), std::length_error);
  EXPECT_THROW(state.push_back({"i", long_value}), std::length_error);
  EXPECT_TRUE(state.empty());
}

TEST(JobStateTest, EqualityComparesContentNotAddresses) {
  const std::string a = "door_1_2_3_4";
  const std::string b = "door_1_2_3_4";
  EXPECT_EQ((JobState{{"x", a}}), (JobState{{"x", b}}));
  EXPECT_FALSE((JobState{{"x", a, true}}) == (JobState{{"x", b, false}}));
  EXPECT_FALSE((JobState{{"x", a}}) == (JobState{{"x", a}, {"y", a}}));
}

}  // namespace
}  // namespace buildtrace
