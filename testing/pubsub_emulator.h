// Google's Pub/Sub emulator for tests: the Java server of Debian's google-cloud-cli-pubsub-emulator
// package, started on a free loopback port, ready once its REST API answers (polled, about 5 s),
// killed when the test binary ends, and with it if it dies (PR_SET_PDEATHSIG). It takes seconds
// to start, so a test binary shares one: SharedPubSubEmulator().
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "core/status.h"

namespace buildtrace {

class PubSubEmulator {
 public:
  static constexpr const char* kLauncher =
      "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator";

  PubSubEmulator() = default;
  PubSubEmulator(const PubSubEmulator&) = delete;
  PubSubEmulator& operator=(const PubSubEmulator&) = delete;
  ~PubSubEmulator() { Stop(); }

  // Starts it (three ports are tried). kUnavailable saying what is missing (java, the emulator)
  // or what the emulator printed.
  Status Start();
  // SIGTERM, then SIGKILL after 5 s.
  void Stop();

  // "127.0.0.1:PORT", the value for PUBSUB_EMULATOR_HOST.
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

  // Test-side REST calls, for what a test sets up around the queue under test.
  Status CreateTopic(const std::string& project, const std::string& topic) const;
  // A pull subscription of `topic` with `ack_deadline_s`, and a dead-letter policy sending to
  // `dead_letter_topic` after 100 attempts when that is given.
  Status CreateSubscription(const std::string& project, const std::string& subscription,
                            const std::string& topic, int ack_deadline_s,
                            const std::optional<std::string>& dead_letter_topic) const;
  // Publishes one message written as given, e.g. {"data":"bm90IGEgdGFzaw=="} (not a task) or
  // {"attributes":{"k":"v"}} (no data).
  Status PublishRaw(const std::string& project, const std::string& topic,
                    const std::string& message_json) const;

 private:
  Status StartOnPort(int port);
  Status WaitUntilReady();
  Status Put(const std::string& path, const std::string& body) const;

  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_;
};

// The one emulator of this test binary, started on first use, with PUBSUB_EMULATOR_HOST set to
// it. When it cannot start, the calling test fails with the reason (it is not skipped) and the
// result is nullptr; later calls fail the same way without trying again.
const PubSubEmulator* SharedPubSubEmulator();

// A topic or subscription name no other call in this process returns: PREFIX-PID-N.
std::string UniquePubSubName(const std::string& prefix);

}  // namespace buildtrace
