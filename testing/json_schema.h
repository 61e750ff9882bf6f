// A JSON Schema checker for tests: validates an answer against a schema of the API's OpenAPI
// document. It knows the keywords that document uses (type, enum, const, properties, required,
// additionalProperties, items, minItems, oneOf, anyOf, minimum, maximum, pattern, $ref into the
// document) and reports any other keyword as an error, so a schema never passes by being
// misunderstood. Annotations (description, default, format, title) are ignored.
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>
#include <vector>

namespace buildtrace {

class JsonSchemaChecker {
 public:
  // `document`: the JSON text that "$ref": "#/..." pointers resolve in (an OpenAPI document).
  explicit JsonSchemaChecker(std::string document);

  // Empty when `instance` (JSON text) satisfies `schema` (JSON text); else one message per
  // violation, each naming the instance's JSON pointer ("/changes/modified/0/kind").
  std::vector<std::string> Check(std::string_view schema, std::string_view instance) const;

  // As Check, with the schema taken from the document at a JSON pointer
  // ("/components/schemas/Report").
  std::vector<std::string> CheckAt(std::string_view schema_pointer,
                                   std::string_view instance) const;

 private:
  void Validate(simdjson::dom::element schema, simdjson::dom::element value,
                const std::string& where, std::vector<std::string>& errors, int depth) const;

  std::string document_text_;
  simdjson::dom::parser document_parser_;
  simdjson::dom::element document_;
  std::string document_error_;
};

}  // namespace buildtrace
