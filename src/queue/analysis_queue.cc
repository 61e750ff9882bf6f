// The task body shared by every queue.
#include "queue/analysis_queue.h"

#include <simdjson.h>

#include "core/job.h"
#include "core/json_writer.h"

namespace buildtrace {

std::string EncodeAnalysisTask(const AnalysisTask& task) {
  std::string out = "{\"project\":";
  AppendJsonString(out, task.project);
  out += ",\"job_id\":" + std::to_string(task.job_id) + "}";
  return out;
}

Result<AnalysisTask> ParseAnalysisTask(std::string_view body) {
  static constexpr const char* kShape =
      "an analysis task must be {\"project\":\"<name>\",\"job_id\":<id >= 1>}";
  simdjson::dom::parser parser;
  AnalysisTask task;
  bool has_project = false;
  bool has_job_id = false;
  simdjson::dom::object object;
  if (auto error = parser.parse(body.data(), body.size()).get_object().get(object)) {
    return InvalidArgument(std::string(kShape) + "; " + simdjson::error_message(error));
  }
  for (auto [key, value] : object) {
    if (key == "project" && !has_project) {
      std::string_view project;
      if (value.get_string().get(project)) return InvalidArgument(kShape);
      task.project = std::string(project);
      has_project = true;
    } else if (key == "job_id" && !has_job_id) {
      if (value.get_int64().get(task.job_id)) return InvalidArgument(kShape);
      has_job_id = true;
    } else {
      return InvalidArgument(std::string(kShape) + "; unexpected member \"" +
                             std::string(key.substr(0, 64)) + "\"");
    }
  }
  if (!has_project || !has_job_id) return InvalidArgument(kShape);
  if (!IsValidProjectName(task.project)) {
    return InvalidArgument(std::string(kShape) + "; the project name is not valid");
  }
  if (task.job_id < 1) return InvalidArgument(std::string(kShape) + "; job_id is below 1");
  return task;
}

}  // namespace buildtrace
