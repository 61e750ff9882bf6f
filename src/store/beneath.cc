// openat2(2) and the component-by-component walk behind beneath.h.
#include "store/beneath.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>

namespace buildtrace {
namespace {

constexpr int kFolderFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;

// Set once openat2 returned ENOSYS: the kernel will not grow it while we run.
std::atomic<bool> openat2_missing{false};

bool IsPlainSegment(std::string_view segment) {
  return !segment.empty() && segment != "." && segment != ".." &&
         segment.find('\0') == std::string_view::npos;
}

// Opens the folder `segment` in `dir_fd`; a symlink there fails with ELOOP, a non-folder with
// ENOTDIR (open(2) may report either for a symlink, so the entry is looked at to tell them apart).
Fd OpenChildFolder(int dir_fd, const std::string& segment) {
  Fd child(::openat(dir_fd, segment.c_str(), kFolderFlags));
  if (child.valid() || (errno != ELOOP && errno != ENOTDIR)) return child;
  struct stat info {};
  const bool link = StatEntry(dir_fd, segment, info) == 0 && S_ISLNK(info.st_mode);
  errno = link ? ELOOP : ENOTDIR;
  return child;
}

// Calls `step(segment)` for each '/'-separated segment of `path`; stops at the first false.
template <typename Step>
bool ForEachSegment(std::string_view path, Step step) {
  while (!path.empty()) {
    const size_t slash = path.find('/');
    if (!step(path.substr(0, slash))) return false;
    path.remove_prefix(slash == std::string_view::npos ? path.size() : slash + 1);
  }
  return true;
}

Fd Walk(int root_fd, std::string_view path, bool make, bool& made) {
  Fd dir(::openat(root_fd, ".", kFolderFlags));
  if (!dir.valid()) return dir;
  const bool ok = ForEachSegment(path, [&](std::string_view segment) {
    if (!IsPlainSegment(segment)) {
      errno = EINVAL;
      return false;
    }
    const std::string name(segment);
    Fd child = OpenChildFolder(dir.get(), name);
    if (!child.valid() && make && errno == ENOENT) {
      if (::mkdirat(dir.get(), name.c_str(), 0755) == 0)
        made = true;
      else if (errno != EEXIST)
        return false;
      child = OpenChildFolder(dir.get(), name);
    }
    if (!child.valid()) return false;
    dir = std::move(child);
    return true;
  });
  return ok ? std::move(dir) : Fd();
}

// openat2, or an invalid Fd with errno ENOSYS when the kernel lacks it.
Fd Openat2(int root_fd, std::string_view path) {
  open_how how{};
  how.flags = kFolderFlags;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const std::string target = path.empty() ? "." : std::string(path);
  long fd;
  do {
    fd = ::syscall(SYS_openat2, root_fd, target.c_str(), &how, sizeof(how));
  } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
  return Fd(static_cast<int>(fd));
}

}  // namespace

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

int Fd::Close() {
  if (fd_ < 0) return 0;
  const int rc = ::close(std::exchange(fd_, -1));
  return rc == 0 ? 0 : errno;
}

Fd OpenFolderBeneath(int root_fd, std::string_view path, Resolution resolution) {
  if (resolution == Resolution::kOpenat2 && !openat2_missing.load(std::memory_order_relaxed)) {
    Fd dir = Openat2(root_fd, path);
    // ENOTDIR may also mean a symlink in last place (O_DIRECTORY is checked first): the walk
    // tells which.
    if (dir.valid() || (errno != ENOSYS && errno != ENOTDIR)) return dir;
    if (errno == ENOSYS) openat2_missing.store(true, std::memory_order_relaxed);
  }
  bool made = false;
  return Walk(root_fd, path, /*make=*/false, made);
}

Fd MakeFoldersBeneath(int root_fd, std::string_view path, Resolution resolution, bool& made) {
  made = false;
  // Usually the folders exist: one call opens them.
  Fd dir = OpenFolderBeneath(root_fd, path, resolution);
  if (dir.valid() || errno != ENOENT) return dir;
  return Walk(root_fd, path, /*make=*/true, made);
}

int StatEntry(int dir_fd, std::string_view name, struct stat& info) {
  const std::string entry(name);
  return ::fstatat(dir_fd, entry.c_str(), &info, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
}

std::string_view DescribeFileType(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISLNK(mode)) return "a symlink";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "of an unknown type";
}

int ForEachEntry(
    Fd dir, const std::function<int(int dir_fd, std::string_view name, bool is_folder)>& visit) {
  DIR* stream = ::fdopendir(dir.get());
  if (stream == nullptr) return errno;
  const int dir_fd = dir.get();
  (void)dir.Release();  // the stream owns it now
  int result = 0;
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(stream);
    if (entry == nullptr) {
      result = errno;
      break;
    }
    const std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    unsigned char type = entry->d_type;
    if (type == DT_UNKNOWN) {
      struct stat info {};
      if (StatEntry(dir_fd, name, info) != 0) continue;  // gone meanwhile
      type = S_ISREG(info.st_mode) ? DT_REG : S_ISDIR(info.st_mode) ? DT_DIR : DT_UNKNOWN;
    }
    if (type != DT_REG && type != DT_DIR) continue;
    if ((result = visit(dir_fd, name, type == DT_DIR)) != 0) break;
  }
  ::closedir(stream);
  return result;
}

}  // namespace buildtrace
