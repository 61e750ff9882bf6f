// The diff: a lockstep walk while both states list the same IDs in the same order (what real
// pipelines emit), resynchronised through a flat index of the earlier state wherever they differ.
#include "core/diff.h"

#include <algorithm>
#include <array>
#include <string_view>
#include <unordered_set>

#include "core/pseudo_hash.h"
#include "core/state_index.h"

namespace buildtrace {
namespace {

// Accumulates the comparison; keeps views only, copies just the listed entries at the end.
class DiffCollector {
 public:
  void Compare(const StateEntry& before, const StateEntry& after) {
    if (before.structured == after.structured && before.value == after.value) {
      ++counts_.unchanged;
      return;
    }
    const ChangeKind kind = ClassifyChange(before, after);
    switch (kind) {
      case ChangeKind::kMoved:
        ++counts_.moved;
        break;
      case ChangeKind::kResized:
        ++counts_.resized;
        break;
      case ChangeKind::kRetyped:
        ++counts_.retyped;
        break;
      case ChangeKind::kChanged:
        ++counts_.changed;
        break;
    }
    modified_[static_cast<size_t>(kind)].push_back({before, after});
  }
  void Added(const StateEntry& entry) {
    ++counts_.added;
    added_.push_back(entry);
  }
  void Removed(const StateEntry& entry) {
    ++counts_.removed;
    removed_.push_back(entry.id);
  }

  DiffResult Finish(size_t limit);

 private:
  // Views by value: a JobState's entries are packed, so there is no StateEntry to point at.
  struct Pair {
    StateEntry before;
    StateEntry after;
  };

  // Sorts the first min(limit, size) elements of `items` by `key` and drops the rest.
  template <typename T, typename Key>
  bool KeepSmallest(std::vector<T>& items, size_t limit, Key key) {
    auto less = [&key](const T& a, const T& b) { return key(a) < key(b); };
    const bool truncated = items.size() > limit;
    if (truncated) {
      std::nth_element(items.begin(), items.begin() + limit, items.end(), less);
      items.resize(limit);
    }
    std::sort(items.begin(), items.end(), less);
    return truncated;
  }

  DiffCounts counts_;
  std::vector<StateEntry> added_;
  std::vector<std::string_view> removed_;
  std::array<std::vector<Pair>, 4> modified_;
};

DiffResult DiffCollector::Finish(size_t limit) {
  DiffResult result;
  result.counts = counts_;
  auto id = [](std::string_view v) { return v; };
  result.truncated |= KeepSmallest(added_, limit, [](const StateEntry& e) { return e.id; });
  result.truncated |= KeepSmallest(removed_, limit, id);
  for (const StateEntry& e : added_) {
    result.added.emplace_back(e.id);
    std::optional<Geometry> g = GeometryOf(e.value, e.structured);
    result.added_at.push_back(
        g ? std::optional<Placement>(Placement{std::move(g->type), g->x, g->y}) : std::nullopt);
  }
  result.removed.assign(removed_.begin(), removed_.end());
  for (size_t k = 0; k < modified_.size(); ++k) {
    auto& pairs = modified_[k];
    result.truncated |= KeepSmallest(pairs, limit, [](const Pair& p) { return p.after.id; });
    for (const Pair& p : pairs) {
      result.modified.push_back({std::string(p.after.id), static_cast<ChangeKind>(k),
                                 std::string(p.before.value), std::string(p.after.value),
                                 p.before.structured, p.after.structured});
    }
  }
  return result;
}

}  // namespace

const char* ChangeKindName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kMoved:
      return "moved";
    case ChangeKind::kResized:
      return "resized";
    case ChangeKind::kRetyped:
      return "retyped";
    case ChangeKind::kChanged:
      return "changed";
  }
  return "changed";
}

ChangeKind ClassifyChange(const StateEntry& before, const StateEntry& after) {
  const std::optional<Geometry> b = GeometryOf(before.value, before.structured);
  if (!b) return ChangeKind::kChanged;
  const std::optional<Geometry> a = GeometryOf(after.value, after.structured);
  if (!a || a->rest != b->rest) return ChangeKind::kChanged;
  if (a->type != b->type) return ChangeKind::kRetyped;
  if (a->w != b->w || a->h != b->h) return ChangeKind::kResized;
  if (a->x != b->x || a->y != b->y) return ChangeKind::kMoved;
  return ChangeKind::kChanged;  // same geometry spelled differently, e.g. "1" and "1.0"
}

