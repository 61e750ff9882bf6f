// Tests for RunSimulate against a fake service started in the test (Beast, 127.0.0.1, port 0)
// that records every request and answers canned JSON. The fake stands in for the server only to
// check the simulator's side: which requests it makes, what it prints, how it reports errors.
#include "simulator/simulate.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

namespace buildtrace {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

struct SeenRequest {
  std::string method;
  std::string target;
  std::string body;
  std::string authorization;  // the Authorization header, empty when absent
};

struct CannedAnswer {
  int status = 200;
  std::string body;
};

// Serves HTTP/1.1 keep-alive on 127.0.0.1:<port 0>, answering each request with `answer`.
class FakeService {
 public:
  using Answerer = std::function<CannedAnswer(const SeenRequest&)>;

  explicit FakeService(Answerer answer)
      : answer_(std::move(answer)),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io_, Accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeService() {
    io_.stop();
    thread_.join();
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  std::vector<SeenRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      beast::error_code ec;
      tcp::socket socket =
          co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(io_, Serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> Serve(tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      beast::error_code ec;
      http::request<http::string_body> request;
      co_await http::async_read(socket, buffer, request,
                                asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      SeenRequest seen{std::string(request.method_string()), std::string(request.target()),
                       request.body(), std::string(request[http::field::authorization])};
      const CannedAnswer canned = answer_(seen);
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(std::move(seen));
      }
      http::response<http::string_body> response(static_cast<http::status>(canned.status), 11);
      response.set(http::field::content_type, "application/json");
      response.body() = canned.body;
      response.prepare_payload();
      co_await http::async_write(socket, response, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
    }
  }

  Answerer answer_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<SeenRequest> requests_;
};

// The jobs of one POST /process body, or an empty vector if it is not a JSON array.
std::vector<simdjson::dom::element> PostedJobs(simdjson::dom::parser& parser,
                                               const std::string& body) {
  std::vector<simdjson::dom::element> jobs;
  simdjson::dom::array array;
  if (parser.parse(body).get(array) != simdjson::SUCCESS) return jobs;
  for (simdjson::dom::element job : array) jobs.push_back(job);
  return jobs;
}

int64_t JobIdOfReportTarget(const std::string& target) {
  return std::stoll(target.substr(std::string("/report/").size()));
}

std::string Report(int64_t id) {
  const std::string n = std::to_string(id);
  return R"({"project":"sim","job_id":)" + n + R"(,"base_job_id":)" +
         (id == 1 ? "null" : std::to_string(id - 1)) + R"(,"status":")" +
         (id == 3 ? "failed" : "succeeded") + R"(","metrics":{"job_id":)" + n +
         R"(,"latency_ms":2000,"total_added":)" + n + R"(,"total_removed":1,"total_modified":)" +
         std::to_string(10 + id) +
         R"(,"total_unchanged":990,"total_moved":5,"total_resized":3,"total_retyped":2,)" +
         R"("total_changed":)" + n + R"(},"changes":{},"summary":"s","warehouse":{}})";
}

// A well-behaved service: accepts every job, reports canned metrics (job 3 failed) and latency
// quantiles.
CannedAnswer HappyService(const SeenRequest& request) {
  if (request.method == "POST" && request.target == "/process") {
    return {200, R"({"accepted":[]})"};
  }
  if (request.target.starts_with("/report/"))
    return {200, Report(JobIdOfReportTarget(request.target))};
  if (request.target.starts_with("/stats/latency")) {
    return {200, R"({"project":"sim","window":"30d","count":7,)"
                 R"("quantiles":{"0.5":2013,"0.95":4410.5,"0.99":null}})"};
  }
  return {404, R"({"error":{"code":"not_found","message":"no such route"}})"};
}

SimulateOptions SevenJobsInBatchesOfThree(const std::string& url) {
  SimulateOptions options;
  options.url = url;
  options.jobs = 7;
  options.batch = 3;
  options.objects = 50;
  options.failure_rate = 0.3;
  options.start_epoch_seconds = 1795860000;
  return options;
}

TEST(SimulateTest, PostsInBatchesThenReadsEveryReportAndTheStats) {
  FakeService service(HappyService);
  std::ostringstream out, err;
  ASSERT_EQ(RunSimulate(SevenJobsInBatchesOfThree(service.url()), out, err), 0) << err.str();
  EXPECT_EQ(err.str(), "");

  const std::vector<SeenRequest> requests = service.requests();
  std::vector<std::string> targets;
  for (const SeenRequest& r : requests) targets.push_back(r.method + " " + r.target);
  std::vector<std::string> expected = {"POST /process", "POST /process", "POST /process"};
  for (int id = 1; id <= 7; ++id) {
    expected.push_back("GET /report/" + std::to_string(id) + "?project=sim&format=json&limit=0");
  }
  expected.push_back("GET /stats/latency?project=sim&window=30d&quantiles=0.5,0.95,0.99");
  ASSERT_EQ(targets, expected);

  simdjson::dom::parser parser;
  std::vector<size_t> batch_sizes;
  int64_t next_id = 1;
  int failed = 0;
  for (int i = 0; i < 3; ++i) {
    const auto jobs = PostedJobs(parser, requests[i].body);
    batch_sizes.push_back(jobs.size());
    for (simdjson::dom::element job : jobs) {
      EXPECT_EQ(int64_t(job["job_id"]), next_id++);
      EXPECT_EQ(std::string_view(job["project"]), "sim");
      failed += std::string_view(job["status"]) == "failed";
    }
  }
  EXPECT_EQ(batch_sizes, (std::vector<size_t>{3, 3, 1}));
  EXPECT_NE(requests[0].body.find(R"("timestamp":"2026-11-28T10:00:00Z")"), std::string::npos);

  std::string text = out.str();
  const std::string first_line = text.substr(0, text.find('\n'));
  EXPECT_EQ(first_line,
            "posted 7 jobs (" + std::to_string(failed) + " failed) in 3 requests, 7 reports");
  EXPECT_NE(
      text.find("\njob 1 vs none: +1 -1 ~11 (moved 5, resized 3, retyped 2, changed 1) =990\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("\njob 5 vs 4: +5 -1 ~15 (moved 5, resized 3, retyped 2, changed 5) =990\n"),
            std::string::npos)
      << text;
  // A failed job's report is marked as such.
  EXPECT_NE(
      text.find(
          "\njob 3 (failed) vs 2: +3 -1 ~13 (moved 5, resized 3, retyped 2, changed 3) =990\n"),
      std::string::npos)
      << text;
  EXPECT_TRUE(
      text.ends_with("\nlatency over 30d (7 jobs): p50 2013 ms, p95 4410.5 ms, p99 n/a ms\n"))
      << text;
}

// --token goes with every request; on a terminal, progress on err, one line per phase.
TEST(SimulateTest, SendsTheTokenAndShowsProgress) {
  FakeService service(HappyService);
  SimulateOptions options = SevenJobsInBatchesOfThree(service.url());
  options.token = "s3cret";
  options.progress = true;
  std::ostringstream out, err;
  ASSERT_EQ(RunSimulate(options, out, err), 0) << err.str();
  const std::vector<SeenRequest> requests = service.requests();
  ASSERT_EQ(requests.size(), 11u);
  for (const SeenRequest& r : requests) EXPECT_EQ(r.authorization, "Bearer s3cret") << r.target;
  EXPECT_EQ(err.str(),
            "\rbuildtrace simulate: posted 3/7 jobs\rbuildtrace simulate: posted 6/7 jobs"
            "\rbuildtrace simulate: posted 7/7 jobs\n"
            "\rbuildtrace simulate: read the reports of 1/7 jobs"
            "\rbuildtrace simulate: read the reports of 2/7 jobs"
            "\rbuildtrace simulate: read the reports of 3/7 jobs"
            "\rbuildtrace simulate: read the reports of 4/7 jobs"
            "\rbuildtrace simulate: read the reports of 5/7 jobs"
            "\rbuildtrace simulate: read the reports of 6/7 jobs"
            "\rbuildtrace simulate: read the reports of 7/7 jobs\n");
}

TEST(SimulateTest, EncodesTheProjectInQueries) {
  FakeService service(HappyService);
  SimulateOptions options = SevenJobsInBatchesOfThree(service.url());
  options.jobs = 1;
  options.project = "my proj&x";
  std::ostringstream out, err;
  ASSERT_EQ(RunSimulate(options, out, err), 0) << err.str();
  const auto requests = service.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[1].target, "/report/1?project=my%20proj%26x&format=json&limit=0");
  EXPECT_NE(requests[0].body.find(R"("project":"my proj&x")"), std::string::npos);
}

TEST(SimulateTest, ConflictOnPostStopsWithTheServersMessage) {
  FakeService service([](const SeenRequest& request) -> CannedAnswer {
    if (request.method == "POST") {
      return {409, R"({"error":{"code":"conflict","message":"job 2 of project sim was stored )"
                   R"(with other content; post it under a new job id",)"
                   R"("details":[{"index":1,"field":"state","message":"differs"}]}})"};
    }
    return HappyService(request);
  });
  std::ostringstream out, err;
  EXPECT_EQ(RunSimulate(SevenJobsInBatchesOfThree(service.url()), out, err), 1);
  EXPECT_EQ(err.str(),
            "buildtrace simulate: POST /process answered 409: job 2 of project sim was stored "
            "with other content; post it under a new job id; state: differs\n");
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(service.requests().size(), 1u);  // nothing more after the failure
}

