// The parse floor: the least work any `buildtrace diff` must do. Like the diff, one process maps
// two job files (store/input_file.h: MAP_POPULATE, the padding without a copy); then simdjson
// On-Demand walks every key and
// value of each (top-level fields, and every state key unescaped and every value as a string, or
// as raw JSON when structured), and nothing else: the lengths are summed, only so that the walk
// cannot be optimized away, and printed. bench/run.sh divides the diff's time by this one's.
// Usage: parse_floor PREV.json CUR.json
#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <string_view>
#include <utility>

#include "store/input_file.h"

namespace {

using simdjson::error_code;
using simdjson::ondemand::json_type;

// Adds the length of `value` as text: strings unescaped, anything else as its raw JSON.
error_code SumValue(simdjson::ondemand::value value, uint64_t& sum) {
  json_type type;
  if (auto e = value.type().get(type)) return e;
  std::string_view text;
  switch (type) {
    case json_type::string:
      if (auto e = value.get_string().get(text)) return e;
      break;
    case json_type::object: {
      simdjson::ondemand::object object;
      if (auto e = value.get_object().get(object)) return e;
      if (auto e = object.raw_json().get(text)) return e;
      break;
    }
    case json_type::array: {
      simdjson::ondemand::array array;
      if (auto e = value.get_array().get(array)) return e;
      if (auto e = array.raw_json().get(text)) return e;
      break;
    }
    default:
      text = value.raw_json_token();
      break;
  }
  sum += text.size();
  return simdjson::SUCCESS;
}

error_code SumState(simdjson::ondemand::value value, uint64_t& sum) {
  simdjson::ondemand::object state;
  if (auto e = value.get_object().get(state)) return e;
  for (auto field : state) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    sum += key.size();
    if (auto e = SumValue(field.value(), sum)) return e;
  }
  return simdjson::SUCCESS;
}

error_code SumDocument(simdjson::ondemand::parser& parser, simdjson::padded_string_view json,
                       uint64_t& sum) {
  simdjson::ondemand::document doc;
  if (auto e = parser.iterate(json).get(doc)) return e;
  simdjson::ondemand::object job;
  if (auto e = doc.get_object().get(job)) return e;
  for (auto field : job) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    sum += key.size();
    const error_code e =
        key == "state" ? SumState(field.value(), sum) : SumValue(field.value(), sum);
    if (e) return e;
  }
  return simdjson::SUCCESS;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: parse_floor PREV.json CUR.json\n");
    return 2;
  }
  buildtrace::InputBytes files[2];
  for (int i = 0; i < 2; ++i) {
    auto input = buildtrace::ReadInputFile(argv[i + 1], static_cast<size_t>(-1));
    if (!input.ok()) {
      std::fprintf(stderr, "parse_floor: %s\n", input.status().message().c_str());
      return 2;
    }
    files[i] = std::move(*input);
  }
  simdjson::ondemand::parser parser;
  uint64_t sum = 0;
  for (int i = 0; i < 2; ++i) {
    if (auto e = SumDocument(parser, files[i].padded(), sum)) {
      std::fprintf(stderr, "parse_floor: %s: %s\n", argv[i + 1], simdjson::error_message(e));
      return 2;
    }
  }
  std::printf("%llu\n", static_cast<unsigned long long>(sum));
  return 0;
}
