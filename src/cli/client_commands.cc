// post, report, jobs and stats: one request (or one per file), the answer printed, the outcome
// turned into an exit status. Every failure is one line on `err` starting "buildtrace COMMAND: ".
#include "cli/client_commands.h"

#include <simdjson.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

namespace buildtrace {
namespace {

constexpr uint64_t kProgressFrom = 1 << 20;  // bodies smaller than this go out without progress

// Connects, or prints why not: kExitUsage for a bad URL or token.
std::optional<ServiceClient> Connect(const ServiceConnection& connection, const char* command,
                                     std::ostream& err) {
  Result<ServiceClient> client = ServiceClient::Connect(connection);
  if (!client.ok()) {
    err << "buildtrace " << command << ": " << client.status().message() << "\n";
    return std::nullopt;
  }
  return std::move(*client);
}

// The outcome of one exchange: the 2xx answer, or the exit status once the reason is printed.
struct Exchange {
  std::optional<HttpResponse> answer;
  int exit_code = 0;
};

// Turns a transport failure or a non-2xx answer into an exit status and a line on `err`;
// `what` names the request in that line ("GET /report/7?project=web", "jobs.json").
Exchange Check(Result<HttpResponse> response, const std::string& what, const char* command,
               int answer_error, std::ostream& err) {
  if (!response.ok()) {
    err << "buildtrace " << command << ": " << what << ": " << response.status().message() << "\n";
    return {std::nullopt, kExitUnreachable};
  }
  if (response->status < 200 || response->status > 299) {
    err << "buildtrace " << command << ": " << what << ": the service answered " << response->status
        << ": " << ServiceErrorText(response->body) << "\n";
    return {std::nullopt, answer_error};
  }
  return {std::move(*response), 0};
}

void PrintBody(const std::string& body, std::ostream& out) {
  out << body;
  if (!body.empty() && body.back() != '\n') out << '\n';
}

Result<std::string> ReadInput(const std::string& path, std::istream& in) {
  std::ostringstream bytes;
  if (path == "-") {
    bytes << in.rdbuf();
    if (in.bad()) return InvalidArgument("cannot read standard input");
    return bytes.str();
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return InvalidArgument(path + ": cannot open the file (" + std::strerror(errno) + ")");
  }
  bytes << file.rdbuf();
  if (file.bad()) return InvalidArgument(path + ": cannot read the file");
  return bytes.str();
}

std::string Mebibytes(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f", static_cast<double>(bytes) / (1 << 20));
  return text;
}

// "\rbuildtrace post: big.json: sent 12.0 of 48.3 MiB (24%)", rewritten in place.
HttpClient::UploadProgress ProgressPrinter(const std::string& name, std::ostream& err) {
  return [name, &err](uint64_t written, uint64_t total) {
    err << "\rbuildtrace post: " << name << ": sent " << Mebibytes(written) << " of "
        << Mebibytes(total) << " MiB (" << (total == 0 ? 100 : written * 100 / total) << "%)"
        << (written == total ? "\n" : "") << std::flush;
  };
}

}  // namespace

int RunPost(const PostOptions& options, std::istream& in, std::ostream& out, std::ostream& err) {
  if (options.files.empty()) {
    err << "buildtrace post: name at least one job file, or - for standard input\n";
    return kExitUsage;
  }
  std::optional<ServiceClient> client = Connect(options.connection, "post", err);
  if (!client) return kExitUsage;
  for (const std::string& path : options.files) {
    Result<std::string> body = ReadInput(path, in);
    if (!body.ok()) {
      err << "buildtrace post: " << body.status().message() << "; nothing more was sent\n";
      return kExitUsage;
    }
    const std::string name = path == "-" ? "standard input" : path;
    const bool progress = options.progress && body->size() >= kProgressFrom;
    client->SetUploadProgress(progress ? ProgressPrinter(name, err) : nullptr);
    Exchange posted =
        Check(client->PostJobs(*body, options.gzip), name, "post", kExitAnswerError, err);
    if (!posted.answer) return posted.exit_code;
    PrintBody(posted.answer->body, out);
  }
  return 0;
}

namespace {

std::string ReportTarget(const ReportOptions& options, const std::string& format,
                         const std::string& extra) {
  std::string target = "/report/" + std::to_string(options.job_id) +
                       "?project=" + EscapeUrlComponent(options.project);
  if (options.base) target += "&base=" + std::to_string(*options.base);
  return target + "&format=" + EscapeUrlComponent(format) + extra;
}

// Whether the JSON report counts any added, removed or modified object; nullopt when it is not
// a report.
std::optional<bool> HasChanges(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json).get(root) != simdjson::SUCCESS) return std::nullopt;
  int64_t total = 0;
  for (const char* pointer :
       {"/metrics/total_added", "/metrics/total_removed", "/metrics/total_modified"}) {
    int64_t count = 0;
    if (root.at_pointer(pointer).get(count) != simdjson::SUCCESS) return std::nullopt;
    total += count;
  }
  return total > 0;
}

}  // namespace

