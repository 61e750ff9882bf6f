// BigQueryWarehouse: the MetricsWarehouse conformance suite against the loopback fake of the
// BigQuery REST API (testing/fake_google_apis.h), plus the documented failures: insertErrors in
// a 200, 429/503 then success, lost answers, jobComplete:false polls, expired tokens.
//
// With BT_TEST_BIGQUERY_URL=bigquery://PROJECT/DATASET/TABLE set, the conformance suite runs
// against real BigQuery (or BIGQUERY_EMULATOR_HOST) instead, each test in a new table named
// TABLE_<random> that it leaves behind (use a dataset with a default table expiration). The
// fault tests always use the fake.
#include "warehouse/bigquery_warehouse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <ostream>
#include <random>

#include "core/timestamp.h"
#include "testing/fake_google_apis.h"
#include "testing/metrics_warehouse_conformance.h"

namespace buildtrace {

// For readable failures of schema comparisons.
void PrintTo(const FakeGoogleApis::Field& field, std::ostream* out) {
  *out << field.name << " " << field.type << " " << field.mode;
}

namespace {

using ::testing::HasSubstr;
using Op = FakeGoogleApis::Op;
using Field = FakeGoogleApis::Field;
using Names = std::vector<std::string>;
constexpr const char* kToken = "test-token";
constexpr const char* kUrl = "bigquery://bt-project/metrics/job_metrics";
constexpr int64_t kT0 = 1'700'000'000'000;

BigQueryOptions NoSleep(int attempts = 4) {
  BigQueryOptions options;
  options.retry.max_attempts = attempts;
  options.retry.sleep = [](std::chrono::milliseconds) {};
  return options;
}

std::string RandomHex() {
  std::mt19937_64 engine{std::random_device{}()};
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(engine()));
  return hex;
}

// A warehouse that owns the fake it talks to, and checks at the end that every request matched
// the API reference.
class FakeBackedWarehouse : public MetricsWarehouse {
 public:
  FakeBackedWarehouse() {
    fake_.AddDataset("bt-project", "metrics");
    fake_.AcceptToken(kToken);
    auto warehouse = BigQueryWarehouse::Open(kUrl, std::make_shared<StaticTokenSource>(kToken),
                                             fake_.base_url(), NoSleep());
    EXPECT_TRUE(warehouse.ok()) << warehouse.status().message();
    if (warehouse.ok()) warehouse_ = std::move(*warehouse);
  }
  ~FakeBackedWarehouse() override {
    EXPECT_EQ(fake_.ProtocolErrors(), Names{}) << "requests that break the API reference";
  }
  bool ok() const { return warehouse_ != nullptr; }

  Result<bool> Record(const MetricsRow& row) override { return warehouse_->Record(row); }
  Result<LatencyStats> Latency(const LatencyQuery& q) override { return warehouse_->Latency(q); }
  Result<int64_t> DeleteProject(std::string_view project) override {
    return warehouse_->DeleteProject(project);
  }
  Status Probe() override { return warehouse_->Probe(); }
  Result<std::string> Epoch() override { return warehouse_->Epoch(); }
  std::string Describe() const override { return warehouse_->Describe(); }

