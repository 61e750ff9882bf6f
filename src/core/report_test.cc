// Tests of report rendering: the whole JSON and text of small hand-built reports, and the
// summary sentence for each kind of base.
#include "core/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

namespace buildtrace {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// SHA-256 of {"type":"door"} and of the door's geometry, computed outside this code base.
constexpr char kDoorDigest[] =
    "sha256:35bd591c144f48f51cdc173a9117742244abe369f4b9eb30e8c3b3beda1d13e4";
constexpr char kShapeDigest[] =
    "sha256:c0b1e0dba983f94a52dfcd542a12feda96b1c5979ff55c865b234b1492bb71ee";
constexpr char kShape[] = R"({"h":5,"type":"door","w":5,"x":10,"y":20})";

// Job 7 of project "web" against job 5, with failed job 6 skipped; one change of each list.
Report SmallReport() {
  Report r;
  r.job.job_id = 7;
  r.job.project = "web";
  r.job.timestamp = "2026-11-28T10:00:00Z";
  r.job.timestamp_ms = 1795860000000;
  r.job.latency_ms = 812.5;
  r.job.metadata = {{"branch", "main"}};
  r.object_count = 4;
  r.base.base_job_id = 5;
  r.base.skipped_failed = {6};
  r.diff.counts = DiffCounts{.added = 1, .removed = 1, .unchanged = 1, .moved = 1, .changed = 2};
  r.diff.added = {"n"};
  r.diff.added_at = {Placement{"door", 3, -4}};
  r.diff.removed = {"o"};
  r.diff.modified = {
      {"d", ChangeKind::kMoved, "door_1_2_3_4", "door_2_2_3_4", false, false},
      {"s", ChangeKind::kChanged, R"({"type":"door"})", "plain", true, false},
      {"t", ChangeKind::kChanged, "door_10_20_5_5", kShape, false, true},
  };
  r.limit = 100;
  r.warehouse = WarehouseOutcome{"recorded", true, "row written"};
  return r;
}

// Job 1 of the default project: no base, one object added, no warehouse section.
Report FirstJobReport() {
  Report r;
  r.job.job_id = 1;
  r.job.timestamp = "2026-11-28T08:00:00Z";
  r.job.latency_ms = 0.1;
  r.job.status = JobStatus::kFailed;
  r.object_count = 1;
  r.diff.counts.added = 1;
  r.diff.added = {"a\"b"};
  r.diff.added_at = {std::nullopt};
  r.limit = 0;
  return r;
}

TEST(RenderReportJsonTest, WholeReport) {
  const std::string want =
      std::string(R"({"project":"web","job_id":7,"base_job_id":5,"status":"succeeded",)") +
      R"("objects":4,"metadata":{"branch":"main"},)" +
      R"("metrics":{"timestamp":"2026-11-28T10:00:00Z","job_id":7,"latency_ms":812.5,)" +
      R"("total_added":1,"total_removed":1,"total_modified":3,"total_unchanged":1,)" +
      R"("total_moved":1,"total_resized":0,"total_retyped":0,"total_changed":2},)" +
      R"("changes":{"added":["n"],)" + R"("added_objects":[{"id":"n","type":"door","x":3,"y":-4,)" +
      R"j("sentence":"n (door added at x:3, y:-4)"}],"removed":["o"],"modified":[)j" +
      R"({"id":"d","kind":"moved","before":"door_1_2_3_4","after":"door_2_2_3_4",)" +
      R"("dx":1,"dy":0,"dw":0,"dh":0,"sentence":"d (door) moved 1 units east"},)" +
      R"({"id":"s","kind":"changed","before":")" + kDoorDigest +
      R"(","before_object":{"type":"door"},"after":"plain",)" +
      R"("sentence":"s attributes modified (not position)."},)" +
      R"({"id":"t","kind":"changed","before":"door_10_20_5_5","after":")" + kShapeDigest +
      R"(","after_object":)" + kShape + R"(,"dx":0,"dy":0,"dw":0,"dh":0,)" +
      R"("sentence":"t attributes modified (not position)."})" + R"(],"truncated":false},)" +
      R"("limit":100,)" +
      R"("lineage":{"explicit_base":false,"skipped_failed":[6],"missing_ids":0,)" +
      R"("explanation":"Job 5 is the latest earlier job that succeeded; failed job 6 was )" +
      R"(skipped."},)" +
      R"("summary":"Job 7 of project web against job 5: 1 added, 1 removed, 3 modified )" +
      R"((1 moved, 0 resized, 0 retyped, 2 changed), 1 unchanged. Job 5 is the latest earlier )" +
      R"(job that succeeded; failed job 6 was skipped.",)" +
      R"("warehouse":{"status":"recorded","inserted":true,"message":"row written"}})" + "\n";
  const std::string got = RenderReportJson(SmallReport());
  EXPECT_EQ(got, want);
  simdjson::dom::parser parser;
  EXPECT_FALSE(parser.parse(got).error()) << "not valid JSON";
}

