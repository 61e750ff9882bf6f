// Status to HTTP mapping.
#include "http/error_response.h"

#include <string_view>

#include "core/json_writer.h"
#include "http/content_encoding.h"

namespace buildtrace {
namespace {

namespace http = boost::beast::http;

const char* DefaultCode(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
      return "invalid_request";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kAlreadyExists:
    case StatusCode::kConflict:
      return "conflict";
    case StatusCode::kTooLarge:
      return "too_large";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kOk:
    case StatusCode::kInternal:
      return "internal";
  }
  return "internal";
}

void WriteError(JsonWriter& w, std::string_view code, std::string_view message,
                const std::vector<StatusDetail>& details) {
  w.BeginObject();
  w.Key("code").String(code);
  w.Key("message").String(message);
  if (!details.empty()) {
    w.Key("details").BeginArray();
    for (const StatusDetail& d : details) {
      w.BeginObject();
      if (d.index) w.Key("index").Int(*d.index);
      w.Key("field").String(d.field);
      w.Key("message").String(d.message);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
}

}  // namespace

unsigned HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kTooLarge:
      return 413;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

unsigned HttpStatusFor(const Status& status) {
  if (status.code() == StatusCode::kInvalidArgument && status.reason() == "unsupported_encoding") {
    return 415;
  }
  return HttpStatusFor(status.code());
}

std::string ErrorObjectJson(const Status& status) {
  std::string body;
  JsonWriter w(body);
  WriteError(w, status.reason().empty() ? DefaultCode(status.code()) : status.reason(),
             status.message(), status.details());
  return body;
}

HttpResponse MakeResponse(unsigned http_status, std::string body, std::string_view content_type) {
  HttpResponse res{static_cast<http::status>(http_status), 11};
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  return res;
}

HttpResponse MakeResponse(unsigned http_status, SharedText body, std::string_view content_type) {
  HttpResponse res = MakeResponse(http_status, std::string(), content_type);
  res.body().Share(std::move(body));
  return res;
}

HttpResponse ErrorResponse(const Status& status) {
  const unsigned http_status = HttpStatusFor(status);
  HttpResponse res = MakeResponse(http_status, "{\"error\":" + ErrorObjectJson(status) + "}\n");
  if (status.code() == StatusCode::kUnavailable) res.set(http::field::retry_after, "5");
  // RFC 9110 section 12.5.3: a 415 for a content coding says which codings would do.
  if (http_status == 415) res.set(http::field::accept_encoding, kSupportedContentEncodings);
  return res;
}

HttpResponse ErrorResponse(unsigned http_status, std::string code, std::string message) {
  std::string body = "{\"error\":";
  JsonWriter w(body);
  WriteError(w, code, message, {});
  body.append("}\n");
  return MakeResponse(http_status, std::move(body));
}

}  // namespace buildtrace
