// moto's S3 server for tests, started on a free loopback port through testing/moto_server.py
// (moto with the AWS canonical-query fix, see that file) with INITIAL_NO_AUTH_ACTION_COUNT=4:
// the four unsigned requests create an IAM user with an s3:* policy and its access key, and
// every later request must carry a valid signature. Used by the S3 store's tests and by the
// end-to-end tests of several instances on one bucket.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "cloud/http_call.h"
#include "core/status.h"
#include "store/s3_state_store.h"

namespace buildtrace {

// A loopback port that was free a moment ago (the caller retries if it is taken meanwhile).
Result<int> PickFreePort();

namespace moto_detail {
std::string ReadFile(const std::string& path);
std::string ElementText(std::string_view xml, std::string_view tag);
std::string FormEncode(std::string_view text);
bool CanConnect(int port);
extern const char* const kMotoServerScript;
}  // namespace moto_detail

// A moto server process; see the file comment.
class MotoServer {
 public:
  static Result<std::unique_ptr<MotoServer>> Start(const std::string& dir) {
    const std::string log = dir + "/moto.log";
    std::string failures;
    for (int attempt = 1; attempt <= 3; ++attempt) {
      Result<int> port = PickFreePort();
      if (!port.ok()) return port.status();
      auto server = std::unique_ptr<MotoServer>(new MotoServer(*port, log));
      Status started = server->Spawn();
      if (started.ok()) started = server->WaitUntilListening();
      if (started.ok()) started = server->CreateAccessKey();
      if (started.ok()) return server;
      // Missing rather than failing: said as such, once. (Checked here, after the fact, and not
      // with an import before each start: that import cost a second of CPU per test process.)
      const std::string output = moto_detail::ReadFile(log);
      if (server->exit_status_ == 127 || output.find("No module named") != std::string::npos) {
        return Unavailable("moto's server is missing: python3 " +
                           std::string(moto_detail::kMotoServerScript) + " exited with " +
                           std::to_string(server->exit_status_) +
                           (server->exit_status_ == 127 ? " (no python3)" : "") +
                           ", output: " + output + "; install it with: pip install 'moto[server]'");
      }
      failures += "\n  attempt " + std::to_string(attempt) + ": " + started.message();
    }
    return Unavailable("moto's server did not start:" + failures + "\nits log:\n" +
                       moto_detail::ReadFile(log));
  }

  ~MotoServer() {
    if (pid_ > 0) (void)Stop();
  }

