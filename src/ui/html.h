// The frame every dashboard page shares: the HTML5 document, the inline style sheet, the header
// with the product name, the breadcrumbs, the sign-out button and the footer. Pages render only
// what goes inside <main>.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "ui/pages.h"

namespace buildtrace::ui {

// One step of the breadcrumbs; an empty `href` marks the current page (aria-current="page").
// Both are plain text: the frame escapes them.
struct Breadcrumb {
  std::string label;
  std::string href;
};

// What goes into the frame. `main_html` and `script` are markup, inserted as they are; `title`
// and `main_attributes`' values are the caller's to escape except `title`, which is escaped here.
struct PageContent {
  std::string_view title;                   // the <title>, before " · BuildTrace"
  std::span<const Breadcrumb> breadcrumbs;  // empty: none shown
  std::string_view main_attributes;         // e.g. ` id="error" data-status="404"`
  std::string_view main_html;
  std::string_view script;  // the body of one inline <script>; empty: no script element
};

std::string RenderDocument(const PageFrame& frame, const PageContent& content);

// `text` escaped for HTML text and attribute values (the overlay's XML escaping, which is the
// same set of characters), cut to `max_bytes` with "…".
std::string Html(std::string_view text, size_t max_bytes = std::string_view::npos);

// The dashboard's own paths, their variable parts percent-encoded.
std::string ProjectPath(std::string_view project);
std::string JobPath(std::string_view project, int64_t job_id);

}  // namespace buildtrace::ui
