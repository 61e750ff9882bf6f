// The object store that holds every job's state: the source of truth of BuildTrace.
// Implementations: file_state_store (a folder, the embedded default); later S3 and GCS.
// The store knows nothing about jobs: it keeps named, immutable blobs. job_repository.h decides
// the names and what goes in them.
#pragma once

#include <array>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/large_memory.h"
#include "core/status.h"

namespace buildtrace {

// Object names are relative paths of 1-512 bytes made of segments of [A-Za-z0-9._-], separated by
// single '/', no segment "." or "..", no leading or trailing '/'. IsValidObjectName() checks this;
// every method returns kInvalidArgument for a name that fails it, so no caller input can name
// anything outside the store's root or prefix.
bool IsValidObjectName(std::string_view name);
// What each store's error for such a name says after its own prefix.
inline constexpr std::string_view kObjectNameRule =
    "invalid object name; use 1-512 bytes of [A-Za-z0-9._-] in '/'-separated parts, none of them "
    "empty, \".\" or \"..\"";

// Bytes read from a store, with at least kReadPadding bytes of spare capacity after size() so that
// a SIMD parser can read past the end without a copy.
inline constexpr size_t kReadPadding = 64;

// One object of CreateManyIfAbsent: its name and its bytes, as one buffer or as up to kMaxPieces
// pieces that follow one another (a stored job is a head, the client's own state bytes and a
// seal, so that a large state goes from the request's buffer to the store without a copy). The
// pieces are views: they must outlive the call.
class ObjectToCreate {
 public:
  static constexpr size_t kMaxPieces = 3;
  ObjectToCreate(std::string_view name, std::string_view data) : name_(name), pieces_{data} {}
  // std::length_error past kMaxPieces.
  ObjectToCreate(std::string_view name, std::initializer_list<std::string_view> pieces);

  std::string_view name() const { return name_; }
  std::span<const std::string_view> pieces() const { return {pieces_.data(), count_}; }
  size_t size() const;         // of all pieces together
  std::string Joined() const;  // the pieces in one buffer, for stores that send one

 private:
  std::string_view name_;
  std::array<std::string_view, kMaxPieces> pieces_{};
  size_t count_ = 1;
};

// All methods are safe to call concurrently from any thread, also from several processes or
// instances sharing the same underlying store.
class StateStore {
 public:
  virtual ~StateStore() = default;

  // Stores `data` under `name` unless an object of that name exists.
  // - Ok: the object was created, durably (it survives a crash of this process or machine once
  //   this returns) and atomically (a reader sees either nothing or all of `data`).
  // - kAlreadyExists: an object of that name exists; it is left untouched, whatever its content,
  //   and it is durable: a caller may acknowledge it as stored.
  // - kUnavailable: the store could not be reached or written, or could not confirm durability;
  //   the object may or may not be visible under `name` afterwards (as with S3 after a timeout),
  //   and is never taken back once another caller may have seen it. Safe to retry: a retry with
  //   the same data returns Ok or kAlreadyExists.
  virtual Status CreateIfAbsent(std::string_view name, std::string_view data) = 0;

  // Creates several objects, each exactly as CreateIfAbsent would (the same per-object outcomes,
  // durability and atomicity), and returns one Status per object, in order. It exists so that an
  // implementation can group the flushes of a batch (the file store syncs once for all of them
  // rather than once per object). No order among the objects is promised. The default calls
  // CreateIfAbsent for each (with the pieces joined when there are several).
  virtual std::vector<Status> CreateManyIfAbsent(std::span<const ObjectToCreate> objects);

  // CreateManyIfAbsent with work to do first: `prepare` completes each object's last piece in
  // place (its size is final before the call; its bytes are read only after `prepare` returns)
  // and may refuse the whole batch: then nothing is created (no object, no folder) and the answer
  // is its status, else one Status per object as CreateManyIfAbsent's. An implementation may
  // write the other pieces meanwhile: the file store does, for large batches, so that a job's
  // digest and checks overlap its write. The default runs `prepare`, then CreateManyIfAbsent.
  // `prepare` may call this store itself (Read, List, CreateIfAbsent: JobRepository marks a new
  // project's index complete there), so an implementation holds no lock, connection or pool
  // slot of its own while it runs.
  virtual Result<std::vector<Status>> CreateManyIfAbsentPreparing(
      std::span<const ObjectToCreate> objects, const std::function<Status()>& prepare);

  // Reads a whole object. kNotFound if there is none; kUnavailable if the store cannot be read.
  // The returned string has kReadPadding bytes of spare capacity (see above).
  virtual Result<std::string> Read(std::string_view name) = 0;

  // The same object, as the input of a parse: the same errors as Read. The default wraps Read's
  // string; the file store maps the file instead (store/input_file.h), so a large stored job is
  // neither copied nor faulted in page by page.
  virtual Result<InputBytes> ReadInput(std::string_view name);

  // Names of all objects whose name starts with `prefix` (a plain string prefix, so "jobs/a/"
  // lists the objects below folder "jobs/a"), in byte order. An empty result is not an error.
  virtual Result<std::vector<std::string>> List(std::string_view prefix) = 0;

  // Removes the object `name`. Ok when it is gone afterwards, also when there was none (so a
  // retried or concurrent delete is Ok too). kUnavailable if the store cannot be written. Need not
  // be durable: after a crash a deleted object may be back. The metrics outbox
  // (service/metrics_outbox.h) deletes its entries; job states, kept reports and the rest of a
  // project are deleted only by DELETE /projects/{project} (service/project_deletion.h).
  virtual Status Delete(std::string_view name) = 0;

  // Checks that the store can be reached and written (for /readyz). Cheap; no side effects that a
  // reader could see.
  virtual Status Probe() = 0;

  // The store's URL without secrets, for logs and error messages, e.g. "file:///var/lib/bt".
  virtual std::string Describe() const = 0;
};

// Deletes every object whose name starts with `prefix` (List, then Delete of each, in listing
// order) and returns how many it deleted. Not atomic: on an error (the store's, returned as it is)
// the objects listed before it are gone and the others stay; calling again finishes the work.
// Objects created under `prefix` after the listing stay.
Result<int64_t> DeleteObjectsUnder(StateStore& store, std::string_view prefix);

}  // namespace buildtrace
