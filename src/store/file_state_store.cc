// POSIX implementation of FileStateStore. Creation is write-temp, fsync, rename-without-replace,
// fsync folders: the rename is the commit point, so concurrent creators of one name (threads or
// processes) race only on it and exactly one wins.
#include "store/file_state_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <random>
#include <system_error>
#include <utility>

namespace buildtrace {
namespace {

namespace fs = std::filesystem;

// Temporary files are ".tmp-<16 hex digits>~". The '~' is not allowed in object names, so a
// temporary file can never be mistaken for (and removed or hidden as) an object named ".tmp-...".
constexpr std::string_view kTempPrefix = ".tmp-";
constexpr std::string_view kTempSuffix = "~";
constexpr int kTempNameAttempts = 8;
constexpr std::string_view kNameRule =
    "invalid object name; use 1-512 bytes of [A-Za-z0-9._-] in '/'-separated parts, none of them "
    "empty, \".\" or \"..\"";

bool IsTempFileName(std::string_view file_name) {
  return file_name.starts_with(kTempPrefix) && file_name.ends_with(kTempSuffix);
}

std::string ErrnoText(int err) { return std::generic_category().message(err); }

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { Close(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Returns 0 or the errno of close(); closing twice is a no-op.
  int Close() {
    if (fd_ < 0) return 0;
    const int rc = ::close(std::exchange(fd_, -1));
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

// Temporary names must not collide across threads, processes, and forked children (which inherit
// the thread-local generator), hence the pid and a process-wide counter mixed into each draw.
std::string NewTempName() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 engine{std::random_device{}()};
  const uint64_t bits = engine() ^ (static_cast<uint64_t>(::getpid()) << 40) ^
                        counter.fetch_add(0x9E3779B97F4A7C15ULL, std::memory_order_relaxed);
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(bits));
  return std::string(kTempPrefix) + hex + std::string(kTempSuffix);
}

int WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

// Writes `data` to a new temporary file in `dir_fd`, durably unless `sync` is false (the caller
// then syncs), and sets `temp_name`. On failure returns an errno and leaves no temporary file.
int WriteTempFile(int dir_fd, std::string_view data, std::string& temp_name, bool sync = true) {
  int fd = -1;
  for (int attempt = 0; attempt < kTempNameAttempts && fd < 0; ++attempt) {
    temp_name = NewTempName();
    fd = ::openat(dir_fd, temp_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST && errno != EINTR) return errno;
  }
  if (fd < 0) return errno;
  Fd file(fd);
  int err = WriteAll(file.get(), data);
  if (err == 0 && sync && ::fsync(file.get()) != 0) err = errno;
  const int close_err = file.Close();
  if (err == 0) err = close_err;
  if (err != 0) ::unlinkat(dir_fd, temp_name.c_str(), 0);
  return err;
}

// Renames `from` to `to` in `dir_fd` unless `to` exists (then EEXIST). File systems without
// RENAME_NOREPLACE get link+unlink, which is just as atomic for this purpose.
int RenameNoReplace(int dir_fd, const std::string& from, const std::string& to) {
  if (::renameat2(dir_fd, from.c_str(), dir_fd, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  if (::linkat(dir_fd, from.c_str(), dir_fd, to.c_str(), 0) != 0) return errno;
  ::unlinkat(dir_fd, from.c_str(), 0);
  return 0;
}

int SyncFolder(const std::string& path) {
  Fd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return errno;
  return ::fsync(dir.get()) == 0 ? 0 : errno;
}

// `relative` below `root`; `root` is absolute and has no trailing '/' unless it is "/".
std::string JoinPath(const std::string& root, std::string_view relative) {
  return (root == "/" ? "" : root) + "/" + std::string(relative);
}

// Creates the folders of `name` below `root` that are missing ("jobs", "jobs/a" for "jobs/a/1").
int MakeFolders(const std::string& root, std::string_view name) {
  for (size_t slash = name.find('/'); slash != std::string_view::npos;
       slash = name.find('/', slash + 1)) {
    const std::string path = JoinPath(root, name.substr(0, slash));
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return errno;
  }
  return 0;
}

// True if `prefix`, split on '/', has a complete ".." segment (a trailing ".." may still grow into
// a valid segment such as "..a", so it is allowed).
bool HasDotDotFolder(std::string_view prefix) {
  for (size_t slash = prefix.find('/'); slash != std::string_view::npos; slash = prefix.find('/')) {
    if (prefix.substr(0, slash) == "..") return true;
    prefix.remove_prefix(slash + 1);
  }
  return false;
}

Status RemoveTempFiles(const std::string& root) {
  std::error_code ec;
  std::vector<fs::path> stray;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && IsTempFileName(it->path().filename().native())) {
      stray.push_back(it->path());
    }
  }
  for (const fs::path& path : stray) {
    if (!ec) fs::remove(path, ec);
  }
  if (ec) {
    return Unavailable("file store " + root + ": removing temporary files left by a crash: " +
                       ec.message() + "; check the folder's permissions");
  }
  return Status::Ok();
}

// Creates `root` and its missing parents, durably (a store whose folder vanishes after a crash
// would lose every object in it).
Status MakeRoot(const std::string& root) {
  const std::string context = "file store " + root + ": ";
  std::error_code ec;
  if (fs::exists(root, ec) && !fs::is_directory(root, ec)) {
    return Unavailable(context + "the root exists but is not a folder; pass a folder path");
  }
  const bool created = fs::create_directories(root, ec);
  if (ec) {
    return Unavailable(context + "cannot create the root folder: " + ec.message() +
                       "; check the path and its permissions");
  }
  for (fs::path folder(root); created && folder.has_relative_path();) {
    folder = folder.parent_path();
    if (const int err = SyncFolder(folder.native()); err != 0) {
      return Unavailable(context + "cannot sync folder " + folder.native() + ": " + ErrnoText(err));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<FileStateStore>> FileStateStore::Open(const std::string& root_dir) {
  if (root_dir.empty()) {
    return InvalidArgument("file store: the root folder path is empty; pass a folder path");
  }
  std::error_code ec;
  std::string root = fs::absolute(root_dir, ec).lexically_normal().native();
  if (ec) return Unavailable("file store " + root_dir + ": " + ec.message());
  if (root.size() > 1 && root.back() == '/') root.pop_back();
  if (Status made = MakeRoot(root); !made.ok()) return made;
  std::unique_ptr<FileStateStore> store(new FileStateStore(root));
  if (Status probe = store->Probe(); !probe.ok()) return probe;
  if (Status removed = RemoveTempFiles(root); !removed.ok()) return removed;
  return store;
}

Status FileStateStore::CreateIfAbsent(std::string_view name, std::string_view data) {
  const ObjectToCreate object{name, data};
  return std::move(CreateManyIfAbsent(std::span<const ObjectToCreate>(&object, 1)).front());
}

int FileStateStore::SyncAfterWrites() {
  std::unique_lock lock(sync_mutex_);
  const uint64_t mine = ++sync_requested_;
  while (sync_completed_ < mine) {
    if (sync_running_) {
      sync_done_.wait(lock);
      continue;
    }
    // Lead a flush for everyone who has asked so far; who asks later waits for the next one,
    // since a flush only covers writes made before it started.
    sync_running_ = true;
    const uint64_t target = sync_requested_;
    lock.unlock();
    Fd root(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    const int err = !root.valid() ? errno : ::syncfs(root.get()) == 0 ? 0 : errno;
    lock.lock();
    sync_running_ = false;
    // A failed flush covers nobody: the waiters try again, each getting its own answer.
    if (err == 0) sync_completed_ = std::max(sync_completed_, target);
    sync_done_.notify_all();
    if (err != 0) return err;
  }
  return 0;
}

std::vector<Status> FileStateStore::CreateManyIfAbsent(std::span<const ObjectToCreate> objects) {
  struct Pending {
    Fd dir;
    std::string temp_name;
    std::string file_name;
  };
  std::vector<Status> results(objects.size());
  std::vector<std::optional<Pending>> pending(objects.size());
  for (size_t i = 0; i < objects.size(); ++i) {
    const std::string_view name = objects[i].name;
    if (!IsValidObjectName(name)) {
      results[i] = InvalidArgument(ErrorPrefix("create", name) + std::string(kNameRule));
      continue;
    }
    if (const int err = MakeFolders(root_, name); err != 0) {
      results[i] = CreateError(name, err);
      continue;
    }
    const std::string path = PathOf(name);
    const size_t slash = path.rfind('/');
    Pending p{Fd(::open(path.substr(0, slash == 0 ? 1 : slash).c_str(),
                        O_RDONLY | O_DIRECTORY | O_CLOEXEC)),
              "", path.substr(slash + 1)};
    if (!p.dir.valid()) {
      results[i] = CreateError(name, errno);
      continue;
    }
    if (const int err = WriteTempFile(p.dir.get(), objects[i].data, p.temp_name, false)) {
      results[i] = CreateError(name, err);
      continue;
    }
    pending[i] = std::move(p);
  }
  // One flush for the data of every temporary file, shared with concurrent batches.
  int sync_err = 0;
  if (std::any_of(pending.begin(), pending.end(), [](const auto& p) { return p.has_value(); })) {
    sync_err = SyncAfterWrites();
  }
  bool renamed = false;
  for (size_t i = 0; i < objects.size(); ++i) {
    if (!pending[i]) continue;
    Pending& p = *pending[i];
    int err = sync_err;
    if (err == 0) err = RenameNoReplace(p.dir.get(), p.temp_name, p.file_name);
    if (err != 0) {
      ::unlinkat(p.dir.get(), p.temp_name.c_str(), 0);
      results[i] = err == EEXIST ? AlreadyExists(ErrorPrefix("create", objects[i].name) +
                                                 "object exists")
                                 : CreateError(objects[i].name, err);
      pending[i].reset();
      continue;
    }
    renamed = true;
  }
  // A second flush makes the renames (and any folders made above) durable.
  const int folder_err = renamed ? SyncAfterWrites() : 0;
  for (size_t i = 0; i < objects.size(); ++i) {
    if (!pending[i] || folder_err == 0) continue;
    // Visible but maybe not durable: take it back (the contract: kUnavailable means nothing
    // visible), so that the caller's retry creates it again instead of finding it.
    ::unlinkat(pending[i]->dir.get(), pending[i]->file_name.c_str(), 0);
    results[i] = CreateError(objects[i].name, folder_err);
  }
  return results;
}

Result<std::string> FileStateStore::Read(std::string_view name) {
  if (!IsValidObjectName(name)) {
    return InvalidArgument(ErrorPrefix("read", name) + std::string(kNameRule));
  }
  const std::string not_found =
      "file store " + root_ + ": object " + std::string(name) + " not found";
  Fd file(::open(PathOf(name).c_str(), O_RDONLY | O_CLOEXEC));
  if (!file.valid()) {
    // ENAMETOOLONG: a segment longer than the file system allows cannot name an object here.
    if (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG) return NotFound(not_found);
    return Unavailable(ErrorPrefix("read", name) + ErrnoText(errno));
  }
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) {
    return Unavailable(ErrorPrefix("read", name) + ErrnoText(errno));
  }
  if (!S_ISREG(info.st_mode)) return NotFound(not_found);
  std::string bytes;
  bytes.reserve(static_cast<size_t>(info.st_size) + kReadPadding);
  bytes.resize(static_cast<size_t>(info.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(file.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Unavailable(ErrorPrefix("read", name) + ErrnoText(errno));
    if (n == 0) return Internal(ErrorPrefix("read", name) + "file shrank while being read");
    done += static_cast<size_t>(n);
  }
  return bytes;
}

Result<std::vector<std::string>> FileStateStore::List(std::string_view prefix) {
  if (prefix.starts_with('/') || HasDotDotFolder(prefix)) {
    return InvalidArgument(ErrorPrefix("list", prefix) +
                           "a prefix must not start with '/' or contain a \"..\" segment");
  }
  std::vector<std::string> names;
  const size_t slash = prefix.rfind('/');
  const std::string_view folder = slash == std::string_view::npos ? "" : prefix.substr(0, slash);
  const std::string_view filter = prefix.substr(slash == std::string_view::npos ? 0 : slash + 1);
  // A folder part that is not a valid name ("a//", "./a/") is a prefix of no object name.
  if (!folder.empty() && !IsValidObjectName(folder)) return names;
  const std::string path = folder.empty() ? root_ : PathOf(folder);
  if (Status s = ListFolder(path, folder, filter, names); !s.ok()) return s;
  std::sort(names.begin(), names.end());
  return names;
}

// Appends the objects below `folder` (named `relative_folder` in the store) whose first segment
// below it starts with `filter`. A missing `folder` has no objects.
Status FileStateStore::ListFolder(const std::string& folder, std::string_view relative_folder,
                                  std::string_view filter, std::vector<std::string>& names) const {
  std::error_code ec;
  fs::directory_iterator it(folder, ec);
  if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) {
    return Status::Ok();
  }
  for (const fs::directory_iterator end; !ec && it != end; it.increment(ec)) {
    const std::string file_name = it->path().filename().native();
    // Temporary files need no test of their own: their '~' makes them invalid object names.
    if (!file_name.starts_with(filter)) continue;
    const std::string name =
        relative_folder.empty() ? file_name : std::string(relative_folder) + "/" + file_name;
    const fs::file_type type = it->symlink_status(ec).type();
    if (type == fs::file_type::directory) {
      if (Status s = ListFolder(it->path().native(), name, "", names); !s.ok()) return s;
    } else if (type == fs::file_type::regular && IsValidObjectName(name)) {
      names.push_back(name);
    }
  }
  if (ec) return Unavailable(ErrorPrefix("list", relative_folder) + ec.message());
  return Status::Ok();
}

Status FileStateStore::Probe() {
  Fd dir(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return Unavailable(ErrorPrefix("probe", "root folder") + ErrnoText(errno));
  // No fsync: this checks that the folder takes new files, cheaply enough to poll.
  const std::string temp_name = NewTempName();
  Fd file(::openat(dir.get(), temp_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!file.valid()) {
    return Unavailable(ErrorPrefix("probe", "root folder") + ErrnoText(errno) +
                       "; check that the folder exists and is writable");
  }
  file.Close();
  ::unlinkat(dir.get(), temp_name.c_str(), 0);
  return Status::Ok();
}

Status FileStateStore::Delete(std::string_view name) {
  if (!IsValidObjectName(name)) {
    return InvalidArgument(ErrorPrefix("delete", name) + std::string(kNameRule));
  }
  if (::unlink(PathOf(name).c_str()) == 0) return Status::Ok();
  // No such file, a parent that is a file, a name too long to exist, a folder: no such object.
  if (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG || errno == EISDIR) {
    return Status::Ok();
  }
  return Unavailable(ErrorPrefix("delete", name) + ErrnoText(errno));
}

Status FileStateStore::CreateError(std::string_view name, int err) const {
  if (err == ENAMETOOLONG) {
    return InvalidArgument(ErrorPrefix("create", name) + ErrnoText(err) +
                           "; this file system limits each '/'-separated part of a name");
  }
  return Unavailable(ErrorPrefix("create", name) + ErrnoText(err));
}

std::string FileStateStore::Describe() const { return "file://" + root_; }

std::string FileStateStore::PathOf(std::string_view name) const { return JoinPath(root_, name); }

std::string FileStateStore::ErrorPrefix(std::string_view operation, std::string_view name) const {
  return "file store " + root_ + ": " + std::string(operation) + " " + std::string(name) + ": ";
}

}  // namespace buildtrace
