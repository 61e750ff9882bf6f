// A small load generator for bench/run.sh, so the benchmarks need no wrk: C client threads, each
// with its own keep-alive connection (HttpClient), share N requests and record every latency.
//   load get URL TARGET --clients C --requests N
//   load post URL --clients C --requests N --file BODY.json [--target /process]
//   load post-small URL --clients C --requests N --jobs-per-request J --objects O
//        --first-job-id X --project P [--seed S]
// post-small generates N different bodies of J jobs of O objects in-process (job ids X, X+1, ...,
// all unique) before the clock starts. Common options: --max-seconds S (default 60: no request
// starts after that), --timeout-s T (default 120, per request step), --header 'Name: value'.
// Prints one line of key=value pairs: requests, errors (non-2xx answers and transport failures),
// p50/p99/max latency in ms, and for POSTs MB/s of request bodies (MB = 10^6 bytes) and jobs/s.
// Only ever talks to the URL it is given, and only to a loopback address.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "client/http_client.h"
#include "load_common.h"
#include "simulator/job_generator.h"

namespace buildtrace {
namespace {

using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

struct Options {
  std::string mode;
  std::string url;
  std::string target;  // get: required; post: default /process
  int clients = 1;
  int64_t requests = 1;
  std::string file;
  int jobs_per_request = 10;
  size_t objects = 100;
  int64_t first_job_id = 1;
  std::string project = "load";
  uint64_t seed = 1;
  double max_seconds = 60;
  double timeout_seconds = 120;
  Headers headers;
};

// What one run of requests measured.
struct Outcome {
  std::vector<double> latencies_ms;  // of every request that got an answer
  int64_t errors = 0;                // non-2xx answers and transport failures
  int64_t transport_errors = 0;
  double seconds = 0;
  std::string first_error;
};

[[noreturn]] void Usage(const std::string& problem) {
  std::fprintf(stderr,
               "load: %s\nusage: load get URL TARGET --clients C --requests N\n"
               "       load post URL --clients C --requests N --file BODY.json [--target T]\n"
               "       load post-small URL --clients C --requests N --jobs-per-request J "
               "--objects O --first-job-id X --project P [--seed S]\n"
               "common: [--max-seconds S] [--timeout-s T] [--header 'Name: value']...\n",
               problem.c_str());
  std::exit(2);
}

int64_t PositiveInteger(std::string_view flag, const char* text) {
  const std::optional<int64_t> value = ParsePositiveInteger(text);
  if (!value) Usage(std::string(flag) + " takes a positive integer, not \"" + text + "\"");
  return *value;
}

double PositiveNumber(std::string_view flag, const char* text) {
  const std::optional<double> value = ParsePositiveNumber(text);
  if (!value) Usage(std::string(flag) + " takes a positive number, not \"" + text + "\"");
  return *value;
}

void ParseFlag(Options& o, std::string_view flag, const char* value) {
  if (flag == "--clients") {
    o.clients = static_cast<int>(std::min<int64_t>(PositiveInteger(flag, value), 1024));
  } else if (flag == "--requests") {
    o.requests = PositiveInteger(flag, value);
  } else if (flag == "--file") {
    o.file = value;
  } else if (flag == "--target") {
    o.target = value;
  } else if (flag == "--jobs-per-request") {
    o.jobs_per_request = static_cast<int>(std::min<int64_t>(PositiveInteger(flag, value), 10000));
  } else if (flag == "--objects") {
    o.objects = static_cast<size_t>(PositiveInteger(flag, value));
  } else if (flag == "--first-job-id") {
    o.first_job_id = PositiveInteger(flag, value);
  } else if (flag == "--project") {
    o.project = value;
  } else if (flag == "--seed") {
    o.seed = static_cast<uint64_t>(PositiveInteger(flag, value));
  } else if (flag == "--max-seconds") {
    o.max_seconds = PositiveNumber(flag, value);
  } else if (flag == "--timeout-s") {
    o.timeout_seconds = PositiveNumber(flag, value);
  } else if (flag == "--header") {
    const std::string_view header = value;
    const size_t colon = header.find(':');
    if (colon == std::string_view::npos || colon == 0) Usage("--header takes 'Name: value'");
    std::string_view field = header.substr(colon + 1);
    while (!field.empty() && field.front() == ' ') field.remove_prefix(1);
    o.headers.emplace_back(std::string(header.substr(0, colon)), std::string(field));
  } else {
    Usage("unknown option " + std::string(flag));
  }
}

Options ParseOptions(int argc, char** argv) {
  if (argc < 3) Usage("a mode and a URL are required");
  Options o;
  o.mode = argv[1];
  o.url = argv[2];
  int i = 3;
  if (o.mode == "get") {
    if (argc < 4 || argv[3][0] != '/') Usage("get needs a TARGET starting with /");
    o.target = argv[i++];
  } else if (o.mode == "post" || o.mode == "post-small") {
    o.target = "/process";
  } else {
    Usage("unknown mode " + o.mode);
  }
  for (; i < argc; i += 2) {
    if (i + 1 >= argc) Usage(std::string(argv[i]) + " needs a value");
    ParseFlag(o, argv[i], argv[i + 1]);
  }
  if (o.mode == "post" && o.file.empty()) Usage("post needs --file BODY.json");
  return o;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Usage("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// N different bodies, each a JSON array of J consecutive generated jobs with unique ids.
std::vector<std::string> SmallJobBodies(const Options& o) {
  JobGenerator::Options g;
  g.seed = o.seed;
  g.objects = o.objects;
  g.failure_rate = 0;
  g.first_job_id = o.first_job_id;
  JobGenerator generator(g);
  std::vector<std::string> bodies;
  bodies.reserve(static_cast<size_t>(o.requests));
  for (int64_t r = 0; r < o.requests; ++r) {
    bodies.push_back(JobBatchBody(generator, o.jobs_per_request, o.project));
  }
  return bodies;
}

// Runs `requests` requests from `clients` threads; `body(i)` is request i's body (empty: GET).
template <typename BodyOf>
Outcome Run(const Options& o, const HttpEndpoint& endpoint, const BodyOf& body) {
  Outcome outcome;
  std::mutex mutex;
  std::atomic<int64_t> next{0};
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_seconds * 1000));
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline =
      start + std::chrono::milliseconds(static_cast<int64_t>(o.max_seconds * 1000));
  auto client_loop = [&] {
    HttpClient client(endpoint, timeout);
    Outcome mine;
    for (int64_t i = next++; i < o.requests && Clock::now() < deadline; i = next++) {
      std::string request_body = body(i);  // copied before the clock starts
      const Clock::time_point sent = Clock::now();
      auto response = o.mode == "get" ? client.Get(o.target, o.headers)
                                      : client.Post(o.target, std::move(request_body),
                                                    "application/json", o.headers);
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
      if (!response.ok()) {
        ++mine.errors;
        ++mine.transport_errors;
        if (mine.first_error.empty()) mine.first_error = response.status().message();
        continue;
      }
      mine.latencies_ms.push_back(ms);
      if (response->status < 200 || response->status > 299) {
        ++mine.errors;
        if (mine.first_error.empty()) {
          mine.first_error =
              "HTTP " + std::to_string(response->status) + ": " + response->body.substr(0, 300);
        }
      }
    }
    std::lock_guard<std::mutex> lock(mutex);
    outcome.latencies_ms.insert(outcome.latencies_ms.end(), mine.latencies_ms.begin(),
                                mine.latencies_ms.end());
    outcome.errors += mine.errors;
    outcome.transport_errors += mine.transport_errors;
    if (outcome.first_error.empty()) outcome.first_error = mine.first_error;
  };
  std::vector<std::thread> threads;
  for (int c = 0; c < o.clients; ++c) threads.emplace_back(client_loop);
  for (std::thread& t : threads) t.join();
  outcome.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return outcome;
}

void Print(const Options& o, Outcome outcome, double body_bytes, int64_t jobs_per_request) {
  std::sort(outcome.latencies_ms.begin(), outcome.latencies_ms.end());
  const int64_t done = static_cast<int64_t>(outcome.latencies_ms.size()) + outcome.transport_errors;
  const int64_t answered_ok = static_cast<int64_t>(outcome.latencies_ms.size()) -
                              (outcome.errors - outcome.transport_errors);
  std::ostringstream line;
  line.setf(std::ios::fixed);
  line.precision(3);
  line << o.mode << " requests=" << done << " planned=" << o.requests << " clients=" << o.clients
       << " errors=" << outcome.errors << " transport_errors=" << outcome.transport_errors
       << " seconds=" << outcome.seconds
       << " req_per_s=" << static_cast<double>(done) / outcome.seconds;
  if (o.mode != "get") {
    line << " MB_per_s=" << body_bytes / 1e6 / outcome.seconds;
  }
  if (o.mode == "post-small") {
    line << " jobs=" << answered_ok * jobs_per_request
         << " jobs_per_s=" << static_cast<double>(answered_ok * jobs_per_request) / outcome.seconds;
  }
  line << " p50_ms=" << NearestRankQuantile(outcome.latencies_ms, 0.5)
       << " p99_ms=" << NearestRankQuantile(outcome.latencies_ms, 0.99)
       << " max_ms=" << (outcome.latencies_ms.empty() ? 0 : outcome.latencies_ms.back());
  std::printf("%s\n", line.str().c_str());
  if (!outcome.first_error.empty()) {
    std::fprintf(stderr, "load: first error: %s\n", outcome.first_error.c_str());
  }
  if (done < o.requests) {
    std::fprintf(stderr, "load: stopped after %.0f s with %lld of %lld requests done\n",
                 o.max_seconds, static_cast<long long>(done), static_cast<long long>(o.requests));
  }
}

int Main(int argc, char** argv) {
  const Options o = ParseOptions(argc, argv);
  auto endpoint = ParseHttpUrl(o.url);
  if (!endpoint.ok()) Usage(endpoint.status().message());
  if (!IsLoopbackHost(endpoint->host)) {
    Usage("only loopback URLs (127.0.0.0/8, ::1, localhost) are load-tested, not " + o.url);
  }
  if (o.mode == "get") {
    Print(o, Run(o, *endpoint, [](int64_t) { return std::string(); }), 0, 0);
  } else if (o.mode == "post") {
    const std::string file = ReadFile(o.file);
    Outcome outcome = Run(o, *endpoint, [&file](int64_t) { return file; });
    const double bytes =
        static_cast<double>(file.size()) * static_cast<double>(outcome.latencies_ms.size());
    Print(o, std::move(outcome), bytes, 1);
  } else {
    const std::vector<std::string> bodies = SmallJobBodies(o);
    Outcome outcome = Run(o, *endpoint, [&bodies](int64_t i) { return bodies[i]; });
    double bytes = 0;
    for (size_t i = 0; i < outcome.latencies_ms.size() && i < bodies.size(); ++i) {
      bytes += static_cast<double>(bodies[i].size());  // bodies are about the same size
    }
    Print(o, std::move(outcome), bytes, o.jobs_per_request);
  }
  return 0;
}

}  // namespace
}  // namespace buildtrace

int main(int argc, char** argv) { return buildtrace::Main(argc, argv); }
