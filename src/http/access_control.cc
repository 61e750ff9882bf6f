// The tokens file parser and the access decision. Messages name the file and the line, never the
// token or its hash, so that they are safe to print and to log.
#include "http/access_control.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/canonical_hash.h"
#include "core/job.h"

namespace buildtrace {
namespace {

constexpr std::string_view kHashPrefix = "sha256:";
constexpr size_t kHexDigits = 64;

std::vector<std::string_view> SplitFields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

std::vector<std::string_view> SplitCommas(std::string_view text) {
  std::vector<std::string_view> items;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    items.push_back(text.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) return items;
    start = comma + 1;
  }
}

// The 64 hex digits after "sha256:", lowercased; nullopt if the field is not of that form.
std::optional<std::string> ParseHash(std::string_view field) {
  if (field.substr(0, kHashPrefix.size()) != kHashPrefix) return std::nullopt;
  std::string hex(field.substr(kHashPrefix.size()));
  if (hex.size() != kHexDigits) return std::nullopt;
  for (char& c : hex) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return hex;
}

// Parses one non-comment line; the error message is completed with the file and line by the
// caller.
Result<AccessToken> ParseLine(std::string_view line) {
  const std::vector<std::string_view> fields = SplitFields(line);
  if (fields.size() < 2 || fields.size() > 3) {
    return InvalidArgument("expected \"sha256:<hex of the token> <scopes> [<projects>]\", got " +
                           std::to_string(fields.size()) + " fields");
  }
  AccessToken token;
  std::optional<std::string> hash = ParseHash(fields[0]);
  if (!hash) {
    return InvalidArgument(
        "the first field must be sha256: followed by the 64 hex digits of "
        "the token's SHA-256 (e.g. from `printf %s TOKEN | sha256sum`)");
  }
  token.sha256_hex = std::move(*hash);
  // Errors name a bad scope or project by its position, never by its value: a token pasted into
  // the wrong field must not reach the log.
  const std::vector<std::string_view> scopes = SplitCommas(fields[1]);
  for (size_t i = 0; i < scopes.size(); ++i) {
    if (scopes[i] == "ingest") {
      token.scopes |= static_cast<uint8_t>(AccessScope::kIngest);
    } else if (scopes[i] == "read") {
      token.scopes |= static_cast<uint8_t>(AccessScope::kRead);
    } else if (scopes[i] == "worker") {
      token.scopes |= static_cast<uint8_t>(AccessScope::kWorker);
    } else if (scopes[i] == "admin") {
      token.scopes |= static_cast<uint8_t>(AccessScope::kAdmin);
    } else {
      return InvalidArgument("scope " + std::to_string(i + 1) +
                             " of the second field is not a scope; the scopes are ingest, read, "
                             "worker and admin, comma-separated");
    }
  }
  if (fields.size() == 3) {
    const std::vector<std::string_view> projects = SplitCommas(fields[2]);
    for (size_t i = 0; i < projects.size(); ++i) {
      if (!IsValidProjectName(projects[i])) {
        return InvalidArgument("project " + std::to_string(i + 1) +
                               " of the third field is not a project name; list projects "
                               "comma-separated, each 1-128 characters of A-Z, a-z, 0-9, '.', "
                               "'_' or '-'");
      }
      token.projects.emplace_back(projects[i]);
    }
  }
  return token;
}

AccessDecision Deny(AccessDecision::Outcome outcome, const AccessToken* token,
                    std::string message) {
  return AccessDecision{outcome, token, std::move(message)};
}

}  // namespace

