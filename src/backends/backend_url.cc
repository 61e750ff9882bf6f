// Parsing of backend URLs.
#include "backends/backend_url.h"

namespace buildtrace {

Result<BackendUrl> ParseBackendUrl(std::string_view url) {
  const size_t sep = url.find("://");
  auto bad = [&](const std::string& why) {
    return InvalidArgument("backend URL \"" + std::string(url) + "\" " + why +
                           "; write it as scheme://..., e.g. file:///var/lib/buildtrace");
  };
  if (sep == std::string_view::npos || sep == 0) return bad("has no scheme");
  for (char c : url) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return bad("holds a control character");
  }
  BackendUrl parsed;
  for (char c : url.substr(0, sep)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '-' || c == '.';
    if (!ok) return bad("has an invalid scheme");
    parsed.scheme.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  parsed.rest = std::string(url.substr(sep + 3));
  parsed.text = std::string(url);
  return parsed;
}

Result<std::string> LocalPathOf(const BackendUrl& url) {
  std::string path = url.rest;
  if (path.starts_with("localhost/")) path.erase(0, 9);
  if (path.empty()) {
    return InvalidArgument("backend URL \"" + url.text + "\" names no path; write e.g. " +
                           url.scheme + ":///var/lib/buildtrace/...");
  }
  if (path.find_first_of("?#") != std::string::npos) {
    return InvalidArgument("backend URL \"" + url.text +
                           "\" has a query or fragment, which " + url.scheme +
                           ":// does not take; give a plain path");
  }
  return path;
}

}  // namespace buildtrace
