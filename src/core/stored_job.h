// The sealed form of a stored job: the job's canonical bytes (SerializeJob) with their SHA-256
// kept inside the object as one last member, so that a bit flip or a truncation in the store is
// found on read instead of being served or diffed as the acknowledged job.
//
//   canonical: {"job_id":1,...,"state":{...}}\n
//   sealed:    {"job_id":1,...,"state":{...},"digest":"sha256:<64 hex>"}\n
//
// The digest is that of the canonical bytes, the digest POST /process answers; GET /jobs serves
// the canonical bytes, so a client that hashes them finds the digest it was given. A sealed object
// is still one JSON document, so tools that read the store's files keep working.
#pragma once

#include <string>
#include <string_view>

#include "core/large_memory.h"
#include "core/status.h"

namespace buildtrace {

// Appends the digest member to `canonical` (which must end with "}\n", as SerializeJob's output
// does); `digest` is ContentDigest(canonical).
void SealStoredJob(std::string& canonical, std::string_view digest);

// What takes the place of the canonical bytes' final "}\n" (kJobEnd) in the sealed form:
// ,"digest":"<digest>"}\n. For a job written in pieces (SerializeJobPieces).
std::string StoredJobSeal(std::string_view digest);
// Its size, for a digest from ContentDigest ("sha256:" and 64 hex digits).
inline constexpr size_t kStoredJobSealBytes = 85;

struct UnsealedJob {
  std::string digest;     // "sha256:<hex>" of the canonical bytes
  bool verified = false;  // false: an object written before sealing existed (no digest kept)
};

// Turns sealed bytes back into the canonical bytes, in place (the string keeps its capacity, so
// a parser's read padding survives), and checks the digest. An object without a digest member
// (written by an earlier version) is left as it is and reported unverified. kInternal with reason
// "corrupt_object" when the kept digest does not match the bytes; `what` names the object.
Result<UnsealedJob> UnsealStoredJob(std::string& stored, std::string_view what);
// The same over an input about to be parsed (a mapped object: only its last page is copied).
Result<UnsealedJob> UnsealStoredJob(InputBytes& stored, std::string_view what);

}  // namespace buildtrace
