// RFC 3339 date-times: the `timestamp` of a job. Parsing checks every field's range (including
// leap years) and requires an offset ("Z" or "+hh:mm"), so a job's instant is never ambiguous.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace buildtrace {

// Milliseconds since the Unix epoch of an RFC 3339 date-time such as "2026-11-28T10:00:00Z",
// "2026-11-28t10:00:00.250+02:00" or "2026-11-28 10:00:00Z" (RFC 3339 allows a space for 'T').
// Fractions beyond milliseconds are truncated. nullopt if `text` is not such a date-time, a field
// is out of range, or the year is outside 0001-9999.
std::optional<int64_t> ParseRfc3339(std::string_view text);

// "2026-11-28T08:00:00Z", or "2026-11-28T08:00:00.250Z" when there are milliseconds.
std::string FormatRfc3339Utc(int64_t epoch_ms);

}  // namespace buildtrace