TEST(SimulateTest, MissingReportStopsWithTheTarget) {
  FakeService service([](const SeenRequest& request) -> CannedAnswer {
    if (request.target.starts_with("/report/3?")) return {404, "no job 3"};
    return HappyService(request);
  });
  std::ostringstream out, err;
  EXPECT_EQ(RunSimulate(SevenJobsInBatchesOfThree(service.url()), out, err), 1);
  EXPECT_EQ(err.str(),
            "buildtrace simulate: GET /report/3?project=sim&format=json&limit=0 answered 404: "
            "no job 3\n");
}

TEST(SimulateTest, UnreachableServiceNamesTheUrl) {
  std::string url;
  {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    url = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
  }  // closed: nothing listens there any more
  std::ostringstream out, err;
  EXPECT_EQ(RunSimulate(SevenJobsInBatchesOfThree(url), out, err), 1);
  EXPECT_TRUE(err.str().starts_with("buildtrace simulate: POST /process to " + url + " failed: "))
      << err.str();
  EXPECT_EQ(out.str(), "");
}

TEST(SimulateTest, BadOptionsExitWithTwo) {
  std::ostringstream out, err;
  SimulateOptions https;
  https.url = "https://127.0.0.1:8443";
  EXPECT_EQ(RunSimulate(https, out, err), 2);
  EXPECT_NE(err.str().find("https"), std::string::npos) << err.str();

  SimulateOptions no_batch;
  no_batch.batch = 0;
  std::ostringstream err2;
  EXPECT_EQ(RunSimulate(no_batch, out, err2), 2);
  EXPECT_EQ(err2.str(), "buildtrace simulate: --batch must be at least 1\n");
}

}  // namespace
}  // namespace buildtrace
