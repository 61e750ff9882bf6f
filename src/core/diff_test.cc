// Tests of the state diff: exact counts, change classification, sorted and limited lists, and a
// randomized comparison with a simple std::map-based reference on ordered and shuffled states.
#include "core/diff.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/job_parser.h"
#include "core/json_writer.h"
#include "testing/reference_diff.h"

namespace buildtrace {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Canonical JSON of a structured door-like object (keys in byte order, as the parser writes them).
std::string Shape(const std::string& type, int x, int y, int w, int h,
                  const std::string& color = "") {
  std::string out = "{";
  if (!color.empty()) out += "\"color\":\"" + color + "\",";
  out += "\"h\":" + std::to_string(h) + ",\"type\":\"" + type + "\",\"w\":" + std::to_string(w) +
         ",\"x\":" + std::to_string(x) + ",\"y\":" + std::to_string(y) + "}";
  return out;
}

// Owns the strings that the StateEntry views of a test point to.
class Strings {
 public:
  std::string_view Keep(std::string s) { return strings_.emplace_back(std::move(s)); }
  StateEntry Entry(std::string id, std::string value, bool structured = false) {
    return {Keep(std::move(id)), Keep(std::move(value)), structured};
  }

 private:
  std::deque<std::string> strings_;
};

ChangeKind KindOf(const std::string& before, const std::string& after,
                  bool before_structured = false, bool after_structured = false) {
  return ClassifyChange({"id", before, before_structured}, {"id", after, after_structured});
}

TEST(ChangeKindNameTest, Names) {
  EXPECT_STREQ(ChangeKindName(ChangeKind::kMoved), "moved");
  EXPECT_STREQ(ChangeKindName(ChangeKind::kResized), "resized");
  EXPECT_STREQ(ChangeKindName(ChangeKind::kRetyped), "retyped");
  EXPECT_STREQ(ChangeKindName(ChangeKind::kChanged), "changed");
}

TEST(ClassifyChangeTest, PseudoHashes) {
  EXPECT_EQ(KindOf("door_10_20_5_5", "door_11_20_5_5"), ChangeKind::kMoved);
  EXPECT_EQ(KindOf("door_10_20_5_5", "door_10_-20_5_5"), ChangeKind::kMoved);
  EXPECT_EQ(KindOf("door_10_20_5_5", "door_10_20_6_5"), ChangeKind::kResized);
  EXPECT_EQ(KindOf("door_10_20_5_5", "door_10_20_5_5.5"), ChangeKind::kResized);
  EXPECT_EQ(KindOf("door_10_20_5_5", "door_0_0_6_6"), ChangeKind::kResized);  // moved too
  EXPECT_EQ(KindOf("door_10_20_5_5", "window_10_20_5_5"), ChangeKind::kRetyped);
  EXPECT_EQ(KindOf("door_10_20_5_5", "window_0_0_1_1"), ChangeKind::kRetyped);  // wins over all
  EXPECT_EQ(KindOf("sliding_door_1_2_3_4", "door_1_2_3_4"), ChangeKind::kRetyped);
}

TEST(ClassifyChangeTest, ChangedWhenThereIsNoComparableGeometry) {
  EXPECT_EQ(KindOf("abc", "abd"), ChangeKind::kChanged);
  EXPECT_EQ(KindOf("door_1_2_3_4", "abc"), ChangeKind::kChanged);
  EXPECT_EQ(KindOf("abc", "door_1_2_3_4"), ChangeKind::kChanged);
  EXPECT_EQ(KindOf("door_1_2_3_4", "door_1.0_2_3_4"), ChangeKind::kChanged);  // same geometry
  EXPECT_EQ(KindOf("door_1_2_3", "door_2_2_3"), ChangeKind::kChanged);
}

TEST(ClassifyChangeTest, StructuredObjectsClassifyLikePseudoHashes) {
  const std::string door = Shape("door", 10, 20, 5, 5);
  EXPECT_EQ(KindOf(door, Shape("door", 11, 20, 5, 5), true, true), ChangeKind::kMoved);
  EXPECT_EQ(KindOf(door, Shape("door", 10, 20, 6, 5), true, true), ChangeKind::kResized);
  EXPECT_EQ(KindOf(door, Shape("door", 0, 0, 5, 6), true, true), ChangeKind::kResized);
  EXPECT_EQ(KindOf(door, Shape("window", 10, 20, 5, 5), true, true), ChangeKind::kRetyped);
  EXPECT_EQ(KindOf(door, Shape("window", 0, 0, 1, 1), true, true), ChangeKind::kRetyped);
  // Same other attributes: the geometry decides.
  EXPECT_EQ(KindOf(Shape("door", 1, 1, 1, 1, "red"), Shape("door", 2, 1, 1, 1, "red"), true, true),
            ChangeKind::kMoved);
}

TEST(ClassifyChangeTest, StructuredObjectsWithOtherAttributeChangesAreChanged) {
  EXPECT_EQ(KindOf(Shape("door", 1, 1, 1, 1, "red"), Shape("door", 1, 1, 1, 1, "blue"), true, true),
            ChangeKind::kChanged);
  EXPECT_EQ(KindOf(Shape("door", 1, 1, 1, 1, "red"), Shape("door", 9, 1, 1, 1, "blue"), true, true),
            ChangeKind::kChanged);
  EXPECT_EQ(KindOf(Shape("door", 1, 1, 1, 1, "red"), Shape("window", 1, 1, 1, 1), true, true),
            ChangeKind::kChanged);
  EXPECT_EQ(KindOf(R"({"a":1})", R"({"a":2})", true, true), ChangeKind::kChanged);
  EXPECT_EQ(KindOf(R"({"h":1,"type":"door","w":1,"x":1})", Shape("door", 2, 1, 1, 1), true, true),
            ChangeKind::kChanged);  // no "y" before: no geometry
}

TEST(DiffStatesTest, ExactCountsAndLists) {
  const JobState before = {{"a", "h1"}, {"b", "h2"}, {"c", "h3"}, {"d", "door_1_1_1_1"}};
  const JobState after = {{"a", "h1"}, {"b", "h2x"}, {"e", "h5"}, {"d", "door_2_1_1_1"}};
  const DiffResult r = *DiffStates(before, after, 100);
  EXPECT_EQ(r.counts, (DiffCounts{.added = 1,
                                  .removed = 1,
                                  .unchanged = 1,
                                  .moved = 1,
                                  .resized = 0,
                                  .retyped = 0,
                                  .changed = 1}));
  EXPECT_EQ(r.counts.modified(), 2);
  EXPECT_THAT(r.added, ElementsAre("e"));
  EXPECT_THAT(r.removed, ElementsAre("c"));
  EXPECT_THAT(r.modified,
              ElementsAre(ModifiedObject{"d", ChangeKind::kMoved, "door_1_1_1_1", "door_2_1_1_1"},
                          ModifiedObject{"b", ChangeKind::kChanged, "h2", "h2x"}));
  EXPECT_FALSE(r.truncated);
}

TEST(DiffStatesTest, EmptyStates) {
  const DiffResult none = *DiffStates({}, {}, 10);
  EXPECT_EQ(none.counts, DiffCounts{});
  EXPECT_THAT(none.added, IsEmpty());
  EXPECT_THAT(none.removed, IsEmpty());
  EXPECT_THAT(none.modified, IsEmpty());
  EXPECT_FALSE(none.truncated);

  const JobState some = {{"b", "1"}, {"a", "2"}};
  const DiffResult all_added = *DiffStates({}, some, 10);
  EXPECT_EQ(all_added.counts, DiffCounts{.added = 2});
  EXPECT_THAT(all_added.added, ElementsAre("a", "b"));
  const DiffResult all_removed = *DiffStates(some, {}, 10);
  EXPECT_EQ(all_removed.counts, DiffCounts{.removed = 2});
  EXPECT_THAT(all_removed.removed, ElementsAre("a", "b"));
}

TEST(DiffStatesTest, StructuredValueAndStringWithTheSameTextAreModified) {
  const std::string text = Shape("door", 10, 20, 5, 5);
  const JobState before = {{"o", text, true}, {"p", R"({"a":1})", false}};
  const JobState after = {{"o", text, false}, {"p", R"({"a":1})", true}};
  const DiffResult r = *DiffStates(before, after, 10);
  EXPECT_EQ(r.counts, DiffCounts{.changed = 2});
  EXPECT_THAT(r.modified,
              ElementsAre(ModifiedObject{"o", ChangeKind::kChanged, text, text, true, false},
                          ModifiedObject{"p", ChangeKind::kChanged, R"({"a":1})", R"({"a":1})",
                                         false, true}));
}

TEST(DiffStatesTest, EqualStructuredValuesAreUnchanged) {
  const std::string text = Shape("door", 10, 20, 5, 5);
  const DiffResult r = *DiffStates({{"o", text, true}}, {{"o", text, true}}, 10);
  EXPECT_EQ(r.counts, DiffCounts{.unchanged = 1});
}

TEST(DiffStatesTest, ListsAreSortedByIdBytes) {
  const JobState after = {{"b", "1"},  {"\xc3\xa9", "1"}, {"a", "1"},    {"B", "1"},
                          {"aa", "1"}, {"z", "1"},        {"a\x7f", "1"}};
  const DiffResult r = *DiffStates({}, after, 100);
  EXPECT_THAT(r.added, ElementsAre("B", "a", "aa", "a\x7f", "b", "z", "\xc3\xa9"));
  const DiffResult back = *DiffStates(after, {}, 100);
  EXPECT_EQ(back.removed, r.added);
}

TEST(DiffStatesTest, ModifiedAreGroupedByKindThenSortedById) {
  const JobState before = {{"z", "door_0_0_1_1"}, {"c", "x"},
                           {"y", "door_0_0_1_1"}, {"b", "door_0_0_1_1"},
                           {"a", "door_0_0_1_1"}, {"m", "door_0_0_1_1"}};
  const JobState after = {{"z", "door_5_0_1_1"},   {"c", "y"},
                          {"y", "window_0_0_1_1"}, {"b", "door_0_0_2_1"},
                          {"a", "door_0_9_1_1"},   {"m", "door_0_0_1_1"}};
  const DiffResult r = *DiffStates(before, after, 100);
  EXPECT_EQ(r.counts,
            (DiffCounts{.unchanged = 1, .moved = 2, .resized = 1, .retyped = 1, .changed = 1}));
  std::vector<std::string> order;
  for (const ModifiedObject& m : r.modified) order.push_back(m.id + ":" + ChangeKindName(m.kind));
  EXPECT_THAT(order, ElementsAre("a:moved", "z:moved", "b:resized", "y:retyped", "c:changed"));
}

TEST(DiffStatesTest, LimitCutsEachListButNotTheCounts) {
  const JobState before = {{"r3", "1"},
                           {"r1", "1"},
                           {"r2", "1"},
                           {"m3", "door_0_0_1_1"},
                           {"m1", "door_0_0_1_1"},
                           {"m2", "door_0_0_1_1"},
                           {"c1", "x"}};
  const JobState after = {{"a5", "1"},
                          {"a4", "1"},
                          {"a3", "1"},
                          {"a2", "1"},
                          {"a1", "1"},
                          {"m3", "door_1_0_1_1"},
                          {"m2", "door_1_0_1_1"},
                          {"m1", "door_1_0_1_1"},
                          {"c1", "y"}};
  const DiffResult r = *DiffStates(before, after, 2);
  EXPECT_EQ(r.counts, (DiffCounts{.added = 5, .removed = 3, .moved = 3, .changed = 1}));
  EXPECT_THAT(r.added, ElementsAre("a1", "a2"));
  EXPECT_THAT(r.removed, ElementsAre("r1", "r2"));
  std::vector<std::string> ids;
  for (const ModifiedObject& m : r.modified) ids.push_back(m.id);
  EXPECT_THAT(ids, ElementsAre("m1", "m2", "c1"));
  EXPECT_TRUE(r.truncated);
}

TEST(DiffStatesTest, ListsOfExactlyLimitAreNotTruncated) {
  const DiffResult r = *DiffStates({{"x", "1"}}, {{"b", "1"}, {"a", "1"}}, 2);
  EXPECT_THAT(r.added, ElementsAre("a", "b"));
  EXPECT_THAT(r.removed, ElementsAre("x"));
  EXPECT_FALSE(r.truncated);
}

TEST(DiffStatesTest, TruncatedWhenOnlyModifiedOverflows) {
  const DiffResult r = *DiffStates({{"a", "1"}, {"b", "1"}}, {{"a", "2"}, {"b", "2"}}, 1);
  EXPECT_EQ(r.counts, DiffCounts{.changed = 2});
  ASSERT_EQ(r.modified.size(), 1u);
  EXPECT_EQ(r.modified[0].id, "a");
  EXPECT_TRUE(r.truncated);
}

TEST(DiffStatesTest, LimitZero) {
  const JobState before = {{"a", "1"}, {"b", "1"}};
  const DiffResult same = *DiffStates(before, before, 0);
  EXPECT_EQ(same.counts, DiffCounts{.unchanged = 2});
  EXPECT_FALSE(same.truncated);

  for (const JobState& after : {JobState{{"a", "1"}, {"b", "1"}, {"c", "1"}}, JobState{{"a", "1"}},
                                JobState{{"a", "1"}, {"b", "2"}}}) {
    const DiffResult r = *DiffStates(before, after, 0);
    EXPECT_THAT(r.added, IsEmpty());
    EXPECT_THAT(r.removed, IsEmpty());
    EXPECT_THAT(r.modified, IsEmpty());
    EXPECT_TRUE(r.truncated);
    EXPECT_EQ(r.counts.added + r.counts.removed + r.counts.modified(), 1);
  }
}

TEST(DiffStatesTest, SameOrderPrefixThenDivergence) {
  // The lockstep walk covers "a", "b"; the rest goes through the hash join.
  const JobState before = {{"a", "1"}, {"b", "1"}, {"c", "1"}, {"d", "1"}, {"e", "1"}};
  const JobState after = {{"a", "1"}, {"b", "2"}, {"x", "1"}, {"e", "1"}, {"c", "3"}};
  const DiffResult r = *DiffStates(before, after, 10);
  EXPECT_EQ(r.counts, (DiffCounts{.added = 1, .removed = 1, .unchanged = 2, .changed = 2}));
  EXPECT_THAT(r.added, ElementsAre("x"));
  EXPECT_THAT(r.removed, ElementsAre("d"));
}

// ---- Randomized comparison with a reference ----

class RandomStates {
 public:
  explicit RandomStates(uint32_t seed) : rng_(seed) {}

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  // IDs that are short, share a long prefix, differ only in their last byte, or are not ASCII.
  std::string Id(int n) {
    switch (n % 4) {
      case 0:
        return "o" + std::to_string(n);
      case 1:
        return std::string(300, 'p') + std::to_string(n);
      case 2:
        return std::string(40, 'q') + std::to_string(n);
      default:
        return "\xc3\xa9" + std::to_string(n);
    }
  }

