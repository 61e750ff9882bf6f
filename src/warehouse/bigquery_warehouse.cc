// BigQueryWarehouse over the BigQuery REST API v2: tables.get/insert, tabledata.insertAll,
// jobs.query and jobs.getQueryResults. Values reach SQL only as named query parameters; the
// table name is checked against BigQuery's naming rules before it is put in the SQL text.
#include "warehouse/bigquery_warehouse.h"

#include <openssl/sha.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <utility>

#include "core/json_writer.h"
#include "core/timestamp.h"

namespace buildtrace {
namespace {

constexpr std::string_view kScheme = "bigquery://";
constexpr size_t kMaxInsertIdBytes = 128;

struct Column {
  const char* name;
  const char* type;               // in a table BuildTrace creates
  const char* mode = "REQUIRED";  // likewise; a column added to an existing table is NULLABLE
  const char* also = nullptr;     // another type an existing table may have instead
};

// The SQLite warehouse's columns, then the original service's totals (the same counts under the
// original's names), in BigQuery types. An existing table may hold job_id as STRING and
// latency_ms as INTEGER (the original service's table), and timestamp as STRING (a table made
// by an earlier version of BuildTrace).
constexpr Column kColumns[] = {
    {"project", "STRING"},         {"job_id", "INTEGER", "REQUIRED", "STRING"},
    {"base_job_id", "INTEGER"},    {"timestamp", "TIMESTAMP", "REQUIRED", "STRING"},
    {"timestamp_ms", "INTEGER"},   {"latency_ms", "FLOAT", "REQUIRED", "INTEGER"},
    {"added", "INTEGER"},          {"removed", "INTEGER"},
    {"modified", "INTEGER"},       {"unchanged", "INTEGER"},
    {"moved", "INTEGER"},          {"resized", "INTEGER"},
    {"retyped", "INTEGER"},        {"changed", "INTEGER"},
    {"recorded_at", "TIMESTAMP"},  {"status", "STRING", "NULLABLE"},
    {"total_added", "INTEGER"},    {"total_removed", "INTEGER"},
    {"total_modified", "INTEGER"}, {"total_unchanged", "INTEGER"},
};

// {table} is replaced by `project.dataset.table` (checked names, see IsProjectId and others),
// {job_id} by the job id as an INT64 (see JobIdSql).
// The base of the job's lineage row (NULL when it has none; 0 is "no base").
constexpr std::string_view kStoredBaseSql =
    "SELECT MAX(base_job_id) AS base FROM {table} "
    "WHERE project = @project AND {job_id} = @job_id AND base_job_id < {job_id}";

// Every row of a project, through DML (jobs.query answers numDmlAffectedRows).
constexpr std::string_view kDeleteProjectSql = "DELETE FROM {table} WHERE project = @project";

// Keeps each job's lineage row: among its rows with base_job_id < job_id, the greatest base (0,
// no base, lowest), the first recorded of equal ones (insertId deduplication is best effort
// only); then filters by the status of that row (NULL, rows of older versions: succeeded).
// APPROX_QUANTILES of no rows is NULL (an empty array in the answer). Rows of the original
// service in an adopted table have no project, base or timestamp_ms: never counted.
constexpr std::string_view kLatencySql =
    "SELECT COUNT(*) AS jobs, APPROX_QUANTILES(latency_ms, 100) AS quantiles FROM ("
    "SELECT latency_ms, IFNULL(status, 'succeeded') AS status FROM {table} "
    "WHERE timestamp_ms BETWEEN @from_ms AND @to_ms AND (@all_projects OR project = @project) "
    "AND base_job_id < {job_id} "
    "QUALIFY ROW_NUMBER() OVER (PARTITION BY project, job_id "
    "ORDER BY base_job_id DESC, recorded_at) = 1) "
    "WHERE @all_statuses OR status = @status";

// The job id as an INT64 in SQL: the column itself, or the number a STRING job_id holds (the
// original service's ids that are not numbers give NULL, so that their rows match nothing).
std::string_view JobIdSql(bool job_id_is_string) {
  return job_id_is_string ? "SAFE_CAST(job_id AS INT64)" : "job_id";
}

// INT64 and FLOAT64 are the GoogleSQL names the API may also report for INTEGER and FLOAT.
std::string_view LegacyTypeName(std::string_view type) {
  if (type == "INT64") return "INTEGER";
  if (type == "FLOAT64") return "FLOAT";
  return type;
}

void ReplaceAll(std::string& text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

bool AllOf(std::string_view text, const std::function<bool(char)>& allowed) {
  return !text.empty() && std::all_of(text.begin(), text.end(), allowed);
}
bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Project ids are [a-z0-9-] (with "domain:" and '.' for legacy ones), datasets [A-Za-z0-9_],
// tables here [A-Za-z0-9_-]: nothing that could close the backquoted name in the SQL.
bool IsProjectId(std::string_view s) {
  return s.size() <= 128 && AllOf(s, [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                  c == ':';
         });
}
bool IsDatasetId(std::string_view s) {
  return s.size() <= 1024 && AllOf(s, [](char c) { return IsAlnum(c) || c == '_'; });
}
bool IsTableId(std::string_view s) {
  return s.size() <= 1024 && AllOf(s, [](char c) { return IsAlnum(c) || c == '_' || c == '-'; });
}

std::string Hex(const unsigned char* bytes, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
  return out;
}

// "PROJECT/JOB/BASE", or its SHA-256 when that would be too long for an insertId.
std::string InsertIdOf(const MetricsRow& row) {
  std::string key = row.project + "/" + std::to_string(row.job_id) + "/" +
                    std::to_string(row.base_job_id.value_or(0));
  if (key.size() <= kMaxInsertIdBytes) return key;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  return "sha256:" + Hex(digest, sizeof(digest));
}

std::string RecordOperation(const MetricsRow& row) {
  return "record job " + std::to_string(row.job_id) + " of project " + row.project;
}

std::string LatencyOperation(const LatencyQuery& query) {
  return "latency of " + (query.project ? "project " + *query.project : "all projects") + " in [" +
         std::to_string(query.from_ms) + ", " + std::to_string(query.to_ms) + "]";
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

template <typename T>
bool ParseNumber(std::string_view text, T& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// The index into APPROX_QUANTILES(x, 100) for quantile q: ceil(100 q), with a little tolerance
// so that 0.95 (94.99999... in binary) is 95.
size_t QuantileIndex(double q) {
  return static_cast<size_t>(std::clamp(std::ceil(q * 100 - 1e-9), 0.0, 100.0));
}

}  // namespace

std::string BigQueryWarehouse::DefaultApiBase() {
  const char* host = std::getenv("BIGQUERY_EMULATOR_HOST");
  return host != nullptr && *host != '\0' ? EmulatorBaseUrl(host)
                                          : "https://bigquery.googleapis.com";
}

Result<std::unique_ptr<BigQueryWarehouse>> BigQueryWarehouse::Open(
    std::string_view url, std::shared_ptr<TokenSource> tokens, std::string api_base,
    BigQueryOptions options) {
  const std::string context = "bigquery warehouse " + std::string(url) + ": ";
  const std::string usage = "; use bigquery://PROJECT/DATASET/TABLE";
  if (!url.starts_with(kScheme)) {
    return InvalidArgument(context + "the URL must start with bigquery://" + usage);
  }
  std::string_view rest = url.substr(kScheme.size());
  while (rest.ends_with('/')) rest.remove_suffix(1);
  const size_t first = rest.find('/');
  const size_t second = first == std::string_view::npos ? first : rest.find('/', first + 1);
  if (second == std::string_view::npos || rest.find('/', second + 1) != std::string_view::npos) {
    return InvalidArgument(context + "expected three parts" + usage);
  }
  const std::string_view project = rest.substr(0, first);
  const std::string_view dataset = rest.substr(first + 1, second - first - 1);
  const std::string_view table = rest.substr(second + 1);
  if (!IsProjectId(project) || !IsDatasetId(dataset) || !IsTableId(table)) {
    return InvalidArgument(context +
                           "a part is not a BigQuery name: project [a-z0-9-], dataset "
                           "[A-Za-z0-9_], table [A-Za-z0-9_-]" +
                           usage);
  }
  if (tokens == nullptr) return InvalidArgument(context + "no token source was given");
  while (api_base.ends_with('/')) api_base.pop_back();
  std::unique_ptr<BigQueryWarehouse> warehouse(
      new BigQueryWarehouse(std::string(project), std::string(dataset), std::string(table),
                            std::move(tokens), std::move(api_base), std::move(options)));
  if (Status status = warehouse->EnsureTable(); !status.ok()) return status;
  return warehouse;
}

BigQueryWarehouse::BigQueryWarehouse(std::string project, std::string dataset, std::string table,
                                     std::shared_ptr<TokenSource> tokens, std::string api_base,
                                     BigQueryOptions options)
    : project_(std::move(project)),
      dataset_(std::move(dataset)),
      table_(std::move(table)),
      tokens_(std::move(tokens)),
      api_base_(std::move(api_base)),
      options_(std::move(options)) {}

Status BigQueryWarehouse::EnsureTable() {
  for (int tries = 0;; ++tries) {
    HttpCall get;
    get.url = TableUrl();
    Result<HttpReply> reply = Call(get, "get table");
    if (!reply.ok()) return reply.status();
    if (reply->status == 200) return AdoptTable(*reply);
    if (reply->status != 404) return ReplyError("get table", *reply);
    reply = CreateTable();
    if (!reply.ok()) return reply.status();
    if (reply->status == 200) {
      std::lock_guard lock(shape_mutex_);
      shape_ = TableShape{};  // kColumns' own types
      return Status::Ok();
    }
    // Created by another instance meanwhile (perhaps of another version): get it and adopt it.
    if (reply->status == 409 && tries == 0) continue;
    if (reply->status == 404) {
      return Unavailable(Prefix() + "create table: dataset " + project_ + ":" + dataset_ +
                         " not found; create the dataset first (bq mk " + project_ + ":" +
                         dataset_ + ")");
    }
    return ReplyError("create table", *reply);
  }
}

Result<HttpReply> BigQueryWarehouse::CreateTable() {
  std::string body;
  JsonWriter json(body);
  json.BeginObject().Key("tableReference").BeginObject();
  json.Key("projectId").String(project_).Key("datasetId").String(dataset_);
  json.Key("tableId").String(table_).EndObject();
  json.Key("schema").BeginObject().Key("fields").BeginArray();
  for (const Column& column : kColumns) {
    json.BeginObject().Key("name").String(column.name).Key("type").String(column.type);
    json.Key("mode").String(column.mode).EndObject();
  }
  json.EndArray().EndObject();
  json.Key("clustering").BeginObject().Key("fields").BeginArray();
  json.String("project").String("job_id").EndArray().EndObject();
  json.EndObject();
  HttpCall insert;
  insert.method = "POST";
  insert.url =
      api_base_ + "/bigquery/v2/projects/" + project_ + "/datasets/" + dataset_ + "/tables";
  insert.headers = {"Content-Type: application/json"};
  insert.body = std::move(body);
  return Call(std::move(insert), "create table");
}

Status BigQueryWarehouse::AdoptTable(const HttpReply& reply) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array fields;
  if (parser.parse(reply.body).get(root) != simdjson::SUCCESS ||
      root["schema"]["fields"].get_array().get(fields) != simdjson::SUCCESS) {
    return Unavailable(Prefix() + "get table: the answer has no schema.fields");
  }
  std::vector<std::string> kept;  // every field as it is, for tables.patch
  for (simdjson::dom::element field : fields) {
    kept.push_back(simdjson::minify(field));
    std::string_view name, mode;
    if (field["name"].get_string().get(name) != simdjson::SUCCESS) name = {};
    if (field["mode"].get_string().get(mode) != simdjson::SUCCESS) mode = "NULLABLE";
    const bool ours = std::any_of(std::begin(kColumns), std::end(kColumns),
                                  [&](const Column& column) { return name == column.name; });
    if (!ours && mode == "REQUIRED") {
      return InvalidArgument(Prefix() + "the table has a REQUIRED column " + std::string(name) +
                             " that BuildTrace does not write; make it NULLABLE (ALTER TABLE " +
                             TableSql() + " ALTER COLUMN " + std::string(name) +
                             " DROP NOT NULL) or point the URL at another table");
    }
  }
  TableShape shape;
  std::vector<std::string_view> missing;
  for (const Column& column : kColumns) {
    std::optional<std::string_view> type;
    for (simdjson::dom::element field : fields) {
      std::string_view name, found;
      if (field["name"].get_string().get(name) == simdjson::SUCCESS && name == column.name &&
          field["type"].get_string().get(found) == simdjson::SUCCESS) {
        type = LegacyTypeName(found);
      }
    }
    if (!type) {
      missing.push_back(column.name);
      continue;
    }
    if (*type != column.type && (column.also == nullptr || *type != column.also)) {
      return InvalidArgument(Prefix() + "the table's column " + column.name + " is " +
                             std::string(*type) + " where BuildTrace writes " + column.type +
                             (column.also ? std::string(" or ") + column.also : "") +
                             "; point the URL at another table, which BuildTrace creates itself");
    }
    if (std::string_view(column.name) == "job_id") shape.job_id_is_string = *type == "STRING";
    if (std::string_view(column.name) == "latency_ms") {
      shape.latency_is_integer = *type == "INTEGER";
    }
  }
  if (!missing.empty()) {
    if (Status added = AddColumns(kept, missing); !added.ok()) return added;
  }
  std::lock_guard lock(shape_mutex_);
  shape_ = shape;
  return Status::Ok();
}

Status BigQueryWarehouse::AddColumns(const std::vector<std::string>& fields,
                                     const std::vector<std::string_view>& missing) {
  std::string operation = "add columns";
  for (std::string_view name : missing) operation += " " + std::string(name);
  std::string body;
  JsonWriter json(body);
  json.BeginObject().Key("schema").BeginObject().Key("fields").BeginArray();
  for (const std::string& field : fields) json.Raw(field);
  for (std::string_view name : missing) {
    const Column* column = std::find_if(std::begin(kColumns), std::end(kColumns),
                                        [&](const Column& c) { return name == c.name; });
    json.BeginObject().Key("name").String(name).Key("type").String(column->type);
    json.Key("mode").String("NULLABLE").EndObject();  // BigQuery adds no REQUIRED column
  }
  json.EndArray().EndObject().EndObject();
  HttpCall patch;
  patch.method = "PATCH";
  patch.url = TableUrl();
  patch.headers = {"Content-Type: application/json"};
  patch.body = std::move(body);
  // Safe to repeat: the same schema again changes nothing.
  Result<HttpReply> reply = Call(std::move(patch), operation);
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) return ReplyError(operation, *reply);
  return Status::Ok();
}

BigQueryWarehouse::TableShape BigQueryWarehouse::Shape() const {
  std::lock_guard lock(shape_mutex_);
  return shape_;
}

std::string BigQueryWarehouse::SqlFor(std::string_view sql) const {
  std::string out(sql);
  ReplaceAll(out, "{table}", TableSql());
  ReplaceAll(out, "{job_id}", JobIdSql(Shape().job_id_is_string));
  return out;
}

Result<bool> BigQueryWarehouse::Record(const MetricsRow& row) {
  const std::string operation = RecordOperation(row);
  if (Status status = CheckMetricsRow(row); !status.ok()) {
    return status.WithContext(Prefix() + operation + ": ");
  }
  if (!HasLineageBase(row)) return false;
  const std::string job = row.project + "/" + std::to_string(row.job_id);
  std::lock_guard lock(record_stripes_[std::hash<std::string>{}(job) % record_stripes_.size()]);
  Result<std::optional<int64_t>> stored = StoredBase(row, operation);
  if (!stored.ok()) return stored.status();
  if (SettleRecord(*stored, row) == RecordOutcome::kKeep) return false;
  if (Status inserted = InsertRow(row, InsertIdOf(row), operation); !inserted.ok()) return inserted;
  return true;
}

Result<std::optional<int64_t>> BigQueryWarehouse::StoredBase(const MetricsRow& row,
                                                             const std::string& operation) {
  Result<std::string> answer = RunQuery(
      SqlFor(kStoredBaseSql),
      {{"project", "STRING", row.project}, {"job_id", "INT64", std::to_string(row.job_id)}},
      operation);
  if (!answer.ok()) return answer.status();
  simdjson::dom::parser parser;
  simdjson::dom::element root, cell;
  std::string_view text;
  int64_t base = 0;
  if (parser.parse(*answer).get(root) != simdjson::SUCCESS ||
      root["rows"].at(0)["f"].at(0)["v"].get(cell) != simdjson::SUCCESS) {
    return Unavailable(Prefix() + operation + ": the base query's answer has no row");
  }
  if (cell.is_null()) return std::optional<int64_t>();
  if (cell.get_string().get(text) != simdjson::SUCCESS || !ParseNumber(text, base)) {
    return Unavailable(Prefix() + operation + ": the base query's answer is not a number");
  }
  return std::optional<int64_t>(base);
}

Status BigQueryWarehouse::InsertRow(const MetricsRow& row, const std::string& insert_id,
                                    const std::string& operation) {
  const TableShape shape = Shape();
  if (shape.latency_is_integer && !(std::fabs(row.latency_ms) < 9e18)) {  // also NaN
    return InvalidArgument(Prefix() + operation + ": latency_ms " + std::to_string(row.latency_ms) +
                           " does not fit the table's INTEGER column; send a finite latency");
  }
  std::string body;
  JsonWriter json(body);
  json.BeginObject().Key("kind").String("bigquery#tableDataInsertAllRequest");
  json.Key("skipInvalidRows").Bool(false).Key("ignoreUnknownValues").Bool(false);
  json.Key("rows").BeginArray().BeginObject().Key("insertId").String(insert_id);
  // INT64 values go as strings, the form BigQuery reads without loss above 2^53.
  auto integer = [&](const char* name, int64_t value) {
    json.Key(name).String(std::to_string(value));
  };
  json.Key("json").BeginObject();
  json.Key("project").String(row.project);
  integer("job_id", row.job_id);
  integer("base_job_id", row.base_job_id.value_or(0));
  json.Key("timestamp").String(row.timestamp);
  integer("timestamp_ms", row.timestamp_ms);
  if (shape.latency_is_integer) {
    integer("latency_ms", std::llround(row.latency_ms));  // the original's column: whole ms
  } else {
    json.Key("latency_ms").Number(row.latency_ms);
  }
  integer("added", row.added);
  integer("removed", row.removed);
  integer("modified", row.modified);
  integer("unchanged", row.unchanged);
  integer("moved", row.moved);
  integer("resized", row.resized);
  integer("retyped", row.retyped);
  integer("changed", row.changed);
  integer("total_added", row.added);  // the original service's names of the same counts
  integer("total_removed", row.removed);
  integer("total_modified", row.modified);
  integer("total_unchanged", row.unchanged);
  json.Key("status").String(JobStatusName(row.status));
  json.Key("recorded_at").String(FormatRfc3339Utc(NowMs()));
  json.EndObject().EndObject().EndArray().EndObject();

  HttpCall call;
  call.method = "POST";
  call.url = TableUrl() + "/insertAll";
  call.headers = {"Content-Type: application/json"};
  call.body = std::move(body);
  // Safe to repeat: the insertId lets BigQuery drop a second copy, and Latency deduplicates.
  Result<HttpReply> reply = Call(std::move(call), operation);
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) return ReplyError(operation, *reply);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(reply->body).get(root) != simdjson::SUCCESS) {
    return Unavailable(Prefix() + operation + ": the insertAll answer is not JSON");
  }
  simdjson::dom::array errors;
  if (root["insertErrors"].get_array().get(errors) == simdjson::SUCCESS && errors.size() > 0) {
    std::string_view reason, message;
    if (errors.at(0)["errors"].at(0)["reason"].get_string().get(reason)) reason = "unknown";
    if (errors.at(0)["errors"].at(0)["message"].get_string().get(message)) message = {};
    return Unavailable(Prefix() + operation +
                       ": insertAll refused the row: " + std::string(reason) +
                       (message.empty() ? "" : " (" + std::string(message) + ")") +
                       "; retry later, or check the table's schema if it persists");
  }
  return Status::Ok();
}

