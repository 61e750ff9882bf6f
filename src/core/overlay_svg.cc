// The overlay renderer. Kinds are told apart by line style and fill pattern as well as by colour
// (the Okabe-Ito palette, readable with the common colour-vision deficiencies): added is solid and
// hatched, removed dashed, moved a dotted ghost with an arrow, resized both outlines, retyped a
// diamond marker, changed dotted.
#include "core/overlay_svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/markup.h"
#include "core/pseudo_hash.h"

namespace buildtrace {
namespace {

constexpr size_t kMaxTitleBytes = 200;
constexpr double kLegendHeight = 70;

enum class MarkKind { kUnchanged, kAdded, kRemoved, kMoved, kResized, kRetyped, kChanged };

const char* MarkClass(MarkKind kind) {
  switch (kind) {
    case MarkKind::kUnchanged:
      return "bt-unchanged";
    case MarkKind::kAdded:
      return "bt-added";
    case MarkKind::kRemoved:
      return "bt-removed";
    case MarkKind::kMoved:
      return "bt-moved";
    case MarkKind::kResized:
      return "bt-resized";
    case MarkKind::kRetyped:
      return "bt-retyped";
    case MarkKind::kChanged:
      return "bt-changed";
  }
  return "bt-changed";
}

MarkKind FromChangeKind(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kMoved:
      return MarkKind::kMoved;
    case ChangeKind::kResized:
      return MarkKind::kResized;
    case ChangeKind::kRetyped:
      return MarkKind::kRetyped;
    case ChangeKind::kChanged:
      return MarkKind::kChanged;
  }
  return MarkKind::kChanged;
}

struct Mark {
  MarkKind kind;
  std::string_view id;
  std::string_view before_value, after_value;  // "" when absent
  std::optional<Geometry> before, after;       // the boxes drawn
};

struct Box {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

void Grow(std::optional<Box>& box, const Geometry& g) {
  const double x0 = std::min(g.x, g.x + g.w), x1 = std::max(g.x, g.x + g.w);
  const double y0 = std::min(g.y, g.y + g.h), y1 = std::max(g.y, g.y + g.h);
  if (!box) {
    box = Box{x0, y0, x1, y1};
    return;
  }
  box->x0 = std::min(box->x0, x0);
  box->y0 = std::min(box->y0, y0);
  box->x1 = std::max(box->x1, x1);
  box->y1 = std::max(box->y1, y1);
}

// Design coordinates to the viewBox: one factor on both axes, the box's corner at the margin.
struct Scale {
  double x0 = 0, y0 = 0, factor = 1;

