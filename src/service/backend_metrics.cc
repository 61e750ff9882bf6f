// The backends' timing decorators and their metrics.
#include "service/backend_metrics.h"

#include <utility>

namespace buildtrace {
namespace {

struct OperationInfo {
  Backend backend;
  const char* name;
};

// Indexed by BackendOperation.
constexpr std::array<OperationInfo, kBackendOperations> kOperations = {{
    {Backend::kStore, "put"},
    {Backend::kStore, "put_many"},
    {Backend::kStore, "get"},
    {Backend::kStore, "list"},
    {Backend::kStore, "delete"},
    {Backend::kStore, "probe"},
    {Backend::kWarehouse, "record"},
    {Backend::kWarehouse, "latency"},
    {Backend::kWarehouse, "delete_project"},
    {Backend::kWarehouse, "probe"},
    {Backend::kWarehouse, "epoch"},
    {Backend::kQueue, "publish"},
    {Backend::kQueue, "receive"},
    {Backend::kQueue, "ack"},
    {Backend::kQueue, "retry"},
    {Backend::kQueue, "depth"},
    {Backend::kQueue, "probe"},
}};
static_assert(static_cast<size_t>(BackendOperation::kQueueProbe) + 1 == kBackendOperations);

size_t Index(BackendOperation operation) { return static_cast<size_t>(operation); }

bool IsError(StatusCode code) {
  return code != StatusCode::kOk && code != StatusCode::kNotFound &&
         code != StatusCode::kAlreadyExists;
}

const Status& OutcomeOf(const Status& status) { return status; }
template <typename T>
const Status& OutcomeOf(const Result<T>& result) {
  return result.status();
}

// Calls `call` and records its duration and outcome as `operation`.
template <typename Call>
auto Time(BackendMetrics& metrics, BackendOperation operation, Call&& call) {
  const auto start = std::chrono::steady_clock::now();
  auto outcome = std::forward<Call>(call)();
  metrics.Observe(operation, std::chrono::steady_clock::now() - start, OutcomeOf(outcome));
  return outcome;
}

}  // namespace

Backend BackendOf(BackendOperation operation) { return kOperations[Index(operation)].backend; }

const char* BackendName(Backend backend) {
  switch (backend) {
    case Backend::kStore:
      return "store";
    case Backend::kWarehouse:
      return "warehouse";
    case Backend::kQueue:
      return "queue";
  }
  return "unknown";
}

const char* BackendOperationName(BackendOperation operation) {
  return kOperations[Index(operation)].name;
}

void BackendMetrics::Observe(BackendOperation operation, std::chrono::nanoseconds elapsed,
                             const Status& outcome) {
  durations_[Index(operation)].Observe(elapsed);
  if (IsError(outcome.code())) CountError(operation, outcome.code());
}

void BackendMetrics::CountError(BackendOperation operation, StatusCode code) {
  if (!IsError(code)) return;
  errors_[Index(operation)][static_cast<size_t>(code)].fetch_add(1, std::memory_order_relaxed);
}

void BackendMetrics::MarkPresent(Backend backend) {
  present_[static_cast<size_t>(backend)].store(true);
}

const LatencyHistogram& BackendMetrics::Duration(BackendOperation operation) const {
  return durations_[Index(operation)];
}

uint64_t BackendMetrics::Errors(BackendOperation operation, StatusCode code) const {
  return errors_[Index(operation)][static_cast<size_t>(code)].load(std::memory_order_relaxed);
}

void BackendMetrics::Append(std::string& out) const {
  auto labels = [](size_t op) {
    return std::string("backend=\"") + BackendName(kOperations[op].backend) + "\",operation=\"" +
           kOperations[op].name + "\"";
  };
  auto present = [&](size_t op) {
    return present_[static_cast<size_t>(kOperations[op].backend)].load();
  };
  const char* duration = "buildtrace_backend_operation_duration_seconds";
  AppendMetricHeader(out, duration, "histogram",
                     "How long calls of the store, the warehouse and the analysis queue took "
                     "(receive includes its wait for tasks).");
  for (size_t op = 0; op < kBackendOperations; ++op) {
    if (present(op)) durations_[op].AppendSeries(out, duration, labels(op));
  }
  std::string errors;
  for (size_t op = 0; op < kBackendOperations; ++op) {
    for (size_t code = 0; code < kCodes; ++code) {
      const uint64_t n = errors_[op][code].load(std::memory_order_relaxed);
      if (n == 0) continue;
      errors += "buildtrace_backend_errors_total{" + labels(op) + ",code=\"" +
                StatusCodeName(static_cast<StatusCode>(code)) + "\"} " + std::to_string(n) + "\n";
    }
  }
  if (errors.empty()) return;
  AppendMetricHeader(out, "buildtrace_backend_errors_total", "counter",
                     "Calls of the store, the warehouse and the analysis queue that failed, by "
                     "status code (not found and already exists are answers, not errors).");
  out += errors;
}

TimedStateStore::TimedStateStore(std::unique_ptr<StateStore> inner, BackendMetrics& metrics)
    : inner_(std::move(inner)), metrics_(metrics) {
  metrics_.MarkPresent(Backend::kStore);
}

Status TimedStateStore::CreateIfAbsent(std::string_view name, std::string_view data) {
  return Time(metrics_, BackendOperation::kStorePut,
              [&] { return inner_->CreateIfAbsent(name, data); });
}

std::vector<Status> TimedStateStore::CreateManyIfAbsent(std::span<const ObjectToCreate> objects) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<Status> outcomes = inner_->CreateManyIfAbsent(objects);
  // One observation for the batch (its duration), one error per object that failed.
  metrics_.Observe(BackendOperation::kStorePutMany, std::chrono::steady_clock::now() - start,
                   Status::Ok());
  for (const Status& s : outcomes) metrics_.CountError(BackendOperation::kStorePutMany, s.code());
  return outcomes;
}