Result<LatencyStats> BigQueryWarehouse::Latency(const LatencyQuery& query) {
  const std::string operation = LatencyOperation(query);
  if (Status status = CheckLatencyQuery(query); !status.ok()) {
    return status.WithContext(Prefix() + operation + ": ");
  }
  Result<std::string> answer = RunQuery(
      SqlFor(kLatencySql),
      {{"from_ms", "INT64", std::to_string(query.from_ms)},
       {"to_ms", "INT64", std::to_string(query.to_ms)},
       {"all_projects", "BOOL", query.project ? "false" : "true"},
       {"project", "STRING", query.project.value_or("")},
       {"all_statuses", "BOOL", query.status == LatencyStatusFilter::kAll ? "true" : "false"},
       {"status", "STRING",
        JobStatusName(query.status == LatencyStatusFilter::kFailed ? JobStatus::kFailed
                                                                   : JobStatus::kSucceeded)}},
      operation);
  if (!answer.ok()) return answer.status();
  simdjson::dom::parser parser;
  simdjson::dom::element root, cells;
  std::string_view count_text;
  LatencyStats stats;
  if (parser.parse(*answer).get(root) != simdjson::SUCCESS ||
      root["rows"].at(0)["f"].get(cells) != simdjson::SUCCESS ||
      cells.at(0)["v"].get_string().get(count_text) != simdjson::SUCCESS ||
      !ParseNumber(count_text, stats.count)) {
    return Unavailable(Prefix() + operation + ": the latency query's answer has no job count");
  }
  stats.values.assign(query.quantiles.size(), std::nullopt);
  simdjson::dom::array quantiles;
  if (stats.count == 0 || cells.at(1)["v"].get_array().get(quantiles) != simdjson::SUCCESS) {
    return stats;  // no jobs: NULL or [] quantiles
  }
  if (quantiles.size() != 101) {
    return Unavailable(Prefix() + operation + ": expected 101 quantiles, got " +
                       std::to_string(quantiles.size()));
  }
  for (size_t i = 0; i < query.quantiles.size(); ++i) {
    std::string_view text;
    double value = 0;
    if (quantiles.at(QuantileIndex(query.quantiles[i]))["v"].get_string().get(text) !=
            simdjson::SUCCESS ||
        !ParseNumber(text, value)) {
      return Unavailable(Prefix() + operation + ": a quantile is not a number");
    }
    stats.values[i] = value;
  }
  return stats;
}

