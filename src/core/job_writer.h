// The stored form of a job: one JSON document with the fields in a fixed order and the state in
// the client's order (so that consecutive jobs of one pipeline diff on the fast path). Parsing it
// back with ParseJobDocument gives the same job, and writing that again gives the same bytes.
#pragma once

#include <string>
#include <string_view>

#include "core/job.h"

namespace buildtrace {

// {"job_id":..,"project":..,"timestamp":..,"latency_ms":..,"status":..,"metadata":{..},
//  "state":{..}} followed by a newline. The state is `job.state_json` copied as it is when the
// parser set it (the client's bytes were already this form), else written from the entries.
std::string SerializeJob(const Job& job);

// The same bytes in pieces, so that a large state is written to the store from the client's own
// bytes without a copy: SerializeJob(job) == head + state + kJobEnd.
struct SerializedJob {
  std::string head;  // up to and including "state": or, without job.state_json, the whole state
  std::string_view state;  // job.state_json (a view: it lives as long as the job's input), or ""
};
inline constexpr std::string_view kJobEnd = "}\n";
SerializedJob SerializeJobPieces(const Job& job);

// Appends the job's state object ({"id":"hash",...}) to `out`.
void AppendStateJson(const JobState& state, std::string& out);

}  // namespace buildtrace
