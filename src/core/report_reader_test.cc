// Tests of reading kept reports back: the rendered JSON of a parsed report is the rendered JSON it
// came from (plain and structured values, escapes, metadata, lineage), malformed reports are
// refused, and a report derived at a smaller limit is exactly the one the diff makes at that limit.
#include "core/report_reader.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/diff.h"

namespace buildtrace {
namespace {

std::string Padded(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 64);
  out.append(s);
  return out;
}

Report Sample() {
  Report r;
  r.job.job_id = 7;
  r.job.project = "web";
  r.job.timestamp = "2026-11-28T10:00:00.250+01:00";
  r.job.latency_ms = 812.5;
  r.job.status = JobStatus::kFailed;
  r.job.metadata = {{"branch", "ma\"in"}, {"sha", "\xc3\xa9\n"}};
  r.object_count = 4;
  r.base.base_job_id = 5;
  r.base.skipped_failed = {6};
  r.base.missing_ids = 2;
  r.diff.counts = DiffCounts{.added = 1, .removed = 1, .unchanged = 1, .moved = 1, .changed = 2};
  r.diff.added = {"n\\x"};
  r.diff.added_at = {Placement{"stair", 20, -37.5}};
  r.diff.removed = {"o"};
  r.diff.modified = {
      {"d", ChangeKind::kMoved, "door_1_2_3_4", "door_2_2_3_4", false, false},
      {"s", ChangeKind::kChanged, R"({"a":[1,2.5,{"b":null}],"type":"door"})", "plain", true,
       false},
      {"t", ChangeKind::kChanged, "door_10_20_5_5", R"({"h":5,"type":"door"})", false, true},
  };
  r.limit = 100;
  return r;
}

TEST(ReportReaderTest, RoundTripGivesTheSameRendering) {
  const Report original = Sample();
  const std::string json = Padded(RenderReportJson(original));
  Result<Report> parsed = ParseReportJson(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(RenderReportJson(*parsed), RenderReportJson(original));
  EXPECT_EQ(RenderReportText(*parsed), RenderReportText(original));
  EXPECT_EQ(parsed->job.timestamp_ms, 1795856400250);
  EXPECT_EQ(parsed->diff.modified[1].before, original.diff.modified[1].before);
  EXPECT_TRUE(parsed->diff.modified[1].before_structured);
  EXPECT_FALSE(parsed->diff.modified[1].after_structured);
  EXPECT_EQ(parsed->diff.added_at, original.diff.added_at);
  EXPECT_EQ(RenderReportClassic(*parsed), RenderReportClassic(original));
}

TEST(ReportReaderTest, NoBaseAndEmptyLists) {
  Report r;
  r.job.job_id = 1;
  r.job.timestamp = "2026-11-28T08:00:00Z";
  r.limit = 1000;
  const std::string json = Padded(RenderReportJson(r));
  Result<Report> parsed = ParseReportJson(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_FALSE(parsed->base.base_job_id.has_value());
  EXPECT_EQ(RenderReportJson(*parsed), RenderReportJson(r));
}

TEST(ReportReaderTest, MalformedReportsAreRefusedNamingTheField) {
  const std::string good = RenderReportJson(Sample());
  struct Case {
    std::string json;
    std::string field;
  };
  std::string no_time = good;
  no_time.replace(no_time.find("2026-11-28T10"), 4, "x026");
  const std::vector<Case> cases = {
      {"", "the JSON"},
      {"[1]", "the report object"},
      {good.substr(0, good.size() / 2), ""},
      {R"({"job_id":"7"})", "job_id"},
      {R"({"job_id":7,"project":"p","limit":0})", "limit"},
      {R"({"changes":{"modified":[{"kind":"teleported"}]}})", "changes"},
      // An added object without its placement: a kept report of an earlier version.
      {R"({"changes":{"added":["a"]}})", "changes"},
      {no_time, "metrics.timestamp"},
  };
  for (const Case& c : cases) {
    Result<Report> r = ParseReportJson(Padded(c.json));
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("kept report: " + c.field), std::string::npos)
        << r.status().message();
  }
}

TEST(ReportReaderTest, DerivedReportsEqualTheDiffAtThatLimit) {
  std::mt19937 rng(7);
  std::vector<std::string> storage;
  storage.reserve(4000);
  JobState before, after;
  for (int i = 0; i < 300; ++i) {
    storage.push_back("O" + std::to_string(i));
    storage.push_back("door_" + std::to_string(rng() % 3) + "_0_" + std::to_string(rng() % 2) +
                      "_1");
    if (rng() % 5) before.push_back({storage[storage.size() - 2], storage.back(), false});
    storage.push_back("door_" + std::to_string(rng() % 3) + "_0_" + std::to_string(rng() % 2) +
                      "_1");
    if (rng() % 5) after.push_back({storage[storage.size() - 3], storage.back(), false});
  }
  auto report_at = [&](size_t limit) {
    Report r;
    r.job.job_id = 2;
    r.job.timestamp = "2026-11-28T08:00:00Z";
    r.object_count = static_cast<int64_t>(after.size());
    r.diff = *DiffStates(before, after, limit);
    r.limit = limit;
    return r;
  };
  const Report kept = report_at(40);
  ASSERT_TRUE(kept.diff.truncated);
  for (size_t limit : {1u, 5u, 39u, 40u}) {
    ASSERT_TRUE(CanDeriveReport(kept, limit));
    EXPECT_EQ(RenderReportJson(DeriveReport(kept, limit)), RenderReportJson(report_at(limit)))
        << limit;
  }
  EXPECT_FALSE(CanDeriveReport(kept, 41));
  const Report complete = report_at(1000);
  ASSERT_FALSE(complete.diff.truncated);
  EXPECT_TRUE(CanDeriveReport(complete, 5000));
  EXPECT_EQ(RenderReportText(DeriveReport(complete, 5000)), RenderReportText(report_at(5000)));
}

}  // namespace
}  // namespace buildtrace
