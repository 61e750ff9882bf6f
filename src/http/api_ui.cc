// The dashboard's handlers (GET /, /ui/projects/{project}, /ui/projects/{project}/jobs/{job_id},
// the sign-in form and the favicon): each gathers what its page shows from the job index, the
// analysis records, the report service and the warehouse, and renders it with ui/pages.h. The
// pages honour access control like the API; the sign-in form keeps a valid token in a cookie.
#include <algorithm>

#include "core/timestamp.h"
#include "http/api.h"
#include "http/error_response.h"
#include "http/page_response.h"
#include "http/request_target.h"
#include "service/job_page.h"
#include "ui/pages.h"

namespace buildtrace {
namespace {

namespace http = boost::beast::http;

constexpr size_t kProjectsPerPage = 100;  // projects per page of GET /
constexpr size_t kSparklineJobs = 30;     // latencies per project on GET /
constexpr size_t kTableJobs = 50;         // jobs per page of a project's table
constexpr size_t kChartedJobs = 200;      // jobs in a project page's charts at most
static_assert(kTableJobs <= kChartedJobs, "the first table page is cut from the charted jobs");
constexpr std::string_view kDefaultWindow = "30d";

ui::JobRow RowOf(const JobPageEntry& job) {
  ui::JobRow row;
  row.job_id = job.job_id;
  row.timestamp = job.timestamp;
  row.succeeded = job.status == JobStatus::kSucceeded;
  row.latency_ms = job.latency_ms;
  row.analysis = AnalysisStateName(job.analysis);
  if (job.record) {
    row.base_job_id = job.record->base_job_id;
    row.counts = job.record->counts;
  }
  return row;
}

// The Set-Cookie value of the session cookie holding `value` (percent-encoded), with `extra`
// attributes; Secure when the browser reached us over TLS (a proxy in front says so).
std::string SessionCookie(const HttpRequest& request, std::string_view value,
                          std::string_view extra = "") {
  const bool tls = request["X-Forwarded-Proto"] == "https";
  return std::string(kSessionCookie) + "=" + ui::UrlEncode(value) + "; Path=/; " +
         std::string(extra) + "HttpOnly; SameSite=Strict" + (tls ? "; Secure" : "");
}

// Where a sign-in may send the browser on: a path of this service (never "//host" or a URL).
std::string SafeNext(std::string_view next) {
  const bool local = next.starts_with('/') && !next.starts_with("//") &&
                     next.find('\\') == std::string_view::npos && next.size() <= 2048;
  return local ? std::string(next) : std::string("/");
}

// The job-timestamp lower bound of a window ending now.
int64_t WindowStart(int64_t now_ms, int64_t window_ms) { return now_ms - window_ms; }

bool InWindow(const JobPageEntry& job, int64_t from_ms) {
  const std::optional<int64_t> at = ParseRfc3339(job.timestamp);
  return at && *at >= from_ms;
}

// The body of an application/x-www-form-urlencoded form, as query parameters ('+' is a space).
Result<RequestTarget> ParseForm(std::string_view body) {
  std::string query = "/?";
  for (char c : body) {
    if (c == '+') {
      query += "%20";
    } else {
      query += c;
    }
  }
  return ParseRequestTarget(query);
}

}  // namespace

ui::PageFrame Api::Frame(const RouteCall& call) const {
  ui::PageFrame frame;
  frame.access_control = context_.access != nullptr;
  frame.signed_in = call.token != nullptr;
  frame.version = Version();
  return frame;
}

HttpResponse Api::PageError(const RouteCall& call, const Status& status) const {
  const unsigned code = HttpStatusFor(status);
  const char* title = code == 404   ? "Not found"
                      : code == 400 ? "Bad request"
                      : code == 503 ? "A backend did not answer"
                                    : "Something went wrong";
  HttpResponse res = HtmlPage(
      code, ui::RenderErrorPage(Frame(call), static_cast<int>(code), title, status.message()));
  if (code == 503) res.set(http::field::retry_after, "5");
  return res;
}

HttpResponse Api::GetHome(RouteCall& call) {
  auto projects = jobs_.ListProjects();
  if (!projects.ok()) return PageError(call, projects.status());
  // A page of projects after ?after= (by name), each costing a page of its jobs: a view of `/`
  // reads as much with a thousand projects as with a hundred.
  const std::string after = StringParam(call.target, "after");
  if (!after.empty() && !IsValidProjectName(after)) {
    return PageError(call, InvalidArgument("after must be a project name: 1-128 characters of "
                                           "A-Z, a-z, 0-9, '.', '_' or '-'"));
  }
  std::vector<ui::ProjectRow> rows;
  std::string next_after;
  for (const ProjectSummary& p : *projects) {
    if (call.token != nullptr && !call.token->AllowsProject(p.project)) continue;
    if (!after.empty() && p.project <= after) continue;
    if (rows.size() == kProjectsPerPage) {
      next_after = rows.back().project;
      break;
    }
    ui::ProjectRow row;
    row.project = p.project;
    row.jobs = p.jobs;
    Result<JobPage> recent = ReadJobPage(jobs_, p.project, std::nullopt, kSparklineJobs);
    if (recent.ok() && !recent->jobs.empty()) {
      row.latest = RowOf(recent->jobs.front());
      for (auto it = recent->jobs.rbegin(); it != recent->jobs.rend(); ++it) {
        row.recent_latencies_ms.push_back(it->latency_ms);
      }
    } else if (!recent.ok() && recent.status().code() != StatusCode::kNotFound) {
      return PageError(call, recent.status());
    }
    rows.push_back(std::move(row));
  }
  return HtmlPage(200, ui::RenderProjectsPage(Frame(call), rows, next_after));
}

HttpResponse Api::GetUiProject(RouteCall& call) {
  const RequestTarget& target = call.target;
  ui::ProjectPage page;
  page.project = target.segments[2];
  if (!IsValidProjectName(page.project)) {
    return PageError(call, InvalidArgument("the project in /ui/projects/{project} must be 1-128 "
                                           "characters of A-Z, a-z, 0-9, '.', '_' or '-'"));
  }
  page.window = StringParam(target, "window", kDefaultWindow);
  Result<int64_t> window = ParseWindow(page.window);
  if (!window.ok()) return PageError(call, window.status());
  if (auto it = target.params.find("before"); it != target.params.end()) {
    Result<int64_t> before = ParseJobIdText(it->second, "before");
    if (!before.ok()) return PageError(call, before.status());
    page.before = *before;
  }
  const int64_t now = context_.now_ms();
  const int64_t from = WindowStart(now, *window);
  // The charts: the newest jobs of the window. On the first page (no `before`) the table is the
  // newest of those, so one read serves both.
  Result<JobPage> charted = ReadJobPage(jobs_, page.project, std::nullopt, kChartedJobs);
  if (!charted.ok()) return PageError(call, charted.status());
  // The table: a page of the jobs in the window, newest first.
  Result<JobPage> listed = JobPage{};
  if (page.before) {
    listed = ReadJobPage(jobs_, page.project, page.before, kTableJobs);
    if (!listed.ok()) return PageError(call, listed.status());
  } else {
    const size_t n = std::min(charted->jobs.size(), kTableJobs);
    listed->jobs.assign(charted->jobs.begin(), charted->jobs.begin() + n);
    if (charted->jobs.size() > kTableJobs) listed->next_before = listed->jobs.back().job_id;
  }
  bool left_window = false;
  for (const JobPageEntry& job : listed->jobs) {
    if (!InWindow(job, from)) {
      left_window = true;
      break;
    }
    page.jobs.push_back(RowOf(job));
  }
  if (!left_window) page.next_before = listed->next_before;
  for (const JobPageEntry& job : charted->jobs) {
    if (!InWindow(job, from)) break;
    page.charted.push_back(RowOf(job));
  }
  page.charted_capped = page.charted.size() == kChartedJobs && charted->next_before.has_value();
  std::reverse(page.charted.begin(), page.charted.end());
  LatencyQuery query;
  query.project = page.project;
  query.from_ms = from;
  query.to_ms = now;
  query.quantiles = {0.5, 0.95, 0.99};
  Result<LatencyStats> stats = context_.warehouse.Latency(query);
  if (stats.ok() && stats->values.size() == 3) {
    page.window_count = stats->count;
    page.p50 = stats->values[0];
    page.p95 = stats->values[1];
    page.p99 = stats->values[2];
  } else if (!stats.ok()) {
    page.warehouse_error = stats.status().message();
  }
  return HtmlPage(200, ui::RenderProjectPage(Frame(call), page));
}

HttpResponse Api::GetUiJob(RouteCall& call) {
  const RequestTarget& target = call.target;
  const std::string& project = target.segments[2];
  if (!IsValidProjectName(project)) {
    return PageError(call, InvalidArgument("the project in the path must be 1-128 characters of "
                                           "A-Z, a-z, 0-9, '.', '_' or '-'"));
  }
  Result<int64_t> job_id = ParseJobIdText(target.segments[4], "the job ID in the path");
  if (!job_id.ok()) return PageError(call, job_id.status());
  ReportRequest request;
  request.project = project;
  request.job_id = *job_id;
  Report report;
  Result<SharedText> drawing = reports_.Drawing(request, /*interactive=*/true, &report);
  if (!drawing.ok()) return PageError(call, drawing.status());
  ui::JobPage page;
  page.project = project;
  page.report = &report;
  page.overlay_svg = **drawing;
  // The neighbours in the project, whatever their status.
  auto first = [](std::optional<int64_t>& out) {
    return [&out](const IndexedJob& job) {
      out = job.job_id;
      return false;
    };
  };
  if (Status s = jobs_.index().Descending(project, *job_id, first(page.prev_job_id)); !s.ok()) {
    return PageError(call, s);
  }
  if (Status s = jobs_.index().Ascending(project, *job_id, first(page.next_job_id)); !s.ok()) {
    return PageError(call, s);
  }
  const std::string suffix = "?project=" + ui::UrlEncode(project);
  page.svg_url = "/report/" + std::to_string(*job_id) + ".svg" + suffix;
  page.json_url = "/report/" + std::to_string(*job_id) + suffix;
  return HtmlPage(200, ui::RenderJobPage(Frame(call), page));
}

HttpResponse Api::GetSignIn(RouteCall& call) {
  const std::string next = SafeNext(StringParam(call.target, "next", "/"));
  if (context_.access == nullptr) return SeeOther(next);  // nothing to sign in to
  return HtmlPage(200, ui::RenderSignInPage(Frame(call), next, ""));
}

HttpResponse Api::PostSignIn(RouteCall& call) {
  Result<RequestTarget> form = ParseForm(call.request.body().view());
  if (!form.ok()) return PageError(call, form.status());
  const std::string next = SafeNext(StringParam(*form, "next", "/"));
  if (context_.access == nullptr) return SeeOther(next);
  const std::string token = StringParam(*form, "token");
  const AccessToken* entry = context_.access->Authenticate("Bearer " + token);
  if (entry == nullptr || !entry->HasScope(AccessScope::kRead)) {
    const char* why = entry == nullptr ? "That token is not valid: check it and try again."
                                       : "That token has no read scope; the pages need one.";
    return HtmlPage(401, ui::RenderSignInPage(Frame(call), next, why));
  }
  HttpResponse res = SeeOther(next);
  res.set(http::field::set_cookie, SessionCookie(call.request, token));
  return res;
}

HttpResponse Api::PostSignOut(RouteCall& call) {
  HttpResponse res = SeeOther(context_.access != nullptr ? "/ui/signin" : "/");
  res.set(http::field::set_cookie, SessionCookie(call.request, "", "Max-Age=0; "));
  return res;
}

HttpResponse Api::GetFavicon(RouteCall&) {
  HttpResponse res = MakeResponse(200, std::string(ui::FaviconSvg()), "image/svg+xml");
  res.set(http::field::cache_control, "public, max-age=86400");
  return res;
}

}  // namespace buildtrace
