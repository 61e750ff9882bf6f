// Line-oriented logging to stderr: "2026-11-28T10:00:00.123Z INFO message". Thread-safe; one
// write per line so lines of concurrent requests never interleave. Never pass secrets.
#pragma once

#include <string_view>

namespace buildtrace {

enum class LogLevel { kInfo, kWarning, kError };

void Log(LogLevel level, std::string_view message);
inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }

// Messages below `level` are dropped (default kInfo). Set once at start-up.
void SetLogLevel(LogLevel level);

}  // namespace buildtrace
