// PostgresWarehouse: the metrics warehouse in a PostgreSQL table through libpq. Every value reaches
// the server as a bound parameter of PQsendQueryParams; the only SQL text is the constants below.
#include "warehouse/postgres_warehouse.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "warehouse/postgres_schema.h"

namespace buildtrace {
namespace {

constexpr const char* kDefaultConnectTimeoutSeconds = "5";
constexpr const char* kStatementTimeoutOption = "-c statement_timeout=10000";
constexpr const char* kRedacted = "***";

// Record: in one transaction, a transaction-scoped advisory lock on the job (so that concurrent
// Records of one job, from any instance, run one after the other, each seeing the other's row),
// then one statement that reads the base of the job's lineage row, deletes the rows the rule
// drops and inserts the row when it wins. $3 is the row's base (0 for none), below $2.
constexpr const char* kLockJobSql =
    "SELECT pg_advisory_xact_lock(hashtextextended($1::text, $2::bigint))";
constexpr const char* kRecordSql = R"sql(
WITH stored AS (
  SELECT MAX(base_job_id) AS base FROM buildtrace_job_metrics
  WHERE project = $1 AND job_id = $2::bigint AND base_job_id < job_id),
decided AS (
  SELECT base IS NULL OR base < $3::bigint AS write, GREATEST(base, $3::bigint) AS kept
  FROM stored),
dropped AS (
  DELETE FROM buildtrace_job_metrics m USING decided
  WHERE m.project = $1 AND m.job_id = $2::bigint
    AND (m.base_job_id >= m.job_id OR m.base_job_id < decided.kept)
  RETURNING 1),
inserted AS (
  INSERT INTO buildtrace_job_metrics (project, job_id, base_job_id, "timestamp", timestamp_ms,
    latency_ms, added, removed, modified, unchanged, moved, resized, retyped, changed, status)
  SELECT $1, $2::bigint, $3::bigint, $4, $5::bigint, $6::double precision, $7::bigint,
         $8::bigint, $9::bigint, $10::bigint, $11::bigint, $12::bigint, $13::bigint, $14::bigint,
         $15
  FROM decided WHERE decided.write
  RETURNING 1)
SELECT (SELECT COUNT(*) FROM inserted), (SELECT COUNT(*) FROM dropped)
)sql";

// The latency statements, over the window [$1, $2] of project $3 (NULL for all projects) and
// status $4 (NULL for both): the planner folds "$3 IS NULL" and "$4 IS NULL" since libpq's
// unnamed statements are planned with their values. They run in one read-only REPEATABLE READ
// transaction, so that they see the same rows.
//
// One project: the count is an index-only range count; the quantile of rank r among n is then
// one walk of the latency index skipping $5 = min(r - 1, n - r) rows from the nearer end. The
// planner sees the offset and picks, from its statistics, between walking the latency index and
// sorting the window's rows from the timestamp index, whichever is cheaper.
//
// All projects (where a walk would skip the other projects' jobs too): the jobs of the window per
// latency bucket, from the histogram for the whole UTC days [$5, $6] inside the window and from
// the jobs themselves for the partial days at its edges (timestamps outside [$7, $8]; all of the
// window when $7 is NULL); then the quantile of rank r is the job at offset $5 within its bucket,
// one short walk of the bucket index.
constexpr const char* kBeginSnapshotSql = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
constexpr const char* kCountWindowSql = R"sql(
SELECT COUNT(*) FROM buildtrace_job_latency
WHERE timestamp_ms BETWEEN $1::bigint AND $2::bigint AND ($3::text IS NULL OR project = $3::text)
  AND ($4::text IS NULL OR status = $4::text)
)sql";
constexpr const char* kWalkAscendingSql = R"sql(
SELECT latency_ms FROM buildtrace_job_latency
WHERE timestamp_ms BETWEEN $1::bigint AND $2::bigint AND ($3::text IS NULL OR project = $3::text)
  AND ($4::text IS NULL OR status = $4::text)
ORDER BY latency_ms OFFSET $5::bigint LIMIT 1
)sql";
constexpr const char* kWalkDescendingSql = R"sql(
SELECT latency_ms FROM buildtrace_job_latency
WHERE timestamp_ms BETWEEN $1::bigint AND $2::bigint AND ($3::text IS NULL OR project = $3::text)
  AND ($4::text IS NULL OR status = $4::text)
