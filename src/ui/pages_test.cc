// The dashboard pages: complete documents, the DOM contract of pages.h, escaping of every piece
// of user text, no external resources, list caps and degenerate inputs.
#include "ui/pages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <string>
#include <vector>

namespace buildtrace::ui {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const std::string kScript = "<script>alert(1)</script>";
const std::string kBreakout = "\"><img src=x onerror=alert(1)>";
const std::string kEvil = kScript + kBreakout;

size_t Count(const std::string& text, std::string_view needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// Whether an element of `html` has an attribute that makes the browser fetch something. All the
// pages' attributes are double-quoted, so a quoted value is skipped whole: an escaped "&lt;img
// src=x" in text or in a value is not an element.
bool LoadsSomething(const std::string& html) {
  static const std::regex kLoad(
      "<[a-zA-Z]+(\\s+[a-zA-Z-]+(=\"[^\"]*\")?)*\\s+(src|srcset|data|background)=");
  return std::regex_search(html, kLoad);
}

// A complete HTML5 document with the shared frame, loading nothing from elsewhere: the only
// "http" in it is the SVG namespace name, which is not fetched.
void ExpectDocument(const std::string& html, const PageFrame& frame) {
  EXPECT_THAT(html, StartsWith("<!doctype html>\n<html lang=\"en\">"));
  EXPECT_THAT(html, HasSubstr("<meta charset=\"utf-8\">"));
  EXPECT_THAT(html, HasSubstr("<meta name=\"viewport\""));
  EXPECT_THAT(html, HasSubstr("<title>"));
  EXPECT_THAT(html, HasSubstr("<link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\">"));
  EXPECT_THAT(html, HasSubstr("<style>"));
  EXPECT_THAT(html, HasSubstr("<a class=\"product\" href=\"/\">BuildTrace</a>"));
  EXPECT_THAT(html, HasSubstr("<main"));
  EXPECT_THAT(html, HasSubstr("<footer>BuildTrace " + frame.version + "</footer>"));
  EXPECT_THAT(html, HasSubstr("</html>\n"));
  for (size_t at = html.find("http"); at != std::string::npos; at = html.find("http", at + 1)) {
    EXPECT_EQ(html.substr(at - 7, 34), "xmlns=\"http://www.w3.org/2000/svg\"")
        << html.substr(at - 40, 80);
  }
  EXPECT_FALSE(LoadsSomething(html));
  for (const char* load : {"@import", "url(http", "url(//", "href=\"//"}) {
    EXPECT_EQ(html.find(load), std::string::npos) << load;
  }
  const bool sign_out = frame.access_control && frame.signed_in;
  EXPECT_EQ(Count(html, "<form method=\"post\" action=\"/ui/signout\">"), sign_out ? 1u : 0u);
}

// The evil strings never appear as markup, only escaped.
void ExpectEscaped(const std::string& html) {
  EXPECT_THAT(html, Not(HasSubstr("<script>alert")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, Not(HasSubstr("onerror=alert(1)>")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

PageFrame Frame() { return {.access_control = false, .signed_in = false, .version = "0.1.0"}; }

JobRow Row(int64_t id, double latency, std::optional<DiffCounts> counts) {
  JobRow r;
  r.job_id = id;
  r.timestamp = "2026-12-06T0" + std::to_string(id % 10) + ":00:00Z";
  r.latency_ms = latency;
  r.analysis = counts ? "analysed" : "pending";
  r.counts = counts;
  if (counts) r.base_job_id = id - 1;
  return r;
}

TEST(LoadsSomethingTest, FindsElementsThatLoadAndOnlyThem) {
  EXPECT_TRUE(LoadsSomething("<p><img alt=\"a\" src=\"x.png\"></p>"));
  EXPECT_TRUE(LoadsSomething("<script defer src=\"/a.js\"></script>"));
  EXPECT_FALSE(LoadsSomething("<p>&lt;img src=x onerror=alert(1)&gt;</p>"));
  EXPECT_FALSE(LoadsSomething("<tr data-project=\"&quot;&gt;&lt;img src=x\">"));
}

TEST(UrlEncodeTest, KeepsUnreservedAndEncodesTheRest) {
  EXPECT_EQ(UrlEncode("Az09-._~"), "Az09-._~");
  EXPECT_EQ(UrlEncode("a b/c?d=e&f#\xC3\xA9%"), "a%20b%2Fc%3Fd%3De%26f%23%C3%A9%25");
  EXPECT_EQ(UrlEncode(""), "");
}

TEST(FaviconTest, IsASmallSvgDocument) {
  const std::string_view svg = FaviconSvg();
  EXPECT_THAT(std::string(svg), StartsWith("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_THAT(std::string(svg), HasSubstr("viewBox=\"0 0 32 32\""));
  EXPECT_LT(svg.size(), 1000u);
}

TEST(ProjectsPageTest, NoProjects) {
  const std::string html = RenderProjectsPage(Frame(), {});
  ExpectDocument(html, Frame());
  EXPECT_THAT(html, HasSubstr("<p id=\"no-projects\">"));
  EXPECT_THAT(html, Not(HasSubstr("<table id=\"projects\"")));
  EXPECT_THAT(html, HasSubstr("aria-label=\"Breadcrumb\""));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
}

TEST(ProjectsPageTest, RowsLinksAndSparklines) {
  std::vector<ProjectRow> rows(2);
  rows[0].project = "web app";
  rows[0].jobs = 3;
  rows[0].latest = Row(3, 12, DiffCounts{});
  rows[0].recent_latencies_ms = {10, NAN, 12};
  rows[1].project = kEvil;
  const std::string html = RenderProjectsPage(Frame(), rows);
  ExpectDocument(html, Frame());
  EXPECT_THAT(html, HasSubstr("<table id=\"projects\">"));
  EXPECT_THAT(html, HasSubstr("<tr data-project=\"web app\"><td><a href=\"/ui/projects/web%20app\">"
                              "web app</a></td><td class=\"num\">3</td>"));
  EXPECT_THAT(html, HasSubstr("<a href=\"/ui/projects/web%20app/jobs/3\">job 3</a>"));
  EXPECT_EQ(Count(html, "<svg class=\"sparkline\""), 2u);
  EXPECT_EQ(Count(html, "<circle"), 2u);  // the NaN one is not drawn; the second has none
  EXPECT_THAT(html, HasSubstr("href=\"/ui/projects/%3Cscript%3Ealert%281%29%3C%2Fscript%3E%22%3E"));
  EXPECT_THAT(html, HasSubstr("<td>none</td>"));
  ExpectEscaped(html);
}

TEST(ProjectsPageTest, SignOutButtonOnlyWhenSignedInUnderAccessControl) {
  for (const auto& [access, signed_in] : {std::pair{false, false}, std::pair{true, false},
                                          std::pair{true, true}, std::pair{false, true}}) {
    const PageFrame frame{.access_control = access, .signed_in = signed_in, .version = "9.9"};
    ExpectDocument(RenderProjectsPage(frame, {}), frame);
  }
}

ProjectPage SampleProjectPage() {
  ProjectPage page;
  page.project = "proj";
  page.window = "30d";
  page.jobs = {Row(42, 1500, DiffCounts{.added = 1, .removed = 2, .moved = 3}),
               Row(41, 900, std::nullopt)};
  page.jobs[1].succeeded = false;
  page.next_before = 41;
  page.charted = {Row(40, 100, DiffCounts{.added = 4}), Row(41, 50, std::nullopt),
                  Row(42, 80, DiffCounts{.removed = 2, .changed = 2})};
  page.charted[1].succeeded = false;
  page.window_count = 2;
  page.p50 = 50;
  page.p95 = 80;
  page.p99 = 100;
  return page;
}

TEST(ProjectPageTest, ContractElements) {
  const std::string html = RenderProjectPage(Frame(), SampleProjectPage());
  ExpectDocument(html, Frame());
  EXPECT_THAT(html, HasSubstr("<form id=\"window-filter\" method=\"get\""));
  EXPECT_THAT(html, HasSubstr("<select id=\"window\" name=\"window\">"));
  EXPECT_EQ(Count(html, "<option"), 5u);
  EXPECT_EQ(Count(html, " selected>"), 1u);
  EXPECT_THAT(html, HasSubstr("<option value=\"30d\" selected>"));
  EXPECT_THAT(html, HasSubstr("<button type=\"submit\">"));
  EXPECT_THAT(html, HasSubstr("<svg id=\"changes-chart\""));
  EXPECT_THAT(html, HasSubstr("<svg id=\"latency-chart\""));
  EXPECT_EQ(Count(html, "<g class=\"bar\" data-job-id="), 3u);
  EXPECT_EQ(Count(html, "<circle class=\"job"), 3u);  // one per charted job, failed ones too
  EXPECT_THAT(html, HasSubstr("<circle class=\"job failed\" data-job-id=\"41\""));
  for (const char* q : {"p50", "p95", "p99"}) {
    EXPECT_EQ(Count(html, std::string("<line class=\"") + q + "\""), 1u) << q;
  }
  EXPECT_THAT(html, HasSubstr("<table id=\"jobs\""));
  EXPECT_EQ(Count(html, "<tr data-job-id="), 2u);
  EXPECT_THAT(html, HasSubstr("<tr data-job-id=\"42\"><td><a href=\"/ui/projects/proj/jobs/42\">"
                              "job 42</a></td>"));
  EXPECT_THAT(html, HasSubstr("<td class=\"num\">1.5 s</td><td class=\"num\">1</td>"
                              "<td class=\"num\">2</td><td class=\"num\">3</td>"
                              "<td><a href=\"/ui/projects/proj/jobs/41\">job 41</a></td>"));
  EXPECT_THAT(html, HasSubstr("<td class=\"status-failed\">failed</td>"));
  EXPECT_THAT(html, HasSubstr("<a id=\"older\" href=\"?window=30d&amp;before=41\">"));
  EXPECT_THAT(html, Not(HasSubstr("id=\"newest\"")));
  EXPECT_THAT(html, Not(HasSubstr("id=\"warehouse-error\"")));
  EXPECT_THAT(html, Not(HasSubstr("id=\"charted-capped\"")));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
}

TEST(ProjectPageTest, NotesPagingAndEscaping) {
  ProjectPage page = SampleProjectPage();
  page.project = kEvil;
  page.window = "7d";
  page.before = 50;
  page.next_before.reset();
  page.charted_capped = true;
  page.warehouse_error = "timeout " + kEvil;
  page.p50 = page.p95 = page.p99 = std::nullopt;
  page.charted[0].latency_ms = NAN;
  const std::string html = RenderProjectPage(Frame(), page);
  ExpectDocument(html, Frame());
  ExpectEscaped(html);
  EXPECT_THAT(html, HasSubstr("<a id=\"newest\" href=\"?window=7d\">"));
  EXPECT_THAT(html, Not(HasSubstr("id=\"older\"")));
  EXPECT_THAT(html, HasSubstr("id=\"warehouse-error\""));
  EXPECT_THAT(html, HasSubstr("id=\"charted-capped\""));
  EXPECT_THAT(html, HasSubstr("<option value=\"7d\" selected>"));
  EXPECT_EQ(Count(html, "<line class=\"p"), 0u);
  EXPECT_THAT(html, HasSubstr("p50 <span data-quantile=\"p50\">n/a</span>"));
  EXPECT_THAT(html, Not(HasSubstr("nan")));
  EXPECT_THAT(html, HasSubstr("/ui/projects/%3Cscript%3E"));
}

TEST(ProjectPageTest, EmptyWindow) {
  ProjectPage page;
  page.project = "p";
  page.window = "24h";
  const std::string html = RenderProjectPage(Frame(), page);
  ExpectDocument(html, Frame());
  EXPECT_THAT(html, HasSubstr("<p id=\"no-jobs\">"));
  EXPECT_EQ(Count(html, "<tr data-job-id="), 0u);
  EXPECT_EQ(Count(html, "No jobs to chart"), 2u);
}

Report SampleReport() {
  Report r;
  r.job.job_id = 7;
  r.job.project = "proj";
  r.job.timestamp = "2026-12-06T02:00:00Z";
  r.job.latency_ms = 250;
  r.object_count = 120;
  r.base.base_job_id = 6;
  r.diff.counts = {.added = 3, .removed = 1, .unchanged = 100, .moved = 2, .changed = 1};
  r.diff.added = {"a1", kEvil};  // listed 2 of 3
  r.diff.added_at = {Placement{"rect", 1, 2}, std::nullopt};
  r.diff.removed = {"r1"};
  r.diff.modified = {{"m1", ChangeKind::kMoved, "rect_0_0_1_1", "rect_5_5_1_1"},
                     {"c1", ChangeKind::kChanged, std::string(1000, 'x'), kEvil}};
  r.diff.truncated = true;
  return r;
}

JobPage SamplePage(const Report& r) {
  JobPage page;
  page.project = r.job.project;
  page.report = &r;
  page.overlay_svg =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 800 670\"><g class=\"bt-added "
      "mark\" tabindex=\"0\" data-id=\"a1\"></g></svg>";
  page.prev_job_id = 6;
  page.next_job_id = 8;
  page.svg_url = "/report/7.svg?project=proj";
  page.json_url = "/report/7?project=proj";
  return page;
}

TEST(JobPageTest, ContractElements) {
  const Report r = SampleReport();
  const JobPage page = SamplePage(r);
  const std::string html = RenderJobPage(Frame(), page);
  ExpectDocument(html, Frame());
  EXPECT_THAT(html, HasSubstr("<section id=\"summary\""));
  for (const auto& [kind, n] :
       {std::pair{"added", 3}, std::pair{"removed", 1}, std::pair{"moved", 2},
        std::pair{"resized", 0}, std::pair{"retyped", 0}, std::pair{"changed", 1},
        std::pair{"unchanged", 100}}) {
    EXPECT_THAT(html, HasSubstr(std::string("<span data-count=\"") + kind + "\">" +
                                std::to_string(n) + "</span>"));
  }
  EXPECT_THAT(html, HasSubstr("<p id=\"why-base\">Compared with <a href=\"/ui/projects/proj/jobs/"
                              "6\">job 6</a>, the previous job.</p>"));
  EXPECT_THAT(html, HasSubstr("<a id=\"prev\" rel=\"prev\" href=\"/ui/projects/proj/jobs/6\">"));
  EXPECT_THAT(html, HasSubstr("<a id=\"next\" rel=\"next\" href=\"/ui/projects/proj/jobs/8\">"));
  EXPECT_THAT(html, HasSubstr("<label for=\"filter\">"));
  EXPECT_THAT(html, HasSubstr("<input id=\"filter\" type=\"search\""));
  EXPECT_THAT(html, HasSubstr("<span id=\"filter-count\""));
  for (const char* id : {"zoom-in", "zoom-out", "zoom-reset"}) {
    EXPECT_THAT(html, HasSubstr(std::string("<button type=\"button\" id=\"") + id + "\""));
  }
  EXPECT_THAT(html,
              HasSubstr("<div id=\"overlay-view\">\n" + std::string(page.overlay_svg) + "</div>"));
  EXPECT_THAT(html, HasSubstr("<div id=\"object-details\" aria-live=\"polite\">"));
  EXPECT_THAT(html, HasSubstr("href=\"/report/7.svg?project=proj\""));
  EXPECT_THAT(html, HasSubstr("href=\"/report/7?project=proj\""));
  EXPECT_EQ(Count(html, "<section class=\"changes\""), 4u);  // no resized, no retyped
  for (const char* kind : {"added", "removed", "moved", "changed"}) {
    EXPECT_THAT(html, HasSubstr(std::string("<section class=\"changes\" data-kind=\"") + kind));
  }
  EXPECT_EQ(Count(html, "<li data-id="), 5u);
  EXPECT_EQ(Count(html, "<p class=\"more\">"), 2u);  // 3 added listing 2, 2 moved listing 1
  EXPECT_THAT(html, HasSubstr("<p class=\"more\">1 more not listed.</p>"));
  EXPECT_THAT(html, HasSubstr("<li data-id=\"a1\"><code>a1</code>: rect at 1, 2</li>"));
  EXPECT_THAT(html, HasSubstr("<li data-id=\"m1\"><code>m1</code>: <span class=\"before\">"
                              "rect_0_0_1_1</span> \u2192 <span class=\"after\">rect_5_5_1_1"));
  // Long values are cut to 200 bytes.
  EXPECT_THAT(html, HasSubstr(std::string(200, 'x') + "\u2026</span>"));
  EXPECT_THAT(html, Not(HasSubstr(std::string(201, 'x'))));
}

TEST(JobPageTest, OneScriptWithoutDataOrInnerHtml) {
  const Report r = SampleReport();
  JobPage page = SamplePage(r);
  page.project = kEvil;
  const std::string html = RenderJobPage(Frame(), page);
  ExpectEscaped(html);
  EXPECT_EQ(Count(html, "<script"), 1u);
  EXPECT_EQ(Count(html, "</script"), 1u);  // user text never closes it
  const size_t open = html.find("<script>"), close = html.find("</script>");
  ASSERT_LT(open, close);
  const std::string script = html.substr(open, close - open);
  EXPECT_THAT(script, Not(HasSubstr("innerHTML")));
  EXPECT_THAT(script, Not(HasSubstr("alert")));
  EXPECT_THAT(script, HasSubstr("textContent"));
  EXPECT_LT(Count(script, "\n"), 150u);
  EXPECT_THAT(html, HasSubstr("href=\"/ui/projects/%3Cscript%3E"));
}

TEST(JobPageTest, WhyBaseCases) {
  Report r = SampleReport();
  r.base = {};
  EXPECT_THAT(RenderJobPage(Frame(), SamplePage(r)),
              HasSubstr("<p id=\"why-base\">No base: this is the project's first successful "
                        "job, so everything counts as added.</p>"));
  r.base = ExplicitBase(3);
  EXPECT_THAT(RenderJobPage(Frame(), SamplePage(r)),
              HasSubstr("jobs/3\">job 3</a>, named as the base by the request.</p>"));
  r.base = {.base_job_id = 3, .skipped_failed = {6, 5}, .missing_ids = 1};
  EXPECT_THAT(RenderJobPage(Frame(), SamplePage(r)),
              HasSubstr("jobs/3\">job 3</a>, the latest earlier job that succeeded. Failed jobs "
                        "skipped: <a href=\"/ui/projects/proj/jobs/6\">job 6</a>, <a href=\"/ui/"
                        "projects/proj/jobs/5\">job 5</a>. 1 job ID in between was never "
                        "posted.</p>"));
  r.base = {.skipped_failed = {6}, .skipped_failed_capped = true};
  EXPECT_THAT(RenderJobPage(Frame(), SamplePage(r)),
              HasSubstr("counts as added. More than 1 failed jobs were skipped, the newest being "
                        "<a href=\"/ui/projects/proj/jobs/6\">job 6</a>.</p>"));
}

TEST(JobPageTest, NoChangesNoNeighboursNoReport) {
  Report r;
  r.job.job_id = 1;
  r.job.project = "p";
  JobPage page;
  page.project = "p";
  page.report = &r;
  std::string html = RenderJobPage(Frame(), page);
  ExpectDocument(html, Frame());
  EXPECT_EQ(Count(html, "<section class=\"changes\""), 0u);
  EXPECT_THAT(html, Not(HasSubstr("id=\"prev\"")));
  EXPECT_THAT(html, Not(HasSubstr("id=\"next\"")));
  EXPECT_THAT(html, HasSubstr("<span data-count=\"added\">0</span>"));
  page.report = nullptr;
  html = RenderJobPage(Frame(), page);
  ExpectDocument(html, Frame());
  EXPECT_THAT(html, HasSubstr("There is no report for this job."));
}

TEST(JobPageTest, ListedButCutListsSayHowManyMore) {
  Report r = SampleReport();
  r.diff.counts.removed = 1000;
  r.diff.counts.moved = 5;
  const std::string html = RenderJobPage(Frame(), SamplePage(r));
  EXPECT_THAT(html, HasSubstr("<p class=\"more\">999 more not listed.</p>"));
  EXPECT_THAT(html, HasSubstr("<p class=\"more\">4 more not listed.</p>"));
}

TEST(SignInPageTest, FormErrorAndEscaping) {
  const PageFrame frame{.access_control = true, .signed_in = false, .version = "1"};
  std::string html = RenderSignInPage(frame, "/ui/projects/p", "");
  ExpectDocument(html, frame);
  EXPECT_THAT(html, HasSubstr("<form id=\"signin\" method=\"post\" action=\"/ui/signin\">"));
  EXPECT_THAT(html, HasSubstr("<label for=\"token\">"));
  EXPECT_THAT(html, HasSubstr("<input id=\"token\" name=\"token\" type=\"password\" "
                              "autocomplete=\"current-password\""));
  EXPECT_THAT(html, HasSubstr("<input type=\"hidden\" name=\"next\" value=\"/ui/projects/p\">"));
  EXPECT_THAT(html, Not(HasSubstr("signin-error")));
  html = RenderSignInPage(frame, kEvil, "Wrong token " + kEvil);
  ExpectDocument(html, frame);
  ExpectEscaped(html);
  EXPECT_THAT(html,
              HasSubstr("<p id=\"signin-error\" class=\"error\" role=\"alert\">Wrong token "));
}

TEST(ErrorPageTest, StatusTitleMessageAndHomeLink) {
  const std::string html = RenderErrorPage(Frame(), 404, "Not found", "No job " + kEvil);
  ExpectDocument(html, Frame());
  ExpectEscaped(html);
  EXPECT_THAT(html, HasSubstr("<main id=\"error\" data-status=\"404\">"));
  EXPECT_THAT(html, HasSubstr("<h1>404 Not found</h1>"));
  EXPECT_THAT(html, HasSubstr("<title>404 Not found \u00b7 BuildTrace</title>"));
  EXPECT_THAT(html, HasSubstr("<a href=\"/\">Back to the projects</a>"));
}

}  // namespace
}  // namespace buildtrace::ui
