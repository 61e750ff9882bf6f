// stderr logger.
#include "service/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>

#include "core/json_writer.h"
#include "core/timestamp.h"

namespace buildtrace {
namespace {
std::atomic<LogLevel> min_level{LogLevel::kInfo};
std::atomic<LogFormat> format{LogFormat::kText};
}  // namespace

void SetLogLevel(LogLevel level) { min_level = level; }
void SetLogFormat(LogFormat f) { format = f; }

void Log(LogLevel level, std::string_view message) {
  if (level < min_level.load()) return;
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  static constexpr const char* kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  // Cloud Logging's LogSeverity names, which it reads from a "severity" field.
  static constexpr const char* kSeverities[] = {"DEBUG", "INFO", "WARNING", "ERROR"};
  std::string line;
  if (format.load() == LogFormat::kJson) {
    line = "{\"severity\":\"";
    line += kSeverities[static_cast<int>(level)];
    line += "\",\"message\":";
    AppendJsonString(line, message);
    line += ",\"time\":\"";
    line += FormatRfc3339Utc(now);
    line += "\"}";
  } else {
    line = FormatRfc3339Utc(now);
    line += ' ';
    line += kNames[static_cast<int>(level)];
    line += ' ';
    line += message;
  }
  line += '\n';
  // A single write(2) of the whole line keeps concurrent lines apart.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace buildtrace
