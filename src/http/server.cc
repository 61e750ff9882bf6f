// Beast server: one Session per connection, a strand per session, handlers on a worker pool.
#include "http/server.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>

#include "service/log.h"

namespace buildtrace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {
class Session;
}  // namespace

class HttpServer::Impl {
 public:
  Impl(ServerOptions options, RequestHandler handler, ErrorResponder errors)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        errors_(std::move(errors)),
        workers_(options_.worker_threads > 0
                     ? options_.worker_threads
                     : std::max(2u, std::thread::hardware_concurrency())),
        acceptor_(ioc_),
        signals_(ioc_, SIGINT, SIGTERM),
        shutdown_deadline_(ioc_) {}

  Status Listen();
  void Run();
  void Stop() {
    net::post(ioc_, [this] { BeginShutdown(); });
  }

  // Once true, sessions answer the request they are reading and then close.
  bool stopping() const { return stopping_.load(); }
  // Every open connection registers here: to be counted against max_connections and to be
  // told when the server stops. Thread-safe.
  uint64_t AddSession(std::weak_ptr<Session> session);
  void RemoveSession(uint64_t id);

  const ServerOptions& options() const { return options_; }
  const RequestHandler& handler() const { return handler_; }
  const ErrorResponder& errors() const { return errors_; }
  net::thread_pool& workers() { return workers_; }
  uint16_t port() const { return port_; }

 private:
  void Accept();
  void BeginShutdown();
  size_t open_sessions();

  ServerOptions options_;
  RequestHandler handler_;
  ErrorResponder errors_;
  // Declared before ioc_: sessions destroyed with the io_context's pending work unregister here.
  std::mutex sessions_mutex_;
  std::map<uint64_t, std::weak_ptr<Session>> sessions_;  // guarded by sessions_mutex_
  uint64_t next_session_id_ = 0;                         // guarded by sessions_mutex_
  std::atomic<bool> stopping_{false};                    // set under sessions_mutex_
  net::io_context ioc_;
  net::thread_pool workers_;
  tcp::acceptor acceptor_;
  net::signal_set signals_;
  net::steady_timer shutdown_deadline_;
  uint16_t port_ = 0;
};

namespace {

// Spare capacity left after a request body, for parsers that read past the end (simdjson).
constexpr size_t kBodyPadding = 64;
// After an error answer the server reads (and drops) what the client still sends, for up to this
// long or this many bytes, before closing: closing a socket with unread data resets the
// connection, and the client may then lose the answer.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr size_t kLingerBytes = 1 << 20;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl& server)
      : stream_(std::move(socket)), server_(server) {}
  ~Session() {
    if (id_) server_.RemoveSession(*id_);
  }

