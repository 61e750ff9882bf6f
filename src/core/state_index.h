// An index from object ID to position over one JobState: an open-addressing hash table of
// 8-byte slots (a hash tag and a position), built in one pass with prefetching. It is how the
// diff finds an object that is not where the lockstep walk expects it, and how duplicate IDs are
// caught, at a fraction of the memory and time of a node-based std::unordered_map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/job.h"

namespace buildtrace {

// A 64-bit hash of an object ID (our own mix of 8-byte words; not for adversarial use across
// processes, which never see each other's tables).
uint64_t HashId(std::string_view id);

// How many threads index a state of `entries` objects (and walk it, in the diff): two from 2^17
// entries when the process may use two CPUs or more (core/available_cpus.h: the affinity mask
// and the control group's CPU quota), otherwise one.
unsigned IndexThreadsFor(size_t entries);

class StateIndex {
 public:
  static constexpr size_t kNotFound = static_cast<size_t>(-1);

  // Indexes every entry of `state`, which must outlive the index and hold fewer than 2^32
  // entries. An ID that appears more than once is indexed at its first position and reported by
  // duplicate().
  // `threads` > 1 splits the build across that many threads (this one and threads - 1 more),
  // worth it from about 10^5 entries (the diff's threshold is 2^17). The index is the same
  // either way, and so is duplicate(): a state with a repeated ID is indexed again by one thread.
  explicit StateIndex(const JobState& state, unsigned threads = 1);

  // The position of `id` in the state, or kNotFound.
  size_t Find(std::string_view id) const { return Find(id, HashId(id)); }
  // The same, with `hash` == HashId(id) computed beforehand.
  size_t Find(std::string_view id, uint64_t hash) const;

  // For lookups in bulk, which overlap their cache misses by preparing each a few lookups
  // ahead: first PrefetchSlot(hash), later Candidate(hash) (reads the slot, now cached, and
  // names the position Find will most likely compare with, to prefetch its entry), then Find.
  void PrefetchSlot(uint64_t hash) const { __builtin_prefetch(&slots_[hash & mask_]); }
  size_t Candidate(uint64_t hash) const;

  // An ID that appears more than once in the state, if any.
  std::optional<std::string_view> duplicate() const { return duplicate_; }

 private:
  // A slot: the hash's upper half (the tag) in the upper 32 bits, 1 + the entry's position in
  // the lower ones; 0 marks an empty slot. One word, so that threads can claim slots with a CAS.
  using Slot = uint64_t;
  static uint32_t TagOf(Slot slot) { return static_cast<uint32_t>(slot >> 32); }
  static size_t PositionOf(Slot slot) { return static_cast<uint32_t>(slot) - size_t{1}; }

  // Indexes entries [first, last) (one thread's share); returns a duplicate ID it met, if any.
  // `shared`: other threads insert at the same time.
  std::optional<std::string_view> Insert(size_t first, size_t last, bool shared);

  const JobState& state_;
  std::vector<Slot, LargeAllocator<Slot>> slots_;  // huge pages when large
  uint64_t mask_ = 0;
  std::optional<std::string_view> duplicate_;
};

}  // namespace buildtrace
