// Sealing and checking stored jobs.
#include "core/stored_job.h"

#include <algorithm>

#include "core/canonical_hash.h"

namespace buildtrace {
namespace {

constexpr std::string_view kMember = ",\"digest\":\"sha256:";
constexpr size_t kHexDigits = 64;
constexpr std::string_view kEnd = "\"}\n";
constexpr size_t kSealBytes = kMember.size() + kHexDigits + kEnd.size();
static_assert(kSealBytes == kStoredJobSealBytes);

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

std::string StoredJobSeal(std::string_view digest) {
  std::string seal(kMember.substr(0, kMember.size() - 7));  // ,"digest":"
  seal.append(digest);
  seal.append(kEnd);
  return seal;
}

void SealStoredJob(std::string& canonical, std::string_view digest) {
  // "...}\n" -> "...,"digest":"sha256:<hex>"}\n"
  canonical.resize(canonical.size() - 2);
  canonical.append(StoredJobSeal(digest));
}

// Checks the seal of `bytes`; `end_at(seal)` turns them into the canonical bytes by writing
// "}\n" over the seal's start, and returns them.
template <typename EndAt>
Result<UnsealedJob> Unseal(std::string_view bytes, std::string_view what, EndAt end_at) {
  if (bytes.size() < kSealBytes + 2 || !bytes.ends_with(kEnd)) return UnsealedJob{};
  const size_t seal = bytes.size() - kSealBytes;
  const std::string_view hex = bytes.substr(seal + kMember.size(), kHexDigits);
  if (bytes.substr(seal, kMember.size()) != kMember || !IsLowerHex(hex)) return UnsealedJob{};
  UnsealedJob out{"sha256:" + std::string(hex), true};
  if (ContentDigest(end_at(seal)) != out.digest) {
    return Internal("stored object " + std::string(what) +
                    " is corrupt: its bytes do not match the SHA-256 kept with them (" +
                    out.digest + "); restore it from a backup")
        .WithReason("corrupt_object");
  }
  return out;
}

Result<UnsealedJob> UnsealStoredJob(std::string& stored, std::string_view what) {
  return Unseal(stored, what, [&](size_t seal) {
    stored.resize(seal);
    stored.append("}\n");
    return std::string_view(stored);
  });
}

Result<UnsealedJob> UnsealStoredJob(InputBytes& stored, std::string_view what) {
  return Unseal(stored.view(), what, [&](size_t seal) {
    stored.ReplaceEnd(seal, "}\n");
    return stored.view();
  });
}

}  // namespace buildtrace