 private:
  FakeGoogleApis fake_;
  std::unique_ptr<BigQueryWarehouse> warehouse_;
};

std::unique_ptr<MetricsWarehouse> MakeWarehouse() {
  if (const char* url = std::getenv("BT_TEST_BIGQUERY_URL"); url != nullptr && *url != '\0') {
    auto tokens = TokenSourceFor("BIGQUERY_EMULATOR_HOST");
    if (!tokens.ok()) {
      ADD_FAILURE() << tokens.status().message();
      return nullptr;
    }
    auto warehouse = BigQueryWarehouse::Open(std::string(url) + "_" + RandomHex(),
                                             std::shared_ptr<TokenSource>(std::move(*tokens)));
    if (!warehouse.ok()) ADD_FAILURE() << warehouse.status().message();
    return warehouse.ok() ? std::unique_ptr<MetricsWarehouse>(std::move(*warehouse)) : nullptr;
  }
  auto warehouse = std::make_unique<FakeBackedWarehouse>();
  return warehouse->ok() ? std::move(warehouse) : nullptr;
}

INSTANTIATE_TEST_SUITE_P(BigQuery, MetricsWarehouseConformanceTest,
                         ::testing::Values(MetricsWarehouseFactory{"BigQuery", &MakeWarehouse,
                                                                   nullptr, nullptr,
                                                                   /*exact_quantiles=*/false}),
                         MetricsWarehouseFactoryName);

MetricsRow Row(const std::string& project, int64_t job_id, std::optional<int64_t> base,
               double latency_ms) {
  MetricsRow row;
  row.project = project;
  row.job_id = job_id;
  row.base_job_id = base;
  row.timestamp = "2023-11-14T22:13:20Z";
  row.timestamp_ms = kT0;
  row.latency_ms = latency_ms;
  return row;
}

std::string EpochOrError(MetricsWarehouse& warehouse) {
  Result<std::string> epoch = warehouse.Epoch();
  return epoch.ok() ? *epoch : "error: " + epoch.status().message();
}

class BigQueryWarehouseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.AddDataset("bt-project", "metrics");
    fake_.AcceptToken(kToken);
    warehouse_ = Open(kUrl);
    ASSERT_NE(warehouse_, nullptr);
  }
  void TearDown() override { EXPECT_EQ(fake_.ProtocolErrors(), Names{}); }

  std::unique_ptr<BigQueryWarehouse> Open(std::string_view url,
                                          std::shared_ptr<TokenSource> tokens = nullptr,
                                          BigQueryOptions options = NoSleep()) {
    if (tokens == nullptr) tokens = std::make_shared<StaticTokenSource>(kToken);
    auto warehouse = BigQueryWarehouse::Open(url, std::move(tokens), fake_.base_url(), options);
    EXPECT_TRUE(warehouse.ok()) << warehouse.status().message();
    return warehouse.ok() ? std::move(*warehouse) : nullptr;
  }

  size_t Rows() const { return fake_.RowCount("bt-project", "metrics", "job_metrics"); }

  LatencyStats Stats(std::vector<double> quantiles) {
    Result<LatencyStats> stats =
        warehouse_->Latency(LatencyQuery{"p", kT0, kT0, std::move(quantiles)});
    EXPECT_TRUE(stats.ok()) << stats.status().message();
    return stats.ok() ? *stats : LatencyStats{-1, {}};
  }

  FakeGoogleApis fake_;
  std::unique_ptr<BigQueryWarehouse> warehouse_;
};

TEST_F(BigQueryWarehouseTest, OpenCreatesTheTableWithTheDocumentedSchema) {
  const std::vector<Field> expected = {
      {"project", "STRING", "REQUIRED"},         {"job_id", "INTEGER", "REQUIRED"},
      {"base_job_id", "INTEGER", "REQUIRED"},    {"timestamp", "TIMESTAMP", "REQUIRED"},
      {"timestamp_ms", "INTEGER", "REQUIRED"},   {"latency_ms", "FLOAT", "REQUIRED"},
      {"added", "INTEGER", "REQUIRED"},          {"removed", "INTEGER", "REQUIRED"},
      {"modified", "INTEGER", "REQUIRED"},       {"unchanged", "INTEGER", "REQUIRED"},
      {"moved", "INTEGER", "REQUIRED"},          {"resized", "INTEGER", "REQUIRED"},
      {"retyped", "INTEGER", "REQUIRED"},        {"changed", "INTEGER", "REQUIRED"},
      {"recorded_at", "TIMESTAMP", "REQUIRED"},  {"status", "STRING", "NULLABLE"},
      {"total_added", "INTEGER", "REQUIRED"},    {"total_removed", "INTEGER", "REQUIRED"},
      {"total_modified", "INTEGER", "REQUIRED"}, {"total_unchanged", "INTEGER", "REQUIRED"}};
  EXPECT_EQ(fake_.TableSchema("bt-project", "metrics", "job_metrics"), expected);
  ASSERT_NE(Open(kUrl), nullptr);  // the table exists now: got, not created again
  EXPECT_EQ(fake_.Count(Op::kInsertTable), 1);
  EXPECT_EQ(fake_.Count(Op::kGetTable), 2);
  EXPECT_EQ(warehouse_->Describe(), "bigquery://bt-project/metrics/job_metrics");
}

