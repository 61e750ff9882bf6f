// Base selection and its explanation.
#include "core/lineage.h"

namespace buildtrace {
namespace {

std::string IdList(const std::vector<int64_t>& ids) {
  constexpr size_t kShown = 10;
  std::string out;
  for (size_t i = 0; i < ids.size() && i < kShown; ++i) {
    if (i) out += ", ";
    out += std::to_string(ids[i]);
  }
  if (ids.size() > kShown) out += " and " + std::to_string(ids.size() - kShown) + " more";
  return out;
}

std::string Plural(int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

Result<BaseSelection> SelectBase(int64_t job_id, std::span<const int64_t> earlier_ids,
                                 const std::function<Result<JobStatus>(int64_t)>& status_of) {
  BaseSelection selection;
  for (auto it = earlier_ids.rbegin(); it != earlier_ids.rend(); ++it) {
    Result<JobStatus> status = status_of(*it);
    if (!status.ok()) return status.status();
    if (*status == JobStatus::kSucceeded) {
      selection.base_job_id = *it;
      break;
    }
    selection.skipped_failed.push_back(*it);
  }
  const int64_t floor = selection.base_job_id.value_or(0);
  selection.missing_ids =
      job_id - floor - 1 - static_cast<int64_t>(selection.skipped_failed.size());
  return selection;
}

BaseSelection ExplicitBase(int64_t base_job_id) {
  BaseSelection selection;
  selection.base_job_id = base_job_id;
  selection.explicit_base = true;
  return selection;
}

std::string ExplainBase(int64_t job_id, const BaseSelection& s) {
  if (s.explicit_base) {
    return "Job " + std::to_string(*s.base_job_id) + " was named as the base by the request.";
  }
  std::string out;
  if (!s.base_job_id) {
    out = "No earlier job succeeded, so every object counts as added";
  } else if (*s.base_job_id == job_id - 1) {
    return "Job " + std::to_string(*s.base_job_id) + " is the previous job.";
  } else {
    out = "Job " + std::to_string(*s.base_job_id) + " is the latest earlier job that succeeded";
  }
  if (s.skipped_failed_capped) {
    out += "; more than " + std::to_string(s.skipped_failed.size()) +
           " failed jobs were skipped, the newest being " + IdList(s.skipped_failed);
  } else if (!s.skipped_failed.empty()) {
    out += s.skipped_failed.size() == 1 ? "; failed job " : "; failed jobs ";
    out +=
        IdList(s.skipped_failed) + (s.skipped_failed.size() == 1 ? " was" : " were") + " skipped";
  }
  if (s.missing_ids > 0) {
    out += "; " + Plural(s.missing_ids, "job ID", "job IDs") + " in between " +
           (s.missing_ids == 1 ? "was" : "were") + " never posted";
  }
  return out + ".";
}

}  // namespace buildtrace
