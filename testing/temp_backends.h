// TempBackends: the embedded backends (a FileStateStore and a SqliteWarehouse) in a fresh
// temporary folder, each behind its fault-injecting wrapper, for the tests of the service and
// the API. The folder and everything in it are removed on destruction.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/file_state_store.h"
#include "testing/faulty_metrics_warehouse.h"
#include "testing/faulty_state_store.h"
#include "warehouse/sqlite_warehouse.h"

namespace buildtrace {

class TempBackends {
 public:
  // Makes "<gtest temp dir><name>-XXXXXX" with the store in "store/" and the warehouse in
  // "metrics.db"; a failure is a test failure, and then ok() is false.
  explicit TempBackends(std::string_view name);
  ~TempBackends();
  TempBackends(const TempBackends&) = delete;
  TempBackends& operator=(const TempBackends&) = delete;

  bool ok() const { return faulty_warehouse_ != nullptr; }
  const std::string& folder() const { return folder_; }
  std::string db_path() const { return folder_ + "/metrics.db"; }

  // The real backends, to look at (or change) behind the wrappers' backs; null unless ok().
  FileStateStore* file_store() { return file_store_.get(); }
  SqliteWarehouse* sqlite() { return sqlite_.get(); }
  // The wrappers, for the code under test; null unless ok().
  FaultyStateStore* store() { return faulty_store_.get(); }
  FaultyMetricsWarehouse* warehouse() { return faulty_warehouse_.get(); }

 private:
  std::string folder_;
  std::unique_ptr<FileStateStore> file_store_;
  std::unique_ptr<SqliteWarehouse> sqlite_;
  std::unique_ptr<FaultyStateStore> faulty_store_;
  std::unique_ptr<FaultyMetricsWarehouse> faulty_warehouse_;
};

// Every row of a SQLite warehouse file, read with SQLite directly (not through the class under
// test), ordered by key. A missing base (stored as 0) reads back as nullopt.
std::vector<MetricsRow> ReadSqliteRows(const std::string& db_path);

}  // namespace buildtrace
