// Huge-page buffers and the three ways an InputBytes holds its bytes.
#include "core/large_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

namespace buildtrace {
namespace {

// What an empty InputBytes points at: readable padding, all zero.
constexpr char kEmpty[simdjson::SIMDJSON_PADDING + 1] = {};

bool HugePagesFromEnvironment() {
  const char* value = std::getenv("BUILDTRACE_HUGE_PAGES");
  return value == nullptr || std::strcmp(value, "0") != 0;
}

std::atomic<bool>& HugePagesFlag() {
  static std::atomic<bool> flag{HugePagesFromEnvironment()};
  return flag;
}

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

// The kept buffers (SetLargeBuffersKept), each a whole number of huge pages.
class KeptBuffers {
 public:
  void SetCap(size_t bytes) {
    std::vector<Region> released;
    {
      const std::lock_guard lock(mutex_);
      cap_ = bytes;
      while (kept_bytes_ > cap_) {
        released.push_back(regions_.back());
        kept_bytes_ -= regions_.back().length;
        regions_.pop_back();
      }
    }
    for (const Region& r : released) ::munmap(r.memory, r.length);
  }
  size_t Bytes() {
    const std::lock_guard lock(mutex_);
    return kept_bytes_;
  }
  // The first `length` bytes of a kept buffer of at least that size: the smallest such buffer,
  // or for a buffer that will grow (`for_growth`) the largest, so that TakeAt can later give it
  // the bytes right after it. The rest of the kept buffer stays kept. nullptr if none is large
  // enough.
  void* Take(size_t length, bool for_growth) {
    const std::lock_guard lock(mutex_);
    size_t best = regions_.size();
    for (size_t i = 0; i < regions_.size(); ++i) {
      if (regions_[i].length < length) continue;
      if (best == regions_.size() || (for_growth ? regions_[i].length > regions_[best].length
                                                 : regions_[i].length < regions_[best].length)) {
        best = i;
      }
    }
    if (best == regions_.size()) return nullptr;
    return Claim(best, length);
  }
  // Claims [start, start + length) when a kept buffer begins at `start` and holds that much (the
  // rest of it stays kept): the bytes right after a buffer that wants to grow where it is. They
  // may belong to another mapping than the buffer's (kept buffers side by side are joined), which
  // only matters to mremap: see ReallocateLarge.
  bool TakeAt(void* start, size_t length) {
    const std::lock_guard lock(mutex_);
    for (size_t i = 0; i < regions_.size(); ++i) {
      if (regions_[i].memory == start && regions_[i].length >= length) {
        Claim(i, length);
        return true;
      }
    }
    return false;
  }
  // Keeps the buffer if the cap allows, joined with the kept buffers right before and after it
  // (pieces of one buffer shared out by Take come back whole); false when the caller must
  // return it.
  bool Keep(void* memory, size_t length) {
    const std::lock_guard lock(mutex_);
    if (kept_bytes_ + length > cap_) return false;
    kept_bytes_ += length;
    Region joined{memory, length};
    for (size_t i = 0; i < regions_.size();) {
      Region& r = regions_[i];
      if (static_cast<char*>(r.memory) + r.length == joined.memory) {
        joined = {r.memory, r.length + joined.length};
      } else if (static_cast<char*>(joined.memory) + joined.length == r.memory) {
        joined.length += r.length;
      } else {
        ++i;
        continue;
      }
      regions_.erase(regions_.begin() + static_cast<std::ptrdiff_t>(i));
    }
    regions_.push_back(joined);
    return true;
  }

