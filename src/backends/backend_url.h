// Backend URLs such as "file:///var/lib/buildtrace/states" or "sqlite:///var/lib/bt/metrics.db":
// a scheme, then "://", then the rest, which each scheme interprets. Credentials never appear in
// these URLs (they come from the environment), so a URL can be logged as it is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace buildtrace {

struct BackendUrl {
  std::string scheme;  // lower-case, e.g. "file"
  std::string rest;    // everything after "://"
  std::string text;    // the URL as given
};

// Splits `url`; kInvalidArgument for a missing or malformed scheme, or control characters.
Result<BackendUrl> ParseBackendUrl(std::string_view url);

// The local path of a "file://" or "sqlite://" URL: "file:///abs/path" -> "/abs/path",
// "file://localhost/abs" -> "/abs", and "file://relative/path" -> "relative/path" (relative to
// the working directory). kInvalidArgument, naming the URL, for an empty path or one with a
// query or fragment.
Result<std::string> LocalPathOf(const BackendUrl& url);

// A URL split at its first '?': the URL before it (`text` stays the whole URL, for messages) and
// its name=value parameters, in order, taken as written (no percent-decoding).
struct UrlQuery {
  BackendUrl without_query;
  std::vector<std::pair<std::string, std::string>> parameters;
};

// kInvalidArgument, naming the URL, for a fragment ('#'), a parameter with no '=' or an empty
// name or value, or a name given twice. A URL without '?' has no parameters.
Result<UrlQuery> SplitQuery(const BackendUrl& url);

// The URL parameter `name`'s `value` as a whole number from `low` to `high`; otherwise
// kInvalidArgument: 'URL "<url>": <name> must be a whole number from <low> to <high>'.
Result<int64_t> ParseBoundedParameter(const BackendUrl& url, const std::string& name,
                                      const std::string& value, int64_t low, int64_t high);

// A byte count: decimal digits, optionally followed by KiB, MiB or GiB (powers of 1024), e.g.
// "1048576", "512KiB", "256MiB", "2GiB". nullopt for anything else or above 2^64-1 bytes.
std::optional<uint64_t> ParseByteCount(std::string_view text);

}  // namespace buildtrace
