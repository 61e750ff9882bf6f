// Base selection after long runs of failed jobs: a project with one succeeded job, then N failed
// ones, then the job whose report is asked for, on the embedded store (a temporary folder) and
// warehouse. Measures a repeated report (the kept comparison served; base chosen again) and
// choosing the base alone, for N = 1, 1 000 and 120 000, with the store reads each one makes.
//   build/bench/lineage_benchmark [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <simdjson.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "service/report_service.h"
#include "store/file_state_store.h"
#include "warehouse/sqlite_warehouse.h"

namespace buildtrace {
namespace {

// Counts the reads and lists that pass through to the real store.
class CountingStore : public StateStore {
 public:
  explicit CountingStore(StateStore& inner) : inner_(inner) {}
  Status CreateIfAbsent(std::string_view n, std::string_view d) override {
    return inner_.CreateIfAbsent(n, d);
  }
  std::vector<Status> CreateManyIfAbsent(std::span<const ObjectToCreate> o) override {
    return inner_.CreateManyIfAbsent(o);
  }
  Result<std::vector<Status>> CreateManyIfAbsentPreparing(
      std::span<const ObjectToCreate> o, const std::function<Status()>& prepare) override {
    return inner_.CreateManyIfAbsentPreparing(o, prepare);
  }
  Result<std::string> Read(std::string_view n) override {
    ++reads;
    return inner_.Read(n);
  }
  Result<std::vector<std::string>> List(std::string_view p) override {
    ++lists;
    return inner_.List(p);
  }
  Status Delete(std::string_view n) override { return inner_.Delete(n); }
  Status Probe() override { return inner_.Probe(); }
  std::string Describe() const override { return inner_.Describe(); }
  int64_t reads = 0;
  int64_t lists = 0;

 private:
  StateStore& inner_;
};

std::string JobJson(int64_t id, const char* status) {
  return R"({"job_id":)" + std::to_string(id) +
         R"(,"project":"p","timestamp":"2026-11-28T10:00:00Z","latency_ms":5,"status":")" + status +
         R"(","state":{"D1":"door_1_1_1_1"}})";
}

// One project per N, built once and kept for the process's life.
struct Project {
  std::string folder;
  std::unique_ptr<FileStateStore> files;
  std::unique_ptr<CountingStore> store;
  std::unique_ptr<SqliteWarehouse> warehouse;
  std::unique_ptr<JobRepository> jobs;
  std::unique_ptr<ReportService> reports;
  ReportRequest request;
};

Project& ProjectWith(int64_t failed) {
  static std::map<int64_t, std::unique_ptr<Project>> projects;
  auto& p = projects[failed];
  if (p) return *p;
  p = std::make_unique<Project>();
  char pattern[] = "/tmp/bt-lineage-bench-XXXXXX";
  p->folder = ::mkdtemp(pattern);
  p->files = std::move(FileStateStore::Open(p->folder + "/states")).value();
  p->store = std::make_unique<CountingStore>(*p->files);
  p->warehouse = std::move(SqliteWarehouse::Open(p->folder + "/metrics.db")).value();
  p->jobs = std::make_unique<JobRepository>(*p->store, ParseLimits{});
  std::vector<std::unique_ptr<ParsedJobs>> parsed;
  std::vector<Job> batch;
  for (int64_t id = 1; id <= failed + 2; ++id) {
    const char* status = id == 1 || id == failed + 2 ? "succeeded" : "failed";
    simdjson::padded_string body(JobJson(id, status));
    parsed.push_back(std::move(ParseJobDocument(body, ParseLimits{})).value());
    batch.push_back(parsed.back()->jobs().front());
    if (batch.size() == 10000 || id == failed + 2) {
      p->jobs->StoreMany(batch);
      batch.clear();
      parsed.clear();
    }
  }
  // A new repository: nothing known, as after a restart; the first report learns the statuses.
  p->jobs = std::make_unique<JobRepository>(*p->store, ParseLimits{});
  p->reports = std::make_unique<ReportService>(*p->jobs, *p->warehouse);
  p->request.project = "p";
  p->request.job_id = failed + 2;
  (void)p->reports->Render(p->request, ReportFormat::kJson);
  return *p;
}

void BM_RepeatedReport(benchmark::State& state) {
  Project& p = ProjectWith(state.range(0));
  const int64_t reads = p.store->reads, lists = p.store->lists;
  for (auto _ : state) {
    benchmark::DoNotOptimize(p.reports->Render(p.request, ReportFormat::kJson));
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["store_reads"] = static_cast<double>(p.store->reads - reads) / n;
  state.counters["store_lists"] = static_cast<double>(p.store->lists - lists) / n;
}
BENCHMARK(BM_RepeatedReport)->Arg(1)->Arg(1000)->Arg(120000)->Unit(benchmark::kMillisecond);

// The base walk alone, over the statuses in memory (the listing excluded).
void BM_SelectBaseOverKnownStatuses(benchmark::State& state) {
  Project& p = ProjectWith(state.range(0));
  std::vector<int64_t> ids = std::move(p.jobs->ListJobIds("p")).value();
  ids.pop_back();
  const int64_t reads = p.store->reads;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        SelectBase(p.request.job_id, ids, [&](int64_t id) { return p.jobs->LoadStatus("p", id); }));
  }
  state.counters["store_reads"] =
      static_cast<double>(p.store->reads - reads) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_SelectBaseOverKnownStatuses)
    ->Arg(1)
    ->Arg(1000)
    ->Arg(120000)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace buildtrace

BENCHMARK_MAIN();
