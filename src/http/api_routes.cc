// The route table (http/routes.h), and the routes that describe it: GET /openapi.json, GET /docs.
#include "http/api.h"
#include "http/error_response.h"
#include "http/openapi.h"

#ifndef BUILDTRACE_VERSION
#define BUILDTRACE_VERSION "dev"
#endif

namespace buildtrace {
namespace {

namespace http = boost::beast::http;
namespace ref = schema_ref;

constexpr std::string_view kProjectSchema =
    R"({"type":"string","pattern":"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"})";
constexpr std::string_view kJobIdSchema =
    R"({"type":"integer","minimum":1,"maximum":9223372036854775807})";

constexpr RouteParam kProjectParam{"project", false, false, kProjectSchema,
                                   "The project; default: \"default\"."};

constexpr RouteAnswer kNotFoundJob{404, "No such job in that project.", "application/json",
                                   ref::kError};
constexpr RouteAnswer kUnavailable{
    503, "A backend did not answer (with Retry-After); nothing was changed.", "application/json",
    ref::kError};

// POST /process
constexpr RouteAnswer kProcessAnswers[] = {
    {200, "Every job was already stored with the same content (replays): nothing to do.",
     "application/json", ref::kProcessAnswer},
    {202, "Stored; each job is analysed in the background (or when its report is asked for).",
     "application/json", ref::kProcessAnswer},
    {400, "The body is not jobs: malformed JSON, a missing or bad field (details name them).",
     "application/json", ref::kError},
    {409,
     "A job_id already stored with other content; the other jobs of the request are stored "
     "(accepted lists them).",
     "application/json", ref::kProcessAnswer},
    {413, "The body is larger than --max-body.", "application/json", ref::kError},
    {415, "A Content-Encoding other than gzip, deflate or identity.", "application/json",
     ref::kError},
    {503, "The store did not answer; accepted lists the jobs stored before it failed.",
     "application/json", ref::kProcessAnswer},
};

// GET /report/{job_id}
constexpr RouteParam kReportParams[] = {
    {"job_id", true, true, kJobIdSchema, "The job to report on."},
    kProjectParam,
    {"base", false, false, kJobIdSchema,
     "Compare with this job instead of the lineage's base (the last successful job before)."},
    {"format", false, false, R"({"enum":["json","text","classic"]})",
     "json (the default, or --report-format), text, or classic: the original service's shape. "
     "An Accept header asking for text/plain and not JSON also gives text."},
    {"limit", false, false, R"({"type":"integer","minimum":0,"maximum":1000000,"default":1000})",
     "The most IDs listed per change list; the counts are always whole."},
};
constexpr RouteAnswer kReportAnswers[] = {
    {200, "The report (JSON, or the original's classic shape with ?format=classic).",
     "application/json", ref::kReportAnyJson},
    {200, "", "text/plain", ref::kText},
    kNotFoundJob,
    kUnavailable,
};

// GET /report/{job_id}.svg
constexpr RouteParam kReportSvgParams[] = {
    {"job_id", true, true, kJobIdSchema, "The job to draw, followed by .svg in the path."},
    kProjectParam,
    {"base", false, false, kJobIdSchema,
     "Compare with this job instead of the lineage's base (the last successful job before)."},
};
constexpr RouteAnswer kReportSvgAnswers[] = {
    {200, "The overlay drawing of the comparison (docs/api.md says what each mark means).",
     "image/svg+xml", ref::kText},
    kNotFoundJob,
    kUnavailable,
};

// GET /jobs/{job_id}
constexpr RouteParam kJobParams[] = {
    {"job_id", true, true, kJobIdSchema, "The job."},
    kProjectParam,
};
constexpr RouteAnswer kJobAnswers[] = {
    {200, "The stored job, byte for byte as stored (its digest is of these bytes).",
     "application/json", ref::kStoredJob},
    kNotFoundJob,
    kUnavailable,
};

// GET /projects
constexpr RouteAnswer kProjectsAnswers[] = {
    {200, "Every project with jobs (with a project-scoped token, only its projects).",
     "application/json", ref::kProjects},
    kUnavailable,
};

// GET /projects/{project}/jobs
constexpr RouteParam kProjectJobsParams[] = {
    {"project", true, true, kProjectSchema, "The project."},
    {"before", false, false, kJobIdSchema, "Only jobs with a smaller job_id (the next page)."},
    {"limit", false, false, R"({"type":"integer","minimum":1,"maximum":1000,"default":50})",
     "Jobs per page."},
};
constexpr RouteAnswer kProjectJobsAnswers[] = {
    {200, "A page of the project's jobs, newest first.", "application/json", ref::kProjectJobs},
    kUnavailable,
};

// GET /stats/latency
constexpr RouteParam kLatencyParams[] = {
    {"project", false, false, kProjectSchema,
     "The project; absent: every project (needs a token without a project list)."},
    {"window", false, false, R"({"type":"string","pattern":"^[0-9]+[smhdw]$","default":"30d"})",
     "How far back from now, e.g. 24h, 30d, 12w."},
    {"quantiles", false, false, R"({"type":"string","default":"0.5,0.95,0.99"})",
     "1 to 20 comma-separated quantiles in [0, 1]."},
    {"status", false, false, R"({"enum":["succeeded","failed","all"],"default":"succeeded"})",
     "Which jobs' latencies."},
};
constexpr RouteAnswer kLatencyAnswers[] = {
    {200, "The quantiles, computed by the warehouse (null when no job is in the window).",
     "application/json", ref::kLatencyStats},
    {503, "The warehouse did not answer.", "application/json", ref::kError},
};

// DELETE /projects/{project}
constexpr RouteParam kDeleteProjectParams[] = {
    {"project", true, true, kProjectSchema, "The project to delete."},
};
constexpr RouteAnswer kDeleteProjectAnswers[] = {
    {200,
     "Deleted (idempotent: a project with nothing left is a 200 too, every count 0); the body "
     "counts what went.",
     "application/json", ref::kDeletedProject},
    {503,
     "A backend failed part-way (with Retry-After); the project still exists, and the same "
     "DELETE again finishes it.",
     "application/json", ref::kError},
};

// POST /tasks/pubsub
constexpr RouteParam kPushParams[] = {
    {"token", false, false, R"({"type":"string"})",
     "The bearer token, for push subscriptions that cannot send headers; redacted in logs."},
};
constexpr RouteAnswer kPushAnswers[] = {
    {200, "Analysed, or dropped for good when the message is not an analysis task.",
     "application/json", ref::kPushAnswer},
    {503, "No queue on this instance, or a backend did not answer (Pub/Sub pushes again).",
     "application/json", ref::kError},
};

// Health and readiness.
constexpr RouteAnswer kHealthAnswers[] = {
    {200, "The process is alive.", "application/json", ref::kHealth},
};
constexpr RouteAnswer kReadyAnswers[] = {
    {200,
     "ready, or degraded (serving, but a warehouse, outbox, queue or descriptors need an "
     "operator). Backend details only for a caller with a read token when tokens are on.",
     "application/json", ref::kReady},
    {503, "unavailable: the store does not answer.", "application/json", ref::kReady},
};
constexpr RouteAnswer kMetricsAnswers[] = {
    {200, "Counters and gauges in the Prometheus text format 0.0.4.", "text/plain", ref::kText},
};
constexpr RouteAnswer kOpenApiAnswers[] = {
    {200, "This API's OpenAPI 3.1 document.", "application/json", ref::kAnyJson},
};
constexpr RouteAnswer kDocsAnswers[] = {
    {200, "This API's routes as a page to read.", "text/html", ref::kText},
};

// The dashboard's pages (docs/api.md, "The dashboard"); not in the OpenAPI document.
constexpr RouteParam kUiHomeParams[] = {
    {"after", false, false, kProjectSchema, "Only projects named after this one (the next page)."},
};
constexpr RouteParam kUiProjectParams[] = {
    {"project", true, true, kProjectSchema, "The project."},
    {"window", false, false, R"({"type":"string","pattern":"^[0-9]+[smhdw]$","default":"30d"})",
     "The time window of the table, the charts and the percentiles."},
    {"before", false, false, kJobIdSchema, "Only jobs with a smaller job_id (the next page)."},
};
constexpr RouteParam kUiJobParams[] = {
    {"project", true, true, kProjectSchema, "The project."},
    {"job_id", true, true, kJobIdSchema, "The job."},
};
constexpr RouteParam kSignInParams[] = {
    {"next", false, false, R"({"type":"string"})", "The page to go back to once signed in."},
};
constexpr RouteAnswer kPageAnswers[] = {
    {200, "The page.", "text/html", ref::kText},
    {303, "Access control is on and the request has no valid token: to the sign-in form.", "", ""},
    {404, "No such project or job.", "text/html", ref::kText},
    {503, "A backend did not answer.", "text/html", ref::kText},
};
constexpr RouteAnswer kSignInAnswers[] = {
    {200, "The sign-in form.", "text/html", ref::kText},
    {303, "Signed in (the cookie is set), or access control is off: on to ?next=.", "", ""},
    {401, "The token is not valid or has no read scope: the form again, saying so.", "text/html",
     ref::kText},
};
constexpr RouteAnswer kFaviconAnswers[] = {
    {200, "The favicon.", "image/svg+xml", ref::kText},
};

// A dashboard route: a page (or its favicon) on the work lane, not part of the API document.
constexpr Route PageRoute(http::verb method, std::string_view path, std::string_view summary,
                          std::optional<AccessScope> scope, ProjectFrom project_from,
                          RouteHandler handler, std::span<const RouteParam> params,
                          std::span<const RouteAnswer> answers, std::string_view example) {
  Route route{method, path, summary, "", scope, project_from, handler};
  route.params = params;
  route.answers = answers;
  route.example = example;
  route.page = true;
  return route;
}

}  // namespace

std::span<const Route> Api::Routes() {
  using enum ProjectFrom;
  static const Route kRoutes[] = {
      {http::verb::post,
       "/process",
       "Store the states of one or more jobs",
       "The body is one job or an array of jobs (the original service's form), optionally "
       "gzip- or deflate-encoded. Each job is stored whole or not at all; a job_id already "
       "stored with the same content is a replay.",
       AccessScope::kIngest,
       kBody,
       &Api::PostProcess,
       RequestLane::kWork,
       {},
       kProcessAnswers,
       ref::kProcessRequest,
       "/process"},
      // Before /report/{job_id}, which also matches "2.svg": the first route of a method wins.
      {http::verb::get, "/report/{job_id}.svg", "The comparison of a job with its base, drawn",
       "An SVG overlay: the base's unchanged objects grey, each change marked by its kind.",
       AccessScope::kRead, kQuery, &Api::GetReportSvg, RequestLane::kWork, kReportSvgParams,
       kReportSvgAnswers, "", "/report/2.svg?project=demo"},
      {http::verb::get, "/report/{job_id}", "What changed between a job and its base",
       "The base is the last successful job before it in its project, unless ?base= names one.",
       AccessScope::kRead, kQuery, &Api::GetReport, RequestLane::kWork, kReportParams,
       kReportAnswers, "", "/report/2?project=demo"},
      {http::verb::get, "/jobs/{job_id}", "A stored job as it was stored", "", AccessScope::kRead,
       kQuery, &Api::GetJob, RequestLane::kWork, kJobParams, kJobAnswers, "",
       "/jobs/1?project=demo"},
      {http::verb::get,
       "/projects",
       "The projects and their latest jobs",
       "",
       AccessScope::kRead,
       kFilteredAnswer,
       &Api::GetProjects,
       RequestLane::kWork,
       {},
       kProjectsAnswers,
       "",
       "/projects"},
      {http::verb::get, "/projects/{project}/jobs", "A project's jobs, newest first, paged", "",
       AccessScope::kRead, kPath, &Api::GetProjectJobs, RequestLane::kWork, kProjectJobsParams,
       kProjectJobsAnswers, "", "/projects/demo/jobs?limit=2"},
      {http::verb::get, "/stats/latency", "Latency percentiles over a time window",
       "Computed by the metrics warehouse over one row per job.", AccessScope::kRead, kQueryOrEvery,
       &Api::GetLatencyStats, RequestLane::kWork, kLatencyParams, kLatencyAnswers, "",
       "/stats/latency?project=demo&window=30d"},
      {http::verb::post, "/tasks/pubsub", "Analyse a job: a Pub/Sub push delivery",
       "The endpoint of a Pub/Sub push subscription on the analysis topic.", AccessScope::kWorker,
       kNone, &Api::PostPubSubTask, RequestLane::kWork, kPushParams, kPushAnswers, "",
       "/tasks/pubsub", /*token_in_query=*/true},
      {http::verb::get,
       "/healthz",
       "Liveness: the process answers",
       "",
       std::nullopt,
       kNone,
       &Api::GetHealth,
       RequestLane::kInline,
       {},
       kHealthAnswers,
       "",
       "/healthz",
       false,
       /*lenient_params=*/true},
      {http::verb::get,
       "/health",
       "Liveness, under the original service's name",
       "",
       std::nullopt,
       kNone,
       &Api::GetHealth,
       RequestLane::kInline,
       {},
       kHealthAnswers,
       "",
       "/health",
       false,
       /*lenient_params=*/true},
      {http::verb::get,
       "/readyz",
       "Readiness: the backends answer",
       "Each backend is probed within --probe-timeout; a slow one is reported, never waited "
       "for.",
       std::nullopt,
       kNone,
       &Api::GetReady,
       RequestLane::kControl,
       {},
       kReadyAnswers,
       "",
       "/readyz"},
      {http::verb::get,
       "/metrics",
       "Prometheus metrics",
       "",
       AccessScope::kRead,
       kNone,
       &Api::GetMetrics,
       RequestLane::kControl,
       {},
       kMetricsAnswers,
       "",
       "/metrics"},
      {http::verb::get,
       "/openapi.json",
       "This API, described in OpenAPI 3.1",
       "",
       std::nullopt,
       kNone,
       &Api::GetOpenApi,
       RequestLane::kControl,
       {},
       kOpenApiAnswers,
       "",
       "/openapi.json"},
      {http::verb::get,
       "/docs",
       "This API, as a page to read",
       "",
       std::nullopt,
       kNone,
       &Api::GetDocs,
       RequestLane::kControl,
       {},
       kDocsAnswers,
       "",
       "/docs"},
      PageRoute(http::verb::get, "/", "The dashboard: every project", AccessScope::kRead,
                kFilteredAnswer, &Api::GetHome, kUiHomeParams, kPageAnswers, "/"),
      PageRoute(http::verb::get, "/ui/projects/{project}", "The dashboard: a project's jobs",
                AccessScope::kRead, kPath, &Api::GetUiProject, kUiProjectParams, kPageAnswers,
                "/ui/projects/demo?window=30d"),
      PageRoute(http::verb::get, "/ui/projects/{project}/jobs/{job_id}",
                "The dashboard: a job's report and overlay", AccessScope::kRead, kPath,
                &Api::GetUiJob, kUiJobParams, kPageAnswers, "/ui/projects/demo/jobs/2"),
      PageRoute(http::verb::get, "/ui/signin", "The dashboard's sign-in form", std::nullopt, kNone,
                &Api::GetSignIn, kSignInParams, kSignInAnswers, "/ui/signin"),
      PageRoute(http::verb::post, "/ui/signin", "Sign in to the dashboard with a token",
                std::nullopt, kNone, &Api::PostSignIn, {}, kSignInAnswers, "/ui/signin"),
      PageRoute(http::verb::post, "/ui/signout", "Sign out of the dashboard", std::nullopt, kNone,
                &Api::PostSignOut, {}, kSignInAnswers, "/ui/signout"),
      PageRoute(http::verb::get, "/favicon.svg", "The dashboard's icon", std::nullopt, kNone,
                &Api::GetFavicon, {}, kFaviconAnswers, "/favicon.svg"),
      PageRoute(http::verb::get, "/favicon.ico", "The dashboard's icon (as SVG)", std::nullopt,
                kNone, &Api::GetFavicon, {}, kFaviconAnswers, "/favicon.ico"),
      // Last, so that the tests walking the table in order delete the example project after
      // every other route's example ran.
      {http::verb::delete_, "/projects/{project}", "Delete a project and everything of it",
       "Its stored jobs, kept reports, index, analysis records, dead letters, outbox entries and "
       "warehouse rows. Safe against a concurrent POST to the project within one instance "
       "(docs/api.md says what holds across instances).",
       AccessScope::kAdmin, kPath, &Api::DeleteProject, RequestLane::kWork, kDeleteProjectParams,
       kDeleteProjectAnswers, "", "/projects/demo"},
  };
  return kRoutes;
}

std::span<const Route> Api::ApiRoutes() {
  static const std::vector<Route> routes = [] {
    std::vector<Route> out;
    for (const Route& route : Routes()) {
      if (!route.page) out.push_back(route);
    }
    return out;
  }();
  return routes;
}

std::string_view Api::Version() { return BUILDTRACE_VERSION; }

HttpResponse Api::GetOpenApi(RouteCall&) {
  static const std::string document = OpenApiDocument(ApiRoutes(), BUILDTRACE_VERSION);
  return MakeResponse(200, document);
}

HttpResponse Api::GetDocs(RouteCall&) {
  static const std::string page = ApiDocsPage(ApiRoutes(), BUILDTRACE_VERSION);
  return MakeResponse(200, page, "text/html; charset=utf-8");
}

}  // namespace buildtrace
