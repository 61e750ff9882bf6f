// Backends chosen by URL scheme. The registry is filled explicitly at start-up
// (RegisterBuiltinBackends), never by static self-registration, so what a binary supports is
// visible in one place. Adding S3 or PostgreSQL later means one Register call, no handler change.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "backends/backend_url.h"
#include "queue/analysis_queue.h"
#include "store/state_store.h"
#include "warehouse/metrics_warehouse.h"

namespace buildtrace {

class BackendRegistry {
 public:
  using StoreFactory = std::function<Result<std::unique_ptr<StateStore>>(const BackendUrl&)>;
  using WarehouseFactory =
      std::function<Result<std::unique_ptr<MetricsWarehouse>>(const BackendUrl&)>;
  using QueueFactory = std::function<Result<std::unique_ptr<AnalysisQueue>>(const BackendUrl&)>;

  void RegisterStore(std::string scheme, StoreFactory factory);
  void RegisterWarehouse(std::string scheme, WarehouseFactory factory);
  void RegisterQueue(std::string scheme, QueueFactory factory);

  // Opens the backend the URL names. kInvalidArgument for a malformed URL or an unknown scheme
  // (the message lists the known ones); otherwise whatever the backend's factory returns.
  Result<std::unique_ptr<StateStore>> OpenStore(std::string_view url) const;
  Result<std::unique_ptr<MetricsWarehouse>> OpenWarehouse(std::string_view url) const;
  Result<std::unique_ptr<AnalysisQueue>> OpenQueue(std::string_view url) const;

 private:
  std::map<std::string, StoreFactory> stores_;
  std::map<std::string, WarehouseFactory> warehouses_;
  std::map<std::string, QueueFactory> queues_;
};

// Every store, warehouse and queue this build has: file://, s3://, gs://; sqlite://,
// postgresql://, bigquery://; inproc://.
void RegisterBuiltinBackends(BackendRegistry& registry);

}  // namespace buildtrace
