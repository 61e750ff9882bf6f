// Paths resolved beneath a folder opened once, never following a symlink: the file store's
// confinement. Every function takes the folder's descriptor and a relative path of plain
// segments; none can reach outside that folder, whatever symlinks someone placed inside it.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <string_view>
#include <utility>

namespace buildtrace {

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept;
  ~Fd() { Close(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Returns 0 or the errno of close(); closing twice is a no-op.
  int Close();
  // Gives up ownership, returning the descriptor.
  [[nodiscard]] int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

// How paths are resolved: openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
// RESOLVE_NO_MAGICLINKS, falling back to kWalk where the kernel lacks it (ENOSYS); or kWalk, one
// openat(O_NOFOLLOW | O_DIRECTORY) per segment (forced by tests to cover the fallback).
enum class Resolution { kOpenat2, kWalk };

// Opens the folder `path` below `root_fd` ("" is `root_fd` itself; otherwise '/'-separated
// segments, none empty, "." or ".."). Returns an invalid Fd and sets errno on failure: ENOENT or
// ENOTDIR as open(2) would, ELOOP when a segment is a symlink, EINVAL for a bad segment.
Fd OpenFolderBeneath(int root_fd, std::string_view path, Resolution resolution);

// Like OpenFolderBeneath, but first makes the missing folders of `path` (mkdirat, mode 0755,
// each under the descriptor of its walked parent). Returns whether it made any in `made`.
Fd MakeFoldersBeneath(int root_fd, std::string_view path, Resolution resolution, bool& made);

// The kind of the entry `name` in `dir_fd`, not following a symlink (fstatat with
// AT_SYMLINK_NOFOLLOW). Returns 0 or an errno (ENOENT when there is none).
int StatEntry(int dir_fd, std::string_view name, struct stat& info);

// "a symlink", "a FIFO", "a socket", "a device", "a regular file", "a folder".
std::string_view DescribeFileType(mode_t mode);

// Calls `visit(dir_fd, name, is_folder)` for each regular file and folder in `dir` (which it
// takes), skipping ".", "..", symlinks, FIFOs, sockets and devices. The type comes from readdir's
// d_type; only where the file system reports DT_UNKNOWN does it fstatat the entry. Stops at the
// first non-zero return of `visit` and returns it; returns an errno if reading fails, else 0.
int ForEachEntry(
    Fd dir, const std::function<int(int dir_fd, std::string_view name, bool is_folder)>& visit);

}  // namespace buildtrace
