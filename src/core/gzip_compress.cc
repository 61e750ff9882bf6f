// gzip through zlib's deflate, one reused stream per thread (gzip_compress.h).
#include "core/gzip_compress.h"

#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <new>

namespace buildtrace {
namespace {

constexpr size_t kChunkBytes = 64 << 10;
// zlib counts input in 32-bit unsigned ints; a larger input is fed in pieces.
constexpr size_t kMaxInputPiece = size_t{1} << 30;

// A thread's deflate stream for gzip output, reset before each use.
class Deflater {
 public:
  Deflater() {
    ok_ = deflateInit2(&stream_, kAnswerGzipLevel, Z_DEFLATED, 16 + MAX_WBITS, 8,
                       Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~Deflater() {
    if (ok_) deflateEnd(&stream_);
  }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  z_stream& Fresh() {
    if (!ok_ || deflateReset(&stream_) != Z_OK) throw std::bad_alloc();
    return stream_;
  }

 private:
  z_stream stream_{};
  bool ok_ = false;
};

}  // namespace

std::string GzipCompress(std::string_view data) {
  thread_local Deflater deflater;
  z_stream& zs = deflater.Fresh();
  unsigned char chunk[kChunkBytes];
  std::string out;
  // Reports and drawings compress four- to six-fold at this level: usually one allocation.
  out.reserve(data.size() / 3 + 64);
  const auto* next = reinterpret_cast<const unsigned char*>(data.data());
  size_t unfed = data.size();
  for (;;) {
    if (zs.avail_in == 0 && unfed > 0) {
      zs.next_in = const_cast<unsigned char*>(next);  // zlib's API predates const
      zs.avail_in = static_cast<uInt>(std::min(unfed, kMaxInputPiece));
      next += zs.avail_in;
      unfed -= zs.avail_in;
    }
    zs.next_out = chunk;
    zs.avail_out = kChunkBytes;
    const int rc = deflate(&zs, unfed == 0 ? Z_FINISH : Z_NO_FLUSH);
    out.append(reinterpret_cast<const char*>(chunk), kChunkBytes - zs.avail_out);
    if (rc == Z_STREAM_END) return out;
    // With fresh output space each round, deflate only fails on a broken stream state.
    if (rc != Z_OK && rc != Z_BUF_ERROR) throw std::bad_alloc();
  }
}

}  // namespace buildtrace
