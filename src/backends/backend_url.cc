// Parsing of backend URLs.
#include "backends/backend_url.h"

#include <algorithm>
#include <array>
#include <charconv>

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
    return InvalidArgument("backend URL \"" + url.text + "\" has a query or fragment, which " +
                           url.scheme + ":// does not take; give a plain path");
  }
  return path;
}

Result<UrlQuery> SplitQuery(const BackendUrl& url) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("backend URL \"" + url.text + "\" " + why +
                           "; write parameters as ?name=value&name=value");
  };
  if (url.rest.find('#') != std::string::npos) return bad("has a fragment");
  UrlQuery out{url, {}};
  const size_t mark = url.rest.find('?');
  if (mark == std::string::npos) return out;
  out.without_query.rest = url.rest.substr(0, mark);
  std::string_view query = std::string_view(url.rest).substr(mark + 1);
  while (!query.empty() || out.parameters.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    const size_t eq = param.find('=');
    if (eq == std::string_view::npos || eq == 0 || eq + 1 == param.size()) {
      return bad("has a parameter without a name or a value (\"" + std::string(param) + "\")");
    }
    std::string name(param.substr(0, eq));
    if (std::any_of(out.parameters.begin(), out.parameters.end(),
                    [&](const auto& p) { return p.first == name; })) {
      return bad("gives parameter " + name + " twice");
    }
    out.parameters.emplace_back(std::move(name), std::string(param.substr(eq + 1)));
  }
  return out;
}

Result<int64_t> ParseBoundedParameter(const BackendUrl& url, const std::string& name,
                                      const std::string& value, int64_t low, int64_t high) {
  int64_t n = -1;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n < low || n > high) {
    return InvalidArgument("URL \"" + url.text + "\": " + name + " must be a whole number from " +
                           std::to_string(low) + " to " + std::to_string(high));
  }
  return n;
}

std::optional<uint64_t> ParseByteCount(std::string_view text) {
  constexpr std::array<std::pair<std::string_view, int>, 3> kSuffixes = {
      {{"KiB", 10}, {"MiB", 20}, {"GiB", 30}}};
  int shift = 0;
  for (const auto& [suffix, bits] : kSuffixes) {
    if (text.ends_with(suffix)) {
      text.remove_suffix(suffix.size());
      shift = bits;
      break;
    }
  }
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (shift > 0 && value > (UINT64_MAX >> shift)) return std::nullopt;
  return value << shift;
}

}  // namespace buildtrace
