// Fuzzes the parser of POST /process bodies and stored jobs (core/job_parser.h). Besides "never
// crash", it checks the stored form round-trips: every job that parses, written with SerializeJob
// and parsed again as a document, must parse and give the same job.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/job.h"
#include "core/job_parser.h"
#include "core/job_writer.h"

namespace {

using buildtrace::Job;

bool SameJob(const Job& a, const Job& b) {
  const auto& x = a.header;
  const auto& y = b.header;
  if (x.job_id != y.job_id || x.project != y.project || x.timestamp != y.timestamp ||
      x.timestamp_ms != y.timestamp_ms || x.latency_ms != y.latency_ms || x.status != y.status ||
      x.metadata != y.metadata || a.state.size() != b.state.size()) {
    return false;
  }
  for (size_t i = 0; i < a.state.size(); ++i) {
    if (a.state[i].id != b.state[i].id || a.state[i].value != b.state[i].value ||
        a.state[i].structured != b.state[i].structured) {
      return false;
    }
  }
  return true;
}

[[noreturn]] void Fail(const char* what, const std::string& serialized) {
  std::fprintf(stderr, "round trip broken: %s\nserialized: %s\n", what, serialized.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  buildtrace::ParseLimits limits;
  limits.max_jobs = 64;  // keep each run cheap; the rules are the same for larger batches
  auto parsed = buildtrace::ParseJobBatch(
      std::string_view(reinterpret_cast<const char*>(data), size), limits);
  if (!parsed.ok()) return 0;
  for (const Job& job : (*parsed)->jobs()) {
    std::string serialized = buildtrace::SerializeJob(job);
    auto again = buildtrace::ParseJobDocument(std::string_view(serialized), limits);
    if (!again.ok()) Fail(again.status().message().c_str(), serialized);
    if ((*again)->jobs().size() != 1) Fail("not exactly one job", serialized);
    if (!SameJob(job, (*again)->jobs()[0])) Fail("different job", serialized);
    // Writing the parsed copy again gives the same bytes (job_writer.h promises it).
    if (buildtrace::SerializeJob((*again)->jobs()[0]) != serialized)
      Fail("different bytes", serialized);
  }
  return 0;
}
