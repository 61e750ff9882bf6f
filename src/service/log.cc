// stderr logger.
#include "service/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>

#include "core/timestamp.h"

namespace buildtrace {
namespace {
std::atomic<LogLevel> min_level{LogLevel::kInfo};
}  // namespace

void SetLogLevel(LogLevel level) { min_level = level; }

void Log(LogLevel level, std::string_view message) {
  if (level < min_level.load()) return;
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  static constexpr const char* kNames[] = {"INFO", "WARN", "ERROR"};
  std::string line = FormatRfc3339Utc(now);
  line += ' ';
  line += kNames[static_cast<int>(level)];
  line += ' ';
  line += message;
  line += '\n';
  // A single write(2) of the whole line keeps concurrent lines apart.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace buildtrace