  static Scale Fit(const std::optional<Box>& box) {
    if (!box) return {};
    const double w = box->x1 - box->x0, h = box->y1 - box->y0;
    const double room_w = kOverlayWidth - 2 * kOverlayMargin;
    const double room_h = kOverlayHeight - 2 * kOverlayMargin;
    double factor = 1;  // a single point: nothing to scale
    if (w > 0 && h > 0) {
      factor = std::min(room_w / w, room_h / h);
    } else if (w > 0) {
      factor = room_w / w;
    } else if (h > 0) {
      factor = room_h / h;
    }
    if (!std::isfinite(factor) || factor <= 0) factor = 1;
    return {box->x0, box->y0, factor};
  }
  double X(double x) const { return kOverlayMargin + (x - x0) * factor; }
  double Y(double y) const { return kOverlayMargin + (y - y0) * factor; }
};

std::string Rect(const Scale& scale, const Geometry& g, std::string_view extra = "") {
  const double x = std::min(g.x, g.x + g.w), y = std::min(g.y, g.y + g.h);
  std::string out = "<rect x=\"" + SvgNumber(scale.X(x)) + "\" y=\"" + SvgNumber(scale.Y(y)) +
                    "\" width=\"" + SvgNumber(std::abs(g.w) * scale.factor) + "\" height=\"" +
                    SvgNumber(std::abs(g.h) * scale.factor) + "\"";
  if (!extra.empty()) out += " " + std::string(extra);
  return out + "/>";
}

std::pair<double, double> Centre(const Scale& scale, const Geometry& g) {
  return {scale.X(g.x + g.w / 2), scale.Y(g.y + g.h / 2)};
}

// The value shown for a side of a mark: escaped and cut, "(none)" when absent.
std::string ShownValue(std::string_view value) {
  return value.empty() ? std::string("(none)") : XmlEscape(value, kMaxTitleBytes);
}

void AppendMark(std::string& out, const Scale& scale, const Mark& m, bool interactive) {
  const char* kind = MarkClass(m.kind) + 3;  // without "bt-"
  out += "<g class=\"";
  out += MarkClass(m.kind);
  if (interactive) {
    const std::string id = XmlEscape(m.id, kMaxTitleBytes);
    out += " mark\" tabindex=\"0\" role=\"img\" data-id=\"" + id + "\" data-kind=\"" + kind +
           "\" data-before=\"" + ShownValue(m.before_value) + "\" data-after=\"" +
           ShownValue(m.after_value) + "\" aria-label=\"" + id + " (" + kind + ")";
  }
  out += "\"><title>";
  out += XmlEscape(m.id, kMaxTitleBytes);
  out += " (";
  out += kind;
  out += ")";
  if (!m.before_value.empty() || !m.after_value.empty()) {
    out += ": ";
    out += ShownValue(m.before_value);
    out += " \u2192 ";
    out += ShownValue(m.after_value);
  }
  out += "</title>";
  switch (m.kind) {
    case MarkKind::kUnchanged:
    case MarkKind::kRemoved:
      out += Rect(scale, *m.before);
      break;
    case MarkKind::kAdded:
      out += Rect(scale, *m.after);
      break;
    case MarkKind::kMoved: {
      out += Rect(scale, *m.before, "class=\"bt-ghost\"");
      out += Rect(scale, *m.after);
      const auto [x0, y0] = Centre(scale, *m.before);
      const auto [x1, y1] = Centre(scale, *m.after);
      out += "<line class=\"bt-arrow\" x1=\"" + SvgNumber(x0) + "\" y1=\"" + SvgNumber(y0) +
             "\" x2=\"" + SvgNumber(x1) + "\" y2=\"" + SvgNumber(y1) +
             "\" marker-end=\"url(#bt-arrowhead)\"/>";
      break;
    }
    case MarkKind::kResized:
      out += Rect(scale, *m.before, "class=\"bt-ghost\"");
      out += Rect(scale, *m.after);
      break;
    case MarkKind::kRetyped: {
      out += Rect(scale, *m.after);
      const auto [cx, cy] = Centre(scale, *m.after);
      out += "<path class=\"bt-marker\" d=\"M" + SvgNumber(cx) + " " + SvgNumber(cy - 6) +
             "l6 6l-6 6l-6 -6z\"/>";
      break;
    }
    case MarkKind::kChanged:
      out += Rect(scale, m.after ? *m.after : *m.before);
      break;
  }
  out += "</g>\n";
}

// The style rules, each under `scope` ("" in a file; "#overlay " in a page, where an inline
// SVG's style would otherwise apply to the whole page).
std::string Style(std::string_view scope) {
  static constexpr std::string_view kRules[] = {
      "g rect{fill:none;stroke-width:2}",
      ".bt-unchanged rect{fill:#e0e0e0;stroke:#9e9e9e;stroke-width:1}",
      ".bt-added rect{fill:url(#bt-hatch);stroke:#0072b2}",
      ".bt-removed rect{stroke:#d55e00;stroke-dasharray:8 4}",
      ".bt-moved rect{stroke:#e69f00}",
      ".bt-moved .bt-ghost,.bt-resized .bt-ghost{stroke-dasharray:2 3;stroke-width:1;opacity:.7}",
      ".bt-arrow{stroke:#e69f00;stroke-width:1.5}",
      ".bt-resized rect{stroke:#009e73}",
      ".bt-retyped rect{stroke:#cc79a7}",
      ".bt-marker{fill:#cc79a7;stroke:#000;stroke-width:.5}",
      ".bt-changed rect{stroke:#56b4e9;stroke-dasharray:1 3;stroke-width:3}",
      "text{font:12px sans-serif;fill:#000}",
      ".mark:focus{outline:none}",
      ".mark:focus rect,.mark:hover rect{stroke:#000;stroke-width:3}",
  };
  std::string out = "<style>\n";
  for (std::string_view rule : kRules) {
    if (!scope.empty()) {
      // Every selector of the rule gets the scope: "a,b{...}" -> "S a,S b{...}".
      const std::string_view selectors = rule.substr(0, rule.find('{'));
      size_t start = 0;
      while (start <= selectors.size()) {
        size_t comma = selectors.find(',', start);
        if (comma == std::string_view::npos) comma = selectors.size();
        if (start > 0) out += ',';
        out += scope;
        out += selectors.substr(start, comma - start);
        start = comma + 1;
      }
      rule.remove_prefix(selectors.size());
    }
    out += rule;
    out += '\n';
  }
  return out + "</style>\n";
}

// The hatch of added objects and the arrowhead of moved ones.
constexpr std::string_view kDefs =
    "<defs>\n"
    "<pattern id=\"bt-hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
    "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#ffffff\"/>"
    "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#0072b2\" stroke-width=\"2\"/></pattern>\n"
    "<marker id=\"bt-arrowhead\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" "
    "markerHeight=\"6\" orient=\"auto\"><path d=\"M0 0L10 5L0 10z\" fill=\"#e69f00\"/></marker>\n"
    "</defs>\n";

// The legend: one sample of each kind, styled like the marks but not classed as one (so that
// counting class="bt-added" counts objects).
void AppendLegend(std::string& out) {
  struct Entry {
    const char* name;
    const char* style;
  };
  static constexpr Entry kEntries[] = {
      {"unchanged", "fill:#e0e0e0;stroke:#9e9e9e;stroke-width:1"},
      {"added", "fill:url(#bt-hatch);stroke:#0072b2;stroke-width:2"},
      {"removed", "fill:none;stroke:#d55e00;stroke-width:2;stroke-dasharray:8 4"},
      {"moved", "fill:none;stroke:#e69f00;stroke-width:2"},
      {"resized", "fill:none;stroke:#009e73;stroke-width:2"},
      {"retyped", "fill:none;stroke:#cc79a7;stroke-width:2"},
      {"changed", "fill:none;stroke:#56b4e9;stroke-width:3;stroke-dasharray:1 3"},
  };
  out += "<g class=\"legend\">\n";
  double x = kOverlayMargin;
  const double y = kOverlayHeight;
  for (const Entry& e : kEntries) {
    out += "<rect x=\"" + SvgNumber(x) + "\" y=\"" + SvgNumber(y) +
           "\" width=\"14\" height=\"14\" style=\"" + e.style + "\"/><text x=\"" +
           SvgNumber(x + 18) + "\" y=\"" + SvgNumber(y + 12) + "\">" + e.name + "</text>\n";
    x += 108;
  }
  out += "</g>\n";
}

class OverlayBuilder {
 public:
  OverlayBuilder(const DiffResult& diff, const OverlayOptions& options)
      : diff_(diff), caps_(options) {}

