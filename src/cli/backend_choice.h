// Where `serve`, `worker` and `rebuild-metrics` keep the states and record the metrics when no URL
// is given, including the variables of the original Python service (BUCKET, PROJECT_ID), and
// how that choice is logged: backend URLs with their secrets masked.
#pragma once

#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace buildtrace {

// The original service's BigQuery dataset and table, under PROJECT_ID.
inline constexpr std::string_view kOriginalDataset = "buildtrace_metrics";
inline constexpr std::string_view kOriginalTable = "job_results";

// The URLs chosen and where each came from, for the start-up log.
struct BackendChoice {
  std::string store_url;
  std::string store_source;  // "--store", "BUCKET" or "--data-dir"
  std::string warehouse_url;
  std::string warehouse_source;  // "--warehouse", "PROJECT_ID" or "--data-dir"
};

// Reads an environment variable: nullptr when unset (std::getenv; tests pass their own).
using EnvironmentReader = std::function<const char*(const char*)>;

// The store: `store_flag` (--store or BUILDTRACE_STORE) when given; else BUCKET, a Cloud
// Storage bucket "gs://NAME[/PREFIX]" or a bare "NAME" (-> gs://NAME); else a folder in
// `data_dir` (file://<abs data_dir>/states). The warehouse: `warehouse_flag` when given; else,
// when PROJECT_ID is set, bigquery://PROJECT_ID/buildtrace_metrics/job_results; else SQLite in
// `data_dir` (sqlite://<abs data_dir>/metrics.db). Empty variables count as unset.
// kInvalidArgument, saying what to write, for a BUCKET or PROJECT_ID that cannot be one; the
// flags' URLs are left to the backends, which check them when they open.
Result<BackendChoice> ChooseBackends(const std::string& store_flag,
                                     const std::string& warehouse_flag, const std::string& data_dir,
                                     const EnvironmentReader& read_env = std::getenv);

// The defaults in a data folder, as above.
std::string DefaultStoreUrl(const std::string& data_dir);
std::string DefaultWarehouseUrl(const std::string& data_dir);

// `url` with its secrets masked as "***": the password of a user-info part
// ("postgresql://bt:s3cret@db/bt" -> "postgresql://bt:***@db/bt") and the value of every query
// parameter whose name holds "password", "secret" or "token", in any case
// ("?sslpassword=x" -> "?sslpassword=***"). Backend URLs take their credentials from the
// environment, but a user may still write one into a URL: it never reaches a log.
std::string RedactUrl(std::string_view url);

// "store gs://b (from BUCKET), warehouse sqlite:///d/metrics.db (default in --data-dir), queue
// inproc://", the URLs redacted; `queue_url` empty: no queue part.
std::string DescribeBackends(const BackendChoice& choice, const std::string& queue_url);

}  // namespace buildtrace
