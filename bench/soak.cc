// A bounded soak test of a running BuildTrace service (scripts/soak.sh starts the server, runs
// this, and stops the server): for --seconds, client threads send mixed traffic at a paced rate
// (small job batches, identical re-posts, JSON and text reports, GET /jobs, /projects,
// /stats/latency, health checks, and deliberately bad requests whose exact status and error code
// are known) while one more thread posts a large job (50k-200k objects) every few seconds and
// asks for its report. Then it checks:
//   - every valid request got its 200 answer (202 for a POST that creates jobs), with the right
//     content (no 5xx, no transport error);
//   - every bad request got exactly its expected status and error code;
//   - every acknowledged job reads back through GET /jobs with the acknowledged digest;
//   - the server's resident memory (VmRSS of --server-pid, sampled every 250 ms) did not grow:
//     see RssGrowth in resident_memory.h for the rule.
// Prints a summary line, a line of figures per third of the run, and the verdict; exits 0 when
// every check held, 1 when one did not, 2 on bad usage. Talks only to loopback addresses.
//   soak URL --server-pid PID [--seconds S] [--warmup-s W] [--clients C] [--rate R]
//        [--large-every-s L] [--max-body BYTES] [--rss-growth-pct P] [--rss-growth-mib M]
//        [--seed N] [--timeout-s T] [--rss-log FILE]
// Defaults: 60 s, of which a sixth (at most 60 s) is warm-up; 4 clients sending 150 requests a
// second in all (the large jobs come on top); a large job every 5 s; the server's --max-body is
// 16 MiB; memory may grow 10 % + 8 MiB. --rss-log writes every RSS sample as "seconds MiB" lines.
#include <simdjson.h>
#include <sys/types.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "client/http_client.h"
#include "core/canonical_hash.h"
#include "load_common.h"
#include "resident_memory.h"
#include "simulator/job_generator.h"
#include "soak_requests.h"

namespace buildtrace {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string url;
  pid_t server_pid = 0;
  double seconds = 60;
  double warmup_seconds = -1;  // default: a sixth of the run, at most 60 s
  int clients = 4;
  double rate = 150;  // requests per second over all clients, large jobs not counted
  double large_every_seconds = 5;
  int64_t max_body = 16 << 20;  // the server's --max-body
  double rss_growth_pct = 10;
  double rss_growth_mib = 8;
  uint64_t seed = 1;
  double timeout_seconds = 120;
  std::string rss_log;
};

[[noreturn]] void Usage(const std::string& problem) {
  std::fprintf(stderr,
               "soak: %s\nusage: soak URL --server-pid PID [--seconds S] [--warmup-s W] "
               "[--clients C] [--rate R] [--large-every-s L] [--max-body BYTES] "
               "[--rss-growth-pct P] [--rss-growth-mib M] [--seed N] [--timeout-s T] "
               "[--rss-log FILE]\n",
               problem.c_str());
  std::exit(2);
}

double NumberFlag(std::string_view flag, const char* text) {
  const std::optional<double> value = ParsePositiveNumber(text);
  if (!value) Usage(std::string(flag) + " takes a positive number, not \"" + text + "\"");
  return *value;
}

void ParseFlag(Options& o, std::string_view flag, const char* value) {
  auto integer = [&] {
    const std::optional<int64_t> n = ParsePositiveInteger(value);
    if (!n) Usage(std::string(flag) + " takes a positive integer, not \"" + value + "\"");
    return *n;
  };
  if (flag == "--server-pid") {
    o.server_pid = static_cast<pid_t>(integer());
  } else if (flag == "--seconds") {
    o.seconds = NumberFlag(flag, value);
  } else if (flag == "--warmup-s") {
    o.warmup_seconds = NumberFlag(flag, value);
  } else if (flag == "--clients") {
    o.clients = static_cast<int>(std::min<int64_t>(integer(), 64));
  } else if (flag == "--rate") {
    o.rate = NumberFlag(flag, value);
  } else if (flag == "--large-every-s") {
    o.large_every_seconds = NumberFlag(flag, value);
  } else if (flag == "--max-body") {
    o.max_body = integer();
  } else if (flag == "--rss-growth-pct") {
    o.rss_growth_pct = NumberFlag(flag, value);
  } else if (flag == "--rss-growth-mib") {
    o.rss_growth_mib = NumberFlag(flag, value);
  } else if (flag == "--rss-log") {
    o.rss_log = value;
  } else if (flag == "--seed") {
    o.seed = static_cast<uint64_t>(integer());
  } else if (flag == "--timeout-s") {
    o.timeout_seconds = NumberFlag(flag, value);
  } else {
    Usage("unknown option " + std::string(flag));
  }
}

