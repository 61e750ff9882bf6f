// The backend registry and the built-in backends.
#include "backends/registry.h"

#include <charconv>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "cloud/google_auth.h"
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

// The busy timeout of "busy-timeout-ms=N", the one parameter a sqlite:// URL takes.
Result<std::chrono::milliseconds> ParseSqliteQuery(const std::string& url, std::string_view query) {
  constexpr std::string_view kName = "busy-timeout-ms=";
  auto invalid = [&](const std::string& why) {
    return InvalidArgument("backend URL \"" + url + "\": " + why);
  };
  if (!query.starts_with(kName)) {
    return invalid(
        "sqlite:// takes only the parameter busy-timeout-ms (e.g. ?busy-timeout-ms=5000)");
  }
  const std::string_view digits = query.substr(kName.size());
  int64_t value = -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value < 0 ||
      value > kMaxBusyTimeoutMs) {
    return invalid("busy-timeout-ms must be a number of milliseconds from 0 to 600000");
  }
  return std::chrono::milliseconds(value);
}

// "sqlite://PATH[?busy-timeout-ms=N]" (5000 ms when not given).
Result<std::unique_ptr<MetricsWarehouse>> OpenSqliteWarehouse(const BackendUrl& url) {
  BackendUrl location = url;
  std::chrono::milliseconds busy_timeout = SqliteWarehouse::kDefaultBusyTimeout;
  if (const size_t question = url.rest.find('?'); question != std::string::npos) {
    location.rest = url.rest.substr(0, question);
    Result<std::chrono::milliseconds> parsed =
        ParseSqliteQuery(url.text, std::string_view(url.rest).substr(question + 1));
    if (!parsed.ok()) return parsed.status();
    busy_timeout = *parsed;
  }
  Result<std::string> path = LocalPathOf(location);
  if (!path.ok()) return path.status();
  return AsInterface<MetricsWarehouse>(SqliteWarehouse::Open(*path, busy_timeout));
}

}  // namespace

void RegisterBuiltinBackends(BackendRegistry& registry) {
  registry.RegisterStore("file", [](const BackendUrl& url) -> Result<std::unique_ptr<StateStore>> {
    Result<std::string> path = LocalPathOf(url);
    if (!path.ok()) return path.status();
    return AsInterface<StateStore>(FileStateStore::Open(*path));
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
