// BigQueryWarehouse: the metrics warehouse in a BigQuery table, through the REST API v2.
// URL: bigquery://PROJECT/DATASET/TABLE. The dataset must exist; the table is created on Open if
// it is missing (schema in docs/configuration.md: the SQLite warehouse's columns, `timestamp` as
// a TIMESTAMP, then the original service's total_added, total_removed, total_modified and
// total_unchanged, which hold added, removed, modified and unchanged again), so that queries
// written for the original service's table job_results work on any table BuildTrace made.
//
// An existing table is adopted, whoever made it (the original service's job_results, or an
// earlier version of BuildTrace): Open adds the columns it lacks, NULLABLE, with tables.patch
// (its own fields sent back as they are), and keeps the types it has where BuildTrace can write
// them: job_id INTEGER or STRING (the original's; written as the decimal id, read back through
// SAFE_CAST, so its own non-numeric ids match nothing), latency_ms FLOAT or INTEGER (the
// original's; latencies then rounded to whole ms), timestamp TIMESTAMP or STRING (an earlier
// BuildTrace's; the RFC 3339 text fits both). Any other type of a column BuildTrace writes, or
// a REQUIRED column it does not write, is kInvalidArgument. Rows already in the table (the
// original's) have no project, base or timestamp_ms, so Latency never counts them; queries on
// the table itself (the original's P99) see them and the new rows alike.
//
// How the MetricsWarehouse contract is kept, and where BigQuery makes it weaker:
// - Streaming inserts cannot update or delete, so the lineage rule is settled when reading:
//   Record asks for the job's lineage base (a query: MAX(base_job_id) below job_id) and, when
//   `row` wins by MetricsWarehouse::Record's rule (no row, or a smaller base), appends it
//   through tabledata.insertAll with insertId "PROJECT/JOB/BASE" (BASE 0 for none), returning
//   true; otherwise it writes nothing and returns false. Rows are never deleted: the replaced
//   rows and the ad-hoc rows of older versions stay in the table, and Latency uses each job's
//   row with the greatest base below job_id (no base lowest; the first recorded of equal ones).
//   Records of one job are serialized within this process, so concurrent callers of one
//   instance settle the rule exactly. Across instances the check and the insert are not
//   atomic: two instances may both answer true and both insert; the greatest base still wins
//   when reading, and insertId deduplication (best effort, about a minute) usually drops a
//   second copy of one base, so a job is never counted twice.
// - DeleteProject is the one DML statement (DELETE ... WHERE project = @project), which BigQuery
//   refuses while rows of the table are in the streaming buffer (see DeleteProject).
// - The table's `status` column (NULLABLE STRING) holds "succeeded" or "failed"; rows without it
//   count as succeeded. A table made by an older version lacks it: Open adds it (see above).
// - A 200 that carries insertErrors is kUnavailable naming BigQuery's reason.
// - Latency runs one GoogleSQL query (jobs.query with named parameters, polling
//   jobs.getQueryResults while jobComplete is false, bounded) that keeps each job's lineage row
//   (above), filters by its status and takes APPROX_QUANTILES(latency_ms, 100). Quantile q is
//   element ceil(100 q) of that array, so q is rounded up to the next whole percent; the elements
//   are BigQuery's approximate quantiles (exact nearest rank for small inputs, within a small
//   rank error for large ones). So Latency equals the nearest-rank quantile of the SQLite
//   warehouse when 100 q is whole or the job count divides 100, and may differ by a rank
//   otherwise (e.g. q = 0.333 over 3 jobs gives the 2nd, not the 1st).
// - Epoch is the table's creationTime: rows lost by deleting the table show; rows deleted by DML
//   or a table restored in place by a snapshot with the same creationTime do not.
// - Every call has a timeout and retries with backoff on 408/429/5xx and lost connections; a 401
//   fetches a new token and repeats the call once.
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cloud/google_auth.h"
#include "cloud/http_call.h"
#include "warehouse/metrics_warehouse.h"

