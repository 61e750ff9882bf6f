// Packing a state's entries into 8 or 16 bytes each (job_state.h).
#include "core/job_state.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace buildtrace {

JobState::JobState(std::initializer_list<StateEntry> entries) {
  reserve(entries.size());
  for (const StateEntry& entry : entries) push_back(entry);
}

JobState::Wide JobState::PackWide(const StateEntry& entry) {
  const auto id = reinterpret_cast<uintptr_t>(entry.id.data());
  const auto value = reinterpret_cast<uintptr_t>(entry.value.data());
  if (entry.id.size() > kMaxIdBytes || entry.value.size() > kMaxValueBytes) {
    throw std::length_error("a state entry holds IDs of at most " + std::to_string(kMaxIdBytes) +
                            " bytes and values of at most " + std::to_string(kMaxValueBytes));
  }
  if ((id & ~kAddress) != 0 || (value & ~kAddress) != 0) {
    throw std::length_error("a state entry's strings must lie below 2^48 in the address space");
  }
  const uint64_t value_size = entry.value.size();
  return {id | (uint64_t{entry.id.size()} << 48) | (uint64_t{entry.structured} << 62) |
              ((value_size >> 16) << 63),
          value | ((value_size & 0xFFFF) << 48)};
}

void JobState::Widen() {
  std::vector<uint64_t, LargeAllocator<uint64_t>> wide;
  wide.reserve(std::max(words_.capacity(), words_.size() + 1) * 2);  // room for the next one
  for (const uint64_t word : words_) {
    const Wide w = PackWide(UnpackCompact(word));
    wide.push_back(w.id);
    wide.push_back(w.value);
  }
  words_.swap(wide);
  wide_ = 1;
}

bool operator==(const JobState& a, const JobState& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const StateEntry x = a[i];
    const StateEntry y = b[i];
    if (x.id != y.id || x.value != y.value || x.structured != y.structured) return false;
  }
  return true;
}

}  // namespace buildtrace
