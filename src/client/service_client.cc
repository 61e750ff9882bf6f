// ServiceClient, the error text of the service's answers, and gzip for request bodies.
#include "client/service_client.h"

#include <simdjson.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace buildtrace {

Result<ServiceClient> ServiceClient::Connect(const ServiceConnection& connection) {
  Result<HttpEndpoint> endpoint = ParseHttpUrl(connection.url);
  if (!endpoint.ok()) return endpoint.status();
  for (const char c : connection.token) {
    if (c <= ' ' || c > '~') {
      return InvalidArgument(
          "the token holds a space, a line break or a character that is not printable ASCII; "
          "give the token alone, without \"Bearer \"");
    }
  }
  return ServiceClient(connection.url, connection.token, std::move(*endpoint), connection.timeout);
}

ServiceClient::ServiceClient(std::string url, std::string token, HttpEndpoint endpoint,
                             std::chrono::milliseconds timeout)
    : url_(std::move(url)),
      token_(std::move(token)),
      http_(std::make_unique<HttpClient>(std::move(endpoint), timeout)) {}

std::vector<std::pair<std::string, std::string>> ServiceClient::Headers() const {
  if (token_.empty()) return {};
  return {{"Authorization", "Bearer " + token_}};
}

Result<HttpResponse> ServiceClient::Get(std::string_view target) {
  return http_->Get(target, Headers());
}

Result<HttpResponse> ServiceClient::PostJobs(std::string_view json, bool gzip) {
  std::vector<std::pair<std::string, std::string>> headers = Headers();
  if (!gzip) return http_->Post("/process", std::string(json), "application/json", headers);
  headers.emplace_back("Content-Encoding", "gzip");
  return http_->Post("/process", GzipCompress(json), "application/json", headers);
}

Result<HttpResponse> ServiceClient::DeleteProject(std::string_view project) {
  return http_->Send("DELETE", "/projects/" + EscapeUrlComponent(project), "", Headers());
}

void ServiceClient::SetUploadProgress(HttpClient::UploadProgress progress) {
  http_->SetUploadProgress(std::move(progress));
}

std::string ServiceErrorText(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view message;
  if (parser.parse(body).get(root) != simdjson::SUCCESS ||
      root.at_pointer("/error/message").get(message) != simdjson::SUCCESS) {
    if (body.empty()) return "(empty body)";
    return body.size() > 300 ? body.substr(0, 300) + "..." : body;
  }
  std::string text(message);
  simdjson::dom::array details;
  if (root.at_pointer("/error/details").get(details) == simdjson::SUCCESS) {
    for (simdjson::dom::element detail : details) {
      std::string_view field, detail_message;
      if (detail["message"].get(detail_message) != simdjson::SUCCESS) continue;
      text += "; ";
      if (detail["field"].get(field) == simdjson::SUCCESS && !field.empty()) {
        text += std::string(field) + ": ";
      }
      text += detail_message;
    }
  }
  return text;
}

std::string EscapeUrlComponent(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      char escaped[4];
      std::snprintf(escaped, sizeof(escaped), "%%%02X", u);
      out += escaped;
    }
  }
  return out;
}

std::string GzipCompress(std::string_view data) {
  z_stream stream{};
  // windowBits 15 + 16: a gzip header and trailer around the deflate stream.
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return "";
  }
  std::string out;
  out.reserve(data.size() / 4 + 64);
  std::vector<char> chunk(1 << 16);
  size_t offset = 0;
  int flush = Z_NO_FLUSH;
  int rc = Z_OK;
  // Fed in pieces that fit zlib's 32-bit counters, whatever the input's size (zlib's zpipe.c).
  while (flush != Z_FINISH) {
    const size_t piece = std::min<size_t>(data.size() - offset, size_t{1} << 30);
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + offset));
    stream.avail_in = static_cast<uInt>(piece);
    offset += piece;
    flush = offset == data.size() ? Z_FINISH : Z_NO_FLUSH;
    do {
      stream.next_out = reinterpret_cast<Bytef*>(chunk.data());
      stream.avail_out = static_cast<uInt>(chunk.size());
      rc = deflate(&stream, flush);
      out.append(chunk.data(), chunk.size() - stream.avail_out);
    } while (stream.avail_out == 0);
  }
  deflateEnd(&stream);
  return rc == Z_STREAM_END ? out : "";
}

}  // namespace buildtrace
