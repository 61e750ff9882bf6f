// The dashboard pages: each renders what goes inside <main> and hands it to the shared frame
// (html.h). All user text goes through Html() on its way out, IDs and values are cut like the
// overlay's titles, and hrefs are built from UrlEncode()d parts, so nothing a client posted can
// open an element or an attribute.
#include "ui/pages.h"

#include <array>
#include <cstdio>

#include "core/diff.h"
#include "ui/charts.h"
#include "ui/html.h"
#include "ui/job_page_script.h"

namespace buildtrace::ui {
namespace {

// IDs and values in the lists are cut like the overlay's titles, so a page's size is bounded by
// the report's list limit.
constexpr size_t kMaxValueBytes = 200;

// The windows the project page offers, with their labels.
constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kWindows{{
    {"24h", "last 24 hours"},
    {"7d", "last 7 days"},
    {"30d", "last 30 days"},
    {"90d", "last 90 days"},
    {"365d", "last 365 days"},
}};

std::string JobLink(std::string_view project, int64_t job_id, std::string_view attributes = "") {
  return "<a href=\"" + Html(JobPath(project, job_id)) + "\"" + std::string(attributes) + ">job " +
         std::to_string(job_id) + "</a>";
}

std::string Time(std::string_view timestamp) {
  return "<time datetime=\"" + Html(timestamp, 64) + "\">" + Html(timestamp, 64) + "</time>";
}

// "succeeded", "failed", "pending", "dead letter": what a person wants to know about a job.
std::string StatusCell(const JobRow& job) {
  if (!job.succeeded) return "<td class=\"status-failed\">failed</td>";
  if (job.analysis == "analysed") return "<td>succeeded</td>";
  if (job.analysis == "dead_letter") return "<td class=\"error\">succeeded, analysis failed</td>";
  return "<td>succeeded, " + Html(job.analysis, 40) + "</td>";
}

// --- GET / -------------------------------------------------------------------------------------

void AppendProjectRow(std::string& out, const ProjectRow& p) {
  out += "<tr data-project=\"" + Html(p.project) + "\"><td><a href=\"" +
         Html(ProjectPath(p.project)) + "\">" + Html(p.project) + "</a></td><td class=\"num\">" +
         std::to_string(p.jobs) + "</td>";
  if (p.latest) {
    out += "<td>" + JobLink(p.project, p.latest->job_id) + " " + Time(p.latest->timestamp) +
           "</td>" + StatusCell(*p.latest);
  } else {
    out += "<td>none</td><td></td>";
  }
  out += "<td>" + RenderSparkline(p.recent_latencies_ms) + "</td></tr>\n";
}

// --- GET /ui/projects/{project} ----------------------------------------------------------------

void AppendWindowForm(std::string& out, std::string_view window) {
  out +=
      "<form id=\"window-filter\" method=\"get\" class=\"toolbar\"><label for=\"window\">Jobs of "
      "the</label> <select id=\"window\" name=\"window\">";
  for (const auto& [value, label] : kWindows) {
    out += "<option value=\"" + std::string(value) + "\"" + (value == window ? " selected" : "") +
           ">" + std::string(label) + "</option>";
  }
  out += "</select> <button type=\"submit\">Show</button></form>\n";
}

std::string QuantileText(std::string_view name, const std::optional<double>& v) {
  return std::string(name) + " <span data-quantile=\"" + std::string(name) + "\">" +
         (v ? FormatLatency(*v) : "n/a") + "</span>";
}

void AppendWindowSummary(std::string& out, const ProjectPage& page) {
  out += "<p id=\"window-summary\">" + std::to_string(page.window_count) + " succeeded job" +
         (page.window_count == 1 ? "" : "s") + " in the window; latency " +
         QuantileText("p50", page.p50) + ", " + QuantileText("p95", page.p95) + ", " +
         QuantileText("p99", page.p99) + ".</p>\n";
  if (!page.warehouse_error.empty()) {
    out +=
        "<p class=\"note\" id=\"warehouse-error\" role=\"status\">The latency quantiles could "
        "not be read from the metrics warehouse: " +
        Html(page.warehouse_error, 500) + "</p>\n";
  }
  if (page.charted_capped) {
    out += "<p class=\"note\" id=\"charted-capped\">The charts show the latest " +
           std::to_string(page.charted.size()) +
           " jobs of the window; it holds more. Choose a shorter window to see them all.</p>\n";
  }
}

void AppendCharts(std::string& out, const ProjectPage& page) {
  std::vector<ChangeBar> bars;
  std::vector<LatencyPoint> points;
  bars.reserve(page.charted.size());
  points.reserve(page.charted.size());
  for (const JobRow& j : page.charted) {
    ChangeBar bar{j.job_id, j.timestamp, std::nullopt};
    if (j.counts) bar.counts = {j.counts->added, j.counts->removed, j.counts->modified()};
    bars.push_back(std::move(bar));
    points.push_back({j.job_id, j.timestamp, j.latency_ms, !j.succeeded});
  }
  out += "<h2 id=\"changes-heading\">Changes per job</h2>\n";
  out += RenderChangesChart("changes-chart", bars);
  out += "\n<h2 id=\"latency-heading\">Latency per job</h2>\n";
  out += RenderLatencyChart("latency-chart", points, {page.p50, page.p95, page.p99});
  out += "\n";
}

void AppendJobRow(std::string& out, std::string_view project, const JobRow& j) {
  out += "<tr data-job-id=\"" + std::to_string(j.job_id) + "\"><td>" + JobLink(project, j.job_id) +
         "</td><td>" + Time(j.timestamp) + "</td>" + StatusCell(j) + "<td class=\"num\">" +
         FormatLatency(j.latency_ms) + "</td>";
  if (j.counts) {
    for (const int64_t n : {j.counts->added, j.counts->removed, j.counts->modified()}) {
      out += "<td class=\"num\">" + std::to_string(n) + "</td>";
    }
  } else {
    out += "<td colspan=\"3\">" +
           std::string(!j.succeeded                  ? "not analysed"
                       : j.analysis == "dead_letter" ? "failed"
                                                     : "pending") +
           "</td>";
  }
  out += "<td>" + (j.base_job_id ? JobLink(project, *j.base_job_id) : std::string("none")) +
         "</td></tr>\n";
}

void AppendJobsTable(std::string& out, const ProjectPage& page) {
  out += "<h2 id=\"jobs-heading\">Jobs</h2>\n";
  if (page.jobs.empty()) out += "<p id=\"no-jobs\">No jobs on this page.</p>\n";
  out +=
      "<div class=\"table-wrap\"><table id=\"jobs\" aria-labelledby=\"jobs-heading\"><thead><tr>"
      "<th scope=\"col\">Job</th><th scope=\"col\">Time</th><th scope=\"col\">Status</th>"
      "<th scope=\"col\" class=\"num\">Latency</th><th scope=\"col\" class=\"num\">Added</th>"
      "<th scope=\"col\" class=\"num\">Removed</th><th scope=\"col\" class=\"num\">Modified</th>"
      "<th scope=\"col\">Base</th></tr></thead><tbody>\n";
  for (const JobRow& j : page.jobs) AppendJobRow(out, page.project, j);
  out += "</tbody></table></div>\n<nav class=\"toolbar\" aria-label=\"Pages\">";
  const std::string window = "?window=" + UrlEncode(page.window);
  if (page.before) {
    out += "<a id=\"newest\" href=\"" + Html(window) + "\">Newest jobs</a>";
  }
  if (page.next_before) {
    out += "<a id=\"older\" href=\"" +
           Html(window + "&before=" + std::to_string(*page.next_before)) + "\">Older jobs</a>";
  }
  out += "</nav>\n";
}

// --- GET /ui/projects/{project}/jobs/{job_id} --------------------------------------------------

void AppendCounts(std::string& out, const DiffCounts& c) {
  const std::pair<const char*, int64_t> counts[] = {
      {"added", c.added},        {"removed", c.removed}, {"moved", c.moved},
      {"resized", c.resized},    {"retyped", c.retyped}, {"changed", c.changed},
      {"unchanged", c.unchanged}};
  out += "<p class=\"counts\">";
  for (size_t i = 0; i < std::size(counts); ++i) {
    out += std::string(i == 0 ? "" : ", ") + "<span data-count=\"" + counts[i].first + "\">" +
           std::to_string(counts[i].second) + "</span> " + counts[i].first;
  }
  out += ".</p>\n";
}

void AppendSummary(std::string& out, const JobPage& page, const Report& r) {
  out +=
      "<section id=\"summary\" aria-labelledby=\"summary-heading\"><h2 id=\"summary-heading\">"
      "Summary</h2>\n";
  AppendCounts(out, r.diff.counts);
  out += "<p>" + std::to_string(r.object_count) + " objects; " +
         std::string(JobStatusName(r.job.status)) + " at " + Time(r.job.timestamp) + " in " +
         FormatLatency(r.job.latency_ms) + ".";
  if (!page.json_url.empty()) {
    out += " <a href=\"" + Html(page.json_url) + "\">Report as JSON</a>";
  }
  if (!page.svg_url.empty()) {
    out += " \u00b7 <a href=\"" + Html(page.svg_url) + "\">Drawing alone (SVG)</a>";
  }
  out += "</p>\n</section>\n";
}

std::string JobList(std::string_view project, const std::vector<int64_t>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    out += (i == 0 ? "" : ", ") + JobLink(project, ids[i]);
  }
  return out;
}

// Why this base, in words, with links to the jobs it names.
void AppendWhyBase(std::string& out, const Report& r) {
  const BaseSelection& b = r.base;
  const std::string& project = r.job.project;
  out += "<p id=\"why-base\">";
  if (!b.base_job_id) {
    out += "No base: this is the project's first successful job, so everything counts as added.";
  } else if (b.explicit_base) {
    out +=
        "Compared with " + JobLink(project, *b.base_job_id) + ", named as the base by the request.";
  } else if (*b.base_job_id == r.job.job_id - 1) {
    out += "Compared with " + JobLink(project, *b.base_job_id) + ", the previous job.";
  } else {
    out += "Compared with " + JobLink(project, *b.base_job_id) +
           ", the latest earlier job that succeeded.";
  }
  if (!b.skipped_failed.empty()) {
    out += b.skipped_failed_capped
               ? " More than " + std::to_string(b.skipped_failed.size()) +
                     " failed jobs were skipped, the newest being "
               : std::string(b.skipped_failed.size() == 1 ? " Failed job skipped: "
                                                          : " Failed jobs skipped: ");
    out += JobList(project, b.skipped_failed) + ".";
  }
  if (b.missing_ids > 0) {
    out += " " + std::to_string(b.missing_ids) +
           (b.missing_ids == 1 ? " job ID in between was" : " job IDs in between were") +
           " never posted.";
  }
  out += "</p>\n";
}

void AppendNeighbours(std::string& out, const JobPage& page, std::string_view project) {
  if (!page.prev_job_id && !page.next_job_id) return;
  out += "<nav class=\"toolbar\" aria-label=\"Neighbouring jobs\">";
  if (page.prev_job_id) {
    out += "<a id=\"prev\" rel=\"prev\" href=\"" + Html(JobPath(project, *page.prev_job_id)) +
           "\">\u2190 job " + std::to_string(*page.prev_job_id) + "</a>";
  }
  if (page.next_job_id) {
    out += "<a id=\"next\" rel=\"next\" href=\"" + Html(JobPath(project, *page.next_job_id)) +
           "\">job " + std::to_string(*page.next_job_id) + " \u2192</a>";
  }
  out += "</nav>\n";
}

// The drawing with its controls and the details panel. The controls need the script, so they
// start hidden and the script shows them.
void AppendOverlay(std::string& out, const JobPage& page) {
  out +=
      "<h2 id=\"drawing-heading\">Drawing</h2>\n"
      "<div class=\"toolbar\" data-needs-script hidden><label for=\"filter\">Filter by ID</label>"
      "<input id=\"filter\" type=\"search\" autocomplete=\"off\" spellcheck=\"false\">"
      "<span id=\"filter-count\" aria-live=\"polite\"></span>"
      "<button type=\"button\" id=\"zoom-in\" aria-label=\"Zoom in\">+</button>"
      "<button type=\"button\" id=\"zoom-out\" aria-label=\"Zoom out\">\u2212</button>"
      "<button type=\"button\" id=\"zoom-reset\">Reset view</button></div>\n"
      "<div class=\"job-layout\"><div id=\"overlay-view\">\n";
  out += page.overlay_svg;
  out +=
      "</div>\n<div id=\"object-details\" aria-live=\"polite\"><h3>Object</h3>"
      "<p id=\"details-hint\">Point at or focus a change in the drawing to see its ID and "
      "values.</p><dl id=\"details-list\" hidden><dt>ID</dt><dd id=\"detail-id\"></dd>"
      "<dt>Kind</dt><dd id=\"detail-kind\"></dd><dt>Before</dt><dd id=\"detail-before\"></dd>"
      "<dt>After</dt><dd id=\"detail-after\"></dd></dl></div></div>\n";
}

void OpenChangeSection(std::string& out, std::string_view kind, int64_t count) {
  out += "<section class=\"changes\" data-kind=\"" + std::string(kind) + "\"><h2>" +
         std::to_string(count) + " " + std::string(kind) + "</h2><ul class=\"ids\">\n";
}

void CloseChangeSection(std::string& out, int64_t count, int64_t listed) {
  out += "</ul>";
  if (count > listed) {
    out += "<p class=\"more\">" + std::to_string(count - listed) + " more not listed.</p>";
  }
  out += "</section>\n";
}

std::string ItemOpen(std::string_view id) {
  return "<li data-id=\"" + Html(id, kMaxValueBytes) + "\"><code>" + Html(id, kMaxValueBytes) +
         "</code>";
}

void AppendAddedAndRemoved(std::string& out, const DiffResult& d) {
  if (d.counts.added > 0) {
    OpenChangeSection(out, "added", d.counts.added);
    for (size_t i = 0; i < d.added.size(); ++i) {
      out += ItemOpen(d.added[i]);
      if (i < d.added_at.size() && d.added_at[i]) {
        const Placement& at = *d.added_at[i];
        char where[96];
        std::snprintf(where, sizeof where, " at %.6g, %.6g", at.x, at.y);
        out += ": " + Html(at.type, kMaxValueBytes) + where;
      }
      out += "</li>\n";
    }
    CloseChangeSection(out, d.counts.added, static_cast<int64_t>(d.added.size()));
  }
  if (d.counts.removed > 0) {
    OpenChangeSection(out, "removed", d.counts.removed);
    for (const std::string& id : d.removed) out += ItemOpen(id) + "</li>\n";
    CloseChangeSection(out, d.counts.removed, static_cast<int64_t>(d.removed.size()));
  }
}

void AppendModified(std::string& out, const DiffResult& d) {
  const std::pair<ChangeKind, int64_t> kinds[] = {{ChangeKind::kMoved, d.counts.moved},
                                                  {ChangeKind::kResized, d.counts.resized},
                                                  {ChangeKind::kRetyped, d.counts.retyped},
                                                  {ChangeKind::kChanged, d.counts.changed}};
  for (const auto& [kind, count] : kinds) {
    if (count <= 0) continue;
    OpenChangeSection(out, ChangeKindName(kind), count);
    int64_t listed = 0;
    for (const ModifiedObject& o : d.modified) {
      if (o.kind != kind) continue;
      ++listed;
      out += ItemOpen(o.id) + ": <span class=\"before\">" + Html(o.before, kMaxValueBytes) +
             "</span> \u2192 <span class=\"after\">" + Html(o.after, kMaxValueBytes) +
             "</span></li>\n";
    }
    CloseChangeSection(out, count, listed);
  }
}

}  // namespace

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::string_view FaviconSvg() {
  // Two overlapping boxes, one dashed (before) and one filled (after): a comparison.
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\">"
         "<rect width=\"32\" height=\"32\" rx=\"6\" fill=\"#0072b2\"/>"
         "<rect x=\"5\" y=\"5\" width=\"14\" height=\"14\" fill=\"none\" stroke=\"#fff\" "
         "stroke-width=\"2.5\" stroke-dasharray=\"3 2\"/>"
         "<rect x=\"13\" y=\"13\" width=\"14\" height=\"14\" fill=\"#e69f00\" stroke=\"#fff\" "
         "stroke-width=\"2.5\"/></svg>\n";
}

