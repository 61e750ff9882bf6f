// Accept-Encoding negotiation and gzip answers (response_coding.h).
#include "http/response_coding.h"

#include <boost/beast/core/string.hpp>
#include <new>
#include <optional>
#include <utility>

#include "core/gzip_compress.h"
#include "http/content_encoding.h"

namespace buildtrace {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

// Splits off what precedes the first `sep` (all of `s` when there is none).
std::string_view TakeUntil(std::string_view& s, char sep) {
  const size_t at = s.find(sep);
  const std::string_view head = s.substr(0, at);
  s.remove_prefix(at == std::string_view::npos ? s.size() : at + 1);
  return head;
}

// A qvalue (RFC 9110 section 12.4.2) in thousandths: "0", "0.5", "1.000"; nullopt otherwise.
std::optional<int> ParseWeight(std::string_view v) {
  if (v.empty() || (v[0] != '0' && v[0] != '1')) return std::nullopt;
  const int whole = v[0] - '0';
  if (v.size() == 1) return whole * 1000;
  if (v[1] != '.' || v.size() > 5) return std::nullopt;
  int thousandths = 0, scale = 100;
  for (char c : v.substr(2)) {
    if (c < '0' || c > '9') return std::nullopt;
    thousandths += (c - '0') * scale;
    scale /= 10;
  }
  if (whole == 1 && thousandths != 0) return std::nullopt;
  return whole * 1000 + thousandths;
}

// One element's weight: 1000 without a "q" parameter; nullopt when a parameter does not parse.
std::optional<int> ElementWeight(std::string_view params) {
  int weight = 1000;
  while (!params.empty()) {
    std::string_view value = TrimOws(TakeUntil(params, ';'));
    if (value.find('=') == std::string_view::npos) return std::nullopt;
    // Blanks around "=" are not in the grammar; read leniently, so that "q = 0" still refuses.
    const std::string_view name = TrimOws(TakeUntil(value, '='));
    if (name != "q" && name != "Q") continue;  // a parameter of another kind: ignored
    const std::optional<int> q = ParseWeight(TrimOws(value));
    if (!q) return std::nullopt;
    weight = *q;
  }
  return weight;
}

void AddVaryAcceptEncoding(HttpResponse& response) {
  const auto found = response.find(http::field::vary);
  if (found == response.end()) return response.set(http::field::vary, "Accept-Encoding");
  const std::string_view vary = found->value();
  std::string_view rest = vary;
  while (!rest.empty()) {
    const std::string_view name = TrimOws(TakeUntil(rest, ','));
    if (name == "*" || beast::iequals(name, "accept-encoding")) return;
  }
  response.set(http::field::vary, std::string(vary) + ", Accept-Encoding");
}

}  // namespace

std::string AcceptEncodingOf(const HttpRequest& request) {
  std::string joined;
  const auto [first, last] = request.equal_range(http::field::accept_encoding);
  for (auto it = first; it != last; ++it) {
    if (!joined.empty()) joined += ", ";
    joined.append(it->value().data(), it->value().size());
  }
  return joined;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  std::optional<int> gzip, star, identity;  // the highest weight given to each, if any
  auto note = [](std::optional<int>& slot, int weight) {
    slot = slot ? std::max(*slot, weight) : weight;
  };
  std::string_view rest = accept_encoding;
  while (!rest.empty()) {
    std::string_view element = TakeUntil(rest, ',');
    const std::string_view coding = TrimOws(TakeUntil(element, ';'));
    const std::optional<int> weight = ElementWeight(element);
    if (coding.empty() || !weight) continue;
    if (beast::iequals(coding, "gzip") || beast::iequals(coding, "x-gzip")) {
      note(gzip, *weight);
    } else if (coding == "*") {
      note(star, *weight);
    } else if (beast::iequals(coding, "identity")) {
      note(identity, *weight);
    }
  }
  const int gzip_weight = gzip ? *gzip : star.value_or(0);
  const int identity_weight = identity ? *identity : star.value_or(0);
  return gzip_weight > 0 && gzip_weight >= identity_weight;
}

bool IsCompressibleType(std::string_view content_type) {
  std::string_view rest = content_type;
  const std::string_view type = TrimOws(TakeUntil(rest, ';'));
  auto starts = [&](std::string_view prefix) {
    return type.size() >= prefix.size() && beast::iequals(type.substr(0, prefix.size()), prefix);
  };
  auto ends = [&](std::string_view suffix) {
    return type.size() > suffix.size() &&
           beast::iequals(type.substr(type.size() - suffix.size()), suffix);
  };
  return starts("text/") || beast::iequals(type, "application/json") ||
         beast::iequals(type, "application/javascript") ||
         beast::iequals(type, "application/x-ndjson") || beast::iequals(type, "application/xml") ||
         beast::iequals(type, "image/svg+xml") || ends("+json") || ends("+xml");
}

void EncodeForClient(const HttpRequest& request, HttpResponse& response) {
  const unsigned status = response.result_int();
  if (status < 200 || status == 204 || status == 304) return;
  if (!IsCompressibleType(response[http::field::content_type])) return;
  AddVaryAcceptEncoding(response);
  if (response.body().coding_chosen()) return;
  if (response.find(http::field::content_encoding) != response.end()) return;
  const std::string_view body = response.body().text();
  if (body.size() < kMinGzipAnswerBytes || body.size() > kMaxGzipPerRequestBytes) return;
  if (!AcceptsGzip(AcceptEncodingOf(request))) return;
  std::string compressed;
  try {
    compressed = GzipCompress(body);
  } catch (const std::bad_alloc&) {
    return;  // the answer goes as it is
  }
  if (compressed.size() >= body.size()) return;
  response.set(http::field::content_encoding, "gzip");
  response.body() = std::move(compressed);  // cannot throw: never one without the other
}

}  // namespace buildtrace
