// Who wrote a temporary file of the file store: a short hash of the host (hostname and boot id),
// the pid and the process's start time, spelled into the temporary file's name. Open() uses it
// to remove only what a writer that is certainly gone left behind.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace buildtrace {

struct WriterIdentity {
  std::string host;  // 12 hex digits: a hash of the hostname and the boot id
  pid_t pid = 0;
  uint64_t start_time = 0;  // field 22 of /proc/<pid>/stat (clock ticks after boot); 0 if unknown
};

// This host's hash (computed once per process).
const std::string& ThisHost();

// The identity of process `pid` on this host; nullopt if it is not running (or /proc says
// nothing about it).
std::optional<WriterIdentity> IdentityOfProcess(pid_t pid);

// This process's identity (recomputed after a fork).
WriterIdentity ThisWriter();

// ".tmp-<host>-<pid>-<start time>-<16 hex digits of `random`>~". The '~' makes it an invalid
// object name, so a temporary file is never listed nor mistaken for an object.
std::string TempFileName(const WriterIdentity& writer, uint64_t random);

// True for any ".tmp-...~" name, old formats included.
bool IsTempFileName(std::string_view file_name);

// The writer spelled in a TempFileName; nullopt for other names (e.g. the old ".tmp-<hex>~").
std::optional<WriterIdentity> WriterOfTempFile(std::string_view file_name);

// True only when `writer` certainly no longer runs: it ran on this host (same hostname and boot)
// and its pid is not running or is now another process (a different start time).
bool WriterIsGone(const WriterIdentity& writer);

}  // namespace buildtrace
