// The offline diff: the same parser, diff and renderer as the service, without store or warehouse.
#include "cli/diff_command.h"

#include <ostream>

#include "core/diff.h"
#include "core/job_parser.h"
#include "core/report.h"

namespace buildtrace {
namespace {

Result<std::unique_ptr<ParsedJobs>> LoadJobFile(const std::string& path,
                                                simdjson::padded_string& buffer) {
  if (auto e = simdjson::padded_string::load(path).get(buffer)) {
    return InvalidArgument(path + ": cannot read the file (" + simdjson::error_message(e) + ")");
  }
  auto parsed = ParseJobDocument(buffer, ParseLimits{});
  if (!parsed.ok()) return parsed.status().WithContext(path + ": ");
  return parsed;
}

int ReportError(const Status& status, std::ostream& err) {
  err << "buildtrace diff: " << status.message() << "\n";
  for (const StatusDetail& d : status.details()) {
    err << "  " << (d.field.empty() ? std::string("(document)") : d.field) << ": " << d.message
        << "\n";
  }
  return 2;
}

}  // namespace

int RunDiff(const DiffOptions& options, std::ostream& out, std::ostream& err) {
  if (options.format != "text" && options.format != "json") {
    err << "buildtrace diff: --format must be text or json\n";
    return 2;
  }
  simdjson::padded_string previous_buffer, current_buffer;
  auto previous = LoadJobFile(options.previous_path, previous_buffer);
  if (!previous.ok()) return ReportError(previous.status(), err);
  auto current = LoadJobFile(options.current_path, current_buffer);
  if (!current.ok()) return ReportError(current.status(), err);
  const Job& before = (*previous)->jobs().front();
  const Job& after = (*current)->jobs().front();
  Report report;
  report.job = after.header;
  report.object_count = static_cast<int64_t>(after.state.size());
  report.base = ExplicitBase(before.header.job_id);
  report.limit = options.limit;
  report.diff = DiffStates(before.state, after.state, options.limit);
  out << (options.format == "json" ? RenderReportJson(report) : RenderReportText(report));
  const DiffCounts& c = report.diff.counts;
  return c.added + c.removed + c.modified() == 0 ? 0 : 1;
}

}  // namespace buildtrace
