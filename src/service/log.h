// Line-oriented logging to stderr: "2026-11-28T10:00:00.123Z INFO message", or one JSON object a
// line with the fields Google Cloud Logging reads ({"severity":"INFO","message":"...",
// "time":"..."}). Thread-safe; one write per line so lines of concurrent requests never
// interleave. Never pass secrets.
#pragma once

#include <string_view>

namespace buildtrace {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

void Log(LogLevel level, std::string_view message);
inline void LogDebug(std::string_view m) { Log(LogLevel::kDebug, m); }
inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }

// Messages below `level` are dropped (default kInfo). Set once at start-up.
void SetLogLevel(LogLevel level);

enum class LogFormat { kText, kJson };
// kText (the default) or kJson. Set once at start-up.
void SetLogFormat(LogFormat format);

}  // namespace buildtrace
