// Google Benchmark suite for the core: parse and validate a job, diff two states, render a report,
// at 10 000, 100 000 and 1 000 000 objects. The inputs are two consecutive jobs of the simulator's
// generator with about 10 % of the objects changing (moved, resized, retyped, removed, replaced by
// new IDs), the second job either in the first's object order ("same") or independently shuffled
// ("shuffled"). Data is generated once per size, on first use, so a --benchmark_filter that skips
// the 1M cases also skips generating them.
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <utility>

#include "core/diff.h"
#include "core/job_parser.h"
#include "core/job_writer.h"
#include "core/lineage.h"
#include "core/report.h"
#include "simulator/job_generator.h"

namespace buildtrace {
namespace {

constexpr size_t kLimit = 1000;  // the service's default list limit
constexpr int64_t kSizes[] = {10'000, 100'000, 1'000'000};
constexpr int64_t kLargest = 1'000'000;
constexpr int kLargestIterations = 5;  // keeps the suite near a minute on 2 cores

enum class Order { kSame, kShuffled };

const char* OrderName(Order order) { return order == Order::kSame ? "same" : "shuffled"; }

// Accepts DiffStates' answer whether it is a DiffResult or a Result<DiffResult>, so the suite
// builds on both sides of that signature change.
template <typename Answer>
DiffResult TakeDiff(Answer&& answer) {
  if constexpr (std::is_same_v<std::decay_t<Answer>, DiffResult>) {
    return std::forward<Answer>(answer);
  } else {
    if (!answer.ok()) {
      std::fprintf(stderr, "core_benchmark: DiffStates failed: %s\n",
                   answer.status().message().c_str());
      std::abort();
    }
    return std::move(answer).value();
  }
}

DiffResult Diff(const JobState& before, const JobState& after) {
  return TakeDiff(DiffStates(before, after, kLimit));
}

// A copy of `json` with the capacity simdjson's padding needs, as `buildtrace diff` reads a file
// and the server receives a body: the parser takes it over without copying it again.
std::string PaddedCopy(const std::string& json) {
  std::string copy;
  copy.reserve(json.size() + simdjson::SIMDJSON_PADDING);
  copy.assign(json);
  return copy;
}

std::unique_ptr<ParsedJobs> ParseOrDie(const std::string& json) {
  auto parsed = ParseJobDocument(PaddedCopy(json), ParseLimits{});
  if (!parsed.ok()) {
    std::fprintf(stderr, "core_benchmark: a generated job does not parse: %s\n",
                 parsed.status().message().c_str());
    std::abort();
  }
  return std::move(parsed).value();
}

// Two consecutive jobs of one size, serialized and parsed, in both orders of the second job.
struct JobPair {
  std::string previous_json;
  std::string current_json[2];  // indexed by Order
  std::unique_ptr<ParsedJobs> previous;
  std::unique_ptr<ParsedJobs> current[2];

