// The Pub/Sub emulator for tests. Readiness is an HTTP answer from its REST API (any status: a
// 404 for a topic that does not exist means it is serving), polled every 50 ms.
#include "testing/pubsub_emulator.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>

#include "cloud/http_call.h"
#include "testing/loopback_port.h"
#include "testing/test_process.h"

namespace buildtrace {
namespace {

using std::chrono::milliseconds;

bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path == nullptr ? "" : path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

Result<HttpReply> Rest(const std::string& host, const std::string& method, const std::string& path,
                       const std::string& body) {
  HttpCall call;
  call.method = method;
  call.url = "http://" + host + "/v1/" + path;
  call.body = body;
  if (!body.empty()) call.headers = {"Content-Type: application/json"};
  call.timeout = milliseconds(10'000);
  return PerformHttpCall(call, "pubsub emulator " + method + " " + path);
}

}  // namespace

Status PubSubEmulator::Start() {
  if (!OnPath("java")) {
    return Unavailable(
        "the Pub/Sub emulator needs java, which is not on PATH; install "
        "openjdk-17-jre-headless");
  }
  if (::access(kLauncher, X_OK) != 0) {
    return Unavailable(std::string("the Pub/Sub emulator is not installed at ") + kLauncher +
                       "; install Debian's google-cloud-cli-pubsub-emulator");
  }
  log_ = (std::filesystem::path(::testing::TempDir()) /
          ("bt_pubsub_emulator_" + std::to_string(::getpid()) + ".log"))
             .string();
  std::string failures;
  for (int attempt = 1; attempt <= 3; ++attempt) {  // another process may take the port first
    Status started = StartOnPort(FreeLoopbackPort());
    if (started.ok()) started = WaitUntilReady();
    if (started.ok()) return Status::Ok();
    Stop();
    failures += "\n  attempt " + std::to_string(attempt) + ": " + started.message();
  }
  return Unavailable("the Pub/Sub emulator did not start:" + failures + "\nits log:\n" +
                     TailOfFile(log_));
}

Status PubSubEmulator::StartOnPort(int port) {
  if (port == 0) return Unavailable("no free loopback port");
  port_ = port;
  Result<pid_t> pid =
      StartTestProcess({kLauncher, "--host=127.0.0.1", "--port=" + std::to_string(port)}, log_);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  return Status::Ok();
}

Status PubSubEmulator::WaitUntilReady() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Unavailable("the emulator exited before serving on port " + std::to_string(port_));
    }
    HttpCall call;
    call.url = "http://" + host() + "/v1/projects/bt-ready/topics/none";
    call.timeout = milliseconds(1'000);
    call.connect_timeout = milliseconds(200);
    if (PerformHttpCall(call, "pubsub emulator readiness").ok()) return Status::Ok();
    std::this_thread::sleep_for(milliseconds(50));
  }
  return Unavailable("the emulator did not answer on port " + std::to_string(port_) +
                     " within 60 s");
}

void PubSubEmulator::Stop() {
  if (pid_ <= 0) return;
  StopTestProcess(pid_, std::chrono::seconds(5));
  pid_ = -1;
}

Status PubSubEmulator::Put(const std::string& path, const std::string& body) const {
  Result<HttpReply> reply = Rest(host(), "PUT", path, body);
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    return Unavailable("pubsub emulator PUT " + path + ": HTTP " + std::to_string(reply->status) +
                       " " + reply->body);
  }
  return Status::Ok();
}

Status PubSubEmulator::CreateTopic(const std::string& project, const std::string& topic) const {
  return Put("projects/" + project + "/topics/" + topic, "{}");
}

Status PubSubEmulator::CreateSubscription(
    const std::string& project, const std::string& subscription, const std::string& topic,
    int ack_deadline_s, const std::optional<std::string>& dead_letter_topic) const {
  std::string body = "{\"topic\":\"projects/" + project + "/topics/" + topic +
                     "\",\"ackDeadlineSeconds\":" + std::to_string(ack_deadline_s);
  if (dead_letter_topic) {
    body += ",\"deadLetterPolicy\":{\"deadLetterTopic\":\"projects/" + project + "/topics/" +
            *dead_letter_topic + "\",\"maxDeliveryAttempts\":100}";
  }
  return Put("projects/" + project + "/subscriptions/" + subscription, body + "}");
}

Status PubSubEmulator::PublishRaw(const std::string& project, const std::string& topic,
                                  const std::string& message_json) const {
  const std::string path = "projects/" + project + "/topics/" + topic + ":publish";
  Result<HttpReply> reply = Rest(host(), "POST", path, "{\"messages\":[" + message_json + "]}");
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    return Unavailable("pubsub emulator publish: HTTP " + std::to_string(reply->status) + " " +
                       reply->body);
  }
  return Status::Ok();
}

const PubSubEmulator* SharedPubSubEmulator() {
  // Started once; destroyed (and so stopped) when the test binary exits.
  static PubSubEmulator emulator;
  static const Status started = [] {
    Status status = emulator.Start();
    if (status.ok()) ::setenv("PUBSUB_EMULATOR_HOST", emulator.host().c_str(), 1);
    return status;
  }();
  if (!started.ok()) {
    ADD_FAILURE() << started.message();
    return nullptr;
  }
  return &emulator;
}

std::string UniquePubSubName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

}  // namespace buildtrace
