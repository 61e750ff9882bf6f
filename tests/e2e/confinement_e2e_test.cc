// Confinement on the wire: hostile request targets written byte for byte to the real server (raw
// "..", NUL, backslashes, spaces, bytes above 0x7f, absolute forms), which no HTTP client library
// would send as is. The Api-level table is src/http/api_confinement_test.cc; this checks that the
// HTTP parser in front of it lets nothing through that the Api would not see, with a sentinel file
// beside the data folder and project alpha's secret in the store.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/raw_connection.h"

namespace buildtrace::e2e {
namespace {

namespace fs = std::filesystem;

std::string Unique(std::string_view what) {
  std::mt19937_64 engine{std::random_device{}()};
  return std::string(what) + "-" + std::to_string(engine());
}

class E2eConfinement : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    if (HasFatalFailure()) return;
    std::ofstream(root_dir() + "/secret.txt") << sentinel_;
    TestJob job;
    job.project = "alpha";
    job.state = R"({"k":")" + secret_ + R"("})";
    PostOk(job.ToJson());
  }

  // The status line and body of the answer to `request`, sent as is on a fresh connection.
  std::string Exchange(const std::string& request) {
    RawConnection connection(server().port());
    EXPECT_TRUE(connection.ok()) << "connect: errno " << connection.error();
    EXPECT_TRUE(connection.Send(request));
    EXPECT_TRUE(connection.ReadUntilClosed(std::chrono::seconds(10)))
        << "no answer, or the connection stayed open, for: " << request;
    return connection.received();
  }

  // Everything under the test's folder but the server's log and the SQLite files, with bytes.
  std::vector<std::pair<std::string, std::string>> Snapshot() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const std::string& file : FilesUnder(root_dir())) {
      if (file == "server.log" || file.starts_with("data/metrics.db")) continue;
      std::ifstream in(root_dir() + "/" + file, std::ios::binary);
      out.emplace_back(file, std::string(std::istreambuf_iterator<char>(in), {}));
    }
    return out;
  }

  const std::string sentinel_ = Unique("OUTSIDE-SENTINEL");
  const std::string secret_ = Unique("ALPHA-SECRET");
};

TEST_F(E2eConfinement, RawHostileTargetsAreRefusedAndTouchNothing) {
  struct Case {
    std::string target;  // written as is into the request line
    std::string status;  // the answer's status line
    std::string code;    // error.code in its body
  };
  const std::string bad_request = "HTTP/1.1 400 Bad Request";
  const std::vector<Case> cases = {
      {"/jobs/../../secret.txt", "HTTP/1.1 404 Not Found", "not_found"},
      {"/../secret.txt", "HTTP/1.1 404 Not Found", "not_found"},
      {"/jobs/..", bad_request, "invalid_request"},
      {"/jobs/1?project=../..", bad_request, "invalid_request"},
      {"/jobs/1?project=alpha/../beta", bad_request, "invalid_request"},
      {"/jobs/1?project=..%2f..%2fsecret.txt", bad_request, "invalid_request"},
      {"/jobs/..%2f..%2fsecret.txt", bad_request, "invalid_request"},
      {"/jobs/1%00", bad_request, "invalid_request"},
      {std::string("/jobs/1\0", 8), bad_request, "bad_request"},
      {"/jobs/1?project=alpha\x7f", bad_request, "bad_request"},
      {"/jobs/..\\..\\secret.txt", bad_request, "invalid_request"},
      {"/jobs/1?project=..\\alpha", bad_request, "invalid_request"},
      {"/jobs/1?project=alph\xc3\xa4", bad_request, "invalid_request"},
      {"/jobs/\xef\xbc\x91", bad_request, "invalid_request"},
      {"../secret.txt", bad_request, "invalid_request"},
      {"http://127.0.0.1/../secret.txt", bad_request, "invalid_request"},
      {"//secret.txt", bad_request, "invalid_request"},
      {"/jobs/1\t/../secret.txt", bad_request, "bad_request"},
  };
  const auto before = Snapshot();
  // secret.txt and alpha's job (next to the job index and, once analysed, its records)
  ASSERT_EQ(std::count_if(before.begin(), before.end(),
                          [](const auto& file) {
                            return file.first == "secret.txt" ||
                                   file.first.starts_with("data/states/jobs/");
                          }),
            2);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.target);
    const std::string answer =
        Exchange("GET " + c.target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(answer.starts_with(c.status + "\r\n")) << answer;
    EXPECT_NE(answer.find(R"({"error":{"code":")" + c.code + "\""), std::string::npos) << answer;
    EXPECT_EQ(answer.find(sentinel_), std::string::npos) << answer;
    EXPECT_EQ(answer.find(secret_), std::string::npos) << answer;
  }
  EXPECT_EQ(Snapshot(), before);
  // The legitimate name still works, through the same parser.
  const std::string own =
      Exchange("GET /jobs/1?project=alpha HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(own.starts_with("HTTP/1.1 200 OK\r\n")) << own;
  EXPECT_NE(own.find(secret_), std::string::npos);
}

}  // namespace
}  // namespace buildtrace::e2e
