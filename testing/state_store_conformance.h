// The conformance suite every StateStore implementation passes: the header contract of
// store/state_store.h, turned into tests. A backend's test file instantiates it, e.g.
//
//   INSTANTIATE_TEST_SUITE_P(File, StateStoreConformanceTest,
//                            ::testing::Values(StateStoreFactory{"File", &MakeFreshStore}),
//                            StateStoreFactoryName);
//
// and links the bt_state_store_conformance object library (so the TEST_Ps are registered).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "store/state_store.h"

namespace buildtrace {

struct StateStoreFactory {
  std::string name;  // the test-name suffix, [A-Za-z0-9_] only
  // Returns a new, empty store, not shared with any other call; it cleans up after itself when
  // destroyed. Returning nullptr fails the test.
  std::function<std::unique_ptr<StateStore>()> make;
};

// For INSTANTIATE_TEST_SUITE_P's last argument: names each instantiation after its factory.
std::string StateStoreFactoryName(const ::testing::TestParamInfo<StateStoreFactory>& info);

// Prints the factory's name instead of its bytes in test output.
void PrintTo(const StateStoreFactory& factory, std::ostream* os);

// For a store whose listings come in pages of 10 names (S3's max-keys=10): creates 25 objects
// under p0/ and p1/ and checks that listings of 3 and 2 pages, and of a prefix inside a name,
// come back whole and in order. Fails the calling test otherwise.
void ExpectListingsPageThroughManyKeys(StateStore& store);

class StateStoreConformanceTest : public ::testing::TestWithParam<StateStoreFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // The store under test; valid between SetUp and TearDown.
  StateStore& store() { return *store_; }

 private:
  std::unique_ptr<StateStore> store_;
};

}  // namespace buildtrace
