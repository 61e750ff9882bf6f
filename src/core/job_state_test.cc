// Tests of the packed state entries: every length the parser allows (and the packing's own
// limits) comes back exactly, with its flag, in order, in either layout; an entry the compact
// layout cannot hold turns the state wide without changing what it reads back; what fits
// neither is refused.
#include "core/job_state.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "testing/reference_diff.h"

namespace buildtrace {
namespace {

// EXPECTs that `state` holds exactly `want`: the same addresses, lengths and flags, in order.
void ExpectHolds(const JobState& state, const std::vector<StateEntry>& want,
                 const std::string& context) {
  ASSERT_EQ(state.size(), want.size()) << context;
  for (size_t i = 0; i < want.size(); ++i) {
    const StateEntry got = state[i];
    ASSERT_EQ(got.id.data(), want[i].id.data()) << context << " entry " << i;
    ASSERT_EQ(got.id.size(), want[i].id.size()) << context << " entry " << i;
    ASSERT_EQ(got.value.data(), want[i].value.data()) << context << " entry " << i;
    ASSERT_EQ(got.value.size(), want[i].value.size()) << context << " entry " << i;
    ASSERT_EQ(got.structured, want[i].structured) << context << " entry " << i;
  }
}

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

// IDs and values laid out as a parser leaves them in one buffer, at every gap the compact layout
// holds (0-15 bytes) and up to its longest lengths (2^14 - 1 bytes each), take 8 bytes an entry.
TEST(JobStateTest, OneBufferLayoutIsCompactAndExact) {
  const std::string ids(16383, 'i');
  const std::string values(16383, 'v');
  std::mt19937_64 rng(11);
  std::vector<StateEntry> entries;
  for (size_t id_size : {size_t{0}, size_t{1}, size_t{7}, size_t{16383}}) {
    for (size_t value_size : {size_t{0}, size_t{1}, size_t{25}, size_t{16383}}) {
      entries.push_back({std::string_view(ids).substr(0, id_size),
                         std::string_view(values).substr(0, value_size), false});
    }
  }
  std::deque<std::string> names;  // the views' strings, which must outlive them
  for (int i = 0; i < 1000; ++i) {
    entries.push_back({names.emplace_back("D" + std::to_string(i)), "door_1_2_3_4"});
  }
  std::string buffer;
  const std::vector<StateEntry> laid_out = LaidOutInOneBuffer(entries, buffer, rng);
  JobState state(laid_out.begin(), laid_out.end());
  EXPECT_FALSE(state.wide());
  ExpectHolds(state, laid_out, "compact");
  JobState copy = state;  // a copy reads the same bytes
  EXPECT_FALSE(copy.wide());
  ExpectHolds(copy, laid_out, "copy");
}

// Each thing the compact layout cannot hold, met at a random place among entries it can, turns
// the state wide once; every entry before and after it reads back exactly.
TEST(JobStateTest, EachMisfitWidensTheStateAndKeepsEveryEntry) {
  std::mt19937_64 rng(12);
  std::vector<StateEntry> plain;
  std::deque<std::string> names;  // the views' strings, which must outlive them
  for (int i = 0; i < 300; ++i) {
    plain.push_back({names.emplace_back("W" + std::to_string(i)), "window_1_2_3_4"});
  }
  const std::string long_value(16384, 'v');
  plain.push_back({"big", long_value});
  std::string buffer;
  const std::vector<StateEntry> all = LaidOutInOneBuffer(plain, buffer, rng);
  // The state is entries 10-299; entry 0 lies before them in the buffer, the big one after.
  const std::vector<StateEntry> laid_out(all.begin() + 10, all.end() - 1);
  const std::string_view bytes = buffer;
  const char* first_id = laid_out.front().id.data();
  // An ID 4 GiB or more after the first: an address, never read by JobState itself.
  const auto* beyond =
      reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(first_id) + (uintptr_t{1} << 32));
  struct Misfit {
    const char* name;
    StateEntry entry;
    bool readable;  // whether its bytes may be compared
  };
  const size_t last = all.back().id.data() - buffer.data() - 40;  // among entries that fit
  const std::vector<Misfit> misfits = {
      {"gap of 16 bytes", {bytes.substr(last, 0), bytes.substr(last + 16, 4)}, true},
      {"value before its ID", {bytes.substr(last + 8, 2), bytes.substr(last, 4)}, true},
      {"ID before the first ID", all.front(), true},
      {"structured", {laid_out[5].id, laid_out[5].value, true}, true},
      {"value of 2^14 bytes", all.back(), true},
      {"ID 4 GiB after the first",
       {std::string_view(beyond, 3), std::string_view(beyond + 5, 2)},
       false},
  };
  // The last offset, 2^32 - 1, still fits; one byte further does not (the misfit above).
  {
    const uintptr_t last_id = reinterpret_cast<uintptr_t>(first_id) + 0xFFFFFFFFu;
    // The longest ID, the widest gap (15 bytes), the longest value.
    const std::vector<StateEntry> want = {
        laid_out[0],
        {std::string_view(reinterpret_cast<const char*>(last_id), 16383),
         std::string_view(reinterpret_cast<const char*>(last_id + 16383 + 15), 16383)}};
    const JobState state(want.begin(), want.end());
    EXPECT_FALSE(state.wide());
    ExpectHolds(state, want, "the last offset");
  }
  for (const Misfit& misfit : misfits) {
    for (size_t at : {size_t{0}, size_t{1}, size_t{150}, laid_out.size()}) {
      std::vector<StateEntry> want(laid_out.begin(), laid_out.end());
      want.insert(want.begin() + static_cast<std::ptrdiff_t>(at), misfit.entry);
      if (at == 0 && std::string_view(misfit.name) == "ID before the first ID") {
        continue;  // first, it is where offsets count from: it fits
      }
      JobState state;
      state.reserve(3);  // far too small: widening keeps growing
      for (const StateEntry& e : want) state.push_back(e);
      const std::string context = std::string(misfit.name) + " at " + std::to_string(at);
      EXPECT_TRUE(state.wide()) << context;
      ExpectHolds(state, want, context);
      if (misfit.readable) {
        EXPECT_TRUE(state == JobState(want.begin(), want.end())) << context;
      }
    }
  }
}

// Random sequences of entries that fit and entries that do not read back exactly, whichever
// layout they end in.
TEST(JobStateTest, RandomMixesReadBackExactly) {
  std::mt19937_64 rng(13);
  for (int round = 0; round < 200; ++round) {
    std::vector<StateEntry> plain;
    const size_t n = rng() % 200;
    std::vector<std::string> ids, values;
    for (size_t i = 0; i < n; ++i) {
      ids.push_back("id" + std::to_string(rng() % 100000));
      values.push_back(std::string(rng() % 40, 'h'));
    }
    for (size_t i = 0; i < n; ++i) plain.push_back({ids[i], values[i], false});
    std::string buffer;
    std::vector<StateEntry> want = LaidOutInOneBuffer(plain, buffer, rng);
    const bool misfit = n > 0 && round % 2 == 1;
    if (misfit) want[rng() % n].structured = true;
    const JobState state(want.begin(), want.end());
    EXPECT_EQ(state.wide(), misfit) << round;
    ExpectHolds(state, want, "round " + std::to_string(round));
  }
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