ORDER BY latency_ms DESC OFFSET $5::bigint LIMIT 1
)sql";
constexpr const char* kBucketCountsSql = R"sql(
SELECT bucket, SUM(jobs)::bigint FROM (
  SELECT bucket, jobs FROM buildtrace_latency_histogram
  WHERE day BETWEEN $5::bigint AND $6::bigint AND ($4::text IS NULL OR status = $4::text)
  UNION ALL
  SELECT bucket, COUNT(*) FROM buildtrace_job_latency
  WHERE timestamp_ms BETWEEN $1::bigint AND $2::bigint AND ($4::text IS NULL OR status = $4::text)
    AND ($7::bigint IS NULL OR timestamp_ms < $7::bigint OR timestamp_ms > $8::bigint)
    AND $3::text IS NULL
  GROUP BY bucket) AS counts
GROUP BY bucket HAVING SUM(jobs) > 0 ORDER BY bucket
)sql";
constexpr const char* kWalkBucketSql = R"sql(
SELECT latency_ms FROM buildtrace_job_latency
WHERE bucket = $6::integer AND timestamp_ms BETWEEN $1::bigint AND $2::bigint
  AND ($4::text IS NULL OR status = $4::text) AND $3::text IS NULL
ORDER BY latency_ms OFFSET $5::bigint LIMIT 1
)sql";

}  // namespace

const PostgresLatencySql kPostgresLatencySql = {
    kCountWindowSql, kWalkAscendingSql, kWalkDescendingSql, kBucketCountsSql, kWalkBucketSql};

namespace {

// The epoch is the meta row's random id and the OID of buildtrace_job_metrics, so that a dropped
// and re-created table changes it even when buildtrace_meta survives. The first statement finds
// the tables (the OID, and whether every table is there); the second reads from them, so that a
// damaged table fails the probe.
constexpr const char* kFindTablesSql = R"sql(
SELECT to_regclass('buildtrace_job_metrics')::oid::text,
       to_regclass('buildtrace_job_latency') IS NOT NULL AND to_regclass('buildtrace_meta') IS NOT NULL
       AND to_regclass('buildtrace_latency_histogram') IS NOT NULL
)sql";
constexpr const char* kReadEpochSql = R"sql(
SELECT (SELECT value FROM buildtrace_meta WHERE key = 'epoch'),
       EXISTS (SELECT 1 FROM buildtrace_job_metrics), EXISTS (SELECT 1 FROM buildtrace_job_latency)
)sql";
constexpr const char* kCreateEpochSql = R"sql(
INSERT INTO buildtrace_meta (key, value) VALUES ('epoch', gen_random_uuid()::text)
ON CONFLICT (key) DO NOTHING
)sql";

using Keywords = std::vector<std::pair<std::string, std::string>>;

bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(),
                    [](char a, char b) { return std::tolower(a) == std::tolower(b); });
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned value = 0;
    if (text[i] == '%' && i + 2 < text.size() &&
        std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16).ptr ==
            text.data() + i + 3) {
      out += static_cast<char>(value);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

void ReplaceAll(std::string& text, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

// The URL with its passwords replaced by "***", and the passwords themselves (as written and
// percent-decoded). Finds the user info as libpq does: up to the first '@' before any '/'.
struct RedactedUrl {
  std::string text;
  std::vector<std::string> secrets;
};

void RedactQuery(std::string& url, size_t query_start, std::vector<std::string>& secrets) {
  size_t at = query_start;
  while (at < url.size()) {
    size_t end = url.find('&', at);
    if (end == std::string::npos) end = url.size();
    const size_t equals = url.find('=', at);
    if (equals < end &&
        PercentDecode(std::string_view(url).substr(at, equals - at)) == "password") {
      const std::string value = url.substr(equals + 1, end - equals - 1);
      secrets.push_back(value);
      secrets.push_back(PercentDecode(value));
      url.replace(equals + 1, value.size(), kRedacted);
      end = equals + 1 + std::string_view(kRedacted).size();
    }
    at = end + 1;
  }
}

RedactedUrl Redact(const std::string& url) {
  RedactedUrl out{url, {}};
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return out;
  const size_t start = scheme_end + 3;
  const size_t slash = url.find('/', start);
  const size_t at = url.substr(0, slash).find('@', start);
  size_t rest = start;
  if (at != std::string::npos) {
    const size_t colon = url.find(':', start);
    if (colon < at && colon + 1 < at) {
      const std::string password = url.substr(colon + 1, at - colon - 1);
      out.secrets = {password, PercentDecode(password)};
      out.text.replace(colon + 1, password.size(), kRedacted);
    }
    rest = out.text.find('@', start) + 1;
  }
  const size_t question = out.text.find('?', rest);
  if (question != std::string::npos) RedactQuery(out.text, question + 1, out.secrets);
  return out;
}

bool IsNumberList(std::string_view text) {  // "5432" or "5432,5433"; empty parts are defaults
  return std::all_of(text.begin(), text.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == ',';
  });
}

// libpq's messages end in a newline and may continue on indented lines; one line reads better
// inside ours.
std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  std::string out;
  for (char c : text) {
    if (!(c == ' ' && !out.empty() && out.back() == ' ')) out += c;
  }
  return out;
}