  // SIGTERM, then waits (SIGKILL after 10 s); Ok when it ended by that signal or exited.
  Status Stop() {
    if (pid_ <= 0) return Status::Ok();
    ::kill(pid_, SIGTERM);
    ::kill(pid_, SIGCONT);  // a frozen server would keep the SIGTERM pending
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    pid_t done = 0;
    while ((done = ::waitpid(pid_, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (done == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
    if (done == 0) return Unavailable("moto ignored SIGTERM for 10 s and was killed");
    return Status::Ok();
  }

  // SIGSTOP / SIGCONT: the server keeps its connections (the kernel still accepts and buffers)
  // but answers nothing until thawed, as a hung or overloaded server would.
  Status Freeze() { return Signal(SIGSTOP, "freeze"); }
  Status Thaw() { return Signal(SIGCONT, "thaw"); }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  const S3Credentials& credentials() const { return credentials_; }

  // A call signed with moto's access key (or `credentials`), for test-side S3 requests.
  HttpCall S3Call(std::string method, std::string path, std::string body = "",
                  std::optional<S3Credentials> credentials = std::nullopt) const {
    const S3Credentials& c = credentials ? *credentials : credentials_;
    HttpCall call;
    call.method = std::move(method);
    call.url = endpoint() + path;
    call.body = std::move(body);
    call.headers = {"x-amz-content-sha256: UNSIGNED-PAYLOAD"};
    call.aws_sigv4 = "aws:amz:us-east-1:s3";
    call.user = c.access_key_id + ":" + c.secret_access_key;
    return call;
  }

  // A new, empty bucket with a name no other test uses.
  Result<std::string> NewBucket() const {
    static std::atomic<int> counter{0};
    const std::string bucket =
        "bt-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
    Result<HttpReply> reply = PerformHttpCall(S3Call("PUT", "/" + bucket), "create bucket");
    if (!reply.ok()) return reply.status();
    if (reply->status != 200) {
      return Unavailable("creating bucket " + bucket + ": HTTP " + std::to_string(reply->status) +
                         " " + reply->body);
    }
    return bucket;
  }

  // A new bucket for `buildtrace` processes this test starts: exports moto's credentials to the
  // environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; no AWS_SESSION_TOKEN), where they
  // read them as in production, and returns the store URL "s3://BUCKET/PREFIX?endpoint=...".
  Result<std::string> NewStoreUrlForChildren(const std::string& prefix) const {
    Result<std::string> bucket = NewBucket();
    if (!bucket.ok()) return bucket.status();
    ::setenv("AWS_ACCESS_KEY_ID", credentials_.access_key_id.c_str(), 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", credentials_.secret_access_key.c_str(), 1);
    ::unsetenv("AWS_SESSION_TOKEN");
    return "s3://" + *bucket + "/" + prefix + "?endpoint=" + endpoint() + "&region=us-east-1";
  }

 private:
  MotoServer(int port, std::string log) : port_(port), log_(std::move(log)) {}

  Status Signal(int signal, const char* what) {
    if (pid_ <= 0 || ::kill(pid_, signal) != 0) {
      return Unavailable(std::string("cannot ") + what + " moto: it is not running");
    }
    return Status::Ok();
  }

  Status Spawn() {
    std::vector<std::string> args = {"python3", moto_detail::kMotoServerScript, "-H", "127.0.0.1",
                                     "-p",      std::to_string(port_)};
    std::vector<std::string> env = {"INITIAL_NO_AUTH_ACTION_COUNT=4"};
    for (char** e = environ; *e != nullptr; ++e) {
      if (!std::string_view(*e).starts_with("INITIAL_NO_AUTH_ACTION_COUNT=")) env.push_back(*e);
    }
    std::vector<char*> argv, envp;
    for (std::string& arg : args) argv.push_back(arg.data());
    for (std::string& var : env) envp.push_back(var.data());
    argv.push_back(nullptr);
    envp.push_back(nullptr);
    const int out = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out < 0) return Unavailable("cannot open " + log_);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      // Dies with this test binary, even if it crashes or is killed by a timeout.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::execvpe(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(out);
    if (pid_ < 0) return Unavailable("fork() failed");
    return Status::Ok();
  }

  // Polls a TCP connect until moto listens, it exits, or the deadline passes.
  Status WaitUntilListening() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return Unavailable("moto exited with status " + std::to_string(exit_status_) +
                           " before listening on port " + std::to_string(port_));
      }
      if (moto_detail::CanConnect(port_)) return Status::Ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    (void)Stop();
    return Unavailable("moto did not listen on port " + std::to_string(port_) + " within 60 s");
  }

  // One form-encoded IAM query call, unsigned in effect (moto routes it to IAM by the
  // credential scope and checks no signature within INITIAL_NO_AUTH_ACTION_COUNT).
  Result<std::string> Iam(const std::vector<std::pair<std::string, std::string>>& params) const {
    HttpCall call;
    call.method = "POST";
    call.url = endpoint() + "/";
    call.headers = {"Content-Type: application/x-www-form-urlencoded"};
    call.body = "Version=2010-05-08";
    for (const auto& [name, value] : params)
      call.body += "&" + name + "=" + moto_detail::FormEncode(value);
    call.aws_sigv4 = "aws:amz:us-east-1:iam";
    call.user = "setup:setup";
    Result<HttpReply> reply = PerformHttpCall(call, "moto IAM " + params.front().second);
    if (!reply.ok()) return reply.status();
    if (reply->status != 200) {
      return Unavailable("moto IAM " + params.front().second + ": HTTP " +
                         std::to_string(reply->status) + " " + reply->body);
    }
    return std::move(reply->body);
  }

  // Spends exactly the four unauthenticated requests; after them moto checks every signature.
  Status CreateAccessKey() {
    const std::string policy =
        R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]})";
    Result<std::string> user = Iam({{"Action", "CreateUser"}, {"UserName", "buildtrace"}});
    if (!user.ok()) return user.status();
    Result<std::string> put = Iam({{"Action", "PutUserPolicy"},
                                   {"UserName", "buildtrace"},
                                   {"PolicyName", "s3-all"},
                                   {"PolicyDocument", policy}});
    if (!put.ok()) return put.status();
    Result<std::string> key = Iam({{"Action", "CreateAccessKey"}, {"UserName", "buildtrace"}});
    if (!key.ok()) return key.status();
    credentials_.access_key_id = moto_detail::ElementText(*key, "AccessKeyId");
    credentials_.secret_access_key = moto_detail::ElementText(*key, "SecretAccessKey");
    if (credentials_.access_key_id.empty() || credentials_.secret_access_key.empty()) {
      return Unavailable("moto's CreateAccessKey answer has no key: " + *key);
    }
    // The fourth free request; from here on a request without a valid signature fails.
    Result<std::string> get = Iam({{"Action", "GetUser"}, {"UserName", "buildtrace"}});
    return get.ok() ? Status::Ok() : get.status();
  }

  int port_;
  std::string log_;
  pid_t pid_ = -1;
  int exit_status_ = 0;  // the process's exit status, when it exited before listening
  S3Credentials credentials_;
};

// One moto server for every test of a process: started on first use in a temporary folder,
// stopped (and the folder removed) when the process exits. Null when it cannot start; then
// `failure` (if given) says why.
MotoServer* SharedMotoServer(std::string* failure = nullptr);

}  // namespace buildtrace