namespace {

// Finds IDs of `after` in the index of `before` while the lockstep walk is lost (shuffled or
// reordered states). Each lookup is prepared in three stages a few entries ahead — hash and
// prefetch the slot; read the slot and prefetch the entry; read the entry and prefetch the ID's
// bytes — so that the cache misses of consecutive lookups overlap instead of queueing.
class PipelinedFinder {
 public:
  PipelinedFinder(const StateIndex& index, const JobState& before, const JobState& after)
      : index_(index), before_(before), after_(after) {}

  size_t Find(size_t j) {
    const size_t n = after_.size();
    if (hashed_ < j) hashed_ = slotted_ = entered_ = j;
    for (; hashed_ < std::min(n, j + 3 * kStage); ++hashed_) {
      hashes_[hashed_ % kRing] = HashId(after_[hashed_].id);
      index_.PrefetchSlot(hashes_[hashed_ % kRing]);
    }
    for (; slotted_ < std::min(hashed_, j + 2 * kStage); ++slotted_) {
      candidates_[slotted_ % kRing] = index_.Candidate(hashes_[slotted_ % kRing]);
      if (candidates_[slotted_ % kRing] != StateIndex::kNotFound) {
        __builtin_prefetch(before_.EntryAddress(candidates_[slotted_ % kRing]));
      }
    }
    for (; entered_ < std::min(slotted_, j + kStage); ++entered_) {
      if (candidates_[entered_ % kRing] != StateIndex::kNotFound) {
        __builtin_prefetch(before_[candidates_[entered_ % kRing]].id.data());
      }
    }
    return index_.Find(after_[j].id, hashes_[j % kRing]);
  }

 private:
  static constexpr size_t kStage = 8;
  static constexpr size_t kRing = 4 * kStage;

  const StateIndex& index_;
  const JobState& before_;
  const JobState& after_;
  uint64_t hashes_[kRing];
  size_t candidates_[kRing];
  size_t hashed_ = 0, slotted_ = 0, entered_ = 0;  // stages done for entries below these
};

Status DuplicateId(std::string_view id, const char* which) {
  std::string shown(id.substr(0, 64));
  return InvalidArgument("object ID \"" + shown + "\" appears twice in the " + which +
                         " job; each object must appear once");
}

}  // namespace

Result<DiffResult> DiffStates(const JobState& before, const JobState& after, size_t limit) {
  DiffCollector collector;
  if (before.empty()) {
    // Nothing to join with: every object is added, and the index only checks for duplicates.
    if (auto dup = StateIndex(after).duplicate()) return DuplicateId(*dup, "current");
    for (const StateEntry& entry : after) collector.Added(entry);
    return collector.Finish(limit);
  }
  const StateIndex index(before);
  if (auto dup = index.duplicate()) return DuplicateId(*dup, "earlier");
  std::vector<uint8_t> matched(before.size(), 0);
  // IDs of `after` not in `before`: only these can repeat without meeting a matched flag.
  std::unordered_set<std::string_view> added;
  PipelinedFinder finder(index, before, after);
  size_t next = 0;  // where the lockstep walk expects the next ID of `after` in `before`
  for (size_t j = 0; j < after.size(); ++j) {
    const StateEntry& entry = after[j];
    size_t position = next;
    if (next >= before.size() || before[next].id != entry.id) position = finder.Find(j);
    if (position == StateIndex::kNotFound) {
      if (!added.insert(entry.id).second) return DuplicateId(entry.id, "current");
      collector.Added(entry);
      continue;
    }
    if (matched[position]) return DuplicateId(entry.id, "current");
    matched[position] = 1;
    collector.Compare(before[position], entry);
    next = position + 1;
  }
  for (size_t k = 0; k < before.size(); ++k) {
    if (!matched[k]) collector.Removed(before[k]);
  }
  return collector.Finish(limit);
}

}  // namespace buildtrace
