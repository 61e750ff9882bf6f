// An index from object ID to position over one JobState: an open-addressing hash table of
// 4-byte slots (a position and, in the bits the position leaves free, a tag from the ID's hash),
// built in one pass with prefetching. It is how the
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
  void PrefetchSlot(uint64_t hash) const { __builtin_prefetch(&slots_[Home(hash)]); }
  size_t Candidate(uint64_t hash) const;

  // An ID that appears more than once in the state, if any.
  std::optional<std::string_view> duplicate() const { return duplicate_; }

 private:
  // A slot: 1 + the entry's position in the low bits (as many as the state's size takes), the
  // tag (the hash's low bits) in the rest, which tag_mask_ selects; 0 marks an empty slot. A
  // million entries take 20 bits and leave a 12-bit tag, so that a probe compares an ID only once
  // in 4 096 times it meets another entry's slot. One word, so that threads can claim slots with a
  // CAS.
  using Slot = uint32_t;
  Slot TagOf(uint64_t hash) const { return static_cast<Slot>(hash) & tag_mask_; }
  size_t PositionOf(Slot slot) const { return (slot & ~tag_mask_) - size_t{1}; }
  // The slot a probe for `hash` starts at: the hash's upper bits scaled to the table's size,
  // which need not be a power of two.
  size_t Home(uint64_t hash) const {
    __extension__ using Product = unsigned __int128;  // g++ and clang: one multiply
    return static_cast<size_t>((Product{hash} * slots_.size()) >> 64);
  }
  size_t Next(size_t slot) const { return slot + 1 == slots_.size() ? 0 : slot + 1; }

  // Indexes entries [first, last) (one thread's share); returns a duplicate ID it met, if any.
  // `shared`: other threads insert at the same time.
  std::optional<std::string_view> Insert(size_t first, size_t last, bool shared);

  const JobState& state_;
  std::vector<Slot, LargeAllocator<Slot>> slots_;  // huge pages when large
  Slot tag_mask_ = 0;
  std::optional<std::string_view> duplicate_;
};

}  // namespace buildtrace
