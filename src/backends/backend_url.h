// Backend URLs such as "file:///var/lib/buildtrace/states" or "sqlite:///var/lib/bt/metrics.db":
// a scheme, then "://", then the rest, which each scheme interprets. Credentials never appear in
// these URLs (they come from the environment), so a URL can be logged as it is.
#pragma once

#include <string>
#include <string_view>

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

}  // namespace buildtrace