  // `hashes_only`: no structured values.
  StateEntry Value(Strings& strings, const std::string& id, bool hashes_only = false) {
    static const char* const kTypes[] = {"door", "window", "sliding_door"};
    const std::string type = kTypes[Uniform(0, 2)];
    const int x = Uniform(0, 2), y = Uniform(0, 2), w = Uniform(1, 2), h = Uniform(1, 2);
    switch (Uniform(0, hashes_only ? 2 : 4)) {
      case 0:
        return strings.Entry(id, "h" + std::to_string(Uniform(0, 3)));
      case 1:
      case 2:
        return strings.Entry(id, type + "_" + std::to_string(x) + "_" + std::to_string(y) + "_" +
                                     std::to_string(w) + "_" + std::to_string(h));
      case 3:
        return strings.Entry(id, Shape(type, x, y, w, h), true);
      default:
        return strings.Entry(id, Shape(type, x, y, w, h, Uniform(0, 1) ? "red" : "blue"), true);
    }
  }

  std::mt19937& rng() { return rng_; }

 private:
  std::mt19937 rng_;
};

// Every third seed's states hold hash strings only, laid out as a parser leaves them in one
// buffer, so that they take the compact layout (job_state.h); the rest are wide. Shuffling a
// compact state's entries mostly makes it wide (an entry before the first one's ID), so the two
// layouts also meet in one diff.
TEST(DiffStatesTest, MatchesReferenceOnRandomStates) {
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    RandomStates random(seed);
    Strings strings;
    const bool compact = seed % 3 == 0;
    const int pool = seed % 10 == 0 ? 0 : random.Uniform(1, 200);
    std::vector<int> ids(static_cast<size_t>(pool));
    for (int i = 0; i < pool; ++i) ids[static_cast<size_t>(i)] = i;
    std::shuffle(ids.begin(), ids.end(), random.rng());

    std::vector<StateEntry> before_entries, after_entries;  // JobState has no insert
    for (int n : ids) {
      const std::string id = random.Id(n);
      switch (random.Uniform(0, 9)) {
        case 0:  // only in after, at a random place
          after_entries.insert(
              after_entries.begin() + random.Uniform(0, static_cast<int>(after_entries.size())),
              random.Value(strings, id, compact));
          break;
        case 1:  // only in before
          before_entries.push_back(random.Value(strings, id, compact));
          break;
        case 2:
        case 3:
        case 4: {  // in both, maybe with another value
          before_entries.push_back(random.Value(strings, id, compact));
          after_entries.push_back(random.Value(strings, id, compact));
          break;
        }
        default:  // in both, same value
          before_entries.push_back(random.Value(strings, id, compact));
          after_entries.push_back(before_entries.back());
      }
    }
    std::string before_buffer, after_buffer;
    std::mt19937_64 layout_rng(seed);
    if (compact) {
      before_entries = LaidOutInOneBuffer(before_entries, before_buffer, layout_rng);
      after_entries = LaidOutInOneBuffer(after_entries, after_buffer, layout_rng);
    }
    const JobState before(before_entries.begin(), before_entries.end());
    const JobState after(after_entries.begin(), after_entries.end());
    if (compact) {
      ASSERT_FALSE(before.wide()) << seed;
      ASSERT_FALSE(after.wide()) << seed;
    }
    auto shuffled = [&](std::vector<StateEntry> entries) {
      std::shuffle(entries.begin(), entries.end(), random.rng());
      return JobState(entries.begin(), entries.end());
    };
    for (size_t limit : {size_t{0}, size_t{1}, size_t{3}, size_t{1000}}) {
      // One thread, and two (each its half of the index and of the walk), as large states take.
      for (unsigned threads : {1u, 2u}) {
        const std::string context = "seed " + std::to_string(seed) + " limit " +
                                    std::to_string(limit) + " threads " + std::to_string(threads);
        const DiffResult want = ReferenceDiff(before, after, limit);
        ExpectSameDiff(*DiffStates(before, after, limit, threads), want, context + " same order");
        const JobState shuffled_after = shuffled(after_entries);
        ExpectSameDiff(*DiffStates(before, shuffled_after, limit, threads), want,
                       context + " after shuffled");
        ExpectSameDiff(*DiffStates(shuffled(before_entries), shuffled_after, limit, threads), want,
                       context + " both shuffled");
        ExpectSameDiff(*DiffStates(after, before, limit, threads),
                       ReferenceDiff(after, before, limit), context + " reversed");
        ExpectSameDiff(*DiffStates(before, before, limit, threads),
                       ReferenceDiff(before, before, limit), context + " identical");
      }
    }
  }
}

