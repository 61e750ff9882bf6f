// The body of the server's requests (HttpRequest): bytes in a GrowingBytes (core/large_memory.h)
// instead of Beast's std::string. A 39 MB body received into a string grew by doubling, each step
// copying what had arrived into fresh pages, and each read's window was zero-filled first: about a
// third of the server's cycles in a 1M-object POST (docs/PERFORMANCE.md). Here a large body grows
// by remapping, its window is never filled, and the parser takes the bytes over as they are.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional/optional.hpp>
#include <cstdint>
#include <string_view>
#include <utility>

#include "core/large_memory.h"
#include "http/bytes_writer.h"

namespace buildtrace {

struct RequestBody {
  using value_type = GrowingBytes;

  static std::uint64_t size(const value_type& body) { return body.size(); }

  // What the HTTP parser reads into the body (a chunked one; the server reads a body of known
  // length itself): appended, the buffer doubling as it must grow.
  class reader {
   public:
    template <bool kIsRequest, class Fields>
    reader(boost::beast::http::header<kIsRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<std::uint64_t>&, boost::beast::error_code& ec) { ec = {}; }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::beast::error_code& ec) {
      ec = {};
      std::size_t n = 0;
      for (auto it = boost::asio::buffer_sequence_begin(buffers);
           it != boost::asio::buffer_sequence_end(buffers); ++it) {
        const boost::asio::const_buffer piece(*it);
        body_.Append(std::string_view(static_cast<const char*>(piece.data()), piece.size()));
        n += piece.size();
      }
      return n;
    }

    void finish(boost::beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };

  // A request written out (a test's client): the whole body as one buffer.
  class writer : public BytesWriter {
   public:
    template <bool kIsRequest, class Fields>
    writer(const boost::beast::http::header<kIsRequest, Fields>&, const value_type& body)
        : BytesWriter(body.view()) {}
  };
};

}  // namespace buildtrace
