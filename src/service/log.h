// Line-oriented logging to stderr: "2026-11-28T10:00:00.123Z INFO message", or one JSON object a
// line with the fields Google Cloud Logging reads ({"severity":"INFO","message":"...",
// "time":"..."}). Thread-safe; one write per line so lines of concurrent requests never
// interleave. Never pass secrets.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace buildtrace {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

void Log(LogLevel level, std::string_view message);
// Log() with more to say to Cloud Logging: in JSON, `extra_json_members` (members without braces,
// e.g. "\"httpRequest\":{...}", which the caller guarantees are valid JSON, or empty) follow
// severity, message and time in the same object; in text, they are not shown.
void LogRecord(LogLevel level, std::string_view message, std::string_view extra_json_members);
inline void LogDebug(std::string_view m) { Log(LogLevel::kDebug, m); }
inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }

// Messages below `level` are dropped (default kInfo). Set once at start-up.
// A log line's time: RFC 3339 in UTC, always with milliseconds ("2026-11-28T10:00:00.000Z" on a
// whole second), so every line's time has the same width.
std::string LogTimestamp(int64_t epoch_ms);

void SetLogLevel(LogLevel level);

enum class LogFormat { kText, kJson };
// kText (the default) or kJson. Set once at start-up.
void SetLogFormat(LogFormat format);
// The format set, for a caller whose line differs between the two (the access log).
LogFormat GetLogFormat();

// Sends every line (with its '\n') to `sink` instead of stderr; an empty function restores
// stderr. For tests: call it while nothing logs; `sink` is called from many threads at once.
void SetLogSinkForTest(std::function<void(std::string_view line)> sink);

}  // namespace buildtrace
