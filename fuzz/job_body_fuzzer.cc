// Fuzzes the parser of POST /process bodies and stored jobs (core/job_parser.h). Besides "never
// crash", it checks that the flat-state scan (core/flat_state.h) changes nothing: the same body
// parsed by the full parser alone gives the same jobs or the same error; and that the stored form
// round-trips: every job that parses, written with SerializeJob and parsed again as a document,
// must parse and give the same job.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/flat_state.h"
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

[[noreturn]] void Fail(const char* what, const std::string& bytes) {
  std::fprintf(stderr, "broken: %s\nbytes: %s\n", what, bytes.c_str());
  std::abort();
}

// The flat-state scan on and off give the same answer to `parse` of `body`.
template <typename ParseFn>
void ExpectSameWithoutFlatStates(ParseFn parse, std::string_view body) {
  auto fast = parse();
  buildtrace::SetFlatStatesEnabled(false);
  auto full = parse();
  buildtrace::SetFlatStatesEnabled(true);
  if (fast.ok() != full.ok()) Fail("the flat-state scan changed the outcome", std::string(body));
  if (!fast.ok()) {
    const buildtrace::Status& a = fast.status();
    const buildtrace::Status& b = full.status();
    if (a.code() != b.code() || a.reason() != b.reason() || a.message() != b.message() ||
        !(a.details() == b.details())) {
      Fail("the flat-state scan changed the error", std::string(body));
    }
    return;
  }
  if ((*fast)->jobs().size() != (*full)->jobs().size()) {
    Fail("the flat-state scan changed the jobs", std::string(body));
  }
  for (size_t i = 0; i < (*fast)->jobs().size(); ++i) {
    if (!SameJob((*fast)->jobs()[i], (*full)->jobs()[i])) {
      Fail("the flat-state scan changed a job", std::string(body));
    }
    // A compact flat state is stored as the client's bytes: they must be what SerializeJob
    // writes from the entries.
    if (buildtrace::SerializeJob((*fast)->jobs()[i]) !=
        buildtrace::SerializeJob((*full)->jobs()[i])) {
      Fail("the flat-state scan changed the stored form", std::string(body));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  buildtrace::ParseLimits limits;
  limits.max_jobs = 64;  // keep each run cheap; the rules are the same for larger batches
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  ExpectSameWithoutFlatStates([&] { return buildtrace::ParseJobBatch(body, limits); }, body);
  ExpectSameWithoutFlatStates([&] { return buildtrace::ParseJobDocument(body, limits); }, body);
  auto parsed = buildtrace::ParseJobBatch(body, limits);
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
