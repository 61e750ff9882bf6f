// The dashboard's charts as inline SVG fragments (no XML declaration, no namespace: they are
// parsed as part of an HTML document): a latency sparkline, a stacked bar chart of changes per
// job and a latency chart with the warehouse's quantile lines. Pure functions of plain numbers;
// whatever the input (no job, one job, equal values, huge values, NaN or infinities) the output
// is well-formed and holds no "nan" or "inf" coordinate.
//
// Accessibility: each chart is role="img" with an aria-label and a <title> summarising it; the
// series are told apart by fill pattern or dash style as well as by colour (Okabe-Ito palette),
// and a legend names them in text.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace buildtrace::ui {

// The sparkline's viewBox: kSparklineWidth x kSparklineHeight, points kSparklinePad inside it.
inline constexpr double kSparklineWidth = 120;
inline constexpr double kSparklineHeight = 24;
inline constexpr double kSparklinePad = 3;

// The two big charts share one layout so that their jobs line up: a viewBox of kChartWidth x
// kChartHeight, the plot area inset by the margins (the axes' labels and the legend live there).
inline constexpr double kChartWidth = 800;
inline constexpr double kChartHeight = 260;
inline constexpr double kChartMarginLeft = 64;
inline constexpr double kChartMarginRight = 16;
inline constexpr double kChartMarginTop = 16;
inline constexpr double kChartMarginBottom = 64;
inline constexpr double kPlotWidth = kChartWidth - kChartMarginLeft - kChartMarginRight;
inline constexpr double kPlotHeight = kChartHeight - kChartMarginTop - kChartMarginBottom;
// A bar takes this share of its job's slot (the rest is the gap between bars).
inline constexpr double kBarShare = 0.7;

// One bar of the changes chart; `counts` absent for a job not analysed yet (no segments drawn).
struct ChangeBar {
  int64_t job_id = 0;
  std::string timestamp;  // RFC 3339, for the x axis labels and titles
  struct Counts {
    int64_t added = 0, removed = 0, modified = 0;
  };
  std::optional<Counts> counts;
};

// One point of the latency chart. A latency that is not finite is drawn as a hollow grey marker
// on the x axis (class "job unknown") rather than left out, so there is still one marker per job
// and the slots line up with the changes chart's. A failed job is a hollow ring (class "job
// failed"): its latency is real but the warehouse's quantiles leave it out.
struct LatencyPoint {
  int64_t job_id = 0;
  std::string timestamp;
  double latency_ms = 0;
  bool failed = false;
};

// The warehouse's quantiles in ms; an absent or non-finite one draws no line.
struct LatencyQuantiles {
  std::optional<double> p50, p95, p99;
};

// The top of a value axis that shows `max`: the smallest multiple of a 1-2-5 step (about a
// quarter of `max`) at or above it; 1 when `max` is not positive or not finite. `step`, when
// given, receives the tick step (top / step ticks above 0).
double AxisTop(double max, double* step = nullptr);

// Job `index` of `count`'s x centre in the two big charts: equal slots across the plot area,
// oldest on the left. Slots rather than time keep bar and point charts aligned per job and keep
// bursts of jobs readable.
double JobSlotCentre(size_t index, size_t count);

// A latency in ms as people read it: "850 ms", "12.5 s", "1.2e+06 s"; "n/a" when not finite.
std::string FormatLatency(double ms);

// <svg class="sparkline" role="img"> of the latencies, oldest first: a polyline through the
// finite ones and one <circle> each, scaled between their minimum and maximum (all equal: a
// flat line at mid height). No finite latency: the frame only, labelled "no latencies".
std::string RenderSparkline(std::span<const double> latencies_ms);

// <svg id="`id`" class="chart changes-chart" role="img">: one <g class="bar" data-job-id="N">
// per bar holding a <title> and, bottom to top, a <rect class="added">, <rect class="removed">
// and <rect class="modified"> for each non-zero count, heights proportional to AxisTop of the
// largest total; y ticks with counts, x labels with a few jobs' times; a legend.
std::string RenderChangesChart(std::string_view id, std::span<const ChangeBar> bars);

// <svg id="`id`" class="chart latency-chart" role="img">: one <circle class="job"
// data-job-id="N"> with a <title> per point, joined by a polyline; a <line class="p50|p95|p99">
// across the plot with a <text class="quantile-label"> for each quantile given (solid, dashed,
// dotted); y ticks in ms, x labels with a few jobs' times; a legend. The y axis spans 0 to
// AxisTop of the largest finite latency or quantile.
std::string RenderLatencyChart(std::string_view id, std::span<const LatencyPoint> points,
                               const LatencyQuantiles& quantiles);

}  // namespace buildtrace::ui
