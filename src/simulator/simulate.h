// The logic of `buildtrace simulate`: generates evolving jobs, posts them to a running service in
// batches, reads back every job's report and the latency statistics, and prints a summary. The
// command line (src/cli) only fills SimulateOptions and calls RunSimulate.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

namespace buildtrace {

struct SimulateOptions {
  std::string url = "http://127.0.0.1:8080";  // the service, http://host:port
  std::string token;                          // bearer token; empty: none sent
  std::string project = "sim";
  int jobs = 20;
  size_t objects = 1000;  // per job
  int batch = 5;          // jobs per POST /process
  uint64_t seed = 1;
  int64_t first_job_id = 1;
  // Timestamp of the first job; by default jobs end about now, inside the 30-day stats window.
  std::optional<int64_t> start_epoch_seconds;
  double failure_rate = 0.05;
  // Progress lines on `err` ("\rbuildtrace simulate: posted 5/20 jobs"), for a terminal.
  bool progress = false;
};

// Posts `jobs` generated jobs to POST /process, `batch` per request (a JSON array), then GETs
// /report/{id}?project=P&format=json&limit=0 for every job and
// /stats/latency?project=P&window=30d&quantiles=0.5,0.95,0.99, and writes to `out`:
//   posted 20 jobs (1 failed) in 4 requests, 20 reports
//   job 5 vs 4: +3 -2 ~17 (moved 9, resized 4, retyped 4, changed 0) =981    (one per report)
//   job 6 (failed) vs 5: ...                  (a failed job is marked; job 7 is then "vs 5")
//   latency over 30d (20 jobs): p50 2013 ms, p95 4410 ms, p99 9870 ms
// Returns 0 on success; 2 for invalid options; 1 when the service cannot be reached, answers
// with a non-2xx status, or answers something unreadable; the reason goes to `err` as one line
// starting "buildtrace simulate: ", e.g. "... POST /process answered 409: <server's message>".
int RunSimulate(const SimulateOptions& options, std::ostream& out, std::ostream& err);

}  // namespace buildtrace
