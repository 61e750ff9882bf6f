// The API handlers.
#include "http/api.h"

#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <future>
#include <optional>

#include "core/json_writer.h"
#include "core/report.h"
#include "core/timestamp.h"
#include "http/content_encoding.h"
#include "http/error_response.h"
#include "http/page_response.h"
#include "http/request_target.h"
#include "http/response_coding.h"
#include "queue/pubsub_message.h"
#include "service/job_page.h"
#include "service/log.h"
#include "ui/pages.h"

namespace buildtrace {
namespace {

namespace http = boost::beast::http;

constexpr int64_t kMaxLimit = 1'000'000;

Result<std::string> ProjectParam(const RequestTarget& target) {
  auto it = target.params.find("project");
  if (it == target.params.end()) return std::string(kDefaultProject);
  if (!IsValidProjectName(it->second)) {
    return InvalidArgument(
               "project must be 1-128 characters of A-Z, a-z, 0-9, '.', '_' or '-', "
               "starting with a letter or digit")
        .WithReason("invalid_request");
  }
  return it->second;
}

// The report format a request asks for: ?format= (json, text or classic), else text when its
// Accept header asks for text/plain and not JSON, else `fallback` (--report-format).
Result<ReportFormat> RequestedFormat(const HttpRequest& request, const RequestTarget& target,
                                     ReportFormat fallback) {
  auto it = target.params.find("format");
  if (it != target.params.end()) {
    if (std::optional<ReportFormat> format = ParseReportFormat(it->second)) return *format;
    return InvalidArgument("format must be json, text or classic").WithReason("invalid_request");
  }
  const auto accept = request[http::field::accept];
  if (accept.find("text/plain") != std::string_view::npos &&
      accept.find("application/json") == std::string_view::npos) {
    return ReportFormat::kText;
  }
  return fallback;
}

// Where a job's report is served: "/report/<id>?project=<project>".
std::string ReportUrl(std::string_view project, int64_t job_id) {
  return "/report/" + std::to_string(job_id) + "?project=" + std::string(project);
}

void WriteAccepted(JsonWriter& w, const std::vector<std::pair<const Job*, StoredJob>>& stored) {
  w.Key("accepted").BeginArray();
  for (const auto& [job, outcome] : stored) {
    w.BeginObject();
    w.Key("project").String(job->header.project);
    w.Key("job_id").Int(job->header.job_id);
    w.Key("digest").String(outcome.digest);
    w.Key("created").Bool(outcome.created);
    w.Key("report_url").String(ReportUrl(job->header.project, job->header.job_id));
    w.EndObject();
  }
  w.EndArray();
}

// {"status": ..., "accepted": [...]} when every job was taken, as the original service answered
// (its clients read "status"); {"error": {...}, "accepted": [...]} when some were not.
std::string ProcessAnswer(const Status* error,
                          const std::vector<std::pair<const Job*, StoredJob>>& stored) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  if (error) {
    w.Key("error").Raw(ErrorObjectJson(*error));
  } else {
    w.Key("status").String("Jobs accepted and state stored. Ready for reporting.");
  }
  WriteAccepted(w, stored);
  w.EndObject();
  out.push_back('\n');
  return out;
}

// The Content-Encoding of a request; several header lines are joined as one list would be.
std::string ContentEncoding(const HttpRequest& request) {
  std::string out;
  auto [first, last] = request.equal_range(http::field::content_encoding);
  for (auto it = first; it != last; ++it) {
    if (!out.empty()) out += ", ";
    out.append(it->value());
  }
  return out;
}

HttpResponse MethodNotAllowed(const HttpRequest& request, const std::string& allow) {
  HttpResponse res =
      ErrorResponse(405, "method_not_allowed",
                    std::string(request.method_string()) + " is not allowed on " +
                        std::string(request.target().substr(0, 200)) + "; use " + allow);
  res.set(http::field::allow, allow);
  return res;
}

// The token in the dashboard's session cookie ("" when none), percent-decoded.
std::string SessionCookieToken(const HttpRequest& request) {
  const std::string_view header = request[http::field::cookie];
  size_t at = 0;
  while (at < header.size()) {
    size_t end = header.find(';', at);
    if (end == std::string_view::npos) end = header.size();
    std::string_view pair = header.substr(at, end - at);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    if (pair.starts_with(kSessionCookie) && pair.substr(kSessionCookie.size()).starts_with('=')) {
      Result<RequestTarget> decoded =
          ParseRequestTarget("/?t=" + std::string(pair.substr(kSessionCookie.size() + 1)));
      if (!decoded.ok() || !decoded->params.contains("t")) return "";
      return decoded->params.at("t");
    }
    at = end + 1;
  }
  return "";
}

// The credentials a request presents: its Authorization header; on a route that takes its
// token in the URL (the Pub/Sub push route: a push subscription can carry a secret only in its
// endpoint URL), "?token=" as a bearer token (the server's access log redacts that parameter);
// on a dashboard page, the sign-in cookie.
std::string PresentedAuthorization(const HttpRequest& request, const RequestTarget& target,
                                   const Route* route) {
  const std::string_view header = request[http::field::authorization];
  if (!header.empty() || route == nullptr) return std::string(header);
  if (route->page) {
    std::string token = SessionCookieToken(request);
    return token.empty() ? std::string() : "Bearer " + token;
  }
  if (!route->token_in_query) return std::string();
  auto it = target.params.find("token");
  return it == target.params.end() ? std::string() : "Bearer " + it->second;
}

// The route a request is for, when its method is one the path takes; else, for the access
// decision (made before a wrong method is answered), the path's first route; null for an
// unknown path.
const Route* RouteForAccess(std::span<const Route* const> at, http::verb method) {
  if (const Route* route = RouteFor(at, method)) return route;
  return at.empty() ? nullptr : at.front();
}

// What a request needs from the caller's token, decided from the route alone so that an unknown
// path or a wrong method is not answered before the caller is authenticated (an unknown path
// needs a valid token, any scope). Null for the open routes.
std::optional<AccessNeed> AccessNeedFor(const Route* route, const RequestTarget& target) {
  if (route == nullptr) return AccessNeed{};
  if (!route->scope) return std::nullopt;
  AccessNeed need;
  need.scope = route->scope;
  auto param = [&](const char* name) -> std::optional<std::string> {
    auto it = target.params.find(name);
    if (it == target.params.end()) return std::nullopt;
    return it->second;
  };
  switch (route->project_from) {
    case ProjectFrom::kQuery:
      need.project = param("project").value_or(std::string(kDefaultProject));
      break;
    case ProjectFrom::kQueryOrEvery:
      need.project = param("project");
      need.every_project = !need.project;
      break;
    case ProjectFrom::kPath:
      need.project = target.segments.at(PathParamIndex(route->path, "project").value_or(1));
      break;
    case ProjectFrom::kNone:
    case ProjectFrom::kBody:            // checked once the body is parsed
    case ProjectFrom::kFilteredAnswer:  // the answer is filtered to the token's projects
      break;
  }
  return need;
}

struct DescriptorUsage {
  int64_t open = 0;   // descriptors this process has open
  int64_t limit = 0;  // its soft RLIMIT_NOFILE
  // Within a tenth of the limit: new connections and store files may soon fail.
  bool pressed() const { return limit > 0 && open * 10 >= limit * 9; }
};

// Counts /proc/self/fd (its own descriptor included, which is then closed).
DescriptorUsage CountDescriptors() {
  DescriptorUsage usage;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) usage.limit = static_cast<int64_t>(limit.rlim_cur);
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (const dirent* entry = ::readdir(dir)) {
      if (entry->d_name[0] != '.') ++usage.open;
    }
    ::closedir(dir);
  }
  return usage;
}

