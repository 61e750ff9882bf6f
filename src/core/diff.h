// The comparison of two job states: which objects were added, removed, modified (and how) or left
// unchanged. Counts are always exact; the lists hold at most `limit` IDs per kind, sorted by ID
// bytes, so a report on a million objects stays small and is the same whatever the key order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/job.h"
#include "core/status.h"

namespace buildtrace {

// How a modified object changed, judged from its geometry (see pseudo_hash.h). When several
// aspects changed the strongest wins: retyped over resized over moved.
enum class ChangeKind {
  kMoved,    // same type and size, position changed
  kResized,  // same type, size changed (position may have changed too)
  kRetyped,  // type changed
  kChanged,  // anything else: hashes without geometry, or other attributes changed
};

const char* ChangeKindName(ChangeKind kind);  // "moved", "resized", "retyped", "changed"

// Classifies a modified object from its two values (hash strings or canonical JSON).
ChangeKind ClassifyChange(const StateEntry& before, const StateEntry& after);

struct DiffCounts {
  int64_t added = 0;
  int64_t removed = 0;
  int64_t unchanged = 0;
  int64_t moved = 0;
  int64_t resized = 0;
  int64_t retyped = 0;
  int64_t changed = 0;

  int64_t modified() const { return moved + resized + retyped + changed; }
  bool operator==(const DiffCounts&) const = default;
};

struct ModifiedObject {
  std::string id;
  ChangeKind kind = ChangeKind::kChanged;
  std::string before;  // the hash, or the canonical JSON of a structured object
  std::string after;
  bool before_structured = false;
  bool after_structured = false;

  bool operator==(const ModifiedObject&) const = default;
};

// Where an added object appeared: its type and position, for objects with a geometry.
struct Placement {
  std::string type;
  double x = 0, y = 0;

  bool operator==(const Placement&) const = default;
};

struct DiffResult {
  DiffCounts counts;
  std::vector<std::string> added;  // sorted, at most `limit`
  // Parallel to `added`: where each appeared; nullopt for an object without geometry.
  std::vector<std::optional<Placement>> added_at;
  std::vector<std::string> removed;      // sorted, at most `limit`
  std::vector<ModifiedObject> modified;  // by kind (moved, resized, retyped, changed), then ID;
                                         // at most `limit` of each kind
  bool truncated = false;                // some list stopped at `limit`
};

// Compares `before` with `after`. Objects present in both with equal values are unchanged; a
// structured value and a hash string are never equal. kInvalidArgument, naming the ID and the
// job, if either state holds an ID twice (the diff checks this itself, so that parsing for a
// diff can skip the check; see ParseLimits::check_duplicate_ids).
//
// Cost: one pass that walks both states in lockstep while their IDs agree, and looks an ID up in
// a flat index of `before` when they do not, after which the walk continues from where that ID
// was found. Same-order states cost about one comparison per object; shuffled ones one lookup.
// `threads`: 1 or 2 threads build the index and walk (each its own half of the entries); 0, the
// default, takes two for the index when `before` holds 2^17 entries or more, and for the walk
// when `after` does, if the machine has two hardware threads or more (IndexThreadsFor). The answer,
// errors included, is the same either way. States of more than 2^32 entries are refused
// (kInvalidArgument).
Result<DiffResult> DiffStates(const JobState& before, const JobState& after, size_t limit,
                              unsigned threads = 0);

}  // namespace buildtrace
