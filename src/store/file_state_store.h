// FileStateStore: the embedded default StateStore, a folder on a local (POSIX) file system.
// Object "jobs/a/1.json" is the file <root>/jobs/a/1.json. Writes go to a temporary file
// ".tmp-<hex>" beside the target, are fsynced and then renamed into place without replacing, so
// readers never see partial objects and a crash leaves at most stray temporary files, which Open()
// removes and List() never shows.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/state_store.h"

namespace buildtrace {

class FileStateStore : public StateStore {
 public:
  // Opens the store rooted at `root_dir` (relative paths are made absolute against the current
  // directory), creating the folder and its parents if missing. Fails with kUnavailable, naming the
  // path, if it is not a directory or cannot be written. Removes temporary files left by a crash
  // anywhere below the root, so it must not be called while another process is writing to the same
  // root (instances opened earlier are fine: they only lose writes that were in flight).
  static Result<std::unique_ptr<FileStateStore>> Open(const std::string& root_dir);

  // The StateStore contract, with these file-system specifics:
  // - A name cannot be both an object and a folder of other objects ("jobs/a" and "jobs/a/1"):
  //   creating an object where a folder exists gives kAlreadyExists; creating one below an object
  //   gives kUnavailable (the parent folder cannot be made).
  // - A name with a segment longer than the file system allows (usually 255 bytes) gives
  //   kInvalidArgument from CreateIfAbsent and kNotFound from Read.
  // - Durability relies on syncfs(2) of the store's file system: objects are written under
  //   temporary names, flushed, renamed into place without replacing anything, flushed again.
  //   Concurrent creates share their flushes (group commit): a flush that starts after a
  //   caller's writes covers them, so under load one flush serves many requests.
  Status CreateIfAbsent(std::string_view name, std::string_view data) override;
  // The same two flushes for the whole batch, shared with concurrent callers.
  std::vector<Status> CreateManyIfAbsent(std::span<const ObjectToCreate> objects) override;
  Result<std::string> Read(std::string_view name) override;
  // kInvalidArgument if `prefix` starts with '/' or contains a complete ".." segment. Only the
  // folder the prefix determines is walked ("jobs/a/00" walks "jobs/a"). Files whose names are not
  // valid object names (e.g. temporary files) are not listed.
  Result<std::vector<std::string>> List(std::string_view prefix) override;
  // unlink(2); folders left empty stay. A folder of that name is not an object: Ok.
  Status Delete(std::string_view name) override;
  // Creates and removes a temporary file in the root.
  Status Probe() override;
  // "file://" + the absolute root path, e.g. "file:///var/lib/buildtrace".
  std::string Describe() const override;

 private:
  explicit FileStateStore(std::string root) : root_(std::move(root)) {}

  std::string PathOf(std::string_view name) const;
  // "file store <root>: <operation> <name>: <what>", the prefix of every error message.
  std::string ErrorPrefix(std::string_view operation, std::string_view name) const;
  // kUnavailable for `err` (an errno) from creating `name`; kInvalidArgument for ENAMETOOLONG.
  Status CreateError(std::string_view name, int err) const;
  Status ListFolder(const std::string& folder, std::string_view relative_folder,
                    std::string_view filter, std::vector<std::string>& names) const;

  // Flushes the file system once writes made so far are to be durable; returns 0 or an errno.
  // Callers that arrive while a flush runs wait for the next one, which one of them leads.
  int SyncAfterWrites();

  const std::string root_;  // absolute, lexically normal, no trailing '/' (unless it is "/")
  std::mutex sync_mutex_;
  std::condition_variable sync_done_;
  uint64_t sync_requested_ = 0;  // callers that have asked for a flush
  uint64_t sync_completed_ = 0;  // callers covered by a finished, successful flush
  bool sync_running_ = false;
};

}  // namespace buildtrace