// The shortest text that reads back as the same double, so values cross the wire exactly.
std::string DoubleText(double value) {
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, end);
}

// Big-endian integers and float8 of PostgreSQL's binary result format.
uint64_t ReadBigEndian(const char* bytes, int length) {
  uint64_t value = 0;
  for (int i = 0; i < length; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return value;
}

std::optional<int64_t> BinaryInt(const PGresult* result, int row, int column) {
  const int length = PQgetlength(result, row, column);
  if (PQgetisnull(result, row, column) || (length != 4 && length != 8)) return std::nullopt;
  const uint64_t bits = ReadBigEndian(PQgetvalue(result, row, column), length);
  return length == 8 ? static_cast<int64_t>(bits) : static_cast<int32_t>(bits);
}

std::optional<double> BinaryFloat8(const PGresult* result, int row, int column) {
  if (PQgetisnull(result, row, column) || PQgetlength(result, row, column) != 8) {
    return std::nullopt;
  }
  return std::bit_cast<double>(ReadBigEndian(PQgetvalue(result, row, column), 8));
}

std::string RecordOperation(const MetricsRow& row) {
  return "record job " + std::to_string(row.job_id) + " of project " + row.project;
}

std::string LatencyOperation(const LatencyQuery& query) {
  return "latency of " + (query.project ? "project " + *query.project : "all projects") + " in [" +
         std::to_string(query.from_ms) + ", " + std::to_string(query.to_ms) + "]";
}

std::string CreateTableOperation() {
  return std::string("create table ") + kPostgresWarehouseTable;
}

// The UTC days wholly inside [from_ms, to_ms]: [first_day, last_day] (empty when first_day >
// last_day) and the instants they span, [from_ms, to_ms].
struct WholeDays {
  int64_t first_day = 0;
  int64_t last_day = -1;
  int64_t from_ms = 0;
  int64_t to_ms = 0;
  bool empty() const { return first_day > last_day; }
};

constexpr int64_t kDayMs = 86'400'000;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

WholeDays WholeDaysOf(int64_t from_ms, int64_t to_ms) {
  WholeDays days;
  days.first_day = FloorDiv(from_ms, kDayMs) + (from_ms % kDayMs != 0 ? 1 : 0);
  const int64_t to_day = FloorDiv(to_ms, kDayMs);
  // `to_ms` ends its day when it is the day's last millisecond.
  days.last_day = (to_ms - to_day * kDayMs == kDayMs - 1) ? to_day : to_day - 1;
  if (days.empty()) return WholeDays{};
  days.from_ms = days.first_day * kDayMs;
  days.to_ms = days.last_day * kDayMs + (kDayMs - 1);
  return days;
}

// percentile_disc's rank of quantile q among n >= 1 rows: ceil(q * n) in doubles, at least 1.
int64_t PercentileDiscRank(double q, int64_t n) {
  const auto rank = static_cast<int64_t>(std::ceil(q * static_cast<double>(n)));
  return std::clamp<int64_t>(rank, 1, n);
}

// What a failed statement means for the caller, from its SQLSTATE class: failures that may pass
// (connection 08, resources 53, operator intervention and timeouts 57, system 58, serialization
// 40) are kUnavailable, data PostgreSQL refuses (22) kInvalidArgument, the rest kInternal.
StatusCode CodeOf(PGconn* conn, const PGresult* result) {
  const char* sqlstate = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  if (PQstatus(conn) != CONNECTION_OK || sqlstate == nullptr) return StatusCode::kUnavailable;
  const std::string_view error_class(sqlstate, 2);
  if (error_class == "08" || error_class == "53" || error_class == "57" || error_class == "58" ||
      error_class == "40") {
    return StatusCode::kUnavailable;
  }
  return error_class == "22" ? StatusCode::kInvalidArgument : StatusCode::kInternal;
}

void IgnoreNotice(void*, const char*) {}

// Waits until `conn`'s socket is readable or `deadline` passes; false on timeout or error.
bool WaitReadable(PGconn* conn, std::chrono::steady_clock::time_point deadline) {
  while (true) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd socket{PQsocket(conn), POLLIN, 0};
    const int ready = ::poll(&socket, 1, static_cast<int>(left.count()));
    if (ready > 0) return true;
    if (ready == 0 || errno != EINTR) return false;
  }
}

