// FileStateStore: the embedded default StateStore, a folder on a local (POSIX) file system.
// Object "jobs/a/1.json" is the file <root>/jobs/a/1.json. Writes go to a temporary file
// ".tmp-<writer>-<random>~" beside the target (the writer being this host, pid and process start
// time), are flushed and then renamed into place without replacing, so readers never see partial
// objects and a crash leaves at most stray temporary files, which List() never shows and a later
// Open() removes once their writer is gone. An empty object, which cannot be partial, is created
// in place instead.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/beneath.h"
#include "store/state_store.h"

namespace buildtrace {

inline constexpr uint64_t kDefaultMinFreeBytes = uint64_t{256} << 20;  // 256 MiB

struct FileStoreOptions {
  // Probe() fails (kUnavailable) while the root's file system has fewer free bytes than this
  // (statvfs: f_bavail * f_frsize, what an unprivileged writer may use). 0 turns the check off.
  // From the URL: file:///path?min-free=512MiB.
  uint64_t min_free_bytes = kDefaultMinFreeBytes;
  // Open() removes a temporary file older than this (by modification time) whoever wrote it,
  // also one in a format it cannot parse. Younger ones go only if their writer is certainly gone.
  std::chrono::seconds abandoned_temp_age = std::chrono::hours(1);
  // Resolve paths with the component-by-component walk even where the kernel has openat2(2),
  // as it does when the kernel lacks it. For tests of that fallback.
  bool resolve_by_walk = false;
  // For tests only: stands in for syncfs(2) of the root's file system (given the root folder's
  // descriptor); returns 0 or an errno. Empty: the real syncfs.
  std::function<int(int root_fd)> sync_file_system;
  // CreateManyIfAbsentPreparing writes a batch of at least this many bytes on a thread of its own
  // while the caller's preparation runs (a smaller one after it, where a thread would cost more
  // than it saves). Tests set 0 or SIZE_MAX to take either path.
  size_t overlap_min_bytes = size_t{4} << 20;
  // For tests only: called on the writer thread once it has staged every object of an
  // overlapped batch, so that a test's preparation can wait for that.
  std::function<void()> after_staging;
};

class FileStateStore : public StateStore {
 public:
  // Opens the store rooted at `root_dir` (relative paths are made absolute against the current
  // directory), creating the folder and its parents if missing. The root may be a symlink: it is
  // resolved once, here, and the folder it then names is the store for the store's lifetime.
  // Fails with kUnavailable, naming the path, if it is not a folder or an object cannot be created
  // and deleted in it (the free-space threshold is Probe's, not Open's: a full disk still serves
  // reads). Removes temporary files whose writer is certainly gone (see WriterIsGone in
  // writer_identity.h) and those older than options.abandoned_temp_age, so other processes may be
  // writing to the same root meanwhile.
  static Result<std::unique_ptr<FileStateStore>> Open(const std::string& root_dir,
                                                      FileStoreOptions options = {});

  // The StateStore contract, with these file-system specifics:
  // - Confinement: every path is resolved beneath the root opened at Open(), never following a
  //   symlink (openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or an O_NOFOLLOW walk). An
  //   entry that is not a regular file or a folder (a symlink, FIFO, socket or device), or a
  //   symlink where a folder should be, is refused with kInternal naming the object: someone
  //   tampered with the folder, and retrying will not help. List skips such entries.
  // - A name cannot be both an object and a folder of other objects ("jobs/a" and "jobs/a/1"):
  //   creating an object where a folder exists gives kAlreadyExists; creating one below an object
  //   gives kUnavailable (the parent folder cannot be made).
  // - A name with a segment longer than the file system allows (usually 255 bytes) gives
  //   kInvalidArgument from CreateIfAbsent and kNotFound from Read.
  // - Durability relies on syncfs(2) of the store's file system: objects are written under
  //   temporary names, flushed, renamed into place without replacing anything, flushed again.
  //   An empty object (the job index's) is created in place instead, then flushed once (by
  //   CreateIfAbsent and CreateManyIfAbsent; the overlapped path of large batches stages it as
  //   any other).
  //   A create that finds the name taken flushes too before it returns kAlreadyExists. Concurrent
  //   creates share their flushes (group commit): a flush that starts after a caller's writes
  //   covers them, so under load one flush serves many requests.
  Status CreateIfAbsent(std::string_view name, std::string_view data) override;
  // The same flushes for the whole batch, shared with concurrent callers.
  std::vector<Status> CreateManyIfAbsent(std::span<const ObjectToCreate> objects) override;
  // The same, with every piece but each object's last written while `prepare` runs, for a batch
  // of options.overlap_min_bytes or more.
  Result<std::vector<Status>> CreateManyIfAbsentPreparing(
      std::span<const ObjectToCreate> objects, const std::function<Status()>& prepare) override;
  Result<std::string> Read(std::string_view name) override;
  // Maps a large object (store/input_file.h): objects are never rewritten in place, so a mapped
  // one cannot shrink under its reader.
  Result<InputBytes> ReadInput(std::string_view name) override;
  // kInvalidArgument if `prefix` starts with '/' or contains a complete ".." segment. Only the
  // folder the prefix determines is walked ("jobs/a/00" walks "jobs/a"), with one readdir per
  // folder and no stat per entry. Files whose names are not valid object names (e.g. temporary
  // files) are not listed.
  Result<std::vector<std::string>> List(std::string_view prefix) override;
  // unlinkat(2) of the entry itself; folders left empty stay. A folder of that name is not an
  // object: Ok.
  Status Delete(std::string_view name) override;
  // Checks the free space against options.min_free_bytes, then creates an object through the
  // create path (temporary file, rename without replacing; no flush) in the folder ".probe~" and
  // deletes it. Neither name is a valid object name, so List never shows them.
  Status Probe() override;
  // "file://" + the absolute root path, e.g. "file:///var/lib/buildtrace", plus "?min-free=<n>"
  // when the threshold is not the default.
  std::string Describe() const override;

