// The process's CPU budget from its affinity mask and its control group's quota
// (available_cpus.h).
#include "core/available_cpus.h"

#include <sched.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace buildtrace {
namespace {

// A whole file's text, or "" when it cannot be read (no such cgroup controller, no /proc).
std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return in ? text.str() : std::string();
}

std::optional<uint64_t> ParseCount(std::string_view text) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// A cgroup path from /proc/self/cgroup, checked before it becomes part of a path under
// /sys/fs/cgroup: absolute, and without "." or ".." components.
bool IsCgroupPath(std::string_view path) {
  if (!path.starts_with('/')) return false;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

// The smallest quota on the way from `path` up to the hierarchy's root at `mount`; `read`
// gives the quota text of one folder.
template <typename ReadQuota>
std::optional<unsigned> SmallestQuota(const std::string& mount, std::string path, ReadQuota read) {
  std::optional<unsigned> smallest;
  while (true) {
    if (std::optional<unsigned> cpus = CpusOfQuota(read(mount + path))) {
      smallest = smallest ? std::min(*smallest, *cpus) : *cpus;
    }
    if (path.empty() || path == "/") return smallest;
    path.resize(path.rfind('/'));
  }
}

}  // namespace

std::optional<unsigned> CgroupQuotaCpus(std::string_view proc_self_cgroup,
                                        const std::string& cgroup_root) {
  std::istringstream lines{std::string(proc_self_cgroup)};
  std::optional<unsigned> smallest;
  for (std::string line; std::getline(lines, line);) {
    // "ID:CONTROLLERS:PATH": v2's line is "0::PATH", v1's CPU line names "cpu" among others.
    const size_t first = line.find(':');
    const size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string_view controllers =
        std::string_view(line).substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (!IsCgroupPath(path)) continue;
    std::optional<unsigned> cpus;
    if (controllers.empty()) {
      cpus = SmallestQuota(cgroup_root, path, [](const std::string& folder) {
        return ReadSmallFile(folder + "/cpu.max");
      });
    } else if (("," + std::string(controllers) + ",").find(",cpu,") != std::string::npos) {
      // Mounted as /sys/fs/cgroup/cpu, sometimes only as /sys/fs/cgroup/cpu,cpuacct.
      for (const char* mount : {"/cpu", "/cpu,cpuacct"}) {
        cpus = SmallestQuota(cgroup_root + mount, path, [](const std::string& folder) {
          std::string quota = ReadSmallFile(folder + "/cpu.cfs_quota_us");
          const std::string period = ReadSmallFile(folder + "/cpu.cfs_period_us");
          while (!quota.empty() && std::isspace(static_cast<unsigned char>(quota.back()))) {
            quota.pop_back();
          }
          return quota + " " + period;
        });
        if (cpus) break;
      }
    }
    if (cpus) smallest = smallest ? std::min(*smallest, *cpus) : *cpus;
  }
  return smallest;
}

std::optional<unsigned> CpusOfQuota(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  const size_t space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::string_view quota_text = text.substr(0, space);
  if (quota_text == "max" || quota_text == "-1") return std::nullopt;
  const std::optional<uint64_t> quota = ParseCount(quota_text);
  const std::optional<uint64_t> period = ParseCount(text.substr(space + 1));
  if (!quota || !period || *quota == 0 || *period == 0) return std::nullopt;
  const uint64_t cpus = (*quota + *period - 1) / *period;
  return static_cast<unsigned>(std::min<uint64_t>(cpus, 1u << 20));
}

unsigned CountAvailableCpus() {
  unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0) {
    cpus = std::max(1, CPU_COUNT(&mask));
  }
  const std::optional<unsigned> quota =
      CgroupQuotaCpus(ReadSmallFile("/proc/self/cgroup"), "/sys/fs/cgroup");
  if (quota) cpus = std::min(cpus, *quota);
  return std::max(1u, cpus);
}

unsigned AvailableCpus() {
  static const unsigned cpus = CountAvailableCpus();
  return cpus;
}

}  // namespace buildtrace