// PQexecParams with a deadline for the answer. PQexecParams itself waits for ever when the
// server keeps the connection open but answers nothing (statement_timeout is enforced by the
// server, which is then not running). Returns what PQexecParams would (the last result, an error
// result kept over later ones; null when the statement could not be sent or the connection
// broke); `timed_out` says that the deadline passed, with the statement's fate unknown. The
// statements are small, so sending them (in libpq's blocking mode) does not wait on the server.
PGresult* ExecWithin(PGconn* conn, const char* sql, const std::vector<const char*>& values,
                     int result_format, std::chrono::milliseconds timeout, bool& timed_out) {
  timed_out = false;
  if (!PQsendQueryParams(conn, sql, static_cast<int>(values.size()), nullptr, values.data(),
                         nullptr, nullptr, result_format)) {
    return nullptr;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  PGresult* kept = nullptr;
  while (true) {
    while (PQisBusy(conn)) {
      if (!WaitReadable(conn, deadline)) {
        timed_out = PQstatus(conn) == CONNECTION_OK;
        PQclear(kept);
        return nullptr;
      }
      if (!PQconsumeInput(conn)) {
        PQclear(kept);
        return nullptr;  // the connection broke; PQerrorMessage says how
      }
    }
    PGresult* result = PQgetResult(conn);
    if (result == nullptr) return kept;
    if (kept != nullptr && PQresultStatus(kept) == PGRES_FATAL_ERROR) {
      PQclear(result);
    } else {
      PQclear(kept);
      kept = result;
    }
  }
}

const char* AdviceFor(StatusCode code) {
  switch (code) {
    case StatusCode::kUnavailable:
      return "; check that the PostgreSQL server is running and reachable, then retry";
    case StatusCode::kInvalidArgument:
      return "; fix the value and send it again";
    default:
      return "; check the table buildtrace_job_metrics against the documented schema";
  }
}

// The URI's parameters as libpq parses them, validated, plus this warehouse's defaults.
Result<Keywords> ParseConnectionUri(const std::string& uri) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(uri.c_str(), &error);
  if (options == nullptr) {
    std::string cause = error ? OneLine(error) : "out of memory";
    PQfreemem(error);
    return InvalidArgument("parse URL: " + cause + "; give a libpq connection URI");
  }
  Keywords keywords;
  std::string user_options;
  for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (option->val == nullptr) continue;
    const std::string keyword = option->keyword;
    if (keyword == "options") {
      user_options = option->val;
    } else {
      keywords.emplace_back(keyword, option->val);
    }
  }
  PQconninfoFree(options);
  for (const auto& [keyword, value] : keywords) {
    if ((keyword == "port" || keyword == "connect_timeout") && !IsNumberList(value)) {
      return InvalidArgument("parse URL: " + keyword + " \"" + value +
                             "\" is not a number; give a number such as 5432");
    }
  }
  const bool has_timeout = std::any_of(keywords.begin(), keywords.end(), [](const auto& entry) {
    return entry.first == "connect_timeout";
  });
  if (!has_timeout && std::getenv("PGCONNECT_TIMEOUT") == nullptr) {
    keywords.emplace_back("connect_timeout", kDefaultConnectTimeoutSeconds);
  }
  if (user_options.find("statement_timeout") == std::string::npos) {
    user_options += std::string(user_options.empty() ? "" : " ") + kStatementTimeoutOption;
  }
  keywords.emplace_back("options", user_options);
  keywords.emplace_back("fallback_application_name", "buildtrace");
  return keywords;
}

}  // namespace

void PostgresWarehouse::ResultClearer::operator()(PGresult* result) const { PQclear(result); }

