// The request series: labelled by the route's template, one "unmatched" series for every unknown
// path, a fixed table that stops growing (counted as overflow) instead of allocating.
#include "http/request_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "http/api.h"

namespace buildtrace {
namespace {

namespace http = boost::beast::http;
using ::testing::HasSubstr;

const Route* RouteAt(std::string_view path) {
  for (const Route& route : Api::Routes()) {
    if (route.path == path) return &route;
  }
  return nullptr;
}

TEST(RequestMetricsTest, SeriesAreLabelledByTemplateMethodAndCode) {
  RequestMetrics metrics(Api::Routes());
  const Route* report = RouteAt("/report/{job_id}");
  ASSERT_NE(report, nullptr);
  for (int i = 0; i < 3; ++i) {
    metrics.Observe(report, http::verb::get, 200, std::chrono::milliseconds(2));
  }
  metrics.Observe(report, http::verb::get, 404, std::chrono::milliseconds(1));
  metrics.Observe(nullptr, http::verb::unknown, 404, std::chrono::milliseconds(1));
  EXPECT_EQ(metrics.Count(report, http::verb::get, 200), 3u);
  EXPECT_EQ(metrics.Count(report, http::verb::get, 404), 1u);
  EXPECT_EQ(metrics.Count(report, http::verb::post, 200), 0u);
  std::string page;
  metrics.Append(page);
  EXPECT_THAT(page, HasSubstr("buildtrace_http_request_duration_seconds_count{route=\"/report/"
                              "{job_id}\",method=\"GET\",code=\"200\"} 3\n"));
  EXPECT_THAT(page, HasSubstr("buildtrace_http_request_duration_seconds_bucket{route=\"/report/"
                              "{job_id}\",method=\"GET\",code=\"200\",le=\"0.0025\"} 3\n"));
  EXPECT_THAT(page, HasSubstr("buildtrace_http_request_duration_seconds_count{route=\"unmatched\","
                              "method=\"other\",code=\"404\"} 1\n"));
  EXPECT_THAT(page, HasSubstr("buildtrace_http_request_series_overflow_total 0\n"));
}

TEST(RequestMetricsTest, TheTableIsBoundedAndCountsWhatDoesNotFit) {
  RequestMetrics metrics(Api::Routes());
  // Every route, method and code a client and the service could combine: far more than fit.
  uint64_t observed = 0;
  for (const Route& route : Api::Routes()) {
    for (unsigned code = 100; code < 600; ++code) {
      metrics.Observe(&route, http::verb::get, code, std::chrono::milliseconds(1));
      ++observed;
    }
  }
  std::string page;
  metrics.Append(page);
  size_t series = 0;
  for (size_t at = page.find("_count{"); at != std::string::npos;
       at = page.find("_count{", at + 1)) {
    ++series;
  }
  EXPECT_EQ(series, RequestMetrics::kMaxSeries);
  EXPECT_THAT(page, HasSubstr("buildtrace_http_request_series_overflow_total " +
                              std::to_string(observed - RequestMetrics::kMaxSeries) + "\n"));
  // The first series, claimed while the table was empty, goes on counting.
  const Route* first = &Api::Routes().front();
  EXPECT_EQ(metrics.Count(first, http::verb::get, 100), 1u);
  metrics.Observe(first, http::verb::get, 100, std::chrono::milliseconds(1));
  EXPECT_EQ(metrics.Count(first, http::verb::get, 100), 2u);
}

}  // namespace
}  // namespace buildtrace
