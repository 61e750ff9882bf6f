// The dashboard's pages (GET /, /ui/projects/{project}, /ui/projects/{project}/jobs/{job_id}, the
// sign-in form) as server-rendered HTML with inline SVG charts: complete documents that read
// without script, with one small inline script for the filter box, zoom/pan and the object
// details. Pure functions of plain data: the handlers (http/api_ui.cc) gather it. Every piece of
// user text (project names, IDs, values, messages) is escaped; nothing is loaded from elsewhere
// (no CDN): styles and script are inline, the favicon is served by the binary.
//
// The DOM contract the browser tests rely on (tests/browser) is listed with each page.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/report.h"

namespace buildtrace::ui {

// What every page's frame needs: whether access control is on (then a sign-out button shows
// when `signed_in`) and the version for the footer.
struct PageFrame {
  bool access_control = false;
  bool signed_in = false;
  std::string version;
};

// One job as the pages list it (from the job index and its analysis record).
struct JobRow {
  int64_t job_id = 0;
  std::string timestamp;  // RFC 3339 UTC
  bool succeeded = true;
  double latency_ms = 0;
  std::string analysis;                // "pending", "analysed", "dead_letter"
  std::optional<int64_t> base_job_id;  // when analysed and there was a base
  std::optional<DiffCounts> counts;    // when analysed
};

// GET / : one row per project.
// DOM: <table id="projects">, one <tr data-project="P"> per project holding
// <a href="/ui/projects/P"> (P percent-encoded in the href), the job count, the latest job (a
// link to its job page), its status, and <svg class="sparkline"> of the recent latencies (one
// <circle> or point per job; none when no latencies). No projects: <p id="no-projects">.
struct ProjectRow {
  std::string project;
  int64_t jobs = 0;
  std::optional<JobRow> latest;
  std::vector<double> recent_latencies_ms;  // oldest first, at most 30
};
// `next_after`, when not empty: more projects follow; the page ends with <a id="more-projects"
// href="/?after=NAME"> to them.
std::string RenderProjectsPage(const PageFrame& frame, std::span<const ProjectRow> projects,
                               std::string_view next_after = "");

// GET /ui/projects/{project}?window=30d&before=N
// DOM: <form id="window-filter" method="get"> with <select name="window"> (options 24h, 7d, 30d,
// 90d, 365d; the current one selected) and a submit button; <svg id="changes-chart"> (one
// <g class="bar" data-job-id="N"> per charted job, stacked <rect class="added|removed|modified">
// with a <title>); <svg id="latency-chart"> (one <circle class="job" data-job-id="N"> per charted
// job with a <title>, and <line class="p50|p95|p99"> for each quantile the warehouse gave, with a
// <text> label); <table id="jobs"> with one <tr data-job-id="N"> per listed job (id linking to the
// job page, time, status, latency, added / removed / modified or "pending", base linking to the
// base's job page); <a id="older" href="?window=W&before=N"> when there are older jobs; <a
// id="newest"> back to the first page when `before` is set.
struct ProjectPage {
  std::string project;
  std::string window;             // as given: "30d"
  std::optional<int64_t> before;  // the page starts below this job ID
  std::vector<JobRow> jobs;       // the page, newest first
  std::optional<int64_t> next_before;
  std::vector<JobRow> charted;          // the jobs in the window for the charts, oldest first
  bool charted_capped = false;          // the window holds more jobs than charted (say so)
  int64_t window_count = 0;             // succeeded jobs in the window (the warehouse's count)
  std::optional<double> p50, p95, p99;  // the warehouse's quantiles over the window, in ms
  std::string warehouse_error;          // non-empty: the quantiles could not be read (say so)
};
std::string RenderProjectPage(const PageFrame& frame, const ProjectPage& page);

// GET /ui/projects/{project}/jobs/{job_id}
// DOM: <section id="summary"> with the counts (each in <span data-count="added|removed|moved|
// resized|retyped|changed|unchanged">N</span>); <p id="why-base"> (the base and why: previous
// job, failed jobs skipped, explicit, none); <a id="prev"> / <a id="next"> to the neighbouring
// jobs' pages when they exist; <input id="filter" type="search"> with a <label>; the overlay
// (`overlay_svg`, inserted as it is: it is rendered with OverlayOptions::interactive) inside
// <div id="overlay-view"> with <button id="zoom-in">, <button id="zoom-out">, <button
// id="zoom-reset">; <div id="object-details" aria-live="polite"> that shows the id, kind, before
// and after of the hovered or focused mark; one <section class="changes" data-kind="K"> per
// kind with changes (added, removed, moved, resized, retyped, changed), each with an <h2>
// and a <ul> of <li data-id="ID"> (the ID, and before -> after for modified ones), and
// "N more not listed" in <p class="more"> when the list was cut. Typing in the filter hides the
// <li> and the overlay marks (elements with class "mark" and data-id) whose id does not contain
// the text (case-insensitive), and shows how many match in <span id="filter-count">.
struct JobPage {
  std::string project;
  const Report* report = nullptr;  // not owned; diff lists up to the page's list cap
  std::string_view overlay_svg;    // not owned; RenderOverlaySvg(..., {.interactive = true})
  std::optional<int64_t> prev_job_id, next_job_id;
  std::string svg_url;   // "/report/N.svg?project=P": a link to the overlay alone
  std::string json_url;  // "/report/N?project=P": the report as JSON
};
std::string RenderJobPage(const PageFrame& frame, const JobPage& page);

// GET /ui/signin?next=/ui/... and the answer of a failed POST /ui/signin.
// DOM: <form id="signin" method="post" action="/ui/signin"> with <label for="token">, <input
// id="token" name="token" type="password" autocomplete="current-password">, a hidden <input
// name="next">, a submit button; <p id="signin-error" role="alert"> when `error` is not empty.
std::string RenderSignInPage(const PageFrame& frame, std::string_view next, std::string_view error);

// An error as a page (404, 403, 503...): the status, a title and the message, a link home.
// DOM: <main id="error" data-status="404">.
std::string RenderErrorPage(const PageFrame& frame, int status, std::string_view title,
                            std::string_view message);

// The favicon (GET /favicon.ico and /favicon.svg), an SVG document.
std::string_view FaviconSvg();

// `text` percent-encoded for one path segment or query value (unreserved characters kept).
std::string UrlEncode(std::string_view text);

}  // namespace buildtrace::ui