// A pooled connection for the duration of one call; returned to the pool (or closed if broken)
// when it goes out of scope.
class PostgresWarehouse::Lease {
 public:
  Lease(PostgresWarehouse& warehouse, PGconn* conn) : warehouse_(warehouse), conn_(conn) {}
  ~Lease() {
    warehouse_.Release(
        conn_, PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE);
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  PGconn* get() const { return conn_; }

 private:
  PostgresWarehouse& warehouse_;
  PGconn* const conn_;
};

PostgresWarehouse::PostgresWarehouse(Keywords keywords, std::string described,
                                     std::vector<std::string> secrets,
                                     std::chrono::milliseconds answer_timeout)
    : keywords_(std::move(keywords)),
      described_(std::move(described)),
      secrets_(std::move(secrets)),
      answer_timeout_(answer_timeout) {}

PostgresWarehouse::~PostgresWarehouse() {
  for (PGconn* conn : idle_) PQfinish(conn);
}

std::string PostgresWarehouse::Message(const std::string& operation,
                                       const std::string& cause) const {
  std::string message = "postgresql warehouse " + described_ + ": " + operation + ": " + cause;
  for (const std::string& secret : secrets_) ReplaceAll(message, secret, kRedacted);
  return message;
}

Result<PGconn*> PostgresWarehouse::Connect(const std::string& operation) const {
  std::vector<const char*> keys;
  std::vector<const char*> values;
  for (const auto& [key, value] : keywords_) {
    keys.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/0);
  if (conn == nullptr) return Unavailable(Message(operation, "connect: out of memory"));
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string cause = OneLine(PQerrorMessage(conn));
    PQfinish(conn);
    return Unavailable(Message(operation, cause) + AdviceFor(StatusCode::kUnavailable));
  }
  // NOTICEs such as "relation already exists, skipping" would go to stderr by default, and a
  // CONTEXT (the text of the table definition) would swamp the messages.
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  PQsetErrorContextVisibility(conn, PQSHOW_CONTEXT_NEVER);
  return conn;
}

Result<PGconn*> PostgresWarehouse::Acquire(const std::string& operation) {
  std::unique_lock<std::mutex> lock(mutex_);
  released_.wait(lock, [this] { return !idle_.empty() || open_ < kMaxConnections; });
  if (!idle_.empty()) {
    PGconn* conn = idle_.back();
    idle_.pop_back();
    return conn;
  }
  ++open_;
  lock.unlock();  // connecting may take up to connect_timeout; others may use idle connections
  Result<PGconn*> conn = Connect(operation);
  if (!conn.ok()) {
    lock.lock();
    --open_;
    released_.notify_one();
  }
  return conn;
}

void PostgresWarehouse::Release(PGconn* conn, bool healthy) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (healthy) {
      idle_.push_back(conn);
    } else {
      --open_;
    }
  }
  if (!healthy) PQfinish(conn);
  released_.notify_one();
}

// Runs one statement on `conn`, once, and returns its result if it succeeded. `broken` says that
// the connection proved broken (typically a pooled connection whose server restarted), so that
// the caller may reset it and run again; a statement that timed out is not broken but lost.
Result<PostgresWarehouse::ResultPtr> PostgresWarehouse::RunOn(PGconn* conn,
                                                              const std::string& operation,
                                                              const Statement& statement,
                                                              bool& broken) const {
  const ExecStatusType expected = statement.returns_rows ? PGRES_TUPLES_OK : PGRES_COMMAND_OK;
  std::vector<const char*> values;
  for (const std::optional<std::string>& param : statement.params) {
    values.push_back(param ? param->c_str() : nullptr);
  }
  bool timed_out = false;
  const std::chrono::milliseconds timeout =
      statement.answer_timeout.count() > 0 ? statement.answer_timeout : answer_timeout_;
  ResultPtr result(ExecWithin(conn, statement.sql, values, statement.binary_results ? 1 : 0,
                              timeout, timed_out));
  broken = false;
  if (timed_out) {
    // The lease closes the connection: its statement is still pending (not idle).
    return Unavailable(Message(operation, "no answer from the server within " +
                                              std::to_string(timeout.count()) + " ms") +
                       AdviceFor(StatusCode::kUnavailable));
  }
  if (result != nullptr && PQresultStatus(result.get()) == expected) return result;
  broken = PQstatus(conn) != CONNECTION_OK;
  const StatusCode code = CodeOf(conn, result.get());
  const std::string cause =
      OneLine(result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn));
  return Status(code, Message(operation, cause) + AdviceFor(code));
}

// Runs `attempt` on a pooled connection. When the connection proves broken, resets it and runs
// `attempt` once more: every statement here is safe to repeat.
template <typename T>
Result<T> PostgresWarehouse::WithConnection(
    const std::string& operation, const std::function<Result<T>(PGconn*, bool& broken)>& attempt) {
  Result<PGconn*> acquired = Acquire(operation);
  if (!acquired.ok()) return acquired.status();
  Lease lease(*this, *acquired);
  for (int tries = 0;; ++tries) {
    bool broken = false;
    Result<T> result = attempt(lease.get(), broken);
    if (result.ok() || !broken || tries == 1) return result;
    PQreset(lease.get());
    if (PQstatus(lease.get()) != CONNECTION_OK) {
      return Unavailable(Message(operation, OneLine(PQerrorMessage(lease.get()))) +
                         AdviceFor(StatusCode::kUnavailable));
    }
  }
}