TEST(DiffStatesTest, ReferenceAgreesWithHandCountedCase) {
  // Guards the reference itself: a wrong reference would make the randomized test meaningless.
  const JobState before = {{"a", "door_0_0_1_1"}, {"b", "x"}, {"c", "1"}};
  const JobState after = {{"c", "1"}, {"a", "door_0_0_2_1"}, {"d", "2"}};
  const DiffResult want = ReferenceDiff(before, after, 10);
  EXPECT_EQ(want.counts, (DiffCounts{.added = 1, .removed = 1, .unchanged = 1, .resized = 1}));
  EXPECT_THAT(want.added, ElementsAre("d"));
  EXPECT_THAT(want.removed, ElementsAre("b"));
  EXPECT_THAT(want.modified, ElementsAre(ModifiedObject{"a", ChangeKind::kResized, "door_0_0_1_1",
                                                        "door_0_0_2_1"}));
}

}  // namespace
}  // namespace buildtrace

namespace buildtrace {
namespace {

TEST(ClassifyChangeTest, StructuredGeometryOnlyComparesWithAPseudoHash) {
  // An object with nothing but type/x/y/w/h has the same (empty) other attributes as a
  // pseudo-hash, so switching representation is judged by the geometry alone.
  EXPECT_EQ(KindOf("door_10_20_5_5", Shape("door", 11, 20, 5, 5), false, true), ChangeKind::kMoved);
  EXPECT_EQ(KindOf(Shape("door", 10, 20, 5, 5), "window_10_20_5_5", true, false),
            ChangeKind::kRetyped);
  EXPECT_EQ(KindOf(Shape("door", 10, 20, 5, 5, "red"), "door_11_20_5_5", true, false),
            ChangeKind::kChanged);
}

}  // namespace
}  // namespace buildtrace

