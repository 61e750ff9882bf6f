// Reading a whole file to parse it, the cheapest way this machine has: a regular file of
// kMapFromBytes or more is mapped read-only with MAP_POPULATE (its cached pages mapped in one call
// instead of one fault per 4 KiB), and the padding simdjson reads past the end comes from the
// zeroed tail of the last page or one anonymous page mapped after it, never from a copy. Anything
// else (a small file, a pipe, /dev/stdin) is read, into a buffer that grows with the bytes that
// arrive. Used by the file store and by `buildtrace diff`.
//
// A mapped file must not shrink while it is mapped: reading a page past its new end raises
// SIGBUS. The store never rewrites an object in place (it writes a new file and renames it), and
// docs/operations.md tells operators never to edit the data folder's objects in place.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/large_memory.h"
#include "core/status.h"

namespace buildtrace {

inline constexpr size_t kMapFromBytes = size_t{256} << 10;

// Reads the open descriptor `fd` (positioned at its start) to its end. `what` names it in errors
// ("p.json: cannot read the file (...)"). A file longer than `max_bytes` is refused with
// kTooLarge. Errors are kUnavailable (the read failed) or kTooLarge.
Result<InputBytes> ReadInputFile(int fd, std::string_view what, size_t max_bytes);

// Opens `path` and reads it as above; an unopenable path is kInvalidArgument naming it and why.
Result<InputBytes> ReadInputFile(const std::string& path, size_t max_bytes);

}  // namespace buildtrace
