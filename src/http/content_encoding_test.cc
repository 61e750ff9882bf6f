// Tests of DecodeBody: identity, gzip round trips (compressed here with zlib's own deflate), the
// exact size limit, bombs (with memory counted by a replaced operator new, or under a sanitizer
// by its runtime's allocation hook), broken streams and unsupported codings.
#include "http/content_encoding.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "testing/gzip.h"

// Under AddressSanitizer or ThreadSanitizer the runtime's allocator serves operator new.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)  // gcc
#define BT_SANITIZER_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)  // clang
#define BT_SANITIZER_ALLOCATOR 1
#endif
#endif

#ifdef BT_SANITIZER_ALLOCATOR
// From <sanitizer/allocator_interface.h>, which gcc does not ship; every runtime defines it.
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             size_t),
                                                         void (*free_hook)(const volatile void*));
#endif

namespace {

// Allocation accounting for the bomb tests. Only the test's own thread counts, and only while a
// CountAllocations object lives.
thread_local bool counting = false;
thread_local size_t counted_bytes = 0;
thread_local size_t largest_allocation = 0;

void Count(size_t size) {
  if (counting) {
    counted_bytes += size;
    if (size > largest_allocation) largest_allocation = size;
  }
}

}  // namespace

#ifdef BT_SANITIZER_ALLOCATOR
namespace {

// A replaced operator new would not link under TSan (its runtime defines one), and under ASan it
// would be reported as a mismatch wherever ASan's operator delete frees what std::malloc gave;
// so the tests count through the runtime's allocation hook instead, which sees every allocation,
// zlib's mallocs too (a few tens of KiB, well inside the bounds the tests check).
void CountMalloc(const volatile void*, size_t size) { Count(size); }
void IgnoreFree(const volatile void*) {}  // the runtime takes both hooks or neither

bool InstallAllocationCounter() {
  static const bool installed =
      __sanitizer_install_malloc_and_free_hooks(&CountMalloc, &IgnoreFree) != 0;
  return installed;
}

}  // namespace
#else
// Replaces the global allocation function for this test binary; the default operator delete
// frees with std::free, which matches.
void* operator new(size_t size) {
  Count(size);
  for (;;) {
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}
#endif

namespace buildtrace {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kMiB = 1 << 20;

class CountAllocations {
 public:
  CountAllocations() {
#ifdef BT_SANITIZER_ALLOCATOR
    EXPECT_TRUE(InstallAllocationCounter()) << "the sanitizer refused the allocation hook";
#endif
    counted_bytes = 0;
    largest_allocation = 0;
    counting = true;
  }
  ~CountAllocations() { counting = false; }
  size_t bytes() const { return counted_bytes; }
  size_t largest() const { return largest_allocation; }
};

// One gzip member holding `data`.
// Bytes that compress poorly, so that the output spans many of the decoder's chunks.
std::string Noise(size_t size) {
  std::string out(size, '\0');
  uint32_t x = 2463534242u;
  for (char& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>('a' + x % 26);
  }
  return out;
}

std::string JobJson() {
  return R"({"job_id":1,"timestamp":"2026-11-28T10:00:00Z","latency_ms":100,)"
         R"("state":{"D001":"door_10_20_5_5","W001":"window_0_0_2_3","é":"ü"}})";
}

void ExpectError(const Result<std::string>& result, StatusCode code, std::string_view reason,
                 std::string_view message_part) {
  ASSERT_FALSE(result.ok()) << "decoded " << result->size() << " bytes";
  EXPECT_EQ(result.status().code(), code) << result.status().message();
  EXPECT_EQ(result.status().reason(), reason) << result.status().message();
  EXPECT_THAT(result.status().message(), HasSubstr(message_part));
}

// --- identity ---

TEST(DecodeBodyTest, IdentityOrNoHeaderPassesTheBodyThroughWithoutACopy) {
  for (std::string_view coding : {"", "identity", " IDENTITY\t"}) {
    SCOPED_TRACE(coding);
    std::string body = Noise(1000);
    const std::string expected = body;
    const char* data = body.data();
    Result<std::string> decoded = DecodeBody(coding, std::move(body), 1000);
    ASSERT_TRUE(decoded.ok()) << decoded.status().message();
    EXPECT_EQ(*decoded, expected);
    EXPECT_EQ(decoded->data(), data);
  }
}

TEST(DecodeBodyTest, IdentityOverTheLimitIsTooLarge) {
  ExpectError(DecodeBody("", Noise(1001), 1000), StatusCode::kTooLarge, "body_too_large",
              "the request body exceeds the limit of 1000 bytes");
}

// --- gzip ---

TEST(DecodeBodyTest, GzipRoundTripsAJsonBodyWithPaddingToSpare) {
  for (std::string_view coding : {"gzip", "x-gzip", "GZip", " gzip ", "X-GZIP"}) {
    SCOPED_TRACE(coding);
    Result<std::string> decoded = DecodeBody(coding, Gzip(JobJson()), kMiB);
    ASSERT_TRUE(decoded.ok()) << decoded.status().message();
    EXPECT_EQ(*decoded, JobJson());
    EXPECT_GE(decoded->capacity(), decoded->size() + kDecodedBodyPadding);
  }
}

TEST(DecodeBodyTest, GzipOfManyChunksRoundTrips) {
  const std::string data = Noise(3 * 65536 + 17) + std::string(500'000, ' ') + JobJson();
  Result<std::string> decoded = DecodeBody("gzip", Gzip(data, 1), 10 * kMiB);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(*decoded, data);
  EXPECT_GE(decoded->capacity(), decoded->size() + kDecodedBodyPadding);
}

TEST(DecodeBodyTest, ConcatenatedMembersDecodeToTheirConcatenation) {
  const std::string a = Noise(70'000);
  const std::string b = JobJson();
  Result<std::string> decoded = DecodeBody("gzip", Gzip(a) + Gzip("") + Gzip(b), kMiB);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(*decoded, a + b);
  EXPECT_GE(decoded->capacity(), decoded->size() + kDecodedBodyPadding);
}

TEST(DecodeBodyTest, ExactlyTheLimitIsAcceptedAndOneByteMoreIsTooLarge) {
  // Sizes that end inside a chunk and exactly on a chunk boundary of the decoder.
  for (size_t size : {size_t{1}, size_t{1000}, size_t{65536}, size_t{2 * 65536 + 123}}) {
    SCOPED_TRACE(size);
    const std::string data = Noise(size);
    const std::string compressed = Gzip(data);
    Result<std::string> at_limit = DecodeBody("gzip", compressed, size);
    ASSERT_TRUE(at_limit.ok()) << at_limit.status().message();
    EXPECT_EQ(*at_limit, data);
    ExpectError(DecodeBody("gzip", compressed, size - 1), StatusCode::kTooLarge, "body_too_large",
                "the decompressed request body exceeds the limit of " + std::to_string(size - 1) +
                    " bytes");
  }
}

TEST(DecodeBodyTest, LimitCountsAllConcatenatedMembers) {
  const std::string member = Gzip(Noise(600));
  EXPECT_TRUE(DecodeBody("gzip", member + member, 1200).ok());
  ExpectError(DecodeBody("gzip", member + member, 1199), StatusCode::kTooLarge, "body_too_large",
              "exceeds the limit of 1199 bytes");
}

// 10 MiB of zeros in about 10 KiB: decoding stops at the 1 MiB limit, and never holds more than
// the limit (plus padding) in one buffer, nor allocates anywhere near the 10 MiB.
TEST(DecodeBodyTest, BombStopsAtTheLimitWithBoundedMemory) {
  const std::string bomb = Gzip(std::string(10 * kMiB, '\0'), 9);
  ASSERT_LT(bomb.size(), 20'000u);
  CountAllocations allocations;
  Result<std::string> decoded = DecodeBody("gzip", bomb, kMiB);
  const size_t bytes = allocations.bytes();
  const size_t largest = allocations.largest();
  ExpectError(decoded, StatusCode::kTooLarge, "body_too_large",
              "the decompressed request body exceeds the limit of 1048576 bytes; split the jobs "
              "into several requests or raise --max-body");
  EXPECT_LE(largest, kMiB + kDecodedBodyPadding + 1);  // + 1: std::string's terminating NUL
  EXPECT_LT(bytes, 2 * kMiB);
  EXPECT_GE(bytes, kMiB);  // the decoded megabyte itself: proof that the counting works
}

// The same bomb with a trailer claiming 100 bytes: the first guess is wrong, the buffer regrows,
// and still never past the limit.
TEST(DecodeBodyTest, BombWithALyingSizeTrailerStillStopsAtTheLimit) {
  std::string bomb = Gzip(std::string(10 * kMiB, '\0'), 9);
  bomb.replace(bomb.size() - 4, 4, std::string("\x64\0\0\0", 4));
  CountAllocations allocations;
  Result<std::string> decoded = DecodeBody("gzip", bomb, kMiB);
  const size_t bytes = allocations.bytes();
  const size_t largest = allocations.largest();
  ExpectError(decoded, StatusCode::kTooLarge, "body_too_large", "exceeds the limit of 1048576");
  EXPECT_LE(largest, kMiB + kDecodedBodyPadding + 1);  // + 1: std::string's terminating NUL
  EXPECT_LT(bytes, 3 * kMiB);  // a geometric series up to the limit, and the chunk
}

// --- broken streams ---

TEST(DecodeBodyTest, TruncatedStreamIsBadEncoding) {
  const std::string compressed = Gzip(Noise(100'000));
  for (size_t keep : {compressed.size() - 1, compressed.size() - 8, compressed.size() / 2,
                      size_t{10}, size_t{2}}) {
    SCOPED_TRACE(keep);
    ExpectError(DecodeBody("gzip", compressed.substr(0, keep), kMiB), StatusCode::kInvalidArgument,
                "bad_encoding",
                "the gzip request body is truncated: it ends before the end of the gzip stream");
  }
}

TEST(DecodeBodyTest, EmptyGzipBodyIsBadEncoding) {
  ExpectError(DecodeBody("gzip", "", kMiB), StatusCode::kInvalidArgument, "bad_encoding",
              "the gzip request body is empty");
}

TEST(DecodeBodyTest, GarbageIsBadEncoding) {
  ExpectError(DecodeBody("gzip", JobJson(), kMiB), StatusCode::kInvalidArgument, "bad_encoding",
              "the gzip request body is corrupt (zlib: incorrect header check)");
  // A zlib (RFC 1950) stream is not gzip.
  std::string zlib_stream(compressBound(JobJson().size()), '\0');
  uLongf size = zlib_stream.size();
  ASSERT_EQ(compress(reinterpret_cast<Bytef*>(zlib_stream.data()), &size,
                     reinterpret_cast<const Bytef*>(JobJson().data()), JobJson().size()),
            Z_OK);
  zlib_stream.resize(size);
  ExpectError(DecodeBody("gzip", zlib_stream, kMiB), StatusCode::kInvalidArgument, "bad_encoding",
              "is corrupt (zlib: incorrect header check)");
}

TEST(DecodeBodyTest, DamagedDataOrChecksumIsBadEncoding) {
  const std::string compressed = Gzip(JobJson());
  std::string bad_crc = compressed;
  bad_crc[bad_crc.size() - 8] ^= 0x01;  // the CRC-32 starts 8 bytes from the end
  ExpectError(DecodeBody("gzip", bad_crc, kMiB), StatusCode::kInvalidArgument, "bad_encoding",
              "is corrupt (zlib: incorrect data check)");
  std::string bad_size = compressed;
  bad_size[bad_size.size() - 1] ^= 0x01;  // ISIZE
  ExpectError(DecodeBody("gzip", bad_size, kMiB), StatusCode::kInvalidArgument, "bad_encoding",
              "is corrupt (zlib: incorrect length check)");
  std::string bad_block = compressed;
  bad_block[10] = static_cast<char>(0x07);  // final block of the reserved type 3
  ExpectError(DecodeBody("gzip", bad_block, kMiB), StatusCode::kInvalidArgument, "bad_encoding",
              "is corrupt (zlib: invalid block type)");
}

TEST(DecodeBodyTest, TrailingGarbageIsBadEncoding) {
  const std::string compressed = Gzip(JobJson());
  ExpectError(DecodeBody("gzip", compressed + "xyz", kMiB), StatusCode::kInvalidArgument,
              "bad_encoding", "has 3 bytes of trailing data after the end of the gzip stream");
  ExpectError(DecodeBody("gzip", compressed + std::string(4, '\0'), kMiB),
              StatusCode::kInvalidArgument, "bad_encoding", "has 4 bytes of trailing data");
  ExpectError(DecodeBody("gzip", compressed + "\x1f", kMiB), StatusCode::kInvalidArgument,
              "bad_encoding", "has 1 bytes of trailing data");
  // What starts like a second member but stops is a truncated member.
  ExpectError(DecodeBody("gzip", compressed + "\x1f\x8b", kMiB), StatusCode::kInvalidArgument,
              "bad_encoding", "is truncated");
}

// --- other codings ---

TEST(DecodeBodyTest, OtherCodingsAreUnsupported) {
  for (std::string_view coding :
       {"deflate", "br", "compress", "zstd", "gzip, br", "identity, gzip", "gzip;q=1", "gzip2"}) {
    SCOPED_TRACE(coding);
    ExpectError(DecodeBody(coding, Gzip(JobJson()), kMiB), StatusCode::kInvalidArgument,
                "unsupported_encoding",
                "Content-Encoding \"" + std::string(coding) +
                    "\" is not supported; send the body uncompressed or with Content-Encoding: "
                    "gzip");
  }
}

}  // namespace
}  // namespace buildtrace