Result<std::string> BigQueryWarehouse::RunQuery(const std::string& sql,
                                                const std::vector<QueryParameter>& params,
                                                const std::string& operation) {
  std::string body;
  JsonWriter json(body);
  json.BeginObject().Key("query").String(sql).Key("useLegacySql").Bool(false);
  json.Key("useQueryCache").Bool(false).Key("parameterMode").String("NAMED");
  json.Key("timeoutMs").Int(options_.query_wait.count()).Key("queryParameters").BeginArray();
  for (const QueryParameter& p : params) {
    json.BeginObject().Key("name").String(p.name);
    json.Key("parameterType").BeginObject().Key("type").String(p.type).EndObject();
    json.Key("parameterValue").BeginObject().Key("value").String(p.value).EndObject();
    json.EndObject();
  }
  json.EndArray().EndObject();
  HttpCall call;
  call.method = "POST";
  call.url = api_base_ + "/bigquery/v2/projects/" + project_ + "/queries";
  call.headers = {"Content-Type: application/json"};
  call.body = std::move(body);
  call.timeout = options_.query_wait + std::chrono::seconds(30);
  for (int poll = 0;; ++poll) {
    Result<HttpReply> reply = Call(call, operation);
    if (!reply.ok()) return reply.status();
    if (reply->status != 200) return ReplyError(operation, *reply);
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    bool complete = false;
    std::string_view job_project, job_id, location;
    if (parser.parse(reply->body).get(root) != simdjson::SUCCESS ||
        root["jobComplete"].get_bool().get(complete) != simdjson::SUCCESS) {
      return Unavailable(Prefix() + operation + ": the query answer has no jobComplete");
    }
    if (complete) return std::move(reply->body);
    if (poll >= options_.max_polls) {
      return Unavailable(Prefix() + operation + ": the query did not complete after " +
                         std::to_string(poll) + " polls; retry later");
    }
    if (root["jobReference"]["projectId"].get_string().get(job_project) != simdjson::SUCCESS ||
        root["jobReference"]["jobId"].get_string().get(job_id) != simdjson::SUCCESS) {
      return Unavailable(Prefix() + operation + ": an incomplete query answer has no jobReference");
    }
    if (root["jobReference"]["location"].get_string().get(location)) location = {};
    call.method = "GET";
    call.body.clear();
    call.headers.clear();
    call.url = api_base_ + "/bigquery/v2/projects/" + PercentEncode(job_project) + "/queries/" +
               PercentEncode(job_id) + "?timeoutMs=" + std::to_string(options_.query_wait.count());
    if (!location.empty()) call.url += "&location=" + PercentEncode(location);
  }
}

