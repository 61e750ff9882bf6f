// A small streaming JSON writer that appends to a std::string. Used for every JSON the service
// emits (stored jobs, reports, API answers), so escaping and number formatting live in one place.
// Writing our own instead of a DOM library keeps million-object reports free of a second copy.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace buildtrace {

// Appends `s` to `out` as a quoted JSON string. Control characters are escaped as \uXXXX (with the
// short forms \n, \t, ...), '"' and '\' are escaped; other bytes (UTF-8) are copied unchanged.
void AppendJsonString(std::string& out, std::string_view s);

// The bytes of `word` (8 bytes of a string, first byte lowest) that a JSON string must escape: a
// control character, '"' or '\\'. The lowest set bit marks the first such byte exactly (bit 8i+7
// for byte i); bits above it may be set for bytes that are not. Bytes >= 0x80 (UTF-8) never
// count. Zero when none is.
inline uint64_t JsonEscapeMask(uint64_t word) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHighs = 0x8080808080808080ull;
  const uint64_t quote = word ^ (kOnes * '"');
  const uint64_t backslash = word ^ (kOnes * '\\');
  const uint64_t zero_in_quote = (quote - kOnes) & ~quote;
  const uint64_t zero_in_backslash = (backslash - kOnes) & ~backslash;
  const uint64_t below_space = (word - kOnes * 0x20) & ~word;
  return (zero_in_quote | zero_in_backslash | below_space) & kHighs;
}

// Appends a number in its shortest form that reads back to the same double: integral values with
// magnitude below 2^53 are written without fraction or exponent ("5", not "5.0"); -0 is written
// as "0". Non-finite values (never produced by parsing JSON) are written as null.
void AppendJsonNumber(std::string& out, double value);

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Number(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // Appends `json`, which the caller guarantees is one valid JSON value.
  JsonWriter& Raw(std::string_view json);

 private:
  void BeforeValue();

  std::string& out_;
  // One entry per open object or array: true once it holds at least one member.
  std::vector<bool> has_members_;
  bool after_key_ = false;
};

}  // namespace buildtrace