TEST(RenderReportJsonTest, NullBaseAndNoWarehouse) {
  const std::string want =
      std::string(R"({"project":"default","job_id":1,"base_job_id":null,"status":"failed",)") +
      R"("objects":1,"metadata":{},)" +
      R"("metrics":{"timestamp":"2026-11-28T08:00:00Z","job_id":1,"latency_ms":0.1,)" +
      R"("total_added":1,"total_removed":0,"total_modified":0,"total_unchanged":0,)" +
      R"("total_moved":0,"total_resized":0,"total_retyped":0,"total_changed":0},)" +
      R"("changes":{"added":["a\"b"],)" +
      R"j("added_objects":[{"id":"a\"b","sentence":"a\"b (unknown added at x:0, y:0)"}],)j" +
      R"("removed":[],"modified":[],"truncated":false},)" + R"("limit":0,)" +
      R"("lineage":{"explicit_base":false,"skipped_failed":[],"missing_ids":0,)" +
      R"("explanation":"No earlier job succeeded, so every object counts as added."},)" +
      R"("summary":"Job 1 of project default with no base: 1 added, 0 removed, 0 modified )" +
      R"((0 moved, 0 resized, 0 retyped, 0 changed), 0 unchanged. No earlier job succeeded, )" +
      R"(so every object counts as added."})" + "\n";
  const std::string got = RenderReportJson(FirstJobReport());
  EXPECT_EQ(got, want);
  EXPECT_THAT(got, Not(HasSubstr("warehouse")));
}

TEST(RenderReportJsonTest, ExplicitBaseAndFailedWarehouse) {
  Report r = SmallReport();
  r.base = ExplicitBase(3);
  r.diff.truncated = true;
  r.warehouse = WarehouseOutcome{"failed", false, "warehouse unavailable; retry later"};
  const std::string got = RenderReportJson(r);
  EXPECT_THAT(got, HasSubstr(R"("base_job_id":3,)"));
  EXPECT_THAT(got, HasSubstr(R"(],"truncated":true},)"));
  EXPECT_THAT(got, HasSubstr(R"("lineage":{"explicit_base":true,"skipped_failed":[],)"
                             R"("missing_ids":0,"explanation":"Job 3 was named as the base by )"
                             R"(the request."},)"));
  EXPECT_THAT(got, HasSubstr(R"(,"warehouse":{"status":"failed","inserted":false,)"
                             R"("message":"warehouse unavailable; retry later"}})"
                             "\n"));
}