Options ParseOptions(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') Usage("a URL is required");
  Options o;
  o.url = argv[1];
  for (int i = 2; i < argc; i += 2) {
    if (i + 1 >= argc) Usage(std::string(argv[i]) + " needs a value");
    ParseFlag(o, argv[i], argv[i + 1]);
  }
  if (o.server_pid <= 0) Usage("--server-pid is required: the soak watches the server's memory");
  if (o.warmup_seconds < 0) o.warmup_seconds = std::min(o.seconds / 6, 60.0);
  if (o.warmup_seconds >= o.seconds) Usage("--warmup-s must be shorter than --seconds");
  return o;
}

// ---- What the threads record ------------------------------------------------------------------

enum Kind : int {
  kPostSmall,
  kRepost,
  kReportJson,
  kReportText,
  kGetJob,
  kProjects,
  kStats,
  kHealth,
  kBad,
  kPostLarge,
  kReportLarge,
  kKinds
};
constexpr std::array<const char*, kKinds> kKindNames = {
    "post_small", "repost", "report_json", "report_text", "job",         "projects",
    "stats",      "health", "bad",         "post_large",  "report_large"};
// Weights of the kinds a client picks from (the large ones have their own thread).
constexpr std::array<int, kBad + 1> kWeights = {25, 4, 15, 8, 12, 4, 6, 4, 22};

struct Sample {
  float at_s;  // since the start of the run
  float ms;
};

struct AckedJob {
  std::string project;
  int64_t job_id = 0;
  std::string digest;
};

// One thread's record; merged once the threads are done.
struct Tally {
  std::array<std::vector<Sample>, kKinds> samples;
  int64_t server_errors = 0;     // 5xx answers to valid requests
  int64_t transport_errors = 0;  // valid requests without an answer
  int64_t wrong_answers = 0;     // valid requests answered otherwise than expected (not 5xx)
  int64_t bad_unexpected = 0;    // bad requests answered otherwise than expected
  std::map<std::string, int64_t> bad_by_name;
  std::vector<std::string> problems;  // the first few, for the log
  std::vector<AckedJob> acked;

  void Problem(std::string text) {
    if (problems.size() < 5) problems.push_back(std::move(text));
  }
  void Merge(Tally&& other);
};

void Tally::Merge(Tally&& other) {
  for (int k = 0; k < kKinds; ++k) {
    samples[k].insert(samples[k].end(), other.samples[k].begin(), other.samples[k].end());
  }
  server_errors += other.server_errors;
  transport_errors += other.transport_errors;
  wrong_answers += other.wrong_answers;
  bad_unexpected += other.bad_unexpected;
  for (const auto& [name, n] : other.bad_by_name) bad_by_name[name] += n;
  for (std::string& p : other.problems) Problem(std::move(p));
  acked.insert(acked.end(), std::make_move_iterator(other.acked.begin()),
               std::make_move_iterator(other.acked.end()));
}

// The accepted jobs of a POST /process answer; nullopt if the answer is not of that shape.
std::optional<std::vector<AckedJob>> AcceptedJobs(const std::string& answer, int* created) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(answer).get(doc)) return std::nullopt;
  simdjson::dom::array accepted;
  if (doc["accepted"].get_array().get(accepted)) return std::nullopt;
  std::vector<AckedJob> jobs;
  *created = 0;
  for (simdjson::dom::element e : accepted) {
    std::string_view project, digest;
    int64_t id = 0;
    bool was_created = false;
    if (e["project"].get(project) || e["job_id"].get(id) || e["digest"].get(digest) ||
        e["created"].get(was_created)) {
      return std::nullopt;
    }
    jobs.push_back({std::string(project), id, std::string(digest)});
    *created += was_created ? 1 : 0;
  }
  return jobs;
}

