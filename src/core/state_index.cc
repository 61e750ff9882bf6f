// The flat ID index.
#include "core/state_index.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <future>
#include <system_error>
#include <thread>
#include <vector>

#include "core/available_cpus.h"

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

unsigned IndexThreadsFor(size_t entries) {
  return entries >= (size_t{1} << 17) && AvailableCpus() > 1 ? 2 : 1;
}

StateIndex::StateIndex(const JobState& state, unsigned threads) : state_(state) {
  // At most three entries to four slots; a table on huge pages gets the whole of its last page,
  // which it faults in anyway, as more slots (a million entries: 6 MiB, 1.57 million slots).
  // Where the kernel offers no transparent huge pages, that is up to 2 MiB more zeroed memory.
  size_t capacity = std::max<size_t>(16, state.size() + state.size() / 3 + 1);
  if (capacity * sizeof(Slot) >= kLargeBytes && HugePagesEnabled()) {
    capacity = (capacity * sizeof(Slot) + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes /
               sizeof(Slot);
  }
  slots_.resize(capacity);
  // Positions take the low bits; a state of 2^31 entries or more leaves no tag.
  const int position_bits = std::bit_width(state.size());
  tag_mask_ = position_bits >= 32 ? 0 : ~((Slot{1} << position_bits) - 1);
  const size_t n = state.size();
  if (threads <= 1) {
    duplicate_ = Insert(0, n, false);
    return;
  }
  // Each thread takes a contiguous share of the entries; the slots are claimed with a CAS. This
  // one takes the last share (and any share no thread could be started for).
  std::vector<std::future<std::optional<std::string_view>>> others;
  others.reserve(threads - 1);
  std::vector<unsigned> here = {threads - 1};
  for (unsigned t = 0; t + 1 < threads; ++t) {
    try {
      others.push_back(std::async(std::launch::async, [this, n, t, threads] {
        return Insert(n * t / threads, n * (t + 1) / threads, true);
      }));
    } catch (const std::system_error&) {
      here.push_back(t);
    }
  }
  bool repeated = false;
  for (unsigned t : here)
    repeated |= Insert(n * t / threads, n * (t + 1) / threads, true).has_value();
  for (auto& other : others) repeated |= other.get().has_value();
  if (repeated) {
    // Which of several repeated IDs a share meets first depends on the threads' timing: one
    // thread, again, names the same one as always (the error path; its cost does not matter).
    std::fill(slots_.begin(), slots_.end(), Slot{0});
    duplicate_ = Insert(0, n, false);
  }
}

std::optional<std::string_view> StateIndex::Insert(size_t first, size_t last, bool shared) {
  std::optional<std::string_view> duplicate;
  uint64_t ahead[kLookahead];
  for (size_t i = first; i < last && i < first + kLookahead; ++i) {
    ahead[i % kLookahead] = HashId(state_[i].id);
    __builtin_prefetch(&slots_[Home(ahead[i % kLookahead])], 1);
  }
  for (size_t i = first; i < last; ++i) {
    const uint64_t hash = ahead[i % kLookahead];
    if (i + kLookahead < last) {
      const uint64_t next = HashId(state_[i + kLookahead].id);
      ahead[i % kLookahead] = next;
      __builtin_prefetch(&slots_[Home(next)], 1);
    }
    const Slot tag = TagOf(hash);
    const Slot mine = tag | static_cast<Slot>(i + 1);
    for (size_t s = Home(hash);; s = Next(s)) {
      Slot seen;
      if (shared) {
        // Relaxed is enough: the entries were all written before the threads started, and the
        // index is read only after they are joined.
        // A slot seen taken is compared without a locked instruction; only an empty one is
        // claimed with a CAS, which gives back the winner's value if another thread was first.
        std::atomic_ref<Slot> slot(slots_[s]);
        seen = slot.load(std::memory_order_relaxed);
        if (seen == 0 && slot.compare_exchange_strong(seen, mine, std::memory_order_relaxed)) {
          break;
        }
      } else {
        seen = slots_[s];
        if (seen == 0) {
          slots_[s] = mine;
          break;
        }
      }
      if ((seen & tag_mask_) == tag && state_[PositionOf(seen)].id == state_[i].id) {
        if (!duplicate) duplicate = state_[i].id;
        break;
      }
    }
  }
  return duplicate;
}

size_t StateIndex::Find(std::string_view id, uint64_t hash) const {
  const Slot tag = TagOf(hash);
  for (size_t i = Home(hash);; i = Next(i)) {
    const Slot slot = slots_[i];
    if (slot == 0) return kNotFound;
    if ((slot & tag_mask_) == tag && state_[PositionOf(slot)].id == id) return PositionOf(slot);
  }
}

size_t StateIndex::Candidate(uint64_t hash) const {
  const Slot tag = TagOf(hash);
  for (size_t i = Home(hash);; i = Next(i)) {
    const Slot slot = slots_[i];
    if (slot == 0) return kNotFound;
    if ((slot & tag_mask_) == tag) return PositionOf(slot);
  }
}

}  // namespace buildtrace
