// The HTTP client on Boost.Beast. Each step is an asynchronous operation with a deadline that
// runs the client's private io_context to completion, which gives a blocking API that can never
// hang: tcp_stream closes the socket when its deadline passes and the handler sees a timeout.
#include "client/http_client.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <charconv>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace buildtrace {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Request = http::request<http::string_body>;

constexpr std::uint64_t kBodyLimit = std::uint64_t{1} << 30;  // 1 GiB
// Beast keeps a header's name and value in 16-bit lengths that count 2 bytes of punctuation, and
// throws std::length_error past 65 533 bytes; such a header is refused as an error value instead.
constexpr size_t kMaxFieldBytes = 65'533;

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool HasLineBreak(std::string_view text) {
  return text.find_first_of("\r\n") != std::string_view::npos;
}

std::string HostPort(const HttpEndpoint& endpoint) {
  const bool ipv6 = endpoint.host.find(':') != std::string::npos;
  std::string host = ipv6 ? "[" + endpoint.host + "]" : endpoint.host;
  return host + ":" + std::to_string(endpoint.port);
}

// The size of `request` on the wire: its header block (start line, fields, blank line) and its
// body, which prepare_payload framed with Content-Length.
uint64_t RequestBytes(const Request& request) {
  std::ostringstream header;
  header << request.base();
  return header.str().size() + request.body().size();
}

// Errors that mean the server closed a kept-alive connection before reading our request;
// sending it again on a new connection is then safe.
bool IsClosedByPeer(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted || ec == asio::error::not_connected;
}

Result<uint16_t> ParsePort(std::string_view text, std::string_view url) {
  unsigned value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value == 0 || value > 65535) {
    return InvalidArgument("URL \"" + std::string(url) + "\" has port \"" + std::string(text) +
                           "\"; write a number from 1 to 65535, e.g. http://127.0.0.1:8080");
  }
  return static_cast<uint16_t>(value);
}

// Splits "host", "host:port", "[v6]" or "[v6]:port" into host and port text.
Result<std::pair<std::string_view, std::string_view>> SplitAuthority(std::string_view authority,
                                                                     std::string_view url) {
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgument("URL \"" + std::string(url) + "\" has an unclosed '[' in its host");
    }
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) {
      return InvalidArgument("URL \"" + std::string(url) + "\" has text after its host");
    }
    port = rest.empty() ? std::string_view("80") : rest.substr(1);
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  } else {
    port = "80";
  }
  return std::make_pair(host, port);
}

}  // namespace

Result<HttpEndpoint> ParseHttpUrl(std::string_view url) {
  const std::string quoted = "URL \"" + std::string(url) + "\"";
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return InvalidArgument(quoted + " has no scheme; write it as http://host:port");
  }
  const std::string scheme = Lower(url.substr(0, scheme_end));
  if (scheme != "http") {
    return InvalidArgument(quoted + " uses \"" + scheme +
                           "\", which is not supported; use http://host:port");
  }
  std::string_view authority = url.substr(scheme_end + 3);
  if (const size_t slash = authority.find('/'); slash != std::string_view::npos) {
    if (authority.substr(slash) != "/") {
      return InvalidArgument(quoted + " has a path; give only http://host:port");
    }
    authority = authority.substr(0, slash);
  }
  if (authority.find_first_of("@?# \t\r\n") != std::string_view::npos) {
    return InvalidArgument(quoted + " has characters not allowed in host:port");
  }
  auto split = SplitAuthority(authority, url);
  if (!split.ok()) return split.status();
  auto [host, port_text] = *split;
  if (host.empty()) {
    return InvalidArgument(quoted + " has no host; write it as http://host:port");
  }
  auto port = ParsePort(port_text, url);
  if (!port.ok()) return port.status();
  return HttpEndpoint{std::string(host), *port};
}

// One TCP connection plus the io_context that drives it. Each public call performs one step
// and returns the error of that step.
class HttpClient::Connection {
 public:
  explicit Connection(std::chrono::milliseconds timeout) : timeout_(timeout), stream_(io_) {}