  // Counts the connection as open, until the session is destroyed. Once, before the rest.
  void Register() { id_ = server_.AddSession(weak_from_this()); }
  // Start() and Reject() run on the session's strand, one of them once.
  void Start() { ReadRequest(); }
  // Answers 503 at once: the server has as many connections as it accepts.
  void Reject() {
    WriteError(503, "too_many_connections",
               "the server already has " + std::to_string(server_.options().max_connections) +
                   " open connections; retry later or raise --max-connections");
  }
  // Called once when the server stops, from any thread: a connection waiting for a request
  // closes now; one whose request has arrived finishes it first (see Write and ReadRequest).
  void OnServerStopping() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->waiting_for_request_) self->Close();
    });
  }
  net::any_io_executor executor() { return stream_.get_executor(); }

 private:
  // The idle timeout runs until the first byte of a request, the header timeout from there to
  // the end of the headers, so a client that trickles its headers is cut off early.
  void ReadRequest() {
    if (server_.stopping()) return Close();
    waiting_for_request_ = true;
    parser_.emplace();
    parser_->body_limit(server_.options().max_body_bytes);
    parser_->header_limit(server_.options().max_header_bytes);
    if (buffer_.size() > 0) return ReadHeader();  // a pipelined request has begun already
    stream_.expires_after(server_.options().idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->OnReadError(ec);
                              self->buffer_.commit(n);
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    stream_.expires_after(server_.options().header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t) {
    if (ec) return OnReadError(ec);
    waiting_for_request_ = false;
    const HttpRequest& req = parser_->get();
    if (req.target().size() > server_.options().max_url_bytes) {
      return WriteError(414, "uri_too_long",
                        "the request target (URL) exceeds " +
                            std::to_string(server_.options().max_url_bytes) +
                            " bytes; shorten it or raise --max-url");
    }
    if (auto length = parser_->content_length();
        length && *length > server_.options().max_body_bytes) {
      return TooLarge();
    }
    stream_.expires_after(server_.options().request_timeout);
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      // curl waits a second for this before sending a large body.
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(kContinue),
                       [self = shared_from_this()](beast::error_code wec, size_t) {
                         if (wec) return self->Close();
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (auto length = parser_->content_length(); length && !parser_->chunked()) {
      return ReadBodyDirect(*length);
    }
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnBody, shared_from_this()));
  }

  // A body of known length goes from the socket straight into the request's string, in reads as
  // large as the kernel has data for: several times faster than the parser's 64 KiB steps and
  // copies. The string gets room for the padding a SIMD JSON parser reads past the end.
  void ReadBodyDirect(uint64_t length) {
    auto request = std::make_shared<HttpRequest>(parser_->release());
    std::string& body = request->body();
    body.reserve(length + kBodyPadding);
    body.resize(length);
    const size_t buffered = std::min<size_t>(length, buffer_.size());
    net::buffer_copy(net::buffer(body.data(), buffered), buffer_.data());
    buffer_.consume(buffered);
    net::async_read(stream_, net::buffer(body.data() + buffered, length - buffered),
                    [self = shared_from_this(), request](beast::error_code ec, size_t) {
                      if (ec) return self->OnReadError(ec);
                      self->Dispatch(request);
                    });
  }

  void OnBody(beast::error_code ec, size_t) {
    if (ec) return OnReadError(ec);
    Dispatch(std::make_shared<HttpRequest>(parser_->release()));
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == beast::error::timeout || ec == net::error::connection_reset ||
        ec == net::error::operation_aborted) {
      return Close();
    }
    if (ec == http::error::body_limit) return TooLarge();
    if (ec == http::error::header_limit) {
      return WriteError(431, "headers_too_large",
                        "the request headers exceed " +
                            std::to_string(server_.options().max_header_bytes) + " bytes");
    }
    WriteError(400, "bad_request", "the request is not valid HTTP/1.1: " + ec.message());
  }

  void TooLarge() {
    WriteError(413, "body_too_large",
               "the request body exceeds the limit of " +
                   std::to_string(server_.options().max_body_bytes) +
                   " bytes; split the jobs into several requests or raise --max-body");
  }

  void WriteError(unsigned status, std::string code, std::string message) {
    HttpResponse res = server_.errors()(status, std::move(code), std::move(message));
    res.keep_alive(false);
    linger_ = true;
    Write(std::move(res));
  }

  void Dispatch(std::shared_ptr<HttpRequest> request) {
    net::post(server_.workers(), [self = shared_from_this(), request] {
      const auto start = std::chrono::steady_clock::now();
      HttpResponse res;
      try {
        res = self->server_.handler()(*request);
      } catch (const std::exception& e) {
        // A handler bug must not take the process down; the log says what happened.
        LogError(std::string("handler threw: ") + e.what());
        res = self->server_.errors()(500, "internal", "internal error; see the server log");
      }
      res.keep_alive(request->keep_alive() && res.keep_alive());
      LogAccess(*request, res, start);
      net::post(self->stream_.get_executor(),
                [self, res = std::move(res)]() mutable { self->Write(std::move(res)); });
    });
  }

  static void LogAccess(const HttpRequest& req, const HttpResponse& res,
                        std::chrono::steady_clock::time_point start) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    std::string target(req.target().substr(0, 200));
    for (char& c : target) {
      if (static_cast<unsigned char>(c) < 0x20) c = '?';
    }
    LogInfo(std::string(req.method_string()) + " " + target + " " +
            std::to_string(res.result_int()) + " " + std::to_string(res.body().size()) + "B " +
            std::to_string(us / 1000) + "." + std::to_string(us % 1000 / 100) + "ms");
  }

  void Write(HttpResponse res) {
    if (ResponseCounters* counters = server_.options().counters) counters->Count(res.result_int());
    response_ = std::make_shared<HttpResponse>(std::move(res));
    if (server_.stopping()) response_->keep_alive(false);
    response_->prepare_payload();
    stream_.expires_after(server_.options().request_timeout);
    http::async_write(stream_, *response_,
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    const bool keep_alive = response_->keep_alive();
    response_.reset();
    if (ec) return Close();
    if (!keep_alive) return linger_ ? Linger() : Close();
    ReadRequest();
  }

  void Linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTime);
    Drain(0);
  }

  void Drain(size_t drained) {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(64 << 10), [self = shared_from_this(), drained](
                                                          beast::error_code ec, size_t n) {
      if (ec || drained + n > kLingerBytes) return self->Close();
      self->Drain(drained + n);
    });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<HttpResponse> response_;
  HttpServer::Impl& server_;
  std::optional<uint64_t> id_;        // in the server's list of sessions
  bool waiting_for_request_ = false;  // no request's headers have arrived since the last answer
  bool linger_ = false;               // the answer is an error: drain the socket before closing
};

}  // namespace

