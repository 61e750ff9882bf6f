// Beast server: one Session per connection, a strand per session, handlers on a worker pool (or
// on the I/O thread or a control pool, by the request's lane).
#include "http/server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <cerrno>
#include <optional>
#include <thread>
#include <vector>

#include "core/available_cpus.h"
#include "core/large_memory.h"
#include "http/body_budget.h"
#include "http/connection_table.h"
#include "http/request_framing.h"
#include "http/request_log.h"
#include "http/response_coding.h"
#include "service/log.h"

namespace buildtrace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {
class Session;
}  // namespace

unsigned WorkerThreadsOf(const ServerOptions& options) {
  return options.worker_threads > 0 ? static_cast<unsigned>(options.worker_threads)
                                    : std::max(2u, AvailableCpus());
}

class HttpServer::Impl {
 public:
  Impl(ServerOptions options, RequestHandler handler, ErrorResponder errors)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        errors_(std::move(errors)),
        stats_(options_.stats != nullptr ? *options_.stats : own_stats_),
        table_(options_.max_connections, options_.max_connections_per_client, &stats_),
        budget_(InflightLimit(options_), &stats_),
        workers_(WorkerThreadsOf(options_)),
        control_(std::max(1, options_.control_threads)),
        acceptor_(ioc_),
        signals_(ioc_, SIGINT, SIGTERM),
        shutdown_deadline_(ioc_),
        accept_retry_(ioc_) {}

  Status Listen();
  void Run();
  void Stop() {
    net::post(ioc_, [this] { BeginShutdown(); });
  }

  // Once true, sessions answer the request they are reading and then close.
  bool stopping() const { return table_.stopping(); }
  // A session has closed: no longer counted against max_connections.
  void RemoveSession(uint64_t id) {
    if (table_.Remove(id)) ioc_.stop();
  }

  const ServerOptions& options() const { return options_; }
  const RequestHandler& handler() const { return handler_; }
  const ErrorResponder& errors() const { return errors_; }
  ServerStats& stats() { return stats_; }
  ConnectionTable& table() { return table_; }
  BodyBudget& budget() { return budget_; }
  net::thread_pool& workers() { return workers_; }
  net::thread_pool& control() { return control_; }
  uint16_t port() const { return port_; }

 private:
  static uint64_t InflightLimit(const ServerOptions& options) {
    if (options.max_inflight_body_bytes != 0) return options.max_inflight_body_bytes;
    return options.max_body_bytes > UINT64_MAX / 4 ? UINT64_MAX : 4 * options.max_body_bytes;
  }
  void Accept();
  void OnAccept(tcp::socket socket);
  void OnAcceptError(const beast::error_code& ec);
  void BeginShutdown();

  ServerOptions options_;
  RequestHandler handler_;
  ErrorResponder errors_;
  ServerStats own_stats_;  // when options_.stats is null
  ServerStats& stats_;
  // Declared before ioc_: sessions destroyed with the io_context's pending work unregister here
  // and give back their bodies' budget.
  ConnectionTable table_;
  BodyBudget budget_;
  net::io_context ioc_;
  net::thread_pool workers_;
  net::thread_pool control_;
  tcp::acceptor acceptor_;
  net::signal_set signals_;
  net::steady_timer shutdown_deadline_;
  net::steady_timer accept_retry_;
  // The wait after the last failed accept; zero outside an episode of exhaustion. Only touched by
  // the accept loop, which has one step outstanding at a time.
  std::chrono::milliseconds accept_delay_{0};
  uint64_t accept_failures_ = 0;  // in the current episode
  uint16_t port_ = 0;
};

