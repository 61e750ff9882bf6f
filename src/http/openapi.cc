// The OpenAPI document and the /docs page, from the route table.
#include "http/openapi.h"

#include <map>

#include "core/json_writer.h"
#include "core/markup.h"

namespace buildtrace {
namespace {

namespace http = boost::beast::http;

// The bodies the routes answer and take, as JSON Schema (draft 2020-12, the dialect of OpenAPI
// 3.1). Kept strict (additionalProperties false, required members): the tests validate every
// route's real answers against them, so a member added to an answer must be described here.
constexpr std::string_view kComponentSchemas = R"json({
"Error": {
  "type": "object", "required": ["error"], "additionalProperties": false,
  "properties": {"error": {"$ref": "#/components/schemas/ErrorObject"}}},
"ErrorObject": {
  "type": "object", "required": ["code", "message"], "additionalProperties": false,
  "properties": {
    "code": {"type": "string", "description": "A stable reason a program can test: invalid_request, invalid_job, malformed_json, not_found, conflict, unauthenticated, forbidden, method_not_allowed, payload_too_large, unavailable, ..."},
    "message": {"type": "string", "description": "What is wrong and what to do about it."},
    "details": {"type": "array", "items": {
      "type": "object", "required": ["field", "message"], "additionalProperties": false,
      "properties": {
        "index": {"type": "integer", "description": "The job's index in the request's array."},
        "field": {"type": "string"}, "message": {"type": "string"}}}}}},
"Job": {
  "type": "object", "required": ["job_id", "timestamp", "latency_ms", "state"],
  "additionalProperties": false,
  "properties": {
    "job_id": {"type": "integer", "minimum": 1},
    "project": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", "default": "default"},
    "timestamp": {"type": "string", "format": "date-time", "description": "RFC 3339 with an offset, e.g. 2026-11-28T10:00:00Z."},
    "latency_ms": {"type": "number", "minimum": 0, "description": "The build's own duration."},
    "status": {"enum": ["succeeded", "failed"], "default": "succeeded"},
    "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
    "state": {"type": "object", "description": "Object IDs to content hashes (\"door_10_20_5_5\") or to objects of attributes, hashed with SHA-256.", "additionalProperties": {"type": ["string", "object"]}}}},
"ProcessRequest": {
  "oneOf": [
    {"$ref": "#/components/schemas/Job"},
    {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Job"}}]},
"Accepted": {
  "type": "object", "required": ["project", "job_id", "digest", "created", "report_url"],
  "additionalProperties": false,
  "properties": {
    "project": {"type": "string"}, "job_id": {"type": "integer"},
    "digest": {"type": "string", "description": "sha256:<hex> of the stored bytes."},
    "created": {"type": "boolean", "description": "false: a replay of a stored job."},
    "report_url": {"type": "string"}}},
"ProcessAnswer": {
  "type": "object", "required": ["accepted"], "additionalProperties": false,
  "properties": {
    "status": {"const": "Jobs accepted and state stored. Ready for reporting."},
    "error": {"$ref": "#/components/schemas/ErrorObject"},
    "accepted": {"type": "array", "items": {"$ref": "#/components/schemas/Accepted"}}}},
"StoredJob": {
  "type": "object",
  "required": ["job_id", "project", "timestamp", "latency_ms", "status", "metadata", "state"],
  "additionalProperties": false,
  "properties": {
    "job_id": {"type": "integer"}, "project": {"type": "string"},
    "timestamp": {"type": "string", "format": "date-time"}, "latency_ms": {"type": "number"},
    "status": {"enum": ["succeeded", "failed"]},
    "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
    "state": {"type": "object", "additionalProperties": {"type": ["string", "object"]}}}},
"Modified": {
  "type": "object", "required": ["id", "kind", "before", "after", "sentence"],
  "additionalProperties": false,
  "properties": {
    "id": {"type": "string"}, "kind": {"enum": ["moved", "resized", "retyped", "changed"]},
    "before": {"type": "string"}, "after": {"type": "string"},
    "before_object": {"type": "object"}, "after_object": {"type": "object"},
    "dx": {"type": "number", "description": "+x is east."}, "dy": {"type": "number", "description": "+y is north."},
    "dw": {"type": "number"}, "dh": {"type": "number"},
    "from_type": {"type": "string"}, "to_type": {"type": "string"},
    "changed": {"type": "array", "items": {"type": "string"}, "description": "The attributes that changed, for structured objects."},
    "sentence": {"type": "string"}}},
"Report": {
  "type": "object",
  "required": ["project", "job_id", "base_job_id", "status", "objects", "metadata", "metrics", "changes", "limit", "lineage", "summary"],
  "additionalProperties": false,
  "properties": {
    "project": {"type": "string"}, "job_id": {"type": "integer"},
    "base_job_id": {"type": ["integer", "null"]},
    "status": {"enum": ["succeeded", "failed"]}, "objects": {"type": "integer"},
    "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
    "metrics": {
      "type": "object", "additionalProperties": false,
      "required": ["timestamp", "job_id", "latency_ms", "total_added", "total_removed", "total_modified", "total_unchanged", "total_moved", "total_resized", "total_retyped", "total_changed"],
      "properties": {
        "timestamp": {"type": "string"}, "job_id": {"type": "integer"}, "latency_ms": {"type": "number"},
        "total_added": {"type": "integer"}, "total_removed": {"type": "integer"},
        "total_modified": {"type": "integer"}, "total_unchanged": {"type": "integer"},
        "total_moved": {"type": "integer"}, "total_resized": {"type": "integer"},
        "total_retyped": {"type": "integer"}, "total_changed": {"type": "integer"}}},
    "changes": {
      "type": "object", "additionalProperties": false,
      "required": ["added", "added_objects", "removed", "modified", "truncated"],
      "properties": {
        "added": {"type": "array", "items": {"type": "string"}},
        "added_objects": {"type": "array", "items": {
          "type": "object", "required": ["id", "sentence"], "additionalProperties": false,
          "properties": {"id": {"type": "string"}, "type": {"type": "string"},
                         "x": {"type": "number"}, "y": {"type": "number"},
                         "sentence": {"type": "string"}}}},
        "removed": {"type": "array", "items": {"type": "string"}},
        "modified": {"type": "array", "items": {"$ref": "#/components/schemas/Modified"}},
        "truncated": {"type": "boolean", "description": "true: the lists stop at limit; the counts are whole."}}},
    "limit": {"type": "integer"},
    "lineage": {
      "type": "object", "additionalProperties": false,
      "required": ["explicit_base", "skipped_failed", "missing_ids", "explanation"],
      "properties": {
        "explicit_base": {"type": "boolean"},
        "skipped_failed": {"type": "array", "items": {"type": "integer"}},
        "skipped_failed_capped": {"type": "boolean"},
        "missing_ids": {"type": "integer"}, "explanation": {"type": "string"}}},
    "summary": {"type": "string"},
    "warehouse": {
      "type": "object", "additionalProperties": false, "required": ["status", "inserted", "message"],
      "properties": {"status": {"type": "string", "description": "recorded, pending, failed or not_recorded."},
                     "inserted": {"type": "boolean"}, "message": {"type": "string"}}}}},
"ClassicReport": {
  "description": "The original service's report (?format=classic).",
  "type": "object", "additionalProperties": false,
  "required": ["job_id", "added", "removed", "moved_or_modified", "summary", "metrics_status"],
  "properties": {
    "job_id": {"type": "integer"},
    "added": {"type": "array", "items": {"type": "string"}},
    "removed": {"type": "array", "items": {"type": "string"}},
    "moved_or_modified": {"type": "array", "items": {"type": "string"}},
    "summary": {"type": "string"}, "metrics_status": {"type": "string"}}},
"Projects": {
  "type": "object", "required": ["projects"], "additionalProperties": false,
  "properties": {"projects": {"type": "array", "items": {
    "type": "object", "required": ["project", "jobs", "latest_job_id"], "additionalProperties": false,
    "properties": {"project": {"type": "string"}, "jobs": {"type": "integer"},
                   "latest_job_id": {"type": "integer"}}}}}},
"Counts": {
  "type": "object", "additionalProperties": false,
  "required": ["added", "removed", "modified", "moved", "resized", "retyped", "changed", "unchanged"],
  "properties": {
    "added": {"type": "integer"}, "removed": {"type": "integer"}, "modified": {"type": "integer"},
    "moved": {"type": "integer"}, "resized": {"type": "integer"}, "retyped": {"type": "integer"},
    "changed": {"type": "integer"}, "unchanged": {"type": "integer"}}},
"ProjectJobs": {
  "type": "object", "required": ["project", "jobs", "next_before"], "additionalProperties": false,
  "properties": {
    "project": {"type": "string"},
    "jobs": {"type": "array", "items": {
      "type": "object", "additionalProperties": false,
      "required": ["job_id", "timestamp", "status", "latency_ms", "analysis", "base_job_id", "counts", "report_url"],
      "properties": {
        "job_id": {"type": "integer"}, "timestamp": {"type": "string"},
        "status": {"enum": ["succeeded", "failed"]}, "latency_ms": {"type": "number"},
        "analysis": {"enum": ["pending", "analysed", "dead_letter"]},
        "base_job_id": {"type": ["integer", "null"]},
        "counts": {"oneOf": [{"$ref": "#/components/schemas/Counts"}, {"type": "null"}]},
        "report_url": {"type": "string"}}}},
    "next_before": {"type": ["integer", "null"], "description": "Pass as ?before= for the next page; null on the last."}}},
"LatencyStats": {
  "type": "object", "additionalProperties": false,
  "required": ["project", "window", "status", "count", "quantiles", "unit"],
  "properties": {
    "project": {"type": ["string", "null"]}, "window": {"type": "string"},
    "status": {"enum": ["succeeded", "failed", "all"]}, "count": {"type": "integer"},
    "quantiles": {"type": "object", "additionalProperties": {"type": ["number", "null"]}},
    "unit": {"const": "ms"}}},
"Health": {
  "type": "object", "required": ["status"], "additionalProperties": false,
  "properties": {"status": {"const": "ok"}}},
"Backend": {
  "type": "object", "required": ["url", "status"], "additionalProperties": false,
  "properties": {"url": {"type": "string"}, "status": {"enum": ["ok", "unavailable"]},
                 "message": {"type": "string"}, "last_write_error": {"type": "string"}}},
"Ready": {
  "type": "object", "required": ["status"], "additionalProperties": false,
  "properties": {
    "status": {"enum": ["ready", "degraded", "unavailable"]},
    "store": {"$ref": "#/components/schemas/Backend"},
    "warehouse": {"$ref": "#/components/schemas/Backend"},
    "descriptors": {"type": "object", "required": ["open", "limit"], "additionalProperties": false,
                    "properties": {"open": {"type": "integer"}, "limit": {"type": "integer"}}},
    "connections": {"type": "object", "required": ["open", "idle", "max"], "additionalProperties": false,
                    "properties": {"open": {"type": "integer"}, "idle": {"type": "integer"}, "max": {"type": "integer"}}},
    "outbox": {"type": "object", "required": ["pending", "oldest_queued_at", "corrupt", "last_error"],
               "additionalProperties": false,
               "properties": {"pending": {"type": "integer"}, "oldest_queued_at": {"type": ["string", "null"]},
                              "corrupt": {"type": "integer"}, "last_error": {"type": "string"}}},
    "analysis": {"type": "object", "required": ["queue", "status", "depth", "dead_letters"],
                 "additionalProperties": false,
                 "properties": {"queue": {"type": "string"}, "status": {"enum": ["ok", "unavailable"]},
                                "message": {"type": "string"}, "depth": {"type": ["integer", "null"]},
                                "dead_letters": {"type": ["integer", "null"]},
                                "analysed": {"type": "integer"}, "failed_attempts": {"type": "integer"}}}}},
"DeletedProject": {
  "type": "object", "additionalProperties": false,
  "required": ["project", "deleted_jobs", "deleted_index_entries", "deleted_reports", "deleted_analysis_records", "deleted_dead_letters", "deleted_outbox_entries", "deleted_warehouse_rows"],
  "properties": {
    "project": {"type": "string"}, "deleted_jobs": {"type": "integer"},
    "deleted_index_entries": {"type": "integer"}, "deleted_reports": {"type": "integer"},
    "deleted_analysis_records": {"type": "integer"}, "deleted_dead_letters": {"type": "integer"},
    "deleted_outbox_entries": {"type": "integer"}, "deleted_warehouse_rows": {"type": "integer"}}},
"PushAnswer": {
  "type": "object", "required": ["status"], "additionalProperties": false,
  "properties": {"status": {"enum": ["analysed", "dropped"]},
                 "reason": {"type": "string", "description": "Why a push that is not an analysis task was dropped (acknowledged)."}}}
})json";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "getProjectsJobs": the method and the path's literal segments, for operationId.
std::string OperationId(const Route& route) {
  std::string out = Lower(http::to_string(route.method));
  bool upper = true;
  bool placeholder = false;
  for (char c : route.path) {
    if (c == '{' || c == '}') {
      placeholder = c == '{';
      continue;
    }
    if (placeholder) continue;
    if (c == '/' || c == '.' || c == '_') {
      upper = true;
      continue;
    }
    out.push_back(upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    upper = false;
  }
  return out;
}

void WriteOperation(JsonWriter& w, const Route& route) {
  w.Key(Lower(http::to_string(route.method))).BeginObject();
  w.Key("operationId").String(OperationId(route));
  w.Key("summary").String(route.summary);
  if (!route.description.empty()) w.Key("description").String(route.description);
  w.Key("security").BeginArray();
  if (route.scope) w.BeginObject().Key("bearer").BeginArray().EndArray().EndObject();
  w.EndArray();
  w.Key("x-buildtrace-scope");
  route.scope ? w.String(AccessScopeName(*route.scope)) : w.Null();
  if (!route.params.empty()) {
    w.Key("parameters").BeginArray();
    for (const RouteParam& p : route.params) {
      w.BeginObject();
      w.Key("name").String(p.name);
      w.Key("in").String(p.in_path ? "path" : "query");
      w.Key("required").Bool(p.in_path || p.required);
      w.Key("description").String(p.description);
      w.Key("schema").Raw(p.schema);
      w.EndObject();
    }
    w.EndArray();
  }
  if (!route.body_schema.empty()) {
    w.Key("requestBody").BeginObject().Key("required").Bool(true);
    w.Key("content").BeginObject();
    w.Key("application/json").BeginObject().Key("schema").Raw(route.body_schema).EndObject();
    w.EndObject().EndObject();
  }
  // The answers, grouped by status (one status may have several media types).
  std::map<int, std::vector<const RouteAnswer*>> by_status;
  const std::vector<RouteAnswer> answers = DocumentedAnswers(route);
  for (const RouteAnswer& a : answers) by_status[a.status].push_back(&a);
  w.Key("responses").BeginObject();
  for (const auto& [status, group] : by_status) {
    w.Key(std::to_string(status)).BeginObject();
    std::string description;
    for (const RouteAnswer* a : group) {
      if (!description.empty() && !a->description.empty()) description += " ";
      description += a->description;
    }
    w.Key("description").String(description);
    w.Key("content").BeginObject();
    for (const RouteAnswer* a : group) {
      if (a->media.empty()) continue;
      w.Key(a->media).BeginObject().Key("schema").Raw(a->schema).EndObject();
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
}

// "report-job_id-get": an HTML id for a route's section.
std::string Anchor(const Route& route) {
  std::string out = Lower(http::to_string(route.method));
  for (char c : route.path) {
    if (std::isalnum(static_cast<unsigned char>(c))) out.push_back(c);
    if (c == '/') out.push_back('-');
  }
  return out;
}

// The curl command that calls a route's example.
std::string CurlExample(const Route& route) {
  std::string out = "curl";
  if (route.method != http::verb::get) {
    out += " -X " + std::string(http::to_string(route.method));
  }
  if (route.scope) out += " -H \"Authorization: Bearer $BUILDTRACE_TOKEN\"";
  if (!route.body_schema.empty()) {
    out += " -H 'Content-Type: application/json' --data-binary @job.json";
  }
  out += " \"http://127.0.0.1:8080" + std::string(route.example) + "\"";
  return out;
}

}  // namespace

std::string OpenApiDocument(std::span<const Route> routes, std::string_view version) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("openapi").String("3.1.0");
  w.Key("info").BeginObject();
  w.Key("title").String("BuildTrace");
  w.Key("version").String(version);
  w.Key("description")
      .String(
          "What changed between one build job and the one before it, and the numbers to watch "
          "builds over months. Every route of the running service is listed here, generated from "
          "its route table.");
  w.EndObject();
  // The paths in table order; the methods of one path together.
  std::vector<std::string_view> paths;
  for (const Route& route : routes) {
    if (std::find(paths.begin(), paths.end(), route.path) == paths.end()) {
      paths.push_back(route.path);
    }
  }
  w.Key("paths").BeginObject();
  for (std::string_view path : paths) {
    w.Key(path).BeginObject();
    for (const Route& route : routes) {
      if (route.path == path) WriteOperation(w, route);
    }
    w.EndObject();
  }
  w.EndObject();
  w.Key("components").BeginObject();
  w.Key("schemas").Raw(kComponentSchemas);
  w.Key("securitySchemes").BeginObject();
  w.Key("bearer").BeginObject();
  w.Key("type").String("http").Key("scheme").String("bearer");
  w.Key("description")
      .String(
          "A token from the tokens file (--auth-tokens-file), with the scope each operation names "
          "in x-buildtrace-scope. Without a tokens file every request is allowed.");
  w.EndObject().EndObject();
  w.EndObject();
  w.EndObject();
  out.push_back('\n');
  return out;
}

std::string ApiDocsPage(std::span<const Route> routes, std::string_view version) {
  std::string out =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>BuildTrace API</title><style>"
      "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
      "color:#1b1b1b}"
      "code,pre{font:13px ui-monospace,monospace}pre{background:#f3f3f3;padding:.6rem;"
      "overflow-x:auto}"
      "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;"
      "text-align:left;vertical-align:top}"
      ".m{font-weight:bold;padding:0 .3rem;border:1px solid #555}"
      "section{border-top:1px solid #ddd;margin-top:1.5rem}"
      "</style></head><body>\n<h1>BuildTrace API <small>" +
      XmlEscape(version) +
      "</small></h1>\n<p>Every route this service answers, from its route table. The machine-"
      "readable description is <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI 3.1). "
      "Errors are <code>{\"error\": {\"code\", \"message\"}}</code>.</p>\n<nav><ul>\n";
  for (const Route& route : routes) {
    out += "<li><a href=\"#" + Anchor(route) + "\"><code>" +
           std::string(http::to_string(route.method)) + " " + XmlEscape(route.path) +
           "</code></a> " + XmlEscape(route.summary) + "</li>\n";
  }
  out += "</ul></nav>\n";
  for (const Route& route : routes) {
    out += "<section id=\"" + Anchor(route) + "\"><h2><span class=\"m\">" +
           std::string(http::to_string(route.method)) + "</span> <code>" + XmlEscape(route.path) +
           "</code></h2>\n<p>" + XmlEscape(route.summary) + "</p>\n";
    if (!route.description.empty()) out += "<p>" + XmlEscape(route.description) + "</p>\n";
    out += "<p>Token scope: " +
           (route.scope ? "<code>" + std::string(AccessScopeName(*route.scope)) + "</code>"
                        : std::string("none (open)")) +
           "</p>\n";
    if (!route.params.empty()) {
      out += "<table><tr><th>Parameter</th><th>In</th><th>Schema</th><th>Meaning</th></tr>\n";
      for (const RouteParam& p : route.params) {
        out += "<tr><td><code>" + XmlEscape(p.name) + "</code></td><td>" +
               (p.in_path    ? "path"
                : p.required ? "query, required"
                             : "query") +
               "</td><td><code>" + XmlEscape(p.schema) + "</code></td><td>" +
               XmlEscape(p.description) + "</td></tr>\n";
      }
      out += "</table>\n";
    }
    out += "<p>Answers:</p><ul>\n";
    for (const RouteAnswer& a : DocumentedAnswers(route)) {
      out += "<li><b>" + std::to_string(a.status) + "</b> " + XmlEscape(a.description);
      if (!a.media.empty()) out += " <code>" + XmlEscape(a.media) + "</code>";
      out += "</li>\n";
    }
    out += "</ul>\n<pre>" + XmlEscape(CurlExample(route)) + "</pre></section>\n";
  }
  out += "</body></html>\n";
  return out;
}

}  // namespace buildtrace
