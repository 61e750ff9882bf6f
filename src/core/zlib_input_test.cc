// Tests of ZlibInput: pieces of at most the given size, handed over only once the stream used up
// the last, and a deflate/inflate round trip fed in small pieces on both sides.
#include "core/zlib_input.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace buildtrace {
namespace {

TEST(ZlibInputTest, HandsOverPiecesOfAtMostTheGivenSize) {
  const std::string data = "0123456789";
  ZlibInput input(data, 3);
  z_stream zs{};
  std::vector<std::string> pieces;
  for (int round = 0; round < 6; ++round) {
    input.Refill(zs);
    input.Refill(zs);  // the stream still has its piece: nothing changes
    if (zs.avail_in == 0) break;
    pieces.emplace_back(reinterpret_cast<const char*>(zs.next_in), zs.avail_in);
    zs.avail_in = 0;  // used up
  }
  EXPECT_EQ(pieces, (std::vector<std::string>{"012", "345", "678", "9"}));
  EXPECT_EQ(input.unfed(), 0u);
}

TEST(ZlibInputTest, UnfedBytesFollowWhatTheStreamHolds) {
  const std::string data = "abcdefgh";
  ZlibInput input(data, 5);
  z_stream zs{};
  input.Refill(zs);
  zs.next_in += 2;  // the stream used two bytes
  zs.avail_in -= 2;
  EXPECT_EQ(input.unfed(), 3u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(zs.next_in), zs.avail_in + input.unfed()),
            "cdefgh");
}

TEST(ZlibInputTest, RoundTripInSmallPieces) {
  std::string data;
  for (int i = 0; i < 20000; ++i) data += std::to_string(i * 7919 % 10007) + ",";
  z_stream deflater{};
  ASSERT_EQ(deflateInit2(&deflater, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  ZlibInput to_deflate(data, 1000);
  std::string compressed;
  unsigned char chunk[512];
  for (int rc = Z_OK; rc != Z_STREAM_END;) {
    to_deflate.Refill(deflater);
    deflater.next_out = chunk;
    deflater.avail_out = sizeof chunk;
    rc = deflate(&deflater, to_deflate.unfed() == 0 ? Z_FINISH : Z_NO_FLUSH);
    ASSERT_TRUE(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR) << rc;
    compressed.append(reinterpret_cast<const char*>(chunk), sizeof chunk - deflater.avail_out);
  }
  deflateEnd(&deflater);

  z_stream inflater{};
  ASSERT_EQ(inflateInit2(&inflater, 16 + MAX_WBITS), Z_OK);
  ZlibInput to_inflate(compressed, 7);
  std::string restored;
  for (int rc = Z_OK; rc != Z_STREAM_END;) {
    to_inflate.Refill(inflater);
    inflater.next_out = chunk;
    inflater.avail_out = sizeof chunk;
    rc = inflate(&inflater, Z_NO_FLUSH);
    ASSERT_TRUE(rc == Z_OK || rc == Z_STREAM_END) << rc;
    restored.append(reinterpret_cast<const char*>(chunk), sizeof chunk - inflater.avail_out);
  }
  inflateEnd(&inflater);
  EXPECT_EQ(restored, data);
}

}  // namespace
}  // namespace buildtrace
