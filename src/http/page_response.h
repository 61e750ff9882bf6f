// The answers of the dashboard's pages: an HTML page with the headers every page carries, and the
// 303 that sends a browser on. One place for the handlers (api_ui.cc) and for the access check
// that refuses a page (api.cc).
#pragma once

#include <string>

#include "http/error_response.h"
#include "http/server.h"

namespace buildtrace {

// `page` with `status`: never cached, and a Content-Security-Policy under which it loads nothing
// from elsewhere and runs only its own inline script.
inline HttpResponse HtmlPage(unsigned status, std::string page) {
  HttpResponse res = MakeResponse(status, std::move(page), "text/html; charset=utf-8");
  res.set("Content-Security-Policy",
          "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
          "script-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; "
          "base-uri 'none'");
  res.set(boost::beast::http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  return res;
}

// 303 See Other to `location`, never cached.
inline HttpResponse SeeOther(std::string location) {
  HttpResponse res = MakeResponse(303, "", "text/plain");
  res.set(boost::beast::http::field::location, std::move(location));
  res.set(boost::beast::http::field::cache_control, "no-store");
  return res;
}

}  // namespace buildtrace