std::string RenderProjectsPage(const PageFrame& frame, std::span<const ProjectRow> projects,
                               std::string_view next_after) {
  std::string main = "<h1>Projects</h1>\n";
  if (projects.empty()) {
    main += "<p id=\"no-projects\">No projects yet: post a job to the API and it shows here.</p>\n";
  } else {
    main +=
        "<div class=\"table-wrap\"><table id=\"projects\"><thead><tr><th scope=\"col\">Project"
        "</th><th scope=\"col\" class=\"num\">Jobs</th><th scope=\"col\">Latest job</th>"
        "<th scope=\"col\">Status</th><th scope=\"col\">Recent latency</th></tr></thead>"
        "<tbody>\n";
    for (const ProjectRow& p : projects) AppendProjectRow(main, p);
    main += "</tbody></table></div>\n";
  }
  if (!next_after.empty()) {
    main += "<p><a id=\"more-projects\" href=\"/?after=" + Html(UrlEncode(next_after)) +
            "\">More projects</a></p>\n";
  }
  const Breadcrumb crumbs[] = {{"Projects", ""}};
  return RenderDocument(frame, {.title = "Projects", .breadcrumbs = crumbs, .main_html = main});
}

std::string RenderProjectPage(const PageFrame& frame, const ProjectPage& page) {
  std::string main = "<h1>Project " + Html(page.project) + "</h1>\n";
  AppendWindowForm(main, page.window);
  AppendWindowSummary(main, page);
  AppendCharts(main, page);
  AppendJobsTable(main, page);
  const Breadcrumb crumbs[] = {{"Projects", "/"}, {page.project, ""}};
  const std::string title = "Project " + page.project;
  return RenderDocument(frame, {.title = title, .breadcrumbs = crumbs, .main_html = main});
}