// A refused request. On a dashboard page, a caller without a valid token is sent to the sign-in
// form, which brings it back here; one whose token may not see the page gets a page that says so.
HttpResponse Denied(const AccessDecision& decision, const Route* route,
                    std::string_view request_target) {
  if (route != nullptr && route->page) {
    if (decision.outcome == AccessDecision::Outcome::kForbidden) {
      ui::PageFrame frame;
      frame.access_control = frame.signed_in = true;
      return HtmlPage(403, ui::RenderErrorPage(frame, 403, "Not allowed", decision.message));
    }
    return SeeOther("/ui/signin?next=" + ui::UrlEncode(request_target));
  }
  if (decision.outcome == AccessDecision::Outcome::kForbidden) {
    return ErrorResponse(403, "forbidden", decision.message);
  }
  HttpResponse res = ErrorResponse(401, "unauthenticated", decision.message);
  res.set(http::field::www_authenticate, "Bearer");
  return res;
}

// The server's own gauges and counters, in the Prometheus text format.
void AppendServerMetrics(const ServerStats& s, std::string& out) {
  auto metric = [&](const char* name, const char* type, const char* help,
                    const std::atomic<uint64_t>& v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(v.load()) + "\n";
  };
  metric("buildtrace_http_open_connections", "gauge", "Connections open and admitted.",
         s.open_connections);
  metric("buildtrace_http_idle_connections", "gauge",
         "Open connections waiting for a request's first byte.", s.idle_connections);
  metric("buildtrace_http_max_connections", "gauge",
         "Open connections at most (the effective --max-connections).", s.max_connections);
  metric("buildtrace_http_body_bytes_in_flight", "gauge",
         "Bytes of request-body buffers held, across all connections.", s.body_bytes_in_flight);
  metric("buildtrace_http_body_bytes_in_flight_limit", "gauge",
         "Bytes of request-body buffers held at most (--max-inflight-body).", s.body_bytes_limit);
  metric("buildtrace_http_accept_errors_total", "counter", "Failed accepts of a connection.",
         s.accept_errors_total);
  metric("buildtrace_http_accept_exhaustion_episodes_total", "counter",
         "Episodes of accepts failing for want of descriptors or memory (EMFILE, ENFILE, "
         "ENOBUFS, ENOMEM).",
         s.accept_exhaustion_episodes_total);
  metric("buildtrace_http_idle_closed_total", "counter",
         "Idle connections closed to make room for new ones.", s.idle_closed_total);
  metric("buildtrace_http_rejected_connections_total", "counter",
         "New connections refused (503 or closed) because all open ones were busy.",
         s.rejected_connections_total);
  metric("buildtrace_http_inflight_refused_total", "counter",
         "Requests refused with 503 because request bodies in flight reached their bound.",
         s.inflight_refused_total);
}

}  // namespace

