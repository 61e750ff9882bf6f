// The fast path of the job parser for the common shape of a state: a flat object of plain hash
// strings, {"D003": "door_10_20_5_5", ...}, most of a large document's bytes. Scanned here in one
// pass of our own, eight bytes at a time, into entries that point into the document, it needs no
// simdjson structural index (4 bytes per JSON token: 16 MiB for a 1M-object state) and no
// On-Demand walk; the rest of the document, the header, is parsed by the full parser as before,
// with the state's value replaced by {} (job_parser.cc). Anything else, anywhere in the state
// (an escape, a structured value, an empty or over-long ID or hash, more objects than allowed,
// bytes that are not UTF-8, JSON that is not well formed), or a document larger than simdjson
// takes (4 GiB), and the document goes to the full
// parser whole, which gives the same answer and the same errors as if there were no fast path.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "core/job_parser.h"
#include "core/job_state.h"

namespace buildtrace {

struct FlatState {
  size_t begin = 0;      // the state value's first byte ('{') in the document
  size_t end = 0;        // one past its last ('}')
  JobState state;        // its entries, in document order, pointing into the document
  bool compact = false;  // no blank between its tokens: the bytes are the state's stored form
};

// Finds the top-level "state" member of the job object `document` and scans its value.
// `document` must be readable for simdjson::SIMDJSON_PADDING bytes past its end (the padding; its
// contents do not matter). nullopt: the document or its state is not of the shape above, and the
// full parser decides. The entries are checked as the full parser checks them (IDs of 1 to
// limits.max_id_bytes bytes, hashes of 1 to limits.max_hash_bytes, at most limits.max_objects),
// except for repeated IDs, which the caller checks as it does for any state.
std::optional<FlatState> ScanFlatState(std::string_view document, const ParseLimits& limits);

// Whether the job parser tries ScanFlatState first: on unless BUILDTRACE_FLAT_STATES=0 in the
// environment when the process starts, or changed here (tests compare both ways). Thread-safe.
bool FlatStatesEnabled();
void SetFlatStatesEnabled(bool on);

}  // namespace buildtrace
