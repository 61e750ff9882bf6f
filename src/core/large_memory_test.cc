// Tests of the large buffers: huge-page and normal allocations of every size class hold what is
// written to them, vectors grow across the threshold, and InputBytes keeps its padding and its
// bytes through moves and ReplaceEnd.
#include "core/large_memory.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace buildtrace {
namespace {

class LargeMemoryTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    was_ = HugePagesEnabled();
    SetHugePagesEnabled(GetParam());
  }
  void TearDown() override {
    SetHugePagesEnabled(was_);
    SetLargeBuffersKept(0);  // the next test starts with none kept, whatever this one left
  }

 private:
  bool was_ = true;
};

TEST_P(LargeMemoryTest, EverySizeHoldsWhatIsWritten) {
  std::mt19937_64 rng(7);
  for (size_t bytes : {size_t{1}, size_t{4095}, kLargeBytes - 1, kLargeBytes, kLargeBytes + 1,
                       3 * kHugePageBytes - 64, size_t{5} << 20}) {
    auto* p = static_cast<unsigned char*>(AllocateLarge(bytes));
    ASSERT_NE(p, nullptr);
    if (bytes >= kLargeBytes) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kHugePageBytes, 0u) << bytes;
      // Fresh mappings read as zero: nothing of ours zeroes them.
      EXPECT_EQ(p[0], 0);
      EXPECT_EQ(p[bytes - 1], 0);
    }
    const auto seed = static_cast<unsigned char>(rng());
    for (size_t i = 0; i < bytes; i += 4093) p[i] = static_cast<unsigned char>(seed + i);
    p[bytes - 1] = 0xA5;
    for (size_t i = 0; i + 1 < bytes; i += 4093) {
      ASSERT_EQ(p[i], static_cast<unsigned char>(seed + i)) << bytes << " at " << i;
    }
    EXPECT_EQ(p[bytes - 1], 0xA5);
    ReleaseLarge(p, bytes);
  }
}

TEST_P(LargeMemoryTest, VectorsGrowAcrossTheThreshold) {
  std::vector<uint64_t, LargeAllocator<uint64_t>> values;
  constexpr uint64_t kCount = 3 * kLargeBytes / sizeof(uint64_t) + 17;
  for (uint64_t i = 0; i < kCount; ++i) values.push_back(i * 2654435761u);
  ASSERT_EQ(values.size(), kCount);
  for (uint64_t i = 0; i < kCount; i += 1021) ASSERT_EQ(values[i], i * 2654435761u);
  EXPECT_EQ(values.back(), (kCount - 1) * 2654435761u);
}

TEST_P(LargeMemoryTest, KeptBuffersAreReusedUpToTheCap) {
  constexpr size_t kMiB = size_t{1} << 20;
  SetLargeBuffersKept(8 * kMiB);
  auto* first = static_cast<char*>(AllocateLarge(4 * kMiB));
  first[0] = 'k';
  ReleaseLarge(first, 4 * kMiB);
  EXPECT_EQ(LargeBuffersKeptNow(), 4 * kMiB);
  // The kept buffer comes back, with what its last user left in it: no fresh page.
  auto* again = static_cast<char*>(AllocateLarge(3 * kMiB));
  EXPECT_EQ(again, first);
  EXPECT_EQ(again[0], 'k');
  EXPECT_EQ(LargeBuffersKeptNow(), 0u);
  ReleaseLarge(again, 3 * kMiB);  // 4 MiB: its size rounded to huge pages
  EXPECT_EQ(LargeBuffersKeptNow(), 4 * kMiB);
  // A smaller request takes its first bytes; the rest stays kept, for the next request.
  auto* smaller = static_cast<char*>(AllocateLarge(2 * kMiB));
  EXPECT_EQ(smaller, first);
  EXPECT_EQ(LargeBuffersKeptNow(), 2 * kMiB);
  auto* rest = static_cast<char*>(AllocateLarge(2 * kMiB));
  EXPECT_EQ(rest, first + 2 * kMiB);
  EXPECT_EQ(LargeBuffersKeptNow(), 0u);
  ReleaseLarge(rest, 2 * kMiB);
  ReleaseLarge(smaller, 2 * kMiB);
  EXPECT_EQ(LargeBuffersKeptNow(), 4 * kMiB);
  // Side by side again, the two halves are one buffer: a 4 MiB request takes it whole.
  auto* whole = static_cast<char*>(AllocateLarge(4 * kMiB));
  EXPECT_EQ(whole, first);
  EXPECT_EQ(LargeBuffersKeptNow(), 0u);
  ReleaseLarge(whole, 4 * kMiB);
  // A larger request than anything kept gets a fresh buffer and leaves the kept one alone;
  // beyond the cap, none is kept.
  auto* big = static_cast<char*>(AllocateLarge(10 * kMiB));
  EXPECT_EQ(LargeBuffersKeptNow(), 4 * kMiB);
  ReleaseLarge(big, 10 * kMiB);
  EXPECT_EQ(LargeBuffersKeptNow(), 4 * kMiB);
  SetLargeBuffersKept(0);  // returns what is kept
  EXPECT_EQ(LargeBuffersKeptNow(), 0u);
  auto* fresh = static_cast<char*>(AllocateLarge(2 * kMiB));
  ReleaseLarge(fresh, 2 * kMiB);
  EXPECT_EQ(LargeBuffersKeptNow(), 0u);
}