std::optional<HttpResponse> Api::Screen(const HttpRequest& headers) const {
  if (context_.access == nullptr) return std::nullopt;
  Result<RequestTarget> target = ParseRequestTarget(headers.target());
  if (!target.ok()) return std::nullopt;  // Handle answers it, after the body within its limit
  const std::vector<const Route*> at = RoutesAt(Routes(), target->segments);
  const Route* route = RouteForAccess(at, headers.method());
  std::optional<AccessNeed> need = AccessNeedFor(route, *target);
  if (!need) return std::nullopt;
  const AccessDecision decision =
      context_.access->Decide(PresentedAuthorization(headers, *target, route), *need);
  if (decision.allowed()) return std::nullopt;
  return Denied(decision, route, headers.target());
}

RequestLane Api::Lane(const HttpRequest& request) {
  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  // The routes that choose another lane have literal paths of one segment, so the raw path is
  // compared as it is (an encoded or unusual spelling just takes the work lane).
  for (const Route& route : Routes()) {
    if (route.lane != RequestLane::kWork && route.path == path &&
        route.method == request.method()) {
      return route.lane;
    }
  }
  return RequestLane::kWork;
}

Api::Api(ApiContext context)
    : context_(std::move(context)),
      jobs_(context_.store, context_.limits),
      reports_(jobs_, context_.warehouse, context_.outbox, context_.answer_cache_bytes),
      analyzer_(jobs_, reports_, context_.queue),
      deletion_(jobs_, reports_, context_.warehouse, context_.outbox) {}

HttpResponse Api::Handle(HttpRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  const http::verb method = request.method();
  const Route* matched = nullptr;
  HttpResponse res = Dispatch(request, matched);
  request_metrics_.Observe(matched, method, res.result_int(),
                           std::chrono::steady_clock::now() - start);
  return res;
}

HttpResponse Api::Dispatch(HttpRequest& request, const Route*& matched) {
  Result<RequestTarget> target = ParseRequestTarget(request.target());
  if (!target.ok()) return ErrorResponse(target.status());
  const std::vector<const Route*> at = RoutesAt(Routes(), target->segments);
  matched = RouteForAccess(at, request.method());
  // Access control, in one place for every route: before the method and the parameters are
  // checked, on the parsed target.
  const AccessToken* token = nullptr;
  if (context_.access != nullptr) {
    const Route* route = RouteForAccess(at, request.method());
    if (std::optional<AccessNeed> need = AccessNeedFor(route, *target)) {
      const AccessDecision decision =
          context_.access->Decide(PresentedAuthorization(request, *target, route), *need);
      if (!decision.allowed()) return Denied(decision, route, request.target());
      token = decision.token;
    }
  }
  if (at.empty()) {
    return ErrorResponse(404, "not_found",
                         "no such endpoint: " + std::string(request.target().substr(0, 200)) +
                             "; see /docs or docs/api.md for the endpoints");
  }
  const Route* route = RouteFor(at, request.method());
  if (route == nullptr) return MethodNotAllowed(request, AllowedMethods(at));
  RouteCall call{request, *target, token};
  if (!route->lenient_params) {
    const std::vector<std::string_view> names = QueryParamNames(*route);
    if (Status s = CheckParams(*target, names); !s.ok()) {
      return route->page ? PageError(call, s) : ErrorResponse(s);
    }
  }
  return (this->*route->handler)(call);
}

HttpResponse Api::GetHealth(RouteCall&) { return MakeResponse(200, "{\"status\":\"ok\"}\n"); }

HttpResponse Api::GetReady(RouteCall& call) {
  // Open to all (a load balancer has no token), but the details only for readers.
  const bool details =
      context_.access == nullptr ||
      context_.access->Decide(call.request[http::field::authorization], {AccessScope::kRead})
          .allowed();
  return ReadyAnswer(details);
}

