// How many CPUs this process may use: the CPUs its affinity mask allows, capped by the CPU quota
// of its control group (a container's CPU limit: Kubernetes' `resources.limits.cpu`, Docker's
// `--cpus`), which std::thread::hardware_concurrency() ignores. A process that starts more
// busy threads than its quota allows is throttled: two threads on a 1-CPU quota finish no sooner
// than one and stall the others for the rest of each quota period. Like core/large_memory.h,
// this asks the kernel, and never fails: what it cannot read, it does not count as a limit.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace buildtrace {

// The CPUs available, at least 1: read once per process (the first call), then remembered.
// Thread-safe.
unsigned AvailableCpus();

// The same, read now, for the calling thread's affinity mask (tests).
unsigned CountAvailableCpus();

// The CPUs a CPU quota amounts to, rounded up (a quota of 1.5 CPUs lets 2 threads run part of
// the time): `quota_and_period` is cgroup v2's cpu.max ("150000 100000", or "max 100000" for no
// limit), or cgroup v1's cpu.cfs_quota_us and cpu.cfs_period_us joined by a space ("-1 100000"
// for no limit). Trailing blanks are ignored. nullopt: no limit, or text that is not a quota.
std::optional<unsigned> CpusOfQuota(std::string_view quota_and_period);

// The smallest quota, in CPUs, of the control groups `proc_self_cgroup` (the text of
// /proc/self/cgroup) names and of their ancestors, read under `cgroup_root` (/sys/fs/cgroup):
// cgroup v2's cpu.max, and v1's cpu controller mounted at cpu/ or cpu,cpuacct/. A path that is
// not absolute or has "." or ".." components is ignored. nullopt: no quota anywhere.
std::optional<unsigned> CgroupQuotaCpus(std::string_view proc_self_cgroup,
                                        const std::string& cgroup_root);

}  // namespace buildtrace
