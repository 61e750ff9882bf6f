// The diff: a lockstep walk while both states list the same IDs in the same order (what real
// pipelines emit), resynchronised through a flat index of the earlier state wherever they differ.
// Large states are indexed and walked by two threads, each its half of the entries.
#include "core/diff.h"

#include <algorithm>
#include <array>
#include <future>
#include <limits>
#include <string_view>
#include <system_error>
#include <unordered_set>

#include "core/pseudo_hash.h"
#include "core/state_index.h"

namespace buildtrace {
namespace {

// Accumulates the comparison. It keeps positions only (4 bytes each, where views would take 16
// to 80): a tenth of a million-object state changing is 100 000 entries, and every byte of their
// lists is a fresh page. The listed entries' strings are copied at the end.
class DiffCollector {
 public:
  DiffCollector(const JobState& before, const JobState& after) : before_(before), after_(after) {}

  void Compare(size_t b, size_t a, const StateEntry& before, const StateEntry& after) {
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
    modified_[static_cast<size_t>(kind)].push_back(
        {static_cast<uint32_t>(b), static_cast<uint32_t>(a)});
  }
  void Added(size_t a) {
    ++counts_.added;
    added_.push_back(static_cast<uint32_t>(a));
  }
  void Removed(size_t b) {
    ++counts_.removed;
    removed_.push_back(static_cast<uint32_t>(b));
  }

  // Takes over what `other`, a collector of another share of the same two states, gathered
  // (leaving `other` with any part of it).
  void Merge(DiffCollector& other);

  DiffResult Finish(size_t limit);

 private:
  struct Pair {
    uint32_t before;
    uint32_t after;
  };

  // Sorts the first min(limit, size) elements of `items` by `key` and drops the rest.
  template <typename T, typename Key>
  static bool KeepSmallest(std::vector<T>& items, size_t limit, Key key) {
    auto less = [&key](const T& a, const T& b) { return key(a) < key(b); };
    const bool truncated = items.size() > limit;
    if (truncated) {
      std::nth_element(items.begin(), items.begin() + limit, items.end(), less);
      items.resize(limit);
    }
    std::sort(items.begin(), items.end(), less);
    return truncated;
  }

