// stderr logger.
#include "service/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <utility>

#include "core/json_writer.h"
#include "core/timestamp.h"

namespace buildtrace {
namespace {
std::atomic<LogLevel> min_level{LogLevel::kInfo};
std::atomic<LogFormat> format{LogFormat::kText};
// Only set while nothing logs (SetLogSinkForTest), so unguarded.
std::function<void(std::string_view)> test_sink;
}  // namespace

void SetLogLevel(LogLevel level) { min_level = level; }
void SetLogFormat(LogFormat f) { format = f; }
LogFormat GetLogFormat() { return format.load(); }
void SetLogSinkForTest(std::function<void(std::string_view)> sink) { test_sink = std::move(sink); }

std::string LogTimestamp(int64_t epoch_ms) {
  std::string time = FormatRfc3339Utc(epoch_ms);
  // FormatRfc3339Utc leaves ".000" out on a whole second
  if (time.find('.') == std::string::npos) time.insert(time.size() - 1, ".000");
  return time;
}

void Log(LogLevel level, std::string_view message) { LogRecord(level, message, {}); }

void LogRecord(LogLevel level, std::string_view message, std::string_view extra_json_members) {
  if (level < min_level.load()) return;
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::string time = LogTimestamp(now);
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
    line += time;
    line += '"';
    if (!extra_json_members.empty()) {
      line += ',';
      line += extra_json_members;
    }
    line += '}';
  } else {
    line = time;
    line += ' ';
    line += kNames[static_cast<int>(level)];
    line += ' ';
    line += message;
  }
  line += '\n';
  if (test_sink) return test_sink(line);
  // A single write(2) of the whole line keeps concurrent lines apart.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace buildtrace