// A table made by an earlier version: no status (added later), no totals, timestamp a STRING.
const std::vector<Field> kEarlierVersionSchema = {
    {"project", "STRING", "REQUIRED"},       {"job_id", "INTEGER", "REQUIRED"},
    {"base_job_id", "INTEGER", "REQUIRED"},  {"timestamp", "STRING", "REQUIRED"},
    {"timestamp_ms", "INTEGER", "REQUIRED"}, {"latency_ms", "FLOAT", "REQUIRED"},
    {"added", "INTEGER", "REQUIRED"},        {"removed", "INTEGER", "REQUIRED"},
    {"modified", "INTEGER", "REQUIRED"},     {"unchanged", "INTEGER", "REQUIRED"},
    {"moved", "INTEGER", "REQUIRED"},        {"resized", "INTEGER", "REQUIRED"},
    {"retyped", "INTEGER", "REQUIRED"},      {"changed", "INTEGER", "REQUIRED"},
    {"recorded_at", "TIMESTAMP", "REQUIRED"}};

TEST_F(BigQueryWarehouseTest, OpenOfAnEarlierVersionsTableAddsStatusAndTheTotals) {
  fake_.CreateTable("bt-project", "metrics", "old_metrics", kEarlierVersionSchema);
  std::unique_ptr<BigQueryWarehouse> warehouse = Open("bigquery://bt-project/metrics/old_metrics");
  ASSERT_NE(warehouse, nullptr);
  std::vector<Field> expected = kEarlierVersionSchema;
  expected.push_back({"status", "STRING", "NULLABLE"});
  for (const char* name : {"total_added", "total_removed", "total_modified", "total_unchanged"}) {
    expected.push_back({name, "INTEGER", "NULLABLE"});
  }
  EXPECT_EQ(fake_.TableSchema("bt-project", "metrics", "old_metrics"), expected);
  EXPECT_EQ(fake_.Count(Op::kPatchTable), 1);
  EXPECT_TRUE(*warehouse->Record(Row("p", 1, std::nullopt, 5)));
  Result<LatencyStats> stats = warehouse->Latency(LatencyQuery{"p", kT0, kT0, {0.5}});
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->values, (std::vector<std::optional<double>>{5.0}));
  ASSERT_NE(Open("bigquery://bt-project/metrics/old_metrics"), nullptr);
  EXPECT_EQ(fake_.Count(Op::kPatchTable), 1);  // nothing more to add
  // Its timestamp stays a STRING, which the original's P99 query cannot compare (as documented).
  EXPECT_EQ(fake_.RunQuery("SELECT APPROX_QUANTILES(latency_ms, 100)[OFFSET(99)] AS p99 FROM "
                           "`bt-project.metrics.old_metrics` WHERE timestamp >= "
                           "TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)"),
            "error: No matching signature for operator >= for argument types: STRING, TIMESTAMP");
}

