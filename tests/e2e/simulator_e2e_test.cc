// `buildtrace simulate`'s logic (RunSimulate) against the real server: what it posts is stored,
// listed and reported, and a report's totals equal a diff recomputed here from the stored jobs.
#include <sstream>

#include "simulator/job_generator.h"
#include "simulator/simulate.h"
#include "tests/e2e/e2e_fixture.h"

namespace buildtrace::e2e {
namespace {

class E2eSimulator : public E2eTest {};

struct Recount {
  int64_t added = 0, removed = 0, modified = 0, unchanged = 0;
  std::vector<std::string> added_ids;  // sorted, as std::map iterates
};

Recount Compare(const std::map<std::string, std::string>& before,
                const std::map<std::string, std::string>& after) {
  Recount r;
  for (const auto& [id, value] : after) {
    auto it = before.find(id);
    if (it == before.end()) {
      ++r.added;
      r.added_ids.push_back(id);
    } else if (it->second == value) {
      ++r.unchanged;
    } else {
      ++r.modified;
    }
  }
  for (const auto& [id, value] : before) r.removed += !after.contains(id);
  return r;
}

TEST_F(E2eSimulator, StoredJobsAndReportsMatchARecomputedDiff) {
  SimulateOptions options;
  options.url = server().url();
  options.jobs = 10;
  options.objects = 500;
  options.batch = 3;
  options.seed = 3;
  options.failure_rate = 0;
  std::ostringstream out, err;
  ASSERT_EQ(RunSimulate(options, out, err), 0) << err.str();
  EXPECT_EQ(err.str(), "");
  std::istringstream lines(out.str());
  std::string first_line;
  std::getline(lines, first_line);
  EXPECT_EQ(first_line, "posted 10 jobs (0 failed) in 4 requests, 10 reports");

  JsonDoc projects(Get("/projects").body);
  ASSERT_EQ(projects.Size("/projects"), 1u) << projects.text();
  EXPECT_EQ(projects.Str("/projects/0/project"), "sim");
  EXPECT_EQ(projects.Int("/projects/0/jobs"), 10);
  EXPECT_EQ(projects.Int("/projects/0/latest_job_id"), 10);

  HttpResponse job9 = Get("/jobs/9?project=sim");
  HttpResponse job10 = Get("/jobs/10?project=sim");
  ASSERT_EQ(job9.status, 200) << job9.body;
  ASSERT_EQ(job10.status, 200) << job10.body;
  const auto before = JsonDoc(job9.body).StringMap("/state");
  const auto after = JsonDoc(job10.body).StringMap("/state");

  // The stored job is exactly what the generator made (the simulator posts it unchanged).
  JobGenerator::Options generator_options;
  generator_options.seed = 3;
  generator_options.objects = 500;
  generator_options.failure_rate = 0;
  JobGenerator generator(generator_options);
  GeneratedJob generated;
  for (int i = 0; i < 10; ++i) generated = generator.Next();
  const std::map<std::string, std::string> generated_state(generated.state.begin(),
                                                           generated.state.end());
  EXPECT_EQ(after, generated_state);

  HttpResponse report = Get("/report/10?project=sim");
  ASSERT_EQ(report.status, 200) << report.body;
  JsonDoc doc(report.body);
  EXPECT_EQ(doc.Int("/job_id"), 10);
  EXPECT_EQ(doc.Int("/base_job_id"), 9);
  EXPECT_EQ(doc.Int("/objects"), static_cast<int64_t>(after.size()));
  const Recount expected = Compare(before, after);
  EXPECT_GT(expected.added + expected.removed + expected.modified, 0) << "no change to compare";
  EXPECT_EQ(doc.Int("/metrics/total_added"), expected.added);
  EXPECT_EQ(doc.Int("/metrics/total_removed"), expected.removed);
  EXPECT_EQ(doc.Int("/metrics/total_modified"), expected.modified);
  EXPECT_EQ(doc.Int("/metrics/total_unchanged"), expected.unchanged);
  EXPECT_EQ(doc.StrArray("/changes/added"), expected.added_ids);
  // The simulator asked for this report already: its metrics row exists.
  EXPECT_EQ(doc.Str("/warehouse/status"), "recorded");
  EXPECT_FALSE(doc.Bool("/warehouse/inserted"));

  // The simulator printed the same totals for job 10.
  const std::string line = "job 10 vs 9: +" + std::to_string(expected.added) + " -" +
                           std::to_string(expected.removed) + " ~" +
                           std::to_string(expected.modified);
  EXPECT_NE(out.str().find("\n" + line + " "), std::string::npos) << out.str();

  JsonDoc stats(Get("/stats/latency?project=sim").body);
  EXPECT_EQ(stats.Int("/count"), 10);
}

}  // namespace
}  // namespace buildtrace::e2e