TEST(RenderReportTextTest, WholeReport) {
  const std::string want =
      "BuildTrace report: project web, job 7 (succeeded)\n"
      "Timestamp: 2026-11-28T10:00:00Z\n"
      "Latency:   812.5 ms\n"
      "Objects:   4\n"
      "Metadata:  branch = main\n"
      "Base:      job 5. Job 5 is the latest earlier job that succeeded; failed job 6 was "
      "skipped.\n"
      "\n"
      "Summary: 1 added, 1 removed, 3 modified (1 moved, 0 resized, 0 retyped, 2 changed), "
      "1 unchanged.\n"
      "\n"
      "Added (1)\n"
      "  + n (door added at x:3, y:-4)\n"
      "Removed (1)\n"
      "  - o\n"
      "Moved (1)\n"
      "  ~ d (door) moved 1 units east [door_1_2_3_4 -> door_2_2_3_4]\n"
      "Resized (0)\n"
      "Retyped (0)\n"
      "Changed (2)\n"
      "  ~ s attributes modified (not position). [{\"type\":\"door\"} -> plain]\n"
      "  ~ t attributes modified (not position). [door_10_20_5_5 -> "
      "{\"h\":5,\"type\":\"door\",\"w\":5,\"x\":10,\"y\":20}]\n"
      "\n"
      "Warehouse: recorded (row written)\n";
  EXPECT_EQ(RenderReportText(SmallReport()), want);
}

TEST(RenderReportTextTest, NoBaseAndNoWarehouse) {
  const std::string got = RenderReportText(FirstJobReport());
  EXPECT_THAT(got, HasSubstr("BuildTrace report: project default, job 1 (failed)\n"));
  EXPECT_THAT(got, HasSubstr("Latency:   0.1 ms\n"));
  EXPECT_THAT(got, HasSubstr("Base:      none. No earlier job succeeded, so every object counts as "
                             "added.\n"));
  EXPECT_THAT(got, HasSubstr("Summary: 1 added, 0 removed, 0 modified (0 moved, 0 resized, "
                             "0 retyped, 0 changed), 0 unchanged.\n"));
  EXPECT_THAT(got, HasSubstr("Added (1)\n  + a\"b\nRemoved (0)\nMoved (0)\n"));
  EXPECT_THAT(got, Not(HasSubstr("Metadata:")));
  EXPECT_THAT(got, Not(HasSubstr("Warehouse")));
  EXPECT_THAT(got, Not(HasSubstr("Lists stop")));
}

TEST(RenderReportTextTest, TruncatedListsSayHowManyMore) {
  Report r = SmallReport();
  r.limit = 1;
  r.diff.counts = DiffCounts{.added = 4, .removed = 1, .unchanged = 0, .moved = 3, .changed = 1};
  r.diff.added = {"n"};
  r.diff.added_at = {std::nullopt};
  r.diff.modified = {{"d", ChangeKind::kMoved, "door_1_2_3_4", "door_2_2_3_4"},
                     {"z", ChangeKind::kChanged, "a", "b"}};
  r.diff.truncated = true;
  r.warehouse.reset();
  const std::string got = RenderReportText(r);
  EXPECT_THAT(got, HasSubstr("Added (4)\n  + n\n  ... and 3 more\nRemoved (1)\n  - o\n"));
  EXPECT_THAT(
      got, HasSubstr("Moved (3)\n  ~ d (door) moved 1 units east [door_1_2_3_4 -> door_2_2_3_4]\n"
                     "  ... and 2 more\n"
                     "Resized (0)\n"));
  EXPECT_THAT(got, HasSubstr("Changed (1)\n  ~ z attributes modified (not position). [a -> b]\n"));
  EXPECT_THAT(got, HasSubstr("\nLists stop at 1 objects per kind (limit=N for more).\n"));
  EXPECT_THAT(got, Not(HasSubstr("Warehouse")));
}

TEST(SummarizeTest, PreviousJobNeedsNoExplanation) {
  Report r = SmallReport();
  r.base = BaseSelection{};
  r.base.base_job_id = 6;
  EXPECT_EQ(Summarize(r),
            "Job 7 of project web against job 6: 1 added, 1 removed, 3 modified (1 moved, "
            "0 resized, 0 retyped, 2 changed), 1 unchanged.");
}

