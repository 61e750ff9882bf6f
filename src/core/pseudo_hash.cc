// Geometry extraction for change classification.
#include "core/pseudo_hash.h"

#include <simdjson.h>

#include <charconv>

#include "core/json_writer.h"

namespace buildtrace {
namespace {

bool ParseDecimal(std::string_view text, double& value) {
  if (text.empty()) return false;
  size_t i = text[0] == '-' || text[0] == '+' ? 1 : 0;
  size_t digits = 0;
  bool dot = false;
  for (; i < text.size(); ++i) {
    if (text[i] >= '0' && text[i] <= '9') {
      ++digits;
    } else if (text[i] == '.' && !dot) {
      dot = true;
    } else {
      return false;
    }
  }
  if (digits == 0) return false;
  if (text[0] == '+') text.remove_prefix(1);
  auto r = std::from_chars(text.data(), text.data() + text.size(), value);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

// The object without the geometry keys, as compact JSON, or "" when it has no other keys (so it
// equals a pseudo-hash's empty rest). Only ever compared with the same function's output for
// another object, so it needs to be deterministic, not pretty.
std::string OtherAttributes(simdjson::dom::object object) {
  std::string out = "{";
  for (auto field : object) {
    const std::string_view key = field.key;
    if (key == "type" || key == "x" || key == "y" || key == "w" || key == "h") continue;
    if (out.size() > 1) out.push_back(',');
    AppendJsonString(out, key);
    out.push_back(':');
    out.append(simdjson::minify(field.value));
  }
  if (out.size() == 1) return "";
  out.push_back('}');
  return out;
}

}  // namespace

std::optional<Geometry> ParsePseudoHash(std::string_view hash) {
  double numbers[4];
  size_t end = hash.size();
  for (int i = 3; i >= 0; --i) {
    const size_t sep = hash.rfind('_', end == 0 ? std::string_view::npos : end - 1);
    if (sep == std::string_view::npos || end == 0) return std::nullopt;
    if (!ParseDecimal(hash.substr(sep + 1, end - sep - 1), numbers[i])) return std::nullopt;
    end = sep;
  }
  if (end == 0) return std::nullopt;
  Geometry g;
  g.type = std::string(hash.substr(0, end));
  g.x = numbers[0];
  g.y = numbers[1];
  g.w = numbers[2];
  g.h = numbers[3];
  return g;
}

std::optional<Geometry> GeometryOfStructured(std::string_view canonical_json) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(canonical_json.data(), canonical_json.size()).get(object)) return std::nullopt;
  Geometry g;
  std::string_view type;
  if (object["type"].get(type)) return std::nullopt;
  g.type = std::string(type);
  if (object["x"].get(g.x) || object["y"].get(g.y) || object["w"].get(g.w) ||
      object["h"].get(g.h)) {
    return std::nullopt;
  }
  g.rest = OtherAttributes(object);
  return g;
}

std::optional<Geometry> GeometryOf(std::string_view value, bool structured) {
  return structured ? GeometryOfStructured(value) : ParsePseudoHash(value);
}

}  // namespace buildtrace
