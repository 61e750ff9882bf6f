// The overlay drawing of a comparison, as SVG: the base's unchanged objects as grey boxes and
// every change drawn where it happened (added, removed, moved, resized, retyped, changed), for
// CI comments and chat (GET /report/{job_id}.svg) and, later, the dashboard pages. Geometry comes
// from each object's value (pseudo_hash.h); objects without one are counted, not drawn.
#pragma once

#include <cstddef>
#include <string>

#include "core/diff.h"
#include "core/job_state.h"
#include "core/markup.h"  // XmlEscape, for the drawing's users

namespace buildtrace {

// At most this many changed objects (every kind but unchanged) and this many unchanged ones are
// drawn; the drawing says how many it left out. docs/api.md documents both.
inline constexpr size_t kOverlayMaxChanged = 2000;
inline constexpr size_t kOverlayMaxUnchanged = 2000;

// The drawing's fixed viewBox: the union bounding box of every drawn object is scaled (the same
// factor on both axes) into kOverlayWidth x kOverlayHeight less kOverlayMargin on each side; the
// legend and the notes are below it.
inline constexpr double kOverlayWidth = 800;
inline constexpr double kOverlayHeight = 600;
inline constexpr double kOverlayMargin = 20;

struct OverlayOptions {
  size_t max_changed = kOverlayMaxChanged;
  size_t max_unchanged = kOverlayMaxUnchanged;
  // For a page (the dashboard's job page) rather than a file: no XML declaration, the root is
  // <svg id="overlay">, the style rules apply only inside it, and every drawn object is a
  // focusable <g class="bt-KIND mark" tabindex="0"> carrying data-id, data-kind, data-before and
  // data-after (escaped, cut like the titles) and an aria-label, for the page's details panel,
  // filter box and keyboard navigation.
  bool interactive = false;
};

// What the drawing drew and left out, for tests and logs.
struct OverlayStats {
  DiffCounts drawn;                // marks per kind
  int64_t left_out_changed = 0;    // changed objects beyond the cap or beyond the diff's lists
  int64_t left_out_unchanged = 0;  // unchanged objects beyond the cap
  int64_t without_geometry = 0;    // looked at, but their value is not a geometry
};

// Renders the comparison `diff` of `before` with `after` (the two states the diff compared; the
// listed objects are drawn, so a diff computed with a larger limit draws more, up to the caps in
// `options`). Always a complete SVG document, whatever the input (no object, zero sizes, no
// geometry). Every piece of the states' text is escaped, and IDs and values are cut to 200 bytes in
// titles, so the output's size is bounded by the caps. `stats`, when given, says what was drawn.
std::string RenderOverlaySvg(const DiffResult& diff, const JobState& before, const JobState& after,
                             const OverlayOptions& options = {}, OverlayStats* stats = nullptr);

}  // namespace buildtrace