// The VmFlags line of the mapping of this process that starts at `start` and ends at `end`
// ("" when no mapping has exactly those bounds), from /proc/self/smaps.
std::string FlagsOfMapping(uintptr_t start, uintptr_t end) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long long from = 0, to = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx ", &from, &to) == 2 && line.find(':') > 17) {
      inside = from == start && to == end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

TEST_P(LargeMemoryTest, AdviceCoversTheWholeHugePagesInsideARangeOnly) {
  // A mapping of our own, so its bounds are known: 8 MiB from a 2 MiB boundary, advised from
  // 100 bytes past its first 4 KiB page to 1 MiB before its end.
  constexpr size_t kMiB = size_t{1} << 20;
  auto* base = static_cast<char*>(AllocateLarge(8 * kMiB));
  ::madvise(base, 8 * kMiB, MADV_NOHUGEPAGE);  // AllocateLarge's own advice out of the way
  const auto start = reinterpret_cast<uintptr_t>(base);
  AdviseHugePages(base + 4096 + 100, 7 * kMiB - 4096 - 100);
  // Only [2 MiB, 6 MiB) is whole huge pages inside the range; the head and the tail are not.
  const std::string advised = FlagsOfMapping(start + 2 * kMiB, start + 6 * kMiB);
  const bool thp = std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled").good();
  if (GetParam() && thp) {
    EXPECT_NE(advised.find(" hg"), std::string::npos) << advised;
    const std::string head = FlagsOfMapping(start, start + 2 * kMiB);
    ASSERT_NE(head, "");  // split off, not advised
    EXPECT_EQ(head.find(" hg"), std::string::npos) << head;
  } else {
    // Nothing advised, so nothing split off: the mapping is whole, without the flag.
    const std::string whole = FlagsOfMapping(start, start + 8 * kMiB);
    ASSERT_NE(whole, "");
    EXPECT_EQ(whole.find(" hg"), std::string::npos) << whole;
  }
  // Less than one whole huge page: nothing advised, the mapping stays whole.
  auto* small = static_cast<char*>(AllocateLarge(4 * kMiB));
  ::madvise(small, 4 * kMiB, MADV_NOHUGEPAGE);
  AdviseHugePages(small + 4096, 2 * kMiB);
  const auto s = reinterpret_cast<uintptr_t>(small);
  const std::string whole = FlagsOfMapping(s, s + 4 * kMiB);
  ASSERT_NE(whole, "");
  EXPECT_EQ(whole.find(" hg"), std::string::npos) << whole;
  ReleaseLarge(small, 4 * kMiB);
  ReleaseLarge(base, 8 * kMiB);
}

long ThreadMinorFaults() {
  rusage usage{};
  ::getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt;
}