uint64_t HttpServer::Impl::AddSession(std::weak_ptr<Session> session) {
  std::lock_guard lock(sessions_mutex_);
  const uint64_t id = next_session_id_++;
  sessions_.emplace(id, std::move(session));
  return id;
}

void HttpServer::Impl::RemoveSession(uint64_t id) {
  std::lock_guard lock(sessions_mutex_);
  sessions_.erase(id);
  if (stopping_ && sessions_.empty()) ioc_.stop();
}

size_t HttpServer::Impl::open_sessions() {
  std::lock_guard lock(sessions_mutex_);
  return sessions_.size();
}

// Runs on the io_context. The deadline bounds the wait for connections that do not finish.
void HttpServer::Impl::BeginShutdown() {
  if (stopping_) return;
  beast::error_code ignored;
  acceptor_.close(ignored);
  signals_.cancel(ignored);
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard lock(sessions_mutex_);
    stopping_ = true;
    if (sessions_.empty()) return ioc_.stop();
    for (auto& [id, weak] : sessions_) {
      if (auto session = weak.lock()) open.push_back(std::move(session));
    }
  }
  LogInfo("stopping: no new connections; finishing the requests of " +
          std::to_string(open.size()) + " open connections");
  for (auto& session : open) session->OnServerStopping();
  shutdown_deadline_.expires_after(options_.shutdown_timeout);
  shutdown_deadline_.async_wait([this](beast::error_code ec) {
    if (ec) return;
    LogError("stopping: connections still open after " +
             std::to_string(options_.shutdown_timeout.count()) + " ms; closing them");
    ioc_.stop();
  });
}

Status HttpServer::Impl::Listen() {
  beast::error_code ec;
  const auto address = net::ip::make_address(options_.host, ec);
  if (ec) {
    return InvalidArgument("--host \"" + options_.host +
                           "\" is not an IP address; use e.g. 127.0.0.1 or 0.0.0.0");
  }
  const tcp::endpoint endpoint(address, options_.port);
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable("cannot listen on " + where + ": " + ec.message());
  port_ = acceptor_.local_endpoint().port();
  return Status::Ok();
}

void HttpServer::Impl::Accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      auto session = std::make_shared<Session>(std::move(socket), *this);
      const bool full = open_sessions() >= options_.max_connections;
      session->Register();
      net::post(session->executor(), [session, full] {
        if (full) return session->Reject();
        session->Start();
      });
    }
    Accept();
  });
}

void HttpServer::Impl::Run() {
  signals_.async_wait([this](beast::error_code ec, int signal) {
    if (ec) return;
    LogInfo("received signal " + std::to_string(signal) + ", stopping");
    Stop();
  });
  Accept();
  std::vector<std::thread> threads;
  for (int i = 1; i < options_.io_threads; ++i) threads.emplace_back([this] { ioc_.run(); });
  ioc_.run();
  for (auto& t : threads) t.join();
  // Handlers still queued after the shutdown deadline are dropped; running ones are waited for.
  workers_.stop();
  workers_.join();
}

HttpServer::HttpServer(ServerOptions options, RequestHandler handler, ErrorResponder errors)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(errors))) {}
HttpServer::~HttpServer() = default;
Status HttpServer::Listen() { return impl_->Listen(); }
uint16_t HttpServer::port() const { return impl_->port(); }
void HttpServer::Run() { impl_->Run(); }
void HttpServer::Stop() { impl_->Stop(); }

void ResponseCounters::Count(unsigned status) {
  const size_t slot = status >= 100 && status < counts_.size() ? status : counts_.size() - 1;
  counts_[slot].fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::pair<unsigned, uint64_t>> ResponseCounters::Snapshot() const {
  std::vector<std::pair<unsigned, uint64_t>> out;
  for (unsigned status = 0; status < counts_.size(); ++status) {
    const uint64_t n = counts_[status].load(std::memory_order_relaxed);
    if (n != 0) out.emplace_back(status, n);
  }
  return out;
}

}  // namespace buildtrace
