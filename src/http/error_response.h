// The one place where a Status becomes an HTTP status and a JSON error body:
// {"error": {"code": "...", "message": "...", "details": [{"index": 0, "field": "...",
// "message": "..."}]}}.
#pragma once

#include <string>

#include "core/status.h"
#include "http/server.h"

namespace buildtrace {

// 400, 404, 409, 413, 503 (with Retry-After) or 500.
unsigned HttpStatusFor(StatusCode code);

// As above, except for the few reasons that HTTP names more precisely than their code:
// "unsupported_encoding" (kInvalidArgument) is 415.
unsigned HttpStatusFor(const Status& status);

// The error object, without a trailing newline: {"code": ..., "message": ..., "details": [...]}.
std::string ErrorObjectJson(const Status& status);

// A complete answer for `status`, with HttpStatusFor(status). The JSON "code" is the status's
// reason, or a name derived from its code ("invalid_request", "not_found", "conflict",
// "too_large", "unavailable", "internal"). A 415 carries Accept-Encoding with the codings accepted.
HttpResponse ErrorResponse(const Status& status);

// An answer with an explicit HTTP status and code, for errors the server finds itself.
HttpResponse ErrorResponse(unsigned http_status, std::string code, std::string message);

// A 200-style answer with a body and content type.
HttpResponse MakeResponse(unsigned http_status, std::string body,
                          std::string_view content_type = "application/json");
// The same with bytes that other answers may be sending too: sent without a copy.
HttpResponse MakeResponse(unsigned http_status, SharedText body,
                          std::string_view content_type = "application/json");

}  // namespace buildtrace
