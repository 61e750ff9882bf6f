// The embedded backends in a temporary folder.
#include "testing/temp_backends.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <string_view>

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

std::vector<MetricsRow> ReadSqliteRows(const std::string& db_path) {
  std::vector<MetricsRow> rows;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << db_path << ": " << sqlite3_errmsg(db);
    sqlite3_close(db);
    return rows;
  }
  sqlite3_stmt* statement = nullptr;
  const char* sql =
      "SELECT project, job_id, base_job_id, timestamp, timestamp_ms, latency_ms, added, removed, "
      "modified, unchanged, moved, resized, retyped, changed, status FROM job_metrics "
      "ORDER BY project, job_id, base_job_id";
  if (sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot query " << db_path << ": " << sqlite3_errmsg(db);
  } else {
    while (sqlite3_step(statement) == SQLITE_ROW) {
      MetricsRow row;
      row.project = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
      row.job_id = sqlite3_column_int64(statement, 1);
      if (const int64_t base = sqlite3_column_int64(statement, 2); base != 0) {
        row.base_job_id = base;
      }
      row.timestamp = reinterpret_cast<const char*>(sqlite3_column_text(statement, 3));
      row.timestamp_ms = sqlite3_column_int64(statement, 4);
      row.latency_ms = sqlite3_column_double(statement, 5);
      int64_t* counts[] = {&row.added, &row.removed, &row.modified, &row.unchanged,
                           &row.moved, &row.resized, &row.retyped,  &row.changed};
      for (int i = 0; i < 8; ++i) *counts[i] = sqlite3_column_int64(statement, 6 + i);
      // NULL (a row written before statuses were stored) reads as succeeded, as queries do.
      const unsigned char* status = sqlite3_column_text(statement, 14);
      if (status != nullptr &&
          std::string_view(reinterpret_cast<const char*>(status)) == "failed") {
        row.status = JobStatus::kFailed;
      }
      rows.push_back(row);
    }
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return rows;
}

}  // namespace buildtrace
