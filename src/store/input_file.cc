// Mapping with padding: reserve the whole padded length as one anonymous read-only region first,
// then map the file over its start with MAP_FIXED. The bytes after the file's end in its last page
// read as zero (the kernel's promise for a file mapping); the pages after that are the anonymous
// region's, which read as zero too. Nothing is copied and nothing is written.
#include "store/input_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace buildtrace {
namespace {

size_t PageBytes() {
  static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

std::string Problem(std::string_view what, int err) {
  return std::string(what) + ": cannot read the file (" + std::strerror(err) + ")";
}

Status Longer(std::string_view what, size_t max_bytes) {
  return TooLarge(std::string(what) + ": the file is larger than " + std::to_string(max_bytes) +
                  " bytes");
}

// Maps `size` bytes of `fd` into `out`; false when this file cannot be mapped (then it is read).
bool MapPadded(int fd, size_t size, InputBytes& out) {
  const size_t page = PageBytes();
  const size_t region_bytes = (size + simdjson::SIMDJSON_PADDING + page - 1) / page * page;
  void* region = ::mmap(nullptr, region_bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED) return false;
  void* file = ::mmap(region, size, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_POPULATE, fd, 0);
  if (file == MAP_FAILED) {
    ::munmap(region, region_bytes);
    return false;
  }
  out = InputBytes::AdoptMapping(region, region_bytes, size);
  return true;
}

// Reads to the end, into a buffer that doubles as bytes arrive (so a pipe that sends little costs
// little), with the padding left free after the last byte. A file of `expected` bytes fits with
// one byte to spare, where the read that finds its end lands without growing the buffer.
Result<InputBytes> ReadAll(int fd, std::string_view what, size_t expected, size_t max_bytes) {
  size_t capacity = std::max<size_t>(expected + 1, 64 << 10) + simdjson::SIMDJSON_PADDING;
  auto* buffer = static_cast<char*>(AllocateLarge(capacity));
  size_t size = 0;
  for (;;) {
    if (capacity - size <= simdjson::SIMDJSON_PADDING) {
      const size_t bigger = capacity * 2;
      auto* grown = static_cast<char*>(AllocateLarge(bigger));
      std::memcpy(grown, buffer, size);
      ReleaseLarge(buffer, capacity);
      buffer = grown;
      capacity = bigger;
    }
    const ssize_t n = ::read(fd, buffer + size, capacity - size - simdjson::SIMDJSON_PADDING);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ReleaseLarge(buffer, capacity);
      return Unavailable(Problem(what, err));
    }
    if (n == 0) break;
    size += static_cast<size_t>(n);
    if (size > max_bytes) {
      ReleaseLarge(buffer, capacity);
      return Longer(what, max_bytes);
    }
  }
  // simdjson may read the padding: it must be readable, and zero is what a mapping would give.
  std::memset(buffer + size, 0, simdjson::SIMDJSON_PADDING);
  return InputBytes::AdoptLarge(buffer, capacity, size);
}

}  // namespace

Result<InputBytes> ReadInputFile(int fd, std::string_view what, size_t max_bytes) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) return Unavailable(Problem(what, errno));
  const bool regular = S_ISREG(info.st_mode);
  const auto size = static_cast<size_t>(regular ? info.st_size : 0);
  if (size > max_bytes) return Longer(what, max_bytes);
  InputBytes mapped;
  if (regular && size >= kMapFromBytes && MapPadded(fd, size, mapped)) return mapped;
  return ReadAll(fd, what, size, max_bytes);
}

Result<InputBytes> ReadInputFile(const std::string& path, size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return InvalidArgument(path + ": cannot open the file (" + std::strerror(errno) + ")");
  }
  Result<InputBytes> input = ReadInputFile(fd, path, max_bytes);
  ::close(fd);
  return input;
}

}  // namespace buildtrace