  // Bytes free for unprivileged writers on the root's file system (for /readyz); kUnavailable if
  // statvfs fails.
  Result<uint64_t> FreeBytes() const;

 private:
  struct PendingCreate;

  FileStateStore(std::string root, Fd root_fd, FileStoreOptions options);

  Resolution resolution() const;
  // "file store <root>: <operation> <name>: <what>", the prefix of every error message.
  std::string ErrorPrefix(std::string_view operation, std::string_view name) const;
  // kUnavailable for `err` (an errno) from creating `name`; kInvalidArgument for ENAMETOOLONG;
  // kInternal (refused) for ELOOP, a symlink on the way.
  Status CreateError(std::string_view name, int err) const;
  // kInternal: `name` (an object or a folder on its way) is `what` (e.g. "a symlink").
  Status Refused(std::string_view operation, std::string_view name, std::string_view what) const;
  // Checks `object`'s name and makes its folders, opening the last as pending.dir.
  Status MakeObjectFolder(const ObjectToCreate& object, PendingCreate& pending) const;
  // Makes the folders of `name` and writes its data to a temporary file there, unflushed.
  Status WriteTemp(const ObjectToCreate& object, PendingCreate& pending) const;
  // Makes the folders of `name`, an object of no bytes, and creates it there under its own name
  // at once (O_EXCL): nothing of it can be half-written, so it needs no temporary file, nor the
  // flush before a rename. kAlreadyExists (FoundExisting) when the name is taken.
  Status CreateEmpty(const ObjectToCreate& object, PendingCreate& pending) const;
  // Writes every piece but the last to a temporary file in the deepest existing folder on the
  // way to `name`, making none; FinishStaged then makes the folders, moves the file into its
  // folder and appends the last piece. Either removes the file when it fails.
  Status StageTemp(const ObjectToCreate& object, PendingCreate& pending) const;
  // kInvalidArgument for `name`, which is not a valid object name.
  Status NameError(std::string_view operation, std::string_view name) const;
  Status FinishStaged(const ObjectToCreate& object, PendingCreate& pending) const;
  // Flushes the written temporary files of `pending`, renames them into place and flushes again
  // (the objects created in place, CreateEmpty, too), setting each one's outcome in `results`.
  void CommitWritten(std::span<const ObjectToCreate> objects, std::vector<Status>& results,
                     std::vector<std::optional<PendingCreate>>& pending);
  // Renames the flushed temporary file into place, unless `sync_err` says the flush failed.
  Status Commit(std::string_view name, int sync_err, PendingCreate& pending) const;
  // kAlreadyExists for `name`, taken in pending.dir by a regular file or a folder (kInternal,
  // refused, for anything else; kUnavailable if it went meanwhile), marking `pending` so.
  Status FoundExisting(std::string_view name, PendingCreate& pending) const;
  // Opens the regular file of object `name` for reading and fills `info` (its fstat); kNotFound,
  // kInternal (refused) or kUnavailable as Read returns them.
  Result<Fd> OpenObject(std::string_view name, struct stat& info) const;
  Status CheckFreeSpace() const;
  Status ProbeCreateAndDelete() const;
  Status RemoveAbandonedTempFiles() const;
  Status ListFolder(Fd folder, std::string_view relative_folder, std::string_view filter,
                    std::vector<std::string>& names) const;

  // Flushes the file system once writes made so far are to be durable; returns 0 or an errno.
  // Callers that arrive while a flush runs wait for the next one, which one of them leads.
  int SyncAfterWrites();
  int SyncFileSystem();

  const std::string root_;  // absolute, lexically normal, no trailing '/' (unless it is "/")
  const Fd root_fd_;        // the root folder, opened (and any symlink resolved) at Open()
  const FileStoreOptions options_;
  std::mutex sync_mutex_;
  std::condition_variable sync_done_;
  uint64_t sync_requested_ = 0;  // callers that have asked for a flush
  uint64_t sync_completed_ = 0;  // callers covered by a finished, successful flush
  bool sync_running_ = false;
};

}  // namespace buildtrace
