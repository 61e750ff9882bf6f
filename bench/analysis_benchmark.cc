// Background analysis and the job index, measured through the API on the embedded backends (a
// FileStateStore in a temporary folder and SQLite), without sockets:
//  1. "flat": for a project holding N jobs (N = 1 000, 10 000, 100 000 by default), the median
//     time of the first report of a new job (computed on demand: choosing its base through the
//     job index, diffing, keeping it, recording its row), of the kept report asked again, and of
//     the jobs page (GET /projects/p/jobs, 50 newest); each as a ratio to the first N.
//  2. "ready": small jobs posted one per request at a steady rate while two analysis workers run
//     on the in-process queue; the time from each POST's answer until its analysis record (and
//     so its kept report and its lineage row) exists, p50/p99.
//   build-release/bench/analysis_benchmark [N ...]     (BENCH_TMPDIR: where the folders go)
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/api.h"
#include "queue/inproc_queue.h"
#include "service/analysis.h"
#include "service/analysis_workers.h"
#include "store/file_state_store.h"
#include "warehouse/sqlite_warehouse.h"

namespace buildtrace {
namespace {

namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

std::string Job(int64_t id, int objects) {
  std::string state;
  for (int i = 0; i < objects; ++i) {
    if (i > 0) state += ',';
    // Object 0 moves with every job; the rest stay.
    state +=
        "\"O" + std::to_string(i) + "\":\"door_" + std::to_string(i == 0 ? id : i) + "_0_1_1\"";
  }
  return R"({"job_id":)" + std::to_string(id) +
         R"(,"project":"p","timestamp":"2026-11-28T10:00:00Z","latency_ms":100,"state":{)" + state +
         "}}";
}

// A temporary folder with the embedded backends and an Api over them.
struct Setup {
  explicit Setup(AnalysisQueue* queue) {
    const char* tmp = std::getenv("BENCH_TMPDIR");
    std::string pattern = std::string(tmp ? tmp : "/tmp") + "/bt-analysis-bench-XXXXXX";
    folder = ::mkdtemp(pattern.data());
    store = std::move(FileStateStore::Open(folder + "/states")).value();
    warehouse = std::move(SqliteWarehouse::Open(folder + "/metrics.db")).value();
    ApiContext context{*store, *warehouse, ParseLimits{}, [] { return 1'795'867'200'000; }};
    context.queue = queue;
    api = std::make_unique<Api>(std::move(context));
  }
  ~Setup() {
    api.reset();
    std::error_code ignored;
    std::filesystem::remove_all(folder, ignored);
  }
  HttpResponse Send(http::verb method, const std::string& target, std::string body = "") {
    HttpRequest request{method, target, 11};
    request.body() = std::move(body);
    request.prepare_payload();
    return api->Handle(request);
  }
  void Expect(const HttpResponse& res, unsigned status, const std::string& what) {
    if (res.result_int() != status) {
      std::fprintf(stderr, "%s: %u %s\n", what.c_str(), res.result_int(), res.body().c_str());
      std::exit(1);
    }
  }

  std::string folder;
  std::unique_ptr<FileStateStore> store;
  std::unique_ptr<SqliteWarehouse> warehouse;
  std::unique_ptr<Api> api;
};

struct FlatFigures {
  double first_report_ms, kept_report_ms, page_ms;
};

FlatFigures MeasureFlat(int64_t jobs) {
  Setup s(nullptr);
  constexpr int64_t kBatch = 1000;
  for (int64_t first = 1; first <= jobs; first += kBatch) {
    std::string body = "[";
    for (int64_t id = first; id < first + kBatch && id <= jobs; ++id) {
      if (id > first) body += ',';
      body += Job(id, 20);
    }
    s.Expect(s.Send(http::verb::post, "/process", body + "]"), 202, "POST batch");
  }
  constexpr int kRounds = 15;
  std::vector<double> first, kept, page;
  for (int round = 0; round < kRounds; ++round) {
    const int64_t id = jobs + 1 + round;
    s.Expect(s.Send(http::verb::post, "/process", Job(id, 20)), 202, "POST");
    const std::string target = "/report/" + std::to_string(id) + "?project=p";
    auto t0 = Clock::now();
    s.Expect(s.Send(http::verb::get, target), 200, target);
    auto t1 = Clock::now();
    s.Expect(s.Send(http::verb::get, target), 200, target);
    auto t2 = Clock::now();
    s.Expect(s.Send(http::verb::get, "/projects/p/jobs?limit=50"), 200, "jobs page");
    auto t3 = Clock::now();
    first.push_back(Ms(t1 - t0));
    kept.push_back(Ms(t2 - t1));
    page.push_back(Ms(t3 - t2));
  }
  return {Quantile(first, 0.5), Quantile(kept, 0.5), Quantile(page, 0.5)};
}

void MeasureReady(int jobs, int per_second) {
  InprocQueue queue;
  Setup s(&queue);
  AnalysisStats stats;
  AnalysisWorkers workers(queue, s.api->analyzer(), *s.store, stats,
                          AnalysisWorkerOptions{.threads = 2});
  workers.Start();
  std::vector<Clock::time_point> answered(static_cast<size_t>(jobs) + 1);
  std::vector<double> ready_ms;
  std::atomic<int64_t> posted{0};
  // The watcher: waits for each job's record in turn (jobs are posted in order, all succeeded,
  // so job k's record is k against k - 1).
  std::thread watcher([&] {
    for (int64_t id = 1; id <= jobs; ++id) {
      while (posted.load() < id) std::this_thread::sleep_for(std::chrono::microseconds(200));
      const std::string name =
          AnalysisRecordName("p", id, id == 1 ? std::nullopt : std::optional<int64_t>(id - 1), 0);
      while (!s.store->Read(name).ok()) std::this_thread::sleep_for(std::chrono::microseconds(200));
      ready_ms.push_back(Ms(Clock::now() - answered[static_cast<size_t>(id)]));
    }
  });
  const auto interval = std::chrono::microseconds(1'000'000 / per_second);
  auto next = Clock::now();
  for (int64_t id = 1; id <= jobs; ++id) {
    std::this_thread::sleep_until(next);
    next += interval;
    s.Expect(s.Send(http::verb::post, "/process", Job(id, 50)), 202, "POST");
    answered[static_cast<size_t>(id)] = Clock::now();
    posted.store(id);
  }
  watcher.join();
  workers.Stop();
  std::printf(
      "ready  %d jobs of 50 objects at %d/s, 2 workers: POST answered -> report ready "
      "p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
      jobs, per_second, Quantile(ready_ms, 0.5), Quantile(ready_ms, 0.99), Quantile(ready_ms, 1.0));
}

}  // namespace
}  // namespace buildtrace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoll(argv[i]));
  if (sizes.empty()) sizes = {1000, 10000, 100000};
  std::optional<buildtrace::FlatFigures> reference;
  for (int64_t n : sizes) {
    const auto t0 = std::chrono::steady_clock::now();
    const buildtrace::FlatFigures f = buildtrace::MeasureFlat(n);
    if (!reference) reference = f;
    std::printf(
        "flat   %7lld jobs: first report %.2f ms (%.2fx), kept report %.3f ms (%.2fx), "
        "jobs page %.2f ms (%.2fx)  [setup %.0f s]\n",
        static_cast<long long>(n), f.first_report_ms,
        f.first_report_ms / reference->first_report_ms, f.kept_report_ms,
        f.kept_report_ms / reference->kept_report_ms, f.page_ms, f.page_ms / reference->page_ms,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    std::fflush(stdout);
  }
  buildtrace::MeasureReady(1000, 100);
  return 0;
}
