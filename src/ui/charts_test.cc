// The charts: exact geometry for known inputs, degenerate inputs (no job, one job, equal values,
// huge values, NaN and infinities) and escaping.
#include "ui/charts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <regex>
#include <string>
#include <vector>

namespace buildtrace::ui {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

size_t Count(const std::string& text, std::string_view needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// No attribute or text holds a non-finite number ("nan", "inf", "-nan", "1e+309"...).
void ExpectFinite(const std::string& svg) {
  static const std::regex kBad("(^|[^a-z])(nan|inf)", std::regex::icase);
  EXPECT_FALSE(std::regex_search(svg, kBad)) << svg;
  EXPECT_THAT(svg, Not(HasSubstr("e+309")));
}

TEST(AxisTopTest, RoundsUpToAOneTwoFiveStep) {
  double step = 0;
  EXPECT_EQ(AxisTop(20, &step), 20);
  EXPECT_EQ(step, 5);
  EXPECT_EQ(AxisTop(100, &step), 100);
  EXPECT_EQ(step, 50);
  EXPECT_EQ(AxisTop(101, &step), 150);
  EXPECT_EQ(step, 50);
  EXPECT_EQ(AxisTop(7, &step), 8);
  EXPECT_EQ(step, 2);
}

TEST(AxisTopTest, DegenerateMaximaGiveOne) {
  for (const double max : {0.0, -5.0, double{NAN}, double{INFINITY}, -double{INFINITY}, 5e-324}) {
    double step = 0;
    EXPECT_EQ(AxisTop(max, &step), 1) << max;
    EXPECT_EQ(step, 1) << max;
  }
}

TEST(AxisTopTest, HugeMaximaStayFinite) {
  double step = 0;
  EXPECT_EQ(AxisTop(1e308, &step), 1e308);
  EXPECT_TRUE(std::isfinite(AxisTop(DBL_MAX, &step)));
  EXPECT_GE(AxisTop(DBL_MAX), DBL_MAX);
  EXPECT_TRUE(std::isfinite(step));
}

TEST(FormatLatencyTest, MillisecondsSecondsAndNonFinite) {
  EXPECT_EQ(FormatLatency(850), "850 ms");
  EXPECT_EQ(FormatLatency(12.5), "12.5 ms");
  EXPECT_EQ(FormatLatency(12500), "12.5 s");
  EXPECT_EQ(FormatLatency(NAN), "n/a");
  EXPECT_EQ(FormatLatency(INFINITY), "n/a");
}

TEST(SparklineTest, NoLatenciesDrawsNoPoint) {
  const std::string svg = RenderSparkline({});
  EXPECT_THAT(svg, HasSubstr("class=\"sparkline\""));
  EXPECT_THAT(svg, HasSubstr("role=\"img\""));
  EXPECT_THAT(svg, HasSubstr("aria-label=\"Recent latencies: no latencies\""));
  EXPECT_EQ(Count(svg, "<circle"), 0u);
  EXPECT_EQ(Count(svg, "<polyline"), 0u);
}

TEST(SparklineTest, ScalesBetweenMinimumAndMaximum) {
  const std::vector<double> v = {0, 10, 5};
  const std::string svg = RenderSparkline(v);
  EXPECT_EQ(Count(svg, "<circle"), 3u);
  // x from the pad to the width less the pad; y from the bottom pad (minimum) to the top one.
  EXPECT_THAT(svg, HasSubstr("<circle cx=\"3\" cy=\"21\""));
  EXPECT_THAT(svg, HasSubstr("<circle cx=\"60\" cy=\"3\""));
  EXPECT_THAT(svg, HasSubstr("<circle cx=\"117\" cy=\"12\""));
  EXPECT_THAT(svg, HasSubstr("points=\"3,21 60,3 117,12\""));
  EXPECT_THAT(svg, HasSubstr("from 0 ms to 10 ms, the latest 5 ms"));
}

TEST(SparklineTest, OnePointAndEqualValuesSitAtMidHeight) {
  const std::vector<double> one = {42};
  EXPECT_THAT(RenderSparkline(one), HasSubstr("<circle cx=\"60\" cy=\"12\""));
  const std::vector<double> equal = {7, 7, 7};
  const std::string svg = RenderSparkline(equal);
  EXPECT_EQ(Count(svg, "cy=\"12\""), 3u);
}

TEST(SparklineTest, NonFiniteLatenciesAreSkipped) {
  const std::vector<double> v = {NAN, 1, INFINITY, -INFINITY, 3, DBL_MAX};
  const std::string svg = RenderSparkline(v);
  EXPECT_EQ(Count(svg, "<circle"), 3u);
  ExpectFinite(svg);
  const std::vector<double> all_nan = {NAN, NAN};
  EXPECT_EQ(Count(RenderSparkline(all_nan), "<circle"), 0u);
}

TEST(ChangesChartTest, StacksExactHeights) {
  const std::vector<ChangeBar> bars = {
      {10, "2026-12-06T02:37:08Z", ChangeBar::Counts{10, 5, 5}},
      {11, "2026-12-06T03:00:00Z", ChangeBar::Counts{0, 0, 2}},
  };
  const std::string svg = RenderChangesChart("changes-chart", bars);
  EXPECT_THAT(svg, HasSubstr("<svg id=\"changes-chart\""));
  EXPECT_EQ(Count(svg, "<g class=\"bar\""), 2u);
  EXPECT_EQ(Count(svg, "<rect class="), 4u);  // zero counts draw no segment
  // Axis top 20 over a plot 180 high from y 16 to 196; slots 360 wide, bars 48 wide.
  EXPECT_THAT(svg, HasSubstr("<rect class=\"added\" x=\"220\" y=\"106\" width=\"48\" "
                             "height=\"90\""));
  EXPECT_THAT(svg, HasSubstr("<rect class=\"removed\" x=\"220\" y=\"61\" width=\"48\" "
                             "height=\"45\""));
  EXPECT_THAT(svg, HasSubstr("<rect class=\"modified\" x=\"220\" y=\"16\" width=\"48\" "
                             "height=\"45\""));
  EXPECT_THAT(svg, HasSubstr("<rect class=\"modified\" x=\"580\" y=\"178\" width=\"48\" "
                             "height=\"18\""));
  EXPECT_THAT(svg, HasSubstr("<g class=\"bar\" data-job-id=\"11\"><title>Job 11"));
  EXPECT_THAT(svg, HasSubstr("role=\"img\""));
  EXPECT_THAT(svg, HasSubstr("aria-label=\"Changes per job for 2 jobs (job 10 to job 11): 10 "
                             "added, 5 removed, 7 modified in all.\""));
  // Ticks every 5 up to 20, and the legend names the series in text.
  EXPECT_THAT(svg, HasSubstr(">20</text>"));
  EXPECT_THAT(svg, HasSubstr(">15</text>"));
  EXPECT_THAT(svg, HasSubstr(">added</text>"));
  EXPECT_THAT(svg, HasSubstr(">modified</text>"));
  EXPECT_THAT(svg, HasSubstr(">12-06 02:37</text>"));
}

TEST(ChangesChartTest, PendingJobsHaveABarGroupWithoutSegments) {
  const std::vector<ChangeBar> bars = {{5, "t", std::nullopt}};
  const std::string svg = RenderChangesChart("c", bars);
  EXPECT_EQ(Count(svg, "<g class=\"bar\" data-job-id=\"5\">"), 1u);
  EXPECT_EQ(Count(svg, "<rect class="), 1u);
  EXPECT_THAT(svg, HasSubstr("<rect class=\"pending\" x=\"400\" y=\"192\" width=\"48\" "
                             "height=\"4\""));
  EXPECT_THAT(svg, HasSubstr("not analysed yet"));
  EXPECT_THAT(svg, HasSubstr("1 not analysed yet."));
  ExpectFinite(svg);
}

TEST(ChangesChartTest, NoJobsSaysSo) {
  const std::string svg = RenderChangesChart("c", {});
  EXPECT_EQ(Count(svg, "<g class=\"bar\""), 0u);
  EXPECT_THAT(svg, HasSubstr("No jobs to chart"));
  EXPECT_THAT(svg, HasSubstr("aria-label=\"Changes per job: no jobs to chart.\""));
  ExpectFinite(svg);
}

TEST(ChangesChartTest, SmallCountsHaveWholeTicksAndHugeCountsStayInside) {
  const std::vector<ChangeBar> small = {{1, "t", ChangeBar::Counts{1, 0, 0}}};
  const std::string svg = RenderChangesChart("c", small);
  EXPECT_THAT(svg, Not(HasSubstr(">0.5</text>")));
  // One job of one change fills the plot: from y 16 to 196, the bar in the middle.
  EXPECT_THAT(svg, HasSubstr("<rect class=\"added\" x=\"400\" y=\"16\" width=\"48\" "
                             "height=\"180\""));
  const std::vector<ChangeBar> huge = {
      {1, "t", ChangeBar::Counts{INT64_MAX, INT64_MAX, INT64_MAX}}};
  const std::string big = RenderChangesChart("c", huge);
  ExpectFinite(big);
  EXPECT_THAT(big, HasSubstr("<rect class=\"added\" x=\"400\""));
}

TEST(LatencyChartTest, QuantileLinesAtTheirExactHeight) {
  const std::vector<LatencyPoint> points = {
      {1, "2026-12-06T00:00:00Z", 100}, {2, "2026-12-06T01:00:00Z", 50}, {3, "x", NAN}};
  const std::string svg = RenderLatencyChart("latency-chart", points, {50, 80, 100});
  EXPECT_THAT(svg, HasSubstr("<svg id=\"latency-chart\""));
  // Axis top 100: y = 16 + 180 * (1 - v / 100).
  EXPECT_THAT(svg, HasSubstr("<line class=\"p50\" x1=\"64\" y1=\"106\" x2=\"784\" y2=\"106\""));
  EXPECT_THAT(svg, HasSubstr("<line class=\"p95\" x1=\"64\" y1=\"52\" x2=\"784\" y2=\"52\""));
  EXPECT_THAT(svg, HasSubstr("<line class=\"p99\" x1=\"64\" y1=\"16\" x2=\"784\" y2=\"16\""));
  EXPECT_THAT(svg, HasSubstr(">p95 80 ms</text>"));
  EXPECT_EQ(Count(svg, "<line class=\"p"), 3u);  // the legend's samples carry no class
  // Distinct dash styles, not colour alone.
  EXPECT_THAT(svg, HasSubstr("stroke-dasharray=\"8 4\""));
  EXPECT_THAT(svg, HasSubstr("stroke-dasharray=\"2 3\""));
  // One marker per job; slots 240 wide; the NaN one hollow on the axis.
  EXPECT_EQ(Count(svg, "<circle class=\"job"), 3u);
  EXPECT_THAT(svg, HasSubstr("<circle class=\"job\" data-job-id=\"1\" cx=\"184\" cy=\"16\""));
  EXPECT_THAT(svg, HasSubstr("<circle class=\"job\" data-job-id=\"2\" cx=\"424\" cy=\"106\""));
  EXPECT_THAT(svg, HasSubstr("<circle class=\"job unknown\" data-job-id=\"3\" cx=\"664\" "
                             "cy=\"196\""));
  EXPECT_THAT(svg, HasSubstr("no latency recorded"));
  EXPECT_THAT(svg, HasSubstr("points=\"184,16 424,106\""));
  EXPECT_THAT(svg, HasSubstr("aria-label=\"Latency of 3 jobs: from 50 ms to 100 ms; p50 50 ms; "
                             "p95 80 ms; p99 100 ms.\""));
  ExpectFinite(svg);
}

TEST(LatencyChartTest, FailedJobsAreHollowRingsInTheirSlot) {
  const std::vector<LatencyPoint> points = {{1, "t", 10}, {2, "t", 20, true}};
  const std::string svg = RenderLatencyChart("l", points, {});
  EXPECT_THAT(svg, HasSubstr("<circle class=\"job failed\" data-job-id=\"2\" cx=\"604\""));
  EXPECT_THAT(svg, HasSubstr("20 ms, failed</title>"));
  EXPECT_THAT(svg, HasSubstr(">failed job</text>"));
  EXPECT_EQ(Count(svg, "<circle class=\"job failed\""), 1u);
}

TEST(LatencyChartTest, AbsentOrNonFiniteQuantilesDrawNoLine) {
  const std::vector<LatencyPoint> points = {{1, "t", 10}};
  const std::string svg = RenderLatencyChart("l", points, {std::nullopt, NAN, INFINITY});
  EXPECT_EQ(Count(svg, "<line class=\"p"), 0u);
  EXPECT_THAT(svg, HasSubstr("<circle class=\"job\" data-job-id=\"1\" cx=\"424\""));
  ExpectFinite(svg);
}

TEST(LatencyChartTest, QuantileAboveEveryPointRaisesTheAxis) {
  const std::vector<LatencyPoint> points = {{1, "t", 10}};
  const std::string svg = RenderLatencyChart("l", points, {10, 20, 200});
  // Axis top 200: the point at 10 ms sits at 16 + 180 * 0.95 = 187.
  EXPECT_THAT(svg, HasSubstr("cy=\"187\""));
  EXPECT_THAT(svg, HasSubstr("<line class=\"p99\" x1=\"64\" y1=\"16\""));
}

TEST(LatencyChartTest, DegenerateInputsStayFinite) {
  EXPECT_THAT(RenderLatencyChart("l", {}, {}), HasSubstr("No jobs to chart"));
  ExpectFinite(RenderLatencyChart("l", {}, {}));
  const std::vector<LatencyPoint> equal = {{1, "t", 5}, {2, "t", 5}};
  const std::string flat = RenderLatencyChart("l", equal, {5, 5, 5});
  EXPECT_EQ(Count(flat, "cy=\"46\""), 2u);  // axis top AxisTop(5) = 6: 16 + 180 / 6
  const std::vector<LatencyPoint> wild = {
      {1, "t", DBL_MAX}, {2, "t", -INFINITY}, {3, "t", -5}, {4, "t", 1e308}, {5, "t", NAN}};
  const std::string svg = RenderLatencyChart("l", wild, {NAN, DBL_MAX, 1e308});
  ExpectFinite(svg);
  EXPECT_EQ(Count(svg, "<circle class=\"job"), 5u);
}

TEST(ChartEscapingTest, TimestampsAndIdsAreEscaped) {
  const std::string evil = "<script>alert(1)</script>\"><img src=x onerror=alert(1)>";
  const std::vector<LatencyPoint> points = {{1, evil, 10}};
  const std::vector<ChangeBar> bars = {{1, evil, ChangeBar::Counts{1, 1, 1}}};
  for (const std::string& svg :
       {RenderLatencyChart(evil, points, {}), RenderChangesChart(evil, bars)}) {
    EXPECT_THAT(svg, Not(HasSubstr("<script")));
    EXPECT_THAT(svg, Not(HasSubstr("<img")));
    EXPECT_THAT(svg, Not(HasSubstr("\"><img")));
    EXPECT_THAT(svg, HasSubstr("&lt;script&gt;"));
  }
}

}  // namespace
}  // namespace buildtrace::ui
