// The Beast body writer of both of the server's body types (http/request_body.h,
// http/response_body.h): the body's bytes as one buffer, sent without a copy.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/optional/optional.hpp>
#include <string_view>
#include <utility>

namespace buildtrace {

class BytesWriter {
 public:
  using const_buffers_type = boost::asio::const_buffer;

  explicit BytesWriter(std::string_view bytes) : bytes_(bytes) {}

  void init(boost::beast::error_code& ec) { ec = {}; }

  // The whole body as one buffer, and nothing after it.
  boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
    ec = {};
    return {{const_buffers_type(bytes_.data(), bytes_.size()), false}};
  }

 private:
  std::string_view bytes_;
};

}  // namespace buildtrace
