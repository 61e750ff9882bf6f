// Access control end to end: the real `buildtrace serve` with a tokens file answers 401, 403 and
// 200 as docs/api.md says, refuses a malformed tokens file, and without tokens refuses a
// non-loopback --host unless --allow-unauthenticated is given.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/canonical_hash.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/run_command.h"
#include "tests/e2e/server_process.h"

namespace buildtrace::e2e {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

Headers Bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

class AuthE2eTest : public E2eTest {
 protected:
  bool NeedsServer() const override { return false; }

  std::string WriteTokens(const std::string& text) {
    const std::string path = root_dir() + "/tokens";
    std::ofstream(path) << text;
    return path;
  }
  // Starts `serve` with `args` after `--port 0 --data-dir DIR`; null (and a test failure) if it
  // does not come up.
  std::unique_ptr<ServerProcess> Start(std::vector<std::string> args, int analysis_workers = 0) {
    ServerProcess::Options options{BinaryPath(), data_dir(), log_path(), std::move(args)};
    options.analysis_workers = analysis_workers;
    auto server = ServerProcess::Start(std::move(options));
    EXPECT_TRUE(server.ok()) << server.status().message();
    return server.ok() ? std::move(*server) : nullptr;
  }
  std::vector<std::string> ServeCommand(std::vector<std::string> args) {
    args.insert(args.begin(), {BinaryPath(), "serve", "--port", "0", "--data-dir", data_dir()});
    return args;
  }
};

TEST_F(AuthE2eTest, TokensGive401403And200) {
  const std::string tokens =
      WriteTokens("# e2e tokens\nsha256:" + Sha256Hex("ci-token") +
                  " ingest web\nsha256:" + Sha256Hex("read-token") +
                  " read web\nsha256:" + Sha256Hex("push-token") + " worker\n");
  auto server = Start({"--auth-tokens-file", tokens}, 1);
  ASSERT_NE(server, nullptr);
  HttpClient client(server->endpoint());
  const std::string job = BatchJson({TestJob{1, "web"}});

  auto no_token = client.Post("/process", job);
  ASSERT_TRUE(no_token.ok()) << no_token.status().message();
  EXPECT_TRUE(IsError(*no_token, 401, "unauthenticated"));
  EXPECT_EQ(no_token->headers["www-authenticate"], "Bearer");
  auto wrong = client.Get("/projects", Bearer("nope"));
  ASSERT_TRUE(wrong.ok());
  EXPECT_TRUE(IsError(*wrong, 401, "unauthenticated"));

  auto out_of_scope = client.Post("/process", job, "application/json", Bearer("read-token"));
  ASSERT_TRUE(out_of_scope.ok());
  EXPECT_TRUE(IsError(*out_of_scope, 403, "forbidden"));
  auto out_of_project = client.Post("/process", BatchJson({TestJob{1, "api"}}), "application/json",
                                    Bearer("ci-token"));
  ASSERT_TRUE(out_of_project.ok());
  EXPECT_TRUE(IsError(*out_of_project, 403, "forbidden"));
  EXPECT_TRUE(FilesUnder(states_dir()).empty());

  auto stored = client.Post("/process", job, "application/json", Bearer("ci-token"));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->status, 202) << stored->body;
  auto read = client.Get("/jobs/1?project=web", Bearer("read-token"));
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->status, 200) << read->body;
  auto other = client.Get("/jobs/1?project=api", Bearer("read-token"));
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(IsError(*other, 403, "forbidden"));
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
  // A Pub/Sub push subscription carries its worker token in the endpoint URL (the instance runs
  // the embedded queue, so the push is analysed here and answered once done).
  auto pushed = client.Post("/tasks/pubsub?token=push-token",
                            R"({"message":{"data":"eyJwcm9qZWN0Ijoid2ViIiwiam9iX2lkIjoxfQ=="},)"
                            R"("subscription":"projects/p/subscriptions/s"})",
                            "application/json");
  ASSERT_TRUE(pushed.ok());
  EXPECT_EQ(pushed->status, 200) << pushed->body;
  EXPECT_EQ(pushed->body, "{\"status\":\"analysed\"}\n");
  EXPECT_TRUE(server->Stop().ok());
  // Neither the tokens nor their hashes reach the log, the push URL's included.
  const std::string log = ReadLog(log_path());
  EXPECT_NE(log.find("POST /tasks/pubsub?token=REDACTED 200"), std::string::npos) << log;
  for (const char* token : {"ci-token", "read-token", "push-token"}) {
    EXPECT_EQ(log.find(token), std::string::npos) << log;
    EXPECT_EQ(log.find(Sha256Hex(token)), std::string::npos) << log;
  }
}

TEST_F(AuthE2eTest, MalformedTokensFileStopsTheStartWithTheLine) {
  const std::string tokens = WriteTokens("sha256:" + Sha256Hex("t") + " read\nsha256:12 read\n");
  auto result = RunCommand(ServeCommand({"--auth-tokens-file", tokens}));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->exit_code, 1);
  EXPECT_NE(result->err.find("line 2"), std::string::npos) << result->err;
}

TEST_F(AuthE2eTest, NonLoopbackHostWithoutTokensIsRefused) {
  auto result = RunCommand(ServeCommand({"--host", "0.0.0.0"}));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->exit_code, 1);
  EXPECT_NE(result->err.find("refusing to listen on 0.0.0.0"), std::string::npos) << result->err;
  EXPECT_NE(result->err.find("--auth-tokens-file"), std::string::npos) << result->err;
  EXPECT_NE(result->err.find("--allow-unauthenticated"), std::string::npos) << result->err;
}

TEST_F(AuthE2eTest, AllowUnauthenticatedStartsOnANonLoopbackHost) {
  auto server = Start({"--host", "0.0.0.0", "--allow-unauthenticated"});
  ASSERT_NE(server, nullptr);
  HttpClient client(server->endpoint());
  auto projects = client.Get("/projects");
  ASSERT_TRUE(projects.ok()) << projects.status().message();
  EXPECT_EQ(projects->status, 200) << projects->body;
  EXPECT_TRUE(server->Stop().ok());
}

}  // namespace
}  // namespace buildtrace::e2e
