// Fuzzes the geometry readers (core/pseudo_hash.h): the "type_x_y_w_h" pseudo-hash a client puts
// in a state, and a structured object's canonical JSON.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/pseudo_hash.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto geometry = buildtrace::ParsePseudoHash(input);
  if (geometry && geometry->type.empty()) std::abort();  // the type is promised non-empty
  (void)buildtrace::GeometryOfStructured(input);
  return 0;
}
