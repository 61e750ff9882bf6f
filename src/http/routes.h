// The API's route table: the one place a route is declared. Each entry says its method and path,
// its parameters, the token scope it needs and where the project it touches comes from, the
// handler that answers it, the lane it runs on, and the answers it documents. Dispatch, access
// control, 405s, unknown-parameter checks, lanes, GET /openapi.json and GET /docs all read it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/access_control.h"
#include "http/server.h"

namespace buildtrace {

class Api;
struct RequestTarget;

// What a handler is given: the request, its parsed target, and the caller's token entry (null
// when no access control is configured, or for an open route).
struct RouteCall {
  HttpRequest& request;
  const RequestTarget& target;
  const AccessToken* token = nullptr;
};

using RouteHandler = HttpResponse (Api::*)(RouteCall&);

// Where the project a request touches is named, for a project-scoped token.
enum class ProjectFrom : uint8_t {
  kNone,            // no project's data (or only counts across projects)
  kQuery,           // ?project=, the default project when absent
  kQueryOrEvery,    // ?project=; absent: every project (needs a token without a project list)
  kPath,            // the path's {project} segment: /projects/{project}/...
  kBody,            // the jobs in the body, checked once it is parsed
  kFilteredAnswer,  // the answer lists only the token's projects
};

// A parameter, in the path ("{job_id}") or the query string. `schema` is its JSON Schema, as
// JSON text.
struct RouteParam {
  std::string_view name;
  bool in_path = false;
  bool required = false;
  std::string_view schema;
  std::string_view description;
};

// A documented answer: its status, what it means, and its body (a media type and a JSON Schema,
// a "$ref" to a component schema as JSON text). `media` empty: no body described.
struct RouteAnswer {
  int status = 200;
  std::string_view description;
  std::string_view media = "application/json";
  std::string_view schema;
};

struct Route {
  boost::beast::http::verb method;
  std::string_view path;  // "/report/{job_id}": literal segments and "{name}" placeholders
  std::string_view summary;
  std::string_view description;
  // The scope a token needs; nullopt: open to every caller (health checks, the API's own
  // description), even with access control on.
  std::optional<AccessScope> scope;
  ProjectFrom project_from = ProjectFrom::kNone;
  RouteHandler handler = nullptr;
  RequestLane lane = RequestLane::kWork;
  std::span<const RouteParam> params;
  std::span<const RouteAnswer> answers;
  // The request body, when the route takes one: its media type and schema ("" when none).
  std::string_view body_schema;
  // A target that answers 2xx on a service holding the simulator's jobs of project "demo"
  // (GET /docs's curl examples and the tests that walk the table use it).
  std::string_view example;
  // The Pub/Sub push route takes its bearer token as ?token= (a push subscription can carry a
  // secret only in its endpoint URL); nowhere else is a token read from the URL.
  bool token_in_query = false;
  // Unknown query parameters are ignored (the original service's /health ignored them, and load
  // balancers may add some); everywhere else they are a 400.
  bool lenient_params = false;
  // A page of the dashboard (or its favicon), not an API call: it also takes its token from the
  // sign-in cookie, a request without a valid token is redirected to the sign-in form, its
  // errors are HTML pages, and it is left out of GET /openapi.json and /docs (docs/api.md lists
  // the pages).
  bool page = false;
};

// The index of the segment that the placeholder "{name}" takes in `path`; nullopt when none.
std::optional<size_t> PathParamIndex(std::string_view path, std::string_view name);

// True when `path` ("/report/{job_id}") matches the decoded segments ({"report", "124"}).
bool PathMatches(std::string_view path, std::span<const std::string> segments);

// The routes of `routes` whose path matches `segments`, in table order.
std::vector<const Route*> RoutesAt(std::span<const Route> routes,
                                   std::span<const std::string> segments);

// The route for `method` among `at` (from RoutesAt); null when none takes that method.
const Route* RouteFor(std::span<const Route* const> at, boost::beast::http::verb method);

// "GET, HEAD"-style list of the methods of `at`, for an Allow header.
std::string AllowedMethods(std::span<const Route* const> at);

// The answers a route documents: its own, plus those every route of its kind can give (400 for
// an unknown query parameter, 401 and 403 where a token is needed), in status order.
std::vector<RouteAnswer> DocumentedAnswers(const Route& route);

// The query parameter names of a route, for CheckParams.
std::vector<std::string_view> QueryParamNames(const Route& route);

}  // namespace buildtrace
