// Memory for inputs and the structures built over them (state entries, the ID index). On the
// virtual machines this runs on, the first write to a fresh 4 KiB page costs 11-14 us, more than
// the work later done in it; so a buffer of kLargeBytes or more comes from a 2 MiB-aligned
// anonymous mapping advised MADV_HUGEPAGE, where one fault maps 2 MiB. Where the kernel offers no
// transparent huge pages the advice is ignored and the same buffer has normal pages. Smaller
// buffers come from operator new. docs/PERFORMANCE.md says what this buys.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <new>
#include <string>
#include <string_view>

namespace buildtrace {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;
// Buffers at least this large come from huge-page mappings (at most half of the last huge page
// is left unused, so at most a third of what the buffer maps).
inline constexpr size_t kLargeBytes = kHugePageBytes;

// Whether large buffers are advised huge pages: on unless BUILDTRACE_HUGE_PAGES=0 in the
// environment when the process starts, or changed here (tests run both ways). Thread-safe.
bool HugePagesEnabled();
void SetHugePagesEnabled(bool on);

// `bytes` of memory whose content is unspecified (fresh pages read as zero; a kept buffer holds
// what its last user left). Throws std::bad_alloc when the system refuses. Release with the same
// `bytes`. Thread-safe.
void* AllocateLarge(size_t bytes);
void ReleaseLarge(void* memory, size_t bytes) noexcept;
// Gives a buffer from AllocateLarge of `old_bytes` a new size, its first `keep` bytes kept (the
// rest unspecified); `memory` nullptr allocates one. A large buffer that stays large grows into
// the kept bytes right after it where there are some (see SetLargeBuffersKept), else is resized
// by the kernel (mremap): no byte is copied and the pages already touched stay, so a buffer grown
// step by step costs what its last size does. Any other is copied into a new buffer, and so is a
// large one that spans two mappings (kept bytes it grew into came from another), which mremap
// cannot move. Throws std::bad_alloc (the old buffer still valid) when the system refuses.
void* ReallocateLarge(void* memory, size_t old_bytes, size_t new_bytes, size_t keep);

// Freed large buffers kept for reuse, up to `bytes` in all (0, the default: none, every buffer is
// returned to the system when released). A process that handles one large state after another
// (`buildtrace serve`, from --keep-memory) then takes its next buffers from memory already
// faulted in, instead of mapping, faulting and zeroing fresh pages each time. A request takes the
// first bytes of the smallest kept buffer that holds it (the rest stays kept); a buffer that will
// grow (ReallocateLarge: a request body) takes those of the largest, and grows into the rest as it
// needs it, so that a body arriving bit by bit holds no more than it asked for and still reuses
// one whole buffer. Buffers kept side by side are joined. A release that would exceed the cap is
// returned at once. Thread-safe.
void SetLargeBuffersKept(size_t bytes);
size_t LargeBuffersKeptNow();  // the bytes kept at this moment

// Advises the whole 2 MiB pages inside [data, data + bytes) MADV_HUGEPAGE, where huge pages are
// enabled and the range spans at least one: for a large buffer that another allocator made (a
// std::string reserved for a request body or a stored form), done before anything is written to
// it, so that its first touch faults 2 MiB at a time instead of 4 KiB. Harmless on memory already
// touched; the advice is ignored where the kernel offers no transparent huge pages.
void AdviseHugePages(void* data, size_t bytes) noexcept;

// A standard allocator over AllocateLarge, for vectors that grow with a state's size.
template <typename T>
struct LargeAllocator {
  using value_type = T;
  LargeAllocator() = default;
  template <typename U>
  LargeAllocator(const LargeAllocator<U>&) noexcept {}  // NOLINT: converting, as allocators are
  T* allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(AllocateLarge(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) noexcept { ReleaseLarge(p, n * sizeof(T)); }
  friend bool operator==(const LargeAllocator&, const LargeAllocator&) { return true; }
};

// The bytes of one input (a request body, a stored job, a file) followed by at least
// simdjson::SIMDJSON_PADDING readable bytes, so simdjson parses it in place. It holds them in one
// of three ways, whichever its maker had: a std::string (with spare capacity for the padding), a
// buffer from AllocateLarge, or a read-only file mapping. Move-only.
class InputBytes {
 public:
  InputBytes();  // empty
  // Takes `bytes` over; copies it once only if it lacks the padding capacity.
  explicit InputBytes(std::string bytes);
  // `size` bytes at the start of a LargeAllocate'd buffer of `capacity` >= size + padding bytes.
  static InputBytes AdoptLarge(char* buffer, size_t capacity, size_t size);
  // A region of `region_bytes` mapped with mmap, whose first `size` bytes are the input and whose
  // remaining bytes (at least the padding) are readable; unmapped when this goes.
  static InputBytes AdoptMapping(void* region, size_t region_bytes, size_t size);

