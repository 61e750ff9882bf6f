// JobGenerator: evolves a set of building objects job after job, and renders jobs as the JSON
// that POST /process accepts. Random numbers are drawn from mt19937_64 through the small
// transforms below so the sequence is the same with every standard library.
#include "simulator/job_generator.h"

#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "core/json_writer.h"

namespace buildtrace {
namespace {

// Sizes in millimetres, so that the generated states look like a building model.
struct ObjectType {
  const char* name;
  char letter;  // prefix of the ids of objects created with this type
  int64_t w_min, w_max, h_min, h_max;
};

constexpr std::array<ObjectType, 8> kTypes = {{
    {"door", 'D', 800, 1200, 2000, 2400},
    {"window", 'W', 600, 2000, 1000, 1800},
    {"wall", 'L', 1000, 8000, 200, 400},
    {"column", 'C', 300, 600, 300, 600},
    {"stair", 'S', 1000, 4000, 2000, 6000},
    {"beam", 'B', 2000, 8000, 200, 600},
    {"duct", 'U', 200, 1000, 200, 600},
    {"pipe", 'P', 50, 300, 50, 300},
}};

constexpr int64_t kSiteMillimetres = 200000;  // objects lie in a 200 m x 200 m square
constexpr double kLatencyMedianMs = 2000;
constexpr double kLatencySigma = 0.5;  // of the log: p95 is about 2.3x the median
constexpr double kLatencyOutlierRate = 0.03;
constexpr double kLatencyOutlierFactor = 10;

// Uniform in [0, 1) from the top 53 bits.
double Uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Uniform in [0, n); the modulo bias is below 2^-40 for the n used here.
uint64_t Below(std::mt19937_64& rng, uint64_t n) { return rng() % n; }

// Uniform in [lo, hi].
int64_t Between(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(Below(rng, static_cast<uint64_t>(hi - lo + 1)));
}

// Box-Muller; 1 - u keeps the logarithm finite.
double StandardNormal(std::mt19937_64& rng) {
  const double u1 = 1.0 - Uniform01(rng);
  const double u2 = Uniform01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.14159265358979323846 * u2);
}

// Moves `value` by 50 mm to 3 m, staying non-negative.
int64_t Shift(std::mt19937_64& rng, int64_t value) {
  const int64_t delta = Between(rng, 50, 3000);
  const bool down = Below(rng, 2) == 0 && value - delta >= 0;
  return down ? value - delta : value + delta;
}

// Grows or shrinks a size by 1 mm to a quarter of it, staying positive.
int64_t Resize(std::mt19937_64& rng, int64_t size) {
  const int64_t delta = Between(rng, 1, std::max<int64_t>(1, size / 4));
  const bool shrink = Below(rng, 2) == 0 && size - delta >= 1;
  return shrink ? size - delta : size + delta;
}

std::string FormatRfc3339(int64_t epoch_seconds) {
  using namespace std::chrono;
  const sys_seconds time{seconds{epoch_seconds}};
  const sys_days day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss clock{time - day};
  char text[40];
  std::snprintf(text, sizeof(text), "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
                static_cast<int>(clock.seconds().count()));
  return text;
}

std::string FormatNumber(double value) {
  if (std::nearbyint(value) == value && std::fabs(value) < 9e15) {
    return std::to_string(static_cast<int64_t>(value));
  }
  char text[32];
  auto result = std::to_chars(text, text + sizeof(text), value);
  return std::string(text, result.ptr);
}

}  // namespace

enum class JobGenerator::Change : int { kMove, kResize, kRetype, kRemove, kAdd };

JobGenerator::JobGenerator(Options options) : options_(options), rng_(options.seed) {
  last_successful_.reserve(options_.objects);
  for (size_t i = 0; i < options_.objects; ++i) last_successful_.push_back(NewObject());
  failure_credit_ = Uniform01(rng_);
}

// Failures are spread evenly instead of drawn job by job: each job adds failure_rate to a credit
// that starts at a seeded phase in [0, 1), and a job fails when the credit reaches 1. Of any n
// consecutive jobs, failure_rate * n fail, give or take one, so the default 20 jobs at 5 % show
// one failed job whatever the seed (independent draws show none for 36 % of seeds: 0.95^20).
bool JobGenerator::NextFails() {
  failure_credit_ += options_.failure_rate;
  if (failure_credit_ < 1) return false;
  failure_credit_ -= 1;
  return true;
}

GeneratedJob JobGenerator::Next() {
  const int64_t index = jobs_made_++;
  GeneratedJob job;
  job.job_id = options_.first_job_id + index;
  job.timestamp = FormatRfc3339(options_.start_epoch_seconds + index * options_.interval_seconds);
  job.failed = NextFails();
  job.latency_ms = NextLatencyMs();
  std::vector<Object> objects = index == 0 ? last_successful_ : Evolve(last_successful_);
  job.state = ToState(objects);
  if (!job.failed) last_successful_ = std::move(objects);
  return job;
}