std::string_view AccessScopeName(AccessScope scope) {
  switch (scope) {
    case AccessScope::kIngest:
      return "ingest";
    case AccessScope::kRead:
      return "read";
    case AccessScope::kWorker:
      return "worker";
    case AccessScope::kAdmin:
      return "admin";
  }
  return "unknown";
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool AccessToken::AllowsProject(std::string_view project) const {
  return projects.empty() || std::find(projects.begin(), projects.end(), project) != projects.end();
}

Result<AccessControl> AccessControl::Parse(std::string_view text, std::string_view source,
                                           DigestEqual equal) {
  std::vector<AccessToken> tokens;
  int line_number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    const std::string where =
        "tokens file " + std::string(source) + ", line " + std::to_string(line_number) + ": ";
    Result<AccessToken> token = ParseLine(line);
    if (!token.ok()) return token.status().WithContext(where);
    for (const AccessToken& other : tokens) {
      if (other.sha256_hex == token->sha256_hex) {
        return InvalidArgument(where + "the same token hash is already on line " +
                               std::to_string(other.line) + "; keep one line per token");
      }
    }
    token->line = line_number;
    tokens.push_back(std::move(*token));
  }
  if (tokens.empty()) {
    return InvalidArgument("tokens file " + std::string(source) +
                           " lists no token; add lines \"sha256:<hex> <scopes> [<projects>]\"");
  }
  return AccessControl(std::move(tokens), std::move(equal));
}

Result<AccessControl> AccessControl::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    return InvalidArgument("cannot read the tokens file " + path +
                           "; check the path given to --auth-tokens-file");
  }
  return Parse(text.str(), path);
}

const AccessToken* AccessControl::Authenticate(std::string_view authorization) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size()) return nullptr;
  // The scheme is case-insensitive (RFC 9110 section 11.1).
  for (size_t i = 0; i < kBearer.size(); ++i) {
    const char c = authorization[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    const char want = (kBearer[i] >= 'A' && kBearer[i] <= 'Z')
                          ? static_cast<char>(kBearer[i] - 'A' + 'a')
                          : kBearer[i];
    if (lower != want) return nullptr;
  }
  std::string_view token = authorization.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return nullptr;
  const std::string digest = Sha256Hex(token);
  // Every entry is compared, even after a match, so the time taken says nothing about which
  // entry matched or how much of a hash did.
  const AccessToken* match = nullptr;
  for (const AccessToken& entry : tokens_) {
    if (equal_(entry.sha256_hex, digest) && match == nullptr) match = &entry;
  }
  return match;
}

AccessDecision AccessControl::Decide(std::string_view authorization, const AccessNeed& need) const {
  using Outcome = AccessDecision::Outcome;
  const AccessToken* token = Authenticate(authorization);
  if (token == nullptr) {
    return Deny(Outcome::kUnauthenticated, nullptr,
                authorization.empty()
                    ? "this endpoint needs a token; send \"Authorization: Bearer <token>\""
                    : "the bearer token is not valid; send a token listed in the tokens file");
  }
  if (need.scope && !token->HasScope(*need.scope)) {
    return Deny(Outcome::kForbidden, token,
                "the token lacks the " + std::string(AccessScopeName(*need.scope)) +
                    " scope this request needs; use a token that has it");
  }
  if (need.project && !token->AllowsProject(*need.project)) {
    return Deny(Outcome::kForbidden, token,
                "the token does not allow project " + need.project->substr(0, 128) +
                    "; use a token listed for that project");
  }
  if (need.every_project && !token->AllowsEveryProject()) {
    return Deny(Outcome::kForbidden, token,
                "the token is limited to some projects; name one with ?project=, or use a "
                "token without a project list");
  }
  return AccessDecision{Outcome::kAllowed, token, ""};
}

AccessDecision DecideProjects(const AccessToken& token, const std::vector<std::string>& projects) {
  for (const std::string& project : projects) {
    if (!token.AllowsProject(project)) {
      return Deny(AccessDecision::Outcome::kForbidden, &token,
                  "the token does not allow project " + project +
                      "; nothing was stored; post only jobs of the token's projects");
    }
  }
  return AccessDecision{AccessDecision::Outcome::kAllowed, &token, ""};
}

}  // namespace buildtrace
