// Fuzzes DiffStates (core/diff.h) on two parsed job documents. The input is split at the first
// NUL byte: before it the earlier job, after it the later one. Duplicate IDs reach the diff, as
// they do from `buildtrace diff`, since the diff checks them itself. When the diff succeeds its
// counts must account for every object of both states.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/diff.h"
#include "core/job_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace buildtrace;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t split = input.find('\0');
  if (split == std::string_view::npos) return 0;
  ParseLimits limits;
  limits.check_duplicate_ids = false;
  auto before = ParseJobDocument(input.substr(0, split), limits);
  if (!before.ok()) return 0;
  auto after = ParseJobDocument(input.substr(split + 1), limits);
  if (!after.ok()) return 0;
  const JobState& b = (*before)->jobs()[0].state;
  const JobState& a = (*after)->jobs()[0].state;
  auto diff = DiffStates(b, a, 3);
  if (!diff.ok()) return 0;
  const DiffCounts& c = diff->counts;
  if (c.added + c.unchanged + c.modified() != static_cast<int64_t>(a.size())) std::abort();
  if (c.removed + c.unchanged + c.modified() != static_cast<int64_t>(b.size())) std::abort();
  if (diff->added.size() > 3 || diff->removed.size() > 3) std::abort();
  return 0;
}
