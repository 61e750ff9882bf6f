// The body of the server's answers (HttpResponse): a string of its own, as Beast's string_body,
// or bytes shared with others and sent without a copy (a rendered report kept in memory,
// service/answer_cache.h). Copying a kept 750 KB answer into each response, and the page faults of
// the fresh buffer it went into, were half of the server's CPU per repeated report
// (docs/PERFORMANCE.md).
#pragma once

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/optional/optional.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "core/shared_text.h"
#include "http/bytes_writer.h"

namespace buildtrace {

struct ResponseBody {
  // The body's own string (everything std::string offers, as string_body's value), or, after
  // Share, bytes shared with others: then the own string is empty and text() is what is sent.
  // Code that inspects an answer reads text(); body() as a string sees only the own bytes.
  class value_type : public std::string {
   public:
    using std::string::string;
    value_type() = default;
    value_type(std::string own) : std::string(std::move(own)) {}  // NOLINT: as string_body

    value_type& operator=(std::string own) {
      std::string::operator=(std::move(own));
      shared_.reset();
      coding_chosen_ = false;
      return *this;
    }
    value_type& operator=(const char* own) { return *this = std::string(own); }

    // Sends `bytes` (never null) from now on, without copying them.
    void Share(SharedText bytes) {
      clear();
      shrink_to_fit();
      shared_ = std::move(bytes);
    }
    // What the answer sends.
    std::string_view text() const {
      return shared_ ? std::string_view(*shared_) : std::string_view(*this);
    }
    // Copies shared bytes into the own string, for code that wants the body as a string (tests).
    void Own() {
      if (!shared_) return;
      SharedText bytes = std::move(shared_);
      std::string::assign(*bytes);
    }

    // Says that whoever made the answer chose its content coding for this client already (a
    // report the service compressed, or found not worth compressing): the server sends it as it
    // is (http/response_coding.h).
    void ChooseCoding() { coding_chosen_ = true; }
    bool coding_chosen() const { return coding_chosen_; }

   private:
    SharedText shared_;
    bool coding_chosen_ = false;
  };

  static std::uint64_t size(const value_type& body) { return body.text().size(); }

  // A response that is read (a client's) fills the own string, as string_body does.
  using reader = boost::beast::http::string_body::reader;

  class writer : public BytesWriter {
   public:
    template <bool kIsRequest, class Fields>
    writer(const boost::beast::http::header<kIsRequest, Fields>&, const value_type& body)
        : BytesWriter(body.text()) {}
  };
};

}  // namespace buildtrace
