// The backend registry and the built-in backends.
#include "backends/registry.h"

#include <charconv>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "cloud/google_auth.h"
#include "queue/inproc_queue.h"
#include "queue/pubsub_queue.h"
#include "queue/redis_queue.h"
#include "service/log.h"
#include "store/file_state_store.h"
#include "store/gcs_state_store.h"
#include "store/s3_state_store.h"
#include "warehouse/bigquery_warehouse.h"
#include "warehouse/postgres_warehouse.h"
#include "warehouse/sqlite_warehouse.h"

namespace buildtrace {
namespace {

template <typename Factories>
std::string KnownSchemes(const Factories& factories) {
  std::string out;
  for (const auto& [scheme, factory] : factories) {
    if (!out.empty()) out += ", ";
    out += scheme + "://";
  }
  return out;
}

template <typename Backend, typename Factories>
Result<std::unique_ptr<Backend>> Open(const Factories& factories, std::string_view url,
                                      const char* what) {
  Result<BackendUrl> parsed = ParseBackendUrl(url);
  if (!parsed.ok()) return parsed.status();
  auto it = factories.find(parsed->scheme);
  if (it == factories.end()) {
    return InvalidArgument(std::string(what) + " URL \"" + std::string(url) +
                           "\" has an unknown scheme; this build supports " +
                           KnownSchemes(factories));
  }
  return it->second(*parsed);
}

}  // namespace

void BackendRegistry::RegisterStore(std::string scheme, StoreFactory factory) {
  stores_[std::move(scheme)] = std::move(factory);
}

void BackendRegistry::RegisterWarehouse(std::string scheme, WarehouseFactory factory) {
  warehouses_[std::move(scheme)] = std::move(factory);
}

void BackendRegistry::RegisterQueue(std::string scheme, QueueFactory factory) {
  queues_[std::move(scheme)] = std::move(factory);
}

Result<std::unique_ptr<AnalysisQueue>> BackendRegistry::OpenQueue(std::string_view url) const {
  return Open<AnalysisQueue>(queues_, url, "queue");
}

Result<std::unique_ptr<StateStore>> BackendRegistry::OpenStore(std::string_view url) const {
  return Open<StateStore>(stores_, url, "store");
}

Result<std::unique_ptr<MetricsWarehouse>> BackendRegistry::OpenWarehouse(
    std::string_view url) const {
  return Open<MetricsWarehouse>(warehouses_, url, "warehouse");
}

namespace {

// Upcasts a backend's own Result to the interface's.
template <typename Interface, typename Backend>
Result<std::unique_ptr<Interface>> AsInterface(Result<std::unique_ptr<Backend>> opened) {
  if (!opened.ok()) return opened.status();
  return std::unique_ptr<Interface>(std::move(*opened));
}

constexpr int64_t kMaxBusyTimeoutMs = 600'000;

// "sqlite://PATH[?busy-timeout-ms=N]" (5000 ms when not given).
Result<std::unique_ptr<MetricsWarehouse>> OpenSqliteWarehouse(const BackendUrl& url) {
  Result<UrlQuery> query = SplitQuery(url);
  if (!query.ok()) return query.status();
  std::chrono::milliseconds busy_timeout = SqliteWarehouse::kDefaultBusyTimeout;
  for (const auto& [name, value] : query->parameters) {
    if (name != "busy-timeout-ms") {
      return InvalidArgument("warehouse URL \"" + url.text + "\" has an unknown parameter " + name +
                             "; sqlite:// takes only busy-timeout-ms (e.g. "
                             "?busy-timeout-ms=5000)");
    }
    Result<int64_t> ms = ParseBoundedParameter(url, name, value, 0, kMaxBusyTimeoutMs);
    if (!ms.ok()) return ms.status();
    busy_timeout = std::chrono::milliseconds(*ms);
  }
  Result<std::string> path = LocalPathOf(query->without_query);
  if (!path.ok()) return path.status();
  return AsInterface<MetricsWarehouse>(SqliteWarehouse::Open(*path, busy_timeout));
}

// "inproc://[?capacity=N][&lease-ms=N]".
Result<std::unique_ptr<AnalysisQueue>> OpenInprocQueue(const BackendUrl& url) {
  Result<UrlQuery> query = SplitQuery(url);
  if (!query.ok()) return query.status();
  if (!query->without_query.rest.empty()) {
    return InvalidArgument("queue URL \"" + url.text +
                           "\": inproc:// names no host or path; write inproc:// or "
                           "inproc://?capacity=10000&lease-ms=60000");
  }
  InprocQueueOptions options;
  for (const auto& [name, value] : query->parameters) {
    if (name == "capacity") {
      Result<int64_t> n = ParseBoundedParameter(url, name, value, 1, 10'000'000);
      if (!n.ok()) return n.status();
      options.capacity = static_cast<size_t>(*n);
    } else if (name == "lease-ms") {
      Result<int64_t> n = ParseBoundedParameter(url, name, value, 100, 86'400'000);
      if (!n.ok()) return n.status();
      options.lease = std::chrono::milliseconds(*n);
    } else {
      return InvalidArgument("queue URL \"" + url.text + "\" has an unknown parameter " + name +
                             "; inproc:// takes capacity and lease-ms");
    }
  }
  return std::unique_ptr<AnalysisQueue>(std::make_unique<InprocQueue>(options));
}

// file:///path?min-free=<bytes, or with KiB, MiB or GiB>.
Result<std::unique_ptr<FileStateStore>> OpenFileStore(const BackendUrl& url) {
  Result<UrlQuery> query = SplitQuery(url);
  if (!query.ok()) return query.status();
  FileStoreOptions options;
  for (const auto& [name, value] : query->parameters) {
    if (name != "min-free") {
      return InvalidArgument("store URL \"" + url.text + "\" has an unknown parameter " + name +
                             "; file:// takes only min-free");
    }
    const std::optional<uint64_t> bytes = ParseByteCount(value);
    if (!bytes) {
      return InvalidArgument("store URL \"" + url.text + "\": min-free=" + value +
                             " is not a byte count; write a whole number of bytes, optionally "
                             "followed by KiB, MiB or GiB, e.g. min-free=512MiB (0 turns the "
                             "check off)");
    }
    options.min_free_bytes = *bytes;
  }
  Result<std::string> path = LocalPathOf(query->without_query);
  if (!path.ok()) return path.status();
  return FileStateStore::Open(*path, std::move(options));
}

}  // namespace

void RegisterBuiltinBackends(BackendRegistry& registry) {
  registry.RegisterStore("file", [](const BackendUrl& url) -> Result<std::unique_ptr<StateStore>> {
    return AsInterface<StateStore>(OpenFileStore(url));
  });
  registry.RegisterStore("s3", [](const BackendUrl& url) -> Result<std::unique_ptr<StateStore>> {
    Result<S3Credentials> credentials = S3CredentialsFromEnvironment();
    if (!credentials.ok()) return credentials.status();
    return AsInterface<StateStore>(S3StateStore::Open(url.text, *credentials));
  });
  registry.RegisterStore("gs", [](const BackendUrl& url) -> Result<std::unique_ptr<StateStore>> {
    auto tokens = TokenSourceFor("STORAGE_EMULATOR_HOST");
    if (!tokens.ok()) return tokens.status();
    return AsInterface<StateStore>(GcsStateStore::Open(url.text, std::move(*tokens)));
  });
  registry.RegisterWarehouse("sqlite", OpenSqliteWarehouse);
  registry.RegisterQueue("inproc", OpenInprocQueue);
  registry.RegisterQueue("redis",
                         [](const BackendUrl& url) -> Result<std::unique_ptr<AnalysisQueue>> {
                           return AsInterface<AnalysisQueue>(RedisQueue::Open(url.text));
                         });
  registry.RegisterQueue(
      "pubsub", [](const BackendUrl& url) -> Result<std::unique_ptr<AnalysisQueue>> {
        auto tokens = TokenSourceFor("PUBSUB_EMULATOR_HOST");
        if (!tokens.ok()) return tokens.status();
        PubSubQueueOptions options;
        options.warn = [](std::string_view message) { LogWarning(message); };
        return AsInterface<AnalysisQueue>(PubSubQueue::Open(url.text, std::move(*tokens), options));
      });
  auto postgres = [](const BackendUrl& url) -> Result<std::unique_ptr<MetricsWarehouse>> {
    return AsInterface<MetricsWarehouse>(PostgresWarehouse::Open(url.text));
  };
  registry.RegisterWarehouse("postgresql", postgres);
  registry.RegisterWarehouse("postgres", postgres);
  registry.RegisterWarehouse(
      "bigquery", [](const BackendUrl& url) -> Result<std::unique_ptr<MetricsWarehouse>> {
        auto tokens = TokenSourceFor("BIGQUERY_EMULATOR_HOST");
        if (!tokens.ok()) return tokens.status();
        return AsInterface<MetricsWarehouse>(BigQueryWarehouse::Open(url.text, std::move(*tokens)));
      });
}

}  // namespace buildtrace
