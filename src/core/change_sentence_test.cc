// Tests of the original service's sentences and of the geometric deltas, on crafted states whose
// sentences are known: the words, the axis convention (+x east, +y north), negative coordinates,
// unparseable hashes and structured objects.
#include "core/change_sentence.h"

#include <gtest/gtest.h>

#include "core/diff.h"

namespace buildtrace {
namespace {

ModifiedObject Hashes(std::string id, std::string before, std::string after) {
  ModifiedObject m;
  m.id = std::move(id);
  m.before = std::move(before);
  m.after = std::move(after);
  return m;
}

TEST(ChangeSentenceTest, AddedReadsTypeAndPosition) {
  EXPECT_EQ(AddedSentence("J2NS541", Placement{"stair", 20, 37}),
            "J2NS541 (stair added at x:20, y:37)");
  EXPECT_EQ(AddedSentence("D9", Placement{"door", -4, -0.5}), "D9 (door added at x:-4, y:-0.5)");
  EXPECT_EQ(AddedSentence("X1", std::nullopt), "X1 (unknown added at x:0, y:0)");
}

TEST(ChangeSentenceTest, RemovedIsTheIdAndTheWord) {
  EXPECT_EQ(RemovedSentence("W001"), "W001 removed");
}

TEST(ChangeSentenceTest, MovesNameEastWestNorthSouthWithAbsoluteUnits) {
  EXPECT_EQ(ModifiedSentence(Hashes("W039", "wall_10_20_5_1", "wall_12_21_5_1")),
            "W039 (wall) moved 2 units east and 1 units north");
  EXPECT_EQ(ModifiedSentence(Hashes("W040", "wall_-3_-4_5_1", "wall_-6_-9_5_1")),
            "W040 (wall) moved 3 units west and 5 units south");
  EXPECT_EQ(ModifiedSentence(Hashes("D1", "door_0_0_1_1", "door_0_7_1_1")),
            "D1 (door) moved 7 units north");
  EXPECT_EQ(ModifiedSentence(Hashes("D2", "door_5_0_1_1", "door_1_0_1_1")),
            "D2 (door) moved 4 units west");
}

TEST(ChangeSentenceTest, UnmovedObjectsHaveTheirAttributesModified) {
  EXPECT_EQ(ModifiedSentence(Hashes("D3", "door_1_2_3_4", "door_1_2_9_9")),
            "D3 attributes modified (not position).");
  EXPECT_EQ(ModifiedSentence(Hashes("D4", "door_1_2_3_4", "window_1_2_3_4")),
            "D4 attributes modified (not position).");
}

TEST(ChangeSentenceTest, TheTypeIsTheEarlierOneAndUnparseableReadsAsUnknownAtTheOrigin) {
  EXPECT_EQ(ModifiedSentence(Hashes("D5", "door_1_1_1_1", "window_2_1_1_1")),
            "D5 (door) moved 1 units east");
  EXPECT_EQ(ModifiedSentence(Hashes("Q1", "not-a-hash", "door_3_-4_1_1")),
            "Q1 (unknown) moved 3 units east and 4 units south");
  EXPECT_EQ(ModifiedSentence(Hashes("Q2", "abc", "def")), "Q2 attributes modified (not position).");
}

TEST(ChangeSentenceTest, DeltaOfHashesIsAfterMinusBefore) {
  const ChangeDelta d = DeltaOf(Hashes("D6", "door_10_20_5_5", "window_8_23_6_4"));
  EXPECT_EQ(d.dx, -2);
  EXPECT_EQ(d.dy, 3);
  EXPECT_EQ(d.dw, 1);
  EXPECT_EQ(d.dh, -1);
  EXPECT_EQ(d.from_type, "door");
  EXPECT_EQ(d.to_type, "window");
  EXPECT_TRUE(d.changed_fields.empty());
  const ChangeDelta same_type = DeltaOf(Hashes("D7", "door_1_1_1_1", "door_2_1_1_1"));
  EXPECT_EQ(same_type.from_type, std::nullopt);
  const ChangeDelta none = DeltaOf(Hashes("D8", "abc", "door_2_1_1_1"));
  EXPECT_EQ(none.dx, std::nullopt);
}

TEST(ChangeSentenceTest, StructuredObjectsNameTheirChangedFields) {
  ModifiedObject m;
  m.id = "S1";
  m.before = R"({"color":"red","h":5,"type":"door","w":5,"x":10,"y":20})";
  m.after = R"({"h":5,"layer":2,"type":"door","w":5,"x":11,"y":20})";
  m.before_structured = m.after_structured = true;
  const ChangeDelta d = DeltaOf(m);
  EXPECT_EQ(d.changed_fields, (std::vector<std::string>{"color", "layer", "x"}));
  EXPECT_EQ(d.dx, 1);
  EXPECT_EQ(ModifiedSentence(m), "S1 (door) moved 1 units east");
}

TEST(ChangeSentenceTest, ClassicSummaryJoinsTheNonZeroCounts) {
  EXPECT_EQ(ClassicSummary(DiffCounts{}), "No significant changes detected.");
  EXPECT_EQ(ClassicSummary(DiffCounts{.unchanged = 9}), "No significant changes detected.");
  EXPECT_EQ(ClassicSummary(DiffCounts{.added = 2, .removed = 1, .moved = 3, .changed = 1}),
            "2 item(s) added. | 1 item(s) removed. | 4 item(s) moved/modified.");
  EXPECT_EQ(ClassicSummary(DiffCounts{.removed = 1}), "1 item(s) removed.");
}

}  // namespace
}  // namespace buildtrace

namespace buildtrace {
namespace {

// Two jobs of the original simulator's kind, diffed and rendered the original's way.
TEST(ChangeSentenceTest, ADiffOfCraftedStatesReadsAsTheOriginalWrote) {
  const JobState before = {{"W039", "wall_10_20_5_1"},
                           {"D017", "door_-3_4_1_2"},
                           {"W001", "wall_0_0_9_1"},
                           {"X1", "garbage"}};
  const JobState after = {{"W039", "wall_12_21_5_1"},
                          {"D017", "door_-3_4_2_2"},
                          {"J2NS541", "stair_20_37_3_3"},
                          {"X1", "garbage2"},
                          {"Q", "???"}};
  Result<DiffResult> d = DiffStates(before, after, 100);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->added, (std::vector<std::string>{"J2NS541", "Q"}));
  std::vector<std::string> added;
  for (size_t i = 0; i < d->added.size(); ++i) {
    added.push_back(AddedSentence(d->added[i], d->added_at[i]));
  }
  EXPECT_EQ(added, (std::vector<std::string>{"J2NS541 (stair added at x:20, y:37)",
                                             "Q (unknown added at x:0, y:0)"}));
  std::vector<std::string> modified;
  for (const auto& m : d->modified) modified.push_back(ModifiedSentence(m));
  // Grouped by kind: moved, resized, changed.
  EXPECT_EQ(modified, (std::vector<std::string>{"W039 (wall) moved 2 units east and 1 units north",
                                                "D017 attributes modified (not position).",
                                                "X1 attributes modified (not position)."}));
  EXPECT_EQ(RemovedSentence(d->removed.at(0)), "W001 removed");
  EXPECT_EQ(ClassicSummary(d->counts),
            "2 item(s) added. | 1 item(s) removed. | 3 item(s) moved/modified.");
}

}  // namespace
}  // namespace buildtrace
