// JsonBody: a parsed JSON answer for API tests. Accessors take JSON pointers ("/error/code") and
// fail the test, rather than crash, when the value is missing or of another type.
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace buildtrace {

class JsonBody {
 public:
  explicit JsonBody(const std::string& text) : text_(text) {
    if (auto e = parser_.parse(text_).get(root_)) {
      ADD_FAILURE() << "answer is not JSON (" << simdjson::error_message(e) << "): " << text;
    }
  }
  std::string Str(std::string_view pointer) const {
    std::string_view s;
    if (auto e = At(pointer).get_string().get(s)) return Missing(pointer, e);
    return std::string(s);
  }
  int64_t Int(std::string_view pointer) const {
    int64_t v = 0;
    if (auto e = At(pointer).get_int64().get(v)) Missing(pointer, e);
    return v;
  }
  double Number(std::string_view pointer) const {
    double v = 0;
    if (auto e = At(pointer).get_double().get(v)) Missing(pointer, e);
    return v;
  }
  bool Bool(std::string_view pointer) const {
    bool v = false;
    if (auto e = At(pointer).get_bool().get(v)) Missing(pointer, e);
    return v;
  }
  bool IsNull(std::string_view pointer) const {
    simdjson::dom::element element;
    if (auto e = At(pointer).get(element)) {
      Missing(pointer, e);
      return false;
    }
    return element.is_null();
  }
  bool Has(std::string_view pointer) const { return At(pointer).error() == simdjson::SUCCESS; }
  // The strings of an array of strings.
  std::vector<std::string> Strings(std::string_view pointer) const {
    std::vector<std::string> out;
    simdjson::dom::array array;
    if (auto e = At(pointer).get_array().get(array)) {
      Missing(pointer, e);
      return out;
    }
    for (simdjson::dom::element item : array) {
      std::string_view s;
      if (item.get_string().get(s)) {
        ADD_FAILURE() << pointer << " holds a non-string";
      } else {
        out.emplace_back(s);
      }
    }
    return out;
  }
  size_t Size(std::string_view pointer) const {
    simdjson::dom::array array;
    if (auto e = At(pointer).get_array().get(array)) {
      Missing(pointer, e);
      return 0;
    }
    return array.size();
  }
  // The member names of an object, in order.
  std::vector<std::string> Keys(std::string_view pointer) const {
    std::vector<std::string> out;
    simdjson::dom::object object;
    if (auto e = At(pointer).get_object().get(object)) {
      Missing(pointer, e);
      return out;
    }
    for (auto field : object) out.emplace_back(field.key);
    return out;
  }

 private:
  simdjson::simdjson_result<simdjson::dom::element> At(std::string_view pointer) const {
    return root_.at_pointer(pointer);
  }
  std::string Missing(std::string_view pointer, simdjson::error_code e) const {
    ADD_FAILURE() << pointer << ": " << simdjson::error_message(e) << " in " << text_;
    return "<missing>";
  }

  std::string text_;
  mutable simdjson::dom::parser parser_;
  simdjson::dom::element root_;
};

}  // namespace buildtrace