namespace buildtrace {
namespace {

TEST(DiffStatesTest, DuplicateIdsAreRejectedNamingTheJob) {
  Strings s;
  const JobState dup_before = {s.Entry("a", "1"), s.Entry("b", "1"), s.Entry("a", "2")};
  const JobState plain = {s.Entry("a", "1"), s.Entry("b", "1")};
  const JobState dup_matched = {s.Entry("a", "1"), s.Entry("b", "1"), s.Entry("b", "2")};
  const JobState dup_added = {s.Entry("a", "1"), s.Entry("n", "1"), s.Entry("n", "2")};
  const JobState dup_lockstep = {s.Entry("a", "1"), s.Entry("a", "1"), s.Entry("b", "1")};

  auto earlier = DiffStates(dup_before, plain, 10);
  ASSERT_FALSE(earlier.ok());
  EXPECT_EQ(earlier.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(earlier.status().message(),
            "object ID \"a\" appears twice in the earlier job; each object must appear once");
  for (const JobState* current : {&dup_matched, &dup_added, &dup_lockstep}) {
    auto r = DiffStates(plain, *current, 10);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("twice in the current job"), std::string::npos);
  }
  auto first_job = DiffStates({}, dup_added, 10);
  ASSERT_FALSE(first_job.ok());
  EXPECT_EQ(first_job.status().message(),
            "object ID \"n\" appears twice in the current job; each object must appear once");
}

// With two threads each walks half of the current job: an ID repeated across the halves is seen
// by neither alone, and must still be named, as one thread names it.
TEST(DiffStatesTest, DuplicatesAcrossTheTwoHalvesAreRejectedAsWithOneThread) {
  Strings s;
  const JobState plain = {s.Entry("a", "1"), s.Entry("b", "1"), s.Entry("c", "1"),
                          s.Entry("d", "1")};
  // Halves [0, 2) and [2, 5): "a" matched in each; "n" added in each; "d" twice in the second.
  const JobState matched_across = {s.Entry("a", "1"), s.Entry("b", "1"), s.Entry("c", "1"),
                                   s.Entry("d", "1"), s.Entry("a", "2")};
  const JobState added_across = {s.Entry("n", "1"), s.Entry("a", "1"), s.Entry("b", "1"),
                                 s.Entry("c", "1"), s.Entry("n", "2")};
  const JobState within_second = {s.Entry("a", "1"), s.Entry("b", "1"), s.Entry("d", "1"),
                                  s.Entry("c", "1"), s.Entry("d", "2")};
  // Halves [0, 2) and [2, 5): the second alone would name "c"; one thread names "n" first.
  const JobState first_named = {s.Entry("n", "1"), s.Entry("b", "1"), s.Entry("n", "2"),
                                s.Entry("c", "1"), s.Entry("c", "2")};
  const std::pair<const JobState*, const char*> cases[] = {
      {&matched_across, "a"}, {&added_across, "n"}, {&within_second, "d"}, {&first_named, "n"}};
  for (const auto& [current, id] : cases) {
    for (unsigned threads : {1u, 2u}) {
      auto r = DiffStates(plain, *current, 10, threads);
      ASSERT_FALSE(r.ok()) << id << " threads " << threads;
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      EXPECT_EQ(r.status().message(), std::string("object ID \"") + id +
                                          "\" appears twice in the current job; each object "
                                          "must appear once")
          << "threads " << threads;
    }
  }
  const JobState dup_before = {s.Entry("a", "1"), s.Entry("b", "1"), s.Entry("c", "1"),
                               s.Entry("a", "2")};
  auto earlier = DiffStates(dup_before, plain, 10, 2);
  ASSERT_FALSE(earlier.ok());
  EXPECT_EQ(earlier.status().message(),
            "object ID \"a\" appears twice in the earlier job; each object must appear once");
  // Two repeated IDs: which one a thread of the index meets first depends on timing; the answer
  // does not (run often enough for the other order to come up).
  const JobState two_repeated = {s.Entry("x", "1"), s.Entry("y", "1"), s.Entry("y", "2"),
                                 s.Entry("x", "2")};
  for (int i = 0; i < 200; ++i) {
    for (const JobState* b : {&two_repeated, static_cast<const JobState*>(nullptr)}) {
      auto r = b != nullptr ? DiffStates(*b, plain, 10, 2) : DiffStates({}, two_repeated, 10, 2);
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().message(), std::string("object ID \"y\" appears twice in the ") +
                                          (b != nullptr ? "earlier" : "current") +
                                          " job; each object must appear once");
    }
  }
}

TEST(DiffStatesTest, LockstepResynchronisesAfterInsertionsAndRemovals) {
  Strings s;
  const JobState before = {s.Entry("a", "1"), s.Entry("b", "1"), s.Entry("c", "1"),
                           s.Entry("d", "1"), s.Entry("e", "1")};
  // b removed, x inserted, d moved to the end, e changed.
  const JobState after = {s.Entry("a", "1"), s.Entry("x", "1"), s.Entry("c", "1"),
                          s.Entry("e", "2"), s.Entry("d", "1")};
  const DiffResult r = *DiffStates(before, after, 10);
  EXPECT_EQ(r.counts, (DiffCounts{.added = 1, .removed = 1, .unchanged = 3, .changed = 1}));
  EXPECT_EQ(r.added, std::vector<std::string>{"x"});
  EXPECT_EQ(r.removed, std::vector<std::string>{"b"});
}

}  // namespace
}  // namespace buildtrace

