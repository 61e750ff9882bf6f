// gzip for tests: compressing request bodies, and reading compressed answers back.
#pragma once

#include <string>
#include <string_view>

namespace buildtrace {

// One gzip member holding `data`, compressed at zlib `level` (-1: zlib's default, 1-9).
// A zlib failure is a test failure and yields "".
std::string Gzip(std::string_view data, int level = -1);

// What the gzip stream `data` (one or more members) holds. A malformed or truncated stream is a
// test failure and yields "<not gzip>".
std::string Gunzip(std::string_view data);

}  // namespace buildtrace