namespace {

// A body's first room, unless it is announced smaller; each growth doubles it (bounded by the
// announced length), so a body's room never exceeds twice the bytes received plus this (its
// buffer, once large, is whole huge pages: up to 2 MiB more, see ReserveBody).
constexpr size_t kFirstBodyBytes = 64 << 10;
// The most body bytes one step of the HTTP parser adds beyond what is buffered already (Beast
// reads at most 64 KiB into a flat_buffer at a time).
constexpr size_t kParserReadBytes = 64 << 10;
// After an error answer the server reads (and drops) what the client still sends, for up to this
// long or this many bytes, before closing: closing a socket with unread data resets the
// connection, and the client may then lose the answer.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr size_t kLingerBytes = 1 << 20;

class Session : public TrackedConnection, public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl& server)
      : stream_(std::move(socket)), server_(server), charge_(server.budget()) {
    beast::error_code ec;
    const tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ip_ = peer.address().to_string();
  }
  ~Session() override {
    if (id_) server_.RemoveSession(*id_);
  }

  // Runs the admission's outcome on the session's strand; once, before the rest.
  void Begin(const ConnectionTable::Admitted& admitted) {
    id_ = admitted.id;
    net::post(stream_.get_executor(),
              [self = shared_from_this(),
               serve = admitted.admission == ConnectionTable::Admission::kServe,
               reason = admitted.reason] {
                if (serve) return self->ReadRequest();
                self->WriteError(503, "too_many_connections", reason);
              });
  }
  void CloseIfIdle() override {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->idle_) self->Close();
    });
  }
  // A connection waiting for a request closes now; one whose request has arrived finishes it
  // first (see Write and ReadRequest).
  void OnServerStopping() override {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->waiting_for_request_) self->Close();
    });
  }

 private:
  // The idle timeout runs until the first byte of a request, the header timeout from there to
  // the end of the headers, so a client that trickles its headers is cut off early.
  void ReadRequest() {
    if (server_.stopping()) return Close();
    waiting_for_request_ = true;
    request_id_.clear();
    parser_.emplace();
    parser_->body_limit(server_.options().max_body_bytes);
    parser_->header_limit(server_.options().max_header_bytes);
    if (buffer_.size() > 0) return ReadHeader();  // a pipelined request has begun already
    SetIdle(true);
    stream_.expires_after(server_.options().idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->SetIdle(false);
                              if (ec) return self->OnReadError(ec);
                              self->buffer_.commit(n);
                              self->ReadHeader();
                            });
  }

  void SetIdle(bool idle) {
    idle_ = idle;
    if (id_) server_.table().SetIdle(*id_, idle);
  }

  void ReadHeader() {
    request_start_ = std::chrono::steady_clock::now();
    stream_.expires_after(server_.options().header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  // Everything that can be decided from the headers is decided here, before any body byte is
  // read: the URL's length, the framing, the announced length, the screen (access control).
  void OnHeader(beast::error_code ec, size_t) {
    if (ec) return OnReadError(ec);
    waiting_for_request_ = false;
    const HttpRequest& req = parser_->get();
    request_id_ = ChooseRequestId(req["X-Request-Id"]);
    if (req.target().size() > server_.options().max_url_bytes) {
      return WriteError(414, "uri_too_long",
                        "the request target (URL) exceeds " +
                            std::to_string(server_.options().max_url_bytes) +
                            " bytes; shorten it or raise --max-url");
    }
    if (auto error = CheckFraming(req, parser_->chunked())) {
      return WriteError(error->status, error->status == 501 ? "not_implemented" : "bad_request",
                        std::move(error->message));
    }
    if (auto length = parser_->content_length();
        length && *length > server_.options().max_body_bytes) {
      return TooLarge();
    }
    if (server_.options().screen) {
      if (std::optional<HttpResponse> answer = server_.options().screen(req)) {
        return WriteErrorResponse(std::move(*answer));
      }
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
    if (parser_->chunked()) return ReadChunked();
    if (auto length = parser_->content_length()) return ReadBodyDirect(*length);
    // No body (CheckFraming has refused every other Transfer-Encoding): the parser is done.
    Dispatch(std::make_shared<HttpRequest>(parser_->release()));
  }

  // Makes room in `body` for `need` bytes in all (at most `most`). Its room is what is charged to
  // the server's budget: it grows to at least twice what it was, so that a body grows O(log n)
  // times, and never to more than `most`, so that it grows with the bytes received, never ahead
  // of them. The growth is charged first; false when the budget has no room, or the system no
  // memory (the caller refuses the request, which gives the charge back). A large buffer is whole
  // huge pages (up to 2 MiB more than its room, once a body has sent more than 1 MiB), and it
  // grows by remapping, without copying what has arrived (core/large_memory.h).
  bool ReserveBody(GrowingBytes& body, size_t need, size_t most) {
    const size_t room = charge_.bytes();
    if (room >= need) return true;
    const size_t grown_room = std::min(most, std::max({need, 2 * room, kFirstBodyBytes}));
    if (!charge_.GrowTo(grown_room)) return false;
    try {
      body.Reserve(grown_room);
    } catch (const std::bad_alloc&) {
      LogError("no memory for a request body of " + std::to_string(grown_room) + " bytes");
      return false;
    }
    return true;
  }

  // A body of known length goes from the socket straight into the request's buffer, in reads as
  // large as its room: several times faster than the parser's 64 KiB steps and copies.
  void ReadBodyDirect(uint64_t length) {
    request_ = std::make_shared<HttpRequest>(parser_->release());
    GrowingBytes& body = request_->body();
    body.Resize(0);
    const size_t buffered = std::min<size_t>(length, buffer_.size());
    if (!ReserveBody(body, buffered, length)) return RefuseForBudget();
    body.Resize(buffered);
    net::buffer_copy(net::buffer(body.data(), buffered), buffer_.data());
    buffer_.consume(buffered);
    ReadDirect(buffered, length);
  }

  // body[0, received) holds the bytes received so far; body's size is the end of the window the
  // next read fills (its bytes are not filled first: the read writes them).
  void ReadDirect(size_t received, size_t length) {
    GrowingBytes& body = request_->body();
    if (received == length) {
      body.Resize(length);
      return Dispatch(std::move(request_));
    }
    if (received == body.size()) {
      if (!ReserveBody(body, received + 1, length)) return RefuseForBudget();
      body.Resize(std::min<size_t>(charge_.bytes(), length));
    }
    stream_.async_read_some(
        net::buffer(body.data() + received, body.size() - received),
        [self = shared_from_this(), received, length](beast::error_code ec, size_t n) {
          if (ec) return self->OnReadError(ec);
          self->ReadDirect(received + n, length);
        });
  }

  // A chunked body goes through the parser, one read at a time; before each, the body gets room
  // for all that read can add, so that the parser never grows it behind the budget's back.
  void ReadChunked() {
    GrowingBytes& body = parser_->get().body();
    const size_t most = static_cast<size_t>(server_.options().max_body_bytes);
    const size_t need = std::min(most, body.size() + buffer_.size() + kParserReadBytes);
    if (!ReserveBody(body, need, most)) return RefuseForBudget();
    http::async_read_some(
        stream_, buffer_, *parser_,
        [self = shared_from_this(), capacity = body.capacity()](beast::error_code ec, size_t) {
          if (ec) return self->OnReadError(ec);
          // Should the parser have grown the buffer anyway, charge it late.
          const size_t now = self->parser_->get().body().capacity();
          if (now > capacity && !self->charge_.GrowTo(now)) {
            return self->RefuseForBudget();
          }
          if (!self->parser_->is_done()) return self->ReadChunked();
          self->Dispatch(std::make_shared<HttpRequest>(self->parser_->release()));
        });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted) {
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

  void RefuseForBudget() {
    ++server_.stats().inflight_refused_total;
    HttpResponse res = server_.errors()(
        503, "server_busy",
        "the server holds " + std::to_string(server_.budget().limit()) +
            " bytes of request bodies in flight, its limit; retry in a second, or raise "
            "--max-inflight-body");
    res.set(http::field::retry_after, "1");
    WriteErrorResponse(std::move(res));  // logs the request's headers first
    request_.reset();
    parser_.reset();
    charge_.Reset();
  }

  void WriteError(unsigned status, std::string code, std::string message) {
    WriteErrorResponse(server_.errors()(status, std::move(code), std::move(message)));
  }

  // An answer after which nothing the client sent is read as a request: closes the connection.
  // Logged like the handler's answers when the request's headers have arrived.
  void WriteErrorResponse(HttpResponse res) {
    res.keep_alive(false);
    linger_ = true;
    // A request refused while its headers were read (e.g. for its announced length) still has
    // the ID it asked for.
    if (request_id_.empty() && parser_) {
      request_id_ = ChooseRequestId(parser_->get()["X-Request-Id"]);
    }
    if (const HttpRequest* headers = HeadersRead()) LogAccess(*headers, res, request_start_);
    Write(std::move(res));
  }

  // The request being answered, once its request line at least has been read (the parser fills
  // method and target only from a valid one); null before.
  const HttpRequest* HeadersRead() const {
    if (request_) return request_.get();
    if (parser_ && !parser_->get().target().empty()) return &parser_->get();
    return nullptr;
  }

  void Dispatch(std::shared_ptr<HttpRequest> request) {
    const LaneChooser& lane = server_.options().lane;
    const RequestLane chosen = lane ? lane(*request) : RequestLane::kWork;
    if (chosen == RequestLane::kInline) {
      HttpResponse res = Answer(*request, /*compress=*/false);
      request.reset();
      charge_.Reset();
      return Write(std::move(res));
    }
    // The budget is given back once the handler has returned and the request is freed.
    auto charge = std::make_shared<BodyCharge>(std::move(charge_));
    net::thread_pool& pool =
        chosen == RequestLane::kControl ? server_.control() : server_.workers();
    // Only the work lane compresses answers: the lanes that keep health checks answered never
    // spend their threads on it.
    const bool compress = chosen == RequestLane::kWork;
    net::post(pool, [self = shared_from_this(), request = std::move(request), charge,
                     compress]() mutable {
      HttpResponse res = self->Answer(*request, compress);
      request.reset();
      charge->Reset();
      net::post(self->stream_.get_executor(),
                [self, res = std::move(res)]() mutable { self->Write(std::move(res)); });
    });
  }

  // Runs the handler, and compresses its answer for the client if `compress`
  // (http/response_coding.h); any thread.
  HttpResponse Answer(HttpRequest& request, bool compress) {
    const auto start = std::chrono::steady_clock::now();
    HttpResponse res;
    try {
      res = server_.handler()(request);
    } catch (const std::exception& e) {
      // A handler bug must not take the process down; the log says what happened.
      LogError(std::string("handler threw: ") + e.what());
      res = server_.errors()(500, "internal", "internal error; see the server log");
    }
    if (compress) {
      try {
        EncodeForClient(request, res);
      } catch (const std::exception& e) {  // out of memory: the answer goes as it is
        LogError(std::string("compressing an answer failed: ") + e.what());
      }
    }
    res.keep_alive(request.keep_alive() && res.keep_alive());
    LogAccess(request, res, start);
    return res;
  }

  // The access line: text with the request's ID, or JSON with Cloud Logging's httpRequest and
  // trace fields. Reads request_id_, set on the strand before the handler ran; any thread.
  void LogAccess(const HttpRequest& req, const HttpResponse& res,
                 std::chrono::steady_clock::time_point start) const {
    const std::string url = LoggableTarget(req.target());
    AccessRecord record;
    record.method = req.method_string();
    record.url = url;
    record.status = res.result_int();
    record.response_bytes = res.body().text().size();
    record.latency = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
    record.request_id = request_id_;
    if (GetLogFormat() == LogFormat::kText) {
      return LogInfo(AccessMessage(record) + " rid=" + request_id_);
    }
    const std::string protocol =
        "HTTP/" + std::to_string(req.version() / 10) + "." + std::to_string(req.version() % 10);
    record.user_agent = req[http::field::user_agent];
    record.remote_ip = remote_ip_;
    record.protocol = protocol;
    record.trace = ChooseTrace(req["traceparent"], req["X-Cloud-Trace-Context"]);
    LogRecord(LogLevel::kInfo, AccessMessage(record),
              AccessJsonMembers(record, server_.options().trace_project));
  }

  // Every answer, the server's own included, carries the request's ID (a new one when its
  // headers never arrived).
  void Write(HttpResponse res) {
    if (request_id_.empty()) request_id_ = NewRequestId();
    res.set("X-Request-Id", request_id_);
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
    stream_.async_read_some(buffer_.prepare(64 << 10),
                            [self = shared_from_this(), drained](beast::error_code ec, size_t n) {
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
  std::optional<http::request_parser<RequestBody>> parser_;
  std::shared_ptr<HttpRequest> request_;  // a body of known length being read
  std::shared_ptr<HttpResponse> response_;
  HttpServer::Impl& server_;
  BodyCharge charge_;                 // the body being read's share of the server's budget
  std::optional<uint64_t> id_;        // in the server's connection table
  bool waiting_for_request_ = false;  // no request's headers have arrived since the last answer
  bool idle_ = false;                 // waiting for a request's first byte, none buffered
  bool linger_ = false;               // the answer is an error: drain the socket before closing
  std::string remote_ip_;             // the peer's address; empty when unknown
  // The current request's ID (X-Request-Id), chosen when its headers arrive; empty before.
  std::string request_id_;
  std::chrono::steady_clock::time_point request_start_;  // when its headers began to be read
};

// Failures of accept that retrying at once cannot cure: descriptors or kernel memory ran out.
bool IsExhaustion(const beast::error_code& ec) {
  if (ec.category() != boost::system::system_category()) return false;
  const int e = ec.value();
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

}  // namespace

// Runs on the io_context. The deadline bounds the wait for connections that do not finish.
void HttpServer::Impl::BeginShutdown() {
  if (stopping()) return;
  beast::error_code ignored;
  acceptor_.close(ignored);
  signals_.cancel(ignored);
  accept_retry_.cancel();
  std::vector<std::shared_ptr<TrackedConnection>> open;
  if (table_.BeginStop(open)) return ioc_.stop();
  LogInfo("stopping: no new connections; finishing the requests of " + std::to_string(open.size()) +
          " open connections");
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
    if (ec) return OnAcceptError(ec);
    if (accept_delay_.count() != 0) {
      LogInfo("accepting connections again after " + std::to_string(accept_failures_) +
              " failed attempts");
      accept_delay_ = std::chrono::milliseconds(0);
      accept_failures_ = 0;
    }
    OnAccept(std::move(socket));
    Accept();
  });
}

void HttpServer::Impl::OnAccept(tcp::socket socket) {
  beast::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  auto session = std::make_shared<Session>(std::move(socket), *this);
  ConnectionTable::Admitted admitted =
      table_.Admit(session, ec ? std::string() : peer.address().to_string());
  if (admitted.displaced) admitted.displaced->CloseIfIdle();
  // Dropped: the session, never registered, closes its socket as it is destroyed here.
  if (admitted.admission != ConnectionTable::Admission::kDrop) session->Begin(admitted);
}

// Retrying at once would spin: the connection that could not be accepted is still pending, so
// accept fails again at once, as long as the descriptors are used up. The wait lets them free.
void HttpServer::Impl::OnAcceptError(const beast::error_code& ec) {
  ++stats_.accept_errors_total;
  if (!IsExhaustion(ec)) return Accept();  // e.g. the peer reset the connection first
  ++accept_failures_;
  if (accept_delay_.count() == 0) {
    ++stats_.accept_exhaustion_episodes_total;
    accept_delay_ = options_.accept_backoff_first;
    LogWarning("cannot accept connections: " + ec.message() +
               "; new connections wait in the listen queue, retrying in " +
               std::to_string(accept_delay_.count()) + " ms and less often up to every " +
               std::to_string(options_.accept_backoff_max.count()) +
               " ms (raise the descriptor limit, ulimit -n, or lower --max-connections)");
  } else {
    accept_delay_ = std::min(2 * accept_delay_, options_.accept_backoff_max);
  }
  accept_retry_.expires_after(accept_delay_);
  accept_retry_.async_wait([this](beast::error_code wait_ec) {
    if (wait_ec || !acceptor_.is_open()) return;
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
  control_.stop();
  workers_.join();
  control_.join();
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
