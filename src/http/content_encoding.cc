// Content-Encoding decoding with zlib. Output is inflated in fixed chunks and appended only after
// the limit check, so a bomb stops after at most max_decoded_bytes of output.
#include "http/content_encoding.h"

#include <zlib.h>

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <cstdint>
#include <memory>

#include "core/zlib_input.h"

namespace buildtrace {
namespace {

constexpr size_t kChunkBytes = 64 << 10;

Status TooLargeBody(std::string_view which, uint64_t max_decoded_bytes) {
  return TooLarge(std::string(which) + " exceeds the limit of " +
                  std::to_string(max_decoded_bytes) +
                  " bytes; split the jobs into several requests or raise --max-body")
      .WithReason("body_too_large");
}

Status BadEncoding(const std::string& what) {
  return InvalidArgument("the gzip request body " + what +
                         "; send one complete gzip stream, or the body uncompressed without "
                         "Content-Encoding")
      .WithReason("bad_encoding");
}

// The size a gzip stream announces in its last four bytes (ISIZE, the last member's size modulo
// 2^32), used only as a first guess for the output's capacity: a wrong or hostile value costs at
// most some regrowing, never more memory than the limit.
uint64_t AnnouncedSize(std::string_view body) {
  if (body.size() < 18) return 0;  // smaller than any gzip member
  const auto* p = reinterpret_cast<const unsigned char*>(body.data() + body.size() - 4);
  return uint64_t{p[0]} | uint64_t{p[1]} << 8 | uint64_t{p[2]} << 16 | uint64_t{p[3]} << 24;
}

// The output buffer: its capacity grows geometrically but never past `capacity_limit`, and each
// allocation is exact (std::string::reserve may round a small increase up to double the old
// capacity, which could overshoot the limit; a fresh string's reserve does not).
class BoundedOutput {
 public:
  BoundedOutput(uint64_t first_guess, uint64_t max_bytes)
      : max_bytes_(max_bytes),
        capacity_limit_(max_bytes > SIZE_MAX - kDecodedBodyPadding
                            ? SIZE_MAX
                            : max_bytes + kDecodedBodyPadding) {
    Reallocate(static_cast<size_t>(std::min<uint64_t>(first_guess, max_bytes)) +
               kDecodedBodyPadding);
  }

  // False, appending nothing, if the output would exceed the limit.
  bool Append(const char* data, size_t size) {
    if (size > max_bytes_ - out_.size()) return false;
    const size_t needed = out_.size() + size + kDecodedBodyPadding;
    if (needed > out_.capacity()) {
      const size_t doubled = out_.capacity() > SIZE_MAX / 2 ? SIZE_MAX : 2 * out_.capacity();
      Reallocate(std::min(std::max(needed, doubled), capacity_limit_));
    }
    out_.append(data, size);
    return true;
  }

  std::string Take() && { return std::move(out_); }

 private:
  void Reallocate(size_t capacity) {
    std::string bigger;
    bigger.reserve(capacity);
    bigger.append(out_);
    out_.swap(bigger);
  }

  uint64_t max_bytes_;
  size_t capacity_limit_;
  std::string out_;
};

// Owns a z_stream set up for gzip decoding.
class GzipInflater {
 public:
  GzipInflater() { ok_ = inflateInit2(&stream_, 16 + MAX_WBITS) == Z_OK; }
  ~GzipInflater() {
    if (ok_) inflateEnd(&stream_);
  }
  GzipInflater(const GzipInflater&) = delete;
  GzipInflater& operator=(const GzipInflater&) = delete;

  bool ok() const { return ok_; }
  z_stream& stream() { return stream_; }

 private:
  z_stream stream_{};
  bool ok_ = false;
};

Result<std::string> Gunzip(std::string_view body, uint64_t max_decoded_bytes) {
  if (body.empty()) return BadEncoding("is empty");
  GzipInflater inflater;
  if (!inflater.ok()) return Internal("cannot start zlib's decompressor (out of memory?)");
  z_stream& zs = inflater.stream();
  BoundedOutput out(AnnouncedSize(body), max_decoded_bytes);
  auto chunk = std::make_unique<char[]>(kChunkBytes);
  ZlibInput input(body);
  for (;;) {
    input.Refill(zs);
    zs.next_out = reinterpret_cast<unsigned char*>(chunk.get());
    zs.avail_out = kChunkBytes;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const size_t produced = kChunkBytes - zs.avail_out;
    if (produced > 0 && !out.Append(chunk.get(), produced)) {
      return TooLargeBody("the decompressed request body", max_decoded_bytes);
    }
    if (rc == Z_OK) continue;
    if (rc == Z_STREAM_END) {
      // The input left is contiguous: what zlib holds followed by what was not fed yet.
      const size_t left = zs.avail_in + input.unfed();
      if (left == 0) return std::move(out).Take();
      if (left >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
        inflateReset(&zs);  // another member (what `cat a.gz b.gz` makes)
        continue;
      }
      return BadEncoding("has " + std::to_string(left) +
                         " bytes of trailing data after the end of the gzip stream");
    }
    if (rc == Z_BUF_ERROR) {
      // No progress with input exhausted (output space is fresh each round): the stream stops
      // before its end.
      return BadEncoding("is truncated: it ends before the end of the gzip stream");
    }
    if (rc == Z_MEM_ERROR) return Internal("zlib ran out of memory decompressing the request body");
    return BadEncoding(std::string("is corrupt (zlib: ") +
                       (zs.msg != nullptr ? zs.msg : "invalid data") + ")");
  }
}

}  // namespace

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

namespace {

// Both DecodeBody overloads: an identity body is returned as it is, a decoded one as a Body made
// of the inflated string (which has the padding already, so an InputBytes takes it over).
template <typename Body>
Result<Body> Decode(std::string_view content_encoding, Body body, uint64_t max_decoded_bytes) {
  namespace beast = boost::beast;
  const std::string_view coding = TrimOws(content_encoding);
  if (coding.empty() || beast::iequals(coding, "identity")) {
    // The server enforces the limit on the wire; checked again so the contract holds everywhere.
    if (body.size() > max_decoded_bytes) {
      return TooLargeBody("the request body", max_decoded_bytes);
    }
    return body;
  }
  if (beast::iequals(coding, "gzip") || beast::iequals(coding, "x-gzip")) {
    Result<std::string> inflated =
        Gunzip(std::string_view(body.data(), body.size()), max_decoded_bytes);
    if (!inflated.ok()) return inflated.status();
    return Body(std::move(*inflated));
  }
  return InvalidArgument("Content-Encoding \"" + std::string(coding.substr(0, 100)) +
                         "\" is not supported; send the body uncompressed or with "
                         "Content-Encoding: gzip (a single coding)")
      .WithReason("unsupported_encoding");
}

}  // namespace

Result<std::string> DecodeBody(std::string_view content_encoding, std::string body,
                               uint64_t max_decoded_bytes) {
  return Decode(content_encoding, std::move(body), max_decoded_bytes);
}

Result<InputBytes> DecodeBody(std::string_view content_encoding, InputBytes body,
                              uint64_t max_decoded_bytes) {
  return Decode(content_encoding, std::move(body), max_decoded_bytes);
}

}  // namespace buildtrace
