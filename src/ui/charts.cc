// The dashboard charts. Every coordinate goes through SvgNumber, which writes 0 for a non-finite
// number, and every value is clamped into its axis first, so no input can put "nan", "inf" or a
// point outside the viewBox into the output.
#include "ui/charts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "core/markup.h"

namespace buildtrace::ui {
namespace {

// Timestamps and IDs in titles are cut like the overlay's.
constexpr size_t kMaxTitleBytes = 200;
// At most this many x labels, so that they never overlap.
constexpr size_t kMaxXLabels = 5;
// A single job's bar is not drawn as wide as the whole plot.
constexpr double kMaxBarWidth = 48;
// At most this many ticks on a value axis (AxisTop gives 2 to 4; this bounds the loop).
constexpr int kMaxTicks = 12;

std::string Attr(std::string_view name, double v) {
  return " " + std::string(name) + "=\"" + SvgNumber(v) + "\"";
}

// "12-06 02:37" from "2026-12-06T02:37:08Z": short enough for an axis; anything else as given.
std::string ShortTime(std::string_view timestamp) {
  if (timestamp.size() >= 16 && timestamp[4] == '-' && timestamp[10] == 'T') {
    std::string out(timestamp.substr(5, 11));
    out[5] = ' ';
    return XmlEscape(out);
  }
  return XmlEscape(timestamp, 16);
}

std::string FormatCount(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, v < 1e6 ? "%.0f" : "%.3g", v);
  return buf;
}

std::string Plural(int64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// The opening tag and the accessible summary; `summary` is escaped here.
std::string OpenChart(std::string_view id, std::string_view classes, double width, double height,
                      std::string_view summary) {
  std::string out = "<svg";
  if (!id.empty()) out += " id=\"" + XmlEscape(id) + "\"";
  out += " class=\"" + std::string(classes) + "\" viewBox=\"0 0 " + SvgNumber(width) + " " +
         SvgNumber(height) + "\" font-size=\"12\" role=\"img\" aria-label=\"" + XmlEscape(summary) +
         "\"><title>" + XmlEscape(summary) + "</title>\n";
  return out;
}

// Maps a value in [0, top] to the plot's y; values outside are clamped to the plot.
double PlotY(double v, double top) {
  if (!std::isfinite(v) || v < 0) v = 0;
  v = std::min(v, top);
  return kChartMarginTop + kPlotHeight * (1 - v / top);
}

// The y axis: a line per tick across the plot (light grid) with its label on the left.
void AppendYAxis(std::string& out, double top, double step, bool latency) {
  out += "<g class=\"axis y-axis\">\n";
  for (int i = 0; i <= kMaxTicks; ++i) {
    const double v = step * i;
    if (v > top * (1 + 1e-9)) break;
    const double y = PlotY(v, top);
    out += "<line class=\"grid\" stroke=\"#e5e5e5\"" + Attr("x1", kChartMarginLeft) +
           Attr("y1", y) + Attr("x2", kChartMarginLeft + kPlotWidth) + Attr("y2", y) + "/>";
    out += "<text" + Attr("x", kChartMarginLeft - 6) + Attr("y", y + 4) + " text-anchor=\"end\">" +
           (latency ? FormatLatency(v) : FormatCount(v)) + "</text>\n";
  }
  out += "</g>\n";
}

// The x axis: the plot's bottom line and a few jobs' times and IDs under their slots.
template <typename Job>
void AppendXAxis(std::string& out, std::span<const Job> jobs) {
  const double bottom = kChartMarginTop + kPlotHeight;
  out += "<g class=\"axis x-axis\"><line stroke=\"#333333\"" + Attr("x1", kChartMarginLeft) +
         Attr("y1", bottom) + Attr("x2", kChartMarginLeft + kPlotWidth) + Attr("y2", bottom) +
         "/>\n";
  const size_t n = jobs.size();
  const size_t labels = std::min(n, kMaxXLabels);
  for (size_t k = 0; k < labels; ++k) {
    const size_t i = labels == 1 ? 0 : k * (n - 1) / (labels - 1);
    // Clamped so that the first and last labels stay inside the chart.
    const double x =
        std::clamp(JobSlotCentre(i, n), kChartMarginLeft + 36, kChartMarginLeft + kPlotWidth - 36);
    out += "<text" + Attr("x", x) + Attr("y", bottom + 16) + " text-anchor=\"middle\">" +
           ShortTime(jobs[i].timestamp) + "</text><text" + Attr("x", x) + Attr("y", bottom + 30) +
           " text-anchor=\"middle\">job " + std::to_string(jobs[i].job_id) + "</text>\n";
  }
  out += "</g>\n";
}

void AppendNoData(std::string& out, std::string_view text) {
  out += "<text class=\"no-data\"" + Attr("x", kChartMarginLeft + kPlotWidth / 2) +
         Attr("y", kChartMarginTop + kPlotHeight / 2) + " text-anchor=\"middle\">" +
         std::string(text) + "</text>\n";
}

// A legend entry: a 14 x 14 sample (`sample` is its markup at 0,0) and its name.
void AppendLegendEntry(std::string& out, double x, std::string_view sample, std::string_view name) {
  const double y = kChartHeight - 18;
  out += "<g transform=\"translate(" + SvgNumber(x) + " " + SvgNumber(y) + ")\">" +
         std::string(sample) + "<text x=\"20\" y=\"12\">" + std::string(name) + "</text></g>\n";
}

// Fill patterns, so that the segments differ without colour: added hatched, removed solid,
// modified dotted.
constexpr std::string_view kChangesDefs =
    "<defs>"
    "<pattern id=\"bt-chart-added\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
    "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#cde3f1\"/>"
    "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#0072b2\" stroke-width=\"3\"/></pattern>"
    "<pattern id=\"bt-chart-modified\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\">"
    "<rect width=\"5\" height=\"5\" fill=\"#e69f00\"/>"
    "<circle cx=\"2.5\" cy=\"2.5\" r=\"1.2\" fill=\"#000\"/></pattern>"
    "</defs>\n";

// Presentation attributes rather than page CSS, so that a chart reads the same on its own and
// the legend's samples (which carry no class, so that counting classes counts data) match.
constexpr std::string_view kAddedStyle = "fill=\"url(#bt-chart-added)\" stroke=\"#0072b2\"";
constexpr std::string_view kRemovedStyle = "fill=\"#d55e00\" stroke=\"#8a3c00\"";
constexpr std::string_view kModifiedStyle = "fill=\"url(#bt-chart-modified)\" stroke=\"#8a5f00\"";
constexpr std::string_view kPointStyle = "fill=\"#0072b2\" stroke=\"#ffffff\"";
constexpr std::string_view kUnknownPointStyle =
    "fill=\"#ffffff\" stroke=\"#555555\" stroke-dasharray=\"2 2\"";
constexpr std::string_view kFailedPointStyle =
    "fill=\"#ffffff\" stroke=\"#d55e00\" stroke-width=\"2\"";

struct Series {
  const char* name;
  std::string_view style;
};
// The quantile lines: solid, dashed, dotted.
constexpr Series kQuantileSeries[] = {
    {"p50", "stroke=\"#009e73\" stroke-width=\"2\""},
    {"p95", "stroke=\"#e69f00\" stroke-width=\"2\" stroke-dasharray=\"8 4\""},
    {"p99", "stroke=\"#cc79a7\" stroke-width=\"2.5\" stroke-dasharray=\"2 3\""},
};

struct Segment {
  const char* name;
  int64_t count;
  std::string_view style;
};

void AppendBar(std::string& out, const ChangeBar& bar, size_t index, size_t count, double top) {
  const double slot = kPlotWidth / static_cast<double>(count);
  const double width = std::min(slot * kBarShare, kMaxBarWidth);
  const double x = JobSlotCentre(index, count) - width / 2;
  out += "<g class=\"bar\" data-job-id=\"" + std::to_string(bar.job_id) + "\"><title>Job " +
         std::to_string(bar.job_id) + " (" + XmlEscape(bar.timestamp, kMaxTitleBytes) + "): ";
  if (!bar.counts) {
    // A low dashed outline, so that the job still has something to point at.
    out += "not analysed yet</title><rect class=\"pending\"" + Attr("x", x) +
           Attr("y", kChartMarginTop + kPlotHeight - 4) + Attr("width", width) +
           " height=\"4\" fill=\"none\" stroke=\"#555555\" stroke-dasharray=\"2 2\"/></g>\n";
    return;
  }
  const ChangeBar::Counts& c = *bar.counts;
  out += std::to_string(c.added) + " added, " + std::to_string(c.removed) + " removed, " +
         std::to_string(c.modified) + " modified</title>";
  double below = 0;  // the stack's total so far, in counts
  for (const Segment s :
       {Segment{"added", c.added, kAddedStyle}, Segment{"removed", c.removed, kRemovedStyle},
        Segment{"modified", c.modified, kModifiedStyle}}) {
    if (s.count <= 0) continue;
    const double y0 = PlotY(below, top);
    below += static_cast<double>(s.count);
    const double y1 = PlotY(below, top);
    out += "<rect class=\"" + std::string(s.name) + "\"" + Attr("x", x) + Attr("y", y1) +
           Attr("width", width) + Attr("height", y0 - y1) + " " + std::string(s.style) +
           "><title>Job " + std::to_string(bar.job_id) + ": " + std::to_string(s.count) + " " +
           s.name + "</title></rect>";
  }
  out += "</g>\n";
}

std::string ChangesSummary(std::span<const ChangeBar> bars) {
  if (bars.empty()) return "Changes per job: no jobs to chart.";
  int64_t added = 0, removed = 0, modified = 0, pending = 0;
  for (const ChangeBar& b : bars) {
    if (!b.counts) {
      ++pending;
      continue;
    }
    added += b.counts->added;
    removed += b.counts->removed;
    modified += b.counts->modified;
  }
  return "Changes per job for " + Plural(static_cast<int64_t>(bars.size()), "job", "jobs") +
         " (job " + std::to_string(bars.front().job_id) + " to job " +
         std::to_string(bars.back().job_id) + "): " + std::to_string(added) + " added, " +
         std::to_string(removed) + " removed, " + std::to_string(modified) + " modified in all" +
         (pending > 0 ? "; " + std::to_string(pending) + " not analysed yet." : ".");
}

struct QuantileLine {
  const char* name;
  std::optional<double> value;
};

void AppendQuantiles(std::string& out, const LatencyQuantiles& q, double top) {
  // Labels at different x, so that close quantiles do not write over each other.
  const QuantileLine lines[] = {{"p50", q.p50}, {"p95", q.p95}, {"p99", q.p99}};
  double label_x = kChartMarginLeft + kPlotWidth - 4;
  for (size_t i = 0; i < 3; ++i) {
    const QuantileLine& l = lines[i];
    if (l.value && std::isfinite(*l.value)) {
      const double y = PlotY(*l.value, top);
      out += "<line class=\"" + std::string(l.name) + "\"" + Attr("x1", kChartMarginLeft) +
             Attr("y1", y) + Attr("x2", kChartMarginLeft + kPlotWidth) + Attr("y2", y) + " " +
             std::string(kQuantileSeries[i].style) + "><title>" + l.name + ": " +
             FormatLatency(*l.value) + "</title></line>";
      out += "<text class=\"quantile-label " + std::string(l.name) + "\"" + Attr("x", label_x) +
             Attr("y", y - 4) +
             // A white halo keeps the label readable over the points.
             " text-anchor=\"end\" paint-order=\"stroke\" stroke=\"#ffffff\" stroke-width=\"3\">" +
             l.name + " " + FormatLatency(*l.value) + "</text>\n";
    }
    label_x -= 130;
  }
}

void AppendPoints(std::string& out, std::span<const LatencyPoint> points, double top) {
  std::string polyline;
  for (size_t i = 0; i < points.size(); ++i) {
    const double x = JobSlotCentre(i, points.size());
    if (std::isfinite(points[i].latency_ms)) {
      polyline += (polyline.empty() ? "" : " ") + SvgNumber(x) + "," +
                  SvgNumber(PlotY(points[i].latency_ms, top));
    }
  }
  if (!polyline.empty()) {
    out += "<polyline class=\"trend\" fill=\"none\" stroke=\"#9e9e9e\" points=\"" + polyline +
           "\"/>\n";
  }
  for (size_t i = 0; i < points.size(); ++i) {
    const LatencyPoint& p = points[i];
    const bool known = std::isfinite(p.latency_ms);
    const char* kind = !known ? " unknown" : p.failed ? " failed" : "";
    const std::string_view style = !known     ? kUnknownPointStyle
                                   : p.failed ? kFailedPointStyle
                                              : kPointStyle;
    out += std::string("<circle class=\"job") + kind + "\" data-job-id=\"" +
           std::to_string(p.job_id) + "\"" + Attr("cx", JobSlotCentre(i, points.size())) +
           Attr("cy", PlotY(known ? p.latency_ms : 0, top)) + " r=\"4\" " + std::string(style) +
           "><title>Job " + std::to_string(p.job_id) + " (" +
           XmlEscape(p.timestamp, kMaxTitleBytes) +
           "): " + (known ? FormatLatency(p.latency_ms) : "no latency recorded") +
           (p.failed ? ", failed" : "") + "</title></circle>\n";
  }
}

std::string LatencySummary(std::span<const LatencyPoint> points, const LatencyQuantiles& q) {
  if (points.empty()) return "Latency per job: no jobs to chart.";
  double lo = INFINITY, hi = -INFINITY;
  for (const LatencyPoint& p : points) {
    if (!std::isfinite(p.latency_ms)) continue;
    lo = std::min(lo, p.latency_ms);
    hi = std::max(hi, p.latency_ms);
  }
  std::string out = "Latency of " + Plural(static_cast<int64_t>(points.size()), "job", "jobs");
  out += std::isfinite(lo) ? ": from " + FormatLatency(lo) + " to " + FormatLatency(hi)
                           : ": none recorded";
  for (const QuantileLine& l :
       {QuantileLine{"p50", q.p50}, QuantileLine{"p95", q.p95}, QuantileLine{"p99", q.p99}}) {
    if (l.value && std::isfinite(*l.value)) {
      out += std::string("; ") + l.name + " " + FormatLatency(*l.value);
    }
  }
  return out + ".";
}

}  // namespace

double AxisTop(double max, double* step) {
  double s = 1, top = 1;
  const double raw = max / 4;
  if (std::isfinite(max) && raw > 0) {
    const double base = std::pow(10.0, std::floor(std::log10(raw)));
    const double f = raw / base;
    s = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * base;
    // The small slack keeps 100 / 50 from rounding up to three steps.
    top = s * std::ceil(max / s * (1 - 1e-12));
    if (!std::isfinite(top) || top <= 0 || !std::isfinite(s) || s <= 0) {
      top = max;  // near the largest double: no round step above it
      s = max / 4;
    }
  }
  if (step != nullptr) *step = s;
  return top;
}

double JobSlotCentre(size_t index, size_t count) {
  if (count == 0) return kChartMarginLeft + kPlotWidth / 2;
  const double slot = kPlotWidth / static_cast<double>(count);
  return kChartMarginLeft + slot * (static_cast<double>(index) + 0.5);
}

std::string FormatLatency(double ms) {
  if (!std::isfinite(ms)) return "n/a";
  char buf[64];
  if (std::abs(ms) < 1000) {
    std::snprintf(buf, sizeof buf, "%.4g ms", ms);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g s", ms / 1000);
  }
  return buf;
}

std::string RenderSparkline(std::span<const double> latencies_ms) {
  std::vector<std::pair<size_t, double>> finite;
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < latencies_ms.size(); ++i) {
    const double v = latencies_ms[i];
    if (!std::isfinite(v)) continue;
    finite.emplace_back(i, v);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  const std::string summary = finite.empty()
                                  ? std::string("Recent latencies: no latencies")
                                  : "Recent latencies of " +
                                        Plural(static_cast<int64_t>(finite.size()), "job", "jobs") +
                                        ": from " + FormatLatency(lo) + " to " + FormatLatency(hi) +
                                        ", the latest " + FormatLatency(finite.back().second);
  std::string out = OpenChart("", "sparkline", kSparklineWidth, kSparklineHeight, summary);
  const double n = static_cast<double>(latencies_ms.size());
  const double range = hi - lo;  // may overflow to inf for opposite huge values: then mid height
  std::string points, circles;
  for (const auto& [i, v] : finite) {
    const double x = n <= 1 ? kSparklineWidth / 2
                            : kSparklinePad + (kSparklineWidth - 2 * kSparklinePad) *
                                                  static_cast<double>(i) / (n - 1);
    double y = kSparklineHeight / 2;
    if (range > 0 && std::isfinite(range)) {
      y = kSparklinePad + (kSparklineHeight - 2 * kSparklinePad) * (1 - (v - lo) / range);
    }
    points += (points.empty() ? "" : " ") + SvgNumber(x) + "," + SvgNumber(y);
    circles += "<circle" + Attr("cx", x) + Attr("cy", y) + " r=\"1.5\" fill=\"#0072b2\"/>";
  }
  if (finite.size() > 1) {
    out += "<polyline fill=\"none\" stroke=\"#0072b2\" stroke-width=\"1.5\" points=\"" + points +
           "\"/>";
  }
  return out + circles + "</svg>";
}

std::string RenderChangesChart(std::string_view id, std::span<const ChangeBar> bars) {
  double max_total = 0;
  for (const ChangeBar& b : bars) {
    if (!b.counts) continue;
    const auto& c = *b.counts;
    max_total = std::max(max_total, static_cast<double>(std::max<int64_t>(c.added, 0)) +
                                        static_cast<double>(std::max<int64_t>(c.removed, 0)) +
                                        static_cast<double>(std::max<int64_t>(c.modified, 0)));
  }
  double step = 1;
  double top = AxisTop(max_total, &step);
  if (step < 1) {  // counts are whole: no tick at 0.5
    step = 1;
    top = std::max(1.0, std::ceil(max_total));
  }
  std::string out =
      OpenChart(id, "chart changes-chart", kChartWidth, kChartHeight, ChangesSummary(bars));
  out += kChangesDefs;
  AppendYAxis(out, top, step, false);
  for (size_t i = 0; i < bars.size(); ++i) AppendBar(out, bars[i], i, bars.size(), top);
  if (bars.empty()) AppendNoData(out, "No jobs to chart");
  AppendXAxis(out, bars);
  double x = kChartMarginLeft;
  for (const Series& s : {Series{"added", kAddedStyle}, Series{"removed", kRemovedStyle},
                          Series{"modified", kModifiedStyle}}) {
    AppendLegendEntry(out, x, "<rect width=\"14\" height=\"14\" " + std::string(s.style) + "/>",
                      s.name);
    x += 100;
  }
  return out + "</svg>";
}

std::string RenderLatencyChart(std::string_view id, std::span<const LatencyPoint> points,
                               const LatencyQuantiles& quantiles) {
  double max = 0;
  for (const LatencyPoint& p : points) {
    if (std::isfinite(p.latency_ms)) max = std::max(max, p.latency_ms);
  }
  for (const std::optional<double>& q : {quantiles.p50, quantiles.p95, quantiles.p99}) {
    if (q && std::isfinite(*q)) max = std::max(max, *q);
  }
  double step = 1;
  const double top = AxisTop(max, &step);
  std::string out = OpenChart(id, "chart latency-chart", kChartWidth, kChartHeight,
                              LatencySummary(points, quantiles));
  AppendYAxis(out, top, step, true);
  AppendQuantiles(out, quantiles, top);
  AppendPoints(out, points, top);
  if (points.empty()) AppendNoData(out, "No jobs to chart");
  AppendXAxis(out, points);
  AppendLegendEntry(out, kChartMarginLeft,
                    "<circle cx=\"7\" cy=\"7\" r=\"4\" " + std::string(kPointStyle) + "/>",
                    "job latency");
  AppendLegendEntry(out, kChartMarginLeft + 120,
                    "<circle cx=\"7\" cy=\"7\" r=\"4\" " + std::string(kFailedPointStyle) + "/>",
                    "failed job");
  double x = kChartMarginLeft + 240;
  for (const Series& s : kQuantileSeries) {
    AppendLegendEntry(out, x,
                      "<line x1=\"0\" y1=\"7\" x2=\"28\" y2=\"7\" " + std::string(s.style) + "/>",
                      s.name);
    x += 100;
  }
  return out + "</svg>";
}

}  // namespace buildtrace::ui