Result<int64_t> BigQueryWarehouse::DeleteProject(std::string_view project) {
  const std::string operation = "delete project " + std::string(project.substr(0, 128));
  if (Status status = CheckProjectName(project); !status.ok()) {
    return status.WithContext(Prefix() + operation + ": ");
  }
  Result<std::string> answer =
      RunQuery(SqlFor(kDeleteProjectSql), {{"project", "STRING", std::string(project)}}, operation);
  if (!answer.ok()) {
    // BigQuery refuses DML over rows still in the streaming buffer (insertAll's rows, for up to
    // about 90 minutes): not a bug, a wait.
    if (answer.status().message().find("streaming buffer") != std::string::npos) {
      return Unavailable(Prefix() + operation +
                         ": BigQuery cannot delete rows still in its streaming buffer (rows "
                         "recorded in the last 90 minutes or so); retry later");
    }
    return answer.status();
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view text;
  int64_t rows = 0;
  if (parser.parse(*answer).get(root) != simdjson::SUCCESS ||
      root["numDmlAffectedRows"].get_string().get(text) != simdjson::SUCCESS ||
      !ParseNumber(text, rows)) {
    return Unavailable(Prefix() + operation + ": the DELETE's answer has no numDmlAffectedRows");
  }
  return rows;
}

Status BigQueryWarehouse::Probe() {
  HttpCall call;
  call.url = TableUrl();
  Result<HttpReply> reply = Call(std::move(call), "probe");
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) return ReplyError("probe", *reply);
  return Status::Ok();
}

