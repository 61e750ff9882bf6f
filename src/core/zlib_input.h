// A zlib stream's input given in pieces its counts can hold (zlib's avail_in is an unsigned int,
// so a body or an answer over 4 GiB cannot be handed over at once). Shared by the request-body
// decoder (http/content_encoding.cc) and the answer compressor (core/gzip_compress.cc).
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace buildtrace {

inline constexpr size_t kMaxZlibInputPiece = size_t{1} << 30;

class ZlibInput {
 public:
  // `data` must outlive this object and the stream it feeds.
  explicit ZlibInput(std::string_view data, size_t max_piece = kMaxZlibInputPiece)
      : next_(reinterpret_cast<const unsigned char*>(data.data())),
        unfed_(data.size()),
        max_piece_(max_piece) {}

  // Once `zs` has used up its input, hands it the next piece of at most max_piece bytes; does
  // nothing while it still has input or when everything was handed over.
  void Refill(z_stream& zs) {
    if (zs.avail_in != 0 || unfed_ == 0) return;
    zs.next_in = const_cast<unsigned char*>(next_);  // zlib's API predates const
    zs.avail_in = static_cast<uInt>(std::min(unfed_, max_piece_));
    next_ += zs.avail_in;
    unfed_ -= zs.avail_in;
  }

  // The bytes not handed to the stream yet; they follow what it holds (zs.next_in) directly.
  size_t unfed() const { return unfed_; }

 private:
  const unsigned char* next_;
  size_t unfed_;
  size_t max_piece_;
};

}  // namespace buildtrace