Result<PostgresWarehouse::ResultPtr> PostgresWarehouse::Execute(const std::string& operation,
                                                                const char* sql,
                                                                const Params& params,
                                                                bool returns_rows,
                                                                bool binary_results) {
  const Statement statement{sql, params, returns_rows, binary_results};
  return WithConnection<ResultPtr>(operation, [&](PGconn* conn, bool& broken) {
    return RunOn(conn, operation, statement, broken);
  });
}

Result<std::unique_ptr<PostgresWarehouse>> PostgresWarehouse::Open(
    const std::string& url, std::chrono::milliseconds answer_timeout) {
  RedactedUrl redacted = Redact(url);
  if (const char* env_password = std::getenv("PGPASSWORD"); env_password && *env_password) {
    redacted.secrets.push_back(env_password);
  }
  auto invalid = [&](const std::string& what) {
    std::string message = "postgresql warehouse " + redacted.text + ": " + what;
    for (const std::string& secret : redacted.secrets) ReplaceAll(message, secret, kRedacted);
    return InvalidArgument(message);
  };
  std::string uri = url;
  for (std::string_view scheme : {"postgresql://", "postgres://"}) {
    if (StartsWithNoCase(uri, scheme)) uri.replace(0, scheme.size(), scheme);  // libpq: lower only
  }
  if (!uri.starts_with("postgresql://") && !uri.starts_with("postgres://")) {
    return invalid("the URL must start with postgresql:// or postgres://");
  }
  Result<Keywords> keywords = ParseConnectionUri(uri);
  if (!keywords.ok()) return invalid(keywords.status().message());
  auto warehouse = std::unique_ptr<PostgresWarehouse>(new PostgresWarehouse(
      std::move(*keywords), std::move(redacted.text), std::move(redacted.secrets), answer_timeout));
  Result<bool> created = warehouse->EnsureSchema();
  if (!created.ok()) return created.status();
  return warehouse;
}

Result<bool> PostgresWarehouse::EnsureSchema() {
  const std::string operation = CreateTableOperation();
  return WithConnection<bool>(operation, [&](PGconn* conn, bool& broken) -> Result<bool> {
    Result<ResultPtr> unlimited =
        RunOn(conn, operation, Statement{"SET statement_timeout = 0", {}}, broken);
    if (!unlimited.ok()) return unlimited.status();
    Result<ResultPtr> created =
        RunOn(conn, operation,
              Statement{kPostgresCreateSchemaSql, {}, false, false, kSchemaAnswerTimeout}, broken);
    // Back to the connection's own limit (the URL's or ours), whatever the schema's outcome.
    bool reset_broken = false;
    Result<ResultPtr> reset =
        RunOn(conn, operation, Statement{"RESET statement_timeout", {}}, reset_broken);
    broken = broken || reset_broken;
    if (!created.ok()) return created.status();
    if (!reset.ok()) return reset.status();
    return true;
  });
}

Result<bool> PostgresWarehouse::Record(const MetricsRow& row) {
  if (Status status = CheckMetricsRow(row); !status.ok()) {
    return InvalidArgument(Message(RecordOperation(row), status.message()));
  }
  if (!HasLineageBase(row)) return false;
  auto text = [](int64_t value) { return std::optional<std::string>(std::to_string(value)); };
  const Params params = {
      row.project,         text(row.job_id),       text(row.base_job_id.value_or(0)),
      row.timestamp,       text(row.timestamp_ms), DoubleText(row.latency_ms),
      text(row.added),     text(row.removed),      text(row.modified),
      text(row.unchanged), text(row.moved),        text(row.resized),
      text(row.retyped),   text(row.changed),      std::string(JobStatusName(row.status))};
  const std::string operation = RecordOperation(row);
  return InTransaction<bool>(operation, [&](PGconn* conn, bool& broken) -> Result<bool> {
    auto run = [&](const char* sql, Params p, bool returns_rows) {
      return RunOn(conn, operation, Statement{sql, std::move(p), returns_rows, false}, broken);
    };
    for (const char* sql : {"BEGIN", kLockJobSql}) {
      Result<ResultPtr> done = run(
          sql, sql == kLockJobSql ? Params{params[0], params[1]} : Params{}, sql == kLockJobSql);
      if (!done.ok()) return done.status();
    }
    Result<ResultPtr> recorded = run(kRecordSql, params, true);
    if (!recorded.ok()) return recorded.status();
    const bool inserted = std::string_view(PQgetvalue(recorded->get(), 0, 0)) == "1";
    if (Result<ResultPtr> committed = run("COMMIT", {}, false); !committed.ok()) {
      return committed.status();
    }
    return inserted;
  });
}