int RunReport(const ReportOptions& options, std::ostream& out, std::ostream& err) {
  constexpr int kTrouble = 2;  // as `buildtrace diff`
  std::optional<ServiceClient> client = Connect(options.connection, "report", err);
  if (!client) return kExitUsage;
  const std::string target = ReportTarget(options, options.format, "");
  Exchange report = Check(client->Get(target), "GET " + target, "report", kTrouble, err);
  if (!report.answer) return report.exit_code;
  std::string counts_json = report.answer->body;
  if (options.format != "json") {
    // After the report itself, so that the report printed is the one a single request gets.
    const std::string counts_target = ReportTarget(options, "json", "&limit=0");
    Exchange counts =
        Check(client->Get(counts_target), "GET " + counts_target, "report", kTrouble, err);
    if (!counts.answer) return counts.exit_code;
    counts_json = counts.answer->body;
  }
  const std::optional<bool> changed = HasChanges(counts_json);
  if (!changed) {
    err << "buildtrace report: the service's JSON report has no metrics; check that "
        << options.connection.url << " is a BuildTrace service\n";
    return kTrouble;
  }
  PrintBody(report.answer->body, out);
  return *changed ? 1 : 0;
}

int RunJobs(const JobsOptions& options, std::ostream& out, std::ostream& err) {
  std::optional<ServiceClient> client = Connect(options.connection, "jobs", err);
  if (!client) return kExitUsage;
  std::string target = "/projects/" + EscapeUrlComponent(options.project) + "/jobs";
  char separator = '?';
  if (options.limit) {
    target += separator + std::string("limit=") + std::to_string(*options.limit);
    separator = '&';
  }
  if (options.before)
    target += separator + std::string("before=") + std::to_string(*options.before);
  Exchange page = Check(client->Get(target), "GET " + target, "jobs", kExitAnswerError, err);
  if (!page.answer) return page.exit_code;
  const std::optional<std::string> table =
      options.table ? JobsTable(page.answer->body) : std::nullopt;
  PrintBody(table ? *table : page.answer->body, out);
  return 0;
}

int RunDeleteProject(const DeleteProjectOptions& options, std::ostream& out, std::ostream& err) {
  if (!options.yes) {
    err << "buildtrace delete-project: this deletes every job, report and metrics row of project "
        << options.project << " for good; add --yes to do it\n";
    return kExitUsage;
  }
  std::optional<ServiceClient> client = Connect(options.connection, "delete-project", err);
  if (!client) return kExitUsage;
  const std::string target = "/projects/" + EscapeUrlComponent(options.project);
  Exchange deleted = Check(client->DeleteProject(options.project), "DELETE " + target,
                           "delete-project", kExitAnswerError, err);
  if (!deleted.answer) return deleted.exit_code;
  PrintBody(deleted.answer->body, out);
  return 0;
}

