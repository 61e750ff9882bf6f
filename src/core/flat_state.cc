// The flat-state scanner (flat_state.h): the top-level members are skipped (the full parser reads
// them from the header document), and the state's members are checked and turned into entries.
#include "core/flat_state.h"

#include <simdjson.h>

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/json_writer.h"

namespace buildtrace {
namespace {

constexpr uint64_t kHighBits = 0x8080808080808080ull;

std::atomic<bool>& FlatStatesFlag() {
  static std::atomic<bool> flag{[] {
    const char* value = std::getenv("BUILDTRACE_FLAT_STATES");
    return value == nullptr || std::strcmp(value, "0") != 0;
  }()};
  return flag;
}

bool IsBlank(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

const char* SkipBlanks(const char* p, const char* end) {
  while (p < end && IsBlank(*p)) ++p;
  return p;
}

// The first '"', '\\' or control character at or after `p`, or `end`. Reads whole words, up to 7
// bytes past `end` (the padding), and ORs each into `seen`, whose high bits then say whether a
// byte that is not ASCII may be among them.
const char* FindSpecial(const char* p, const char* end, uint64_t& seen) {
  static_assert(std::endian::native == std::endian::little, "the first byte must be the lowest");
  while (p < end) {
    uint64_t word;
    std::memcpy(&word, p, sizeof word);
    seen |= word;
    if (const uint64_t mask = JsonEscapeMask(word)) {
      p += std::countr_zero(mask) / 8;
      return p < end ? p : end;
    }
    p += sizeof word;
  }
  return end;
}

// The closing quote of the plain string whose content starts at `p`; null if it has an escape or
// a control character, or no end.
const char* PlainStringEnd(const char* p, const char* end, uint64_t& seen) {
  const char* close = FindSpecial(p, end, seen);
  return close < end && *close == '"' ? close : nullptr;
}

// Past the string whose content starts at `p` (escapes allowed), or null.
const char* SkipString(const char* p, const char* end) {
  uint64_t unused = 0;
  while (true) {
    p = FindSpecial(p, end, unused);
    if (p >= end) return nullptr;
    if (*p == '"') return p + 1;
    if (*p != '\\') return nullptr;  // a control character: the full parser names it
    p += 2;                          // the backslash and what it escapes
  }
}

// Past the value at `p`: only its extent is found here (brackets matched, strings skipped); the
// full parser checks the value itself in the header document. Null when the extent is unclear.
const char* SkipValue(const char* p, const char* end) {
  uint64_t objects = 0;  // bit i: the bracket open at depth i + 1 is an object's
  int depth = 0;
  while (true) {
    p = SkipBlanks(p, end);
    if (p >= end) return nullptr;
    const char c = *p;
    if (c == '"') {
      p = SkipString(p + 1, end);
      if (p == nullptr) return nullptr;
    } else if (c == '{' || c == '[') {
      if (depth == 63) return nullptr;
      objects = (objects << 1) | (c == '{' ? 1 : 0);
      ++depth;
      ++p;
      continue;
    } else if (c == '}' || c == ']') {
      if (depth == 0 || (objects & 1) != (c == '}' ? 1u : 0u)) return nullptr;
      objects >>= 1;
      --depth;
      ++p;
    } else if (c == ',' || c == ':') {
      if (depth == 0) return nullptr;
      ++p;
      continue;
    } else {  // a number or a literal, up to what ends it
      while (p < end && !IsBlank(*p) && *p != ',' && *p != ':' && *p != '}' && *p != ']') ++p;
    }
    if (depth == 0) return p;
  }
}

// Past the flat state object at `p`, its entries appended to `state`; null when it is not flat,
// not well formed, not UTF-8, or breaks a limit. `text_bytes` gets the bytes of its IDs and hashes.
const char* ScanState(const char* p, const char* end, const ParseLimits& limits, JobState& state,
                      size_t& text_bytes) {
  if (p >= end || *p != '{') return nullptr;
  const char* const begin = p;
  // As the full parser does for a document's one state: its objects are most of the bytes, at
  // 20 bytes or more each.
  state.reserve(static_cast<size_t>(end - p) / 24);
  uint64_t seen = 0;
  p = SkipBlanks(p + 1, end);
  if (p < end && *p == '}') return p + 1;
  while (true) {
    if (p >= end || *p != '"') return nullptr;
    const char* const id = p + 1;
    const char* const id_end = PlainStringEnd(id, end, seen);
    if (id_end == nullptr) return nullptr;
    p = SkipBlanks(id_end + 1, end);
    if (p >= end || *p != ':') return nullptr;
    p = SkipBlanks(p + 1, end);
    if (p >= end || *p != '"') return nullptr;
    const char* const hash = p + 1;
    const char* const hash_end = PlainStringEnd(hash, end, seen);
    if (hash_end == nullptr) return nullptr;
    const auto id_size = static_cast<size_t>(id_end - id);
    const auto hash_size = static_cast<size_t>(hash_end - hash);
    // What a state entry cannot hold, the full parser decides about too.
    if (id_size == 0 || id_size > limits.max_id_bytes || id_size > JobState::kMaxIdBytes ||
        hash_size == 0 || hash_size > limits.max_hash_bytes ||
        hash_size > JobState::kMaxValueBytes || state.size() >= limits.max_objects) {
      return nullptr;
    }
    state.push_back({std::string_view(id, id_size), std::string_view(hash, hash_size), false});
    text_bytes += id_size + hash_size;
    p = SkipBlanks(hash_end + 1, end);
    if (p >= end) return nullptr;
    if (*p == ',') {
      p = SkipBlanks(p + 1, end);
      continue;
    }
    if (*p != '}') return nullptr;
    ++p;
    break;
  }
  if ((seen & kHighBits) != 0 && !simdjson::validate_utf8(begin, static_cast<size_t>(p - begin))) {
    return nullptr;
  }
  return p;
}

}  // namespace

bool FlatStatesEnabled() { return FlatStatesFlag().load(std::memory_order_relaxed); }
void SetFlatStatesEnabled(bool on) { FlatStatesFlag().store(on, std::memory_order_relaxed); }

std::optional<FlatState> ScanFlatState(std::string_view document, const ParseLimits& limits) {
  // simdjson refuses a document this large: so must the fast path, for the same answer.
  if (document.size() > simdjson::SIMDJSON_MAXSIZE_BYTES) return std::nullopt;
  const char* const base = document.data();
  const char* const end = base + document.size();
  const char* p = SkipBlanks(base, end);
  if (p >= end || *p != '{') return std::nullopt;
  p = SkipBlanks(p + 1, end);
  std::optional<FlatState> found;
  while (true) {
    if (p >= end || *p != '"') return std::nullopt;
    uint64_t unused = 0;
    const char* const key = p + 1;
    const char* const key_end = PlainStringEnd(key, end, unused);
    if (key_end == nullptr) return std::nullopt;  // an escaped key: the full parser
    p = SkipBlanks(key_end + 1, end);
    if (p >= end || *p != ':') return std::nullopt;
    p = SkipBlanks(p + 1, end);
    if (std::string_view(key, static_cast<size_t>(key_end - key)) == "state") {
      if (found) return std::nullopt;  // repeated: the full parser says so
      found.emplace();
      found->begin = static_cast<size_t>(p - base);
      size_t text_bytes = 0;
      p = ScanState(p, end, limits, found->state, text_bytes);
      if (p == nullptr) return std::nullopt;
      found->end = static_cast<size_t>(p - base);
      // Without blanks, each entry is "id":"hash" (its text and 5 bytes), with a comma between
      // two and the braces around: nothing else can make up the span.
      const size_t n = found->state.size();
      found->compact = found->end - found->begin == 2 + text_bytes + 5 * n + (n > 0 ? n - 1 : 0);
    } else {
      p = SkipValue(p, end);
      if (p == nullptr) return std::nullopt;
    }
    p = SkipBlanks(p, end);
    if (p >= end) return std::nullopt;
    if (*p == '}') return found;  // what follows, the full parser checks in the header
    if (*p != ',') return std::nullopt;
    p = SkipBlanks(p + 1, end);
  }
}

}  // namespace buildtrace