namespace buildtrace {

struct BigQueryOptions {
  RetryPolicy retry;
  // Each jobs.query / getQueryResults call waits up to this long on the server for the job.
  std::chrono::milliseconds query_wait{10'000};
  // getQueryResults calls before a query that has not completed is given up (kUnavailable).
  int max_polls = 30;
};

class BigQueryWarehouse : public MetricsWarehouse {
 public:
  // "http://" + $BIGQUERY_EMULATOR_HOST when that is set, else "https://bigquery.googleapis.com".
  static std::string DefaultApiBase();

  // Parses `url`, then gets the table and adopts it (adding the columns it lacks), or creates it
  // when it is missing (a concurrent creator's 409: got and adopted). kInvalidArgument for a
  // malformed URL or a table whose columns BuildTrace cannot write (see above); kUnavailable
  // when BigQuery cannot be reached or refuses.
  static Result<std::unique_ptr<BigQueryWarehouse>> Open(std::string_view url,
                                                         std::shared_ptr<TokenSource> tokens,
                                                         std::string api_base = DefaultApiBase(),
                                                         BigQueryOptions options = {});

  Result<bool> Record(const MetricsRow& row) override;
  Result<LatencyStats> Latency(const LatencyQuery& query) override;
  // A DML DELETE through jobs.query; the count is numDmlAffectedRows (replaced rows included).
  // BigQuery refuses DML over rows still in the streaming buffer (tabledata.insertAll's rows, for
  // up to about 90 minutes): that is kUnavailable, "retry later".
  Result<int64_t> DeleteProject(std::string_view project) override;
  Status Probe() override;  // tables.get
  // "table-created-" and the table's creationTime (ms since the epoch) from tables.get, so a
  // deleted and re-created table has a new epoch. A table found missing is created again first
  // (as Open does). Deleting rows or adding columns does not change it.
  Result<std::string> Epoch() override;
  std::string Describe() const override;  // "bigquery://project/dataset/table"

 private:
  struct QueryParameter {
    std::string name;
    std::string type;  // STRING, INT64, BOOL
    std::string value;
  };

  BigQueryWarehouse(std::string project, std::string dataset, std::string table,
                    std::shared_ptr<TokenSource> tokens, std::string api_base,
                    BigQueryOptions options);

  // The column types of the table that Record and Latency follow (see "adopted" above).
  struct TableShape {
    bool job_id_is_string = false;
    bool latency_is_integer = false;
  };

  // Gets the table and adopts it, or creates it when it is missing.
  Status EnsureTable();
  // tables.insert with kColumns; BigQuery's answer, whatever its status.
  Result<HttpReply> CreateTable();
  // Checks the types of the table's columns (tables.get's answer), adds the missing ones and
  // remembers its shape.
  Status AdoptTable(const HttpReply& reply);
  // tables.patch with the table's `fields` (kept as they are, as JSON texts) and `missing`
  // appended as NULLABLE.
  Status AddColumns(const std::vector<std::string>& fields,
                    const std::vector<std::string_view>& missing);
  TableShape Shape() const;
  // `sql` with {table} and {job_id} filled in for the table's shape.
  std::string SqlFor(std::string_view sql) const;
  // The base of the job's lineage row, nullopt when the job has none.
  Result<std::optional<int64_t>> StoredBase(const MetricsRow& row, const std::string& operation);
  Status InsertRow(const MetricsRow& row, const std::string& insert_id,
                   const std::string& operation);
  // Runs `sql` and returns the finished answer (jobs.query or the last getQueryResults).
  Result<std::string> RunQuery(const std::string& sql, const std::vector<QueryParameter>& params,
                               const std::string& operation);
  Result<HttpReply> Call(HttpCall call, const std::string& operation);
  Status ReplyError(const std::string& operation, const HttpReply& reply) const;
  std::string TableUrl() const;
  std::string TableSql() const;  // `project.dataset.table`
  std::string Prefix() const;

  const std::string project_;
  const std::string dataset_;
  const std::string table_;
  const std::shared_ptr<TokenSource> tokens_;
  const std::string api_base_;
  const BigQueryOptions options_;
  // Records of one key wait for each other (see above); keys are spread over the stripes.
  std::array<std::mutex, 64> record_stripes_;
  mutable std::mutex shape_mutex_;  // guards shape_, set by EnsureTable (Open, Epoch)
  TableShape shape_;
};

}  // namespace buildtrace
