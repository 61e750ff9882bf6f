// The diff: a lockstep walk while both states list the same IDs in the same order (what real
// pipelines emit), then a hash join over whatever is left.
#include "core/diff.h"

#include <algorithm>
#include <array>
#include <string_view>
#include <unordered_map>

#include "core/pseudo_hash.h"

namespace buildtrace {
namespace {

std::optional<Geometry> GeometryOf(const StateEntry& entry) {
  return entry.structured ? GeometryOfStructured(entry.value) : ParsePseudoHash(entry.value);
}

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
      case ChangeKind::kMoved: ++counts_.moved; break;
      case ChangeKind::kResized: ++counts_.resized; break;
      case ChangeKind::kRetyped: ++counts_.retyped; break;
      case ChangeKind::kChanged: ++counts_.changed; break;
    }
    modified_[static_cast<size_t>(kind)].push_back({&before, &after});
  }
  void Added(const StateEntry& entry) {
    ++counts_.added;
    added_.push_back(entry.id);
  }
  void Removed(const StateEntry& entry) {
    ++counts_.removed;
    removed_.push_back(entry.id);
  }

  DiffResult Finish(size_t limit);

 private:
  struct Pair {
    const StateEntry* before;
    const StateEntry* after;
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
  std::vector<std::string_view> added_;
  std::vector<std::string_view> removed_;
  std::array<std::vector<Pair>, 4> modified_;
};

DiffResult DiffCollector::Finish(size_t limit) {
  DiffResult result;
  result.counts = counts_;
  auto id = [](std::string_view v) { return v; };
  result.truncated |= KeepSmallest(added_, limit, id);
  result.truncated |= KeepSmallest(removed_, limit, id);
  result.added.assign(added_.begin(), added_.end());
  result.removed.assign(removed_.begin(), removed_.end());
  for (size_t k = 0; k < modified_.size(); ++k) {
    auto& pairs = modified_[k];
    result.truncated |= KeepSmallest(pairs, limit, [](const Pair& p) { return p.after->id; });
    for (const Pair& p : pairs) {
      result.modified.push_back({std::string(p.after->id), static_cast<ChangeKind>(k),
                                 std::string(p.before->value), std::string(p.after->value),
                                 p.before->structured, p.after->structured});
    }
  }
  return result;
}

}  // namespace

const char* ChangeKindName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kMoved: return "moved";
    case ChangeKind::kResized: return "resized";
    case ChangeKind::kRetyped: return "retyped";
    case ChangeKind::kChanged: return "changed";
  }
  return "changed";
}

ChangeKind ClassifyChange(const StateEntry& before, const StateEntry& after) {
  const std::optional<Geometry> b = GeometryOf(before);
  if (!b) return ChangeKind::kChanged;
  const std::optional<Geometry> a = GeometryOf(after);
  if (!a || a->rest != b->rest) return ChangeKind::kChanged;
  if (a->type != b->type) return ChangeKind::kRetyped;
  if (a->w != b->w || a->h != b->h) return ChangeKind::kResized;
  if (a->x != b->x || a->y != b->y) return ChangeKind::kMoved;
  return ChangeKind::kChanged;  // same geometry spelled differently, e.g. "1" and "1.0"
}

DiffResult DiffStates(const JobState& before, const JobState& after, size_t limit) {
  DiffCollector collector;
  const size_t common = std::min(before.size(), after.size());
  size_t i = 0;
  while (i < common && before[i].id == after[i].id) {
    collector.Compare(before[i], after[i]);
    ++i;
  }
  if (i < before.size() || i < after.size()) {
    std::unordered_map<std::string_view, size_t> position;
    position.reserve(before.size() - i);
    for (size_t k = i; k < before.size(); ++k) position.emplace(before[k].id, k);
    std::vector<bool> matched(before.size() - i, false);
    for (size_t k = i; k < after.size(); ++k) {
      auto it = position.find(after[k].id);
      if (it == position.end()) {
        collector.Added(after[k]);
      } else {
        matched[it->second - i] = true;
        collector.Compare(before[it->second], after[k]);
      }
    }
    for (size_t k = i; k < before.size(); ++k) {
      if (!matched[k - i]) collector.Removed(before[k]);
    }
  }
  return collector.Finish(limit);
}

}  // namespace buildtrace