  bool is_open() const { return stream_.socket().is_open(); }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    buffer_.clear();
  }

  beast::error_code Open(const HttpEndpoint& endpoint) {
    Close();
    beast::error_code ec;
    std::vector<tcp::endpoint> endpoints;
    if (auto address = asio::ip::make_address(endpoint.host, ec); !ec) {
      endpoints.emplace_back(address, endpoint.port);
    } else if (ec = Resolve(endpoint, endpoints); ec) {
      return ec;
    }
    stream_.expires_after(timeout_);
    return RunStep([&](auto handler) { stream_.async_connect(endpoints, std::move(handler)); });
  }

  beast::error_code Write(Request& request, const UploadProgress& progress) {
    stream_.expires_after(timeout_);
    if (!progress) {
      return RunStep(
          [&](auto handler) { http::async_write(stream_, request, std::move(handler)); });
    }
    // Piece by piece, to report each; the deadline covers the whole request, as above.
    const uint64_t total = RequestBytes(request);
    uint64_t written = 0;
    http::request_serializer<http::string_body> serializer(request);
    while (!serializer.is_done()) {
      size_t bytes = 0;
      beast::error_code ec = RunStep([&](auto handler) {
        http::async_write_some(
            stream_, serializer,
            [&bytes, handler = std::move(handler)](beast::error_code e, size_t n) mutable {
              bytes = n;
              handler(e);
            });
      });
      if (ec) return ec;
      written += bytes;
      if (!serializer.is_done()) progress(std::min(written, total), total);
    }
    progress(total, total);
    return {};
  }

  beast::error_code Read(HttpResponse& out) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    stream_.expires_after(timeout_);
    beast::error_code ec = RunStep(
        [&](auto handler) { http::async_read(stream_, buffer_, parser, std::move(handler)); });
    if (ec) return ec;
    http::response<http::string_body> response = parser.release();
    out.status = response.result_int();
    for (const auto& field : response) {
      std::string& value = out.headers[Lower(field.name_string())];
      value += value.empty() ? std::string(field.value()) : ", " + std::string(field.value());
    }
    if (auto it = out.headers.find("content-type"); it != out.headers.end()) {
      out.content_type = it->second;
    }
    out.body = std::move(response.body());
    if (!response.keep_alive()) Close();
    return {};
  }

 private:
  // Starts one asynchronous operation and runs the io_context until its handler has run. The
  // stream's deadline guarantees that happens.
  template <typename Start>
  beast::error_code RunStep(Start start) {
    beast::error_code result = asio::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    io_.restart();
    io_.run();
    return result;
  }

  // Name lookup cannot be given a deadline through the stream, so it runs for at most the
  // timeout; the handler owns its state because it may complete after we gave up.
  beast::error_code Resolve(const HttpEndpoint& endpoint, std::vector<tcp::endpoint>& out) {
    struct Lookup {
      bool done = false;
      beast::error_code ec;
      std::vector<tcp::endpoint> endpoints;
    };
    auto lookup = std::make_shared<Lookup>();
    tcp::resolver resolver(io_);
    resolver.async_resolve(endpoint.host, std::to_string(endpoint.port),
                           [lookup](beast::error_code ec, tcp::resolver::results_type results) {
                             lookup->done = true;
                             lookup->ec = ec;
                             for (const auto& entry : results) {
                               lookup->endpoints.push_back(entry.endpoint());
                             }
                           });
    io_.restart();
    io_.run_for(timeout_);
    if (!lookup->done) {
      resolver.cancel();
      return beast::error::timeout;
    }
    out = std::move(lookup->endpoints);
    return lookup->ec;
  }

  std::chrono::milliseconds timeout_;
  asio::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

