// Tests of the flat ID index: every ID found at its position, absent IDs not found, duplicates
// reported, and IDs whose hashes collide in the table still told apart.
#include "core/state_index.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <string>
#include <vector>

#include "core/large_memory.h"
#include "testing/reference_diff.h"

namespace buildtrace {
namespace {

JobState StateOf(std::deque<std::string>& ids) {
  JobState state;
  for (const std::string& id : ids) state.push_back({id, "h", false});
  return state;
}

TEST(StateIndexTest, FindsEveryIdAtItsPosition) {
  std::deque<std::string> ids;
  for (int i = 0; i < 5000; ++i) ids.push_back("id-" + std::to_string(i * 7919 % 5000));
  const JobState state = StateOf(ids);
  const StateIndex index(state);
  EXPECT_EQ(index.duplicate(), std::nullopt);
  for (size_t i = 0; i < state.size(); ++i) EXPECT_EQ(index.Find(state[i].id), i);
  EXPECT_EQ(index.Find("id-5000"), StateIndex::kNotFound);
  EXPECT_EQ(index.Find(""), StateIndex::kNotFound);
}

// Built by several threads at once (each its share of the entries, slots claimed with a CAS), the
// index finds the same positions.
TEST(StateIndexTest, BuiltByThreadsFindsEveryIdAtItsPosition) {
  std::deque<std::string> ids;
  for (int i = 0; i < 20000; ++i) ids.push_back("id-" + std::to_string(i * 7919 % 20000));
  const JobState state = StateOf(ids);
  for (unsigned threads : {2u, 3u}) {
    const StateIndex index(state, threads);
    EXPECT_EQ(index.duplicate(), std::nullopt) << threads;
    for (size_t i = 0; i < state.size(); ++i) ASSERT_EQ(index.Find(state[i].id), i) << threads;
    EXPECT_EQ(index.Find("id-20000"), StateIndex::kNotFound);
  }
}

TEST(StateIndexTest, BuiltByThreadsReportsADuplicateInAnyShare) {
  // Shares of two threads: [0, 3) and [3, 6); "b" in both, then "e" twice in the second.
  for (auto ids : {std::deque<std::string>{"a", "b", "c", "b", "d", "f"},
                   std::deque<std::string>{"a", "b", "c", "e", "d", "e"}}) {
    const JobState state = StateOf(ids);
    const StateIndex index(state, 2);
    ASSERT_TRUE(index.duplicate().has_value());
    EXPECT_EQ(*index.duplicate(), ids[3] == "b" ? "b" : "e");
    EXPECT_EQ(index.Find("d"), 4u);
  }
}

// With two repeated IDs, a thread may meet either first (here the calling thread, which takes the
// last share and starts at once, usually meets "x" first); the index names the one a single
// thread names, and finds each ID at its first position.
TEST(StateIndexTest, BuiltByThreadsNamesTheDuplicateOneThreadNames) {
  std::deque<std::string> ids = {"x", "y", "y", "x"};
  const JobState state = StateOf(ids);
  for (int i = 0; i < 200; ++i) {
    const StateIndex index(state, 2);
    ASSERT_EQ(index.duplicate(), std::optional<std::string_view>("y"));
    EXPECT_EQ(index.Find("x"), 0u);
  }
}

TEST(StateIndexTest, EmptyState) {
  const JobState state;
  const StateIndex index(state);
  EXPECT_EQ(index.Find("x"), StateIndex::kNotFound);
  EXPECT_EQ(index.duplicate(), std::nullopt);
}

TEST(StateIndexTest, ReportsADuplicateAndKeepsTheFirstPosition) {
  std::deque<std::string> ids = {"a", "b", "c", "b", "d"};
  const JobState state = StateOf(ids);
  const StateIndex index(state);
  ASSERT_TRUE(index.duplicate().has_value());
  EXPECT_EQ(*index.duplicate(), "b");
  EXPECT_EQ(index.Find("b"), 1u);
  EXPECT_EQ(index.Find("d"), 4u);
}

TEST(StateIndexTest, LongSharedPrefixesAndNonAsciiIdsAreDistinct) {
  const std::string prefix(1000, 'p');
  std::deque<std::string> ids = {prefix + "a",         prefix + "b", prefix,
                                 "\xc3\xa9",           "e\xcc\x81",  std::string("\0x", 2),
                                 std::string("\0y", 2)};
  const JobState state = StateOf(ids);
  const StateIndex index(state);
  EXPECT_EQ(index.duplicate(), std::nullopt);
  for (size_t i = 0; i < state.size(); ++i) EXPECT_EQ(index.Find(state[i].id), i);
}

// Positions take the slot's low bits and the tag the rest, so the split moves with the state's
// size: sizes on each side of a power of two, over states in both layouts (job_state.h), and a
// table large enough for huge pages, built with them and without (its size rounds up to whole
// huge pages only with them), by one thread and by two, find every ID and no other.
TEST(StateIndexTest, EverySizeAroundAPowerOfTwoInBothLayouts) {
  struct Restore {
    bool was = HugePagesEnabled();
    ~Restore() { SetHugePagesEnabled(was); }
  } restore;  // also when an assertion ends the test early
  std::mt19937_64 rng(21);
  for (size_t n : {size_t{1}, size_t{2}, size_t{3}, size_t{4}, size_t{5}, size_t{15}, size_t{16},
                   size_t{17}, size_t{255}, size_t{256}, size_t{257}, size_t{4095}, size_t{4096},
                   size_t{4097}, size_t{400000}}) {
    std::vector<std::string> ids;
    for (size_t i = 0; i < n; ++i) ids.push_back("D" + std::to_string(i * 7919 % n));
    std::vector<StateEntry> entries;
    for (const std::string& id : ids) entries.push_back({id, "door_1_2_3_4", false});
    std::string buffer;
    const std::vector<StateEntry> laid_out = LaidOutInOneBuffer(entries, buffer, rng);
    for (const bool wide : {false, true}) {
      const std::vector<StateEntry>& from = wide ? entries : laid_out;
      const JobState state(from.begin(), from.end());
      ASSERT_EQ(state.wide(), wide) << n;
      for (const bool huge_pages : {true, false}) {
        if (!huge_pages && n < 400000) continue;  // the same table: small ones never round up
        SetHugePagesEnabled(huge_pages);
        for (const unsigned threads : {1u, 2u}) {
          const StateIndex index(state, threads);
          const std::string context = std::to_string(n) + (wide ? " wide" : " compact") +
                                      (huge_pages ? "" : " no huge pages") + " threads " +
                                      std::to_string(threads);
          EXPECT_EQ(index.duplicate(), std::nullopt) << context;
          for (size_t i = 0; i < n; ++i) ASSERT_EQ(index.Find(state[i].id), i) << context;
          EXPECT_EQ(index.Find("D" + std::to_string(n)), StateIndex::kNotFound) << context;
          EXPECT_EQ(index.Find("d0"), StateIndex::kNotFound) << context;
        }
      }
      SetHugePagesEnabled(restore.was);
    }
  }
}

TEST(HashIdTest, DependsOnEveryByteAndTheLength) {
  EXPECT_NE(HashId("abcdefgh1"), HashId("abcdefgh2"));
  EXPECT_NE(HashId(std::string_view("a\0", 2)), HashId("a"));
  EXPECT_EQ(HashId("same"), HashId(std::string("same")));
}

}  // namespace
}  // namespace buildtrace
