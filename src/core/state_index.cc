// The flat ID index.
#include "core/state_index.h"

#include <bit>
#include <cstring>

namespace buildtrace {
namespace {

constexpr uint64_t kMul1 = 0x9E3779B97F4A7C15ull;
constexpr uint64_t kMul2 = 0xBF58476D1CE4E5B9ull;
constexpr uint64_t kMul3 = 0x94D049BB133111EBull;

uint64_t Mix(uint64_t h, uint64_t word) {
  h = (h ^ word) * kMul2;
  return h ^ (h >> 31);
}

// How far ahead of the insert the build hashes and prefetches, to overlap cache misses.
constexpr size_t kLookahead = 8;

}  // namespace

uint64_t HashId(std::string_view id) {
  uint64_t h = kMul1 ^ id.size();
  const char* p = id.data();
  size_t n = id.size();
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    h = Mix(h, word);
  }
  if (n > 0) {
    uint64_t word = 0;
    std::memcpy(&word, p, n);
    h = Mix(h, word);
  }
  h ^= h >> 29;
  h *= kMul3;
  return h ^ (h >> 32);
}

StateIndex::StateIndex(const JobState& state) : state_(state) {
  const size_t capacity = std::bit_ceil(std::max<size_t>(16, state.size() * 2));
  slots_.resize(capacity);
  mask_ = capacity - 1;
  uint64_t ahead[kLookahead];
  const size_t n = state.size();
  for (size_t i = 0; i < n && i < kLookahead; ++i) {
    ahead[i] = HashId(state[i].id);
    __builtin_prefetch(&slots_[ahead[i] & mask_], 1);
  }
  for (size_t i = 0; i < n; ++i) {
    const uint64_t hash = ahead[i % kLookahead];
    if (i + kLookahead < n) {
      const uint64_t next = HashId(state[i + kLookahead].id);
      ahead[i % kLookahead] = next;
      __builtin_prefetch(&slots_[next & mask_], 1);
    }
    Insert(hash, i);
  }
}

void StateIndex::Insert(uint64_t hash, size_t position) {
  const auto tag = static_cast<uint32_t>(hash >> 32);
  for (uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
    Slot& slot = slots_[i];
    if (slot.position == 0) {
      slot.tag = tag;
      slot.position = static_cast<uint32_t>(position + 1);
      return;
    }
    if (slot.tag == tag && state_[slot.position - 1].id == state_[position].id) {
      if (!duplicate_) duplicate_ = state_[position].id;
      return;
    }
  }
}

size_t StateIndex::Find(std::string_view id, uint64_t hash) const {
  const auto tag = static_cast<uint32_t>(hash >> 32);
  for (uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
    const Slot& slot = slots_[i];
    if (slot.position == 0) return kNotFound;
    if (slot.tag == tag && state_[slot.position - 1].id == id) return slot.position - 1;
  }
}

size_t StateIndex::Candidate(uint64_t hash) const {
  const auto tag = static_cast<uint32_t>(hash >> 32);
  for (uint64_t i = hash & mask_;; i = (i + 1) & mask_) {
    const Slot& slot = slots_[i];
    if (slot.position == 0) return kNotFound;
    if (slot.tag == tag) return slot.position - 1;
  }
}

}  // namespace buildtrace