  InputBytes(InputBytes&& other) noexcept;
  InputBytes& operator=(InputBytes&& other) noexcept;
  InputBytes(const InputBytes&) = delete;
  InputBytes& operator=(const InputBytes&) = delete;
  ~InputBytes();

  const char* data() const { return data_; }
  size_t size() const { return size_; }
  std::string_view view() const { return {data_, size_}; }
  simdjson::padded_string_view padded() const {
    return simdjson::padded_string_view(data_, size_, size_ + simdjson::SIMDJSON_PADDING);
  }
  bool mapped() const { return kind_ == Kind::kMapping; }

  // Writes `tail` at position `at` and ends the input after it; at + tail.size() must not exceed
  // size(). A mapping's touched pages become private copies (the file is never written); the
  // bytes after the new end stay readable, so the padding holds.
  void ReplaceEnd(size_t at, std::string_view tail);

 private:
  enum class Kind { kString, kLarge, kMapping };
  void Release() noexcept;
  void TakeFrom(InputBytes& other) noexcept;

  Kind kind_ = Kind::kString;
  std::string string_;
  void* region_ = nullptr;  // kLarge or kMapping
  size_t region_bytes_ = 0;
  const char* data_;
  size_t size_ = 0;
};

// Bytes that arrive in pieces (a request body): a buffer from AllocateLarge that grows without
// copying once large (ReallocateLarge), whose spare bytes are never zero-filled, and which keeps
// simdjson::SIMDJSON_PADDING readable bytes after its capacity, so that it becomes an InputBytes
// without a copy. Move-only; not thread-safe.
class GrowingBytes {
 public:
  GrowingBytes() = default;
  GrowingBytes(GrowingBytes&& other) noexcept;
  GrowingBytes& operator=(GrowingBytes&& other) noexcept;
  GrowingBytes(const GrowingBytes&) = delete;
  GrowingBytes& operator=(const GrowingBytes&) = delete;
  ~GrowingBytes();
  // Replaces the content with a copy of `bytes` (which may lie in this buffer).
  GrowingBytes& operator=(std::string_view bytes);

  char* data() { return data_; }
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {data_, size_}; }
  // The bytes it holds without growing (the padding after them not counted).
  size_t capacity() const;

  // Makes capacity() at least `bytes`, the content kept. A large buffer is whole huge pages, so
  // it may hold up to 2 MiB more; it may be a kept one (SetLargeBuffersKept).
  void Reserve(size_t bytes);
  // Sets the size to `bytes`, at most capacity(); bytes past the old size are left as they are
  // (unspecified until written).
  void Resize(size_t bytes);
  // Appends `bytes` (which may lie in this buffer), growing the buffer to at least twice its
  // capacity when it must grow.
  void Append(std::string_view bytes);
  // The content as an input (its buffer taken over, no copy); this becomes empty.
  InputBytes TakeInput();

 private:
  void Release() noexcept;

  char* data_ = nullptr;
  size_t size_ = 0;
  size_t buffer_bytes_ = 0;  // what data_ was allocated with, the padding included
};

}  // namespace buildtrace
