// Small helpers of the job model.
#include "core/job.h"

namespace buildtrace {

const char* JobStatusName(JobStatus status) {
  return status == JobStatus::kSucceeded ? "succeeded" : "failed";
}

bool IsValidProjectName(std::string_view project) {
  if (project.empty() || project.size() > 128) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(project[0])) return false;
  for (char c : project) {
    if (!alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace buildtrace
