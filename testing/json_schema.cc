// The JSON Schema checker.
#include "testing/json_schema.h"

#include <regex>

namespace buildtrace {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

bool IsIntegral(element value) {
  switch (value.type()) {
    case element_type::INT64:
    case element_type::UINT64:
      return true;
    case element_type::DOUBLE: {
      const double d = double(value);
      return d == static_cast<double>(static_cast<int64_t>(d));
    }
    default:
      return false;
  }
}

bool HasType(element value, std::string_view type) {
  const element_type t = value.type();
  if (type == "object") return t == element_type::OBJECT;
  if (type == "array") return t == element_type::ARRAY;
  if (type == "string") return t == element_type::STRING;
  if (type == "boolean") return t == element_type::BOOL;
  if (type == "null") return t == element_type::NULL_VALUE;
  if (type == "integer") return IsIntegral(value);
  if (type == "number") {
    return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
  }
  return false;
}

std::string Minified(element value) { return simdjson::minify(value); }

double NumberOf(element value) {
  switch (value.type()) {
    case element_type::INT64:
      return static_cast<double>(int64_t(value));
    case element_type::UINT64:
      return static_cast<double>(uint64_t(value));
    default:
      return double(value);
  }
}

// "~" and "/" in a member name, escaped for a JSON pointer.
std::string PointerToken(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

JsonSchemaChecker::JsonSchemaChecker(std::string document) : document_text_(std::move(document)) {
  if (auto e = document_parser_.parse(document_text_).get(document_)) {
    document_error_ = std::string("the schema document is not JSON: ") + simdjson::error_message(e);
  }
}

std::vector<std::string> JsonSchemaChecker::Check(std::string_view schema,
                                                  std::string_view instance) const {
  if (!document_error_.empty()) return {document_error_};
  simdjson::dom::parser schema_parser;
  simdjson::dom::parser instance_parser;
  element schema_root;
  element instance_root;
  if (auto e = schema_parser.parse(schema.data(), schema.size()).get(schema_root)) {
    return {std::string("the schema is not JSON: ") + simdjson::error_message(e)};
  }
  if (auto e = instance_parser.parse(instance.data(), instance.size()).get(instance_root)) {
    return {std::string("the instance is not JSON: ") + simdjson::error_message(e)};
  }
  std::vector<std::string> errors;
  Validate(schema_root, instance_root, "", errors, 0);
  return errors;
}

std::vector<std::string> JsonSchemaChecker::CheckAt(std::string_view schema_pointer,
                                                    std::string_view instance) const {
  if (!document_error_.empty()) return {document_error_};
  element schema;
  if (document_.at_pointer(schema_pointer).get(schema)) {
    return {"the document has no schema at " + std::string(schema_pointer)};
  }
  return Check(Minified(schema), instance);
}

void JsonSchemaChecker::Validate(element schema, element value, const std::string& where,
                                 std::vector<std::string>& errors, int depth) const {
  const std::string at = where.empty() ? "/" : where;
  if (depth > 64) {
    errors.push_back(at + ": schemas nest more than 64 deep (a $ref loop?)");
    return;
  }
  simdjson::dom::object keywords;
  if (schema.get_object().get(keywords)) {
    errors.push_back(at + ": the schema is not an object: " + Minified(schema));
    return;
  }
  for (auto [key, arg] : keywords) {
    if (key == "description" || key == "default" || key == "format" || key == "title") continue;
    if (key == "$ref") {
      std::string_view ref;
      element target;
      if (arg.get_string().get(ref) || ref.substr(0, 1) != "#" ||
          document_.at_pointer(ref.substr(1)).get(target)) {
        errors.push_back(at + ": $ref " + Minified(arg) + " does not resolve in the document");
        continue;
      }
      Validate(target, value, where, errors, depth + 1);
    } else if (key == "type") {
      bool ok = false;
      if (arg.is_string()) {
        ok = HasType(value, std::string_view(arg));
      } else {
        for (element t : simdjson::dom::array(arg)) ok |= HasType(value, std::string_view(t));
      }
      if (!ok) errors.push_back(at + ": " + Minified(value) + " is not of type " + Minified(arg));
    } else if (key == "enum") {
      bool ok = false;
      const std::string v = Minified(value);
      for (element option : simdjson::dom::array(arg)) ok |= Minified(option) == v;
      if (!ok) errors.push_back(at + ": " + v + " is not one of " + Minified(arg));
    } else if (key == "const") {
      if (Minified(arg) != Minified(value)) {
        errors.push_back(at + ": " + Minified(value) + " is not " + Minified(arg));
      }
    } else if (key == "properties") {
      simdjson::dom::object object;
      if (value.get_object().get(object)) continue;  // "type" says what it must be
      for (auto [name, member] : object) {
        element property;
        if (arg.at_key(name).get(property)) continue;
        Validate(property, member, where + "/" + PointerToken(name), errors, depth + 1);
      }
    } else if (key == "required") {
      simdjson::dom::object object;
      if (value.get_object().get(object)) continue;
      for (element name : simdjson::dom::array(arg)) {
        element member;
        if (object.at_key(std::string_view(name)).get(member)) {
          errors.push_back(at + ": the member " + Minified(name) + " is missing");
        }
      }
    } else if (key == "additionalProperties") {
      simdjson::dom::object object;
      if (value.get_object().get(object)) continue;
      element properties;
      const bool listed = !schema.at_key("properties").get(properties);
      for (auto [name, member] : object) {
        element known;
        if (listed && !properties.at_key(name).get(known)) continue;
        if (arg.is_bool()) {
          if (!bool(arg)) {
            errors.push_back(at + ": the member \"" + std::string(name) + "\" is not described");
          }
        } else {
          Validate(arg, member, where + "/" + PointerToken(name), errors, depth + 1);
        }
      }
    } else if (key == "items") {
      simdjson::dom::array array;
      if (value.get_array().get(array)) continue;
      size_t i = 0;
      for (element item : array) {
        Validate(arg, item, where + "/" + std::to_string(i++), errors, depth + 1);
      }
    } else if (key == "minItems") {
      simdjson::dom::array array;
      if (value.get_array().get(array)) continue;
      if (array.size() < uint64_t(arg)) {
        errors.push_back(at + ": fewer than " + Minified(arg) + " items");
      }
    } else if (key == "oneOf" || key == "anyOf") {
      size_t matches = 0;
      std::string reasons;
      for (element option : simdjson::dom::array(arg)) {
        std::vector<std::string> option_errors;
        Validate(option, value, where, option_errors, depth + 1);
        if (option_errors.empty()) {
          ++matches;
        } else {
          reasons += " [" + option_errors.front() + "]";
        }
      }
      if (key == "oneOf" && matches != 1) {
        errors.push_back(at + ": matches " + std::to_string(matches) +
                         " of the oneOf schemas, not exactly one:" + reasons);
      } else if (key == "anyOf" && matches == 0) {
        errors.push_back(at + ": matches none of the anyOf schemas:" + reasons);
      }
    } else if (key == "minimum" || key == "maximum") {
      if (!HasType(value, "number")) continue;
      const double v = NumberOf(value);
      const double bound = NumberOf(arg);
      if (key == "minimum" ? v < bound : v > bound) {
        errors.push_back(at + ": " + Minified(value) + " is beyond the " + std::string(key) + " " +
                         Minified(arg));
      }
    } else if (key == "pattern") {
      std::string_view text;
      if (value.get_string().get(text)) continue;
      if (!std::regex_search(std::string(text), std::regex(std::string(std::string_view(arg))))) {
        errors.push_back(at + ": " + Minified(value) + " does not match " + Minified(arg));
      }
    } else {
      errors.push_back(at + ": the checker does not know the keyword \"" + std::string(key) + "\"");
    }
  }
}

}  // namespace buildtrace