  const std::string& CurrentJson(Order order) const {
    return current_json[static_cast<int>(order)];
  }
  const Job& Previous() const { return previous->jobs().front(); }
  const Job& Current(Order order) const { return current[static_cast<int>(order)]->jobs().front(); }
};

// Generates like bench/make_job_pair (same options, seed and shuffle), so the files it writes and
// the states measured here are the same jobs.
std::unique_ptr<JobPair> MakeJobPair(size_t objects) {
  JobGenerator::Options options;
  options.objects = objects;
  options.change_fraction = 0.1;
  options.failure_rate = 0;
  JobGenerator generator(options);
  const GeneratedJob previous = generator.Next();
  GeneratedJob current = generator.Next();
  auto pair = std::make_unique<JobPair>();
  pair->previous_json = GeneratedJobToJson(previous, "bench");
  pair->current_json[0] = GeneratedJobToJson(current, "bench");
  std::mt19937_64 rng(options.seed ^ 0x5eed);
  std::shuffle(current.state.begin(), current.state.end(), rng);
  pair->current_json[1] = GeneratedJobToJson(current, "bench");
  pair->previous = ParseOrDie(pair->previous_json);
  pair->current[0] = ParseOrDie(pair->current_json[0]);
  pair->current[1] = ParseOrDie(pair->current_json[1]);
  return pair;
}

const JobPair& PairOf(int64_t objects) {
  static std::map<int64_t, std::unique_ptr<JobPair>> pairs;
  auto& pair = pairs[objects];
  if (!pair) pair = MakeJobPair(static_cast<size_t>(objects));
  return *pair;
}

Report MakeReport(const JobPair& pair, Order order) {
  const Job& after = pair.Current(order);
  Report report;
  report.job = after.header;
  report.object_count = static_cast<int64_t>(after.state.size());
  report.base = ExplicitBase(pair.Previous().header.job_id);
  report.limit = kLimit;
  report.diff = Diff(pair.Previous().state, after.state);
  return report;
}

// The service's validation (ParseLimits' defaults, duplicate IDs checked) of one job. The copy of
// the input the parser takes over is made outside the timed region.
void ParseJob(benchmark::State& state, int64_t objects, Order order) {
  const std::string& json = PairOf(objects).CurrentJson(order);
  for (auto _ : state) {
    state.PauseTiming();
    std::string body = PaddedCopy(json);
    state.ResumeTiming();
    auto parsed = ParseJobDocument(std::move(body), ParseLimits{});
    if (!parsed.ok()) state.SkipWithError("the generated job does not parse");
    benchmark::DoNotOptimize(parsed);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(json.size()));
  state.SetItemsProcessed(state.iterations() * objects);
}

// The stored form POST /process writes for a job whose state it writes entry by entry
// (SerializeJobPieces of a generated job, which has no client bytes to keep; a compact flat state
// costs only its head), without the digest.
void StoreJob(benchmark::State& state, int64_t objects, Order order) {
  const Job& job = PairOf(objects).Current(order);
  int64_t bytes = 0;
  for (auto _ : state) {
    SerializedJob stored = SerializeJobPieces(job);
    bytes += static_cast<int64_t>(stored.head.size() + stored.state.size());
    benchmark::DoNotOptimize(stored);
  }
  state.SetBytesProcessed(bytes);
  state.SetItemsProcessed(state.iterations() * objects);
}

void DiffJobs(benchmark::State& state, int64_t objects, Order order) {
  const JobPair& pair = PairOf(objects);
  const JobState& before = pair.Previous().state;
  const JobState& after = pair.Current(order).state;
  DiffCounts counts;
  for (auto _ : state) {
    DiffResult result = Diff(before, after);
    counts = result.counts;
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(before.size() + after.size()));
  // The share of objects that changed, so a glance confirms the inputs are what they claim.
  state.counters["added"] = static_cast<double>(counts.added);
  state.counters["removed"] = static_cast<double>(counts.removed);
  state.counters["modified"] = static_cast<double>(counts.modified());
}

void RenderJson(benchmark::State& state, int64_t objects, Order order) {
  const Report report = MakeReport(PairOf(objects), order);
  int64_t bytes = 0;
  for (auto _ : state) {
    std::string text = RenderReportJson(report);
    bytes += static_cast<int64_t>(text.size());
    benchmark::DoNotOptimize(text);
  }
  state.SetBytesProcessed(bytes);
}

void RenderText(benchmark::State& state, int64_t objects, Order order) {
  const Report report = MakeReport(PairOf(objects), order);
  int64_t bytes = 0;
  for (auto _ : state) {
    std::string text = RenderReportText(report);
    bytes += static_cast<int64_t>(text.size());
    benchmark::DoNotOptimize(text);
  }
  state.SetBytesProcessed(bytes);
}

using BenchmarkFunction = void (*)(benchmark::State&, int64_t, Order);

struct Suite {
  const char* name;
  BenchmarkFunction function;
  bool scales;  // its time grows with the objects (a report's size is bounded by the limit)
};

// Names read "diff/1000000/shuffled". The 1M cases of what scales run a fixed, small number of
// iterations.
void RegisterAll() {
  const Suite suites[] = {{"parse", ParseJob, true},
                          {"diff", DiffJobs, true},
                          {"store", StoreJob, true},
                          {"render_json", RenderJson, false},
                          {"render_text", RenderText, false}};
  for (const auto& [name, function, scales] : suites) {
    for (int64_t objects : kSizes) {
      for (Order order : {Order::kSame, Order::kShuffled}) {
        const std::string full_name =
            std::string(name) + "/" + std::to_string(objects) + "/" + OrderName(order);
        auto* b = benchmark::RegisterBenchmark(full_name.c_str(), function, objects, order);
        b->Unit(scales ? benchmark::kMillisecond : benchmark::kMicrosecond);
        if (scales && objects == kLargest) b->Iterations(kLargestIterations);
      }
    }
  }
}

}  // namespace
}  // namespace buildtrace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  buildtrace::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
