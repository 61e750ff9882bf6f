// Tests of the large buffers: huge-page and normal allocations of every size class hold what is
// written to them, vectors grow across the threshold, and InputBytes keeps its padding and its
// bytes through moves and ReplaceEnd.
#include "core/large_memory.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
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
  void TearDown() override { SetHugePagesEnabled(was_); }

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

INSTANTIATE_TEST_SUITE_P(HugeAndNormalPages, LargeMemoryTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Huge" : "Normal"; });

void ExpectPadded(const InputBytes& input) {
  for (size_t i = 0; i < simdjson::SIMDJSON_PADDING; ++i) {
    volatile char c = input.data()[input.size() + i];  // readable, or ASan says otherwise
    (void)c;
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