Result<int64_t> PostgresWarehouse::DeleteProject(std::string_view project) {
  const std::string operation = "delete project " + std::string(project.substr(0, 128));
  if (Status status = CheckProjectName(project); !status.ok()) {
    return InvalidArgument(Message(operation, status.message()));
  }
  // One statement, so one transaction; the triggers remove the derived rows with it.
  Result<ResultPtr> deleted =
      Execute(operation, "DELETE FROM buildtrace_job_metrics WHERE project = $1",
              {std::string(project)}, false, false);
  if (!deleted.ok()) return deleted.status();
  int64_t rows = 0;
  const std::string_view count = PQcmdTuples(deleted->get());
  std::from_chars(count.data(), count.data() + count.size(), rows);
  return rows;
}

template <typename T>
Result<T> PostgresWarehouse::InTransaction(
    const std::string& operation, const std::function<Result<T>(PGconn*, bool& broken)>& attempt) {
  return WithConnection<T>(operation, [&](PGconn* conn, bool& broken) {
    Result<T> result = attempt(conn, broken);
    if (!result.ok() && PQstatus(conn) == CONNECTION_OK &&
        PQtransactionStatus(conn) != PQTRANS_IDLE) {
      bool ignored = false;
      (void)RunOn(conn, operation, Statement{"ROLLBACK", {}}, ignored);  // keeps it poolable
    }
    return result;
  });
}

Result<LatencyStats> PostgresWarehouse::Latency(const LatencyQuery& query) {
  const std::string operation = LatencyOperation(query);
  if (Status status = CheckLatencyQuery(query); !status.ok()) {
    return status.WithContext("postgresql warehouse " + described_ + ": " + operation + ": ");
  }
  return InTransaction<LatencyStats>(operation, [&](PGconn* conn, bool& broken) {
    return LatencyOn(conn, query, operation, broken);
  });
}

Result<LatencyStats> PostgresWarehouse::LatencyOn(PGconn* conn, const LatencyQuery& query,
                                                  const std::string& operation,
                                                  bool& broken) const {
  // Binary results: the float8 values arrive as their IEEE 754 bits, exact whatever the
  // server's extra_float_digits.
  auto run = [&](const char* sql, const Params& params, bool returns_rows) {
    return RunOn(conn, operation, Statement{sql, params, returns_rows, true}, broken);
  };
  std::optional<std::string> status;
  if (query.status != LatencyStatusFilter::kAll) {
    status = JobStatusName(query.status == LatencyStatusFilter::kFailed ? JobStatus::kFailed
                                                                        : JobStatus::kSucceeded);
  }
  const Params window = {std::to_string(query.from_ms), std::to_string(query.to_ms), query.project,
                         status};
  if (Result<ResultPtr> begun = run(kBeginSnapshotSql, {}, false); !begun.ok()) {
    return begun.status();
  }
  LatencyStats stats;
  stats.values.assign(query.quantiles.size(), std::nullopt);
  Status picked = query.project ? PickByWalking(run, window, query, stats, operation)
                                : PickFromHistogram(run, window, query, stats, operation);
  if (!picked.ok()) return picked;
  if (Result<ResultPtr> committed = run("COMMIT", {}, false); !committed.ok()) {
    return committed.status();
  }
  return stats;
}

Status PostgresWarehouse::PickByWalking(const Run& run, const Params& window,
                                        const LatencyQuery& query, LatencyStats& stats,
                                        const std::string& operation) const {
  Result<ResultPtr> counted = run(kCountWindowSql, window, true);
  if (!counted.ok()) return counted.status();
  const std::optional<int64_t> n = BinaryInt(counted->get(), 0, 0);
  if (!n) return Internal(Message(operation, "the job count is missing; this is a bug"));
  stats.count = *n;
  for (size_t i = 0; i < query.quantiles.size() && *n > 0; ++i) {
    const int64_t rank = PercentileDiscRank(query.quantiles[i], *n);
    const bool ascending = rank - 1 <= *n - rank;
    Params params = window;
    params.push_back(std::to_string(ascending ? rank - 1 : *n - rank));
    Result<ResultPtr> walked =
        run(ascending ? kWalkAscendingSql : kWalkDescendingSql, params, true);
    if (!walked.ok()) return walked.status();
    if (PQntuples(walked->get()) != 1) {
      return Internal(Message(operation, "no job at rank " + std::to_string(rank) + " of " +
                                             std::to_string(*n) + "; this is a bug"));
    }
    stats.values[i] = BinaryFloat8(walked->get(), 0, 0);
  }
  return Status::Ok();
}

