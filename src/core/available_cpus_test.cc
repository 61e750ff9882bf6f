// Tests of the CPU budget: quotas in both cgroup versions' forms, the walk up a control group's
// ancestors in a tree laid out as /sys/fs/cgroup is, and the affinity mask of the calling thread.
#include "core/available_cpus.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace buildtrace {
namespace {

namespace fs = std::filesystem;

TEST(CpusOfQuotaTest, RoundsUpAndKnowsBothVersionsUnlimited) {
  EXPECT_EQ(CpusOfQuota("100000 100000"), 1u);
  EXPECT_EQ(CpusOfQuota("150000 100000\n"), 2u);  // 1.5 CPUs: two threads may run
  EXPECT_EQ(CpusOfQuota("50000 100000"), 1u);
  EXPECT_EQ(CpusOfQuota("400000 100000"), 4u);
  EXPECT_EQ(CpusOfQuota("max 100000\n"), std::nullopt);  // v2: no limit
  EXPECT_EQ(CpusOfQuota("-1 100000"), std::nullopt);     // v1: no limit
  for (std::string_view bad :
       {"", "100000", " 100000", "0 100000", "100000 0", "1e5 100000", "100000 x", "-5 100000"}) {
    EXPECT_EQ(CpusOfQuota(bad), std::nullopt) << bad;
  }
}

class CgroupTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "bt-cgroup-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }
  void Write(const std::string& relative, const std::string& text) {
    fs::create_directories((fs::path(root_) / relative).parent_path());
    std::ofstream(fs::path(root_) / relative) << text;
  }
  std::string root_;
};

TEST_F(CgroupTreeTest, Version2TakesTheSmallestQuotaOfTheGroupAndItsAncestors) {
  Write("cpu.max", "max 100000\n");
  Write("kubepods/cpu.max", "800000 100000\n");
  Write("kubepods/pod1/cpu.max", "150000 100000\n");
  Write("kubepods/pod1/app/cpu.max", "max 100000\n");
  EXPECT_EQ(CgroupQuotaCpus("0::/kubepods/pod1/app\n", root_), 2u);
  EXPECT_EQ(CgroupQuotaCpus("0::/kubepods\n", root_), 8u);
  EXPECT_EQ(CgroupQuotaCpus("0::/\n", root_), std::nullopt);
  EXPECT_EQ(CgroupQuotaCpus("0::/elsewhere\n", root_), std::nullopt);  // no files: no limit
}

TEST_F(CgroupTreeTest, Version1ReadsTheCpuControllerWhereverItIsMounted) {
  Write("cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "50000\n");
  Write("cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  const std::string v1 = "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n";
  EXPECT_EQ(CgroupQuotaCpus(v1, root_), 1u);
  Write("cpu/docker/abc/cpu.cfs_quota_us", "300000\n");
  Write("cpu/docker/abc/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(CgroupQuotaCpus(v1, root_), 3u);  // the first mount found is read
  Write("cpu/docker/abc/cpu.cfs_quota_us", "-1\n");
  EXPECT_EQ(CgroupQuotaCpus(v1, root_), 1u);  // unlimited there: the other mount's
}

TEST_F(CgroupTreeTest, PathsThatLeaveTheHierarchyAreIgnored) {
  Write("cpu.max", "100000 100000\n");
  Write("a/cpu.max", "200000 100000\n");
  EXPECT_EQ(CgroupQuotaCpus("0::/a/../..\n", root_), std::nullopt);
  EXPECT_EQ(CgroupQuotaCpus("0::a\n", root_), std::nullopt);
  EXPECT_EQ(CgroupQuotaCpus("0::/a/./b\n", root_), std::nullopt);
  EXPECT_EQ(CgroupQuotaCpus("garbage\n\n::\n", root_), std::nullopt);
  EXPECT_EQ(CgroupQuotaCpus("0::/a\n", root_), 1u);  // its own 2, and the root's 1
}

TEST(AvailableCpusTest, CountsTheCallingThreadsAffinityMask) {
  cpu_set_t all;
  ASSERT_EQ(sched_getaffinity(0, sizeof(all), &all), 0);
  const unsigned allowed = static_cast<unsigned>(CPU_COUNT(&all));
  EXPECT_GE(CountAvailableCpus(), 1u);
  EXPECT_LE(CountAvailableCpus(), allowed);
  EXPECT_EQ(AvailableCpus(), AvailableCpus());
  int first = 0;
  while (!CPU_ISSET(first, &all)) ++first;
  unsigned pinned = 0;
  std::thread([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    if (sched_setaffinity(0, sizeof(one), &one) == 0) pinned = CountAvailableCpus();
  }).join();
  EXPECT_EQ(pinned, 1u);
}

}  // namespace
}  // namespace buildtrace
