// Changes in words and in numbers: the sentences the original BuildTrace service wrote for each
// added, removed and modified object ("W039 (wall) moved 2 units east and 1 units north"), and the
// geometric delta of a modified object. The report's JSON, text and classic renderings all use
// these, so the same change reads the same everywhere.
//
// Axis convention (the original's): +x is east, +y is north; dx = x after - x before.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/diff.h"

namespace buildtrace {

// "{id} ({type} added at x:{x}, y:{y})"; an object without geometry reads as type "unknown" at
// 0, 0, as in the original.
std::string AddedSentence(std::string_view id, const std::optional<Placement>& at);

// "{id} removed".
std::string RemovedSentence(std::string_view id);

// How a modified object's geometry and attributes changed.
struct ChangeDelta {
  // Present when both values have a geometry (see pseudo_hash.h).
  std::optional<double> dx, dy, dw, dh;
  std::optional<std::string> from_type, to_type;  // only when the type changed
  // For two structured objects: the names of their top-level attributes that differ (present
  // in one only, or with other values), sorted. Empty otherwise.
  std::vector<std::string> changed_fields;
};

ChangeDelta DeltaOf(const ModifiedObject& m);

// "{id} ({type before}) moved {parts}" with parts "{|dx|} units east|west" and "{|dy|} units
// north|south" joined by " and ", or "{id} attributes modified (not position)." when x and y are
// unchanged. A value without geometry reads as type "unknown" at 0, 0 (the original's rule).
std::string ModifiedSentence(const ModifiedObject& m);

// The original's summary: "{n} item(s) added." | "{n} item(s) removed." | "{n} item(s)
// moved/modified." (the non-zero ones, joined by " | "), or "No significant changes detected.".
std::string ClassicSummary(const DiffCounts& counts);

}  // namespace buildtrace