TEST_P(LargeMemoryTest, ReallocatedLargeBufferKeepsItsPagesWithoutACopy) {
  constexpr size_t kMiB = size_t{1} << 20;
  auto* p = static_cast<unsigned char*>(AllocateLarge(4 * kMiB));
  for (size_t i = 0; i < 4 * kMiB; i += 4093) p[i] = static_cast<unsigned char>(i * 7);
  p[4 * kMiB - 1] = 0x5A;
  // Grown by the kernel: no byte is copied, so no fresh page is touched (a copy would fault in
  // at least one).
  const long before = ThreadMinorFaults();
  auto* q = static_cast<unsigned char*>(ReallocateLarge(p, 4 * kMiB, 64 * kMiB, 4 * kMiB));
  EXPECT_EQ(ThreadMinorFaults() - before, 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % kHugePageBytes, 0u);
  for (size_t i = 0; i < 4 * kMiB; i += 4093) {
    ASSERT_EQ(q[i], static_cast<unsigned char>(i * 7)) << i;
  }
  EXPECT_EQ(q[4 * kMiB - 1], 0x5A);
  q[64 * kMiB - 1] = 1;  // the grown part is the buffer's
  // Shrunk in place, the head kept.
  EXPECT_EQ(ReallocateLarge(q, 64 * kMiB, 5 * kMiB, 5 * kMiB), q);
  EXPECT_EQ(q[4 * kMiB - 1], 0x5A);
  ReleaseLarge(q, 5 * kMiB);
  // A small buffer that grows large is copied (it was not a mapping), its bytes kept.
  auto* small = static_cast<char*>(AllocateLarge(1000));
  std::memset(small, 'z', 1000);
  auto* grown = static_cast<char*>(ReallocateLarge(small, 1000, 3 * kMiB, 1000));
  EXPECT_EQ(std::string(grown, 1000), std::string(1000, 'z'));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(grown) % kHugePageBytes, 0u);
  ReleaseLarge(grown, 3 * kMiB);
}

TEST_P(LargeMemoryTest, GrowingBytesKeepEveryByteFromSmallToLarge) {
  std::mt19937_64 rng(21);
  GrowingBytes bytes;
  std::string expected;
  int appends = 0;
  while (expected.size() < (size_t{9} << 20)) {
    std::string piece(rng() % 300000 + 1, '\0');
    for (char& c : piece) c = static_cast<char>(rng());
    bytes.Append(piece);
    expected += piece;
    ASSERT_EQ(bytes.size(), expected.size());
    ASSERT_GE(bytes.capacity(), bytes.size());
    if (++appends % 10 == 0) {
      ASSERT_TRUE(bytes.view() == expected) << expected.size();
    }
  }
  ASSERT_TRUE(bytes.view() == expected);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(bytes.data()) % kHugePageBytes, 0u);
  InputBytes input = bytes.TakeInput();
  EXPECT_TRUE(bytes.empty());
  EXPECT_EQ(bytes.capacity(), 0u);
  ASSERT_EQ(input.size(), expected.size());
  EXPECT_TRUE(input.view() == expected);
  for (size_t i = 0; i < simdjson::SIMDJSON_PADDING; ++i) {
    volatile char c = input.data()[input.size() + i];  // readable, or ASan says otherwise
    (void)c;
  }
}

TEST_P(LargeMemoryTest, GrowingBytesReuseAKeptBufferAndGrowPastIt) {
  constexpr size_t kMiB = size_t{1} << 20;
  SetLargeBuffersKept(16 * kMiB);
  const char* first_data = nullptr;
  {
    GrowingBytes first;
    first.Reserve(13 * kMiB);
    EXPECT_EQ(first.capacity(), 14 * kMiB - simdjson::SIMDJSON_PADDING);  // whole huge pages
    first = std::string_view("kept");
    first_data = first.data();
  }
  EXPECT_EQ(LargeBuffersKeptNow(), 14 * kMiB);
  // A small reservation never takes a kept buffer.
  {
    GrowingBytes small;
    small.Reserve(64 << 10);
    EXPECT_EQ(small.capacity(), size_t{64} << 10);
    EXPECT_EQ(LargeBuffersKeptNow(), 14 * kMiB);
  }
  // A large one takes the first bytes of the kept buffer (memory already faulted in) and no more;
  // the rest stays kept, and the buffer grows into it, step by step, where it is.
  GrowingBytes second;
  second.Reserve(3 * kMiB);
  EXPECT_EQ(second.data(), first_data);
  EXPECT_EQ(second.capacity(), 4 * kMiB - simdjson::SIMDJSON_PADDING);
  EXPECT_EQ(LargeBuffersKeptNow(), 10 * kMiB);
  second = std::string_view("abc");
  second.Reserve(7 * kMiB);
  EXPECT_EQ(second.data(), first_data);
  EXPECT_EQ(LargeBuffersKeptNow(), 6 * kMiB);
  second.Reserve(13 * kMiB);
  EXPECT_EQ(second.data(), first_data);
  EXPECT_EQ(second.view(), "abc");
  EXPECT_EQ(LargeBuffersKeptNow(), 0u);
  // Past it by remapping, its bytes kept.
  second.Reserve(20 * kMiB);
  EXPECT_EQ(second.view(), "abc");
  EXPECT_EQ(second.capacity(), 22 * kMiB - simdjson::SIMDJSON_PADDING);
  second = GrowingBytes();
  EXPECT_EQ(LargeBuffersKeptNow(), 0u);  // 22 MiB is beyond the cap: returned
  SetLargeBuffersKept(0);
}