TEST_F(BigQueryWarehouseTest, OpenRefusesColumnsItCannotWrite) {
  std::vector<Field> float_ids = kEarlierVersionSchema;
  float_ids[1].type = "FLOAT";
  fake_.CreateTable("bt-project", "metrics", "float_ids", float_ids);
  auto warehouse = BigQueryWarehouse::Open("bigquery://bt-project/metrics/float_ids",
                                           std::make_shared<StaticTokenSource>(kToken),
                                           fake_.base_url(), NoSleep());
  EXPECT_EQ(warehouse.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(warehouse.status().message(),
            "bigquery warehouse bigquery://bt-project/metrics/float_ids: the table's column job_id "
            "is FLOAT where BuildTrace writes INTEGER or STRING; point the URL at another table, "
            "which BuildTrace creates itself");

  fake_.CreateTable("bt-project", "metrics", "more",
                    {{"job_id", "STRING", "REQUIRED"}, {"commit_sha", "STRING", "REQUIRED"}});
  warehouse = BigQueryWarehouse::Open("bigquery://bt-project/metrics/more",
                                      std::make_shared<StaticTokenSource>(kToken), fake_.base_url(),
                                      NoSleep());
  EXPECT_EQ(warehouse.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      warehouse.status().message(),
      "bigquery warehouse bigquery://bt-project/metrics/more: the table has a REQUIRED column "
      "commit_sha that BuildTrace does not write; make it NULLABLE (ALTER TABLE "
      "`bt-project.metrics.more` ALTER COLUMN commit_sha DROP NOT NULL) or point the URL at "
      "another table");
  EXPECT_EQ(fake_.Count(Op::kPatchTable), 0);
  EXPECT_EQ(fake_.TableSchema("bt-project", "metrics", "more").size(), 2u);
}

TEST_F(BigQueryWarehouseTest, AddingColumnsWithoutTheRightIsUnavailableWithTheRoleToGrant) {
  fake_.CreateTable("bt-project", "metrics", "old_metrics", kEarlierVersionSchema);
  fake_.FailNext(Op::kPatchTable, 403);
  auto warehouse = BigQueryWarehouse::Open("bigquery://bt-project/metrics/old_metrics",
                                           std::make_shared<StaticTokenSource>(kToken),
                                           fake_.base_url(), NoSleep());
  EXPECT_EQ(warehouse.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(warehouse.status().message(),
              HasSubstr("bigquery warehouse bigquery://bt-project/metrics/old_metrics: add columns "
                        "status total_added total_removed total_modified total_unchanged: "));
  EXPECT_THAT(warehouse.status().message(), HasSubstr("roles/bigquery.dataEditor"));
  EXPECT_EQ(fake_.TableSchema("bt-project", "metrics", "old_metrics"), kEarlierVersionSchema);
}

TEST_F(BigQueryWarehouseTest, OpenWithoutTheDatasetSaysSo) {
  auto warehouse = BigQueryWarehouse::Open("bigquery://bt-project/nodata/t",
                                           std::make_shared<StaticTokenSource>(kToken),
                                           fake_.base_url(), NoSleep());
  EXPECT_EQ(warehouse.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(warehouse.status().message().find("dataset bt-project:nodata not found"),
            std::string::npos)
      << warehouse.status().message();
}

TEST_F(BigQueryWarehouseTest, OpenRejectsMalformedUrls) {
  for (std::string_view url :
       {"bq://p/d/t", "bigquery://p/d", "bigquery://p/d/t/x", "bigquery://P/d/t",
        "bigquery://p/d-x/t", "bigquery://p/d/t`; DROP", "bigquery:///d/t", "bigquery://p//t"}) {
    auto warehouse = BigQueryWarehouse::Open(url, std::make_shared<StaticTokenSource>(kToken),
                                             fake_.base_url(), NoSleep());
    EXPECT_EQ(warehouse.status().code(), StatusCode::kInvalidArgument) << url;
  }
}

TEST_F(BigQueryWarehouseTest, InsertErrorsInA200AreUnavailableWithTheReason) {
  fake_.InsertErrorsNext("invalid");
  Result<bool> refused = warehouse_->Record(Row("p", 1, std::nullopt, 5));
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("insertAll refused the row: invalid"),
            std::string::npos)
      << refused.status().message();
  EXPECT_EQ(Rows(), 0u);
  Result<bool> retried = warehouse_->Record(Row("p", 1, std::nullopt, 5));
  ASSERT_TRUE(retried.ok()) << retried.status().message();
  EXPECT_TRUE(*retried);
}

TEST_F(BigQueryWarehouseTest, RetriesThrottlingAndServerErrors) {
  fake_.FailNext(Op::kInsertAll, 429);
  EXPECT_TRUE(*warehouse_->Record(Row("p", 1, std::nullopt, 5)));
  fake_.FailNext(Op::kQuery, 503, 2);
  EXPECT_TRUE(*warehouse_->Record(Row("p", 2, 1, 6)));
  EXPECT_EQ(Rows(), 2u);
  fake_.FailNext(Op::kQuery, 503, 100);
  Result<LatencyStats> down = warehouse_->Latency(LatencyQuery{"p", kT0, kT0, {0.5}});
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(down.status().message().find("bigquery warehouse bigquery://bt-project/metrics/"
                                         "job_metrics: latency of project p"),
            std::string::npos)
      << down.status().message();
}

TEST_F(BigQueryWarehouseTest, LostInsertAnswerIsRetriedAndDeduplicatedByInsertId) {
  fake_.FailNextAfterApplying(Op::kInsertAll, 503);
  EXPECT_TRUE(*warehouse_->Record(Row("p", 1, std::nullopt, 5)));
  EXPECT_EQ(fake_.Count(Op::kInsertAll), 2);
  EXPECT_EQ(Rows(), 1u);
  EXPECT_FALSE(*warehouse_->Record(Row("p", 1, std::nullopt, 5)));
}

TEST_F(BigQueryWarehouseTest, LatencyDeduplicatesWhatInsertIdDedupMissed) {
  fake_.SetInsertIdDedup(false);
  fake_.FailNextAfterApplying(Op::kInsertAll, 503);  // the retry writes a second copy
  EXPECT_TRUE(*warehouse_->Record(Row("p", 1, std::nullopt, 5)));
  EXPECT_TRUE(*warehouse_->Record(Row("p", 2, 1, 7)));
  EXPECT_EQ(Rows(), 3u);
  LatencyStats stats = Stats({0.0, 1.0});
  EXPECT_EQ(stats.count, 2);
  EXPECT_EQ(stats.values, (std::vector<std::optional<double>>{5.0, 7.0}));
}

TEST_F(BigQueryWarehouseTest, DeleteProjectIsOneDmlDeleteCountingEveryCopy) {
  fake_.SetInsertIdDedup(false);
  fake_.FailNextAfterApplying(Op::kInsertAll, 503);  // a second copy of job 1's row
  EXPECT_TRUE(*warehouse_->Record(Row("p", 1, std::nullopt, 5)));
  EXPECT_TRUE(*warehouse_->Record(Row("p", 2, std::nullopt, 6)));
  EXPECT_TRUE(*warehouse_->Record(Row("p", 2, 1, 7)));  // appended: the replaced row stays
  EXPECT_TRUE(*warehouse_->Record(Row("q", 1, std::nullopt, 8)));
  const int queries = fake_.Count(Op::kQuery);
  Result<int64_t> deleted = warehouse_->DeleteProject("p");
  ASSERT_TRUE(deleted.ok()) << deleted.status().message();
  EXPECT_EQ(*deleted, 4);
  EXPECT_EQ(fake_.Count(Op::kQuery), queries + 1);
  EXPECT_EQ(Rows(), 1u);
  EXPECT_EQ(Stats({0.5}).count, 0);
}

TEST_F(BigQueryWarehouseTest, DeleteOverTheStreamingBufferIsUnavailableUntilItEmpties) {
  EXPECT_TRUE(*warehouse_->Record(Row("p", 1, std::nullopt, 5)));
  fake_.SetStreamingBuffer(true);
  Result<int64_t> refused = warehouse_->DeleteProject("p");
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(refused.status().message(),
            "bigquery warehouse bigquery://bt-project/metrics/job_metrics: delete project p: "
            "BigQuery cannot delete rows still in its streaming buffer (rows recorded in the last "
            "90 minutes or so); retry later");
  EXPECT_EQ(Rows(), 1u);
  fake_.SetStreamingBuffer(false);
  Result<int64_t> deleted = warehouse_->DeleteProject("p");
  ASSERT_TRUE(deleted.ok()) << deleted.status().message();
  EXPECT_EQ(*deleted, 1);
  EXPECT_EQ(Rows(), 0u);
}

TEST_F(BigQueryWarehouseTest, PollsWhileTheJobIsIncomplete) {
  EXPECT_TRUE(*warehouse_->Record(Row("p", 1, std::nullopt, 5)));
  fake_.SetIncompleteAnswers(3);
  LatencyStats stats = Stats({0.5});
  EXPECT_EQ(stats.count, 1);
  EXPECT_EQ(fake_.Count(Op::kGetQueryResults), 3);
}

TEST_F(BigQueryWarehouseTest, GivesUpOnAQueryThatNeverCompletes) {
  BigQueryOptions options = NoSleep();
  options.max_polls = 2;
  auto warehouse = Open(kUrl, nullptr, options);
  fake_.SetIncompleteAnswers(100);
  Result<LatencyStats> stats = warehouse->Latency(LatencyQuery{"p", kT0, kT0, {0.5}});
  EXPECT_EQ(stats.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(stats.status().message().find("did not complete after 2 polls"), std::string::npos)
      << stats.status().message();
  EXPECT_EQ(fake_.Count(Op::kGetQueryResults), 2);
}

TEST_F(BigQueryWarehouseTest, ExpiredTokenIsRefreshedOnce) {
  auto tokens =
      std::make_shared<MetadataServerTokenSource>(fake_.base_url(), WallClock{}, NoSleep().retry);
  auto warehouse = Open(kUrl, tokens);
  EXPECT_TRUE(*warehouse->Record(Row("p", 1, std::nullopt, 5)));
  fake_.ExpireAllTokens();
  Result<bool> again = warehouse->Record(Row("p", 2, 1, 5));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(*again);
  EXPECT_EQ(fake_.Count(Op::kMetadataToken), 2);
}

TEST_F(BigQueryWarehouseTest, QuantilesAreRoundedUpToWholePercents) {
  // BigQuery's quantiles come at 1% steps: q = 0.333 is read as 0.34. Over 3 jobs that is the
  // 2nd job (nearest rank of 0.34), where an exact nearest rank of 0.333 would give the 1st.
  for (int job = 1; job <= 3; ++job) {
    EXPECT_TRUE(*warehouse_->Record(Row("p", job, std::nullopt, job * 10.0)));
  }
  LatencyStats stats = Stats({0.333, 0.33, 0.34, 0.95});
  EXPECT_EQ(stats.values, (std::vector<std::optional<double>>{20.0, 10.0, 20.0, 30.0}));
}

TEST_F(BigQueryWarehouseTest, RefusesBadInput) {
  EXPECT_EQ(warehouse_->Record(Row("p", 0, std::nullopt, 1)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(warehouse_->Latency(LatencyQuery{"p", 0, 1, {1.5}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(fake_.Count(Op::kQuery), 0);
}

TEST_F(BigQueryWarehouseTest, ProbeGetsTheTable) {
  EXPECT_TRUE(warehouse_->Probe().ok());
  fake_.FailNext(Op::kGetTable, 403);
  const Status probe = warehouse_->Probe();
  EXPECT_EQ(probe.code(), StatusCode::kUnavailable);
  EXPECT_NE(probe.message().find("roles/bigquery"), std::string::npos) << probe.message();
}

TEST_F(BigQueryWarehouseTest, EpochIsTheTablesCreationTimeAndChangesWhenTheTableIsDeleted) {
  Result<std::string> first = warehouse_->Epoch();
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_EQ(first->rfind("table-created-", 0), 0u) << *first;
  ASSERT_TRUE(warehouse_->Record(Row("p", 1, std::nullopt, 5)).ok());
  Result<std::string> again = warehouse_->Epoch();
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(*again, *first);
  std::unique_ptr<BigQueryWarehouse> second = Open(kUrl);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(EpochOrError(*second), *first);

  fake_.DeleteTable("bt-project", "metrics", "job_metrics");
  Result<std::string> after = warehouse_->Epoch();
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_NE(*after, *first);
  EXPECT_EQ(fake_.Count(Op::kInsertTable), 2);  // created again
  EXPECT_EQ(Rows(), 0u);
  EXPECT_EQ(EpochOrError(*warehouse_), *after);
}

TEST_F(BigQueryWarehouseTest, EpochOfAnUnreachableTableIsUnavailable) {
  fake_.FailNext(Op::kGetTable, 503, 4);
  Result<std::string> epoch = warehouse_->Epoch();
  ASSERT_FALSE(epoch.ok());
  EXPECT_EQ(epoch.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(epoch.status().message().find("bigquery warehouse " + std::string(kUrl) + ": epoch"),
            std::string::npos)
      << epoch.status().message();
}

// ---- The original service's table, job_results, adopted; its P99 query.

// The original service's query, as docs/configuration.md gives it (the project and dataset ours).
std::string OriginalP99Sql(const std::string& table) {
  return "SELECT APPROX_QUANTILES(latency_ms, 100)[OFFSET(99)] AS p99_latency_ms\n"
         "FROM `" +
         table +
         "`\n"
         "WHERE timestamp >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)";
}

constexpr int64_t kDay = 86'400'000;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

MetricsRow CountedRow(const std::string& project, int64_t job_id, std::optional<int64_t> base,
                      int64_t timestamp_ms, double latency_ms) {
  MetricsRow row = Row(project, job_id, base, latency_ms);
  row.timestamp = FormatRfc3339Utc(timestamp_ms);
  row.timestamp_ms = timestamp_ms;
  row.added = 1;
  row.removed = 2;
  row.moved = 1;
  row.changed = 2;
  row.modified = row.moved + row.changed;
  row.unchanged = 4;
  return row;
}

class OriginalTableTest : public BigQueryWarehouseTest {
 protected:
  static constexpr const char* kOriginalUrl =
      "bigquery://bt-project/buildtrace_metrics/job_results";
  static constexpr const char* kOriginalSql = "bt-project.buildtrace_metrics.job_results";

  // The original service's table with two of its rows: one of yesterday (latency 5), one of 40
  // days ago (3000).
  void SetUp() override {
    BigQueryWarehouseTest::SetUp();
    fake_.AddDataset("bt-project", "buildtrace_metrics");
    fake_.CreateTable("bt-project", "buildtrace_metrics", "job_results", kOriginalSchema);
    ASSERT_EQ(AddOriginalRow("a1b2c3", now_ - kDay, 5), "");
    ASSERT_EQ(AddOriginalRow("17", now_ - 40 * kDay, 3000), "");
  }

  std::string AddOriginalRow(const std::string& job_id, int64_t timestamp_ms, int latency_ms) {
    return fake_.AddRow("bt-project", "buildtrace_metrics", "job_results",
                        R"({"job_id":")" + job_id + R"(","timestamp":")" +
                            FormatRfc3339Utc(timestamp_ms) + R"(","latency_ms":)" +
                            std::to_string(latency_ms) +
                            R"(,"total_added":1,"total_removed":0,"total_modified":2,)"
                            R"("total_unchanged":9})");
  }

  const std::vector<Field> kOriginalSchema = {
      {"timestamp", "TIMESTAMP", "REQUIRED"},    {"job_id", "STRING", "REQUIRED"},
      {"latency_ms", "INTEGER", "NULLABLE"},     {"total_added", "INTEGER", "NULLABLE"},
      {"total_removed", "INTEGER", "NULLABLE"},  {"total_modified", "INTEGER", "NULLABLE"},
      {"total_unchanged", "INTEGER", "NULLABLE"}};
  const int64_t now_ = NowMs();
};

TEST_F(OriginalTableTest, OpenAdoptsItAddingOurColumnsAndKeepingItsTypes) {
  EXPECT_EQ(fake_.RunQuery(OriginalP99Sql(kOriginalSql)), "5");  // before: its own rows
  std::unique_ptr<BigQueryWarehouse> warehouse = Open(kOriginalUrl);
  ASSERT_NE(warehouse, nullptr);
  std::vector<Field> expected = kOriginalSchema;
  for (const char* name :
       {"project", "base_job_id", "timestamp_ms", "added", "removed", "modified", "unchanged",
        "moved", "resized", "retyped", "changed", "recorded_at", "status"}) {
    const std::string_view column = name;
    expected.push_back({name,
                        column == "project" || column == "status" ? "STRING"
                        : column == "recorded_at"                 ? "TIMESTAMP"
                                                                  : "INTEGER",
                        "NULLABLE"});
  }
  EXPECT_EQ(fake_.TableSchema("bt-project", "buildtrace_metrics", "job_results"), expected);
  EXPECT_EQ(fake_.Count(Op::kPatchTable), 1);
  EXPECT_EQ(fake_.Count(Op::kInsertTable), 1);  // the fixture's own table only
  EXPECT_EQ(fake_.RowCount("bt-project", "buildtrace_metrics", "job_results"), 2u);

  ASSERT_NE(Open(kOriginalUrl), nullptr);  // adopted already: nothing to add
  EXPECT_EQ(fake_.Count(Op::kPatchTable), 1);
  EXPECT_EQ(fake_.TableSchema("bt-project", "buildtrace_metrics", "job_results"), expected);
}

TEST_F(OriginalTableTest, RowsWrittenFillTheOriginalsColumnsAndItsP99QuerySeesThem) {
  std::unique_ptr<BigQueryWarehouse> warehouse = Open(kOriginalUrl);
  ASSERT_NE(warehouse, nullptr);
  // Job 17 of project p: the original's row of job "17" has no project, so it is not its row.
  const int64_t yesterday = now_ - kDay;
  EXPECT_TRUE(*warehouse->Record(CountedRow("p", 17, std::nullopt, yesterday, 12.6)));
  EXPECT_TRUE(*warehouse->Record(CountedRow("p", 18, 17, yesterday + 1, 20)));
  EXPECT_FALSE(*warehouse->Record(CountedRow("p", 18, 17, yesterday + 1, 20)));  // found again
  EXPECT_TRUE(*warehouse->Record(CountedRow("p", 19, 18, now_ - 40 * kDay, 4000)));

  std::vector<std::map<std::string, std::string>> rows =
      fake_.TableRows("bt-project", "buildtrace_metrics", "job_results");
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[2].count("recorded_at"), 1u);
  rows[2].erase("recorded_at");
  const std::map<std::string, std::string> expected = {
      {"project", R"("p")"},
      {"job_id", R"("17")"},  // the table's STRING
      {"base_job_id", R"("0")"},
      {"timestamp", "\"" + FormatRfc3339Utc(yesterday) + "\""},
      {"timestamp_ms", "\"" + std::to_string(yesterday) + "\""},
      {"latency_ms", R"("13")"},  // the table's INTEGER: whole ms
      {"added", R"("1")"},
      {"removed", R"("2")"},
      {"modified", R"("3")"},
      {"unchanged", R"("4")"},
      {"moved", R"("1")"},
      {"resized", R"("0")"},
      {"retyped", R"("0")"},
      {"changed", R"("2")"},
      {"status", R"("succeeded")"},
      {"total_added", R"("1")"},
      {"total_removed", R"("2")"},
      {"total_modified", R"("3")"},
      {"total_unchanged", R"("4")"}};
  EXPECT_EQ(rows[2], expected);

  // Latency counts our rows only; the original's P99 query counts the table's rows of the last
  // 30 days, its own (5) and ours (13, 20): the nearest rank of 0.99 among 3 is the 3rd.
  Result<LatencyStats> stats =
      warehouse->Latency(LatencyQuery{"p", now_ - 30 * kDay, now_, {0.0, 1.0}});
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(stats->count, 2);
  EXPECT_EQ(stats->values, (std::vector<std::optional<double>>{13.0, 20.0}));
  EXPECT_EQ(fake_.RunQuery(OriginalP99Sql(kOriginalSql)), "20");
}

TEST_F(OriginalTableTest, TheP99QueryNamesOnlyColumnsEveryTableHas) {
  // On a table BuildTrace creates, the original's query works as it is.
  EXPECT_EQ(fake_.RunQuery(OriginalP99Sql("bt-project.metrics.job_metrics")), "NULL");
  EXPECT_TRUE(*warehouse_->Record(CountedRow("p", 1, std::nullopt, now_ - kDay, 7.5)));
  EXPECT_EQ(fake_.RunQuery(OriginalP99Sql("bt-project.metrics.job_metrics")), "7.5");
  // The fake does check the names: one the table lacks is refused as BigQuery would.
  std::string misspelt = OriginalP99Sql("bt-project.metrics.job_metrics");
  misspelt.replace(misspelt.find("WHERE timestamp"), 15, "WHERE created_at");
  EXPECT_EQ(fake_.RunQuery(misspelt), "error: Unrecognized name: created_at");
}

TEST(BigQueryApiBaseTest, EmulatorHostOverridesTheDefault) {
  {
    ScopedEnv unset("BIGQUERY_EMULATOR_HOST", nullptr);
    EXPECT_EQ(BigQueryWarehouse::DefaultApiBase(), "https://bigquery.googleapis.com");
  }
  ScopedEnv host("BIGQUERY_EMULATOR_HOST", "localhost:9050");
  EXPECT_EQ(BigQueryWarehouse::DefaultApiBase(), "http://localhost:9050");
}

}  // namespace
}  // namespace buildtrace