HttpResponse Api::PostProcess(RouteCall& call) {
  HttpRequest& request = call.request;
  const AccessToken* token = call.token;
  const uint64_t body_bytes = request.body().size();
  // The parser takes the body over as it was received (padded), or as it was decoded.
  Result<InputBytes> decoded =
      DecodeBody(ContentEncoding(request), request.body().TakeInput(), context_.max_body_bytes);
  if (!decoded.ok()) return ErrorResponse(decoded.status());
  static_assert(kDecodedBodyPadding >= simdjson::SIMDJSON_PADDING);
  // The duplicate-ID check (the parse's costliest rule on a large state) is left to the store's
  // preparation, which a file store overlaps with writing a large batch; if it fails nothing is
  // stored, and the answer is the parse's, as ever.
  ParseLimits limits = context_.limits;
  limits.defer_duplicate_check = true;
  auto parsed = ParseJobBatch(std::move(*decoded), limits);
  if (!parsed.ok()) return ErrorResponse(parsed.status());
  const ParsedJobs& batch = **parsed;
  const auto& jobs = batch.jobs();
  if (token != nullptr) {
    // The projects of a POST are in its body, so this part of the decision waits for the parse;
    // a job outside the token's projects rejects the whole request before anything is stored.
    std::vector<std::string> projects;
    for (const Job& job : jobs) projects.push_back(job.header.project);
    if (AccessDecision d = DecideProjects(*token, projects); !d.allowed()) {
      if (Status checked = batch.CheckDuplicateIds(); !checked.ok()) return ErrorResponse(checked);
      return Denied(d, nullptr, "");
    }
  }
  Result<std::vector<Result<StoredJob>>> checked =
      jobs_.StoreManyChecked(jobs, [&] { return batch.CheckDuplicateIds(); });
  if (!checked.ok()) return ErrorResponse(checked.status());
  const std::vector<Result<StoredJob>>& outcomes = *checked;
  std::vector<std::pair<const Job*, StoredJob>> stored;
  std::vector<StatusDetail> conflicts;
  std::optional<Status> failure;  // the first job the store could not take
  for (size_t i = 0; i < jobs.size(); ++i) {
    const Result<StoredJob>& outcome = outcomes[i];
    if (outcome.ok()) {
      stored.emplace_back(&jobs[i], *outcome);
    } else if (outcome.status().code() == StatusCode::kConflict) {
      conflicts.push_back({static_cast<int64_t>(i), "job_id", outcome.status().message()});
    } else if (!failure) {
      // "job N of project P" means job_id N everywhere else, so name the job that way.
      const JobHeader& header = jobs[i].header;
      failure = outcome.status().WithContext(
          "job " + std::to_string(header.job_id) + " of project " + header.project + " (index " +
          std::to_string(i) + " in the request) was not stored: ");
    }
  }
  Enqueue(stored);
  for (const auto& [job, outcome] : stored) {
    if (!outcome.created) continue;
    ingested_.jobs.fetch_add(1, std::memory_order_relaxed);
    ingested_.objects.fetch_add(job->state.size(), std::memory_order_relaxed);
  }
  const bool created = std::any_of(stored.begin(), stored.end(),
                                   [](const auto& entry) { return entry.second.created; });
  if (failure) {
    // The store failed: say which jobs are stored (each whole); the others are not.
    HttpResponse res = MakeResponse(HttpStatusFor(*failure), ProcessAnswer(&*failure, stored));
    if (failure->code() == StatusCode::kUnavailable) res.set(http::field::retry_after, "5");
    return res;
  }
  // 202 Accepted, as the original service answered: stored, analysed in the background. A
  // batch of pure replays created nothing, and has nothing left to do: 200.
  if (conflicts.empty()) {
    ingested_.bytes.fetch_add(body_bytes, std::memory_order_relaxed);
    return MakeResponse(created ? 202 : 200, ProcessAnswer(nullptr, stored));
  }
  const Status s = Conflict(
      std::to_string(conflicts.size()) + " of " + std::to_string(jobs.size()) +
          " jobs conflict with stored jobs of the same job_id: " + conflicts.front().message,
      conflicts);
  return MakeResponse(409, ProcessAnswer(&s, stored));
}

namespace {

// A 200 with what ReportService gave for a client whose Accept-Encoding it was told: the service
// compressed it if that was worth it (`gzipped`), so the server sends it as it is.
HttpResponse ReportServiceAnswer(SharedText bytes, std::string_view content_type, bool gzipped) {
  HttpResponse res = MakeResponse(200, std::move(bytes), content_type);
  if (gzipped) res.set(http::field::content_encoding, "gzip");
  res.body().ChooseCoding();
  return res;
}

}  // namespace

HttpResponse Api::GetReport(RouteCall& call) {
  const HttpRequest& request = call.request;
  const RequestTarget& target = call.target;
  Result<int64_t> job_id = ParseJobIdText(target.segments[1], "the job ID in /report/{job_id}");
  if (!job_id.ok()) return ErrorResponse(job_id.status());
  Result<std::string> project = ProjectParam(target);
  if (!project.ok()) return ErrorResponse(project.status());
  Result<int64_t> limit = IntParam(target, "limit", 1000, kMaxLimit);
  if (!limit.ok()) return ErrorResponse(limit.status());
  Result<ReportFormat> format = RequestedFormat(request, target, context_.default_report_format);
  if (!format.ok()) return ErrorResponse(format.status());
  const bool text = *format == ReportFormat::kText;
  ReportRequest report_request;
  report_request.project = *project;
  report_request.job_id = *job_id;
  report_request.limit = static_cast<size_t>(*limit);
  if (auto it = target.params.find("base"); it != target.params.end()) {
    Result<int64_t> base = ParseJobIdText(it->second, "base");
    if (!base.ok()) return ErrorResponse(base.status());
    report_request.base_job_id = *base;
  }
  report_request.accept_gzip = AcceptsGzip(AcceptEncodingOf(request));
  bool precomputed = false, gzipped = false;
  Result<SharedText> report = reports_.Render(report_request, *format, &precomputed, &gzipped);
  if (!report.ok()) return ErrorResponse(report.status());
  HttpResponse res = ReportServiceAnswer(
      std::move(*report), text ? "text/plain; charset=utf-8" : "application/json", gzipped);
  // The answer's format may follow the Accept header (RequestedFormat).
  res.set(http::field::vary, "Accept");
  res.set("BuildTrace-Analysis", precomputed ? "precomputed" : "on-demand");
  return res;
}

