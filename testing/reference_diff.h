// A reference for the randomized tests of the fast paths (the diff's lockstep walk and index,
// the parser's in-place strings, mapped inputs): the obvious diff over std::maps, and job
// documents whose strings are escaped at random so the parser's escaped path is taken as often
// as its plain one.
#pragma once

#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/diff.h"
#include "core/job.h"

namespace buildtrace {

// The obvious diff: both states in std::maps (which order std::string by bytes).
DiffResult ReferenceDiff(const JobState& before, const JobState& after, size_t limit);

// EXPECTs that the two diffs agree in every count, list and flag; `context` names the case.
void ExpectSameDiff(const DiffResult& got, const DiffResult& want, const std::string& context);

// Writes `s` as a JSON string, escaping as JSON requires and, at random, also spelling plain
// ASCII letters as \u00XX.
void AppendRandomlyEscaped(std::string& out, std::string_view s, std::mt19937_64& rng);

// A job document (job 1) whose state holds `objects` in this order, randomly escaped and spaced.
std::string JobDocument(const std::vector<std::pair<std::string, std::string>>& objects,
                        std::mt19937_64& rng);

// Copies the entries' strings into `buffer` (its old content discarded), each ID followed by 0-15
// bytes chosen at random and then its value, as a parser that points into one buffer leaves them,
// and returns views of the copies. A JobState built from them takes the compact layout
// (job_state.h) unless an entry is structured or too long for it. `buffer` must not change while
// the views are used.
std::vector<StateEntry> LaidOutInOneBuffer(const std::vector<StateEntry>& entries,
                                           std::string& buffer, std::mt19937_64& rng);

}  // namespace buildtrace
