// Text for markup: escaping for XML and HTML (character data and attribute values alike) and
// numbers for SVG coordinates. Shared by the overlay drawing (core/overlay_svg), the dashboard's
// pages and charts (src/ui) and the API's /docs page.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace buildtrace {

// `text` escaped for XML character data and attribute values (&, <, >, ", ' as entities; control
// characters XML cannot hold as U+FFFD), cut to at most `max_bytes` bytes of input at a UTF-8
// character boundary ("…" marks a cut).
std::string XmlEscape(std::string_view text, size_t max_bytes = std::string_view::npos);

// A coordinate with at most two decimals and no trailing zeros ("12", "7.6", "-3.25"); "0" for
// NaN and infinities, which SVG cannot hold.
std::string SvgNumber(double v);

}  // namespace buildtrace