HttpResponse Api::GetReportSvg(RouteCall& call) {
  const RequestTarget& target = call.target;
  // The route matched only a segment ending in ".svg" with something before it.
  std::string_view segment = target.segments[1];
  segment.remove_suffix(4);
  Result<int64_t> job_id = ParseJobIdText(segment, "the job ID in /report/{job_id}.svg");
  if (!job_id.ok()) return ErrorResponse(job_id.status());
  Result<std::string> project = ProjectParam(target);
  if (!project.ok()) return ErrorResponse(project.status());
  ReportRequest report_request;
  report_request.project = *project;
  report_request.job_id = *job_id;
  if (auto it = target.params.find("base"); it != target.params.end()) {
    Result<int64_t> base = ParseJobIdText(it->second, "base");
    if (!base.ok()) return ErrorResponse(base.status());
    report_request.base_job_id = *base;
  }
  report_request.accept_gzip = AcceptsGzip(AcceptEncodingOf(call.request));
  bool gzipped = false;
  Result<SharedText> drawing =
      reports_.Drawing(report_request, /*interactive=*/false, nullptr, &gzipped);
  if (!drawing.ok()) return ErrorResponse(drawing.status());
  return ReportServiceAnswer(std::move(*drawing), "image/svg+xml", gzipped);
}

HttpResponse Api::GetJob(RouteCall& call) {
  const RequestTarget& target = call.target;
  Result<int64_t> job_id = ParseJobIdText(target.segments[1], "the job ID in /jobs/{job_id}");
  if (!job_id.ok()) return ErrorResponse(job_id.status());
  Result<std::string> project = ProjectParam(target);
  if (!project.ok()) return ErrorResponse(project.status());
  Result<std::string> bytes = jobs_.ReadRaw(*project, *job_id);
  if (!bytes.ok()) {
    if (bytes.status().code() == StatusCode::kNotFound) {
      return ErrorResponse(NotFound("job " + std::to_string(*job_id) + " of project " + *project +
                                    " does not exist"));
    }
    return ErrorResponse(bytes.status());
  }
  return MakeResponse(200, std::move(*bytes));
}

HttpResponse Api::GetProjects(RouteCall& call) {
  const AccessToken* token = call.token;
  auto projects = jobs_.ListProjects();
  if (!projects.ok()) return ErrorResponse(projects.status());
  std::string out;
  JsonWriter w(out);
  w.BeginObject().Key("projects").BeginArray();
  for (const ProjectSummary& p : *projects) {
    if (token != nullptr && !token->AllowsProject(p.project)) continue;
    w.BeginObject();
    w.Key("project").String(p.project);
    w.Key("jobs").Int(p.jobs);
    w.Key("latest_job_id").Int(p.latest_job_id);
    w.EndObject();
  }
  w.EndArray().EndObject();
  out.push_back('\n');
  return MakeResponse(200, std::move(out));
}

HttpResponse Api::GetLatencyStats(RouteCall& call) {
  const RequestTarget& target = call.target;
  LatencyQuery query;
  if (target.params.count("project")) {
    Result<std::string> project = ProjectParam(target);
    if (!project.ok()) return ErrorResponse(project.status());
    query.project = *project;
  }
  const std::string window_text = StringParam(target, "window", "30d");
  Result<int64_t> window = ParseWindow(window_text);
  if (!window.ok()) return ErrorResponse(window.status());
  Result<std::vector<double>> quantiles =
      ParseQuantiles(StringParam(target, "quantiles", "0.5,0.95,0.99"));
  if (!quantiles.ok()) return ErrorResponse(quantiles.status());
  query.to_ms = context_.now_ms();
  query.from_ms = query.to_ms - *window;
  query.quantiles = *quantiles;
  const std::string status_text = StringParam(target, "status", "succeeded");
  if (status_text == "succeeded") {
    query.status = LatencyStatusFilter::kSucceeded;
  } else if (status_text == "failed") {
    query.status = LatencyStatusFilter::kFailed;
  } else if (status_text == "all") {
    query.status = LatencyStatusFilter::kAll;
  } else {
    return ErrorResponse(
        InvalidArgument("status must be succeeded, failed or all").WithReason("invalid_request"));
  }
  Result<LatencyStats> stats = context_.warehouse.Latency(query);
  if (!stats.ok()) return ErrorResponse(stats.status());
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("project");
  query.project ? w.String(*query.project) : w.Null();
  w.Key("window").String(window_text);
  w.Key("status").String(status_text);
  w.Key("count").Int(stats->count);
  w.Key("quantiles").BeginObject();
  for (size_t i = 0; i < query.quantiles.size(); ++i) {
    std::string name;
    AppendJsonNumber(name, query.quantiles[i]);
    w.Key(name);
    stats->values[i] ? w.Number(*stats->values[i]) : w.Null();
  }
  w.EndObject();
  w.Key("unit").String("ms");
  w.EndObject();
  out.push_back('\n');
  return MakeResponse(200, std::move(out));
}

void Api::Enqueue(const std::vector<std::pair<const Job*, StoredJob>>& stored) {
  if (context_.queue == nullptr) return;
  std::vector<AnalysisTask> tasks;
  for (const auto& [job, outcome] : stored) {
    if (outcome.created) tasks.push_back(AnalysisTask{job->header.project, job->header.job_id});
  }
  if (tasks.empty()) return;
  // The jobs are stored whatever happens here: a task not enqueued is found by the sweep, and
  // a report asked for before that is computed on the spot.
  if (Status s = context_.queue->Publish(tasks); !s.ok()) {
    LogWarning(std::to_string(tasks.size()) +
               " analysis task(s) not enqueued; the sweep "
               "enqueues them later: " +
               s.message());
    if (context_.enqueue_failed) context_.enqueue_failed();
  }
}