  void CollectChanged(const JobState& before, const JobState& after) {
    std::unordered_set<std::string_view> added(diff_.added.begin(), diff_.added.end());
    std::unordered_set<std::string_view> removed(diff_.removed.begin(), diff_.removed.end());
    // Added and removed objects' boxes come from the states; modified ones carry both values.
    std::vector<Mark> added_marks, removed_marks;
    for (const StateEntry e : after) {
      if (added.contains(e.id)) added_marks.push_back(ChangedMark(MarkKind::kAdded, e.id, {}, e));
    }
    for (const StateEntry e : before) {
      if (removed.contains(e.id)) {
        removed_marks.push_back(ChangedMark(MarkKind::kRemoved, e.id, e, {}));
      }
    }
    // The states' orders are the client's; the diff's lists are sorted by ID.
    auto by_id = [](const Mark& a, const Mark& b) { return a.id < b.id; };
    std::sort(added_marks.begin(), added_marks.end(), by_id);
    std::sort(removed_marks.begin(), removed_marks.end(), by_id);
    for (Mark& m : added_marks) Take(std::move(m));
    for (Mark& m : removed_marks) Take(std::move(m));
    for (const ModifiedObject& o : diff_.modified) {
      Take(ChangedMark(FromChangeKind(o.kind), o.id,
                       StateEntry{o.id, o.before, o.before_structured},
                       StateEntry{o.id, o.after, o.after_structured}));
    }
    const DiffCounts& c = diff_.counts;
    stats_.left_out_changed =
        c.added + c.removed + c.modified() - changed_drawn_ - changed_skipped_;
  }