namespace {

// The steps of one exchange, named for error messages.
enum class Step { kConnect, kSend, kReceive };

Status TransportError(const HttpEndpoint& endpoint, std::chrono::milliseconds timeout, Step step,
                      const beast::error_code& ec) {
  const std::string where = HostPort(endpoint);
  if (ec == beast::error::timeout) {
    static constexpr const char* kVerb[] = {"accept a connection", "take the request", "answer"};
    return Unavailable(where + " did not " + kVerb[static_cast<int>(step)] + " within " +
                       std::to_string(timeout.count()) +
                       " ms; check that the server is running and not overloaded");
  }
  if (step == Step::kConnect) {
    return Unavailable("cannot connect to " + where + " (" + ec.message() +
                       "); check that the server is running at that address");
  }
  const char* doing = step == Step::kSend ? "sending the request" : "reading the answer";
  return Unavailable("connection to " + where + " failed while " + doing + " (" + ec.message() +
                     "); check the server's log and retry");
}

Result<Request> BuildRequest(const HttpEndpoint& endpoint, std::string_view method,
                             std::string_view target, std::string body,
                             const std::vector<std::pair<std::string, std::string>>& headers) {
  if (method.empty() || method.find_first_of(" \t\r\n") != std::string_view::npos) {
    return InvalidArgument("HTTP method \"" + std::string(method) + "\" is not a single token");
  }
  if (!target.starts_with('/') || target.find_first_of(" \t\r\n") != std::string_view::npos) {
    return InvalidArgument("request target \"" + std::string(target) +
                           "\" must start with '/' and contain no spaces");
  }
  Request request;
  request.version(11);
  request.method_string(method);
  request.target(target);
  request.set(http::field::host, HostPort(endpoint));
  request.set(http::field::user_agent, "buildtrace");
  for (const auto& [name, value] : headers) {
    if (name.empty() || HasLineBreak(name) || HasLineBreak(value)) {
      return InvalidArgument("header \"" + name + "\" has an empty name or a line break");
    }
    if (name.size() > kMaxFieldBytes || value.size() > kMaxFieldBytes) {
      return InvalidArgument("header \"" + name.substr(0, 64) + "\" is over " +
                             std::to_string(kMaxFieldBytes) +
                             " bytes, more than one header field can hold; shorten it");
    }
    request.set(name, value);
  }
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

}  // namespace

HttpClient::HttpClient(HttpEndpoint endpoint, std::chrono::milliseconds timeout)
    : endpoint_(std::move(endpoint)),
      timeout_(timeout),
      connection_(std::make_unique<Connection>(timeout)) {}

HttpClient::~HttpClient() = default;

Result<HttpResponse> HttpClient::Get(std::string_view target,
                                     std::vector<std::pair<std::string, std::string>> headers) {
  return Send("GET", target, "", std::move(headers));
}

Result<HttpResponse> HttpClient::Post(std::string_view target, std::string body,
                                      std::string_view content_type,
                                      std::vector<std::pair<std::string, std::string>> headers) {
  headers.insert(headers.begin(), {"Content-Type", std::string(content_type)});
  return Send("POST", target, std::move(body), std::move(headers));
}

Result<HttpResponse> HttpClient::Send(std::string_view method, std::string_view target,
                                      std::string body,
                                      std::vector<std::pair<std::string, std::string>> headers) {
  auto request = BuildRequest(endpoint_, method, target, std::move(body), headers);
  if (!request.ok()) return request.status();
  // At most two attempts: the second only when a reused connection proved to be closed.
  for (int attempt = 0;; ++attempt) {
    const bool reused = connection_->is_open();
    if (!reused) {
      if (auto ec = connection_->Open(endpoint_); ec) {
        connection_->Close();
        return TransportError(endpoint_, timeout_, Step::kConnect, ec);
      }
    }
    Step step = Step::kSend;
    beast::error_code ec = connection_->Write(*request, upload_progress_);
    HttpResponse response;
    if (!ec) {
      step = Step::kReceive;
      ec = connection_->Read(response);
    }
    if (!ec) return response;
    connection_->Close();
    if (!reused || attempt > 0 || !IsClosedByPeer(ec)) {
      return TransportError(endpoint_, timeout_, step, ec);
    }
  }
}

}  // namespace buildtrace