  const JobState& before_;
  const JobState& after_;
  DiffCounts counts_;
  std::vector<uint32_t> added_;    // positions in after_
  std::vector<uint32_t> removed_;  // positions in before_
  std::array<std::vector<Pair>, 4> modified_;
};

void DiffCollector::Merge(DiffCollector& other) {
  counts_.added += other.counts_.added;
  counts_.removed += other.counts_.removed;
  counts_.unchanged += other.counts_.unchanged;
  counts_.moved += other.counts_.moved;
  counts_.resized += other.counts_.resized;
  counts_.retyped += other.counts_.retyped;
  counts_.changed += other.counts_.changed;
  auto append = [](auto& to, auto& from) {
    if (to.empty()) return to.swap(from);
    to.insert(to.end(), from.begin(), from.end());
  };
  append(added_, other.added_);
  append(removed_, other.removed_);
  for (size_t k = 0; k < modified_.size(); ++k) append(modified_[k], other.modified_[k]);
}

DiffResult DiffCollector::Finish(size_t limit) {
  DiffResult result;
  result.counts = counts_;
  auto after_id = [this](uint32_t a) { return after_[a].id; };
  auto before_id = [this](uint32_t b) { return before_[b].id; };
  result.truncated |= KeepSmallest(added_, limit, after_id);
  result.truncated |= KeepSmallest(removed_, limit, before_id);
  for (const uint32_t a : added_) {
    const StateEntry e = after_[a];
    result.added.emplace_back(e.id);
    std::optional<Geometry> g = GeometryOf(e.value, e.structured);
    result.added_at.push_back(
        g ? std::optional<Placement>(Placement{std::move(g->type), g->x, g->y}) : std::nullopt);
  }
  for (const uint32_t b : removed_) result.removed.emplace_back(before_[b].id);
  for (size_t k = 0; k < modified_.size(); ++k) {
    auto& pairs = modified_[k];
    result.truncated |=
        KeepSmallest(pairs, limit, [this](const Pair& p) { return after_[p.after].id; });
    for (const Pair& p : pairs) {
      const StateEntry before = before_[p.before];
      const StateEntry after = after_[p.after];
      result.modified.push_back({std::string(after.id), static_cast<ChangeKind>(k),
                                 std::string(before.value), std::string(after.value),
                                 before.structured, after.structured});
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

// Which entries of `before` a walk has met: one bit each, an eighth of what a byte per entry
// takes (a million entries: 122 KiB).
class MatchedBits {
 public:
  explicit MatchedBits(size_t n) : words_((n + 63) / 64, 0) {}
  bool Test(size_t i) const { return (words_[i / 64] >> (i % 64)) & 1; }
  void Set(size_t i) { words_[i / 64] |= uint64_t{1} << (i % 64); }
  // Whether an entry is set here and in `other` too.
  bool Overlaps(const MatchedBits& other) const {
    for (size_t w = 0; w < words_.size(); ++w) {
      if ((words_[w] & other.words_[w]) != 0) return true;
    }
    return false;
  }
  void Add(const MatchedBits& other) {
    for (size_t w = 0; w < words_.size(); ++w) words_[w] |= other.words_[w];
  }

 private:
  std::vector<uint64_t> words_;
};

// One thread's share of the walk: the entries [first, last) of `after`.
struct WalkShare {
  WalkShare(const JobState& before, const JobState& after)
      : collector(before, after), matched(before.size()) {}

  DiffCollector collector;
  MatchedBits matched;  // the entries of `before` this share met
  // IDs of `after` not in `before`: a repeat of one of these finds no entry to mark.
  std::unordered_set<std::string_view> added;
  std::optional<std::string_view> duplicate;  // an ID of `after` it met twice
};

// Walks entries [first, last) of `after` against `before`, marking in share.matched each entry
// of `before` it meets, and stops at the first ID of `after` it meets twice. Two shares walked at
// the same time each keep their own flags; an ID repeated across shares is found once both are
// joined: a flag set in both, or an added ID in both shares' sets.
void Walk(const StateIndex& index, const JobState& before, const JobState& after, size_t first,
          size_t last, WalkShare& share) {
  PipelinedFinder finder(index, before, after);
  // Where the lockstep walk expects the next ID of `after` in `before`; a share that starts
  // elsewhere than the beginning finds its place by a lookup.
  size_t next = first == 0 ? 0 : before.size();
  bool lost = false;  // the entry before this one was not where the walk expected it either
  for (size_t j = first; j < last; ++j) {
    const StateEntry entry = after[j];
    size_t position = next;
    if (next >= before.size() || before[next].id != entry.id) {
      if (lost) {
        position = finder.Find(j);  // a run of steps aside: a reordered or shuffled state
      } else if (next + 1 < before.size() && before[next + 1].id == entry.id) {
        position = next + 1;  // one object removed: the walk goes on after it
      } else {
        position = index.Find(entry.id);  // one step aside, such as an object added
        lost = true;
      }
    } else {
      lost = false;
    }
    if (position == StateIndex::kNotFound) {
      if (!share.added.insert(entry.id).second) {
        share.duplicate = entry.id;
        return;
      }
      share.collector.Added(j);
      continue;
    }
    if (share.matched.Test(position)) {
      share.duplicate = entry.id;
      return;
    }
    share.matched.Set(position);
    share.collector.Compare(position, j, before[position], entry);
    next = position + 1;
  }
}

// Walks `after` in two halves on two threads. nullopt, with nothing kept, when `after` repeats an
// ID or when no thread could be started; the caller then walks on one thread, which names the
// repeated ID as it always does. Otherwise the entries of `before` either half met.
std::optional<MatchedBits> WalkInHalves(const StateIndex& index, const JobState& before,
                                        const JobState& after, DiffCollector& collector) {
  const size_t half = after.size() / 2;
  WalkShare share(before, after);
  WalkShare second(before, after);
  std::future<void> other;
  try {
    other = std::async(std::launch::async,
                       [&] { Walk(index, before, after, half, after.size(), second); });
  } catch (const std::system_error&) {
    return std::nullopt;  // no thread to be had: one walk does it all
  }
  Walk(index, before, after, 0, half, share);
  other.get();
  const bool repeated = share.duplicate || second.duplicate ||
                        share.matched.Overlaps(second.matched) ||
                        std::any_of(second.added.begin(), second.added.end(),
                                    [&](std::string_view id) { return share.added.contains(id); });
  if (repeated) return std::nullopt;
  collector.Merge(share.collector);
  collector.Merge(second.collector);
  share.matched.Add(second.matched);
  return std::move(share.matched);
}

}  // namespace

Result<DiffResult> DiffStates(const JobState& before, const JobState& after, size_t limit,
                              unsigned threads) {
  // Asked for: the index and the walk alike; by default each by the size it covers.
  const unsigned index_threads =
      std::min(threads == 0 ? IndexThreadsFor(before.size()) : threads, 2u);
  const unsigned walk_threads =
      std::min(threads == 0 ? IndexThreadsFor(after.size()) : threads, 2u);
  if (std::max(before.size(), after.size()) > std::numeric_limits<uint32_t>::max()) {
    // The comparison keeps 4-byte positions; no parser limit comes near this.
    return InvalidArgument("a state of more than 2^32 objects cannot be compared");
  }
  if (before.empty()) {
    // Nothing to join with: every object is added, and the index only checks for duplicates.
    DiffCollector collector(before, after);
    if (auto dup = StateIndex(after, walk_threads).duplicate()) {
      return DuplicateId(*dup, "current");
    }
    for (size_t j = 0; j < after.size(); ++j) collector.Added(j);
    return collector.Finish(limit);
  }
  const StateIndex index(before, index_threads);
  if (auto dup = index.duplicate()) return DuplicateId(*dup, "earlier");
  DiffCollector collector(before, after);
  std::optional<MatchedBits> matched;
  if (walk_threads >= 2) matched = WalkInHalves(index, before, after, collector);
  if (!matched) {
    WalkShare share(before, after);
    Walk(index, before, after, 0, after.size(), share);
    if (share.duplicate) return DuplicateId(*share.duplicate, "current");
    collector.Merge(share.collector);
    matched = std::move(share.matched);
  }
  for (size_t k = 0; k < before.size(); ++k) {
    if (!matched->Test(k)) collector.Removed(k);
  }
  return collector.Finish(limit);
}

}  // namespace buildtrace
