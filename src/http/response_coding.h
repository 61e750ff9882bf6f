// Answers compressed for clients that ask for it (RFC 9110 sections 8.4 and 12.5.3): an answer of
// a text type (JSON, plain text, HTML, CSS, JavaScript, SVG, CSV) from kMinGzipAnswerBytes to
// kMaxGzipPerRequestBytes goes gzip-compressed (core/gzip_compress.h) to a client whose
// Accept-Encoding accepts gzip, with Content-Encoding: gzip; every answer of those types says
// Vary: Accept-Encoding. Browsers, curl --compressed and Python's requests ask for gzip; a client
// that sends no Accept-Encoding gets the bytes as they are. Reports and drawings are compressed by
// the report service, kept ones once (service/report_service.h); other answers of the work lane
// per request, as the server sends them (http/server.cc; the inline and control lanes, which keep
// health checks answered, send theirs as they are).
#pragma once

#include <string>
#include <string_view>

#include "core/gzip_compress.h"
#include "http/server.h"

namespace buildtrace {

// The request's Accept-Encoding: its field lines joined with ", " (RFC 9110 section 5.3), or ""
// when it has none.
std::string AcceptEncodingOf(const HttpRequest& request);

// Whether `accept_encoding` (a field value as AcceptEncodingOf gives it) lets the answer be
// gzip-compressed: "gzip" or "x-gzip" (any case) with a weight above 0, or "*" with a weight
// above 0 and no entry for gzip, and no weight for "identity" above gzip's. Weights are "q=" with
// at most three decimals (RFC 9110 section 12.4.2); an element that does not parse is ignored, so
// the answer then goes uncompressed at worst. An empty or absent field: no.
bool AcceptsGzip(std::string_view accept_encoding);

// Whether answers of `content_type` (a Content-Type value, parameters allowed) are compressed.
bool IsCompressibleType(std::string_view content_type);

// Compresses `response`'s body for `request`'s client as this file's first lines say, unless the
// response already has a Content-Encoding, its maker chose its coding (ResponseBody's
// ChooseCoding) or it has no body to speak of (1xx, 204, 304). Sets
// Vary: Accept-Encoding on every answer of a compressible type. Keeps the body as it is when its
// gzip form would not be smaller. Thread-safe.
void EncodeForClient(const HttpRequest& request, HttpResponse& response);

}  // namespace buildtrace