 private:
  struct Region {
    void* memory;
    size_t length;
  };
  // Takes the first `length` bytes of regions_[i] out of the pool; mutex_ held.
  void* Claim(size_t i, size_t length) {
    Region& region = regions_[i];
    void* const claimed = region.memory;
    kept_bytes_ -= length;
    if (region.length == length) {
      regions_.erase(regions_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      region.memory = static_cast<char*>(region.memory) + length;
      region.length -= length;
    }
    return claimed;
  }
  std::mutex mutex_;
  std::vector<Region> regions_;
  size_t kept_bytes_ = 0;
  size_t cap_ = 0;
};

KeptBuffers& Kept() {
  static KeptBuffers* kept = new KeptBuffers();  // never destroyed: released during exit too
  return *kept;
}

}  // namespace

void SetLargeBuffersKept(size_t bytes) { Kept().SetCap(bytes); }
size_t LargeBuffersKeptNow() { return Kept().Bytes(); }

bool HugePagesEnabled() { return HugePagesFlag().load(std::memory_order_relaxed); }
void SetHugePagesEnabled(bool on) { HugePagesFlag().store(on, std::memory_order_relaxed); }

void AdviseHugePages(void* data, size_t bytes) noexcept {
  if (bytes < kHugePageBytes || !HugePagesEnabled()) return;
  const auto start = reinterpret_cast<uintptr_t>(data);
  const uintptr_t first = RoundUp(start, kHugePageBytes);
  const uintptr_t last = (start + bytes) / kHugePageBytes * kHugePageBytes;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

namespace {

// A fresh mapping of `length` bytes (a whole number of huge pages), 2 MiB-aligned so every 2 MiB
// of it can be one huge page: map 2 MiB more than needed, then unmap the unaligned head and the
// tail. With huge pages off it is still a mapping (so ReleaseLarge needs no record of which it
// was), with normal pages.
void* MapAligned(size_t length) {
  const size_t mapped = length + kHugePageBytes;
  void* region =
      ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(region);
  const uintptr_t aligned = RoundUp(start, kHugePageBytes);
  if (aligned > start) ::munmap(region, aligned - start);
  const uintptr_t end = start + mapped;
  if (end > aligned + length)
    ::munmap(reinterpret_cast<void*>(aligned + length), end - aligned - length);
  auto* memory = reinterpret_cast<void*>(aligned);
  // Refused where the kernel has no transparent huge pages: normal pages, as without the advice.
  if (HugePagesEnabled()) ::madvise(memory, length, MADV_HUGEPAGE);
  return memory;
}

}  // namespace

namespace {

void* Allocate(size_t bytes, bool for_growth) {
  if (bytes < kLargeBytes) return ::operator new(bytes);
  const size_t length = RoundUp(bytes, kHugePageBytes);
  if (void* kept = Kept().Take(length, for_growth)) return kept;
  return MapAligned(length);
}

}  // namespace

void* AllocateLarge(size_t bytes) { return Allocate(bytes, false); }

void* ReallocateLarge(void* memory, size_t old_bytes, size_t new_bytes, size_t keep) {
  if (memory == nullptr) return Allocate(new_bytes, true);
  if (old_bytes >= kLargeBytes && new_bytes >= kLargeBytes) {
    const size_t old_length = RoundUp(old_bytes, kHugePageBytes);
    const size_t new_length = RoundUp(new_bytes, kHugePageBytes);
    char* const start = static_cast<char*>(memory);
    if (new_length <= old_length) {
      if (new_length < old_length) ::munmap(start + new_length, old_length - new_length);
      return memory;
    }
    // Into the kept bytes right after it, where they are (pages faulted in already; nothing to
    // ask the kernel); else in place where the addresses after it are free (the grown part keeps
    // the advice); else moved by the kernel to an aligned place of its own: page tables move, no
    // byte is copied and every page already touched stays.
    if (Kept().TakeAt(start + old_length, new_length - old_length)) return memory;
    if (::mremap(memory, old_length, new_length, 0) != MAP_FAILED) return memory;
    // EFAULT: the buffer spans two mappings (kept bytes claimed after it came from another one
    // that happened to lie there), which the kernel remaps only one at a time: copied below.
    if (errno != EFAULT) {
      void* target = MapAligned(new_length);
      void* moved = ::mremap(memory, old_length, new_length, MREMAP_MAYMOVE | MREMAP_FIXED, target);
      // The kernel may have unmapped the target before failing, and another thread may have
      // mapped something there since: the target is left alone (untouched address space, only on
      // a failure that means the system is out of memory).
      if (moved == MAP_FAILED) throw std::bad_alloc();
      if (HugePagesEnabled()) ::madvise(moved, new_length, MADV_HUGEPAGE);
      return moved;
    }
  }
  void* grown = Allocate(new_bytes, true);
  std::memcpy(grown, memory, std::min({keep, old_bytes, new_bytes}));
  ReleaseLarge(memory, old_bytes);
  return grown;
}

void ReleaseLarge(void* memory, size_t bytes) noexcept {
  if (memory == nullptr) return;
  if (bytes < kLargeBytes) {
    ::operator delete(memory);
    return;
  }
  const size_t length = RoundUp(bytes, kHugePageBytes);
  bool kept = false;
  try {
    kept = Kept().Keep(memory, length);
  } catch (const std::bad_alloc&) {  // no room to note it: return it
  }
  if (!kept) ::munmap(memory, length);
}

InputBytes::InputBytes() : data_(kEmpty) {}

InputBytes::InputBytes(std::string bytes) : string_(std::move(bytes)) {
  if (string_.capacity() < string_.size() + simdjson::SIMDJSON_PADDING) {
    string_.reserve(string_.size() + simdjson::SIMDJSON_PADDING);
  }
  data_ = string_.data();
  size_ = string_.size();
}

InputBytes InputBytes::AdoptLarge(char* buffer, size_t capacity, size_t size) {
  InputBytes input;
  input.kind_ = Kind::kLarge;
  input.region_ = buffer;
  input.region_bytes_ = capacity;
  input.data_ = buffer;
  input.size_ = size;
  return input;
}

InputBytes InputBytes::AdoptMapping(void* region, size_t region_bytes, size_t size) {
  InputBytes input;
  input.kind_ = Kind::kMapping;
  input.region_ = region;
  input.region_bytes_ = region_bytes;
  input.data_ = static_cast<const char*>(region);
  input.size_ = size;
  return input;
}

void InputBytes::ReplaceEnd(size_t at, std::string_view tail) {
  // Every kind's bytes are its own to write (a mapping's pages once made writable below).
  char* start = const_cast<char*>(data_);
  if (kind_ == Kind::kMapping && !tail.empty()) {
    const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto first = reinterpret_cast<uintptr_t>(start + at) / page * page;
    const auto end = reinterpret_cast<uintptr_t>(start + at + tail.size());
    if (::mprotect(reinterpret_cast<void*>(first), end - first, PROT_READ | PROT_WRITE) != 0) {
      throw std::bad_alloc();  // only when the system is out of memory for the page tables
    }
  }
  std::memcpy(start + at, tail.data(), tail.size());
  size_ = at + tail.size();
}

InputBytes::InputBytes(InputBytes&& other) noexcept { TakeFrom(other); }

InputBytes& InputBytes::operator=(InputBytes&& other) noexcept {
  if (this != &other) {
    Release();
    TakeFrom(other);
  }
  return *this;
}

InputBytes::~InputBytes() { Release(); }

void InputBytes::TakeFrom(InputBytes& other) noexcept {
  kind_ = other.kind_;
  region_ = other.region_;
  region_bytes_ = other.region_bytes_;
  size_ = other.size_;
  if (kind_ == Kind::kString) {
    // A moved string may move its bytes (a short string lives inside the object): point anew.
    string_ = std::move(other.string_);
    data_ = string_.capacity() >= size_ + simdjson::SIMDJSON_PADDING ? string_.data() : kEmpty;
  } else {
    data_ = other.data_;
  }
  other.kind_ = Kind::kString;
  other.region_ = nullptr;
  other.region_bytes_ = 0;
  other.string_.clear();
  other.data_ = kEmpty;
  other.size_ = 0;
}

void InputBytes::Release() noexcept {
  if (kind_ == Kind::kLarge) ReleaseLarge(region_, region_bytes_);
  if (kind_ == Kind::kMapping) ::munmap(region_, region_bytes_);
  region_ = nullptr;
  kind_ = Kind::kString;
}

GrowingBytes::GrowingBytes(GrowingBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      buffer_bytes_(std::exchange(other.buffer_bytes_, 0)) {}

GrowingBytes& GrowingBytes::operator=(GrowingBytes&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    buffer_bytes_ = std::exchange(other.buffer_bytes_, 0);
  }
  return *this;
}

GrowingBytes::~GrowingBytes() { Release(); }

GrowingBytes& GrowingBytes::operator=(std::string_view bytes) {
  if (bytes.size() > capacity()) {  // then `bytes` cannot lie in this buffer, too small for it
    size_ = 0;
    Reserve(bytes.size());
  }
  if (!bytes.empty()) std::memmove(data_, bytes.data(), bytes.size());
  size_ = bytes.size();
  return *this;
}

size_t GrowingBytes::capacity() const {
  return buffer_bytes_ > simdjson::SIMDJSON_PADDING ? buffer_bytes_ - simdjson::SIMDJSON_PADDING
                                                    : 0;
}

void GrowingBytes::Reserve(size_t bytes) {
  if (data_ != nullptr ? bytes <= capacity() : bytes == 0) return;
  if (bytes > SIZE_MAX / 2) throw std::bad_alloc();
  const size_t wanted = bytes + simdjson::SIMDJSON_PADDING;
  data_ = static_cast<char*>(ReallocateLarge(data_, buffer_bytes_, wanted, size_));
  // A large buffer is whole huge pages: all of them are the buffer's to use.
  buffer_bytes_ = wanted >= kLargeBytes ? RoundUp(wanted, kHugePageBytes) : wanted;
}

void GrowingBytes::Resize(size_t bytes) {
  if (bytes > capacity()) throw std::length_error("GrowingBytes::Resize past its capacity");
  size_ = bytes;
}

void GrowingBytes::Append(std::string_view bytes) {
  if (bytes.empty()) return;
  if (bytes.size() > capacity() - size_) {
    // Bytes of this buffer's own move with it.
    const bool own = data_ != nullptr && bytes.data() >= data_ && bytes.data() < data_ + size_;
    const size_t offset = own ? static_cast<size_t>(bytes.data() - data_) : 0;
    Reserve(std::max(size_ + bytes.size(), 2 * capacity()));
    if (own) bytes = std::string_view(data_ + offset, bytes.size());
  }
  std::memmove(data_ + size_, bytes.data(), bytes.size());
  size_ += bytes.size();
}

InputBytes GrowingBytes::TakeInput() {
  if (data_ == nullptr) return InputBytes();
  InputBytes input = InputBytes::AdoptLarge(data_, buffer_bytes_, size_);
  data_ = nullptr;
  size_ = 0;
  buffer_bytes_ = 0;
  return input;
}

void GrowingBytes::Release() noexcept {
  ReleaseLarge(data_, buffer_bytes_);
  data_ = nullptr;
  size_ = 0;
  buffer_bytes_ = 0;
}

}  // namespace buildtrace