// ---- The run's clock and stop flag ------------------------------------------------------------

struct Run {
  Clock::time_point start = Clock::now();
  Clock::time_point end;
  std::atomic<bool> stop{false};

  float Since(Clock::time_point t) const { return std::chrono::duration<float>(t - start).count(); }
  bool Over() const { return stop.load() || Clock::now() >= end; }
};

// Sleeps until `until` or the end of the run, whichever comes first.
void SleepUntil(const Run& run, Clock::time_point until) {
  while (!run.Over() && Clock::now() < until) {
    std::this_thread::sleep_for(
        std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(100)));
  }
}

// ---- A client thread --------------------------------------------------------------------------

// Sends one kind of request after another, paced, in its own project; checks each answer.
class SoakClient {
 public:
  SoakClient(int index, const Options& o, const HttpEndpoint& endpoint, const BadRequests& bad,
             const Run& run)
      : index_(index),
        options_(o),
        client_(endpoint, std::chrono::milliseconds(static_cast<int64_t>(o.timeout_seconds * 1e3))),
        bad_(bad),
        run_(run),
        project_("soak-c" + std::to_string(index)),
        generator_(GeneratorOptions(o.seed * 1000 + static_cast<uint64_t>(index))),
        rng_(o.seed * 7919 + static_cast<uint64_t>(index)),
        next_bad_(static_cast<size_t>(index) * 5) {}

  void Loop();
  Tally& tally() { return tally_; }

 private:
  static JobGenerator::Options GeneratorOptions(uint64_t seed) {
    JobGenerator::Options g;
    g.seed = seed;
    g.objects = 100;
    return g;
  }
  Kind PickKind();
  void Send(Kind kind);
  // Sends and times one request; an answer, or nullopt after counting a transport error.
  std::optional<HttpResponse> Exchange(Kind kind, std::string_view method,
                                       const std::string& target, std::string body = {},
                                       std::vector<std::pair<std::string, std::string>> h = {});
  // Whether a valid request's answer has status `expected` (202: a POST that creates jobs);
  // counts and logs it otherwise.
  bool ExpectOk(Kind kind, const std::string& target, const HttpResponse& r, int expected = 200);
  void WrongAnswer(Kind kind, const std::string& what);
  void PostSmall();
  void Repost();
  void Report(bool text);
  void GetJob();
  void Projects();
  void Stats();
  void Health();
  void Bad();
  const AckedJob* RandomAcked();

  struct Batch {
    std::string body;
    std::vector<AckedJob> jobs;
  };

  int index_;
  const Options& options_;
  HttpClient client_;
  const BadRequests& bad_;
  const Run& run_;
  std::string project_;
  JobGenerator generator_;
  std::mt19937_64 rng_;
  size_t next_bad_;
  std::vector<Batch> recent_;  // the last batches posted, for identical re-posts
  Tally tally_;
};

void SoakClient::Loop() {
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options_.clients / options_.rate));
  Clock::time_point next = run_.start + interval * index_ / options_.clients;
  while (!run_.Over()) {
    SleepUntil(run_, next);
    if (run_.Over()) break;
    Send(PickKind());
    // A slow answer delays the next request; it never causes a burst to catch up.
    next = std::max(next + interval, Clock::now());
  }
}

Kind SoakClient::PickKind() {
  int total = 0;
  for (int w : kWeights) total += w;
  int pick = static_cast<int>(rng_() % static_cast<uint64_t>(total));
  for (int k = 0; k <= kBad; ++k) {
    if (pick < kWeights[k]) return static_cast<Kind>(k);
    pick -= kWeights[k];
  }
  return kBad;
}

void SoakClient::Send(Kind kind) {
  // Until this client has a job stored, the requests that need one post a batch instead.
  if (tally_.acked.empty() && kind != kBad && kind != kHealth && kind != kProjects &&
      kind != kStats) {
    kind = kPostSmall;
  }
  switch (kind) {
    case kPostSmall:
      return PostSmall();
    case kRepost:
      return Repost();
    case kReportJson:
      return Report(false);
    case kReportText:
      return Report(true);
    case kGetJob:
      return GetJob();
    case kProjects:
      return Projects();
    case kStats:
      return Stats();
    case kHealth:
      return Health();
    default:
      return Bad();
  }
}

