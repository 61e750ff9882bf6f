// The shared frame. The style sheet is inline and small: nothing is loaded from elsewhere, so
// the pages work offline, behind strict proxies and under a `default-src 'self'` policy.
#include "ui/html.h"

#include "core/markup.h"

namespace buildtrace::ui {
namespace {

// Readable defaults, a layout that narrows to a phone, visible focus outlines (never removed),
// and the colours of the charts' Okabe-Ito palette for the few accents.
constexpr std::string_view kStyle = R"css(
:root{--fg:#1d1d1f;--muted:#5f6368;--line:#d9d9de;--accent:#0072b2;--bg:#fff;--panel:#f6f7f9}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header,footer,nav.crumbs,main{padding:0 1rem;max-width:72rem;margin:0 auto}
header{display:flex;align-items:center;justify-content:space-between;gap:1rem;padding-top:.75rem;padding-bottom:.75rem;border-bottom:1px solid var(--line);max-width:none}
header a.product{font-weight:700;font-size:1.15rem;color:var(--fg);text-decoration:none}
header form{margin:0}
nav.crumbs ol{list-style:none;display:flex;flex-wrap:wrap;gap:.25rem;padding:0;margin:.75rem 0;color:var(--muted)}
nav.crumbs li+li::before{content:"/";margin-right:.25rem}
a{color:var(--accent)}
:focus-visible{outline:3px solid #e69f00;outline-offset:2px}
h1{font-size:1.5rem;margin:.5rem 0 1rem}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid var(--line);vertical-align:middle}
th{font-weight:600;color:var(--muted)}
.table-wrap{overflow-x:auto}
.num{text-align:right}
.status-failed,.error{color:#b34700;font-weight:600}
.note{background:var(--panel);border-left:4px solid #e69f00;padding:.5rem .75rem}
button,select,input{font:inherit;padding:.3rem .6rem;border:1px solid #8c8c94;border-radius:4px;background:#fff;color:var(--fg)}
button{cursor:pointer;background:var(--panel)}
.chart{width:100%;max-width:800px;height:auto;display:block}
.sparkline{width:120px;height:24px;vertical-align:middle}
.toolbar{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.5rem 0}
#overlay-view{border:1px solid var(--line);overflow:hidden;max-width:100%}
#overlay-view svg{display:block;max-width:100%;height:auto;touch-action:none;cursor:grab}
.job-layout{display:grid;grid-template-columns:minmax(0,3fr) minmax(14rem,1fr);gap:1rem}
#object-details{background:var(--panel);padding:.5rem .75rem;border-radius:4px;overflow-wrap:anywhere}
ul.ids{padding-left:1.25rem;overflow-wrap:anywhere}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}
footer{color:var(--muted);border-top:1px solid var(--line);margin-top:2rem;padding-top:.75rem;padding-bottom:1rem}
@media (max-width:48rem){.job-layout{grid-template-columns:1fr}th,td{padding:.3rem}}
)css";

void AppendBreadcrumbs(std::string& out, std::span<const Breadcrumb> crumbs) {
  if (crumbs.empty()) return;
  out += "<nav class=\"crumbs\" aria-label=\"Breadcrumb\"><ol>";
  for (const Breadcrumb& c : crumbs) {
    if (c.href.empty()) {
      out += "<li><span aria-current=\"page\">" + Html(c.label) + "</span></li>";
    } else {
      out += "<li><a href=\"" + Html(c.href) + "\">" + Html(c.label) + "</a></li>";
    }
  }
  out += "</ol></nav>\n";
}

}  // namespace

std::string Html(std::string_view text, size_t max_bytes) { return XmlEscape(text, max_bytes); }

std::string ProjectPath(std::string_view project) { return "/ui/projects/" + UrlEncode(project); }

std::string JobPath(std::string_view project, int64_t job_id) {
  return ProjectPath(project) + "/jobs/" + std::to_string(job_id);
}

std::string RenderDocument(const PageFrame& frame, const PageContent& content) {
  std::string out =
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  out += Html(content.title);
  out +=
      " \u00b7 BuildTrace</title>\n"
      "<link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\">\n<style>";
  out += kStyle;
  out += "</style>\n</head>\n<body>\n<header><a class=\"product\" href=\"/\">BuildTrace</a>";
  if (frame.access_control && frame.signed_in) {
    out +=
        "<form method=\"post\" action=\"/ui/signout\"><button type=\"submit\">Sign out</button>"
        "</form>";
  }
  out += "</header>\n";
  AppendBreadcrumbs(out, content.breadcrumbs);
  out += "<main";
  out += content.main_attributes;
  out += ">\n";
  out += content.main_html;
  out += "</main>\n<footer>BuildTrace " + Html(frame.version) + "</footer>\n";
  if (!content.script.empty()) {
    out += "<script>";
    out += content.script;
    out += "</script>\n";
  }
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace buildtrace::ui
