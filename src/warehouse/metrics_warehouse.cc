// Input checks shared by every MetricsWarehouse implementation.
#include "warehouse/metrics_warehouse.h"

namespace buildtrace {

Status CheckMetricsRow(const MetricsRow& row) {
  if (row.job_id < 1 || (row.base_job_id && *row.base_job_id < 1)) {
    // Rows are made from stored jobs and read back from the outbox, never sent by a client: the
    // message says what is wrong with the row, not what to send.
    return InvalidArgument("a metrics row's job_id and base_job_id must be at least 1");
  }
  return Status::Ok();
}

bool HasLineageBase(const MetricsRow& row) {
  return !row.base_job_id || *row.base_job_id < row.job_id;
}

RecordOutcome SettleRecord(std::optional<int64_t> stored_base, const MetricsRow& row) {
  if (!HasLineageBase(row)) return RecordOutcome::kKeep;
  if (!stored_base) return RecordOutcome::kInsert;
  return row.base_job_id.value_or(0) > *stored_base ? RecordOutcome::kReplace
                                                    : RecordOutcome::kKeep;
}

Status CheckProjectName(std::string_view project) {
  if (!IsValidProjectName(project)) {
    return InvalidArgument(
        "a project name is 1-128 characters of A-Z, a-z, 0-9, '.', '_' or '-', starting with a "
        "letter or digit; name a valid project");
  }
  return Status::Ok();
}

Status CheckLatencyQuery(const LatencyQuery& query) {
  for (size_t i = 0; i < query.quantiles.size(); ++i) {
    const double q = query.quantiles[i];
    if (!(q >= 0.0 && q <= 1.0)) {  // also rejects NaN
      return InvalidArgument("quantile " + std::to_string(i) + " is " + std::to_string(q) +
                             "; each quantile must be in [0, 1]");
    }
  }
  return Status::Ok();
}

}  // namespace buildtrace