Result<std::vector<Status>> TimedStateStore::CreateManyIfAbsentPreparing(
    std::span<const ObjectToCreate> objects, const std::function<Status()>& prepare) {
  // The caller's preparation is not the store's time, nor is its refusal the store's error.
  std::chrono::steady_clock::duration preparing{};
  const auto start = std::chrono::steady_clock::now();
  Result<std::vector<Status>> outcomes = inner_->CreateManyIfAbsentPreparing(objects, [&] {
    const auto prepare_start = std::chrono::steady_clock::now();
    Status prepared = prepare();
    preparing = std::chrono::steady_clock::now() - prepare_start;
    return prepared;
  });
  if (!outcomes.ok()) return outcomes;
  metrics_.Observe(BackendOperation::kStorePutMany,
                   std::chrono::steady_clock::now() - start - preparing, Status::Ok());
  for (const Status& s : *outcomes) metrics_.CountError(BackendOperation::kStorePutMany, s.code());
  return outcomes;
}

Result<std::string> TimedStateStore::Read(std::string_view name) {
  return Time(metrics_, BackendOperation::kStoreGet, [&] { return inner_->Read(name); });
}

Result<InputBytes> TimedStateStore::ReadInput(std::string_view name) {
  return Time(metrics_, BackendOperation::kStoreGet, [&] { return inner_->ReadInput(name); });
}

Result<std::vector<std::string>> TimedStateStore::List(std::string_view prefix) {
  return Time(metrics_, BackendOperation::kStoreList, [&] { return inner_->List(prefix); });
}

Status TimedStateStore::Delete(std::string_view name) {
  return Time(metrics_, BackendOperation::kStoreDelete, [&] { return inner_->Delete(name); });
}

Status TimedStateStore::Probe() {
  return Time(metrics_, BackendOperation::kStoreProbe, [&] { return inner_->Probe(); });
}

TimedWarehouse::TimedWarehouse(std::unique_ptr<MetricsWarehouse> inner, BackendMetrics& metrics)
    : inner_(std::move(inner)), metrics_(metrics) {
  metrics_.MarkPresent(Backend::kWarehouse);
}

Result<bool> TimedWarehouse::Record(const MetricsRow& row) {
  return Time(metrics_, BackendOperation::kWarehouseRecord, [&] { return inner_->Record(row); });
}

Result<LatencyStats> TimedWarehouse::Latency(const LatencyQuery& query) {
  return Time(metrics_, BackendOperation::kWarehouseLatency,
              [&] { return inner_->Latency(query); });
}

Result<int64_t> TimedWarehouse::DeleteProject(std::string_view project) {
  return Time(metrics_, BackendOperation::kWarehouseDeleteProject,
              [&] { return inner_->DeleteProject(project); });
}

Status TimedWarehouse::Probe() {
  return Time(metrics_, BackendOperation::kWarehouseProbe, [&] { return inner_->Probe(); });
}

Result<std::string> TimedWarehouse::Epoch() {
  return Time(metrics_, BackendOperation::kWarehouseEpoch, [&] { return inner_->Epoch(); });
}

TimedQueue::TimedQueue(std::unique_ptr<AnalysisQueue> inner, BackendMetrics& metrics)
    : inner_(std::move(inner)), metrics_(metrics) {
  metrics_.MarkPresent(Backend::kQueue);
}

Status TimedQueue::Publish(std::span<const AnalysisTask> tasks) {
  return Time(metrics_, BackendOperation::kQueuePublish, [&] { return inner_->Publish(tasks); });
}

Result<std::vector<QueueDelivery>> TimedQueue::Receive(size_t max, std::chrono::milliseconds wait) {
  return Time(metrics_, BackendOperation::kQueueReceive,
              [&] { return inner_->Receive(max, wait); });
}

Status TimedQueue::Ack(const QueueDelivery& delivery) {
  return Time(metrics_, BackendOperation::kQueueAck, [&] { return inner_->Ack(delivery); });
}

Status TimedQueue::Retry(const QueueDelivery& delivery, std::chrono::milliseconds delay) {
  return Time(metrics_, BackendOperation::kQueueRetry,
              [&] { return inner_->Retry(delivery, delay); });
}

Result<std::optional<int64_t>> TimedQueue::Depth() {
  return Time(metrics_, BackendOperation::kQueueDepth, [&] { return inner_->Depth(); });
}

Status TimedQueue::Probe() {
  return Time(metrics_, BackendOperation::kQueueProbe, [&] { return inner_->Probe(); });
}

}  // namespace buildtrace
