// A drop-in for the original service: the original simulator's kind of output (a JSON array of
// jobs with job_id, timestamp, latency_ms and state, no project) posted with curl to
// `serve --report-format classic`, then read the way a client written for the original reads it
// (GET /report/{id}, no parameters), gives the original's answers: 202 with its status, and its
// report shape and sentences, checked against crafted states whose sentences are known.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/run_command.h"

namespace buildtrace::e2e {
namespace {

class E2eClassic : public E2eTest {
 protected:
  std::vector<std::string> ServeArgs() const override { return {"--report-format", "classic"}; }

  // curl ARGS... -w "\n%{http_code}": the body and the status, as a client of the original sees.
  std::pair<std::string, int> Curl(std::vector<std::string> args) {
    std::vector<std::string> argv = {"/usr/bin/curl", "-sS", "-w", "\n%{http_code}"};
    argv.insert(argv.end(), args.begin(), args.end());
    Result<CommandResult> run = RunCommand(argv);
    EXPECT_TRUE(run.ok()) << run.status().message();
    if (!run.ok()) return {"", 0};
    EXPECT_EQ(run->exit_code, 0) << run->err;
    const size_t cut = run->out.rfind('\n');
    return {run->out.substr(0, cut), std::stoi(run->out.substr(cut + 1))};
  }
};

// Two jobs as the original simulator writes them: walls, doors and a stair, moves into negative
// coordinates, an object added, one removed, one resized in place and one unparseable hash.
constexpr char kOriginalJobs[] = R"([
  {"job_id": 1, "timestamp": "2026-11-28T10:00:00Z", "latency_ms": 120,
   "state": {"W001": "wall_0_0_10_1", "W039": "wall_10_20_5_1", "D017": "door_-3_4_1_2",
             "D020": "door_1_1_1_1", "X1": "garbage"}},
  {"job_id": 2, "timestamp": "2026-11-28T10:05:00Z", "latency_ms": 135,
   "state": {"W039": "wall_12_21_5_1", "D017": "door_-5_-1_1_2", "D020": "door_1_1_2_2",
             "X1": "garbage", "J2NS541": "stair_20_37_3_3"}}
])";

TEST_F(E2eClassic, TheOriginalSimulatorsOutputReadsAsTheOriginalAnswered) {
  const std::string file = root_dir() + "/jobs.json";
  std::ofstream(file) << kOriginalJobs;
  const auto [posted, post_status] =
      Curl({"-X", "POST", server().url() + "/process", "-H", "Content-Type: application/json",
            "--data-binary", "@" + file});
  EXPECT_EQ(post_status, 202) << posted;
  EXPECT_EQ(JsonDoc(posted).Str("/status"), "Jobs accepted and state stored. Ready for reporting.");

  const auto [second, second_status] = Curl({server().url() + "/report/2"});
  EXPECT_EQ(second_status, 200);
  EXPECT_EQ(second,
            R"j({"job_id":2,"added":["J2NS541 (stair added at x:20, y:37)"],)j"
            R"j("removed":["W001 removed"],"moved_or_modified":[)j"
            R"j("D017 (door) moved 2 units west and 5 units south",)j"
            R"j("D020 attributes modified (not position).",)j"
            R"j("W039 (wall) moved 2 units east and 1 units north"],)j"
            R"j("summary":"1 item(s) added. | 1 item(s) removed. | 3 item(s) moved/modified.",)j"
            R"j("metrics_status":"Metrics recorded in the warehouse. Compared with job 1: Job 1 )j"
            R"j(is the previous job."})j"
            "\n");

  const auto [first, first_status] = Curl({server().url() + "/report/1"});
  EXPECT_EQ(first_status, 200);
  EXPECT_EQ(first,
            R"j({"job_id":1,"added":["D017 (door added at x:-3, y:4)",)j"
            R"j("D020 (door added at x:1, y:1)","W001 (wall added at x:0, y:0)",)j"
            R"j("W039 (wall added at x:10, y:20)","X1 (unknown added at x:0, y:0)"],)j"
            R"j("removed":[],"moved_or_modified":[],"summary":"5 item(s) added.",)j"
            R"j("metrics_status":"Metrics recorded in the warehouse. No earlier job succeeded, )j"
            R"j(so every object counts as added."})j"
            "\n");

  // Our own report is a parameter away, with the same sentences and the deltas beside them.
  const JsonDoc ours(Get("/report/2?format=json").body);
  EXPECT_EQ(ours.Str("/changes/modified/0/id"), "D017");
  EXPECT_EQ(ours.Int("/changes/modified/0/dx"), -2);
  EXPECT_EQ(ours.Int("/changes/modified/0/dy"), -5);
  EXPECT_EQ(ours.Str("/changes/modified/0/sentence"),
            "D017 (door) moved 2 units west and 5 units south");
  EXPECT_EQ(ours.Str("/changes/modified/2/id"), "D020");
  EXPECT_EQ(ours.Int("/changes/modified/2/dw"), 1);
  EXPECT_EQ(ours.Str("/changes/added_objects/0/sentence"), "J2NS541 (stair added at x:20, y:37)");
  // An unknown format is refused as before.
  EXPECT_EQ(Get("/report/2?format=xml").status, 400);
}

}  // namespace
}  // namespace buildtrace::e2e
