// This machine's own storage limits, in a given folder, as the yardstick for POST /process:
// (a) durable create-and-rename cycles of a 4 KiB file per second — the same steps the folder
//     store takes for every job (create a temporary name exclusively, write, fsync, rename
//     without replacing, fsync the folder), one after another for about --seconds;
// (b) plain sequential write bandwidth: --write-mib MiB written in 1 MiB chunks, then fsync.
// Works in a fresh subfolder of FOLDER and removes it. Prints one key=value line per figure.
// Usage: disk_limits FOLDER [--seconds S] [--write-mib M]
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kSmallFileBytes = 4096;
constexpr size_t kChunkBytes = 1 << 20;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "disk_limits: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Bytes that no file system will compress or deduplicate away.
std::vector<char> RandomBytes(size_t size) {
  std::vector<char> bytes(size);
  std::mt19937_64 rng(42);
  for (size_t i = 0; i + 8 <= size; i += 8) {
    const uint64_t word = rng();
    std::memcpy(bytes.data() + i, &word, 8);
  }
  return bytes;
}

void WriteAll(int fd, const char* data, size_t size, const std::string& name) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Fail("writing " + name);
    data += n;
    size -= static_cast<size_t>(n);
  }
}

// Like the folder store: RENAME_NOREPLACE, or link+unlink where the file system lacks it.
void RenameNoReplace(int dir_fd, const std::string& from, const std::string& to) {
  if (::renameat2(dir_fd, from.c_str(), dir_fd, to.c_str(), RENAME_NOREPLACE) == 0) return;
  if (errno != EINVAL && errno != ENOSYS) Fail("renaming " + from);
  if (::linkat(dir_fd, from.c_str(), dir_fd, to.c_str(), 0) != 0) Fail("linking " + from);
  ::unlinkat(dir_fd, from.c_str(), 0);
}

// One durable create: the steps FileStateStore takes for a job.
void DurableCreate(int dir_fd, int64_t serial, const std::vector<char>& content) {
  const std::string temp = "tmp." + std::to_string(serial);
  const std::string final_name = "obj." + std::to_string(serial);
  const int fd = ::openat(dir_fd, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) Fail("creating " + temp);
  WriteAll(fd, content.data(), content.size(), temp);
  if (::fsync(fd) != 0) Fail("fsync of " + temp);
  if (::close(fd) != 0) Fail("closing " + temp);
  RenameNoReplace(dir_fd, temp, final_name);
  if (::fsync(dir_fd) != 0) Fail("fsync of the folder");
}

void MeasureDurableCreates(const std::string& dir, double seconds) {
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) Fail("opening " + dir);
  const std::vector<char> content = RandomBytes(kSmallFileBytes);
  int64_t cycles = 0;
  const Clock::time_point start = Clock::now();
  double elapsed = 0;
  do {
    DurableCreate(dir_fd, cycles++, content);
    elapsed = SecondsSince(start);
  } while (elapsed < seconds);
  std::printf(
      "durable_creates_per_s=%.1f cycles=%lld seconds=%.3f  # 4 KiB each: create O_EXCL, "
      "write, fsync, rename, fsync folder\n",
      static_cast<double>(cycles) / elapsed, static_cast<long long>(cycles), elapsed);
  std::fflush(stdout);
  for (int64_t i = 0; i < cycles; ++i) {
    ::unlinkat(dir_fd, ("obj." + std::to_string(i)).c_str(), 0);
  }
  ::close(dir_fd);
}

void MeasureWriteBandwidth(const std::string& dir, int64_t mib) {
  const std::string path = dir + "/sequential";
  const std::vector<char> chunk = RandomBytes(kChunkBytes);
  const Clock::time_point start = Clock::now();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) Fail("creating " + path);
  for (int64_t i = 0; i < mib; ++i) WriteAll(fd, chunk.data(), chunk.size(), path);
  if (::fsync(fd) != 0) Fail("fsync of " + path);
  if (::close(fd) != 0) Fail("closing " + path);
  const double elapsed = SecondsSince(start);
  const double bytes = static_cast<double>(mib) * kChunkBytes;
  std::printf(
      "write_MB_per_s=%.1f bytes=%.0f seconds=%.3f  # 1 MiB writes, then fsync; "
      "MB = 10^6 bytes\n",
      bytes / 1e6 / elapsed, bytes, elapsed);
  std::fflush(stdout);
  ::unlink(path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') {
    std::fprintf(stderr, "usage: disk_limits FOLDER [--seconds S] [--write-mib M]\n");
    return 2;
  }
  double seconds = 3;
  int64_t mib = 512;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--seconds") {
      seconds = std::strtod(argv[i + 1], nullptr);
    } else if (flag == "--write-mib") {
      mib = std::strtoll(argv[i + 1], nullptr, 10);
    } else {
      std::fprintf(stderr, "disk_limits: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (!(seconds > 0) || mib <= 0 || (argc % 2) != 0) {
    std::fprintf(stderr, "disk_limits: --seconds and --write-mib take positive numbers\n");
    return 2;
  }
  std::string dir = std::string(argv[1]) + "/disk_limits.XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) Fail("creating a folder in " + std::string(argv[1]));
  MeasureDurableCreates(dir, seconds);
  MeasureWriteBandwidth(dir, mib);
  ::rmdir(dir.c_str());
  return 0;
}
