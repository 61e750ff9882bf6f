// HandleAs: one request, built by hand (no sockets), through Api::Handle, with a bearer token when
// one is given, for the tests of the API's routes and access control. HandleOwned: Api::Handle
// with the answer's body as a string of its own, whether or not the answer shared kept bytes
// (http/response_body.h), so that a test reads body() as it reads any string.
#pragma once

#include <string>
#include <string_view>

#include "http/api.h"

namespace buildtrace {

inline HttpResponse HandleOwned(Api& api, HttpRequest& request) {
  HttpResponse res = api.Handle(request);
  res.body().Own();
  return res;
}

// `token` empty: no Authorization header. A body is sent as application/json.
inline HttpResponse HandleAs(Api& api, std::string_view token, boost::beast::http::verb method,
                             std::string_view target, std::string body = "") {
  namespace http = boost::beast::http;
  HttpRequest request{method, target, 11};
  if (!token.empty()) request.set(http::field::authorization, "Bearer " + std::string(token));
  if (!body.empty()) request.set(http::field::content_type, "application/json");
  request.body() = std::move(body);
  request.prepare_payload();
  return HandleOwned(api, request);
}

}  // namespace buildtrace
