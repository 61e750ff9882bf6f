// The API's description, generated from the route table: an OpenAPI 3.1 document (GET
// /openapi.json) and a browsable HTML page of our own (GET /docs), both self-contained.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "http/routes.h"

namespace buildtrace {

// "{\"$ref\":\"#/components/schemas/<name>\"}" for each component schema the routes refer to.
namespace schema_ref {
inline constexpr std::string_view kError = R"({"$ref":"#/components/schemas/Error"})";
inline constexpr std::string_view kProcessRequest =
    R"({"$ref":"#/components/schemas/ProcessRequest"})";
inline constexpr std::string_view kProcessAnswer =
    R"({"$ref":"#/components/schemas/ProcessAnswer"})";
inline constexpr std::string_view kReport = R"({"$ref":"#/components/schemas/Report"})";
inline constexpr std::string_view kReportAnyJson =
    R"({"oneOf":[{"$ref":"#/components/schemas/Report"},{"$ref":"#/components/schemas/ClassicReport"}]})";
inline constexpr std::string_view kStoredJob = R"({"$ref":"#/components/schemas/StoredJob"})";
inline constexpr std::string_view kProjects = R"({"$ref":"#/components/schemas/Projects"})";
inline constexpr std::string_view kProjectJobs = R"({"$ref":"#/components/schemas/ProjectJobs"})";
inline constexpr std::string_view kLatencyStats = R"({"$ref":"#/components/schemas/LatencyStats"})";
inline constexpr std::string_view kHealth = R"({"$ref":"#/components/schemas/Health"})";
inline constexpr std::string_view kReady = R"({"$ref":"#/components/schemas/Ready"})";
inline constexpr std::string_view kDeletedProject =
    R"({"$ref":"#/components/schemas/DeletedProject"})";
inline constexpr std::string_view kPushAnswer = R"({"$ref":"#/components/schemas/PushAnswer"})";
inline constexpr std::string_view kText = R"({"type":"string"})";
inline constexpr std::string_view kAnyJson = R"({})";
}  // namespace schema_ref

// The OpenAPI 3.1 document of `routes` (JSON, one line), with `version` as info.version.
std::string OpenApiDocument(std::span<const Route> routes, std::string_view version);

// The HTML page of GET /docs: every route with its parameters, scope, answers and a curl example.
std::string ApiDocsPage(std::span<const Route> routes, std::string_view version);

}  // namespace buildtrace
