// The geometry of an object, read from the design's pseudo-hash "type_x_y_w_h" (for example
// "door_10_20_5_5") or from a structured object's "type", "x", "y", "w" and "h" attributes.
// It lets the diff say *how* an object changed: moved, resized or retyped.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace buildtrace {

struct Geometry {
  std::string type;
  double x = 0, y = 0, w = 0, h = 0;
  // A structured object's other attributes as JSON ("" for a pseudo-hash and for an object with
  // no other attributes). Two objects whose other attributes differ have "changed", whatever
  // their geometry.
  std::string rest;
};

// Parses "type_x_y_w_h". The last four '_'-separated fields are decimal numbers (optional sign,
// optional fraction, no exponent); the type is everything before them, non-empty, and may itself
// contain '_' ("sliding_door_1_2_3_4" has type "sliding_door"). nullopt for anything else.
std::optional<Geometry> ParsePseudoHash(std::string_view hash);

// Reads the geometry of a structured object from its canonical JSON (see canonical_hash.h):
// a string "type" and numbers "x", "y", "w", "h". nullopt if any of them is missing or of
// another type, or if `canonical_json` is not a JSON object.
std::optional<Geometry> GeometryOfStructured(std::string_view canonical_json);

// The geometry of an object's value: GeometryOfStructured for a structured object's canonical
// JSON, ParsePseudoHash for a hash string.
std::optional<Geometry> GeometryOf(std::string_view value, bool structured);

}  // namespace buildtrace
