// The conformance suite every MetricsWarehouse implementation passes. A backend's test binary
// instantiates it with a factory that returns a fresh, empty warehouse on each call:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, MetricsWarehouseConformanceTest,
//                            ::testing::Values(MetricsWarehouseFactory{"sqlite", MakeSqlite}),
//                            MetricsWarehouseFactoryName);
//
// Link the target bt_metrics_warehouse_conformance (an OBJECT library, so the TEST_Ps are kept).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "warehouse/metrics_warehouse.h"

namespace buildtrace {

struct MetricsWarehouseFactory {
  std::string name;  // [A-Za-z0-9_]+, used in test names
  // Returns a new warehouse with no rows; called once per test. Cleanup of whatever backs it
  // (files, schemas) is the returned object's job or the test binary's.
  std::function<std::unique_ptr<MetricsWarehouse>()> make;
  // Optional: opens a second warehouse on the same database as the one `make` returned, given
  // that one's Describe(). Tests that need it are skipped without it.
  std::function<std::unique_ptr<MetricsWarehouse>(const std::string& described)> reopen;
  // Optional: writes `row` into the warehouse given its Describe() as an older version did,
  // bypassing Record (no status; several rows per job allowed). Tests that need it are skipped
  // without it.
  std::function<void(const std::string& described, const MetricsRow& row)> write_old_row;
  // Whether Latency is exact nearest rank for every quantile (BigQuery's is approximate).
  bool exact_quantiles = true;
};

// The INSERT an older version's Record made into the SQL table `table` (no status column, the
// counts 0), for the write_old_row of the SQL backends. The values are the test's own, inlined.
std::string OldMetricsRowInsert(const std::string& table, const MetricsRow& row);

// Names instantiations after the factory, e.g. ".../sqlite".
std::string MetricsWarehouseFactoryName(
    const ::testing::TestParamInfo<MetricsWarehouseFactory>& info);

// Prints the factory's name instead of its bytes in gtest messages.
void PrintTo(const MetricsWarehouseFactory& factory, std::ostream* os);

class MetricsWarehouseConformanceTest : public ::testing::TestWithParam<MetricsWarehouseFactory> {
 protected:
  void SetUp() override;

  std::unique_ptr<MetricsWarehouse> warehouse_;
};

}  // namespace buildtrace
