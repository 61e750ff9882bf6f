// Reads a report rendered by RenderReportJson (without its warehouse section) back into a
// Report, so that a comparison computed once can be kept in the store and rendered again in any
// format and with any smaller list limit (DeriveReport) without diffing the states again.
#pragma once

#include <string>

#include "core/report.h"
#include "core/status.h"

namespace buildtrace {

// Parses `json` (with at least simdjson's padding of spare capacity; a string read from a
// StateStore has it). kInvalidArgument naming the first field that is missing or of the wrong
// type. RenderReportJson(ParseReportJson(RenderReportJson(r))) == RenderReportJson(r).
// `recorded_in`, when given, receives the member "recorded_in" that a kept comparison carries (the
// warehouse epoch its row was recorded in; see service/report_service.h), "" when absent.
Result<Report> ParseReportJson(const std::string& json, std::string* recorded_in = nullptr);

// True if `kept` holds everything a report with list limit `limit` shows: its lists were cut at
// `limit` or later, or not cut at all.
bool CanDeriveReport(const Report& kept, size_t limit);

// The report with list limit `limit` (<= what CanDeriveReport allows), exactly as DiffStates with
// that limit would have made it: each list keeps its `limit` smallest IDs.
Report DeriveReport(const Report& kept, size_t limit);

}  // namespace buildtrace