  // The unchanged objects of `before`, in its order, up to the cap. Without cut lists an object
  // not listed as removed or modified is unchanged; with cut lists each is checked in `after`.
  void CollectUnchanged(const JobState& before, const JobState& after) {
    std::unordered_set<std::string_view> changed(diff_.removed.begin(), diff_.removed.end());
    for (const ModifiedObject& o : diff_.modified) changed.insert(o.id);
    std::unordered_map<std::string_view, StateEntry> after_by_id;
    if (diff_.truncated) {
      after_by_id.reserve(after.size());
      for (const StateEntry e : after) after_by_id.emplace(e.id, e);
    }
    int64_t seen = 0;
    size_t drawn = 0;
    for (const StateEntry e : before) {
      if (drawn >= caps_.max_unchanged) break;
      if (changed.contains(e.id)) continue;
      if (diff_.truncated) {
        auto it = after_by_id.find(e.id);
        if (it == after_by_id.end() || it->second.value != e.value ||
            it->second.structured != e.structured) {
          continue;
        }
      }
      ++seen;
      std::optional<Geometry> g = GeometryOf(e.value, e.structured);
      if (!g) {
        ++stats_.without_geometry;
        continue;
      }
      marks_.push_back(Mark{MarkKind::kUnchanged, e.id, {}, {}, std::move(g), std::nullopt});
      ++drawn;
    }
    stats_.drawn.unchanged = static_cast<int64_t>(drawn);
    stats_.left_out_unchanged = diff_.counts.unchanged - seen;
  }