std::optional<HttpResponse> SoakClient::Exchange(
    Kind kind, std::string_view method, const std::string& target, std::string body,
    std::vector<std::pair<std::string, std::string>> headers) {
  const Clock::time_point sent = Clock::now();
  Result<HttpResponse> r = client_.Send(method, target, std::move(body), std::move(headers));
  const Clock::time_point done = Clock::now();
  if (!r.ok()) {
    ++tally_.transport_errors;
    tally_.Problem(std::string(kKindNames[kind]) + " " + target + ": " + r.status().message());
    return std::nullopt;
  }
  tally_.samples[kind].push_back(
      {run_.Since(sent), std::chrono::duration<float, std::milli>(done - sent).count()});
  return std::move(*r);
}

bool SoakClient::ExpectOk(Kind kind, const std::string& target, const HttpResponse& r,
                          int expected) {
  if (r.status == expected) return true;
  if (r.status >= 500) {
    ++tally_.server_errors;
  } else {
    ++tally_.wrong_answers;
  }
  tally_.Problem(std::string(kKindNames[kind]) + " " + target + ": HTTP " +
                 std::to_string(r.status) + " " + r.body.substr(0, 300));
  return false;
}

void SoakClient::WrongAnswer(Kind kind, const std::string& what) {
  ++tally_.wrong_answers;
  tally_.Problem(std::string(kKindNames[kind]) + ": " + what);
}

void SoakClient::PostSmall() {
  constexpr int kJobsPerBatch = 10;
  Batch batch{JobBatchBody(generator_, kJobsPerBatch, project_), {}};
  auto r =
      Exchange(kPostSmall, "POST", "/process", batch.body, {{"Content-Type", "application/json"}});
  if (!r || !ExpectOk(kPostSmall, "/process", *r, 202)) return;
  int created = 0;
  auto jobs = AcceptedJobs(r->body, &created);
  if (!jobs || jobs->size() != kJobsPerBatch || created != kJobsPerBatch) {
    return WrongAnswer(kPostSmall, "not 10 created jobs: " + r->body.substr(0, 300));
  }
  tally_.acked.insert(tally_.acked.end(), jobs->begin(), jobs->end());
  batch.jobs = std::move(*jobs);
  constexpr size_t kRecent = 16;
  if (recent_.size() == kRecent) recent_.erase(recent_.begin());
  recent_.push_back(std::move(batch));
}

// Posting the same batch again is answered 200 with created: false and the same digests.
void SoakClient::Repost() {
  if (recent_.empty()) return PostSmall();
  const Batch& batch = recent_[rng_() % recent_.size()];
  auto r =
      Exchange(kRepost, "POST", "/process", batch.body, {{"Content-Type", "application/json"}});
  if (!r || !ExpectOk(kRepost, "/process (again)", *r)) return;
  int created = 0;
  auto jobs = AcceptedJobs(r->body, &created);
  bool same = jobs && jobs->size() == batch.jobs.size() && created == 0;
  for (size_t i = 0; same && i < jobs->size(); ++i) {
    same = (*jobs)[i].job_id == batch.jobs[i].job_id && (*jobs)[i].digest == batch.jobs[i].digest;
  }
  if (!same)
    WrongAnswer(kRepost, "re-post not answered as stored before: " + r->body.substr(0, 300));
}

const AckedJob* SoakClient::RandomAcked() {
  if (tally_.acked.empty()) return nullptr;
  // Half of the time one of the latest jobs (what a CI system asks for), else any.
  const size_t n = tally_.acked.size();
  const size_t recent = std::min<size_t>(n, 50);
  const size_t i = (rng_() % 2 == 0) ? n - 1 - rng_() % recent : rng_() % n;
  return &tally_.acked[i];
}

