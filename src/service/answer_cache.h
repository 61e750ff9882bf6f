// Rendered report answers kept in memory, so a repeated request for a kept comparison shares
// bytes already made (sent without a copy, http/response_body.h) instead of a read, a parse and a
// render (5 ms for a 750 KB answer on the bench
// machine; docs/PERFORMANCE.md). A kept comparison never changes while its project exists, so an
// entry is right until the project is deleted (Forget) or the warehouse's epoch changes (the
// answer's warehouse section may then change: an entry remembers the epoch it was made in, and
// a lookup in another epoch misses). Least recently used entries go first once the entries
// exceed the byte cap. Thread-safe.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/shared_text.h"

namespace buildtrace {

class AnswerCache {
 public:
  explicit AnswerCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  // The answer kept under `key` in `epoch`, or null. The bytes are shared, never copied: they
  // stay valid for as long as the caller holds them, even once the entry is dropped.
  SharedText Find(const std::string& key, std::string_view epoch);
  // Keeps `answer` (never null) under `key` (replacing any), unless it alone exceeds the cap.
  void Put(const std::string& key, std::string_view epoch, SharedText answer);
  // Drops every entry whose key starts with `prefix` (a deleted project's).
  void Forget(std::string_view prefix);

  size_t bytes() const;
  size_t max_bytes() const { return max_bytes_; }

 private:
  struct Entry {
    std::string key;
    std::string epoch;
    SharedText answer;
  };
  using Order = std::list<Entry>;  // most recently used first

  void Drop(Order::iterator it);  // with mutex_ held

  const size_t max_bytes_;
  mutable std::mutex mutex_;
  Order order_;                                                   // guarded by mutex_
  std::unordered_map<std::string_view, Order::iterator> by_key_;  // guarded by mutex_
  size_t bytes_ = 0;                                              // guarded by mutex_
};

}  // namespace buildtrace
