// DeadlineWarehouse: each call through the pool.
#include "service/deadline_warehouse.h"

namespace buildtrace {

Result<bool> DeadlineWarehouse::Record(const MetricsRow& row) {
  return pool_.Run<Result<bool>>(
      [this, row] { return inner_.Record(row); }, deadlines_.call,
      Describe() + ": record job " + std::to_string(row.job_id) + " of project " + row.project);
}

Result<LatencyStats> DeadlineWarehouse::Latency(const LatencyQuery& query) {
  return pool_.Run<Result<LatencyStats>>([this, query] { return inner_.Latency(query); },
                                         deadlines_.call, Describe() + ": latency quantiles");
}

Status DeadlineWarehouse::Probe() {
  return pool_.Run<Status>([this] { return inner_.Probe(); }, deadlines_.call,
                           Describe() + ": probe");
}

Result<std::string> DeadlineWarehouse::Epoch() {
  return pool_.Run<Result<std::string>>([this] { return inner_.Epoch(); }, deadlines_.call,
                                        Describe() + ": epoch");
}

}  // namespace buildtrace