void SoakClient::Report(bool text) {
  const AckedJob* job = RandomAcked();
  const Kind kind = text ? kReportText : kReportJson;
  const std::string target = "/report/" + std::to_string(job->job_id) + "?project=" + job->project +
                             (text ? "&format=text" : "");
  auto r = Exchange(kind, "GET", target);
  if (!r || !ExpectOk(kind, target, *r)) return;
  // The report names the job, and its metrics row reached the warehouse.
  const std::string id = std::to_string(job->job_id);
  const std::array<std::string, 2> expected =
      text ? std::array<std::string, 2>{"BuildTrace report: project " + job->project + ", job " +
                                            id + " ",
                                        "\nWarehouse: recorded"}
           : std::array<std::string, 2>{
                 "{\"project\":\"" + job->project + "\",\"job_id\":" + id + ",",
                 "\"warehouse\":{\"status\":\"recorded\""};
  for (const std::string& part : expected) {
    if (r->body.find(part) == std::string::npos) {
      return WrongAnswer(kind, target + " lacks " + part + ": " + r->body.substr(0, 200));
    }
  }
}

void SoakClient::GetJob() {
  const AckedJob* job = RandomAcked();
  const std::string target = "/jobs/" + std::to_string(job->job_id) + "?project=" + job->project;
  auto r = Exchange(kGetJob, "GET", target);
  if (!r || !ExpectOk(kGetJob, target, *r)) return;
  if (ContentDigest(r->body) != job->digest) WrongAnswer(kGetJob, target + ": another digest");
}

void SoakClient::Projects() {
  auto r = Exchange(kProjects, "GET", "/projects");
  if (!r || !ExpectOk(kProjects, "/projects", *r)) return;
  const std::string expected = "{\"project\":\"" + project_ + "\"";
  if (!tally_.acked.empty() && r->body.find(expected) == std::string::npos) {
    WrongAnswer(kProjects, "/projects does not list " + project_);
  }
}

void SoakClient::Stats() {
  const std::string target = rng_() % 2 == 0 ? "/stats/latency"
                                             : "/stats/latency?project=" + project_ +
                                                   "&window=3650d&quantiles=0.5,0.9,0.99";
  auto r = Exchange(kStats, "GET", target);
  if (!r || !ExpectOk(kStats, target, *r)) return;
  if (r->body.find("\"count\":") == std::string::npos) {
    WrongAnswer(kStats, target + " has no count: " + r->body.substr(0, 200));
  }
}

void SoakClient::Health() {
  const std::string target = rng_() % 2 == 0 ? "/healthz" : "/readyz";
  auto r = Exchange(kHealth, "GET", target);
  if (r) ExpectOk(kHealth, target, *r);
}

void SoakClient::Bad() {
  const BadRequest* request = &bad_.at(next_bad_++ % bad_.size());
  // A conflict needs a stored job; before this client has one, the next kind goes instead.
  if (request->name == "conflict" && tally_.acked.empty()) {
    request = &bad_.at(next_bad_++ % bad_.size());
  }
  BadRequest conflict;
  if (request->name == "conflict") {
    const AckedJob* stored = RandomAcked();
    conflict = ConflictingRepost(stored->project, stored->job_id);
    request = &conflict;
  }
  const Clock::time_point sent = Clock::now();
  const BadOutcome outcome = bad_.Send(*request, client_);
  tally_.samples[kBad].push_back(
      {run_.Since(sent), std::chrono::duration<float, std::milli>(Clock::now() - sent).count()});
  ++tally_.bad_by_name[request->name];
  if (!outcome.as_expected) {
    ++tally_.bad_unexpected;
    tally_.Problem("bad request " + request->name + ": " + outcome.what);
  }
}

// ---- The large-job thread ---------------------------------------------------------------------

// Every --large-every-s seconds: one large job (50k, 100k or 200k objects in turn, each size its
// own project of evolving jobs, so each report diffs two large states), then its report.
class LargeJobPoster {
 public:
  LargeJobPoster(const Options& o, const HttpEndpoint& endpoint, const Run& run)
      : options_(o),
        client_(endpoint, std::chrono::milliseconds(static_cast<int64_t>(o.timeout_seconds * 1e3))),
        run_(run) {
    for (size_t objects : kSizes) {
      JobGenerator::Options g;
      g.seed = o.seed * 31 + objects;
      g.objects = objects;
      g.failure_rate = 0;
      generators_.emplace_back(g);
    }
  }

