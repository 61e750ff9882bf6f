// Matching request paths against the route table.
#include "http/routes.h"

#include <algorithm>

namespace buildtrace {
namespace {

// Calls `f` with each segment of a route path ("/report/{job_id}" -> "report", "{job_id}").
template <typename F>
void ForEachSegment(std::string_view path, F f) {
  if (path == "/") return;  // the root has no segment
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    f(path.substr(start, end - start));
    start = end + 1;
  }
}

}  // namespace

bool PathMatches(std::string_view path, std::span<const std::string> segments) {
  size_t i = 0;
  bool match = true;
  ForEachSegment(path, [&](std::string_view segment) {
    if (!match) return;
    if (i >= segments.size()) {
      match = false;
      return;
    }
    const bool placeholder = !segment.empty() && segment.front() == '{';
    if (placeholder) {
      // "{job_id}.svg": a placeholder may end in a literal suffix, which the segment must end
      // in after at least one character of its own.
      const std::string_view suffix = segment.substr(segment.find('}') + 1);
      match = segments[i].size() > suffix.size() && segments[i].ends_with(suffix);
    } else {
      match = segment == segments[i];
    }
    ++i;
  });
  return match && i == segments.size();
}

std::optional<size_t> PathParamIndex(std::string_view path, std::string_view name) {
  std::optional<size_t> found;
  size_t i = 0;
  ForEachSegment(path, [&](std::string_view segment) {
    if (segment.size() == name.size() + 2 && segment.front() == '{' && segment.back() == '}' &&
        segment.substr(1, name.size()) == name) {
      found = i;
    }
    ++i;
  });
  return found;
}

std::vector<const Route*> RoutesAt(std::span<const Route> routes,
                                   std::span<const std::string> segments) {
  std::vector<const Route*> out;
  for (const Route& route : routes) {
    if (PathMatches(route.path, segments)) out.push_back(&route);
  }
  return out;
}

const Route* RouteFor(std::span<const Route* const> at, boost::beast::http::verb method) {
  for (const Route* route : at) {
    if (route->method == method) return route;
  }
  return nullptr;
}

std::string AllowedMethods(std::span<const Route* const> at) {
  std::string out;
  for (const Route* route : at) {
    const std::string method(boost::beast::http::to_string(route->method));
    // "/report/2.svg" matches two GET routes: name each method once.
    if (("," + out + ",").find(" " + method + ",") != std::string::npos || out == method ||
        out.starts_with(method + ",")) {
      continue;
    }
    if (!out.empty()) out += ", ";
    out += method;
  }
  return out;
}

std::vector<RouteAnswer> DocumentedAnswers(const Route& route) {
  static constexpr std::string_view kError = R"({"$ref":"#/components/schemas/Error"})";
  std::vector<RouteAnswer> out(route.answers.begin(), route.answers.end());
  auto add = [&](int status, std::string_view description) {
    const bool listed = std::any_of(out.begin(), out.end(),
                                    [&](const RouteAnswer& a) { return a.status == status; });
    if (!listed) out.push_back({status, description, "application/json", kError});
  };
  if (!route.lenient_params) add(400, "An unknown query parameter, or a bad value.");
  if (route.scope) {
    add(401, "No token, or one not in the tokens file (with WWW-Authenticate: Bearer).");
    add(403, "The token lacks the scope or the project.");
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const RouteAnswer& a, const RouteAnswer& b) { return a.status < b.status; });
  return out;
}

std::vector<std::string_view> QueryParamNames(const Route& route) {
  std::vector<std::string_view> out;
  for (const RouteParam& param : route.params) {
    if (!param.in_path) out.push_back(param.name);
  }
  return out;
}

}  // namespace buildtrace