  std::string Render() const {
    std::optional<Box> box;
    for (const Mark& m : marks_) {
      if (m.before) Grow(box, *m.before);
      if (m.after) Grow(box, *m.after);
    }
    const Scale scale = Scale::Fit(box);
    const bool interactive = caps_.interactive;
    std::string out = interactive ? "" : "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out += "<svg xmlns=\"http://www.w3.org/2000/svg\"";
    if (interactive) {
      out += " id=\"overlay\" role=\"group\" aria-label=\"The changes drawn over the base\"";
    }
    out += " viewBox=\"0 0 " + SvgNumber(kOverlayWidth) + " " +
           SvgNumber(kOverlayHeight + kLegendHeight) + "\" width=\"" + SvgNumber(kOverlayWidth) +
           "\" height=\"" + SvgNumber(kOverlayHeight + kLegendHeight) + "\">\n";
    out += Style(interactive ? "#overlay " : "");
    out += kDefs;
    out += "<rect class=\"bt-background\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
    // Unchanged first, so that the changes are drawn over them.
    for (const Mark& m : marks_) {
      if (m.kind == MarkKind::kUnchanged) AppendMark(out, scale, m, interactive);
    }
    for (const Mark& m : marks_) {
      if (m.kind != MarkKind::kUnchanged) AppendMark(out, scale, m, interactive);
    }
    AppendLegend(out);
    const DiffCounts& d = stats_.drawn;
    out += "<text class=\"bt-note\" x=\"" + SvgNumber(kOverlayMargin) + "\" y=\"" +
           SvgNumber(kOverlayHeight + 36) + "\">Drawn: " + std::to_string(d.added) + " added, " +
           std::to_string(d.removed) + " removed, " + std::to_string(d.moved) + " moved, " +
           std::to_string(d.resized) + " resized, " + std::to_string(d.retyped) + " retyped, " +
           std::to_string(d.changed) + " changed, " + std::to_string(d.unchanged) +
           " unchanged.</text>\n";
    out += "<text class=\"bt-note\" x=\"" + SvgNumber(kOverlayMargin) + "\" y=\"" +
           SvgNumber(kOverlayHeight + 54) +
           "\">Left out: " + std::to_string(stats_.left_out_changed) + " changed (cap " +
           std::to_string(caps_.max_changed) + "), " + std::to_string(stats_.left_out_unchanged) +
           " unchanged (cap " + std::to_string(caps_.max_unchanged) + "); " +
           std::to_string(stats_.without_geometry) +
           " without a geometry (not type_x_y_w_h).</text>\n";
    out += "</svg>\n";
    return out;
  }

  const OverlayStats& stats() const { return stats_; }

 private:
  Mark ChangedMark(MarkKind kind, std::string_view id, std::optional<StateEntry> before,
                   std::optional<StateEntry> after) {
    Mark m{kind, id, {}, {}, std::nullopt, std::nullopt};
    if (before) {
      m.before_value = before->value;
      m.before = GeometryOf(before->value, before->structured);
    }
    if (after) {
      m.after_value = after->value;
      m.after = GeometryOf(after->value, after->structured);
    }
    return m;
  }

  void Take(Mark m) {
    if (changed_drawn_ >= static_cast<int64_t>(caps_.max_changed)) return;
    bool ok = false;
    switch (m.kind) {
      case MarkKind::kAdded:
      case MarkKind::kRetyped:
        ok = m.after.has_value();
        break;
      case MarkKind::kRemoved:
        ok = m.before.has_value();
        break;
      case MarkKind::kMoved:
      case MarkKind::kResized:
        ok = m.before && m.after;
        break;
      case MarkKind::kChanged:
      case MarkKind::kUnchanged:
        ok = m.before || m.after;
        break;
    }
    if (!ok) {
      ++changed_skipped_;
      ++stats_.without_geometry;
      return;
    }
    switch (m.kind) {
      case MarkKind::kAdded:
        ++stats_.drawn.added;
        break;
      case MarkKind::kRemoved:
        ++stats_.drawn.removed;
        break;
      case MarkKind::kMoved:
        ++stats_.drawn.moved;
        break;
      case MarkKind::kResized:
        ++stats_.drawn.resized;
        break;
      case MarkKind::kRetyped:
        ++stats_.drawn.retyped;
        break;
      case MarkKind::kChanged:
        ++stats_.drawn.changed;
        break;
      case MarkKind::kUnchanged:
        break;
    }
    ++changed_drawn_;
    marks_.push_back(std::move(m));
  }

  const DiffResult& diff_;
  const OverlayOptions& caps_;
  std::vector<Mark> marks_;
  OverlayStats stats_;
  int64_t changed_drawn_ = 0;
  int64_t changed_skipped_ = 0;
};

}  // namespace

std::string RenderOverlaySvg(const DiffResult& diff, const JobState& before, const JobState& after,
                             const OverlayOptions& options, OverlayStats* stats) {
  OverlayBuilder builder(diff, options);
  builder.CollectChanged(before, after);
  builder.CollectUnchanged(before, after);
  if (stats != nullptr) *stats = builder.stats();
  return builder.Render();
}

}  // namespace buildtrace