int RunStats(const StatsOptions& options, std::ostream& out, std::ostream& err) {
  std::optional<ServiceClient> client = Connect(options.connection, "stats", err);
  if (!client) return kExitUsage;
  std::string target = "/stats/latency";
  char separator = '?';
  for (const auto& [name, value] :
       {std::pair<const char*, const std::string&>{"project", options.project},
        {"status", options.status},
        {"window", options.window},
        {"quantiles", options.quantiles}}) {
    if (value.empty()) continue;
    target += separator + std::string(name) + "=" + EscapeUrlComponent(value);
    separator = '&';
  }
  Exchange stats = Check(client->Get(target), "GET " + target, "stats", kExitAnswerError, err);
  if (!stats.answer) return stats.exit_code;
  const std::optional<std::string> table =
      options.table ? StatsTable(stats.answer->body) : std::nullopt;
  PrintBody(table ? *table : stats.answer->body, out);
  return 0;
}

namespace {

using Field = std::optional<simdjson::dom::element>;

// The member `name` of `object`; nullopt when it is absent or `object` is not an object.
Field Member(Field object, const char* name) {
  simdjson::dom::element value;
  if (!object || !object->is_object() || (*object)[name].get(value) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return value;
}

// A number as the service wrote it: whole numbers without a fraction; "-" for null or none.
std::string NumberText(Field value) {
  double number = 0;
  if (!value || value->get_double().get(number) != simdjson::SUCCESS) return "-";
  char text[40];
  std::snprintf(text, sizeof(text), std::nearbyint(number) == number ? "%.0f" : "%.1f", number);
  return text;
}

std::string StringText(Field value) {
  std::string_view text;
  return value && value->get_string().get(text) == simdjson::SUCCESS ? std::string(text) : "-";
}

// Left-aligned columns two spaces apart, each as wide as its widest cell.
std::string Columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string text;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    text += line + "\n";
  }
  return text;
}

}  // namespace

std::optional<std::string> JobsTable(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array jobs;
  if (parser.parse(json).get(root) != simdjson::SUCCESS ||
      root["jobs"].get(jobs) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  std::vector<std::vector<std::string>> rows = {{"JOB", "TIMESTAMP", "STATUS", "LATENCY_MS",
                                                 "ANALYSIS", "BASE", "ADDED", "REMOVED", "MODIFIED",
                                                 "UNCHANGED"}};
  for (simdjson::dom::element element : jobs) {
    const Field job = element;
    const Field counts = Member(job, "counts");
    rows.push_back({NumberText(Member(job, "job_id")), StringText(Member(job, "timestamp")),
                    StringText(Member(job, "status")), NumberText(Member(job, "latency_ms")),
                    StringText(Member(job, "analysis")), NumberText(Member(job, "base_job_id")),
                    NumberText(Member(counts, "added")), NumberText(Member(counts, "removed")),
                    NumberText(Member(counts, "modified")),
                    NumberText(Member(counts, "unchanged"))});
  }
  std::string text = Columns(rows);
  const Field next = Member(root, "next_before");
  if (next && !next->is_null()) text += "more: --before " + NumberText(next) + "\n";
  return text;
}

std::optional<std::string> StatsTable(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::object quantiles;
  int64_t count = 0;
  if (parser.parse(json).get(root) != simdjson::SUCCESS ||
      root["quantiles"].get(quantiles) != simdjson::SUCCESS ||
      root["count"].get(count) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  const Field project = Member(root, "project");
  const bool one_project = project && project->is_string();
  std::string text =
      (one_project ? "project " + StringText(project) : std::string("all projects")) + ", window " +
      StringText(Member(root, "window")) + ", status " + StringText(Member(root, "status")) + ": " +
      std::to_string(count) + " jobs\n";
  std::vector<std::vector<std::string>> rows = {{"QUANTILE", "LATENCY_MS"}};
  for (auto [quantile, value] : quantiles)
    rows.push_back({std::string(quantile), NumberText(Field(value))});
  return text + Columns(rows);
}

}  // namespace buildtrace
