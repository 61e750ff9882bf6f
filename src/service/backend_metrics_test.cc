// The backends' timing: each call lands in its operation's histogram, errors by their code (not
// found and already exists are answers, not errors), and the page shows present backends only.
#include "service/backend_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace buildtrace {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A store that answers every call with `next` (reads return "x" when it is Ok).
class AnsweringStore : public StateStore {
 public:
  Status next;
  Status CreateIfAbsent(std::string_view, std::string_view) override { return next; }
  std::vector<Status> CreateManyIfAbsent(std::span<const ObjectToCreate> objects) override {
    std::vector<Status> out(objects.size(), Status::Ok());
    if (!out.empty()) out.back() = next;
    return out;
  }
  Result<std::string> Read(std::string_view) override {
    if (!next.ok()) return next;
    return std::string("x");
  }
  Result<std::vector<std::string>> List(std::string_view) override {
    return std::vector<std::string>{};
  }
  Status Delete(std::string_view) override { return next; }
  Status Probe() override { return next; }
  std::string Describe() const override { return "answering://"; }
};

TEST(LatencyHistogramTest, BucketsAreCumulativeAndTheBoundIsInclusive) {
  LatencyHistogram h;
  h.Observe(std::chrono::microseconds(500));  // exactly the first bound: le="0.0005"
  h.Observe(std::chrono::milliseconds(3));    // le="0.005"
  h.Observe(std::chrono::seconds(31));        // past the last bound: +Inf only
  h.Observe(std::chrono::nanoseconds(-5));    // a clock step back counts as 0
  std::string out;
  h.AppendSeries(out, "t", "a=\"b\"");
  EXPECT_THAT(out, HasSubstr("t_bucket{a=\"b\",le=\"0.0005\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("t_bucket{a=\"b\",le=\"0.0025\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("t_bucket{a=\"b\",le=\"0.005\"} 3\n"));
  EXPECT_THAT(out, HasSubstr("t_bucket{a=\"b\",le=\"30\"} 3\n"));
  EXPECT_THAT(out, HasSubstr("t_bucket{a=\"b\",le=\"+Inf\"} 4\n"));
  EXPECT_THAT(out, HasSubstr("t_sum{a=\"b\"} 31.0035\n"));
  EXPECT_THAT(out, HasSubstr("t_count{a=\"b\"} 4\n"));
  EXPECT_EQ(h.Count(), 4u);
}

TEST(LabelValueTest, QuotesAndBackslashesAreEscaped) {
  std::string out;
  AppendLabelValue(out, "a\"b\\c\nd");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\nd\"");
}

TEST(BackendMetricsTest, EachCallIsTimedAndOnlyRealFailuresAreErrors) {
  BackendMetrics metrics;
  auto inner = std::make_unique<AnsweringStore>();
  AnsweringStore& answers = *inner;
  TimedStateStore store(std::move(inner), metrics);

  EXPECT_TRUE(store.CreateIfAbsent("a", "1").ok());
  answers.next = AlreadyExists("a");
  EXPECT_EQ(store.CreateIfAbsent("a", "1").code(), StatusCode::kAlreadyExists);
  answers.next = NotFound("b");
  EXPECT_EQ(store.Read("b").status().code(), StatusCode::kNotFound);
  answers.next = Unavailable("down");
  EXPECT_EQ(store.CreateIfAbsent("c", "1").code(), StatusCode::kUnavailable);
  EXPECT_EQ(store.Read("c").status().code(), StatusCode::kUnavailable);
  const ObjectToCreate batch[] = {{"d", "1"}, {"e", "2"}};
  EXPECT_EQ(store.CreateManyIfAbsent(batch).back().code(), StatusCode::kUnavailable);

  EXPECT_EQ(metrics.Duration(BackendOperation::kStorePut).Count(), 3u);
  EXPECT_EQ(metrics.Duration(BackendOperation::kStoreGet).Count(), 2u);
  EXPECT_EQ(metrics.Duration(BackendOperation::kStorePutMany).Count(), 1u);
  EXPECT_EQ(metrics.Errors(BackendOperation::kStorePut, StatusCode::kUnavailable), 1u);
  EXPECT_EQ(metrics.Errors(BackendOperation::kStorePut, StatusCode::kAlreadyExists), 0u);
  EXPECT_EQ(metrics.Errors(BackendOperation::kStoreGet, StatusCode::kNotFound), 0u);
  EXPECT_EQ(metrics.Errors(BackendOperation::kStoreGet, StatusCode::kUnavailable), 1u);
  EXPECT_EQ(metrics.Errors(BackendOperation::kStorePutMany, StatusCode::kUnavailable), 1u);

  std::string page;
  metrics.Append(page);
  EXPECT_THAT(page, HasSubstr("buildtrace_backend_operation_duration_seconds_count{backend="
                              "\"store\",operation=\"put\"} 3\n"));
  EXPECT_THAT(page, HasSubstr("# TYPE buildtrace_backend_errors_total counter\n"));
  EXPECT_THAT(page, HasSubstr("buildtrace_backend_errors_total{backend=\"store\",operation="
                              "\"get\",code=\"unavailable\"} 1\n"));
  // No warehouse or queue was wrapped: none of their series.
  EXPECT_THAT(page, Not(HasSubstr("backend=\"warehouse\"")));
  EXPECT_THAT(page, Not(HasSubstr("backend=\"queue\"")));
}

}  // namespace
}  // namespace buildtrace