Status PostgresWarehouse::PickFromHistogram(const Run& run, const Params& window,
                                            const LatencyQuery& query, LatencyStats& stats,
                                            const std::string& operation) const {
  const WholeDays days = WholeDaysOf(query.from_ms, query.to_ms);
  Params params = window;
  params.push_back(std::to_string(days.first_day));
  params.push_back(std::to_string(days.last_day));
  params.push_back(days.empty() ? std::nullopt : std::optional(std::to_string(days.from_ms)));
  params.push_back(days.empty() ? std::nullopt : std::optional(std::to_string(days.to_ms)));
  Result<ResultPtr> counted = run(kBucketCountsSql, params, true);
  if (!counted.ok()) return counted.status();
  std::vector<std::pair<int64_t, int64_t>> buckets;  // (bucket, jobs), by bucket
  for (int row = 0; row < PQntuples(counted->get()); ++row) {
    const std::optional<int64_t> bucket = BinaryInt(counted->get(), row, 0);
    const std::optional<int64_t> jobs = BinaryInt(counted->get(), row, 1);
    if (!bucket || !jobs) return Internal(Message(operation, "a bucket count is missing"));
    buckets.emplace_back(*bucket, *jobs);
    stats.count += *jobs;
  }
  for (size_t i = 0; i < query.quantiles.size() && stats.count > 0; ++i) {
    const int64_t rank = PercentileDiscRank(query.quantiles[i], stats.count);
    int64_t before = 0;
    size_t b = 0;
    while (b + 1 < buckets.size() && before + buckets[b].second < rank)
      before += buckets[b++].second;
    Params walk = window;
    walk.push_back(std::to_string(rank - 1 - before));
    walk.push_back(std::to_string(buckets[b].first));
    Result<ResultPtr> walked = run(kWalkBucketSql, walk, true);
    if (!walked.ok()) return walked.status();
    if (PQntuples(walked->get()) != 1) {
      return Internal(Message(operation, "no job at rank " + std::to_string(rank) + " of " +
                                             std::to_string(stats.count) +
                                             "; the latency histogram disagrees with the jobs: "
                                             "run buildtrace rebuild-metrics"));
    }
    stats.values[i] = BinaryFloat8(walked->get(), 0, 0);
  }
  return Status::Ok();
}

Result<std::string> PostgresWarehouse::ReadEpoch(const std::string& operation, bool create) {
  Result<ResultPtr> found = Execute(operation, kFindTablesSql, {}, true, false);
  if (!found.ok()) return found.status();
  if (PQgetisnull(found->get(), 0, 0) || std::string_view(PQgetvalue(found->get(), 0, 1)) != "t") {
    // A table was dropped: create the schema again as Open does, which makes a new epoch.
    Result<bool> created = EnsureSchema();
    if (!created.ok()) return created.status();
    found = Execute(operation, kFindTablesSql, {}, true, false);
    if (!found.ok()) return found.status();
    if (PQgetisnull(found->get(), 0, 0)) {
      return Internal(Message(operation, "the table is missing right after its creation"));
    }
  }
  const std::string oid = PQgetvalue(found->get(), 0, 0);
  for (int tries = 0;; ++tries) {
    Result<ResultPtr> read = Execute(operation, kReadEpochSql, {}, true, false);
    if (!read.ok()) return read.status();
    if (!PQgetisnull(read->get(), 0, 0)) return PQgetvalue(read->get(), 0, 0) + ("." + oid);
    if (!create) return std::string();
    if (tries == 1) return Internal(Message(operation, "the epoch was not kept; this is a bug"));
    Result<ResultPtr> made = Execute(operation, kCreateEpochSql, {}, false, false);
    if (!made.ok()) return made.status();
  }
}

Status PostgresWarehouse::Probe() {
  Result<std::string> epoch = ReadEpoch("probe", /*create=*/false);
  return epoch.ok() ? Status::Ok() : epoch.status();
}

Result<std::string> PostgresWarehouse::Epoch() { return ReadEpoch("epoch", /*create=*/true); }

std::string PostgresWarehouse::Describe() const { return described_; }

}  // namespace buildtrace
