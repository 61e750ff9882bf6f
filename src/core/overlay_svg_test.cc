// The overlay renderer: exact coordinates for a small drawing, the caps and their left-out
// counts, escaping of hostile IDs, degenerate inputs, and one mark per listed change.
#include "core/overlay_svg.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <string>

namespace buildtrace {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

size_t Count(const std::string& svg, std::string_view needle) {
  size_t n = 0;
  for (size_t at = svg.find(needle); at != std::string::npos; at = svg.find(needle, at + 1)) ++n;
  return n;
}

DiffResult Diff(const JobState& before, const JobState& after, size_t limit = 1000) {
  Result<DiffResult> diff = DiffStates(before, after, limit);
  EXPECT_TRUE(diff.ok());
  return diff.ok() ? std::move(*diff) : DiffResult{};
}

bool WellFormedEnds(const std::string& svg) {
  return svg.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ") &&
         svg.ends_with("</svg>\n");
}

TEST(OverlaySvgTest, ScalesTheUnionBoundingBoxIntoTheViewBox) {
  const JobState before{{"a", "box_0_0_10_10"}, {"r", "box_90_40_10_10"}};
  const JobState after{{"a", "box_0_0_10_10"}, {"n", "door_50_20_10_10"}};
  OverlayStats stats;
  const std::string svg = RenderOverlaySvg(Diff(before, after), before, after, {}, &stats);
  // The box is 100 x 50; the room 760 x 560: the factor is 7.6, the corner at the margin (20).
  EXPECT_THAT(svg, HasSubstr("viewBox=\"0 0 800 670\""));
  EXPECT_THAT(svg, HasSubstr("<g class=\"bt-unchanged\"><title>a (unchanged)</title>"
                             "<rect x=\"20\" y=\"20\" width=\"76\" height=\"76\"/></g>"));
  EXPECT_THAT(svg, HasSubstr("<g class=\"bt-removed\"><title>r (removed): box_90_40_10_10 "
                             "\u2192 (none)</title><rect x=\"704\" y=\"324\" width=\"76\" "
                             "height=\"76\"/></g>"));
  EXPECT_THAT(svg, HasSubstr("<g class=\"bt-added\"><title>n (added): (none) \u2192 "
                             "door_50_20_10_10</title><rect x=\"400\" y=\"172\" width=\"76\" "
                             "height=\"76\"/></g>"));
  EXPECT_EQ(stats.drawn, (DiffCounts{1, 1, 1, 0, 0, 0, 0}));
  EXPECT_THAT(svg, HasSubstr("Left out: 0 changed (cap 2000), 0 unchanged (cap 2000); 0 without"));
  EXPECT_TRUE(WellFormedEnds(svg));
}

TEST(OverlaySvgTest, MovedHasAGhostAnArrowAndTheBox) {
  const JobState before{{"m", "box_0_0_10_10"}};
  const JobState after{{"m", "box_90_0_10_10"}};
  const std::string svg = RenderOverlaySvg(Diff(before, after), before, after);
  // Box 100 x 10: factor min(7.6, 56) = 7.6.
  EXPECT_THAT(svg, HasSubstr("<g class=\"bt-moved\"><title>m (moved): box_0_0_10_10 \u2192 "
                             "box_90_0_10_10</title>"
                             "<rect x=\"20\" y=\"20\" width=\"76\" height=\"76\" "
                             "class=\"bt-ghost\"/><rect x=\"704\" y=\"20\" width=\"76\" "
                             "height=\"76\"/><line class=\"bt-arrow\" x1=\"58\" y1=\"58\" "
                             "x2=\"742\" y2=\"58\" marker-end=\"url(#bt-arrowhead)\"/></g>"));
}

TEST(OverlaySvgTest, MarksPerKindEqualTheDiffsCounts) {
  const JobState before{{"u1", "box_0_0_1_1"}, {"u2", "box_5_5_1_1"}, {"gone", "box_2_2_1_1"},
                        {"mv", "box_3_3_1_1"}, {"rs", "box_4_4_1_1"}, {"rt", "box_6_6_1_1"},
                        {"ch", "opaque1"}};
  const JobState after{{"u1", "box_0_0_1_1"},   {"u2", "box_5_5_1_1"}, {"new1", "box_7_7_1_1"},
                       {"new2", "box_8_8_2_2"}, {"mv", "box_9_9_1_1"}, {"rs", "box_4_4_3_3"},
                       {"rt", "door_6_6_1_1"},  {"ch", "opaque2"}};
  const DiffResult diff = Diff(before, after);
  OverlayStats stats;
  const std::string svg = RenderOverlaySvg(diff, before, after, {}, &stats);
  EXPECT_EQ(Count(svg, "class=\"bt-added\""), static_cast<size_t>(diff.counts.added));
  EXPECT_EQ(Count(svg, "class=\"bt-added\""), 2u);
  EXPECT_EQ(Count(svg, "class=\"bt-removed\""), 1u);
  EXPECT_EQ(Count(svg, "class=\"bt-moved\""), 1u);
  EXPECT_EQ(Count(svg, "class=\"bt-resized\""), 1u);
  EXPECT_EQ(Count(svg, "class=\"bt-retyped\""), 1u);
  EXPECT_EQ(Count(svg, "class=\"bt-unchanged\""), 2u);
  // "ch" changed, but neither value is a geometry: counted, not drawn.
  EXPECT_EQ(diff.counts.changed, 1);
  EXPECT_EQ(Count(svg, "class=\"bt-changed\""), 0u);
  EXPECT_EQ(stats.without_geometry, 1);
  EXPECT_THAT(svg, HasSubstr("; 1 without a geometry (not type_x_y_w_h)"));
  EXPECT_EQ(Count(svg, "<title>"), 8u);
}

TEST(OverlaySvgTest, CapsLeaveOutExactCounts) {
  std::deque<std::string> text;
  JobState before, after;
  for (int i = 0; i < 30; ++i) {
    text.push_back("u" + std::to_string(i));
    const std::string_view id = text.back();
    text.push_back("box_" + std::to_string(i) + "_0_1_1");
    before.push_back({id, text.back()});
    after.push_back({id, text.back()});
  }
  for (int i = 0; i < 25; ++i) {
    text.push_back("a" + std::to_string(i));
    const std::string_view id = text.back();
    text.push_back("box_" + std::to_string(i) + "_5_1_1");
    after.push_back({id, text.back()});
  }
  OverlayStats stats;
  const std::string svg = RenderOverlaySvg(Diff(before, after), before, after, {10, 7}, &stats);
  EXPECT_EQ(Count(svg, "class=\"bt-added\""), 10u);
  EXPECT_EQ(Count(svg, "class=\"bt-unchanged\""), 7u);
  EXPECT_EQ(stats.left_out_changed, 15);
  EXPECT_EQ(stats.left_out_unchanged, 23);
  EXPECT_THAT(svg, HasSubstr("Left out: 15 changed (cap 10), 23 unchanged (cap 7)"));

  // Lists cut by the diff's limit: what the lists do not hold is left out too, and the unchanged
  // objects are still only the unchanged ones.
  const std::string cut = RenderOverlaySvg(Diff(before, after, 4), before, after, {}, &stats);
  EXPECT_EQ(Count(cut, "class=\"bt-added\""), 4u);
  EXPECT_EQ(Count(cut, "class=\"bt-unchanged\""), 30u);
  EXPECT_EQ(stats.left_out_changed, 21);
  EXPECT_EQ(stats.left_out_unchanged, 0);
}

TEST(OverlaySvgTest, HostileIdsAreEscapedEverywhere) {
  const JobState before{{"<script>alert(1)</script>", "box_0_0_1_1"}};
  const JobState after{{"<script>alert(1)</script>", "box_0_0_1_1"}, {"&\"'<x>", "b<_1_1_1_1"}};
  const std::string svg = RenderOverlaySvg(Diff(before, after), before, after);
  EXPECT_THAT(svg, Not(HasSubstr("<script")));
  EXPECT_THAT(svg, Not(HasSubstr("<x>")));
  EXPECT_THAT(svg, HasSubstr("<title>&lt;script&gt;alert(1)&lt;/script&gt; (unchanged)</title>"));
  EXPECT_THAT(svg, HasSubstr("<title>&amp;&quot;&#39;&lt;x&gt; (added): (none) \u2192 "
                             "b&lt;_1_1_1_1</title>"));
  EXPECT_EQ(XmlEscape("a\x01z"), "a\uFFFDz");
  EXPECT_EQ(XmlEscape("\u00e9\u00e9", 3), "\u00e9\u2026");
}

TEST(OverlaySvgTest, LongIdsAreCutSoTheOutputStaysBounded) {
  const std::string id(10000, 'x');
  const JobState before;
  const JobState after{{id, "box_0_0_1_1"}};
  const std::string svg = RenderOverlaySvg(Diff(before, after), before, after);
  EXPECT_THAT(svg, HasSubstr("<title>" + std::string(200, 'x') + "\u2026 (added)"));
  EXPECT_LT(svg.size(), 6000u);
}

TEST(OverlaySvgTest, DegenerateInputsGiveValidSvg) {
  const JobState empty;
  const std::string none = RenderOverlaySvg(Diff(empty, empty), empty, empty);
  EXPECT_TRUE(WellFormedEnds(none));
  EXPECT_EQ(Count(none, "<title>"), 0u);
  EXPECT_THAT(none, HasSubstr("Left out: 0 changed (cap 2000), 0 unchanged (cap 2000); 0 without"));

  // One point-sized object: no division by zero, the factor is 1.
  const JobState point{{"p", "pin_5_5_0_0"}};
  const std::string dot = RenderOverlaySvg(Diff(empty, point), empty, point);
  EXPECT_THAT(dot, HasSubstr("<rect x=\"20\" y=\"20\" width=\"0\" height=\"0\"/>"));
  EXPECT_THAT(dot, Not(HasSubstr("nan")));
  EXPECT_THAT(dot, Not(HasSubstr("inf")));

  // A zero-height row: scaled by its width alone.
  const JobState row{{"a", "wall_0_0_10_0"}, {"b", "wall_90_0_10_0"}};
  const std::string line = RenderOverlaySvg(Diff(empty, row), empty, row);
  EXPECT_THAT(line, HasSubstr("<rect x=\"704\" y=\"20\" width=\"76\" height=\"0\"/>"));

  // Hashes that are not pseudo-hashes: nothing drawn, every one counted.
  const JobState opaque{{"h1", "9f86d081"}, {"h2", "60303ae2"}};
  OverlayStats stats;
  const std::string blank = RenderOverlaySvg(Diff(empty, opaque), empty, opaque, {}, &stats);
  EXPECT_TRUE(WellFormedEnds(blank));
  EXPECT_EQ(Count(blank, "<title>"), 0u);
  EXPECT_EQ(stats.without_geometry, 2);
  EXPECT_EQ(stats.left_out_changed, 0);
}

TEST(OverlaySvgTest, InteractiveMarksAreFocusableAndCarryTheirValues) {
  const JobState before{{"m", "box_0_0_10_10"}, {"u", "box_50_50_10_10"}};
  const JobState after{{"m", "box_90_0_10_10"}, {"u", "box_50_50_10_10"}, {"<i>", "box_1_1_1_1"}};
  OverlayOptions options;
  options.interactive = true;
  const std::string svg = RenderOverlaySvg(Diff(before, after), before, after, options);
  // Inline in a page: no XML declaration, an id, and styles that apply inside it only.
  EXPECT_TRUE(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"overlay\" "));
  EXPECT_TRUE(svg.ends_with("</svg>\n"));
  EXPECT_THAT(svg, HasSubstr("#overlay g rect{fill:none;stroke-width:2}\n"));
  EXPECT_THAT(svg, HasSubstr("#overlay .bt-moved .bt-ghost,#overlay .bt-resized .bt-ghost{"));
  EXPECT_THAT(svg, Not(HasSubstr("\ntext{")));
  EXPECT_THAT(svg, HasSubstr("<g class=\"bt-moved mark\" tabindex=\"0\" role=\"img\" data-id=\"m\" "
                             "data-kind=\"moved\" data-before=\"box_0_0_10_10\" "
                             "data-after=\"box_90_0_10_10\" aria-label=\"m (moved)\"><title>"));
  EXPECT_THAT(svg, HasSubstr("<g class=\"bt-unchanged mark\" tabindex=\"0\" role=\"img\" "
                             "data-id=\"u\" data-kind=\"unchanged\" data-before=\"(none)\" "
                             "data-after=\"(none)\" aria-label=\"u (unchanged)\">"));
  EXPECT_THAT(svg, HasSubstr("data-id=\"&lt;i&gt;\" data-kind=\"added\" data-before=\"(none)\" "
                             "data-after=\"box_1_1_1_1\" aria-label=\"&lt;i&gt; (added)\""));
  EXPECT_EQ(Count(svg, "tabindex=\"0\""), 3u);
  // A file keeps its declaration and has no focusable marks.
  const std::string file = RenderOverlaySvg(Diff(before, after), before, after);
  EXPECT_TRUE(WellFormedEnds(file));
  EXPECT_EQ(Count(file, "tabindex"), 0u);
  EXPECT_THAT(file, HasSubstr("\ng rect{fill:none;stroke-width:2}\n"));
}

}  // namespace
}  // namespace buildtrace
