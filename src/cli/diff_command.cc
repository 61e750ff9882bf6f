// The offline diff: the same parser, diff and renderer as the service, without store or warehouse.
#include "cli/diff_command.h"

#include <future>
#include <ostream>

#include "core/diff.h"
#include "core/job_parser.h"
#include "core/report.h"
#include "store/input_file.h"

namespace buildtrace {
namespace {

Result<std::unique_ptr<ParsedJobs>> LoadJobFile(const std::string& path) {
  // Mapped, not read (store/input_file.h); any size the machine can map.
  Result<InputBytes> bytes = ReadInputFile(path, static_cast<size_t>(-1));
  if (!bytes.ok()) return bytes.status();
  ParseLimits limits;
  limits.check_duplicate_ids = false;  // DiffStates checks, as part of its own work
  auto parsed = ParseJobDocument(std::move(*bytes), limits);
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
  // The two files are read and parsed at the same time, on two threads: parsing is most of a
  // diff's time, and the files are independent until the diff.
  auto pending_previous =
      std::async(std::launch::async, [&] { return LoadJobFile(options.previous_path); });
  auto current = LoadJobFile(options.current_path);
  auto previous = pending_previous.get();
  if (!previous.ok()) return ReportError(previous.status(), err);
  if (!current.ok()) return ReportError(current.status(), err);
  const Job& before = (*previous)->jobs().front();
  const Job& after = (*current)->jobs().front();
  Report report;
  report.job = after.header;
  report.object_count = static_cast<int64_t>(after.state.size());
  report.base = ExplicitBase(before.header.job_id);
  report.limit = options.limit;
  Result<DiffResult> diff = DiffStates(before.state, after.state, options.limit);
  if (!diff.ok()) return ReportError(diff.status(), err);
  report.diff = std::move(*diff);
  out << (options.format == "json" ? RenderReportJson(report) : RenderReportText(report));
  const DiffCounts& c = report.diff.counts;
  return c.added + c.removed + c.modified() == 0 ? 0 : 1;
}

}  // namespace buildtrace