HttpResponse Api::GetProjectJobs(RouteCall& call) {
  const RequestTarget& target = call.target;
  const std::string& project = target.segments[1];
  if (!IsValidProjectName(project)) {
    return ErrorResponse(InvalidArgument("the project in /projects/{project}/jobs must be 1-128 "
                                         "characters of A-Z, a-z, 0-9, '.', '_' or '-', starting "
                                         "with a letter or digit")
                             .WithReason("invalid_request"));
  }
  Result<int64_t> limit = IntParam(target, "limit", 50, 1000, 1);
  if (!limit.ok()) return ErrorResponse(limit.status());
  std::optional<int64_t> before;
  if (auto it = target.params.find("before"); it != target.params.end()) {
    Result<int64_t> id = ParseJobIdText(it->second, "before");
    if (!id.ok()) return ErrorResponse(id.status());
    before = *id;
  }
  Result<JobPage> page = ReadJobPage(jobs_, project, before, static_cast<size_t>(*limit));
  if (!page.ok()) return ErrorResponse(page.status());
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("project").String(project);
  w.Key("jobs").BeginArray();
  for (const JobPageEntry& job : page->jobs) {
    w.BeginObject();
    w.Key("job_id").Int(job.job_id);
    w.Key("timestamp").String(job.timestamp);
    w.Key("status").String(JobStatusName(job.status));
    w.Key("latency_ms").Number(job.latency_ms);
    w.Key("analysis").String(AnalysisStateName(job.analysis));
    w.Key("base_job_id");
    job.record&& job.record->base_job_id ? w.Int(*job.record->base_job_id) : w.Null();
    w.Key("counts");
    if (job.record) {
      const DiffCounts& c = job.record->counts;
      w.BeginObject();
      w.Key("added").Int(c.added).Key("removed").Int(c.removed).Key("modified").Int(c.modified());
      w.Key("moved").Int(c.moved).Key("resized").Int(c.resized).Key("retyped").Int(c.retyped);
      w.Key("changed").Int(c.changed).Key("unchanged").Int(c.unchanged);
      w.EndObject();
    } else {
      w.Null();
    }
    w.Key("report_url").String(ReportUrl(project, job.job_id));
    w.EndObject();
  }
  w.EndArray();
  w.Key("next_before");
  page->next_before ? w.Int(*page->next_before) : w.Null();
  w.EndObject();
  out.push_back('\n');
  return MakeResponse(200, std::move(out));
}

HttpResponse Api::PostPubSubTask(RouteCall& call) {
  const HttpRequest& request = call.request;
  if (context_.queue == nullptr) {
    return ErrorResponse(503, "analysis_off",
                         "this instance has no analysis queue (--queue); start it with the "
                         "queue the push subscription belongs to");
  }
  Result<AnalysisTask> task = ParsePubSubPushEnvelope(request.body().view());
  // A message that can never be analysed is acknowledged (2xx), or Pub/Sub would push it again
  // for ever; it is logged for an operator.
  if (!task.ok()) {
    LogWarning("a Pub/Sub push that is not an analysis task was dropped: " +
               task.status().message());
    std::string out;
    JsonWriter w(out);
    w.BeginObject().Key("status").String("dropped");
    w.Key("reason").String(task.status().message());
    w.EndObject();
    out.push_back('\n');
    return MakeResponse(200, std::move(out));
  }
  // Pub/Sub counts a non-2xx answer as a failed delivery and pushes again with backoff: the
  // answer is 2xx only once the job is analysed.
  Status analysed = analyzer_.Analyse(*task);
  if (!analysed.ok()) return ErrorResponse(analysed);
  return MakeResponse(200, "{\"status\":\"analysed\"}\n");
}

