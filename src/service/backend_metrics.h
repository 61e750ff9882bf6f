// How long the backends take and how often they fail, for GET /metrics: BackendMetrics keeps one
// latency histogram per (backend, operation) and error counters per (backend, operation, status
// code), all allocated up front, so the label sets are fixed and observing never allocates.
// TimedStateStore, TimedWarehouse and TimedQueue wrap a backend (as LevelDB's EnvWrapper wraps an
// Env) and time every call into a BackendMetrics; OpenServiceBackends installs them.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "queue/analysis_queue.h"
#include "service/latency_histogram.h"
#include "store/state_store.h"
#include "warehouse/metrics_warehouse.h"

namespace buildtrace {

enum class Backend : uint8_t { kStore, kWarehouse, kQueue };

// Every call of the three interfaces; the label `operation` is the name BackendOperationName
// gives.
enum class BackendOperation : uint8_t {
  kStorePut,  // CreateIfAbsent
  kStorePutMany,
  kStoreGet,  // Read and ReadInput
  kStoreList,
  kStoreDelete,
  kStoreProbe,
  kWarehouseRecord,
  kWarehouseLatency,
  kWarehouseDeleteProject,
  kWarehouseProbe,
  kWarehouseEpoch,
  kQueuePublish,
  kQueueReceive,  // includes the wait for tasks (up to its `wait`)
  kQueueAck,
  kQueueRetry,
  kQueueDepth,
  kQueueProbe,
};
inline constexpr size_t kBackendOperations = 17;

Backend BackendOf(BackendOperation operation);
const char* BackendName(Backend backend);                      // "store", "warehouse", "queue"
const char* BackendOperationName(BackendOperation operation);  // "put", "record", "publish", ...

// Thread-safe; Observe is lock-free.
class BackendMetrics {
 public:
  // One call of `operation` took `elapsed` and ended with `outcome`. Errors are the codes a
  // caller cannot expect as an ordinary answer: kNotFound (a read of what is not there) and
  // kAlreadyExists (a create of what is there) are answers, not errors.
  void Observe(BackendOperation operation, std::chrono::nanoseconds elapsed, const Status& outcome);
  // The same for an error of one object of a batch (CreateManyIfAbsent), without a duration.
  void CountError(BackendOperation operation, StatusCode code);
  // Marks a backend as present: only present backends' series are shown.
  void MarkPresent(Backend backend);

  const LatencyHistogram& Duration(BackendOperation operation) const;
  uint64_t Errors(BackendOperation operation, StatusCode code) const;

  // buildtrace_backend_operation_duration_seconds{backend,operation} (a histogram, a series for
  // every operation of every present backend) and buildtrace_backend_errors_total{backend,
  // operation,code} (a counter, a series for every error seen), in the Prometheus text format.
  void Append(std::string& out) const;

 private:
  static constexpr size_t kCodes = static_cast<size_t>(StatusCode::kInternal) + 1;
  std::array<LatencyHistogram, kBackendOperations> durations_{};
  std::array<std::array<std::atomic<uint64_t>, kCodes>, kBackendOperations> errors_{};
  std::array<std::atomic<bool>, 3> present_{};
};

// A StateStore whose every call is timed into `metrics`; otherwise the inner store's, contract
// included. `metrics` must outlive it.
class TimedStateStore : public StateStore {
 public:
  TimedStateStore(std::unique_ptr<StateStore> inner, BackendMetrics& metrics);

  Status CreateIfAbsent(std::string_view name, std::string_view data) override;
  std::vector<Status> CreateManyIfAbsent(std::span<const ObjectToCreate> objects) override;
  // Times the batch without the caller's preparation, so a batch whose writes overlapped it is
  // timed short by the overlap; a batch the preparation refused is neither timed nor counted as
  // the store's error.
  Result<std::vector<Status>> CreateManyIfAbsentPreparing(
      std::span<const ObjectToCreate> objects, const std::function<Status()>& prepare) override;
  Result<std::string> Read(std::string_view name) override;
  Result<InputBytes> ReadInput(std::string_view name) override;
  Result<std::vector<std::string>> List(std::string_view prefix) override;
  Status Delete(std::string_view name) override;
  Status Probe() override;
  std::string Describe() const override { return inner_->Describe(); }

 private:
  std::unique_ptr<StateStore> inner_;
  BackendMetrics& metrics_;
};

// A MetricsWarehouse whose every call is timed into `metrics`. `metrics` must outlive it.
class TimedWarehouse : public MetricsWarehouse {
 public:
  TimedWarehouse(std::unique_ptr<MetricsWarehouse> inner, BackendMetrics& metrics);

  Result<bool> Record(const MetricsRow& row) override;
  Result<LatencyStats> Latency(const LatencyQuery& query) override;
  Result<int64_t> DeleteProject(std::string_view project) override;
  Status Probe() override;
  Result<std::string> Epoch() override;
  std::string Describe() const override { return inner_->Describe(); }

 private:
  std::unique_ptr<MetricsWarehouse> inner_;
  BackendMetrics& metrics_;
};

// An AnalysisQueue whose every call is timed into `metrics`. `metrics` must outlive it.
class TimedQueue : public AnalysisQueue {
 public:
  TimedQueue(std::unique_ptr<AnalysisQueue> inner, BackendMetrics& metrics);

  Status Publish(std::span<const AnalysisTask> tasks) override;
  Result<std::vector<QueueDelivery>> Receive(size_t max, std::chrono::milliseconds wait) override;
  Status Ack(const QueueDelivery& delivery) override;
  Status Retry(const QueueDelivery& delivery, std::chrono::milliseconds delay) override;
  Result<std::optional<int64_t>> Depth() override;
  std::chrono::milliseconds lease() const override { return inner_->lease(); }
  Status Probe() override;
  void Close() override { inner_->Close(); }
  std::string Describe() const override { return inner_->Describe(); }

 private:
  std::unique_ptr<AnalysisQueue> inner_;
  BackendMetrics& metrics_;
};

}  // namespace buildtrace
