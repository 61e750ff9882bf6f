// Bearer-token access control (docs/operations.md, "Access control"): the tokens file named by
// --auth-tokens-file, and the decision whether a request's Authorization header may use a scope
// (ingest, read, worker or admin) on a project. Only SHA-256 hashes of tokens are kept; a presented
// token is hashed and compared with every entry in constant time. Nothing here logs a token or a
// hash.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace buildtrace {

enum class AccessScope : uint8_t {
  kIngest = 1,  // POST /process
  kRead = 2,    // GET /report, /jobs, /projects, /stats
  kWorker = 4,  // POST /tasks/pubsub (Pub/Sub push deliveries of analysis tasks)
  kAdmin = 8,   // DELETE /projects/{project} (destroys a project's data)
};

// The scope's name in the tokens file and in messages: "ingest", "read", "worker" or "admin".
std::string_view AccessScopeName(AccessScope scope);

// One line of the tokens file.
struct AccessToken {
  std::string sha256_hex;             // 64 lowercase hex digits: SHA-256 of the token
  uint8_t scopes = 0;                 // a set of AccessScope bits
  std::vector<std::string> projects;  // empty: every project
  int line = 0;                       // in the tokens file, for messages

  bool HasScope(AccessScope scope) const { return (scopes & static_cast<uint8_t>(scope)) != 0; }
  bool AllowsEveryProject() const { return projects.empty(); }
  bool AllowsProject(std::string_view project) const;
};

// What a request needs: a scope (none: any valid token will do, e.g. for an unknown path) and,
// when it names one, a project; `every_project` asks for a token without a project list.
struct AccessNeed {
  std::optional<AccessScope> scope;
  std::optional<std::string> project;
  bool every_project = false;
};

struct AccessDecision {
  enum class Outcome { kAllowed, kUnauthenticated, kForbidden };
  Outcome outcome = Outcome::kAllowed;
  const AccessToken* token = nullptr;  // the matching entry, when there is one
  std::string message;                 // why not, in one sentence; never names the token

  bool allowed() const { return outcome == Outcome::kAllowed; }
};

// Compares two equally long digests without an early exit; the default is OpenSSL's
// CRYPTO_memcmp. Injectable so that a test can see every entry being compared.
using DigestEqual = std::function<bool(std::string_view, std::string_view)>;
bool ConstantTimeEqual(std::string_view a, std::string_view b);

// Immutable after construction; Decide is thread-safe.
class AccessControl {
 public:
  // Parses the tokens file format:
  //   # comment
  //   sha256:<64 hex digits> <scopes> [<projects>]
  // with <scopes> any of "ingest", "read", "worker" and "admin", comma-separated, and <projects> a
  // comma-separated list of project names. kInvalidArgument naming `source` and the line for any
  // malformed line, for a hash listed twice, and for a file without any token.
  static Result<AccessControl> Parse(std::string_view text, std::string_view source,
                                     DigestEqual equal = ConstantTimeEqual);
  // Reads and parses the file at `path`; kInvalidArgument if it cannot be read.
  static Result<AccessControl> Load(const std::string& path);

  // `authorization` is the Authorization header's value ("Bearer <token>"), empty if none.
  // kUnauthenticated without a valid token, kForbidden when the token lacks the scope or the
  // project, else kAllowed with the token's entry.
  AccessDecision Decide(std::string_view authorization, const AccessNeed& need) const;

  // The entry whose hash matches the bearer token in `authorization`, or null.
  const AccessToken* Authenticate(std::string_view authorization) const;

  const std::vector<AccessToken>& tokens() const { return tokens_; }

 private:
  AccessControl(std::vector<AccessToken> tokens, DigestEqual equal)
      : tokens_(std::move(tokens)), equal_(std::move(equal)) {}

  std::vector<AccessToken> tokens_;
  DigestEqual equal_;
};

// The decision for the projects of a POST /process body: every one must be allowed.
AccessDecision DecideProjects(const AccessToken& token, const std::vector<std::string>& projects);

}  // namespace buildtrace