TEST_P(LargeMemoryTest, GrowingBytesTakeTheLargestKeptBufferAndLeaveTheRestToOthers) {
  constexpr size_t kMiB = size_t{1} << 20;
  SetLargeBuffersKept(32 * kMiB);
  // Two kept buffers with addresses between them that are not kept, so they stay two.
  auto* region = static_cast<char*>(
      ::mmap(nullptr, 18 * kMiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(region, MAP_FAILED);
  void* small = region;
  void* large = region + 6 * kMiB;
  ReleaseLarge(small, 4 * kMiB);
  ReleaseLarge(large, 12 * kMiB);
  // A buffer that will grow starts in the largest; a fixed one takes the smallest that fits.
  GrowingBytes body;
  body.Reserve(3 * kMiB);
  EXPECT_EQ(static_cast<void*>(body.data()), large);
  void* fixed = AllocateLarge(2 * kMiB);
  EXPECT_EQ(fixed, small);
  // Another buffer takes the bytes after the body's: the body then grows elsewhere, whole.
  void* after = AllocateLarge(8 * kMiB);
  EXPECT_EQ(after, static_cast<char*>(large) + 4 * kMiB);
  body = std::string_view("body");
  body.Reserve(9 * kMiB);
  EXPECT_EQ(body.view(), "body");
  EXPECT_EQ(LargeBuffersKeptNow(), 2 * kMiB);  // the small buffer's second half
  ReleaseLarge(after, 8 * kMiB);
  ReleaseLarge(fixed, 2 * kMiB);
  body = GrowingBytes();
  EXPECT_EQ(LargeBuffersKeptNow(), 22 * kMiB);
  SetLargeBuffersKept(0);  // unmaps what the test mapped, but the addresses between
  ::munmap(region + 4 * kMiB, 2 * kMiB);
}

TEST_P(LargeMemoryTest, ABufferGrownAcrossTwoMappingsGrowsOnByACopy) {
  // Kept bytes right after a buffer may come from another mapping that happens to lie there; a
  // buffer that took them spans two, which mremap refuses (EFAULT): it is copied instead.
  constexpr size_t kMiB = size_t{1} << 20;
  SetLargeBuffersKept(16 * kMiB);
  // Two kept buffers side by side, each a mapping of its own (a flag on one half keeps the
  // kernel from joining them, on any kernel), kept as one.
  auto* region = static_cast<char*>(
      ::mmap(nullptr, 8 * kMiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(region, MAP_FAILED);
  ASSERT_EQ(::madvise(region + 4 * kMiB, 4 * kMiB, MADV_DONTDUMP), 0);
  ReleaseLarge(region, 4 * kMiB);
  ReleaseLarge(region + 4 * kMiB, 4 * kMiB);
  EXPECT_EQ(LargeBuffersKeptNow(), 8 * kMiB);
  auto* buffer = static_cast<char*>(ReallocateLarge(nullptr, 0, 4 * kMiB, 0));
  ASSERT_EQ(buffer, region);
  std::memset(buffer, 'a', 4 * kMiB);
  buffer = static_cast<char*>(ReallocateLarge(buffer, 4 * kMiB, 8 * kMiB, 4 * kMiB));
  EXPECT_EQ(LargeBuffersKeptNow(), 0u);  // it took the kept bytes after it
  std::memset(buffer + 4 * kMiB, 'b', 4 * kMiB);
  buffer = static_cast<char*>(ReallocateLarge(buffer, 8 * kMiB, 12 * kMiB, 8 * kMiB));
  EXPECT_NE(buffer, region);  // copied; the two mappings are kept for the next buffer
  EXPECT_EQ(LargeBuffersKeptNow(), 8 * kMiB);
  EXPECT_EQ(std::count(buffer, buffer + 4 * kMiB, 'a'), static_cast<long>(4 * kMiB));
  EXPECT_EQ(std::count(buffer + 4 * kMiB, buffer + 8 * kMiB, 'b'), static_cast<long>(4 * kMiB));
  ReleaseLarge(buffer, 12 * kMiB);
  SetLargeBuffersKept(0);
}

INSTANTIATE_TEST_SUITE_P(HugeAndNormalPages, LargeMemoryTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Huge" : "Normal";
                         });

void ExpectPadded(const InputBytes& input) {
  for (size_t i = 0; i < simdjson::SIMDJSON_PADDING; ++i) {
    volatile char c = input.data()[input.size() + i];  // readable, or ASan says otherwise
    (void)c;
  }
}

TEST(GrowingBytesTest, AssignReserveResizeAndMove) {
  GrowingBytes bytes;
  EXPECT_TRUE(bytes.empty());
  EXPECT_EQ(bytes.TakeInput().size(), 0u);
  bytes = std::string_view("hello");
  bytes.Reserve(100);
  EXPECT_EQ(bytes.view(), "hello");
  EXPECT_GE(bytes.capacity(), 100u);
  bytes.Resize(3);
  EXPECT_EQ(bytes.view(), "hel");
  bytes.Resize(bytes.capacity());
  EXPECT_THROW(bytes.Resize(bytes.capacity() + 1), std::length_error);
  bytes.Resize(2);
  GrowingBytes moved(std::move(bytes));
  EXPECT_EQ(moved.view(), "he");
  EXPECT_TRUE(bytes.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(bytes.capacity(), 0u);
  bytes = std::move(moved);
  EXPECT_EQ(bytes.view(), "he");
  bytes.Append("llo");
  EXPECT_EQ(bytes.TakeInput().view(), "hello");
}

TEST(GrowingBytesTest, BytesOfItsOwnMayBeAssignedAndAppended) {
  GrowingBytes bytes;
  bytes = std::string_view("0123456789");
  bytes = bytes.view().substr(3);  // overlapping: moved, not copied
  EXPECT_EQ(bytes.view(), "3456789");
  // Appending its whole self makes it grow: the bytes appended are read from where they went.
  for (int i = 0; i < 20; ++i) bytes.Append(bytes.view());
  ASSERT_EQ(bytes.size(), size_t{7} << 20);
  for (size_t at = 0; at < bytes.size(); at += 7 * 4099) {
    ASSERT_EQ(bytes.view().substr(at, 7), "3456789") << at;
  }
}

TEST(InputBytesTest, EmptyIsPadded) {
  InputBytes empty;
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.view(), "");
  ExpectPadded(empty);
  EXPECT_FALSE(empty.mapped());
}

TEST(InputBytesTest, StringsGetPaddingAndSurviveMoves) {
  for (std::string text : {std::string(), std::string("{}"), std::string(1000, 'x')}) {
    InputBytes a(text);
    EXPECT_EQ(a.view(), text);
    ExpectPadded(a);
    InputBytes b(std::move(a));
    EXPECT_EQ(b.view(), text);
    ExpectPadded(b);
    EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty, padded
    ExpectPadded(a);
    InputBytes c;
    c = std::move(b);
    EXPECT_EQ(c.view(), text);
    ExpectPadded(c);
  }
}

TEST(InputBytesTest, LargeBuffersAreAdoptedAndReleased) {
  const size_t capacity = kLargeBytes + 4096;
  auto* buffer = static_cast<char*>(AllocateLarge(capacity));
  std::memcpy(buffer, "{\"a\":1}", 7);
  InputBytes input = InputBytes::AdoptLarge(buffer, capacity, 7);
  EXPECT_EQ(input.view(), "{\"a\":1}");
  InputBytes moved = std::move(input);
  EXPECT_EQ(moved.view(), "{\"a\":1}");
  EXPECT_EQ(moved.data(), buffer);  // no copy
}

TEST(InputBytesTest, ReplaceEndWritesAndShortens) {
  InputBytes input(std::string("{\"a\":1,\"seal\":2}\n"));
  input.ReplaceEnd(6, "}\n");
  EXPECT_EQ(input.view(), "{\"a\":1}\n");
  ExpectPadded(input);
}

}  // namespace
}  // namespace buildtrace
