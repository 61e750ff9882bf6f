// Fuzzes the Pub/Sub push envelope and message-data parsers (queue/pubsub_message.h), which read
// what arrives from outside on POST /tasks/pubsub and in pull answers. Besides "never crash", it
// checks that every task they accept encodes to message data that decodes to the same task.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "queue/pubsub_message.h"

namespace {

void CheckRoundTrip(const buildtrace::Result<buildtrace::AnalysisTask>& task) {
  if (!task.ok()) return;
  auto again = buildtrace::DecodePubSubMessageData(buildtrace::EncodePubSubMessageData(*task));
  if (!again.ok() || !(*again == *task)) {
    std::fprintf(stderr, "round trip broken for job %lld\n", static_cast<long long>(task->job_id));
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckRoundTrip(buildtrace::ParsePubSubPushEnvelope(input));
  CheckRoundTrip(buildtrace::DecodePubSubMessageData(input));
  return 0;
}
