// A job's state: its objects in the order the client sent them, each packed in 16 bytes. A state
// of a million objects is most of what a diff or a POST holds beside the input bytes, and every
// byte of it is a fresh page to fault in and zero, so the entries are as small as the views allow:
// the ID's and the value's addresses (48 bits each, all that x86-64 and AArch64 user space uses
// unless a program asks the kernel for more, which this one never does) with the two lengths and
// the structured flag in the 32 bits left over. The entries point into the buffers of the
// ParsedJobs that produced them (job_parser.h) or, in tests, wherever their strings live.
// Reading an entry gives a StateEntry, the plain view, by value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
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

  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  StateEntry operator[](size_t i) const { return Unpack(entries_[i]); }
  StateEntry front() const { return (*this)[0]; }
  StateEntry back() const { return (*this)[size() - 1]; }
  Iterator begin() const { return {this, 0}; }
  Iterator end() const { return {this, size()}; }
  // Where entry i lives, for prefetching it a few lookups ahead.
  const void* EntryAddress(size_t i) const { return &entries_[i]; }

  void push_back(const StateEntry& entry) { entries_.push_back(Pack(entry)); }
  void reserve(size_t n) { entries_.reserve(n); }

  friend bool operator==(const JobState& a, const JobState& b);

 private:
  // word 0: the ID's address, its length in bits 48-61, `structured` in bit 62 and bit 16 of the
  // value's length in bit 63; word 1: the value's address and the low 16 bits of its length.
  struct Packed {
    uint64_t id;
    uint64_t value;
  };
  static constexpr uint64_t kAddress = (uint64_t{1} << 48) - 1;

  static Packed Pack(const StateEntry& entry);
  static StateEntry Unpack(const Packed& p) {
    const auto id_size = static_cast<size_t>((p.id >> 48) & kMaxIdBytes);
    const auto value_size = static_cast<size_t>((p.value >> 48) | ((p.id >> 63) << 16));
    return {std::string_view(reinterpret_cast<const char*>(p.id & kAddress), id_size),
            std::string_view(reinterpret_cast<const char*>(p.value & kAddress), value_size),
            ((p.id >> 62) & 1) != 0};
  }

  std::vector<Packed, LargeAllocator<Packed>> entries_;
};

}  // namespace buildtrace
