// The embedded backends in a temporary folder.
#include "testing/temp_backends.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace buildtrace {

TempBackends::TempBackends(std::string_view name)
    : folder_(::testing::TempDir() + std::string(name) + "-XXXXXX") {
  if (::mkdtemp(folder_.data()) == nullptr) {
    ADD_FAILURE() << "cannot make a temporary folder " << folder_;
    folder_.clear();
    return;
  }
  auto store = FileStateStore::Open(folder_ + "/store");
  auto warehouse = SqliteWarehouse::Open(db_path());
  if (!store.ok() || !warehouse.ok()) {
    ADD_FAILURE() << (store.ok() ? warehouse.status().message() : store.status().message());
    return;
  }
  file_store_ = std::move(*store);
  sqlite_ = std::move(*warehouse);
  faulty_store_ = std::make_unique<FaultyStateStore>(*file_store_);
  faulty_warehouse_ = std::make_unique<FaultyMetricsWarehouse>(*sqlite_);
}

TempBackends::~TempBackends() {
  faulty_warehouse_.reset();
  faulty_store_.reset();
  sqlite_.reset();
  file_store_.reset();
  if (!folder_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(folder_, ignored);
  }
}

}  // namespace buildtrace
