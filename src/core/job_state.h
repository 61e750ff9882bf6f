// A job's state: its objects in the order the client sent them, each packed in 8 bytes where it
// can be and in 16 otherwise. A state of a million objects is most of what a diff or a POST holds
// beside the input bytes, and every byte of it is a fresh page to fault in and zero, so the
// entries are as small as the views allow. The entries point into the buffers of the ParsedJobs
// that produced them (job_parser.h) or, in tests, wherever their strings live. Reading an entry
// gives a StateEntry, the plain view, by value.
//
// Two layouts, one per state:
// - compact (8 bytes), while every entry is a hash string (not structured) whose ID starts within
//   4 GiB after the first entry's ID and whose value starts at most 15 bytes after its ID ends,
//   both lengths under 2^14: what a parser that points into one buffer produces for the common
//   `"id": "hash"` member. The ID is stored as its offset from the first ID, the value as its gap
//   after the ID.
// - wide (16 bytes): the ID's and the value's addresses (48 bits each, all that x86-64 and
//   AArch64 user space uses unless a program asks the kernel for more, which this one never
//   does) with the two lengths and the structured flag in the 32 bits left over.
// A state starts compact and turns wide, once, at the first entry the compact layout cannot
// hold; what it reads back is the same either way.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string_view>
#include <vector>

#include "core/large_memory.h"

namespace buildtrace {

// One object of a state. `value` is either the client's hash string (structured == false), or
// the canonical JSON text of a structured object (structured == true; see canonical_hash.h).
struct StateEntry {
  std::string_view id;
  std::string_view value;
  bool structured = false;
};

class JobState {
 public:
  // The longest ID and value an entry can hold (the parser's limits, job_parser.h, are far
  // below); longer ones are a programming error: push_back throws std::length_error.
  static constexpr size_t kMaxIdBytes = (size_t{1} << 14) - 1;
  static constexpr size_t kMaxValueBytes = (size_t{1} << 17) - 1;

  class Iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = StateEntry;
    using difference_type = std::ptrdiff_t;
    using reference = StateEntry;
    using pointer = void;

    Iterator() = default;
    StateEntry operator*() const { return state_->operator[](position_); }
    StateEntry operator[](difference_type n) const { return *(*this + n); }
    Iterator& operator++() { return ++position_, *this; }
    Iterator operator++(int) { return {state_, position_++}; }
    Iterator& operator--() { return --position_, *this; }
    Iterator operator--(int) { return {state_, position_--}; }
    Iterator& operator+=(difference_type n) { return position_ += static_cast<size_t>(n), *this; }
    Iterator& operator-=(difference_type n) { return position_ -= static_cast<size_t>(n), *this; }
    friend Iterator operator+(Iterator i, difference_type n) { return i += n; }
    friend Iterator operator+(difference_type n, Iterator i) { return i += n; }
    friend Iterator operator-(Iterator i, difference_type n) { return i -= n; }
    friend difference_type operator-(const Iterator& a, const Iterator& b) {
      return static_cast<difference_type>(a.position_) - static_cast<difference_type>(b.position_);
    }
    friend bool operator==(const Iterator& a, const Iterator& b) {
      return a.position_ == b.position_;
    }
    friend auto operator<=>(const Iterator& a, const Iterator& b) {
      return a.position_ <=> b.position_;
    }

   private:
    friend class JobState;
    Iterator(const JobState* state, size_t position) : state_(state), position_(position) {}
    const JobState* state_ = nullptr;
    size_t position_ = 0;
  };

  JobState() = default;
  JobState(std::initializer_list<StateEntry> entries);
  template <typename InputIt>
  JobState(InputIt first, InputIt last) {
    for (; first != last; ++first) push_back(*first);
  }

  size_t size() const { return words_.size() >> wide_; }
  bool empty() const { return words_.empty(); }
  StateEntry operator[](size_t i) const {
    return wide_ ? UnpackWide(words_[2 * i], words_[2 * i + 1]) : UnpackCompact(words_[i]);
  }
  StateEntry front() const { return (*this)[0]; }
  StateEntry back() const { return (*this)[size() - 1]; }
  Iterator begin() const { return {this, 0}; }
  Iterator end() const { return {this, size()}; }
  // Where entry i lives, for prefetching it a few lookups ahead.
  const void* EntryAddress(size_t i) const { return &words_[i << wide_]; }
  // Whether the entries take 16 bytes each rather than 8 (for tests and benchmarks).
  bool wide() const { return wide_ != 0; }