std::string RenderJobPage(const PageFrame& frame, const JobPage& page) {
  std::string main;
  std::string project = page.project;
  std::string title = "Report";
  if (page.report == nullptr) {
    main = "<h1>Report</h1>\n<p class=\"note\">There is no report for this job.</p>\n";
  } else {
    const Report& r = *page.report;
    title = "Job " + std::to_string(r.job.job_id);
    main = "<h1>Job " + std::to_string(r.job.job_id) + " of " + Html(project) + "</h1>\n";
    AppendNeighbours(main, page, project);
    AppendSummary(main, page, r);
    AppendWhyBase(main, r);
    AppendOverlay(main, page);
    AppendAddedAndRemoved(main, r.diff);
    AppendModified(main, r.diff);
  }
  const Breadcrumb crumbs[] = {{"Projects", "/"}, {project, ProjectPath(project)}, {title, ""}};
  const std::string full_title = title + " \u00b7 " + project;
  return RenderDocument(frame, {.title = full_title,
                                .breadcrumbs = crumbs,
                                .main_html = main,
                                .script = page.report ? kJobPageScript : std::string_view()});
}

std::string RenderSignInPage(const PageFrame& frame, std::string_view next,
                             std::string_view error) {
  std::string main = "<h1>Sign in</h1>\n";
  if (!error.empty()) {
    main += "<p id=\"signin-error\" class=\"error\" role=\"alert\">" + Html(error, 500) + "</p>\n";
  }
  main +=
      "<form id=\"signin\" method=\"post\" action=\"/ui/signin\"><p><label for=\"token\">Access "
      "token</label><br><input id=\"token\" name=\"token\" type=\"password\" "
      "autocomplete=\"current-password\" required></p><input type=\"hidden\" name=\"next\" "
      "value=\"" +
      Html(next, 2000) + "\"><p><button type=\"submit\">Sign in</button></p></form>\n";
  return RenderDocument(frame, {.title = "Sign in", .main_html = main});
}

std::string RenderErrorPage(const PageFrame& frame, int status, std::string_view title,
                            std::string_view message) {
  const std::string main = "<h1>" + std::to_string(status) + " " + Html(title, 200) + "</h1>\n<p>" +
                           Html(message, 2000) +
                           "</p>\n<p><a href=\"/\">Back to the projects</a></p>\n";
  const std::string attributes = " id=\"error\" data-status=\"" + std::to_string(status) + "\"";
  const std::string page_title = std::to_string(status) + " " + std::string(title);
  return RenderDocument(frame,
                        {.title = page_title, .main_attributes = attributes, .main_html = main});
}

}  // namespace buildtrace::ui