  void Loop() {
    const auto every = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(options_.large_every_seconds));
    Clock::time_point next = run_.start + every / 2;
    for (size_t i = 0; !run_.Over(); ++i) {
      SleepUntil(run_, next);
      if (run_.Over()) break;
      PostOne(i % kSizes.size());
      next = std::max(next + every, Clock::now());
    }
  }
  Tally& tally() { return tally_; }

 private:
  static constexpr std::array<size_t, 3> kSizes = {50'000, 100'000, 200'000};

  bool Check(Kind kind, const std::string& target, const Result<HttpResponse>& r,
             int expected = 200) {
    if (!r.ok()) {
      ++tally_.transport_errors;
      tally_.Problem(std::string(kKindNames[kind]) + " " + target + ": " + r.status().message());
      return false;
    }
    if (r->status == expected) return true;
    ++(r->status >= 500 ? tally_.server_errors : tally_.wrong_answers);
    tally_.Problem(std::string(kKindNames[kind]) + " " + target + ": HTTP " +
                   std::to_string(r->status) + " " + r->body.substr(0, 300));
    return false;
  }

  template <typename Call>
  Result<HttpResponse> Timed(Kind kind, Call call) {
    const Clock::time_point sent = Clock::now();
    Result<HttpResponse> r = call();
    if (r.ok()) {
      tally_.samples[kind].push_back(
          {run_.Since(sent),
           std::chrono::duration<float, std::milli>(Clock::now() - sent).count()});
    }
    return r;
  }

  void PostOne(size_t size_index) {
    const std::string project = "soak-large-" + std::to_string(kSizes[size_index] / 1000) + "k";
    std::string body = GeneratedJobToJson(generators_[size_index].Next(), project);
    auto r = Timed(kPostLarge, [&] { return client_.Post("/process", std::move(body)); });
    if (!Check(kPostLarge, "/process (large)", r, 202)) return;
    int created = 0;
    auto jobs = AcceptedJobs(r->body, &created);
    if (!jobs || jobs->size() != 1 || created != 1) {
      ++tally_.wrong_answers;
      return tally_.Problem("post_large: not 1 created job: " + r->body.substr(0, 300));
    }
    tally_.acked.push_back(jobs->front());
    const std::string target =
        "/report/" + std::to_string(jobs->front().job_id) + "?project=" + project + "&limit=100";
    Check(kReportLarge, target, Timed(kReportLarge, [&] { return client_.Get(target); }));
  }

  const Options& options_;
  HttpClient client_;
  const Run& run_;
  std::vector<JobGenerator> generators_;
  Tally tally_;
};

// ---- Resident memory --------------------------------------------------------------------------

std::vector<RssSample> SampleRss(pid_t pid, const Run& run) {
  std::vector<RssSample> samples;
  for (Clock::time_point next = run.start; !run.Over(); next += std::chrono::milliseconds(250)) {
    const double mib = ReadRssMib(pid);
    if (mib >= 0) samples.push_back({run.Since(Clock::now()), mib});
    SleepUntil(run, next + std::chrono::milliseconds(250));
  }
  return samples;
}

// ---- After the run: every acknowledged job reads back with its digest -------------------------

struct Verification {
  int64_t jobs = 0, mismatches = 0, unreadable = 0;
  double seconds = 0;
  std::string first_problem;
};

Verification VerifyAcked(const std::vector<AckedJob>& acked, const Options& o,
                         const HttpEndpoint& endpoint) {
  Verification v;
  // The same job acknowledged twice (a re-post) must have the same digest both times.
  std::map<std::pair<std::string, int64_t>, std::string> unique;
  for (const AckedJob& job : acked) {
    auto [it, inserted] = unique.emplace(std::make_pair(job.project, job.job_id), job.digest);
    if (!inserted && it->second != job.digest) ++v.mismatches;
  }
  std::vector<AckedJob> jobs;
  for (const auto& [key, digest] : unique) jobs.push_back({key.first, key.second, digest});
  v.jobs = static_cast<int64_t>(jobs.size());
  std::atomic<size_t> next{0};
  std::mutex mutex;
  auto verify = [&] {
    HttpClient client(endpoint,
                      std::chrono::milliseconds(static_cast<int64_t>(o.timeout_seconds * 1e3)));
    for (size_t i = next++; i < jobs.size(); i = next++) {
      const std::string target =
          "/jobs/" + std::to_string(jobs[i].job_id) + "?project=" + jobs[i].project;
      Result<HttpResponse> r = client.Get(target);
      std::lock_guard lock(mutex);
      std::string problem;
      if (!r.ok()) {
        ++v.unreadable;
        problem = target + ": " + r.status().message();
      } else if (r->status != 200) {
        ++v.unreadable;
        problem = target + ": HTTP " + std::to_string(r->status);
      } else if (ContentDigest(r->body) != jobs[i].digest) {
        ++v.mismatches;
        problem =
            target + ": digest " + ContentDigest(r->body) + ", acknowledged " + jobs[i].digest;
      }
      if (v.first_problem.empty()) v.first_problem = problem;
    }
  };
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < o.clients; ++c) threads.emplace_back(verify);
  for (std::thread& t : threads) t.join();
  v.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return v;
}