  void push_back(const StateEntry& entry) {
    if (!wide_) {
      if (words_.empty()) base_ = entry.id.data();
      if (const std::optional<uint64_t> word = PackCompact(entry)) return words_.push_back(*word);
    }
    const Wide w = PackWide(entry);  // throws for what fits neither, before anything changes
    if (!wide_) Widen();
    if (words_.capacity() - words_.size() < 2) {  // both words or neither
      words_.reserve(std::max<size_t>(8, words_.capacity() * 2));
    }
    words_.push_back(w.id);
    words_.push_back(w.value);
  }
  void reserve(size_t n) { words_.reserve(n << wide_); }

  friend bool operator==(const JobState& a, const JobState& b);

 private:
  // compact: the ID's offset from base_ in bits 0-31, its length in bits 32-45, the value's gap
  // after the ID in bits 46-49 and its length in bits 50-63.
  static constexpr uint64_t kCompactIdBytes = (uint64_t{1} << 14) - 1;
  static constexpr uint64_t kCompactGap = 15;
  static constexpr uint64_t kCompactValueBytes = (uint64_t{1} << 14) - 1;

  std::optional<uint64_t> PackCompact(const StateEntry& entry) const {
    // Unsigned differences: an ID before base_, or a value before the ID's end, wraps to a huge
    // number and fails its bound like any other misfit.
    const auto offset =
        reinterpret_cast<uintptr_t>(entry.id.data()) - reinterpret_cast<uintptr_t>(base_);
    const auto gap = reinterpret_cast<uintptr_t>(entry.value.data()) -
                     (reinterpret_cast<uintptr_t>(entry.id.data()) + entry.id.size());
    const uint64_t id_size = entry.id.size();
    const uint64_t value_size = entry.value.size();
    if (entry.structured || offset > 0xFFFFFFFFu || gap > kCompactGap ||
        id_size > kCompactIdBytes || value_size > kCompactValueBytes) {
      return std::nullopt;
    }
    return offset | (id_size << 32) | (uint64_t{gap} << 46) | (value_size << 50);
  }
  StateEntry UnpackCompact(uint64_t word) const {
    // Addresses as integers, as PackCompact took them: the ID and its value may lie in
    // different objects.
    const uintptr_t id = reinterpret_cast<uintptr_t>(base_) + (word & 0xFFFFFFFFu);
    const auto id_size = static_cast<size_t>((word >> 32) & kCompactIdBytes);
    const uintptr_t value = id + id_size + ((word >> 46) & kCompactGap);
    return {std::string_view(reinterpret_cast<const char*>(id), id_size),
            std::string_view(reinterpret_cast<const char*>(value), word >> 50), false};
  }

  // wide: word 0: the ID's address, its length in bits 48-61, `structured` in bit 62 and bit 16
  // of the value's length in bit 63; word 1: the value's address and the low 16 bits of its
  // length.
  struct Wide {
    uint64_t id;
    uint64_t value;
  };
  static constexpr uint64_t kAddress = (uint64_t{1} << 48) - 1;

  static Wide PackWide(const StateEntry& entry);
  static StateEntry UnpackWide(uint64_t id_word, uint64_t value_word) {
    const auto id_size = static_cast<size_t>((id_word >> 48) & kMaxIdBytes);
    const auto value_size = static_cast<size_t>((value_word >> 48) | ((id_word >> 63) << 16));
    return {std::string_view(reinterpret_cast<const char*>(id_word & kAddress), id_size),
            std::string_view(reinterpret_cast<const char*>(value_word & kAddress), value_size),
            ((id_word >> 62) & 1) != 0};
  }
  // Rewrites every entry in the wide layout (once, at the first entry compact cannot hold).
  void Widen();

  std::vector<uint64_t, LargeAllocator<uint64_t>> words_;
  const char* base_ = nullptr;  // compact: the first entry's ID, which offsets count from
  uint64_t wide_ = 0;           // 1 when wide: an entry is two words
};

}  // namespace buildtrace
