// Tests for HttpClient against a tiny Beast server started in the test on 127.0.0.1, port 0:
// round trips, keep-alive reuse, reconnecting after the server closed the connection, refused
// connections, a server that never answers, and ParseHttpUrl.
#include "client/http_client.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <thread>

namespace buildtrace {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

struct SeenRequest {
  std::string method;
  std::string target;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// What the server does with the connection after each answer.
enum class AfterAnswer {
  kKeepAlive,      // keep it open for the next request
  kCloseSilently,  // close it without saying so, as an idle timeout on a server would
  kAnnounceClose,  // answer with "Connection: close", then close it
};

// Answers every request with 201 for POST and 200 otherwise; the body echoes method and
// target. Records each request it read and counts connections.
class TestServer {
 public:
  explicit TestServer(AfterAnswer after = AfterAnswer::kKeepAlive)
      : after_(after), acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io_, Accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TestServer() {
    io_.stop();
    thread_.join();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::vector<SeenRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  int connections() const {
    std::lock_guard lock(mutex_);
    return connections_;
  }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      beast::error_code ec;
      tcp::socket socket =
          co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      {
        std::lock_guard lock(mutex_);
        ++connections_;
      }
      asio::co_spawn(io_, Serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> Serve(tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      beast::error_code ec;
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 << 20);  // Beast's default for requests is 1 MiB
      co_await http::async_read(socket, buffer, parser,
                                asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      http::request<http::string_body> request = parser.release();
      http::response<http::string_body> response = Answer(request);
      co_await http::async_write(socket, response, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || after_ != AfterAnswer::kKeepAlive) co_return;  // the socket closes here
    }
  }

  http::response<http::string_body> Answer(const http::request<http::string_body>& request) {
    SeenRequest seen{
        std::string(request.method_string()), std::string(request.target()), request.body(), {}};
    for (const auto& field : request) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      seen.headers[name] = std::string(field.value());
    }
    http::response<http::string_body> response(
        request.method() == http::verb::post ? http::status::created : http::status::ok, 11);
    response.set(http::field::content_type, "text/plain");
    response.set("X-Echo-Length", std::to_string(request.body().size()));
    response.body() = seen.method + " " + seen.target;
    response.keep_alive(after_ != AfterAnswer::kAnnounceClose);
    response.prepare_payload();
    std::lock_guard lock(mutex_);
    requests_.push_back(std::move(seen));
    return response;
  }

  const AfterAnswer after_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<SeenRequest> requests_;
  int connections_ = 0;
};

HttpEndpoint Local(uint16_t port) { return HttpEndpoint{"127.0.0.1", port}; }

TEST(HttpClientTest, GetRoundTrip) {
  TestServer server;
  HttpClient client(Local(server.port()), 5s);
  auto response = client.Get("/report/5?project=sim", {{"X-Trace", "abc"}});
  ASSERT_TRUE(response.ok()) << response.status().message();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "GET /report/5?project=sim");
  EXPECT_EQ(response->content_type, "text/plain");
  EXPECT_EQ(response->headers.at("x-echo-length"), "0");
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/report/5?project=sim");
  EXPECT_EQ(seen[0].body, "");
  EXPECT_EQ(seen[0].headers.at("x-trace"), "abc");
  EXPECT_EQ(seen[0].headers.at("host"), "127.0.0.1:" + std::to_string(server.port()));
}

// A large body goes out in pieces, each reported: the counts grow, and the last one is the whole
// request (header block and body), which the server received whole.
TEST(HttpClientTest, ReportsUploadProgress) {
  TestServer server;
  HttpClient client(Local(server.port()), 5s);
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  client.SetUploadProgress(
      [&](uint64_t written, uint64_t total) { calls.emplace_back(written, total); });
  const std::string body(32 << 20, 'x');
  auto response = client.Post("/process", body, "application/json");
  ASSERT_TRUE(response.ok()) << response.status().message();
  EXPECT_EQ(response->headers.at("x-echo-length"), std::to_string(body.size()));
  ASSERT_GE(calls.size(), 2u) << "32 MiB fits no socket buffer (4 MiB at most, tcp_wmem) at once";
  const uint64_t total = calls.back().second;
  EXPECT_GT(total, body.size());
  EXPECT_LT(total, body.size() + 512) << "the header block is a few hundred bytes";
  EXPECT_EQ(calls.back().first, total);
  for (size_t i = 1; i < calls.size(); ++i) {
    EXPECT_GT(calls[i].first, calls[i - 1].first);
    EXPECT_EQ(calls[i].second, total);
  }
}

TEST(HttpClientTest, ResolvesAHostName) {
  TestServer server;
  HttpClient client(HttpEndpoint{"localhost", server.port()}, 5s);
  auto response = client.Get("/named");
  ASSERT_TRUE(response.ok()) << response.status().message();
  EXPECT_EQ(response->body, "GET /named");
}

TEST(HttpClientTest, PostRoundTrip) {
  TestServer server;
  HttpClient client(Local(server.port()), 5s);
  auto response = client.Post("/process", R"([{"job_id":1}])");
  ASSERT_TRUE(response.ok()) << response.status().message();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, "POST /process");
  EXPECT_EQ(response->headers.at("x-echo-length"), "14");
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].body, R"([{"job_id":1}])");
  EXPECT_EQ(seen[0].headers.at("content-type"), "application/json");
  EXPECT_EQ(seen[0].headers.at("content-length"), "14");
}

