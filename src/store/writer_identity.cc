// Writer identities from /proc and the host's names; see writer_identity.h.
#include "store/writer_identity.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <mutex>
#include <vector>

namespace buildtrace {
namespace {

constexpr std::string_view kTempPrefix = ".tmp-";
constexpr std::string_view kTempSuffix = "~";
constexpr size_t kHostDigits = 12;
constexpr size_t kRandomDigits = 16;

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

uint64_t Fnv1a(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::string Hex(uint64_t value, size_t digits) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(value));
  return std::string(text + 16 - digits);
}

// Field 22 of /proc/<pid>/stat; the command name (field 2) may hold spaces and ')', so fields are
// counted after its last ')'.
std::optional<uint64_t> StartTimeOf(pid_t pid) {
  const std::string stat = ReadWholeFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  size_t pos = paren + 1;
  for (int field = 3; field <= 22; ++field) {
    while (pos < stat.size() && stat[pos] == ' ') ++pos;
    const size_t end = std::min(stat.find(' ', pos), stat.size());
    if (field == 22) {
      uint64_t value = 0;
      const auto [ptr, ec] = std::from_chars(stat.data() + pos, stat.data() + end, value);
      if (ec != std::errc() || ptr != stat.data() + end) return std::nullopt;
      return value;
    }
    pos = end;
  }
  return std::nullopt;
}

template <typename Number>
bool ParseDecimal(std::string_view text, Number& value) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
}

bool IsHex(std::string_view text, size_t digits) {
  if (text.size() != digits) return false;
  for (const char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) ||
        std::isupper(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

std::vector<std::string_view> SplitOnDash(std::string_view text) {
  std::vector<std::string_view> parts;
  for (size_t dash = text.find('-'); dash != std::string_view::npos; dash = text.find('-')) {
    parts.push_back(text.substr(0, dash));
    text.remove_prefix(dash + 1);
  }
  parts.push_back(text);
  return parts;
}

}  // namespace

const std::string& ThisHost() {
  static const std::string host = [] {
    char name[256] = {};
    ::gethostname(name, sizeof(name) - 1);
    return Hex(Fnv1a(std::string(name) + "\n" + ReadWholeFile("/proc/sys/kernel/random/boot_id")),
               kHostDigits);
  }();
  return host;
}

std::optional<WriterIdentity> IdentityOfProcess(pid_t pid) {
  const std::optional<uint64_t> start = StartTimeOf(pid);
  if (!start) return std::nullopt;
  return WriterIdentity{ThisHost(), pid, *start};
}

WriterIdentity ThisWriter() {
  static std::mutex mutex;
  static std::optional<WriterIdentity> cached;
  std::lock_guard lock(mutex);
  if (!cached || cached->pid != ::getpid()) {
    cached = IdentityOfProcess(::getpid())
                 .value_or(WriterIdentity{ThisHost(), ::getpid(), /*start_time=*/0});
  }
  return *cached;
}

std::string TempFileName(const WriterIdentity& writer, uint64_t random) {
  return std::string(kTempPrefix) + writer.host + "-" + std::to_string(writer.pid) + "-" +
         std::to_string(writer.start_time) + "-" + Hex(random, kRandomDigits) +
         std::string(kTempSuffix);
}

bool IsTempFileName(std::string_view file_name) {
  return file_name.starts_with(kTempPrefix) && file_name.ends_with(kTempSuffix);
}

std::optional<WriterIdentity> WriterOfTempFile(std::string_view file_name) {
  if (!IsTempFileName(file_name)) return std::nullopt;
  file_name.remove_prefix(kTempPrefix.size());
  file_name.remove_suffix(kTempSuffix.size());
  const std::vector<std::string_view> parts = SplitOnDash(file_name);
  WriterIdentity writer;
  if (parts.size() != 4 || !IsHex(parts[0], kHostDigits) || !ParseDecimal(parts[1], writer.pid) ||
      !ParseDecimal(parts[2], writer.start_time) || !IsHex(parts[3], kRandomDigits) ||
      writer.pid <= 0) {
    return std::nullopt;
  }
  writer.host = std::string(parts[0]);
  return writer;
}

bool WriterIsGone(const WriterIdentity& writer) {
  // Another host (or this one before a reboot) cannot be asked; an unknown start time proves
  // nothing. Both are left to the abandonment age.
  if (writer.host != ThisHost() || writer.start_time == 0) return false;
  if (::kill(writer.pid, 0) != 0 && errno == ESRCH) return true;
  const std::optional<uint64_t> start = StartTimeOf(writer.pid);
  return start.has_value() && *start != writer.start_time;
}

}  // namespace buildtrace
