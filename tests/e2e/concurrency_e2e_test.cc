// Many clients at once: 8 threads, each with its own connection, post jobs to a project of their
// own and the very same jobs to one shared project, and ask for reports as they go. Every
// answer is a success, each shared job is created exactly once, and each (project, job, base)
// has exactly one metrics row.
#include <latch>
#include <mutex>
#include <thread>

#include "core/canonical_hash.h"
#include "core/timestamp.h"
#include "tests/e2e/e2e_fixture.h"

namespace buildtrace::e2e {
namespace {

class E2eConcurrency : public E2eTest {};

constexpr int kThreads = 8;
constexpr int kJobsPerThread = 20;
const std::string kShared = "shared";

std::string OwnProject(int thread) { return "p" + std::to_string(thread); }

// The job `id` of `project`; the same arguments always give the same bytes (within one run:
// the timestamps are an hour before the first call, inside the statistics window).
std::string JobBody(const std::string& project, int id) {
  static const int64_t kStartMs = [] {
    const std::string start = RecentTimestamp(3600);
    return ParseRfc3339(start).value_or(0);
  }();
  TestJob job;
  job.job_id = id;
  job.project = project;
  job.timestamp = FormatRfc3339Utc(kStartMs + id * 1000);
  job.latency_ms = 100 + id;
  job.state = R"({"D1":"door_)" + std::to_string(id) + R"(_0_1_1","W1":"window_0_0_2_3","X)" +
              std::to_string(id % 3) + R"(":"wall_0_0_9_1"})";
  return job.ToJson();
}

// What one thread saw.
struct ThreadLog {
  std::vector<std::string> problems;  // non-2xx answers, transport failures, wrong answers
  std::vector<bool> shared_created = std::vector<bool>(kJobsPerThread + 1);
  std::vector<bool> shared_inserted = std::vector<bool>(kJobsPerThread + 1);
  std::vector<std::string> shared_digest = std::vector<std::string>(kJobsPerThread + 1);
  std::vector<std::string> own_digest = std::vector<std::string>(kJobsPerThread + 1);
};

// Posts job `id` of `project`; returns (created, digest), noting problems in `log`.
std::pair<bool, std::string> PostJob(HttpClient& client, simdjson::dom::parser& parser,
                                     const std::string& project, int id, ThreadLog& log) {
  auto r = client.Post("/process", JobBody(project, id));
  const std::string what = "POST job " + std::to_string(id) + " of " + project;
  simdjson::dom::element root;
  bool created = false;
  std::string_view digest;
  if (!r.ok()) {
    log.problems.push_back(what + ": " + r.status().message());
  } else if (parser.parse(r->body).get(root) ||
             root.at_pointer("/accepted/0/created").get(created) ||
             root.at_pointer("/accepted/0/digest").get(digest) ||
             r->status != (created ? 202 : 200)) {  // 202: created; 200: a replay
    log.problems.push_back(what + ": " + std::to_string(r->status) + " " + r->body);
  }
  return {created, std::string(digest)};
}

// Asks for the report of job `id` of `project`, whose base must be id - 1 (every earlier job
// is stored by now); returns warehouse.inserted.
bool GetReport(HttpClient& client, simdjson::dom::parser& parser, const std::string& project,
               int id, ThreadLog& log) {
  const std::string target = "/report/" + std::to_string(id) + "?project=" + project + "&limit=0";
  auto r = client.Get(target);
  simdjson::dom::element root;
  int64_t base = 0;
  bool inserted = false;
  if (!r.ok()) {
    log.problems.push_back(target + ": " + r.status().message());
    return false;
  }
  if (r->status != 200 || parser.parse(r->body).get(root) ||
      root.at_pointer("/warehouse/inserted").get(inserted)) {
    log.problems.push_back(target + ": " + std::to_string(r->status) + " " + r->body);
    return false;
  }
  const bool has_base = !root.at_pointer("/base_job_id").get_int64().get(base);
  if (id == 1 ? has_base : (!has_base || base != id - 1)) {
    log.problems.push_back(target + ": base_job_id is not " + std::to_string(id - 1) + ": " +
                           r->body);
  }
  return inserted;
}

