// The command line as a client of a running service: `buildtrace post`, `report`, `jobs`,
// `stats` and `delete-project` send one request each (post: one per file) with the URL and token of
// ServiceConnection (--url/--token, or BUILDTRACE_URL/BUILDTRACE_TOKEN) and print the answer.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "client/service_client.h"

namespace buildtrace {

// Exit statuses shared by the client commands (`report` has its own 0 and 1, as `diff`).
inline constexpr int kExitAnswerError = 1;  // the service answered 4xx or 5xx (message on stderr)
inline constexpr int kExitUsage = 2;        // bad options, an unreadable file
inline constexpr int kExitUnreachable = 3;  // no answer: refused, reset, timed out

struct PostOptions {
  ServiceConnection connection;
  std::vector<std::string> files;  // job files or JSON arrays of jobs; "-" is standard input
  bool gzip = true;                // Content-Encoding: gzip on the wire
  bool progress = false;           // upload progress on `err` (stderr is a terminal)
};

// POSTs each file to /process, in order, and prints each answer's body on `out`. Stops at the
// first file that is not accepted. Returns 0 when every answer was 2xx, kExitAnswerError after a
// 4xx/5xx answer (the file and the service's message on `err`), kExitUsage when a file cannot be
// read (nothing after it is sent), kExitUnreachable when the service does not answer.
int RunPost(const PostOptions& options, std::istream& in, std::ostream& out, std::ostream& err);

struct ReportOptions {
  ServiceConnection connection;
  int64_t job_id = 0;
  std::string project = "default";
  std::optional<int64_t> base;  // compare with this job instead of lineage's base
  std::string format = "text";  // json, text or classic: passed to the service as it is
};

// GETs /report/{job}?project=P[&base=B]&format=F and prints the body on `out`. Exits as
// `buildtrace diff` does: 0 when nothing changed, 1 when something did (added, removed or
// modified objects), 2 on trouble (bad options, or the service answered 4xx/5xx: its message on
// `err`), and kExitUnreachable when the service does not answer. For a format other than json,
// the counts come from a second request, /report/{job}?...&format=json&limit=0.
int RunReport(const ReportOptions& options, std::ostream& out, std::ostream& err);

struct JobsOptions {
  ServiceConnection connection;
  std::string project = "default";
  std::optional<int> limit;       // jobs on the page, 1-1000; the service's default (50)
  std::optional<int64_t> before;  // only jobs with a smaller job_id
  bool table = false;             // a table instead of the JSON (stdout is a terminal)
};

// GETs /projects/{project}/jobs and prints the JSON answer, or a table. Returns 0, or the
// shared exit statuses above.
int RunJobs(const JobsOptions& options, std::ostream& out, std::ostream& err);

struct StatsOptions {
  ServiceConnection connection;
  std::string project;    // empty: every project
  std::string status;     // succeeded, failed or all; empty: the service's (succeeded)
  std::string window;     // e.g. 7d; empty: the service's (30d)
  std::string quantiles;  // e.g. 0.5,0.99; empty: the service's
  bool table = false;
};

// GETs /stats/latency and prints the JSON answer, or a table. Exit statuses as for RunJobs.
int RunStats(const StatsOptions& options, std::ostream& out, std::ostream& err);

struct DeleteProjectOptions {
  ServiceConnection connection;
  std::string project;
  bool yes = false;  // --yes: the confirmation; without it nothing is sent
};

// DELETE /projects/{project}: prints the service's JSON answer (what was deleted) on `out`.
// Without `yes`, sends nothing and returns kExitUsage with a message to add --yes. Otherwise
// exit statuses as for RunJobs.
int RunDeleteProject(const DeleteProjectOptions& options, std::ostream& out, std::ostream& err);

// The tables of `jobs` and `stats` for a terminal, from the service's JSON answers; nullopt
// when the answer does not have the documented shape (the JSON is printed instead).
std::optional<std::string> JobsTable(const std::string& json);
std::optional<std::string> StatsTable(const std::string& json);

}  // namespace buildtrace
