// Tests of GzipCompress: what it makes is one gzip member that zlib reads back exactly, for empty,
// small, incompressible and large inputs, from one thread after another and from several at once.
#include "core/gzip_compress.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "testing/gzip.h"
#include "testing/random_bytes.h"

namespace buildtrace {
namespace {

// Report-like text: IDs in a JSON array, compressible as real answers are.
std::string ReportLike(size_t ids) {
  std::string s = "{\"changes\":{\"added\":[";
  for (size_t i = 0; i < ids; ++i)
    s += (i ? ",\"B" : "\"B") + std::to_string(100000 + i * 7) + "\"";
  return s + "]}}\n";
}

TEST(GzipCompressTest, RoundTripsExactly) {
  for (const std::string& data : {std::string(), std::string("x"), std::string("{}\n"),
                                  ReportLike(10), RandomBytes(1000, 1), std::string(70000, 'a')}) {
    const std::string gz = GzipCompress(data);
    ASSERT_GE(gz.size(), 18u);  // a gzip member's header and trailer at least
    EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
    EXPECT_EQ(Gunzip(gz), data) << "input of " << data.size() << " bytes";
  }
}

TEST(GzipCompressTest, ShrinksReportsThreeFoldAcrossChunks) {
  // Over 64 KiB of output, so that it leaves zlib in several chunks.
  const std::string data = ReportLike(200000);
  ASSERT_GT(data.size(), 2000000u);
  const std::string gz = GzipCompress(data);
  EXPECT_GT(gz.size(), 64u << 10);
  EXPECT_LT(gz.size() * 3, data.size());
  EXPECT_EQ(Gunzip(gz), data);
}

TEST(GzipCompressTest, IncompressibleInputAcrossChunksRoundTrips) {
  const std::string data = RandomBytes(300000, 7);
  const std::string gz = GzipCompress(data);
  EXPECT_GT(gz.size(), data.size());  // stored blocks: a little larger
  EXPECT_EQ(Gunzip(gz), data);
}

TEST(GzipCompressTest, AThreadsReusedStreamStartsAfreshEachTime) {
  // The second answer must not depend on the first (a stream not reset would continue it).
  const std::string first = ReportLike(1000), second = RandomBytes(5000, 3);
  const std::string a = GzipCompress(first);
  const std::string b = GzipCompress(second);
  EXPECT_EQ(Gunzip(b), second);
  EXPECT_EQ(GzipCompress(first), a);  // the same bytes as the first time
}

TEST(GzipCompressTest, ThreadsCompressAtOnce) {
  std::vector<std::string> inputs, outputs(4);
  for (uint32_t i = 0; i < 4; ++i) inputs.push_back(ReportLike(20000 + i) + RandomBytes(100, i));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < 5; ++round) outputs[i] = GzipCompress(inputs[i]);
    });
  }
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(Gunzip(outputs[i]), inputs[i]);
}

}  // namespace
}  // namespace buildtrace
