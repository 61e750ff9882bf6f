// `buildtrace diff PREV.json CUR.json`: the service's comparison and report, offline, on two job
// files (the JSON of one job, as posted to /process or returned by GET /jobs/{id}).
#pragma once

#include <cstddef>
#include <iosfwd>
#include <string>

namespace buildtrace {

struct DiffOptions {
  std::string previous_path;
  std::string current_path;
  std::string format = "text";  // "text" or "json"
  size_t limit = 1000;
};

// Writes the report to `out`. Returns 0 when nothing changed, 1 when something did (as diff(1)
// does), 2 on trouble (unreadable or invalid file: the reason goes to `err`).
int RunDiff(const DiffOptions& options, std::ostream& out, std::ostream& err);

}  // namespace buildtrace