TEST(SummarizeTest, SkippedJobsAreExplained) {
  EXPECT_EQ(Summarize(SmallReport()),
            "Job 7 of project web against job 5: 1 added, 1 removed, 3 modified (1 moved, "
            "0 resized, 0 retyped, 2 changed), 1 unchanged. Job 5 is the latest earlier job "
            "that succeeded; failed job 6 was skipped.");
}

TEST(SummarizeTest, ExplicitBaseIsExplainedEvenWhenItIsThePreviousJob) {
  Report r = SmallReport();
  r.base = ExplicitBase(6);
  EXPECT_EQ(Summarize(r),
            "Job 7 of project web against job 6: 1 added, 1 removed, 3 modified (1 moved, "
            "0 resized, 0 retyped, 2 changed), 1 unchanged. Job 6 was named as the base by the "
            "request.");
}

TEST(SummarizeTest, NoBase) {
  EXPECT_EQ(Summarize(FirstJobReport()),
            "Job 1 of project default with no base: 1 added, 0 removed, 0 modified (0 moved, "
            "0 resized, 0 retyped, 0 changed), 0 unchanged. No earlier job succeeded, so every "
            "object counts as added.");
}

}  // namespace
}  // namespace buildtrace

namespace buildtrace {
namespace {

TEST(RenderReportTextTest, ControlCharactersStayOnOneLine) {
  Report r = FirstJobReport();
  r.diff.added = {"a\nb"};
  r.diff.modified = {{"c\td", ChangeKind::kChanged, "x\ry", "z", false, false}};
  r.diff.counts.changed = 1;
  const std::string text = RenderReportText(r);
  EXPECT_THAT(text, HasSubstr("  + a\\x0ab\n"));
  EXPECT_THAT(text, HasSubstr("  ~ c\\x09d attributes modified (not position). [x\\x0dy -> z]\n"));
}

}  // namespace
}  // namespace buildtrace

namespace buildtrace {
namespace {

TEST(RenderReportClassicTest, TheOriginalShapeAndSentencesWithModifiedObjectsInIdOrder) {
  Report r = SmallReport();
  r.diff.modified.push_back({"a", ChangeKind::kResized, "wall_0_0_1_1", "wall_-2_3_2_1"});
  r.diff.counts.resized = 1;
  const std::string got = RenderReportClassic(r);
  EXPECT_EQ(
      got,
      std::string(R"j({"job_id":7,"added":["n (door added at x:3, y:-4)"],)j") +
          R"j("removed":["o removed"],"moved_or_modified":[)j" +
          R"j("a (wall) moved 2 units west and 3 units north",)j" +
          R"j("d (door) moved 1 units east",)j" + R"j("s attributes modified (not position).",)j" +
          R"j("t attributes modified (not position)."],)j" +
          R"j("summary":"1 item(s) added. | 1 item(s) removed. | 4 item(s) moved/modified.",)j" +
          R"j("metrics_status":"Metrics recorded in the warehouse. Compared with job 5: )j" +
          R"j(Job 5 is the latest earlier job that succeeded; failed job 6 was skipped."})j" +
          "\n");
  // RenderReport gives the same, and a warehouse section is never appended to it.
  EXPECT_EQ(RenderReport(r, ReportFormat::kClassic), got);
  std::string appended = got;
  AppendWarehouseSection(appended, ReportFormat::kClassic, *r.warehouse);
  EXPECT_EQ(appended, got);
}

TEST(RenderReportClassicTest, NoChangesAndPendingMetrics) {
  Report r;
  r.job.job_id = 2;
  r.base.base_job_id = 1;
  r.diff.counts.unchanged = 3;
  r.warehouse = WarehouseOutcome{"pending", false, "queued"};
  EXPECT_EQ(RenderReportClassic(r),
            R"j({"job_id":2,"added":[],"removed":[],"moved_or_modified":[],)j"
            R"j("summary":"No significant changes detected.","metrics_status":"Metrics pending: )j"
            R"j(the row is queued and will be recorded when the warehouse answers. Compared with )j"
            R"j(job 1: Job 1 is the previous job."})j"
            "\n");
}

}  // namespace
}  // namespace buildtrace
