// gzip compression of answers (RFC 1952) for clients that accept it (Accept-Encoding: gzip,
// http/response_coding.h): a report's JSON shrinks about six-fold at zlib's fastest level, which
// is what moves over a network, or over the loopback of a machine whose cores are busy copying
// (docs/PERFORMANCE.md). Decoding request bodies is http/content_encoding.h's.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace buildtrace {

// zlib's level for answers: the fastest (about 5 ms for a 750 KB report here), within 15 % of
// the default level's size on reports and drawings.
inline constexpr int kAnswerGzipLevel = 1;

// Smaller answers go as they are: a packet's worth, where compressing gains nothing measurable.
inline constexpr size_t kMinGzipAnswerBytes = 1400;
// Larger answers are compressed only when compressed once and kept (a repeated report): one made
// afresh for each request (a stored job of 40 MB) would cost a worker about half a second of CPU
// per request, which a client could ask for again and again.
inline constexpr size_t kMaxGzipPerRequestBytes = size_t{8} << 20;

// One gzip member holding `data`, at kAnswerGzipLevel. Thread-safe: each thread reuses its own
// compressor (zlib's state, about 270 KiB, made at the thread's first call and kept for its life)
// instead of allocating and faulting in a fresh one per answer. Throws std::bad_alloc when zlib
// cannot get memory.
std::string GzipCompress(std::string_view data);

}  // namespace buildtrace