JobGenerator::Object JobGenerator::NewObject() {
  const int type = static_cast<int>(Below(rng_, kTypes.size()));
  const ObjectType& spec = kTypes[type];
  Object object{next_number_++, type, type, 0, 0, 0, 0};
  object.x = static_cast<int64_t>(Below(rng_, kSiteMillimetres));
  object.y = static_cast<int64_t>(Below(rng_, kSiteMillimetres));
  object.w = Between(rng_, spec.w_min, spec.w_max);
  object.h = Between(rng_, spec.h_min, spec.h_max);
  return object;
}

std::vector<JobGenerator::Object> JobGenerator::Evolve(const std::vector<Object>& base) {
  const size_t n = base.size();
  const double jitter = 0.75 + 0.5 * Uniform01(rng_);
  int64_t changes = std::llround(options_.change_fraction * static_cast<double>(n) * jitter);
  if (options_.change_fraction > 0 && changes == 0) changes = 1;

  std::vector<Object> next = base;
  std::vector<char> touched(n, 0);  // each existing object changes at most once per job
  std::vector<char> removed(n, 0);
  size_t touched_count = 0;
  int64_t size = static_cast<int64_t>(n);
  for (int64_t i = 0; i < changes; ++i) {
    const Change kind = PickChange(size);
    if (kind == Change::kAdd) {
      next.push_back(NewObject());
      ++size;
      continue;
    }
    if (touched_count == n) continue;
    size_t j = Below(rng_, n);
    while (touched[j]) j = Below(rng_, n);
    touched[j] = 1;
    ++touched_count;
    if (kind == Change::kRemove) {
      removed[j] = 1;
      --size;
    } else {
      Modify(kind, next[j]);
    }
  }
  std::vector<Object> kept;
  kept.reserve(next.size());
  for (size_t k = 0; k < next.size(); ++k) {
    if (k >= n || !removed[k]) kept.push_back(next[k]);
  }
  return kept;
}

// Moves dominate real model edits; additions and removals steer the count to the target.
JobGenerator::Change JobGenerator::PickChange(int64_t size) {
  const double u = Uniform01(rng_);
  if (u < 0.40) return Change::kMove;
  if (u < 0.60) return Change::kResize;
  if (u < 0.75) return Change::kRetype;
  const auto target = static_cast<int64_t>(options_.objects);
  if (size < target) return Change::kAdd;
  if (size > target) return Change::kRemove;
  return Below(rng_, 2) == 0 ? Change::kAdd : Change::kRemove;
}

void JobGenerator::Modify(Change kind, Object& object) {
  const uint64_t which = Below(rng_, 3);  // the first, the second or both coordinates
  switch (kind) {
    case Change::kMove:
      if (which != 1) object.x = Shift(rng_, object.x);
      if (which != 0) object.y = Shift(rng_, object.y);
      break;
    case Change::kResize:
      if (which != 1) object.w = Resize(rng_, object.w);
      if (which != 0) object.h = Resize(rng_, object.h);
      break;
    case Change::kRetype:
      object.type =
          static_cast<int>((object.type + 1 + Below(rng_, kTypes.size() - 1)) % kTypes.size());
      break;
    default:
      break;
  }
}

double JobGenerator::NextLatencyMs() {
  double latency = kLatencyMedianMs * std::exp(kLatencySigma * StandardNormal(rng_));
  if (Uniform01(rng_) < kLatencyOutlierRate) latency *= kLatencyOutlierFactor;
  return std::max(1.0, std::round(latency));
}

std::vector<std::pair<std::string, std::string>> JobGenerator::ToState(
    const std::vector<Object>& objects) {
  std::vector<std::pair<std::string, std::string>> state;
  state.reserve(objects.size());
  for (const Object& object : objects) {
    char id[32];
    // The id keeps the letter of the type the object was created with.
    std::snprintf(id, sizeof(id), "%c%06lld", kTypes[object.created_type].letter,
                  static_cast<long long>(object.number));
    std::string hash = std::string(kTypes[object.type].name) + "_" + std::to_string(object.x) +
                       "_" + std::to_string(object.y) + "_" + std::to_string(object.w) + "_" +
                       std::to_string(object.h);
    state.emplace_back(id, std::move(hash));
  }
  return state;
}

std::string GeneratedJobToJson(const GeneratedJob& job, std::string_view project) {
  std::string out;
  out.reserve(160 + job.state.size() * 40);
  out += "{\"job_id\":" + std::to_string(job.job_id) + ",\"project\":";
  AppendJsonString(out, project);
  out += ",\"timestamp\":";
  AppendJsonString(out, job.timestamp);
  out += ",\"latency_ms\":" + FormatNumber(job.latency_ms);
  out += job.failed ? ",\"status\":\"failed\"" : ",\"status\":\"succeeded\"";
  out += ",\"state\":{";
  for (size_t i = 0; i < job.state.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(out, job.state[i].first);
    out += ':';
    AppendJsonString(out, job.state[i].second);
  }
  out += "}}";
  return out;
}

}  // namespace buildtrace