TEST(HttpClientTest, SendUsesTheGivenMethodAndContentType) {
  TestServer server;
  HttpClient client(Local(server.port()), 5s);
  auto response = client.Send("PUT", "/x", "a=b", {{"Content-Type", "text/plain"}});
  ASSERT_TRUE(response.ok()) << response.status().message();
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "PUT");
  EXPECT_EQ(seen[0].body, "a=b");
  EXPECT_EQ(seen[0].headers.at("content-type"), "text/plain");
}

TEST(HttpClientTest, ReusesOneKeepAliveConnection) {
  TestServer server;
  HttpClient client(Local(server.port()), 5s);
  for (int i = 0; i < 3; ++i) {
    auto response = client.Get("/n/" + std::to_string(i));
    ASSERT_TRUE(response.ok()) << response.status().message();
    EXPECT_EQ(response->body, "GET /n/" + std::to_string(i));
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST(HttpClientTest, ReconnectsWhenTheServerClosedTheConnectionSilently) {
  TestServer server(AfterAnswer::kCloseSilently);
  HttpClient client(Local(server.port()), 5s);
  for (int i = 0; i < 3; ++i) {
    auto response = client.Post("/p/" + std::to_string(i), "{}");
    ASSERT_TRUE(response.ok()) << "request " << i << ": " << response.status().message();
    EXPECT_EQ(response->body, "POST /p/" + std::to_string(i));
  }
  EXPECT_EQ(server.connections(), 3);
  EXPECT_EQ(server.requests().size(), 3u);  // each request was answered exactly once
}

TEST(HttpClientTest, OpensANewConnectionAfterConnectionClose) {
  TestServer server(AfterAnswer::kAnnounceClose);
  HttpClient client(Local(server.port()), 5s);
  ASSERT_TRUE(client.Get("/a").ok());
  auto second = client.Get("/b");
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(second->body, "GET /b");
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClientTest, RefusedConnectionIsUnavailableAndNamesTheAddress) {
  uint16_t port = 0;
  {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = acceptor.local_endpoint().port();
  }  // closed: nothing listens on `port` any more
  HttpClient client(Local(port), 2s);
  auto response = client.Get("/");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(response.status().message().find("127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << response.status().message();
  EXPECT_NE(response.status().message().find("cannot connect"), std::string::npos);
}

TEST(HttpClientTest, SilentServerTimesOutAsUnavailable) {
  asio::io_context io;
  // Listening but never accepting: the kernel completes the handshake, nobody answers.
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  HttpClient client(Local(acceptor.local_endpoint().port()), 200ms);
  const auto start = std::chrono::steady_clock::now();
  auto response = client.Post("/process", "[]");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(response.status().message().find("did not answer within 200 ms"), std::string::npos)
      << response.status().message();
  EXPECT_GE(elapsed, 150ms);
  EXPECT_LT(elapsed, 2s);
}

TEST(HttpClientTest, RejectsABadTargetWithoutConnecting) {
  HttpClient client(Local(1), 200ms);
  auto response = client.Get("report/1");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kInvalidArgument);
  auto header = client.Get("/", {{"X-Bad", "a\r\nInjected: 1"}});
  EXPECT_EQ(header.status().code(), StatusCode::kInvalidArgument);
  // Beast throws std::length_error on a header over 65 533 bytes; it must not escape the client.
  auto huge = client.Get("/", {{"X-Huge", std::string(70'000, 'h')}});
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(huge.status().message().find("X-Huge"), std::string::npos) << huge.status().message();
}

TEST(ParseHttpUrlTest, AcceptsHostAndPort) {
  auto plain = ParseHttpUrl("http://127.0.0.1:8080");
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ(plain->host, "127.0.0.1");
  EXPECT_EQ(plain->port, 8080);
  auto slash = ParseHttpUrl("http://localhost:9000/");
  ASSERT_TRUE(slash.ok()) << slash.status().message();
  EXPECT_EQ(slash->host, "localhost");
  EXPECT_EQ(slash->port, 9000);
  auto v6 = ParseHttpUrl("http://[::1]:65535");
  ASSERT_TRUE(v6.ok()) << v6.status().message();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 65535);
  auto no_port = ParseHttpUrl("HTTP://example.com");
  ASSERT_TRUE(no_port.ok()) << no_port.status().message();
  EXPECT_EQ(no_port->port, 80);
}

void ExpectInvalid(std::string_view url, std::string_view mentions) {
  auto parsed = ParseHttpUrl(url);
  ASSERT_FALSE(parsed.ok()) << url;
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << url;
  EXPECT_NE(parsed.status().message().find(mentions), std::string::npos)
      << url << ": " << parsed.status().message();
}

TEST(ParseHttpUrlTest, RejectsWithClearMessages) {
  ExpectInvalid("https://127.0.0.1:8443", "https");
  ExpectInvalid("ftp://host:21", "not supported");
  ExpectInvalid("127.0.0.1:8080", "no scheme");
  ExpectInvalid("http://:8080", "no host");
  ExpectInvalid("http://", "no host");
  ExpectInvalid("http://host:0", "1 to 65535");
  ExpectInvalid("http://host:65536", "1 to 65535");
  ExpectInvalid("http://host:80a", "1 to 65535");
  ExpectInvalid("http://host:", "1 to 65535");
  ExpectInvalid("http://host:8080/report", "path");
  ExpectInvalid("http://user@host:8080", "not allowed");
}

}  // namespace
}  // namespace buildtrace
