// HttpServer against hostile clients, in process with a trivial handler: bodies announced but not
// sent, the bound on bodies in flight, idle connections filling the table, framing that could
// smuggle a second request, control requests behind blocked workers, accept out of descriptors.
#include "http/server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "service/log.h"
#include "testing/http_wire.h"
#include "testing/random_bytes.h"
#include "tests/e2e/raw_connection.h"

namespace buildtrace {
namespace {

using e2e::RawConnection;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
namespace http = boost::beast::http;

constexpr milliseconds kWait{10'000};  // for what should happen within milliseconds

// Polls `condition` until it holds or kWait passes; true when it held.
bool WaitFor(const std::function<bool()>& condition) {
  const auto deadline = Clock::now() + kWait;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(2));  // polling pace, not synchronisation
  }
  return true;
}

HttpResponse Plain(unsigned status, std::string body) {
  HttpResponse res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "text/plain");
  res.body() = std::move(body);
  return res;
}

// A gate the handler can wait at until the test opens it.
class Gate {
 public:
  void Open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  void Pass() {
    std::unique_lock lock(mutex_);
    ++waiting_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
  }
  // Waits until `n` handlers wait at the gate.
  bool AwaitWaiting(int n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kWait, [&] { return waiting_ >= n; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
  int waiting_ = 0;
};

class HttpServerTest : public ::testing::Test {
 protected:
  // Starts a server with `options` (port 0) whose handler answers 200 with the body's size, or
  // waits at gate_ first for a target starting with /block; a body sent to /keep is copied to
  // kept_body_.
  void Start(ServerOptions options) {
    options.host = "127.0.0.1";
    options.port = 0;
    options.stats = &stats_;
    server_ = std::make_unique<HttpServer>(
        std::move(options),
        [this](HttpRequest& request) {
          ++handled_;
          if (request.target().starts_with("/block")) gate_.Pass();
          if (request.target().starts_with("/keep")) {
            const std::lock_guard lock(kept_mutex_);
            kept_body_ = std::string(request.body().view());
          }
          return Plain(200, "body " + std::to_string(request.body().size()) + "\n");
        },
        [](unsigned status, std::string code, std::string message) {
          return Plain(status, code + ": " + message + "\n");
        });
    ASSERT_TRUE(server_->Listen().ok());
    thread_ = std::thread([this] { server_->Run(); });
  }
  void TearDown() override {
    gate_.Open();
    if (server_) {
      server_->Stop();
      thread_.join();
    }
  }
  uint16_t port() const { return server_->port(); }

  ServerStats stats_;
  Gate gate_;
  std::atomic<int> handled_{0};
  std::mutex kept_mutex_;
  std::string kept_body_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

TEST_F(HttpServerTest, ScreenAnswersFromTheHeadersAloneAndCloses) {
  ServerOptions options;
  options.screen = [](const HttpRequest& headers) -> std::optional<HttpResponse> {
    if (headers[http::field::authorization] == "Bearer good") return std::nullopt;
    HttpResponse res = Plain(401, "no token\n");
    res.set(http::field::www_authenticate, "Bearer");
    return res;
  };
  Start(options);
  RawConnection conn(port());
  ASSERT_TRUE(conn.ok());
  // 64 MiB announced, one byte sent: the answer comes without waiting for the rest.
  ASSERT_TRUE(conn.Send(Announce(64 << 20) + "x"));
  ASSERT_TRUE(conn.ReadUntilClosed(kWait)) << conn.received();
  EXPECT_EQ(Statuses(conn.received()), std::vector<int>{401});
  EXPECT_NE(conn.received().find("Connection: close"), std::string::npos) << conn.received();
  EXPECT_NE(conn.received().find("WWW-Authenticate: Bearer"), std::string::npos);
  EXPECT_EQ(handled_, 0);
  EXPECT_EQ(stats_.body_bytes_in_flight, 0u);

  RawConnection good(port());
  ASSERT_TRUE(good.Send(Announce(3, "Authorization: Bearer good\r\n") + "abc"));
  ASSERT_TRUE(good.ReadUntil("body 3\n", kWait)) << good.received();
}

TEST_F(HttpServerTest, BodyBufferGrowsWithTheBytesReceivedNotTheAnnouncedLength) {
  Start({});
  RawConnection conn(port());
  ASSERT_TRUE(conn.Send(Announce(64 << 20) + "x"));
  ASSERT_TRUE(WaitFor([&] { return stats_.body_bytes_in_flight > 0; }));
  EXPECT_EQ(stats_.body_bytes_in_flight, 64u << 10);  // the first buffer, not 64 MiB
  EXPECT_EQ(stats_.body_bytes_limit, 4ull * (64 << 20));
  // 200 KiB more: the buffer doubles twice, to 256 KiB, and no further.
  ASSERT_TRUE(conn.Send(std::string(200 << 10, 'y')));
  ASSERT_TRUE(WaitFor([&] { return stats_.body_bytes_in_flight == 256u << 10; }))
      << stats_.body_bytes_in_flight;
  conn.Close();
  ASSERT_TRUE(WaitFor([&] { return stats_.body_bytes_in_flight == 0; }));
}

TEST_F(HttpServerTest, BodyIsChargedUntilTheHandlerHasReturned) {
  Start({});
  RawConnection conn(port());
  ASSERT_TRUE(conn.Send("POST /block HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"));
  ASSERT_TRUE(gate_.AwaitWaiting(1));
  EXPECT_EQ(stats_.body_bytes_in_flight, 10u);
  gate_.Open();
  ASSERT_TRUE(conn.ReadUntil("body 10\n", kWait)) << conn.received();
  EXPECT_EQ(stats_.body_bytes_in_flight, 0u);
}

TEST_F(HttpServerTest, BodyPastTheInflightBoundGets503AndClose) {
  ServerOptions options;
  options.max_inflight_body_bytes = 128 << 10;
  Start(options);
  RawConnection a(port()), b(port()), c(port());
  ASSERT_TRUE(a.Send(Announce(1 << 20) + "x"));
  ASSERT_TRUE(b.Send(Announce(1 << 20) + "x"));
  ASSERT_TRUE(WaitFor([&] { return stats_.body_bytes_in_flight == 128u << 10; }));
  ASSERT_TRUE(c.Send(Announce(1 << 20) + "x"));
  ASSERT_TRUE(c.ReadUntilClosed(kWait)) << c.received();
  EXPECT_EQ(Statuses(c.received()), std::vector<int>{503});
  EXPECT_NE(c.received().find("Retry-After: 1\r\n"), std::string::npos) << c.received();
  EXPECT_NE(c.received().find("server_busy"), std::string::npos) << c.received();
  EXPECT_EQ(stats_.inflight_refused_total, 1u);
  a.Close();
  b.Close();
  ASSERT_TRUE(WaitFor([&] { return stats_.body_bytes_in_flight == 0; }));
  RawConnection d(port());
  ASSERT_TRUE(d.Send(Announce(5) + "hello"));
  ASSERT_TRUE(d.ReadUntil("body 5\n", kWait)) << d.received();
}

TEST_F(HttpServerTest, ChunkedBodyIsBoundToo) {
  ServerOptions options;
  options.max_inflight_body_bytes = 256 << 10;
  Start(options);
  RawConnection conn(port());
  ASSERT_TRUE(conn.Send("POST /process HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  // 32 KiB at a time until the 503, 1 MiB at most: less than the server drains after its answer,
  // so that it closes on its own time and never resets the connection under the answer.
  const std::string chunk = "8000\r\n" + std::string(0x8000, 'z') + "\r\n";
  for (int i = 0; i < 32 && conn.received().empty() && !conn.closed(); ++i) {
    if (!conn.Send(chunk)) break;
    conn.WaitForClose(milliseconds(0));
  }
  ASSERT_TRUE(conn.ReadUntilClosed(kWait)) << conn.received();
  EXPECT_EQ(Statuses(conn.received()), std::vector<int>{503}) << conn.received();
  EXPECT_EQ(stats_.inflight_refused_total, 1u);
  EXPECT_EQ(handled_, 0);
}

TEST_F(HttpServerTest, ChunkedBodyWithinTheBoundIsServed) {
  Start({});
  RawConnection conn(port());
  ASSERT_TRUE(
      conn.Send("POST /process HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  ASSERT_TRUE(conn.ReadUntil("body 5\n", kWait)) << conn.received();
  ASSERT_TRUE(WaitFor([&] { return stats_.body_bytes_in_flight == 0; }));
}

// A body of known length grows from its first buffer past the size of a huge page (where it moves
// to a mapping of its own, then grows by remapping) and arrives byte for byte.
TEST_F(HttpServerTest, LargeBodyArrivesWholeAcrossEveryGrowth) {
  Start({});
  const std::string body = RandomBytes((5 << 20) + 3, 11);
  RawConnection conn(port());
  ASSERT_TRUE(conn.Send("POST /keep HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body));
  ASSERT_TRUE(conn.ReadUntil("body 5242883\n", kWait)) << conn.received().substr(0, 200);
  const std::lock_guard lock(kept_mutex_);
  EXPECT_TRUE(kept_body_ == body);  // not EXPECT_EQ: a failure would print 5 MiB
  EXPECT_EQ(kept_body_.size(), body.size());
}

// The same through the HTTP parser: a chunked body appended piece by piece.
TEST_F(HttpServerTest, LargeChunkedBodyArrivesWhole) {
  Start({});
  const std::string body = RandomBytes((3 << 20) + 5, 12);
  std::string request = "POST /keep HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t at = 0; at < body.size(); at += 40000) {
    const std::string piece = body.substr(at, 40000);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    request += size + piece + "\r\n";
  }
  request += "0\r\n\r\n";
  RawConnection conn(port());
  ASSERT_TRUE(conn.Send(request));
  ASSERT_TRUE(conn.ReadUntil("body 3145733\n", kWait)) << conn.received().substr(0, 200);
  const std::lock_guard lock(kept_mutex_);
  EXPECT_TRUE(kept_body_ == body);
  EXPECT_EQ(kept_body_.size(), body.size());
}

// Many bodies at once from many threads, each charged and given back (for ThreadSanitizer).
TEST_F(HttpServerTest, ConcurrentBodiesAreChargedAndGivenBack) {
  ServerOptions options;
  options.io_threads = 2;
  options.worker_threads = 2;
  Start(options);
  std::vector<std::thread> clients;
  std::atomic<int> answered{0};
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&, t] {
      const std::string body(1000 * (t + 1), 'b');
      const std::string expected = "body " + std::to_string(body.size()) + "\n";
      for (int i = 0; i < 5; ++i) {  // a new connection each time
        RawConnection conn(port());
        if (!conn.Send(Announce(body.size()) + body) || !conn.ReadUntil(expected, kWait)) return;
      }
      ++answered;
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(answered, 8);
  EXPECT_TRUE(WaitFor([&] { return stats_.body_bytes_in_flight == 0; }));
  EXPECT_EQ(handled_, 40);
}

TEST_F(HttpServerTest, FullTableClosesTheLongestIdleConnectionForANewOne) {
  ServerOptions options;
  options.max_connections = 2;
  Start(options);
  RawConnection oldest(port());
  ASSERT_TRUE(WaitFor([&] { return stats_.idle_connections == 1; }));
  RawConnection newer(port());
  ASSERT_TRUE(WaitFor([&] { return stats_.idle_connections == 2; }));
  RawConnection client(port());
  ASSERT_TRUE(client.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(client.ReadUntil("body 0\n", kWait)) << client.received();
  EXPECT_EQ(Statuses(client.received()), std::vector<int>{200});
  EXPECT_TRUE(oldest.ReadUntilClosed(kWait));
  EXPECT_EQ(oldest.received(), "");
  EXPECT_FALSE(newer.WaitForClose(milliseconds(0)));
  EXPECT_EQ(stats_.idle_closed_total, 1u);
  EXPECT_EQ(stats_.max_connections, 2u);
}

TEST_F(HttpServerTest, FullTableOfBusyConnectionsRefusesWith503) {
  ServerOptions options;
  options.max_connections = 1;
  Start(options);
  RawConnection busy(port());
  ASSERT_TRUE(busy.Send("GET /healthz HTTP/1.1\r\n"));  // headers begun: not idle
  ASSERT_TRUE(
      WaitFor([&] { return stats_.open_connections == 1 && stats_.idle_connections == 0; }));
  RawConnection refused(port());
  ASSERT_TRUE(refused.ReadUntilClosed(kWait));
  EXPECT_EQ(Statuses(refused.received()), std::vector<int>{503});
  EXPECT_NE(refused.received().find("too_many_connections"), std::string::npos);
  EXPECT_EQ(stats_.rejected_connections_total, 1u);
  // No request was read, yet the answer has an ID of its own.
  EXPECT_TRUE(
      std::regex_search(refused.received(), std::regex("\r\nX-Request-Id: [0-9a-f]{32}\r\n")))
      << refused.received();
  ASSERT_TRUE(busy.Send("Host: x\r\n\r\n"));
  ASSERT_TRUE(busy.ReadUntil("body 0\n", kWait)) << busy.received();
}

TEST_F(HttpServerTest, OnePeerBeyondItsLimitLosesItsOwnIdleConnectionElseGets503) {
  ServerOptions options;
  options.max_connections_per_client = 2;
  Start(options);
  RawConnection first(port());
  ASSERT_TRUE(WaitFor([&] { return stats_.idle_connections == 1; }));
  RawConnection second(port());
  ASSERT_TRUE(WaitFor([&] { return stats_.idle_connections == 2; }));
  RawConnection third(port());
  EXPECT_TRUE(first.ReadUntilClosed(kWait));
  ASSERT_TRUE(second.Send("GET /healthz HTTP/1.1\r\n"));
  ASSERT_TRUE(third.Send("GET /healthz HTTP/1.1\r\n"));
  ASSERT_TRUE(WaitFor([&] { return stats_.idle_connections == 0; }));
  RawConnection fourth(port());
  ASSERT_TRUE(fourth.ReadUntilClosed(kWait));
  EXPECT_EQ(Statuses(fourth.received()), std::vector<int>{503});
  EXPECT_NE(fourth.received().find("this client address"), std::string::npos);
}

struct FramingCase {
  std::string name;
  std::string headers;  // after the request line, before the empty line
  int status;           // the one answer, after which the connection closes
};

class HttpServerFramingTest : public HttpServerTest,
                              public ::testing::WithParamInterface<FramingCase> {};

// Whatever follows such headers is never read as a request: one answer, then the close.
TEST_P(HttpServerFramingTest, UnclearFramingIsOneAnswerAndClose) {
  Start({});
  RawConnection conn(port());
  const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(conn.Send("POST /process HTTP/1.1\r\n" + GetParam().headers + "\r\n" + smuggled));
  ASSERT_TRUE(conn.ReadUntilClosed(kWait)) << conn.received();
  EXPECT_EQ(Statuses(conn.received()), std::vector<int>{GetParam().status}) << conn.received();
  EXPECT_NE(conn.received().find("Connection: close"), std::string::npos);
  EXPECT_EQ(handled_, 0);
}

INSTANTIATE_TEST_SUITE_P(
    Rfc9112, HttpServerFramingTest,
    ::testing::Values(
        FramingCase{"Identity", "Host: x\r\nTransfer-Encoding: identity\r\n", 400},
        FramingCase{"Gzip", "Host: x\r\nTransfer-Encoding: gzip\r\n", 400},
        FramingCase{"Xchunked", "Host: x\r\nTransfer-Encoding: xchunked\r\n", 400},
        FramingCase{"ChunkedThenGzip", "Host: x\r\nTransfer-Encoding: chunked, gzip\r\n", 400},
        FramingCase{"GzipThenChunked", "Host: x\r\nTransfer-Encoding: gzip, chunked\r\n", 501},
        FramingCase{"ChunkedTwice", "Host: x\r\nTransfer-Encoding: chunked, chunked\r\n", 400},
        FramingCase{"TwoLines",
                    "Host: x\r\nTransfer-Encoding: chunked\r\n"
                    "Transfer-Encoding: identity\r\n",
                    400},
        FramingCase{"WithContentLength",
                    "Host: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n", 400},
        FramingCase{"NoHost", "Content-Length: 0\r\n", 400},
        FramingCase{"TwoHosts", "Host: x\r\nHost: y\r\nContent-Length: 0\r\n", 400}),
    [](const auto& param_info) { return param_info.param.name; });

TEST_F(HttpServerTest, Http10WithoutHostIsServed) {
  Start({});
  RawConnection conn(port());
  ASSERT_TRUE(conn.Send("GET /healthz HTTP/1.0\r\n\r\n"));
  ASSERT_TRUE(conn.ReadUntilClosed(kWait));
  // The answer is HTTP/1.1, the highest version the server speaks (RFC 9110 section 6.2).
  EXPECT_EQ(Statuses(conn.received()), std::vector<int>{200}) << conn.received();
}

TEST_F(HttpServerTest, InlineAndControlLanesAnswerWhileEveryWorkerIsBlocked) {
  ServerOptions options;
  options.worker_threads = 1;
  options.control_threads = 1;
  options.lane = [](const HttpRequest& request) {
    if (request.target() == "/healthz") return RequestLane::kInline;
    if (request.target() == "/readyz") return RequestLane::kControl;
    return RequestLane::kWork;
  };
  Start(options);
  RawConnection blocked(port()), queued(port());
  ASSERT_TRUE(blocked.Send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(gate_.AwaitWaiting(1));
  ASSERT_TRUE(queued.Send("GET /queued HTTP/1.1\r\nHost: x\r\n\r\n"));
  for (const char* target : {"/healthz", "/readyz"}) {
    RawConnection conn(port());
    ASSERT_TRUE(conn.Send(std::string("GET ") + target + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_TRUE(conn.ReadUntil("body 0\n", kWait)) << target << ": " << conn.received();
  }
  EXPECT_EQ(queued.received(), "");
  gate_.Open();
  EXPECT_TRUE(blocked.ReadUntil("body 0\n", kWait));
  EXPECT_TRUE(queued.ReadUntil("body 0\n", kWait));
}

// The lowest descriptor number free now: with the soft limit set to it, no descriptor can be
// made until the limit is raised again.
int LowestFreeDescriptor() {
  const int fd = ::dup(0);
  ::close(fd);
  return fd;
}

TEST_F(HttpServerTest, AcceptOutOfDescriptorsBacksOffInsteadOfSpinning) {
  Start({});
  // The client's socket exists before the limit drops; connecting needs no new descriptor, but
  // the server's accept does.
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  const timeval receive_timeout{5, 0};
  ASSERT_EQ(::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &receive_timeout, sizeof receive_timeout),
            0);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(LowestFreeDescriptor());
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int connected = ::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  const bool episode = WaitFor([&] { return stats_.accept_exhaustion_episodes_total == 1; });
  // Over half a second: 10 + 20 + 40 + 80 + 160 ms of backoff hold it to about 6 attempts;
  // retrying at once made hundreds of thousands.
  const uint64_t before = stats_.accept_errors_total;
  std::this_thread::sleep_for(milliseconds(500));  // the span measured, not synchronisation
  const uint64_t during = stats_.accept_errors_total - before;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_EQ(connected, 0);
  ASSERT_TRUE(episode);
  EXPECT_LE(during, 6u);
  EXPECT_GE(during, 1u);
  static constexpr std::string_view kRequest = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(client, kRequest.data(), kRequest.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(kRequest.size()));
  char buffer[512];
  const ssize_t n = ::recv(client, buffer, sizeof buffer, 0);  // within the last backoff, 1 s
  ::close(client);
  ASSERT_GT(n, 12);
  EXPECT_EQ(std::string(buffer, 12), "HTTP/1.1 200");
  EXPECT_EQ(stats_.accept_exhaustion_episodes_total, 1u);
}

// The value of the first `name` header in `received` ("" when absent).
std::string HeaderValue(const std::string& received, const std::string& name) {
  const std::string key = "\r\n" + name + ": ";
  const size_t at = received.find(key);
  if (at == std::string::npos) return "";
  const size_t begin = at + key.size();
  return received.substr(begin, received.find("\r\n", begin) - begin);
}

bool IsNewRequestId(const std::string& id) {
  return std::regex_match(id, std::regex("[0-9a-f]{32}"));
}

// The server with its log captured, in the format each test chooses.
class HttpServerLogTest : public HttpServerTest {
 protected:
  void SetUp() override {
    SetLogSinkForTest([this](std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    });
  }
  void TearDown() override {
    HttpServerTest::TearDown();  // no thread of the server logs after this
    SetLogSinkForTest({});
    SetLogFormat(LogFormat::kText);
  }
  // Waits for the first captured line that contains `needle`; "" when none came.
  std::string LineWith(std::string_view needle) {
    std::string found;
    WaitFor([&] {
      std::lock_guard lock(mutex_);
      for (const std::string& line : lines_) {
        if (line.find(needle) != std::string::npos) found = line;
      }
      return !found.empty();
    });
    return found;
  }

  std::mutex mutex_;
  std::vector<std::string> lines_;
};

TEST_F(HttpServerLogTest, JsonAccessLineCarriesCloudLoggingFields) {
  SetLogFormat(LogFormat::kJson);
  ServerOptions options;
  options.trace_project = "my-proj";
  Start(options);
  RawConnection conn(port());
  ASSERT_TRUE(
      conn.Send("GET /report/1?token=s3cret&x=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8 \"q\"\r\n"
                "X-Request-Id: req-42\r\n"
                "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
                "X-Cloud-Trace-Context: 0af7651916cd43dd8448eb211c80319c/1;o=1\r\n\r\n"));
  ASSERT_TRUE(conn.ReadUntil("body 0\n", kWait)) << conn.received();
  EXPECT_EQ(HeaderValue(conn.received(), "X-Request-Id"), "req-42") << conn.received();
  std::string line = LineWith("/report/1");
  // The time and the latency vary; the rest is exact.
  EXPECT_TRUE(std::regex_search(line, std::regex(R"("time":"\d{4}-\d\d-\d\dT[0-9:.]+Z")"))) << line;
  EXPECT_TRUE(std::regex_search(line, std::regex(R"("latency":"0\.\d{6}s")"))) << line;
  line = std::regex_replace(line, std::regex(R"("time":"[^"]*")"), R"("time":"T")");
  line = std::regex_replace(line, std::regex(R"("latency":"[^"]*")"), R"("latency":"L")");
  line = std::regex_replace(line, std::regex(R"( 200 7B \d+\.\dms)"), " 200 7B Nms");
  EXPECT_EQ(line, R"({"severity":"INFO","message":"GET /report/1?token=REDACTED&x=1 200 7B Nms",)"
                  R"("time":"T","requestId":"req-42","httpRequest":{"requestMethod":"GET",)"
                  R"("requestUrl":"/report/1?token=REDACTED&x=1","status":200,"responseSize":"7",)"
                  R"("userAgent":"curl/8 \"q\"","remoteIp":"127.0.0.1","latency":"L",)"
                  R"("protocol":"HTTP/1.1"},"logging.googleapis.com/trace":)"
                  R"("projects/my-proj/traces/4bf92f3577b34da6a3ce929d0e0e4736",)"
                  R"("logging.googleapis.com/spanId":"00f067aa0ba902b7"})"
                  "\n");
}

TEST_F(HttpServerLogTest, JsonAccessLineTakesCloudTraceContextAndIgnoresMalformedTraces) {
  SetLogFormat(LogFormat::kJson);
  Start({});  // no project: the bare trace id
  RawConnection conn(port());
  ASSERT_TRUE(conn.Send(
      "GET /one HTTP/1.1\r\nHost: x\r\ntraceparent: 00-zz\"}-01\r\n"
      "X-Cloud-Trace-Context: 0af7651916cd43dd8448eb211c80319c/67667974448284343;o=1\r\n\r\n"
      "GET /two HTTP/1.1\r\nHost: x\r\ntraceparent: evil\"}\r\n"
      "X-Cloud-Trace-Context: 0af7651916cd43dd8448eb211c80319c/x;o=1\r\n\r\n"));
  const std::string one = LineWith("GET /one");
  EXPECT_TRUE(one.ends_with(R"(,"logging.googleapis.com/trace":"0af7651916cd43dd8448eb211c80319c",)"
                            R"("logging.googleapis.com/spanId":"00f067aa0ba902b7"})"
                            "\n"))
      << one;
  const std::string two = LineWith("GET /two");
  EXPECT_TRUE(two.ends_with(R"("protocol":"HTTP/1.1"}})"
                            "\n"))
      << two;
  EXPECT_EQ(two.find("evil"), std::string::npos) << two;
}

TEST_F(HttpServerLogTest, TextAccessLineEndsWithTheRequestId) {
  Start({});
  RawConnection conn(port());
  ASSERT_TRUE(conn.Send("GET /x?token=s3cret HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\r\n\r\n"));
  ASSERT_TRUE(conn.ReadUntil("body 0\n", kWait)) << conn.received();
  const std::string line = LineWith("GET /x");
  EXPECT_TRUE(std::regex_search(
      line, std::regex(R"( INFO GET /x\?token=REDACTED 200 7B \d+\.\dms rid=abc\n$)")))
      << line;
}

TEST_F(HttpServerLogTest, RequestIdIsEchoedWhenSaneElseGenerated) {
  Start({});
  const auto id_for = [&](const std::string& header) {
    RawConnection conn(port());
    EXPECT_TRUE(conn.Send("GET /x HTTP/1.1\r\nHost: x\r\n" + header + "Connection: close\r\n\r\n"));
    EXPECT_TRUE(conn.ReadUntilClosed(kWait));
    return HeaderValue(conn.received(), "X-Request-Id");
  };
  EXPECT_EQ(id_for("X-Request-Id: my-id_1.2\r\n"), "my-id_1.2");
  EXPECT_EQ(id_for("X-Request-Id: " + std::string(128, 'r') + "\r\n"), std::string(128, 'r'));
  const std::string absent = id_for("");
  EXPECT_TRUE(IsNewRequestId(absent)) << absent;
  const std::string spaced = id_for("X-Request-Id: two words\r\n");
  EXPECT_TRUE(IsNewRequestId(spaced)) << spaced;
  const std::string long_id = id_for("X-Request-Id: " + std::string(129, 'r') + "\r\n");
  EXPECT_TRUE(IsNewRequestId(long_id)) << long_id;
  const std::string binary = id_for("X-Request-Id: caf\xc3\xa9\r\n");
  EXPECT_TRUE(IsNewRequestId(binary)) << binary;
  EXPECT_NE(absent, spaced);
  // The generated ID is the one logged.
  EXPECT_NE(LineWith(" rid=" + absent), "");
}

TEST_F(HttpServerLogTest, ServerOwnErrorAnswersCarryTheRequestIdAndAreLogged) {
  ServerOptions options;
  options.max_body_bytes = 10;
  Start(options);
  RawConnection large(port());
  ASSERT_TRUE(large.Send(Announce(11, "X-Request-Id: big-1\r\n")));
  ASSERT_TRUE(large.ReadUntilClosed(kWait)) << large.received();
  EXPECT_EQ(Statuses(large.received()), std::vector<int>{413});
  EXPECT_EQ(HeaderValue(large.received(), "X-Request-Id"), "big-1") << large.received();
  EXPECT_NE(LineWith("POST /process 413 "), "");
  EXPECT_NE(LineWith(" rid=big-1"), "");

  RawConnection garbage(port());
  ASSERT_TRUE(garbage.Send("NOT HTTP AT ALL\r\n\r\n"));
  ASSERT_TRUE(garbage.ReadUntilClosed(kWait)) << garbage.received();
  EXPECT_EQ(Statuses(garbage.received()), std::vector<int>{400});
  const std::string id = HeaderValue(garbage.received(), "X-Request-Id");
  EXPECT_TRUE(IsNewRequestId(id)) << garbage.received();
}

}  // namespace
}  // namespace buildtrace
