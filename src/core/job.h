// The job model: one build job's header (who, when, how long, how it ended) and its state, the
// map of object IDs to content hashes (job_state.h). A JobState's strings are views into the
// buffers of the ParsedJobs that produced it (see job_parser.h), so a million-object state costs
// no copies.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/job_state.h"

namespace buildtrace {

inline constexpr int64_t kMaxJobId = INT64_MAX;  // job ids are 1 <= id <= 2^63 - 1
inline constexpr std::string_view kDefaultProject = "default";

enum class JobStatus { kSucceeded, kFailed };

const char* JobStatusName(JobStatus status);  // "succeeded" / "failed"

struct JobHeader {
  int64_t job_id = 0;
  std::string project{kDefaultProject};
  std::string timestamp;  // as the client wrote it
  int64_t timestamp_ms = 0;
  double latency_ms = 0;
  JobStatus status = JobStatus::kSucceeded;
  std::vector<std::pair<std::string, std::string>> metadata;  // in the client's order
};

struct Job {
  JobHeader header;
  JobState state;
  // The state exactly as SerializeJob writes it, when the parser found it in that form (a flat
  // state without blanks, core/flat_state.h), so that storing it is one copy; empty otherwise.
  // Points into the parsed input, as the entries do; whoever changes `state` clears it.
  std::string_view state_json;
};

// True for 1-128 characters of [A-Za-z0-9._-] starting with a letter or digit.
bool IsValidProjectName(std::string_view project);

}  // namespace buildtrace