namespace buildtrace {
namespace {

TEST(DiffThroughTheParserTest, RandomEscapedAndNonAsciiKeysMatchTheReference) {
  const std::vector<std::string> pieces = {
      "door",        "\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x9a\xaa", "a\"b", "c\\d",
      "line\nbreak", "tab\t",    std::string(300, 'p'),      "_1_2_3_4",         "x"};
  for (uint64_t seed : {1u, 2u, 3u, 4u, 5u, 6u}) {
    std::mt19937_64 rng(seed);
    auto random_id = [&] {
      std::string id;
      const size_t parts = 1 + rng() % 3;
      for (size_t p = 0; p < parts; ++p) id += pieces[rng() % pieces.size()];
      return id + std::to_string(rng() % 50);
    };
    auto random_hash = [&] {
      const char* types[] = {"door", "window", "wall"};
      return std::string(types[rng() % 3]) + "_" + std::to_string(rng() % 4) + "_" +
             std::to_string(rng() % 4) + "_" + std::to_string(rng() % 3) + "_1";
    };
    std::map<std::string, std::string> before_map;
    while (before_map.size() < 200) before_map.emplace(random_id(), random_hash());
    std::map<std::string, std::string> after_map;
    for (const auto& [id, hash] : before_map) {
      const uint64_t roll = rng() % 10;
      if (roll == 0) continue;                                  // removed
      after_map.emplace(id, roll == 1 ? random_hash() : hash);  // changed or kept
    }
    for (int i = 0; i < 15; ++i) after_map.emplace(random_id(), random_hash());  // added
    std::vector<std::pair<std::string, std::string>> before(before_map.begin(), before_map.end());
    std::vector<std::pair<std::string, std::string>> after(after_map.begin(), after_map.end());
    if (seed % 2 == 0) std::shuffle(after.begin(), after.end(), rng);

    ParseLimits limits;
    limits.check_duplicate_ids = false;
    auto parsed_before = ParseJobDocument(JobDocument(before, rng), limits);
    auto parsed_after = ParseJobDocument(JobDocument(after, rng), limits);
    ASSERT_TRUE(parsed_before.ok()) << parsed_before.status().message();
    ASSERT_TRUE(parsed_after.ok()) << parsed_after.status().message();
    const JobState& b = (*parsed_before)->jobs().front().state;
    const JobState& a = (*parsed_after)->jobs().front().state;
    // The parser gives back exactly the strings that were written.
    ASSERT_EQ(b.size(), before.size());
    for (size_t i = 0; i < b.size(); ++i) {
      EXPECT_EQ(b[i].id, before[i].first);
      EXPECT_EQ(b[i].value, before[i].second);
    }
    for (size_t limit : {size_t{0}, size_t{3}, size_t{1000}}) {
      ExpectSameDiff(*DiffStates(b, a, limit), ReferenceDiff(b, a, limit),
                     "seed " + std::to_string(seed) + " limit " + std::to_string(limit));
    }
  }
}

}  // namespace
}  // namespace buildtrace
