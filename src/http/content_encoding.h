// Request-body content codings (RFC 9110 section 8.4): a client may send a job body gzip-compressed
// with `Content-Encoding: gzip`, which a million-object state shrinks about five-fold. Decoding
// applies the same size limit as the server applies to the body on the wire, so that a small
// compressed "bomb" cannot make the service inflate gigabytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/large_memory.h"
#include "core/status.h"

namespace buildtrace {

// The codings DecodeBody accepts besides identity, as an Accept-Encoding value for 415 answers.
inline constexpr std::string_view kSupportedContentEncodings = "gzip";

// A decoded body's capacity exceeds its size by at least this much, so that a JSON parser that
// reads past the end (simdjson's padding, 64 bytes) needs no copy.
inline constexpr size_t kDecodedBodyPadding = 64;

// Decodes `body` according to `content_encoding`, the value of the Content-Encoding header
// (empty when the header is absent; several header lines joined with ", ").
//
// - "" or "identity": `body` is returned as it is (no copy, no padding added).
// - "gzip" or "x-gzip" (any case, surrounding blanks ignored): one gzip stream or several
//   concatenated members, inflated into a string with kDecodedBodyPadding spare bytes of capacity.
//   Anything after the last member that is not another member is an error.
// - anything else, including lists such as "gzip, br": kInvalidArgument, reason
//   "unsupported_encoding" (answered 415 by error_response.cc).
//
// Errors: kTooLarge, reason "body_too_large", as soon as the decoded body would exceed
// `max_decoded_bytes` (for identity too). Inflating stops there, so work and memory are bounded
// by the limit, not by what the stream claims: the output's capacity never exceeds
// max_decoded_bytes + kDecodedBodyPadding (while it grows, the old buffer lives until the copy
// is made), besides a 64 KiB chunk and zlib's state of about 40 KiB.
// kInvalidArgument, reason "bad_encoding", for a corrupt, truncated or trailing-garbage stream.
// Thread-safe: no shared state.
Result<std::string> DecodeBody(std::string_view content_encoding, std::string body,
                               uint64_t max_decoded_bytes);
// The same for a body received into padded bytes (a request's): an identity body is returned as
// it is, a decoded one in a buffer of its own.
Result<InputBytes> DecodeBody(std::string_view content_encoding, InputBytes body,
                              uint64_t max_decoded_bytes);

// `s` without the optional whitespace (blanks and tabs, RFC 9110 section 5.6.3) at either end:
// for the parts of coding fields (Content-Encoding here, Accept-Encoding in response_coding.cc).
std::string_view TrimOws(std::string_view s);

}  // namespace buildtrace
