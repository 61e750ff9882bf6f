// The original service's sentences, and deltas computed from the two values' geometry.
#include "core/change_sentence.h"

#include <simdjson.h>

#include <cmath>
#include <map>

#include "core/json_writer.h"
#include "core/pseudo_hash.h"

namespace buildtrace {
namespace {

std::string Number(double v) {
  std::string out;
  AppendJsonNumber(out, v);
  return out;
}

// A structured object's top-level attributes, each as its minified JSON text.
std::map<std::string, std::string> Attributes(const std::string& canonical_json) {
  std::map<std::string, std::string> out;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(canonical_json.data(), canonical_json.size()).get(object)) return out;
  for (auto [key, value] : object) out.emplace(std::string(key), simdjson::minify(value));
  return out;
}

std::vector<std::string> ChangedFields(const std::string& before, const std::string& after) {
  const auto b = Attributes(before);
  const auto a = Attributes(after);
  std::vector<std::string> out;
  auto bi = b.begin();
  auto ai = a.begin();
  // Both maps are sorted: walk them together.
  while (bi != b.end() || ai != a.end()) {
    if (ai == a.end() || (bi != b.end() && bi->first < ai->first)) {
      out.push_back((bi++)->first);
    } else if (bi == b.end() || ai->first < bi->first) {
      out.push_back((ai++)->first);
    } else {
      if (bi->second != ai->second) out.push_back(bi->first);
      ++bi;
      ++ai;
    }
  }
  return out;
}

}  // namespace

std::string AddedSentence(std::string_view id, const std::optional<Placement>& at) {
  const Placement unknown{"unknown", 0, 0};
  const Placement& p = at ? *at : unknown;
  return std::string(id) + " (" + p.type + " added at x:" + Number(p.x) + ", y:" + Number(p.y) +
         ")";
}

std::string RemovedSentence(std::string_view id) { return std::string(id) + " removed"; }

ChangeDelta DeltaOf(const ModifiedObject& m) {
  ChangeDelta d;
  const std::optional<Geometry> b = GeometryOf(m.before, m.before_structured);
  const std::optional<Geometry> a = GeometryOf(m.after, m.after_structured);
  if (a && b) {
    d.dx = a->x - b->x;
    d.dy = a->y - b->y;
    d.dw = a->w - b->w;
    d.dh = a->h - b->h;
    if (a->type != b->type) {
      d.from_type = b->type;
      d.to_type = a->type;
    }
  }
  if (m.before_structured && m.after_structured)
    d.changed_fields = ChangedFields(m.before, m.after);
  return d;
}

std::string ModifiedSentence(const ModifiedObject& m) {
  Geometry unknown;
  unknown.type = "unknown";
  const Geometry b = GeometryOf(m.before, m.before_structured).value_or(unknown);
  const Geometry a = GeometryOf(m.after, m.after_structured).value_or(unknown);
  const double dx = a.x - b.x;
  const double dy = a.y - b.y;
  if (dx == 0 && dy == 0) return m.id + " attributes modified (not position).";
  std::string parts;
  if (dx != 0) parts = Number(std::fabs(dx)) + (dx > 0 ? " units east" : " units west");
  if (dy != 0) {
    if (!parts.empty()) parts += " and ";
    parts += Number(std::fabs(dy)) + (dy > 0 ? " units north" : " units south");
  }
  return m.id + " (" + b.type + ") moved " + parts;
}

std::string ClassicSummary(const DiffCounts& c) {
  std::string out;
  auto part = [&out](int64_t n, const char* what) {
    if (n == 0) return;
    if (!out.empty()) out += " | ";
    out += std::to_string(n) + " item(s) " + what + ".";
  };
  part(c.added, "added");
  part(c.removed, "removed");
  part(c.modified(), "moved/modified");
  return out.empty() ? "No significant changes detected." : out;
}

}  // namespace buildtrace
