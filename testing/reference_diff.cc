// The reference diff and the random job documents of testing/reference_diff.h.
#include "testing/reference_diff.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <map>

#include "core/json_writer.h"

namespace buildtrace {

DiffResult ReferenceDiff(const JobState& before, const JobState& after, size_t limit) {
  std::map<std::string, StateEntry> b, a;
  for (const StateEntry& e : before) b.emplace(std::string(e.id), e);
  for (const StateEntry& e : after) a.emplace(std::string(e.id), e);
  DiffResult r;
  std::array<std::vector<ModifiedObject>, 4> by_kind;
  for (const auto& [id, e] : a) {
    if (!b.contains(id)) r.added.push_back(id);
  }
  for (const auto& [id, e] : b) {
    auto it = a.find(id);
    if (it == a.end()) {
      r.removed.push_back(id);
      continue;
    }
    const StateEntry& x = it->second;
    if (e.structured == x.structured && e.value == x.value) {
      ++r.counts.unchanged;
      continue;
    }
    const ChangeKind kind = ClassifyChange(e, x);
    by_kind[static_cast<size_t>(kind)].push_back(
        {id, kind, std::string(e.value), std::string(x.value), e.structured, x.structured});
  }
  r.counts.added = static_cast<int64_t>(r.added.size());
  r.counts.removed = static_cast<int64_t>(r.removed.size());
  r.counts.moved = static_cast<int64_t>(by_kind[0].size());
  r.counts.resized = static_cast<int64_t>(by_kind[1].size());
  r.counts.retyped = static_cast<int64_t>(by_kind[2].size());
  r.counts.changed = static_cast<int64_t>(by_kind[3].size());
  auto cut = [&](auto& list) {
    if (list.size() > limit) {
      list.resize(limit);
      r.truncated = true;
    }
  };
  cut(r.added);
  cut(r.removed);
  for (auto& list : by_kind) {
    cut(list);
    r.modified.insert(r.modified.end(), list.begin(), list.end());
  }
  return r;
}

void ExpectSameDiff(const DiffResult& got, const DiffResult& want, const std::string& context) {
  EXPECT_EQ(got.counts, want.counts) << context;
  EXPECT_EQ(got.added, want.added) << context;
  EXPECT_EQ(got.removed, want.removed) << context;
  EXPECT_EQ(got.modified, want.modified) << context;
  EXPECT_EQ(got.truncated, want.truncated) << context;
}

void AppendRandomlyEscaped(std::string& out, std::string_view s, std::mt19937_64& rng) {
  if (rng() % 2 == 0) return AppendJsonString(out, s);
  out.push_back('"');
  for (char c : s) {
    if (((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) && rng() % 3 == 0) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      std::string one;
      AppendJsonString(one, std::string_view(&c, 1));
      out += one.substr(1, one.size() - 2);
    }
  }
  out.push_back('"');
}

std::string JobDocument(const std::vector<std::pair<std::string, std::string>>& objects,
                        std::mt19937_64& rng) {
  std::string out = R"({"job_id":1,"timestamp":"2026-11-28T10:00:00Z","latency_ms":1,"state":{)";
  for (size_t i = 0; i < objects.size(); ++i) {
    if (i) out += rng() % 4 == 0 ? " ,\n " : ",";
    AppendRandomlyEscaped(out, objects[i].first, rng);
    out += ":";
    AppendRandomlyEscaped(out, objects[i].second, rng);
  }
  return out + "}}";
}

std::vector<StateEntry> LaidOutInOneBuffer(const std::vector<StateEntry>& entries,
                                           std::string& buffer, std::mt19937_64& rng) {
  std::vector<size_t> gaps;
  size_t bytes = 0;
  for (const StateEntry& e : entries) {
    gaps.push_back(rng() % 16);
    bytes += e.id.size() + gaps.back() + e.value.size();
  }
  buffer.clear();
  buffer.reserve(bytes);                      // once: the views below must not move
  std::vector<std::pair<size_t, size_t>> at;  // where each ID and value starts
  for (size_t i = 0; i < entries.size(); ++i) {
    const size_t id = buffer.size();
    buffer += entries[i].id;
    buffer.append(gaps[i], ':');
    at.emplace_back(id, buffer.size());
    buffer += entries[i].value;
  }
  std::vector<StateEntry> out;
  for (size_t i = 0; i < entries.size(); ++i) {
    out.push_back({std::string_view(buffer).substr(at[i].first, entries[i].id.size()),
                   std::string_view(buffer).substr(at[i].second, entries[i].value.size()),
                   entries[i].structured});
  }
  return out;
}

}  // namespace buildtrace
