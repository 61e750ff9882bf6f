// Deterministic generator of realistic, evolving build-job states for `buildtrace simulate`,
// benchmarks and tests. Pure: no I/O and no clock. The same Options give the same jobs with any
// standard library, because only std::mt19937_64 (whose output the standard fixes) and our own
// transforms of it are used, never std::*_distribution.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace buildtrace {

struct GeneratedJob {
  int64_t job_id = 0;
  std::string timestamp;  // RFC 3339 UTC, e.g. "2026-11-28T10:00:00Z"
  double latency_ms = 0;  // whole milliseconds
  bool failed = false;
  // Object id -> pseudo-hash "type_x_y_w_h", in a stable order (the order objects were created).
  std::vector<std::pair<std::string, std::string>> state;
};

// Produces job after job. The first job holds exactly `objects` objects; each later job is an
// evolution of the last successful one in which about `change_fraction` of the objects changed:
// moved (x and/or y), resized (w and/or h), retyped, removed, or added under a new id. Additions
// and removals steer the count back towards `objects`. A failed job is still such an evolution,
// but the job after it evolves from the last successful job, as a real build would be retried.
// Failures are spread evenly at `failure_rate`, where the seed places them: any n consecutive
// jobs hold failure_rate * n failed ones, give or take one (20 jobs at 5 %: exactly one).
//
// Ids are a type letter and a zero-padded serial number, e.g. "D000123" for a door; numbers are
// never reused, so ids stay unique even when an object is later retyped. Latencies follow a
// log-normal distribution with a median near 2000 ms and occasional tenfold outliers.
class JobGenerator {
 public:
  struct Options {
    uint64_t seed = 1;
    size_t objects = 1000;
    double change_fraction = 0.02;
    double failure_rate = 0.05;
    int64_t first_job_id = 1;
    int64_t start_epoch_seconds = 1795860000;  // 2026-11-28T10:00:00Z
    int64_t interval_seconds = 60;             // between consecutive jobs' timestamps
  };

  explicit JobGenerator(Options options);

  GeneratedJob Next();

 private:
  struct Object {
    int64_t number;
    int created_type;  // gives the id's letter; indexes the type table in job_generator.cc
    int type;          // the current type
    int64_t x, y, w, h;
  };
  enum class Change : int;

  Object NewObject();
  std::vector<Object> Evolve(const std::vector<Object>& base);
  Change PickChange(int64_t size);
  void Modify(Change kind, Object& object);
  double NextLatencyMs();
  bool NextFails();
  static std::vector<std::pair<std::string, std::string>> ToState(
      const std::vector<Object>& objects);

  Options options_;
  std::mt19937_64 rng_;
  int64_t jobs_made_ = 0;
  int64_t next_number_ = 1;
  std::vector<Object> last_successful_;  // what the next job evolves from
  double failure_credit_ = 0;            // a job fails when it reaches 1; see NextFails
};

// The body of one job for POST /process:
// {"job_id":N,"project":"P","timestamp":"...","latency_ms":N,"status":"succeeded"|"failed",
//  "state":{"id":"hash",...}}, with strings escaped as JSON requires.
std::string GeneratedJobToJson(const GeneratedJob& job, std::string_view project);

}  // namespace buildtrace