std::optional<int64_t> Api::DeadLetters() {
  std::lock_guard lock(dead_letters_mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (dead_letters_ && now - dead_letters_counted_ < std::chrono::seconds(10)) {
    return dead_letters_;
  }
  Result<std::vector<std::string>> names = context_.store.List("deadletters/");
  if (names.ok()) {
    dead_letters_ = static_cast<int64_t>(names->size());
    dead_letters_counted_ = now;
  }
  return dead_letters_;
}

Api::AnalysisHealth Api::ProbeAnalysis(bool probe_queue) {
  AnalysisHealth health;
  AnalysisQueue& queue = *context_.queue;
  // The three calls at once, each on the probe pool within the deadline, so a stuck queue or
  // store holds /readyz no longer than one deadline.
  auto letters = std::async(std::launch::async, [this] {
    return probes_.Run<Result<int64_t>>(
        [this]() -> Result<int64_t> {
          std::optional<int64_t> n = DeadLetters();
          if (!n) return Unavailable("the dead letters could not be listed");
          return *n;
        },
        context_.probe_deadline, context_.store.Describe() + ": dead letters");
  });
  auto depth = std::async(std::launch::async, [this, &queue] {
    return probes_.Run<Result<std::optional<int64_t>>>(
        [&queue] { return queue.Depth(); }, context_.probe_deadline, queue.Describe() + ": depth");
  });
  if (probe_queue) {
    health.queue = probes_.Run<Status>([&queue] { return queue.Probe(); }, context_.probe_deadline,
                                       queue.Describe() + ": probe");
  }
  if (Result<std::optional<int64_t>> d = depth.get(); d.ok()) health.depth = *d;
  if (Result<int64_t> n = letters.get(); n.ok()) health.dead_letters = *n;
  return health;
}

std::pair<Status, Status> Api::ProbeBackends() {
  const uint64_t seen = probe_rounds_.load();
  std::lock_guard lock(probe_mutex_);
  // One round of probes at a time: a caller that waited while another round ran takes its answer.
  if (probe_rounds_.load() != seen) return last_probe_;
  // The store's probe on the pool, the warehouse's (itself within a deadline when serving: see
  // DeadlineWarehouse) here, at the same time.
  auto store = std::make_shared<Status>();
  auto store_done = std::async(std::launch::async, [this, store] {
    *store = probes_.Run<Status>([this] { return context_.store.Probe(); }, context_.probe_deadline,
                                 context_.store.Describe() + ": probe");
  });
  Status warehouse =
      probes_.Run<Status>([this] { return context_.warehouse.Probe(); }, context_.probe_deadline,
                          context_.warehouse.Describe() + ": probe");
  store_done.wait();
  last_probe_ = {*store, warehouse};
  ++probe_rounds_;
  return last_probe_;
}

HttpResponse Api::ReadyAnswer(bool details) {
  const auto [store, warehouse] = ProbeBackends();
  const std::optional<OutboxStats> outbox =
      context_.outbox ? std::optional(context_.outbox->Stats()) : std::nullopt;
  const bool backlog = outbox && (outbox->pending > 0 || outbox->corrupt > 0);
  const DescriptorUsage descriptors = CountDescriptors();
  const std::optional<std::string> write_failure = jobs_.last_write_failure();
  const std::optional<AnalysisHealth> analysis =
      context_.queue ? std::optional(ProbeAnalysis(true)) : std::nullopt;
  // A queue that cannot be reached, or tasks given up on, leave analysis to the reports (computed
  // on demand) and to an operator: degraded, still serving.
  const bool analysis_trouble =
      analysis && (!analysis->queue.ok() || analysis->dead_letters.value_or(0) > 0);
  // Only the store decides readiness: without it nothing can be stored or reported. A warehouse
  // outage is absorbed by the outbox, so it degrades the service (no /stats/latency, rows wait)
  // without taking the instance out of rotation; so does a process near its descriptor limit.
  const char* status =
      !store.ok() ? "unavailable"
      : !warehouse.ok() || backlog || descriptors.pressed() || write_failure || analysis_trouble
          ? "degraded"
          : "ready";
  if (!details) {
    return MakeResponse(store.ok() ? 200 : 503, std::string("{\"status\":\"") + status + "\"}\n");
  }
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("status").String(status);
  auto backend = [&](const char* name, const std::string& url, const Status& s,
                     const std::optional<std::string>& last_write_error) {
    w.Key(name).BeginObject();
    w.Key("url").String(url);
    w.Key("status").String(s.ok() ? "ok" : "unavailable");
    if (!s.ok()) w.Key("message").String(s.message());
    if (last_write_error) w.Key("last_write_error").String(*last_write_error);
    w.EndObject();
  };
  // The probe writes in one place; a job's own folder may still refuse (its permissions, a
  // quota): the store's last refusal is shown until a job is stored again.
  backend("store", context_.store.Describe(), store, write_failure);
  backend("warehouse", context_.warehouse.Describe(), warehouse, std::nullopt);
  w.Key("descriptors").BeginObject();
  w.Key("open").Int(descriptors.open);
  w.Key("limit").Int(descriptors.limit);
  w.EndObject();
  if (const ServerStats* server = context_.server) {
    w.Key("connections").BeginObject();
    w.Key("open").Int(static_cast<int64_t>(server->open_connections.load()));
    w.Key("idle").Int(static_cast<int64_t>(server->idle_connections.load()));
    w.Key("max").Int(static_cast<int64_t>(server->max_connections.load()));
    w.EndObject();
  }
  if (outbox) {
    w.Key("outbox").BeginObject();
    w.Key("pending").Int(outbox->pending);
    w.Key("oldest_queued_at");
    if (outbox->oldest_queued_ms) {
      w.String(FormatRfc3339Utc(*outbox->oldest_queued_ms));
    } else {
      w.Null();
    }
    w.Key("corrupt").Int(outbox->corrupt);
    w.Key("last_error").String(outbox->last_error);
    w.EndObject();
  }
  if (analysis) {
    w.Key("analysis").BeginObject();
    w.Key("queue").String(context_.queue->Describe());
    w.Key("status").String(analysis->queue.ok() ? "ok" : "unavailable");
    if (!analysis->queue.ok()) w.Key("message").String(analysis->queue.message());
    w.Key("depth");
    analysis->depth ? w.Int(*analysis->depth) : w.Null();
    w.Key("dead_letters");
    analysis->dead_letters ? w.Int(*analysis->dead_letters) : w.Null();
    if (const AnalysisStats* stats = context_.analysis) {
      w.Key("analysed").Int(static_cast<int64_t>(stats->analysed_total.load()));
      w.Key("failed_attempts").Int(static_cast<int64_t>(stats->failed_attempts_total.load()));
    }
    w.EndObject();
  }
  w.EndObject();
  out.push_back('\n');
  return MakeResponse(store.ok() ? 200 : 503, std::move(out));
}

HttpResponse Api::GetMetrics(RouteCall&) {
  // The Prometheus text exposition format, version 0.0.4.
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  auto value = [&](const std::string& series, double v) {
    std::string number;
    AppendJsonNumber(number, v);
    out += series + " " + number + "\n";
  };
  if (context_.outbox != nullptr) {
    const OutboxStats s = context_.outbox->Stats();
    metric("buildtrace_outbox_pending", "gauge",
           "Metrics rows waiting in the outbox for the warehouse.");
    value("buildtrace_outbox_pending", static_cast<double>(s.pending));
    metric("buildtrace_outbox_oldest_age_seconds", "gauge",
           "How long the oldest waiting row has waited; 0 when none waits.");
    value("buildtrace_outbox_oldest_age_seconds",
          s.oldest_queued_ms
              ? static_cast<double>(std::max<int64_t>(0, context_.now_ms() - *s.oldest_queued_ms)) /
                    1000.0
              : 0.0);
    metric("buildtrace_outbox_corrupt", "gauge",
           "Outbox entries that are not metrics rows, left for an operator.");
    value("buildtrace_outbox_corrupt", static_cast<double>(s.corrupt));
    metric("buildtrace_outbox_recorded_total", "counter",
           "Rows this process moved from the outbox to the warehouse.");
    value("buildtrace_outbox_recorded_total", static_cast<double>(s.recorded_total));
    metric("buildtrace_outbox_failed_attempts_total", "counter",
           "Retries of outbox rows that the warehouse refused.");
    value("buildtrace_outbox_failed_attempts_total", static_cast<double>(s.failed_attempts_total));
  }
  metric("buildtrace_corrupt_objects_total", "counter",
         "Stored jobs and kept reports found corrupt (digest mismatch, unparsable); never served.");
  value("buildtrace_corrupt_objects_total", static_cast<double>(jobs_.corrupt_objects()));
  if (context_.responses != nullptr) {
    metric("buildtrace_http_responses_total", "counter", "HTTP responses sent, by status code.");
    for (const auto& [code, count] : context_.responses->Snapshot()) {
      value("buildtrace_http_responses_total{code=\"" + std::to_string(code) + "\"}",
            static_cast<double>(count));
    }
  }
  if (context_.server != nullptr) AppendServerMetrics(*context_.server, out);
  request_metrics_.Append(out);
  ingested_.Append(out);
  if (context_.backends != nullptr) context_.backends->Append(out);
  AppendProcessMetrics(out);
  if (context_.queue != nullptr) {
    const AnalysisHealth health = ProbeAnalysis(false);
    if (health.depth) {
      metric("buildtrace_analysis_queue_depth", "gauge",
             "Analysis tasks published and not yet acknowledged.");
      value("buildtrace_analysis_queue_depth", static_cast<double>(*health.depth));
    }
    if (health.dead_letters) {
      metric("buildtrace_analysis_dead_letters", "gauge",
             "Analysis tasks given up on after --max-attempts, kept for an operator.");
      value("buildtrace_analysis_dead_letters", static_cast<double>(*health.dead_letters));
    }
  }
  if (const AnalysisStats* stats = context_.analysis) {
    const struct {
      const char* name;
      const std::atomic<uint64_t>& count;
      const char* help;
    } counters[] = {
        {"buildtrace_analysis_analysed_total", stats->analysed_total,
         "Analysis tasks done by this process."},
        {"buildtrace_analysis_failed_attempts_total", stats->failed_attempts_total,
         "Analysis attempts that failed (retried or dead-lettered)."},
        {"buildtrace_analysis_dead_lettered_total", stats->dead_letters_total,
         "Analysis tasks this process gave up on."},
        {"buildtrace_analysis_swept_total", stats->swept_total,
         "Analysis tasks the sweep enqueued (jobs found without analysis)."},
    };
    for (const auto& c : counters) {
      metric(c.name, "counter", c.help);
      value(c.name, static_cast<double>(c.count.load()));
    }
  }
  return MakeResponse(200, std::move(out), "text/plain; version=0.0.4; charset=utf-8");
}

// DELETE /projects/{project}: 200 with what was deleted, also when nothing was left.
HttpResponse Api::DeleteProject(RouteCall& call) {
  Result<DeletedProject> deleted = deletion_.Delete(call.target.segments[1]);
  if (!deleted.ok()) {
    HttpResponse res = ErrorResponse(deleted.status());
    if (deleted.status().code() == StatusCode::kUnavailable) res.set(http::field::retry_after, "5");
    return res;
  }
  std::string out;
  JsonWriter w(out);
  w.BeginObject().Key("project").String(deleted->project);
  w.Key("deleted_jobs").Int(deleted->jobs);
  w.Key("deleted_index_entries").Int(deleted->index_entries);
  w.Key("deleted_reports").Int(deleted->reports);
  w.Key("deleted_analysis_records").Int(deleted->analysis_records);
  w.Key("deleted_dead_letters").Int(deleted->dead_letters);
  w.Key("deleted_outbox_entries").Int(deleted->outbox_entries);
  w.Key("deleted_warehouse_rows").Int(deleted->warehouse_rows);
  w.EndObject();
  out.push_back('\n');
  return MakeResponse(200, std::move(out));
}

}  // namespace buildtrace
