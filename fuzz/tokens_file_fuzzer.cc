// Fuzzes the parser of the --auth-tokens-file text (AccessControl::Parse in
// http/access_control.h) and checks what it promises, not only that it does not crash:
// - a parsed entry has 64 lowercase hex digits, one or both scopes and only valid project
//   names, and sits on the line it names, which holds that hash; no hash is listed twice;
// - written back in the file's format, the entries parse to the same entries (there is no
//   writer in the product, so this file has the smallest one);
// - an error is kInvalidArgument, names the file, and names a line that exists, holds a token
//   entry, and is the first bad one: the lines before it parse (or hold no entry), the line
//   alone does not (unless its hash repeats an earlier line's); only a file without any entry
//   is rejected without a line.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/job.h"
#include "http/access_control.h"

namespace {

using buildtrace::AccessControl;
using buildtrace::AccessToken;

constexpr std::string_view kSource = "fuzz.txt";

// Asserts a property; aborts (so libFuzzer keeps the input) when it does not hold.
void Check(bool holds) {
  if (!holds) std::abort();
}

// The lines of `text` as the parser splits them (on '\n'; a trailing '\r' belongs to no field).
std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// A line that holds an entry (or a malformed one): neither blank nor a comment.
bool HoldsEntry(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const size_t first = line.find_first_not_of(" \t");
  return first != std::string_view::npos && line[first] != '#';
}

bool IsLowerHex(std::string_view hex) {
  if (hex.size() != 64) return false;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

// The entries in the file's format, one a line.
std::string Write(const std::vector<AccessToken>& tokens) {
  std::string text = "# written back by tokens_file_fuzzer\n";
  for (const AccessToken& t : tokens) {
    text += "sha256:" + t.sha256_hex + " ";
    if (t.HasScope(buildtrace::AccessScope::kIngest)) text += "ingest";
    if (t.HasScope(buildtrace::AccessScope::kRead)) {
      text += t.HasScope(buildtrace::AccessScope::kIngest) ? ",read" : "read";
    }
    for (size_t i = 0; i < t.projects.size(); ++i) text += (i == 0 ? " " : ",") + t.projects[i];
    text += "\n";
  }
  return text;
}

void CheckEntries(const std::vector<AccessToken>& tokens,
                  const std::vector<std::string_view>& lines) {
  Check(!tokens.empty());
  int previous_line = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const AccessToken& t = tokens[i];
    Check(IsLowerHex(t.sha256_hex));
    Check(t.scopes != 0 && (t.scopes & ~3u) == 0);
    for (const std::string& project : t.projects) Check(buildtrace::IsValidProjectName(project));
    Check(t.line > previous_line && t.line <= static_cast<int>(lines.size()));
    previous_line = t.line;
    std::string_view line = lines[t.line - 1];
    line.remove_prefix(std::min(line.size(), line.find_first_not_of(" \t")));
    Check(line.substr(0, 7) == "sha256:" && EqualsIgnoringCase(line.substr(7, 64), t.sha256_hex));
    for (size_t j = 0; j < i; ++j) Check(tokens[j].sha256_hex != t.sha256_hex);
  }
}

void CheckRoundTrip(const std::vector<AccessToken>& tokens) {
  auto again = AccessControl::Parse(Write(tokens), kSource);
  Check(again.ok());
  const std::vector<AccessToken>& back = again->tokens();
  Check(back.size() == tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    Check(back[i].sha256_hex == tokens[i].sha256_hex && back[i].scopes == tokens[i].scopes &&
          back[i].projects == tokens[i].projects && back[i].line == static_cast<int>(i) + 2);
  }
}

// The line an error names: "tokens file fuzz.txt, line N: ...", or 0 for a file without entries.
int NamedLine(const std::string& message) {
  const std::string prefix = "tokens file " + std::string(kSource);
  Check(message.compare(0, prefix.size(), prefix) == 0);
  if (message.compare(prefix.size(), 7, ", line ") != 0) {
    Check(message.compare(prefix.size(), 15, " lists no token") == 0);
    return 0;
  }
  const int line = std::atoi(message.c_str() + prefix.size() + 7);
  Check(line >= 1);
  return line;
}

void CheckError(const buildtrace::Status& status, std::string_view text,
                const std::vector<std::string_view>& lines) {
  Check(status.code() == buildtrace::StatusCode::kInvalidArgument);
  const int line = NamedLine(status.message());
  if (line == 0) {
    for (std::string_view l : lines) Check(!HoldsEntry(l));
    return;
  }
  Check(line <= static_cast<int>(lines.size()) && HoldsEntry(lines[line - 1]));
  // Everything before the named line is fine: it parses, or holds no entry at all.
  const size_t before = static_cast<size_t>(lines[line - 1].data() - text.data());
  auto prefix = AccessControl::Parse(text.substr(0, before), kSource);
  Check(prefix.ok() || NamedLine(prefix.status().message()) == 0);
  // The named line is bad on its own, unless what is wrong is that its hash came before.
  const bool duplicate = status.message().find("already on line") != std::string::npos;
  auto alone = AccessControl::Parse(lines[line - 1], kSource);
  Check(duplicate ? (alone.ok() && prefix.ok()) : !alone.ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string_view> lines = Lines(text);
  auto parsed = AccessControl::Parse(text, kSource);
  if (!parsed.ok()) {
    CheckError(parsed.status(), text, lines);
    return 0;
  }
  CheckEntries(parsed->tokens(), lines);
  CheckRoundTrip(parsed->tokens());
  return 0;
}
