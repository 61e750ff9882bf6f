// The request target ("/report/124?project=web&limit=10"): its path segments and its query
// parameters, percent-decoded and checked. Every value a handler uses from the URL comes through
// here, so a parameter given twice or one nobody knows is an error, never silently ignored.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace buildtrace {

struct RequestTarget {
  std::vector<std::string> segments;          // "/report/124" -> {"report", "124"}
  std::map<std::string, std::string> params;  // decoded; each name at most once
};

// Parses an origin-form target. kInvalidArgument for: not starting with '/', bad
// percent-encoding, control characters or NUL after decoding, a parameter given twice,
// an empty segment other than a trailing slash, more than 8 KiB.
Result<RequestTarget> ParseRequestTarget(std::string_view target);

// kInvalidArgument naming the first parameter not in `allowed`.
Status CheckParams(const RequestTarget& target, std::span<const std::string_view> allowed);

// Reads a positive job ID ("124"), as found in a path or in base=; `what` names it in errors.
Result<int64_t> ParseJobIdText(std::string_view text, std::string_view what);

// A parameter's value as sent; `fallback` when absent.
std::string StringParam(const RequestTarget& target, const std::string& name,
                        std::string_view fallback = "");

// Reads an integer parameter in [min, max]; default when absent.
Result<int64_t> IntParam(const RequestTarget& target, const std::string& name,
                         int64_t default_value, int64_t max, int64_t min = 0);

// A window such as "30d": a positive integer and a unit s, m, h, d or w; at most 100 years.
// Returns milliseconds.
Result<int64_t> ParseWindow(std::string_view text);

// "0.5,0.95,0.99": 1 to 20 numbers, each in [0, 1].
Result<std::vector<double>> ParseQuantiles(std::string_view text);

}  // namespace buildtrace