// ---- The report -------------------------------------------------------------------------------

std::string Ms(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, ms >= 100 ? "%.0f" : ms >= 10 ? "%.1f" : "%.2f", ms);
  return text;
}

double P50(const std::vector<Sample>& samples, const RunThirds& thirds, int third) {
  std::vector<double> ms;
  for (const Sample& s : samples) {
    if (third < 0 || thirds.Of(s.at_s) == third) ms.push_back(s.ms);
  }
  std::sort(ms.begin(), ms.end());
  return NearestRankQuantile(ms, 0.5);
}

void PrintSummary(const Options& o, Tally& all, const Verification& v, const RssFigures& rss,
                  const RunThirds& thirds, double seconds) {
  std::ostringstream line;
  line.setf(std::ios::fixed);
  line.precision(1);
  int64_t requests = 0;
  for (const auto& s : all.samples) requests += static_cast<int64_t>(s.size());
  line << "soak: seconds=" << seconds << " clients=" << o.clients << " rate=" << o.rate
       << " requests=" << requests << " req_per_s=" << static_cast<double>(requests) / seconds;
  for (int k = 0; k < kKinds; ++k) {
    std::vector<double> ms;
    for (const Sample& s : all.samples[k]) ms.push_back(s.ms);
    std::sort(ms.begin(), ms.end());
    line << " " << kKindNames[k] << "=" << ms.size() << "/p50:" << Ms(NearestRankQuantile(ms, 0.5))
         << "/p99:" << Ms(NearestRankQuantile(ms, 0.99));
  }
  line << " bad_kinds=" << all.bad_by_name.size() << " 5xx=" << all.server_errors
       << " transport_errors=" << all.transport_errors << " wrong_answers=" << all.wrong_answers
       << " bad_unexpected=" << all.bad_unexpected << " jobs_acked=" << v.jobs
       << " jobs_unreadable=" << v.unreadable << " digest_mismatches=" << v.mismatches
       << " verify_seconds=" << v.seconds << " rss_mib_warmup_end=" << rss.warmup_end
       << " rss_mib_max=" << rss.max << " rss_mib_end=" << rss.end;
  std::printf("%s\n", line.str().c_str());
  // The same run in thirds (after the warm-up), to compare within the run on a noisy machine.
  std::ostringstream by_third;
  by_third.setf(std::ios::fixed);
  by_third.precision(1);
  by_third << "soak: thirds from " << thirds.from_s << " s to " << thirds.to_s
           << " s: rss_mib_median=" << rss.median_by_third[0] << "/" << rss.median_by_third[1]
           << "/" << rss.median_by_third[2] << " rss_mib_max=" << rss.max_by_third[0] << "/"
           << rss.max_by_third[1] << "/" << rss.max_by_third[2] << " req_per_s=";
  const double third_seconds = (thirds.to_s - thirds.from_s) / 3;
  for (int t = 0; t < 3; ++t) {
    int64_t n = 0;
    for (const auto& samples : all.samples) {
      for (const Sample& s : samples) n += thirds.Of(s.at_s) == t ? 1 : 0;
    }
    by_third << (t > 0 ? "/" : "") << static_cast<double>(n) / third_seconds;
  }
  for (int k : {kPostSmall, kReportJson, kGetJob, kProjects, kStats, kPostLarge}) {
    by_third << " " << kKindNames[k] << "_p50=" << Ms(P50(all.samples[k], thirds, 0)) << "/"
             << Ms(P50(all.samples[k], thirds, 1)) << "/" << Ms(P50(all.samples[k], thirds, 2));
  }
  std::printf("%s\n", by_third.str().c_str());
}

