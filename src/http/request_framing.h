// How a request's body is delimited, checked against RFC 9112 once its headers have arrived and
// before any body byte is read: a request whose framing is unclear is refused and its connection
// closed, so that no byte after its headers can ever run as another request (request smuggling).
#pragma once

#include <optional>
#include <string>

#include "http/server.h"

namespace buildtrace {

struct FramingError {
  unsigned status = 400;  // 400, or 501 for a transfer coding the server does not implement
  std::string message;    // one sentence: what is wrong and what to send instead
};

// nullopt when the request's framing is sound. Refused (400): an HTTP/1.1 request without
// exactly one Host header (§3.2; HTTP/1.0 may omit it); Transfer-Encoding in an HTTP/1.0 request
// (§6.1); Transfer-Encoding together with Content-Length (§6.3); a list of transfer codings
// whose last is not `chunked`, that is empty, or that has `chunked` twice (§6.3, §7); any
// disagreement with the HTTP parser (`parser_chunked`: whether it will decode the body as
// chunked). Refused (501): a coding other than `chunked` before the final `chunked` (§6.1).
std::optional<FramingError> CheckFraming(const HttpRequest& headers, bool parser_chunked);

}  // namespace buildtrace
