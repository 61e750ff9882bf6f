// gzip compression for tests of compressed request bodies (the service itself only decompresses).
#pragma once

#include <string>
#include <string_view>

namespace buildtrace {

// One gzip member holding `data`, compressed at zlib `level` (-1: zlib's default, 1-9).
// A zlib failure is a test failure and yields "".
std::string Gzip(std::string_view data, int level = -1);

}  // namespace buildtrace
