// The backend registry and the built-in backends.
#include "backends/registry.h"

#include "store/file_state_store.h"
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

void RegisterBuiltinBackends(BackendRegistry& registry) {
  registry.RegisterStore("file", [](const BackendUrl& url) -> Result<std::unique_ptr<StateStore>> {
    Result<std::string> path = LocalPathOf(url);
    if (!path.ok()) return path.status();
    auto store = FileStateStore::Open(*path);
    if (!store.ok()) return store.status();
    return std::unique_ptr<StateStore>(std::move(*store));
  });
  registry.RegisterWarehouse(
      "sqlite", [](const BackendUrl& url) -> Result<std::unique_ptr<MetricsWarehouse>> {
        Result<std::string> path = LocalPathOf(url);
        if (!path.ok()) return path.status();
        auto warehouse = SqliteWarehouse::Open(*path);
        if (!warehouse.ok()) return warehouse.status();
        return std::unique_ptr<MetricsWarehouse>(std::move(*warehouse));
      });
}

}  // namespace buildtrace