// The violated checks, one sentence each; empty when the soak passed.
std::vector<std::string> Violations(const Tally& all, const Verification& v,
                                    const std::string& rss_verdict, const BadRequests& bad,
                                    bool server_alive) {
  std::vector<std::string> out;
  auto count = [&](int64_t n, const std::string& what) {
    if (n > 0) out.push_back(std::to_string(n) + " " + what);
  };
  count(all.server_errors, "5xx answers to valid requests");
  count(all.transport_errors, "valid requests without an answer (transport errors)");
  count(all.wrong_answers, "valid requests answered otherwise than expected");
  count(all.bad_unexpected, "bad requests answered otherwise than expected");
  count(v.unreadable, "acknowledged jobs not readable through GET /jobs");
  count(v.mismatches, "acknowledged jobs whose digest differs");
  if (v.jobs == 0) out.push_back("no job was acknowledged");
  if (all.bad_by_name.size() < bad.size()) {
    out.push_back("only " + std::to_string(all.bad_by_name.size()) + " of " +
                  std::to_string(bad.size()) + " kinds of bad request were sent; run longer");
  }
  if (!rss_verdict.empty()) out.push_back(rss_verdict);
  if (!server_alive) out.push_back("the server process is gone");
  return out;
}

int Main(int argc, char** argv) {
  const Options o = ParseOptions(argc, argv);
  auto endpoint = ParseHttpUrl(o.url);
  if (!endpoint.ok()) Usage(endpoint.status().message());
  if (!IsLoopbackHost(endpoint->host)) {
    Usage("only loopback URLs (127.0.0.0/8, ::1, localhost) are soak-tested, not " + o.url);
  }
  if (ReadRssMib(o.server_pid) < 0) Usage("no process " + std::to_string(o.server_pid));
  const BadRequests bad(*endpoint, o.max_body);
  Run run;
  run.end = run.start +
            std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  std::vector<std::unique_ptr<SoakClient>> clients;
  for (int c = 0; c < o.clients; ++c) {
    clients.push_back(std::make_unique<SoakClient>(c, o, *endpoint, bad, run));
  }
  LargeJobPoster large(o, *endpoint, run);
  std::vector<RssSample> rss_samples;
  std::vector<std::thread> threads;
  for (auto& c : clients) threads.emplace_back([&c] { c->Loop(); });
  threads.emplace_back([&large] { large.Loop(); });
  threads.emplace_back([&] { rss_samples = SampleRss(o.server_pid, run); });
  for (std::thread& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - run.start).count();

  Tally all;
  for (auto& c : clients) all.Merge(std::move(c->tally()));
  all.Merge(std::move(large.tally()));
  const RunThirds thirds{o.warmup_seconds, o.seconds};
  const RssFigures rss = SummarizeRss(rss_samples, thirds);
  if (!o.rss_log.empty() && !WriteRssLog(o.rss_log, rss_samples)) {
    std::fprintf(stderr, "soak: cannot write %s\n", o.rss_log.c_str());
  }
  Verification v = VerifyAcked(all.acked, o, *endpoint);
  const bool alive = ReadRssMib(o.server_pid) >= 0;
  PrintSummary(o, all, v, rss, thirds, seconds);
  for (const std::string& p : all.problems) std::fprintf(stderr, "soak: problem: %s\n", p.c_str());
  if (!v.first_problem.empty()) {
    std::fprintf(stderr, "soak: problem: %s\n", v.first_problem.c_str());
  }
  const std::vector<std::string> violations =
      Violations(all, v, RssGrowth(rss, o.rss_growth_pct, o.rss_growth_mib), bad, alive);
  if (violations.empty()) {
    std::printf(
        "soak: PASS (RSS rule: the last third's median within %.0f %% + %.0f MiB of the first "
        "third's)\n",
        o.rss_growth_pct, o.rss_growth_mib);
    return 0;
  }
  std::string text;
  for (const std::string& s : violations) text += (text.empty() ? "" : "; ") + s;
  std::printf("soak: FAIL: %s\n", text.c_str());
  return 1;
}

}  // namespace
}  // namespace buildtrace

int main(int argc, char** argv) { return buildtrace::Main(argc, argv); }
