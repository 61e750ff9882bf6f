// Parsing and validation of jobs: the body of POST /process, a stored job, or a file given to
// `buildtrace diff`. Every rule of the API is checked here, once; the answer is either every job
// of the input, valid, or an InvalidArgument status listing what is wrong with which job.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/job.h"
#include "core/large_memory.h"
#include "core/status.h"

namespace buildtrace {

struct ParseLimits {
  size_t max_jobs = 10'000;              // jobs in one request
  size_t max_objects = 10'000'000;       // objects in one job's state
  size_t max_id_bytes = 1024;            // an object ID
  size_t max_hash_bytes = 1024;          // a hash string
  size_t max_structured_bytes = 65'536;  // a structured object's canonical JSON
  int max_depth = 16;                    // nesting inside a structured object
  size_t max_metadata_entries = 64;
  size_t max_metadata_key_bytes = 128;
  size_t max_metadata_value_bytes = 4096;
  size_t max_details = 100;  // validation problems listed in one answer
  // Reject a state that lists an object ID twice. Off where the state goes straight into
  // DiffStates, which checks the same thing as part of its own work.
  bool check_duplicate_ids = true;
  // With check_duplicate_ids: the parse leaves the check to ParsedJobs::CheckDuplicateIds, so
  // that it can overlap other work (POST /process, while the file store writes a large batch). A
  // body the parse refuses as invalid_job is parsed again with the check (twice the parse's work
  // on such a body), so every answer is the same as without the deferral.
  bool defer_duplicate_check = false;
};

// Owns the parsed jobs and the bytes their state entries point into. Not copyable or movable
// (the views would dangle); hold it by unique_ptr.
class ParsedJobs {
 public:
  ParsedJobs() = default;
  ParsedJobs(const ParsedJobs&) = delete;
  ParsedJobs& operator=(const ParsedJobs&) = delete;

  std::vector<Job>& jobs() { return jobs_; }
  const std::vector<Job>& jobs() const { return jobs_; }

  // The duplicate-ID check a parse with defer_duplicate_check left to be done: Ok (also when
  // nothing was left), or exactly the error that parse would have returned with the check. The
  // jobs stay as they are either way. Thread-safe, like every const method.
  Status CheckDuplicateIds() const;

 private:
  friend class JobParser;
  InputBytes input_;                 // the parsed bytes, padded for simdjson
  std::deque<std::string> strings_;  // unescaped IDs and hashes, canonical structured objects
  std::vector<Job> jobs_;
  std::optional<ParseLimits> deferred_check_;  // the limits to parse with, to check again
  bool allow_array_ = true;
};

// Parses a request body: one job object, or an array of 1..max_jobs job objects. Errors:
// - reason "malformed_json": the body is not JSON;
// - reason "invalid_job": JSON, but some job breaks a rule; details name each problem by job
//   index and field (at most max_details of them);
// - reason "too_many_jobs" (kTooLarge): more than max_jobs jobs.
// Takes the body over (no copy); the string_view overload copies it.
Result<std::unique_ptr<ParsedJobs>> ParseJobBatch(std::string body, const ParseLimits& limits);
Result<std::unique_ptr<ParsedJobs>> ParseJobBatch(std::string_view body, const ParseLimits& limits);
// The same over bytes already padded (a request body as received), taken over without a copy.
Result<std::unique_ptr<ParsedJobs>> ParseJobBatch(InputBytes body, const ParseLimits& limits);

// Parses exactly one job object (a stored job, or a file given to `buildtrace diff`), with the
// same rules and errors as ParseJobBatch.
Result<std::unique_ptr<ParsedJobs>> ParseJobDocument(std::string body, const ParseLimits& limits);
Result<std::unique_ptr<ParsedJobs>> ParseJobDocument(std::string_view body,
                                                     const ParseLimits& limits);
// The same over bytes already padded (a mapped file, a store's read), taken over without a copy.
Result<std::unique_ptr<ParsedJobs>> ParseJobDocument(InputBytes body, const ParseLimits& limits);

// simdjson parsers kept for the next parse, up to `bytes` in all (0, the default: none, each
// parse allocates its own and frees it). A parser's buffers (its structural index, 4 bytes per
// JSON token, and its string buffer) grow to the largest document it has parsed; freed, they go
// back to the kernel and the next parse faults and zeroes fresh pages again. A kept parser is
// counted as the document bytes it can take (its capacity), more than what stays resident (about
// a third of that for job states). One parse takes the largest kept parser; at its end the parser
// is kept if it fits under `bytes`, else freed. `buildtrace serve` gives this an eighth of
// --keep-memory. Thread-safe.
void SetParsersKept(size_t bytes);
size_t ParsersKeptNow();  // the bytes kept at this moment (capacities)

}  // namespace buildtrace
