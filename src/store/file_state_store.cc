// POSIX implementation of FileStateStore. Creation is write-temp, flush, rename-without-replace,
// flush: the rename is the commit point, so concurrent creators of one name (threads or
// processes) race only on it and exactly one wins. An empty object's commit point is its create
// in place (O_EXCL), then one flush. Once renamed, an object is never taken back:
// someone may already have found it. Paths are resolved by beneath.h, never through a symlink.
#include "store/file_state_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <exception>
#include <filesystem>
#include <optional>
#include <random>
#include <system_error>
#include <thread>
#include <utility>

#include "store/input_file.h"
#include "store/writer_identity.h"

namespace buildtrace {
namespace {

namespace fs = std::filesystem;

constexpr int kTempNameAttempts = 8;
// Not a valid object name (the '~'), so it never collides with an object nor shows in List.
constexpr std::string_view kProbeFolder = ".probe~";

constexpr std::string_view kBelowSymlink = "a folder on its path is a symlink, not a folder";

std::string NotARegularFile(mode_t mode) {
  return "not a regular file but " + std::string(DescribeFileType(mode));
}

std::string ErrnoText(int err) { return std::generic_category().message(err); }

// Random bits must not collide across threads, processes, and forked children (which inherit the
// thread-local generator), hence a process-wide counter mixed into each draw (the pid is in the
// name already).
std::string NewTempName() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 engine{std::random_device{}()};
  const uint64_t bits =
      engine() ^ counter.fetch_add(0x9E3779B97F4A7C15ULL, std::memory_order_relaxed);
  return TempFileName(ThisWriter(), bits);
}

// Writes the pieces one after the other, in as few calls as the kernel allows.
int WriteAll(int fd, std::span<const std::string_view> pieces) {
  std::array<iovec, ObjectToCreate::kMaxPieces> vectors{};
  assert(pieces.size() <= vectors.size());
  size_t count = 0;
  for (std::string_view piece : pieces) {
    if (!piece.empty()) vectors[count++] = {const_cast<char*>(piece.data()), piece.size()};
  }
  size_t first = 0;  // the first piece not yet written whole
  while (first < count) {
    const ssize_t n = ::writev(fd, &vectors[first], static_cast<int>(count - first));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;  // a file that takes nothing would otherwise be retried forever
    size_t done = static_cast<size_t>(n);
    for (; first < count && done >= vectors[first].iov_len; ++first) done -= vectors[first].iov_len;
    if (done > 0) {
      vectors[first].iov_base = static_cast<char*>(vectors[first].iov_base) + done;
      vectors[first].iov_len -= done;
    }
  }
  return 0;
}

// Creates a new temporary file in `dir_fd`, sets `temp_name` and returns it open for writing; on
// failure sets errno and returns an invalid Fd.
Fd OpenTempFile(int dir_fd, std::string& temp_name) {
  int fd = -1;
  for (int attempt = 0; attempt < kTempNameAttempts && fd < 0; ++attempt) {
    temp_name = NewTempName();
    fd = ::openat(dir_fd, temp_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0644);
    if (fd < 0 && errno != EEXIST && errno != EINTR) return Fd();
  }
  return Fd(fd);
}

// Writes `pieces` to `file` (a temporary file named `temp_name` in `dir_fd`) and closes it. On
// failure returns an errno, having removed the file. With `start_writeback`, the device starts
// on the written bytes at once (sync_file_range, which waits for nothing): the flush that makes
// them durable later then finds most of them written. Its errors are the flush's to report.
int WriteTempPieces(int dir_fd, const std::string& temp_name, Fd& file,
                    std::span<const std::string_view> pieces, bool start_writeback = false) {
  int err = WriteAll(file.get(), pieces);
  if (err == 0 && start_writeback) ::sync_file_range(file.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
  const int close_err = file.Close();
  if (err == 0) err = close_err;
  if (err != 0) ::unlinkat(dir_fd, temp_name.c_str(), 0);
  return err;
}

// Writes `pieces` to a new temporary file in `dir_fd`, unflushed, and sets `temp_name`. On
// failure returns an errno and leaves no temporary file.
int WriteTempFile(int dir_fd, std::span<const std::string_view> pieces, std::string& temp_name) {
  Fd file = OpenTempFile(dir_fd, temp_name);
  if (!file.valid()) return errno;
  return WriteTempPieces(dir_fd, temp_name, file, pieces);
}

// Renames `from` in `from_dir` to `to` in `to_dir` unless `to` exists (then EEXIST). File
// systems without RENAME_NOREPLACE get link+unlink, which is just as atomic for this purpose.
int RenameNoReplace(int from_dir, const std::string& from, int to_dir, const std::string& to) {
  if (::renameat2(from_dir, from.c_str(), to_dir, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  if (::linkat(from_dir, from.c_str(), to_dir, to.c_str(), 0) != 0) return errno;
  ::unlinkat(from_dir, from.c_str(), 0);
  return 0;
}

int RenameNoReplace(int dir_fd, const std::string& from, const std::string& to) {
  return RenameNoReplace(dir_fd, from, dir_fd, to);
}

int SyncFolder(const std::string& path) {
  Fd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return errno;
  return ::fsync(dir.get()) == 0 ? 0 : errno;
}

// "jobs/a/1.json" -> {"jobs/a", "1.json"}; "top" -> {"", "top"}.
std::pair<std::string_view, std::string> SplitName(std::string_view name) {
  const size_t slash = name.rfind('/');
  if (slash == std::string_view::npos) return {"", std::string(name)};
  return {name.substr(0, slash), std::string(name.substr(slash + 1))};
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

// Whether Open() may remove the temporary file `file_name` (modified at `modified`).
bool IsAbandoned(std::string_view file_name, const struct stat& info, std::chrono::seconds age) {
  const auto modified = std::chrono::system_clock::time_point(
      std::chrono::seconds(info.st_mtim.tv_sec) + std::chrono::nanoseconds(info.st_mtim.tv_nsec));
  if (std::chrono::system_clock::now() - modified > age) return true;
  const std::optional<WriterIdentity> writer = WriterOfTempFile(file_name);
  return writer.has_value() && WriterIsGone(*writer);
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

// A create between its temporary file and its outcome.
struct FileStateStore::PendingCreate {
  enum class Stage { kWritten, kRenamed, kFoundExisting };
  Fd dir;
  std::string file_name;
  std::string temp_name;
  Fd staging;  // where the temporary file waits for the folders (StageTemp), until FinishStaged
  bool staged_in_place = false;  // the staging folder is the object's own
  Stage stage = Stage::kWritten;
};

FileStateStore::FileStateStore(std::string root, Fd root_fd, FileStoreOptions options)
    : root_(std::move(root)), root_fd_(std::move(root_fd)), options_(std::move(options)) {}

Result<std::unique_ptr<FileStateStore>> FileStateStore::Open(const std::string& root_dir,
                                                             FileStoreOptions options) {
  if (root_dir.empty()) {
    return InvalidArgument("file store: the root folder path is empty; pass a folder path");
  }
  std::error_code ec;
  std::string root = fs::absolute(root_dir, ec).lexically_normal().native();
  if (ec) return Unavailable("file store " + root_dir + ": " + ec.message());
  if (root.size() > 1 && root.back() == '/') root.pop_back();
  if (Status made = MakeRoot(root); !made.ok()) return made;
  // The one place a symlink is followed: the operator's choice of root.
  Fd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) {
    return Unavailable("file store " + root + ": cannot open the root folder: " + ErrnoText(errno) +
                       "; check the path and its permissions");
  }
  std::unique_ptr<FileStateStore> store(
      new FileStateStore(std::move(root), std::move(root_fd), std::move(options)));
  if (Status probe = store->ProbeCreateAndDelete(); !probe.ok()) return probe;
  if (Status removed = store->RemoveAbandonedTempFiles(); !removed.ok()) return removed;
  return store;
}

Status FileStateStore::CreateIfAbsent(std::string_view name, std::string_view data) {
  const ObjectToCreate object{name, data};
  return std::move(CreateManyIfAbsent(std::span<const ObjectToCreate>(&object, 1)).front());
}

int FileStateStore::SyncFileSystem() {
  if (options_.sync_file_system) return options_.sync_file_system(root_fd_.get());
  return ::syncfs(root_fd_.get()) == 0 ? 0 : errno;
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
    const int err = SyncFileSystem();
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
  std::vector<Status> results(objects.size());
  std::vector<std::optional<PendingCreate>> pending(objects.size());
  for (size_t i = 0; i < objects.size(); ++i) {
    pending[i].emplace();
    results[i] = objects[i].size() == 0 ? CreateEmpty(objects[i], *pending[i])
                                        : WriteTemp(objects[i], *pending[i]);
    if (!results[i].ok() && results[i].code() != StatusCode::kAlreadyExists) pending[i].reset();
  }
  CommitWritten(objects, results, pending);
  return results;
}

Result<std::vector<Status>> FileStateStore::CreateManyIfAbsentPreparing(
    std::span<const ObjectToCreate> objects, const std::function<Status()>& prepare) {
  size_t bytes = 0;
  for (const ObjectToCreate& object : objects) bytes += object.size();
  if (bytes < options_.overlap_min_bytes) {
    return StateStore::CreateManyIfAbsentPreparing(objects, prepare);
  }
  // Every piece but each object's last goes to a temporary file on a thread of its own while
  // `prepare` runs here: the write into the page cache is as much CPU work as a job's digest and
  // duplicate-ID check together. No folder is made before `prepare` agrees (StageTemp).
  std::vector<Status> results(objects.size());
  std::vector<std::optional<PendingCreate>> pending(objects.size());
  std::exception_ptr write_error;
  const auto write_heads = [&]() noexcept {
    try {
      for (size_t i = 0; i < objects.size(); ++i) {
        pending[i].emplace();
        results[i] = StageTemp(objects[i], *pending[i]);
        if (!results[i].ok()) pending[i].reset();
      }
      if (options_.after_staging) options_.after_staging();
    } catch (...) {
      write_error = std::current_exception();
    }
  };
  // Removes every temporary file not yet renamed into place, wherever it is at the time.
  const auto discard_all = [&] {
    for (std::optional<PendingCreate>& p : pending) {
      if (p && p->stage == PendingCreate::Stage::kWritten && !p->temp_name.empty()) {
        ::unlinkat(p->staging.valid() ? p->staging.get() : p->dir.get(), p->temp_name.c_str(), 0);
      }
      p.reset();
    }
  };
  Status prepared;
  {
    std::optional<std::jthread> writer;
    try {
      writer.emplace(write_heads);
    } catch (const std::system_error&) {
      write_heads();  // no thread to be had (a process or memory limit): one after the other
    }
    try {
      prepared = prepare();
    } catch (...) {
      writer.reset();  // joins
      discard_all();
      throw;
    }
  }  // joins the writer
  if (write_error) {
    discard_all();
    std::rethrow_exception(write_error);
  }
  if (!prepared.ok()) {
    discard_all();
    return prepared;
  }
  try {
    for (size_t i = 0; i < objects.size(); ++i) {
      if (!pending[i]) continue;
      results[i] = FinishStaged(objects[i], *pending[i]);
      if (!results[i].ok()) pending[i].reset();
    }
    CommitWritten(objects, results, pending);
  } catch (...) {
    discard_all();  // what is renamed stays: someone may have found it
    throw;
  }
  return results;
}

void FileStateStore::CommitWritten(std::span<const ObjectToCreate> objects,
                                   std::vector<Status>& results,
                                   std::vector<std::optional<PendingCreate>>& pending) {
  using Stage = PendingCreate::Stage;
  const auto any = [&](auto predicate) {
    return std::any_of(pending.begin(), pending.end(), predicate);
  };
  const auto written = [](const auto& p) { return p.has_value() && p->stage == Stage::kWritten; };
  // One flush for the data of every temporary file, shared with concurrent batches.
  const int data_err = any(written) ? SyncAfterWrites() : 0;
  for (size_t i = 0; i < objects.size(); ++i) {
    if (!written(pending[i])) continue;
    results[i] = Commit(objects[i].name(), data_err, *pending[i]);
    if (!results[i].ok() && results[i].code() != StatusCode::kAlreadyExists) pending[i].reset();
  }
  // A second flush makes the renames and new folders durable, and an object found existing:
  // its creator may still be between its rename and its flush, and our caller will acknowledge it.
  const int commit_err = any([](const auto& p) { return p.has_value(); }) ? SyncAfterWrites() : 0;
  for (size_t i = 0; i < objects.size() && commit_err != 0; ++i) {
    if (!pending[i]) continue;
    // Never take a renamed object back: a concurrent creator may have found it and had it
    // acknowledged. The caller's retry will find it (kAlreadyExists) once it is durable.
    const std::string what = pending[i]->stage == Stage::kRenamed
                                 ? "the object may be visible but is not known to be durable"
                                 : "the object exists but is not known to be durable";
    results[i] = Unavailable(ErrorPrefix("create", objects[i].name()) +
                             "flush failed: " + ErrnoText(commit_err) + "; " + what +
                             "; retry the create to confirm it");
  }
}

Status FileStateStore::MakeObjectFolder(const ObjectToCreate& object,
                                        PendingCreate& pending) const {
  if (!IsValidObjectName(object.name())) return NameError("create", object.name());
  const auto [folder, file_name] = SplitName(object.name());
  pending.file_name = file_name;
  // Made durable by the flush after the rename or the create in place, as those are.
  bool made_folders = false;
  pending.dir = MakeFoldersBeneath(root_fd_.get(), folder, resolution(), made_folders);
  if (!pending.dir.valid()) return CreateError(object.name(), errno);
  return Status::Ok();
}

Status FileStateStore::WriteTemp(const ObjectToCreate& object, PendingCreate& pending) const {
  if (Status made = MakeObjectFolder(object, pending); !made.ok()) return made;
  if (const int err = WriteTempFile(pending.dir.get(), object.pieces(), pending.temp_name)) {
    return CreateError(object.name(), err);
  }
  return Status::Ok();
}

Status FileStateStore::NameError(std::string_view operation, std::string_view name) const {
  return InvalidArgument(ErrorPrefix(operation, name) + std::string(kObjectNameRule));
}

Status FileStateStore::StageTemp(const ObjectToCreate& object, PendingCreate& pending) const {
  if (!IsValidObjectName(object.name())) return NameError("create", object.name());
  const auto [object_folder, file_name] = SplitName(object.name());
  pending.file_name = file_name;
  // The deepest folder on the way that exists: the folders still to be made below it are on its
  // file system, so the temporary file can be renamed into them.
  // Any other error than a missing folder is the create's error, as MakeFoldersBeneath would
  // report it.
  std::string_view folder = object_folder;
  for (;;) {
    pending.staging = OpenFolderBeneath(root_fd_.get(), folder, resolution());
    if (pending.staging.valid() || folder.empty() || errno != ENOENT) break;
    const size_t slash = folder.rfind('/');
    folder = slash == std::string_view::npos ? std::string_view() : folder.substr(0, slash);
  }
  pending.staged_in_place = folder == object_folder;
  if (!pending.staging.valid()) return CreateError(object.name(), errno);
  Fd file = OpenTempFile(pending.staging.get(), pending.temp_name);
  if (!file.valid()) {
    pending.temp_name.clear();
    return CreateError(object.name(), errno);
  }
  const std::span<const std::string_view> pieces = object.pieces();
  const std::span<const std::string_view> first =
      pieces.first(pieces.empty() ? 0 : pieces.size() - 1);
  // A large batch (this path's): its bytes go to the device while the preparation runs.
  if (const int err =
          WriteTempPieces(pending.staging.get(), pending.temp_name, file, first, true)) {
    pending.temp_name.clear();  // removed
    return CreateError(object.name(), err);
  }
  return Status::Ok();
}

Status FileStateStore::FinishStaged(const ObjectToCreate& object, PendingCreate& pending) const {
  int err = 0;
  if (pending.staged_in_place) {
    pending.dir = std::move(pending.staging);  // the folder it was written in, whatever its name
  } else {
    // Into the object's folder, made now, under the same temporary name.
    const auto [folder, file_name] = SplitName(object.name());
    bool made_folders = false;  // made durable by the flush after the rename, as the rename is
    pending.dir = MakeFoldersBeneath(root_fd_.get(), folder, resolution(), made_folders);
    err = pending.dir.valid() ? 0 : errno;
    if (err == 0) {
      err = RenameNoReplace(pending.staging.get(), pending.temp_name, pending.dir.get(),
                            pending.temp_name);
    }
    if (err != 0) {
      ::unlinkat(pending.staging.get(), pending.temp_name.c_str(), 0);
      return CreateError(object.name(), err);
    }
    pending.staging.Close();
  }
  const std::span<const std::string_view> pieces = object.pieces();
  if (pieces.empty()) return Status::Ok();
  // The same file as written, or nothing: not a FIFO (O_NONBLOCK), nor a file linked elsewhere.
  Fd file(::openat(pending.dir.get(), pending.temp_name.c_str(),
                   O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat info {};
  if (!file.valid() || ::fstat(file.get(), &info) != 0) {
    err = errno;
    ::unlinkat(pending.dir.get(), pending.temp_name.c_str(), 0);
    return CreateError(object.name(), err);
  }
  const uint64_t staged_bytes = object.size() - pieces.back().size();  // StageTemp's
  if (!S_ISREG(info.st_mode) || info.st_nlink != 1 ||
      static_cast<uint64_t>(info.st_size) != staged_bytes) {
    ::unlinkat(pending.dir.get(), pending.temp_name.c_str(), 0);
    return Refused("create", object.name(), "its temporary file was replaced meanwhile");
  }
  if ((err = WriteTempPieces(pending.dir.get(), pending.temp_name, file, pieces.last(1)))) {
    return CreateError(object.name(), err);
  }
  return Status::Ok();
}

Status FileStateStore::Commit(std::string_view name, int sync_err, PendingCreate& pending) const {
  const int dir = pending.dir.get();
  const int err =
      sync_err != 0 ? sync_err : RenameNoReplace(dir, pending.temp_name, pending.file_name);
  if (err == 0) {
    pending.stage = PendingCreate::Stage::kRenamed;
    return Status::Ok();
  }
  ::unlinkat(dir, pending.temp_name.c_str(), 0);
  if (err != EEXIST) return CreateError(name, err);
  return FoundExisting(name, pending);
}

Status FileStateStore::FoundExisting(std::string_view name, PendingCreate& pending) const {
  struct stat info {};
  if (const int stat_err = StatEntry(pending.dir.get(), pending.file_name, info); stat_err != 0) {
    return CreateError(name, stat_err);  // removed meanwhile (only the outbox deletes): retry
  }
  if (!S_ISREG(info.st_mode) && !S_ISDIR(info.st_mode)) {
    return Refused("create", name, NotARegularFile(info.st_mode));
  }
  pending.stage = PendingCreate::Stage::kFoundExisting;
  return AlreadyExists(ErrorPrefix("create", name) + "object exists");
}

Status FileStateStore::CreateEmpty(const ObjectToCreate& object, PendingCreate& pending) const {
  if (Status made = MakeObjectFolder(object, pending); !made.ok()) return made;
  // O_EXCL takes no symlink for the file: a name taken by one is EEXIST, then refused below.
  int fd;
  do {
    fd = ::openat(pending.dir.get(), pending.file_name.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  const Fd file(fd);
  if (file.valid()) {
    pending.stage = PendingCreate::Stage::kRenamed;  // in place: visible, not yet durable
    return Status::Ok();
  }
  if (errno != EEXIST) return CreateError(object.name(), errno);
  return FoundExisting(object.name(), pending);
}

Result<std::string> FileStateStore::Read(std::string_view name) {
  if (!IsValidObjectName(name)) return NameError("read", name);
  struct stat info {};
  Result<Fd> file = OpenObject(name, info);
  if (!file.ok()) return file.status();
  std::string bytes;
  bytes.reserve(static_cast<size_t>(info.st_size) + kReadPadding);
  bytes.resize(static_cast<size_t>(info.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(file->get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Unavailable(ErrorPrefix("read", name) + ErrnoText(errno));
    if (n == 0) return Internal(ErrorPrefix("read", name) + "file shrank while being read");
    done += static_cast<size_t>(n);
  }
  return bytes;
}

Result<InputBytes> FileStateStore::ReadInput(std::string_view name) {
  if (!IsValidObjectName(name)) return NameError("read", name);
  struct stat info {};
  Result<Fd> file = OpenObject(name, info);
  if (!file.ok()) return file.status();
  std::string what = ErrorPrefix("read", name);
  what.resize(what.size() - 2);  // its ": "
  Result<InputBytes> input = ReadInputFile(file->get(), what, static_cast<size_t>(-1));
  if (!input.ok()) return Unavailable(input.status().message());
  return input;
}

Result<Fd> FileStateStore::OpenObject(std::string_view name, struct stat& info) const {
  const Status not_found =
      NotFound("file store " + root_ + ": object " + std::string(name) + " not found");
  const auto [folder, file_name] = SplitName(name);
  const Fd dir = OpenFolderBeneath(root_fd_.get(), folder, resolution());
  // ENAMETOOLONG: a segment longer than the file system allows cannot name an object here.
  if (!dir.valid() && (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG)) {
    return not_found;
  }
  if (!dir.valid() && errno == ELOOP) return Refused("read", name, kBelowSymlink);
  if (!dir.valid()) return Unavailable(ErrorPrefix("read", name) + ErrnoText(errno));
  // Look before opening: opening a FIFO could block, opening a device could do anything.
  if (const int err = StatEntry(dir.get(), file_name, info); err != 0) {
    if (err == ENOENT || err == ENAMETOOLONG) return not_found;
    return Unavailable(ErrorPrefix("read", name) + ErrnoText(err));
  }
  if (S_ISDIR(info.st_mode)) return not_found;
  if (!S_ISREG(info.st_mode)) return Refused("read", name, NotARegularFile(info.st_mode));
  // O_NONBLOCK, O_NOFOLLOW: the entry may have been swapped since; fstat tells.
  Fd file(::openat(dir.get(), file_name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!file.valid() && errno == ENOENT) return not_found;
  if (!file.valid() && errno == ELOOP) return Refused("read", name, NotARegularFile(S_IFLNK));
  if (!file.valid()) return Unavailable(ErrorPrefix("read", name) + ErrnoText(errno));
  if (::fstat(file.get(), &info) != 0) {
    return Unavailable(ErrorPrefix("read", name) + ErrnoText(errno));
  }
  if (!S_ISREG(info.st_mode)) return Refused("read", name, NotARegularFile(info.st_mode));
  return file;
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
  Fd dir = OpenFolderBeneath(root_fd_.get(), folder, resolution());
  // Missing, a file, or a symlink (never followed): no objects below it.
  if (!dir.valid() &&
      (errno == ENOENT || errno == ENOTDIR || errno == ELOOP || errno == ENAMETOOLONG)) {
    return names;
  }
  if (!dir.valid()) return Unavailable(ErrorPrefix("list", prefix) + ErrnoText(errno));
  if (Status s = ListFolder(std::move(dir), folder, filter, names); !s.ok()) return s;
  std::sort(names.begin(), names.end());
  return names;
}

// Appends the objects below `folder` (named `relative_folder` in the store) whose first segment
// below it starts with `filter`.
Status FileStateStore::ListFolder(Fd folder, std::string_view relative_folder,
                                  std::string_view filter, std::vector<std::string>& names) const {
  Status failed;
  const int err =
      ForEachEntry(std::move(folder), [&](int dir_fd, std::string_view file_name, bool is_folder) {
        if (!file_name.starts_with(filter)) return 0;
        const std::string name = relative_folder.empty()
                                     ? std::string(file_name)
                                     : std::string(relative_folder) + "/" + std::string(file_name);
        // Temporary files and the probe folder need no test of their own: their '~' makes them
        // invalid object names.
        if (!IsValidObjectName(name)) return 0;
        if (!is_folder) {
          names.push_back(name);
          return 0;
        }
        Fd child(::openat(dir_fd, std::string(file_name).c_str(),
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!child.valid())
          return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 0 : errno;
        failed = ListFolder(std::move(child), name, "", names);
        return failed.ok() ? 0 : -1;
      });
  if (!failed.ok()) return failed;
  if (err != 0) return Unavailable(ErrorPrefix("list", relative_folder) + ErrnoText(err));
  return Status::Ok();
}

Status FileStateStore::Delete(std::string_view name) {
  if (!IsValidObjectName(name)) return NameError("delete", name);
  const auto [folder, file_name] = SplitName(name);
  const Fd dir = OpenFolderBeneath(root_fd_.get(), folder, resolution());
  // No such folder, a parent that is a file, a name too long to exist: no such object.
  if (!dir.valid() && (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG)) {
    return Status::Ok();
  }
  if (!dir.valid() && errno == ELOOP) return Refused("delete", name, kBelowSymlink);
  if (!dir.valid()) return Unavailable(ErrorPrefix("delete", name) + ErrnoText(errno));
  if (::unlinkat(dir.get(), file_name.c_str(), 0) == 0) return Status::Ok();
  // A folder is no object either.
  if (errno == ENOENT || errno == ENAMETOOLONG || errno == EISDIR) return Status::Ok();
  return Unavailable(ErrorPrefix("delete", name) + ErrnoText(errno));
}

Status FileStateStore::Probe() {
  if (Status room = CheckFreeSpace(); !room.ok()) return room;
  return ProbeCreateAndDelete();
}

Result<uint64_t> FileStateStore::FreeBytes() const {
  struct statvfs info {};
  if (::fstatvfs(root_fd_.get(), &info) != 0) {
    return Unavailable(ErrorPrefix("free space of", "root folder") + ErrnoText(errno));
  }
  return static_cast<uint64_t>(info.f_bavail) * info.f_frsize;
}

Status FileStateStore::CheckFreeSpace() const {
  if (options_.min_free_bytes == 0) return Status::Ok();
  Result<uint64_t> free = FreeBytes();
  if (!free.ok()) return free.status();
  if (*free >= options_.min_free_bytes) return Status::Ok();
  return Unavailable(ErrorPrefix("probe", "free space") + std::to_string(*free) +
                     " bytes free, below the threshold of " +
                     std::to_string(options_.min_free_bytes) +
                     " bytes (min-free); free space on that file system or lower min-free");
}

Status FileStateStore::ProbeCreateAndDelete() const {
  const auto fail = [&](int err) {
    return Unavailable(ErrorPrefix("probe", "root folder") + ErrnoText(err) +
                       "; check that the folder exists and is writable");
  };
  bool made = false;
  const Fd dir = MakeFoldersBeneath(root_fd_.get(), kProbeFolder, resolution(), made);
  if (!dir.valid()) return fail(errno);
  // The create path without its flushes, so that it is cheap enough to poll. The object's name is
  // a second temporary name: it carries the writer, so Open() clears it after a crash.
  std::string temp_name;
  const std::string_view probe = "probe";
  if (const int err = WriteTempFile(dir.get(), std::span(&probe, 1), temp_name)) return fail(err);
  const std::string object_name = NewTempName();
  if (const int err = RenameNoReplace(dir.get(), temp_name, object_name)) {
    ::unlinkat(dir.get(), temp_name.c_str(), 0);
    return fail(err);
  }
  if (::unlinkat(dir.get(), object_name.c_str(), 0) != 0) return fail(errno);
  return Status::Ok();
}

// Walks the whole tree beneath the root (never through a symlink) for temporary files.
Status FileStateStore::RemoveAbandonedTempFiles() const {
  std::function<int(int, std::string_view, bool)> visit = [&](int dir_fd, std::string_view name,
                                                              bool is_folder) -> int {
    if (is_folder) {
      Fd child(::openat(dir_fd, std::string(name).c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!child.valid()) return errno == ENOENT ? 0 : errno;
      return ForEachEntry(std::move(child), visit);
    }
    struct stat info {};
    if (!IsTempFileName(name) || StatEntry(dir_fd, name, info) != 0) return 0;
    if (!S_ISREG(info.st_mode) || !IsAbandoned(name, info, options_.abandoned_temp_age)) return 0;
    if (::unlinkat(dir_fd, std::string(name).c_str(), 0) != 0 && errno != ENOENT) return errno;
    return 0;
  };
  Fd root(::openat(root_fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  const int err = root.valid() ? ForEachEntry(std::move(root), visit) : errno;
  if (err == 0) return Status::Ok();
  return Unavailable("file store " + root_ + ": removing temporary files left by a crash: " +
                     ErrnoText(err) + "; check the folder's permissions");
}

Status FileStateStore::CreateError(std::string_view name, int err) const {
  if (err == ENAMETOOLONG) {
    return InvalidArgument(ErrorPrefix("create", name) + ErrnoText(err) +
                           "; this file system limits each '/'-separated part of a name");
  }
  if (err == ELOOP) return Refused("create", name, kBelowSymlink);
  return Unavailable(ErrorPrefix("create", name) + ErrnoText(err));
}

Status FileStateStore::Refused(std::string_view operation, std::string_view name,
                               std::string_view what) const {
  return Internal(ErrorPrefix(operation, name) + "refused: " + std::string(what) +
                  " (the store never makes one, so someone changed the folder); remove it");
}

Resolution FileStateStore::resolution() const {
  return options_.resolve_by_walk ? Resolution::kWalk : Resolution::kOpenat2;
}

std::string FileStateStore::Describe() const {
  std::string text = "file://" + root_;
  if (options_.min_free_bytes != kDefaultMinFreeBytes) {
    text += "?min-free=" + std::to_string(options_.min_free_bytes);
  }
  return text;
}

std::string FileStateStore::ErrorPrefix(std::string_view operation, std::string_view name) const {
  return "file store " + root_ + ": " + std::string(operation) + " " + std::string(name) + ": ";
}

}  // namespace buildtrace
