// Deterministic bytes for tests: every one of the 256 values, no run alike for long, the same for
// the same seed, so that a piece lost, doubled or misplaced on the way changes what arrives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

namespace buildtrace {

inline std::string RandomBytes(size_t size, uint32_t seed) {
  std::mt19937 engine(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(engine() & 0xFF);
  return bytes;
}

}  // namespace buildtrace