void RunClient(HttpEndpoint endpoint, int thread, std::latch& start, ThreadLog& log) {
  HttpClient client(std::move(endpoint), std::chrono::seconds(30));
  simdjson::dom::parser parser;
  start.arrive_and_wait();
  for (int id = 1; id <= kJobsPerThread; ++id) {
    auto [own_created, own_digest] = PostJob(client, parser, OwnProject(thread), id, log);
    if (!own_created) log.problems.push_back("own job " + std::to_string(id) + " not created");
    log.own_digest[id] = own_digest;
    auto [created, digest] = PostJob(client, parser, kShared, id, log);
    log.shared_created[id] = created;
    log.shared_digest[id] = digest;
    GetReport(client, parser, OwnProject(thread), id, log);
    log.shared_inserted[id] = GetReport(client, parser, kShared, id, log);
  }
}

TEST_F(E2eConcurrency, EightClientsPostAndReportAtOnce) {
  std::vector<ThreadLog> logs(kThreads);
  std::latch start(kThreads);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back(RunClient, server().endpoint(), t, std::ref(start), std::ref(logs[t]));
    }
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(logs[t].problems, std::vector<std::string>{}) << "thread " << t;
  }
  for (int id = 1; id <= kJobsPerThread; ++id) {
    SCOPED_TRACE("shared job " + std::to_string(id));
    int created = 0, inserted = 0;
    for (const ThreadLog& log : logs) {
      created += log.shared_created[id];
      inserted += log.shared_inserted[id];
      EXPECT_EQ(log.shared_digest[id], logs[0].shared_digest[id]);
    }
    EXPECT_EQ(created, 1) << "created:true exactly once across threads";
    EXPECT_EQ(inserted, 1) << "warehouse.inserted:true exactly once across threads";
    HttpResponse stored = Get("/jobs/" + std::to_string(id) + "?project=" + kShared);
    EXPECT_EQ(stored.status, 200);
    EXPECT_EQ(stored.body.find(R"("job_id":)" + std::to_string(id)), 1u) << stored.body;
    EXPECT_EQ(ContentDigest(stored.body), logs[0].shared_digest[id]);
    for (int t = 0; t < kThreads; ++t) {
      HttpResponse own = Get("/jobs/" + std::to_string(id) + "?project=" + OwnProject(t));
      EXPECT_EQ(own.status, 200);
      EXPECT_EQ(ContentDigest(own.body), logs[t].own_digest[id]);
    }
  }

  JsonDoc projects(Get("/projects").body);
  ASSERT_EQ(projects.Size("/projects"), static_cast<size_t>(kThreads + 1));
  for (size_t i = 0; i <= kThreads; ++i) {
    const std::string at = "/projects/" + std::to_string(i);
    EXPECT_EQ(projects.Int(at + "/jobs"), kJobsPerThread) << projects.Str(at + "/project");
    EXPECT_EQ(projects.Int(at + "/latest_job_id"), kJobsPerThread);
  }

  // One row per (project, job, base), and each job's base is the job before it.
  auto rows = QueryInts(metrics_db(),
                        "SELECT COUNT(*), COUNT(DISTINCT project || '/' || job_id), "
                        "SUM(base_job_id != job_id - 1) FROM job_metrics");
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  const int64_t expected = (kThreads + 1) * kJobsPerThread;
  EXPECT_EQ(*rows, (std::vector<std::vector<int64_t>>{{expected, expected, 0}}));
  EXPECT_EQ(JsonDoc(Get("/stats/latency").body).Int("/count"), expected);
}

}  // namespace
}  // namespace buildtrace::e2e
