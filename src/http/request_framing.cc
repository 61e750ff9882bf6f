// See request_framing.h.
#include "http/request_framing.h"

#include <boost/beast/core/string.hpp>
#include <string_view>
#include <vector>

namespace buildtrace {
namespace {

namespace http = boost::beast::http;

// Every transfer coding named by the Transfer-Encoding lines, in order, without the empty list
// elements that RFC 9110 §5.6.1 allows; each trimmed of spaces and tabs.
std::vector<std::string> TransferCodings(const HttpRequest& headers) {
  std::vector<std::string> codings;
  auto [first, last] = headers.equal_range(http::field::transfer_encoding);
  for (auto it = first; it != last; ++it) {
    std::string_view rest = it->value();
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      const size_t begin = item.find_first_not_of(" \t");
      if (begin == std::string_view::npos) continue;
      item = item.substr(begin, item.find_last_not_of(" \t") - begin + 1);
      codings.emplace_back(item);
    }
  }
  return codings;
}

FramingError BadRequest(std::string message) { return FramingError{400, std::move(message)}; }

std::optional<FramingError> CheckTransferCodings(const HttpRequest& headers, bool parser_chunked) {
  const std::vector<std::string> codings = TransferCodings(headers);
  if (codings.empty()) return BadRequest("Transfer-Encoding names no transfer coding");
  if (!boost::beast::iequals(codings.back(), "chunked")) {
    return BadRequest("the final transfer coding must be chunked, not \"" +
                      codings.back().substr(0, 100) +
                      "\"; send the body with Transfer-Encoding: chunked or Content-Length "
                      "(compress it with Content-Encoding: gzip)");
  }
  for (size_t i = 0; i + 1 < codings.size(); ++i) {
    if (boost::beast::iequals(codings[i], "chunked")) {
      return BadRequest("Transfer-Encoding names chunked more than once");
    }
    return FramingError{501, "the transfer coding \"" + codings[i].substr(0, 100) +
                                 "\" is not implemented; send the body with "
                                 "Transfer-Encoding: chunked alone (compress it with "
                                 "Content-Encoding: gzip)"};
  }
  if (!parser_chunked) return BadRequest("Transfer-Encoding could not be read");
  return std::nullopt;
}

}  // namespace

std::optional<FramingError> CheckFraming(const HttpRequest& headers, bool parser_chunked) {
  const bool http11 = headers.version() >= 11;
  if (http11 && headers.count(http::field::host) != 1) {
    return BadRequest("an HTTP/1.1 request needs exactly one Host header (RFC 9112 section 3.2)");
  }
  const bool has_coding = headers.count(http::field::transfer_encoding) > 0;
  if (!has_coding) {
    if (parser_chunked) return BadRequest("Transfer-Encoding could not be read");
    return std::nullopt;
  }
  if (!http11) return BadRequest("Transfer-Encoding is not allowed in an HTTP/1.0 request");
  if (headers.count(http::field::content_length) > 0) {
    return BadRequest(
        "a request may have Transfer-Encoding or Content-Length, not both "
        "(RFC 9112 section 6.3)");
  }
  return CheckTransferCodings(headers, parser_chunked);
}

}  // namespace buildtrace