Result<std::string> BigQueryWarehouse::Epoch() {
  for (int tries = 0;; ++tries) {
    HttpCall call;
    call.url = TableUrl();
    Result<HttpReply> reply = Call(std::move(call), "epoch");
    if (!reply.ok()) return reply.status();
    if (reply->status == 404 && tries == 0) {
      // The table was deleted: create it again as Open does; its creationTime is a new epoch.
      if (Status created = EnsureTable(); !created.ok()) return created;
      continue;
    }
    if (reply->status != 200) return ReplyError("epoch", *reply);
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    std::string_view created;
    if (parser.parse(reply->body).get(root) != simdjson::SUCCESS ||
        root["creationTime"].get_string().get(created) != simdjson::SUCCESS || created.empty()) {
      return Unavailable(Prefix() + "epoch: the tables.get answer has no creationTime");
    }
    return "table-created-" + std::string(created);
  }
}

std::string BigQueryWarehouse::Describe() const {
  return std::string(kScheme) + project_ + "/" + dataset_ + "/" + table_;
}

Result<HttpReply> BigQueryWarehouse::Call(HttpCall call, const std::string& operation) {
  call.max_response_bytes = 16 << 20;
  return CallGoogleApi(*tokens_, options_.retry, std::move(call), Prefix() + operation);
}

Status BigQueryWarehouse::ReplyError(const std::string& operation, const HttpReply& reply) const {
  std::string message = Prefix() + operation + ": " + DescribeGoogleError(reply);
  if (reply.status == 401 || reply.status == 403) {
    return Unavailable(message +
                       "; grant the credentials roles/bigquery.dataEditor on the dataset "
                       "and roles/bigquery.jobUser on the project");
  }
  if (reply.status == 404) return Unavailable(message + "; check that the table exists");
  if (reply.status == 400) return Internal(message + "; BigQuery refused a request, a bug");
  return Unavailable(message + "; retry later");
}

std::string BigQueryWarehouse::TableUrl() const {
  return api_base_ + "/bigquery/v2/projects/" + project_ + "/datasets/" + dataset_ + "/tables/" +
         table_;
}

std::string BigQueryWarehouse::TableSql() const {
  return "`" + project_ + "." + dataset_ + "." + table_ + "`";
}

std::string BigQueryWarehouse::Prefix() const { return "bigquery warehouse " + Describe() + ": "; }

}  // namespace buildtrace
