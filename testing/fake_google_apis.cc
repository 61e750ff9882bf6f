// FakeGoogleApis: a Beast coroutine server on one asio thread; every request is handled under
// one mutex by Impl::Handle, which routes on method and path. See fake_google_apis.h.
#include "testing/fake_google_apis.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <simdjson.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/timestamp.h"

namespace buildtrace {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Op = FakeGoogleApis::Op;
using Field = FakeGoogleApis::Field;

struct Request {
  std::string method;
  std::string path;                               // raw, still percent-encoded
  std::multimap<std::string, std::string> query;  // decoded
  std::map<std::string, std::string> headers;     // lower-case names
  std::string body;

  std::optional<std::string> Param(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json; charset=UTF-8";
  std::string body;
};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
      i += 2;
    } else {
      out += plus_is_space && text[i] == '+' ? ' ' : text[i];
    }
  }
  return out;
}

std::multimap<std::string, std::string> ParseForm(std::string_view text, bool plus_is_space) {
  std::multimap<std::string, std::string> out;
  while (!text.empty()) {
    const size_t amp = text.find('&');
    const std::string_view pair = text.substr(0, amp);
    const size_t eq = pair.find('=');
    out.emplace(
        PercentDecode(pair.substr(0, eq), plus_is_space),
        eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1), plus_is_space));
    text = amp == std::string_view::npos ? "" : text.substr(amp + 1);
  }
  return out;
}

std::vector<std::string> Split(std::string_view text, char sep) {
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t end = text.find(sep, start);
    parts.emplace_back(text.substr(start, end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
      out += buffer;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Number(double value) {
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, end);
}

// A Google API error body, as documented for both Storage and BigQuery.
Response GoogleError(int status, const std::string& reason, const std::string& message) {
  return Response{status, "application/json; charset=UTF-8",
                  R"({"error":{"code":)" + std::to_string(status) + R"(,"message":)" +
                      JsonString(message) + R"(,"errors":[{"message":)" + JsonString(message) +
                      R"(,"domain":"global","reason":)" + JsonString(reason) + "}]}}"};
}

std::string Base64UrlDecode(std::string_view text, bool& ok) {
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  ok = true;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-')
      v = 62;
    else if (c == '_')
      v = 63;
    else {
      ok = false;
      return out;
    }
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xFF);
    }
  }
  return out;
}

struct Row {
  std::string project;
  int64_t job_id = 0;  // a STRING job_id's number (SAFE_CAST), when it is one
  int64_t base_job_id = 0;
  int64_t timestamp_ms = 0;
  double latency_ms = 0;
  std::string recorded_at;
  std::string status;     // "" when NULL
  int64_t sequence = 0;   // arrival order, to break ties of recorded_at
  std::string insert_id;  // insertAll's
  // Whether project, job_id (as a number), base_job_id and timestamp_ms are all set: a row the
  // warehouse's queries can match (NULL compares false), unlike the original service's rows.
  bool lineage = false;
  bool has_latency = false;
  std::optional<int64_t> timestamp;          // a TIMESTAMP `timestamp`, in ms
  std::map<std::string, std::string> cells;  // column -> the value's JSON text as sent
};

struct Table {
  std::string creation_time;  // ms since the epoch, as tables.get gives it (int64 as a string)
  std::vector<Field> schema;
  std::vector<Row> rows;
  std::set<std::string> insert_ids;
};

struct Job {
  std::string project;
  std::string location;
  int incomplete_answers = 0;
  std::string result;  // the members after "jobComplete":true (schema, rows, totalRows)
};

struct Fault {
  int status;
  int times;
  bool apply;
};

// Reads an INTEGER cell of a row as insertAll takes it: a JSON number or a string of digits.
bool ReadInt(simdjson::dom::element value, int64_t& out) {
  if (value.get_int64().get(out) == simdjson::SUCCESS) return true;
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

bool VerifyRs256(const std::string& public_key_pem, std::string_view data,
                 const std::string& signature) {
  BIO* bio = BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size()));
  EVP_PKEY* key = bio ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  if (key == nullptr) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return ok;
}

class FakeGoogleApis::Impl {
 public:
  Impl() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io_, Accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Impl() {
    io_.stop();
    thread_.join();
  }

  std::string base_url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }

  mutable std::mutex mutex_;
  std::set<std::string> accepted_tokens_;
  std::set<std::string> expired_tokens_;
  std::chrono::seconds lifetime_{3600};
  int issued_ = 0;
  std::string sa_email_;
  std::string sa_public_key_;
  std::map<std::string, std::map<std::string, std::string>> buckets_;
  int generation_ = 0;
  int page_size_ = 3;
  std::vector<std::string> granted_ = {"storage.objects.create", "storage.objects.get",
                                       "storage.objects.list"};
  std::set<std::string> datasets_;       // "project/dataset"
  std::map<std::string, Table> tables_;  // "project/dataset/table"
  bool dedup_ = true;
  int incomplete_next_ = 0;
  bool streaming_buffer_ = false;  // DML over a table with rows is refused, as BigQuery does
  std::string insert_error_reason_;
  int insert_errors_times_ = 0;
  std::map<std::string, Job> jobs_;
  int64_t sequence_ = 0;
  std::map<Op, Fault> faults_;
  std::map<Op, int> counts_;
  std::vector<std::string> protocol_errors_;
  int64_t last_creation_ms_ = 0;

  // The wall clock in ms, but later than every earlier table's, so a re-created table differs.
  int64_t NextCreationTimeMs() {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    last_creation_ms_ = std::max(now, last_creation_ms_ + 1);
    return last_creation_ms_;
  }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      beast::error_code ec;
      tcp::socket socket =
          co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(io_, Serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> Serve(tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      beast::error_code ec;
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 << 20);
      co_await http::async_read(socket, buffer, parser,
                                asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      http::request<http::string_body> raw = parser.release();
      Request request;
      request.method = std::string(raw.method_string());
      const std::string_view target = raw.target();
      const size_t question = target.find('?');
      request.path = std::string(target.substr(0, question));
      if (question != std::string_view::npos) {
        request.query = ParseForm(target.substr(question + 1), false);
      }
      for (const auto& field : raw) {
        std::string name(field.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        request.headers[name] = std::string(field.value());
      }
      request.body = std::move(raw.body());
      Response answer = Handle(request);
      http::response<http::string_body> response(static_cast<http::status>(answer.status), 11);
      response.set(http::field::content_type, answer.content_type);
      response.body() = std::move(answer.body);
      response.keep_alive(raw.keep_alive());
      response.prepare_payload();
      co_await http::async_write(socket, response, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !response.keep_alive()) co_return;
    }
  }

  Response Handle(const Request& r) {
    std::lock_guard lock(mutex_);
    const std::vector<std::string> p = Split(r.path, '/');  // p[0] is "" (leading '/')
    std::optional<Op> op = Route(r, p);
    if (!op) return Protocol(r, "no such method in the API reference");
    ++counts_[*op];
    if (*op != Op::kMetadataToken && *op != Op::kOAuthToken) {
      if (std::optional<Response> denied = CheckBearer(r)) return *denied;
    }
    bool apply_then_fail = false;
    int fail_status = 0;
    if (auto it = faults_.find(*op); it != faults_.end()) {
      fail_status = it->second.status;
      apply_then_fail = it->second.apply;
      if (--it->second.times <= 0) faults_.erase(it);
      if (!apply_then_fail) return GoogleError(fail_status, "backendError", "injected failure");
    }
    Response answer = Dispatch(*op, r, p);
    if (apply_then_fail) return GoogleError(fail_status, "backendError", "injected lost answer");
    return answer;
  }

  std::optional<Op> Route(const Request& r, const std::vector<std::string>& p) const {
    const size_t n = p.size();
    if (r.path == "/computeMetadata/v1/instance/service-accounts/default/token") {
      return r.method == "GET" ? std::optional(Op::kMetadataToken) : std::nullopt;
    }
    if (r.path == "/token")
      return r.method == "POST" ? std::optional(Op::kOAuthToken) : std::nullopt;
    if (n == 7 && p[1] == "upload" && p[2] == "storage" && p[3] == "v1" && p[4] == "b" &&
        p[6] == "o" && r.method == "POST") {
      return Op::kUpload;
    }
    if (n == 7 && p[1] == "storage" && p[2] == "v1" && p[3] == "b" && p[5] == "o" &&
        r.method == "DELETE") {
      return Op::kDeleteObject;
    }
    if (n >= 5 && p[1] == "storage" && p[2] == "v1" && p[3] == "b" && r.method == "GET") {
      if (n == 6 && p[5] == "o") return Op::kListObjects;
      if (n == 7 && p[5] == "o") return Op::kGetObject;  // the name must be one encoded segment
      if (n == 7 && p[5] == "iam" && p[6] == "testPermissions") return Op::kTestPermissions;
      return std::nullopt;
    }
    if (n >= 5 && p[1] == "bigquery" && p[2] == "v2" && p[3] == "projects") {
      if (n == 6 && p[5] == "queries" && r.method == "POST") return Op::kQuery;
      if (n == 7 && p[5] == "queries" && r.method == "GET") return Op::kGetQueryResults;
      if (n == 8 && p[5] == "datasets" && p[7] == "tables" && r.method == "POST") {
        return Op::kInsertTable;
      }
      if (n == 9 && p[5] == "datasets" && p[7] == "tables" && r.method == "GET")
        return Op::kGetTable;
      if (n == 9 && p[5] == "datasets" && p[7] == "tables" && r.method == "PATCH")
        return Op::kPatchTable;
      if (n == 10 && p[5] == "datasets" && p[7] == "tables" && p[9] == "insertAll" &&
          r.method == "POST") {
        return Op::kInsertAll;
      }
    }
    return std::nullopt;
  }

  std::optional<Response> CheckBearer(const Request& r) {
    auto it = r.headers.find("authorization");
    if (it == r.headers.end() || !it->second.starts_with("Bearer ")) {
      return Protocol(r, "no Authorization: Bearer header");
    }
    const std::string token = it->second.substr(7);
    if (expired_tokens_.count(token) || !accepted_tokens_.count(token)) {
      return GoogleError(401, "authError", "Request had invalid authentication credentials.");
    }
    return std::nullopt;
  }

  Response Protocol(const Request& r, const std::string& problem) {
    protocol_errors_.push_back(r.method + " " + r.path + ": " + problem);
    return GoogleError(400, "invalid", problem);
  }

  Response Dispatch(Op op, const Request& r, const std::vector<std::string>& p) {
    switch (op) {
      case Op::kMetadataToken:
        return MetadataToken(r);
      case Op::kOAuthToken:
        return OAuthToken(r);
      case Op::kUpload:
        return Upload(r, p[5]);
      case Op::kGetObject:
        return GetObject(r, p[4], PercentDecode(p[6], false));
      case Op::kDeleteObject:
        return DeleteObject(p[4], PercentDecode(p[6], false));
      case Op::kListObjects:
        return ListObjects(r, p[4]);
      case Op::kTestPermissions:
        return TestPermissions(r, p[4]);
      case Op::kGetTable:
        return GetTable(p[4], p[6], p[8]);
      case Op::kInsertTable:
        return InsertTable(r, p[4], p[6]);
      case Op::kPatchTable:
        return PatchTable(r, p[4], p[6], p[8]);
      case Op::kInsertAll:
        return InsertAll(r, p[4] + "/" + p[6] + "/" + p[8]);
      case Op::kQuery:
        return Query(r, p[4]);
      case Op::kGetQueryResults:
        return GetQueryResults(r, p[4], p[6]);
    }
    return Protocol(r, "unknown operation");
  }

  std::string IssueToken(const std::string& kind) {
    const std::string token = kind + "-token-" + std::to_string(++issued_);
    accepted_tokens_.insert(token);
    return R"({"access_token":")" + token + R"(","expires_in":)" +
           std::to_string(lifetime_.count()) + R"(,"token_type":"Bearer"})";
  }

  Response MetadataToken(const Request& r) {
    auto it = r.headers.find("metadata-flavor");
    if (it == r.headers.end() || it->second != "Google") {
      // The real server refuses requests without the header with 403.
      protocol_errors_.push_back("metadata token request without Metadata-Flavor: Google");
      return Response{403, "text/html", "Missing Metadata-Flavor:Google header."};
    }
    return Response{200, "application/json", IssueToken("meta")};
  }

  Response OAuthToken(const Request& r) {
    auto type = r.headers.find("content-type");
    if (type == r.headers.end() ||
        type->second.find("application/x-www-form-urlencoded") == std::string::npos) {
      return Protocol(r, "token request is not application/x-www-form-urlencoded");
    }
    const auto form = ParseForm(r.body, true);
    auto field = [&](const char* name) {
      auto it = form.find(name);
      return it == form.end() ? std::string() : it->second;
    };
    if (field("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer") {
      return Protocol(r, "grant_type is not urn:ietf:params:oauth:grant-type:jwt-bearer");
    }
    if (std::string problem = CheckJwt(field("assertion")); !problem.empty()) {
      return Response{
          400, "application/json",
          R"({"error":"invalid_grant","error_description":)" + JsonString(problem) + "}"};
    }
    return Response{200, "application/json", IssueToken("sa")};
  }

  // Empty if `jwt` is a valid assertion for the configured service account.
  std::string CheckJwt(const std::string& jwt) {
    const std::vector<std::string> parts = Split(jwt, '.');
    if (parts.size() != 3) return "Invalid JWT: not three parts";
    bool ok1, ok2, ok3;
    const std::string header = Base64UrlDecode(parts[0], ok1);
    const std::string claims = Base64UrlDecode(parts[1], ok2);
    const std::string signature = Base64UrlDecode(parts[2], ok3);
    if (!ok1 || !ok2 || !ok3) return "Invalid JWT: bad base64url";
    simdjson::dom::parser hp, cp;
    simdjson::dom::element h, c;
    if (hp.parse(header).get(h) || cp.parse(claims).get(c)) return "Invalid JWT: bad JSON";
    std::string_view alg, iss, aud, scope;
    int64_t iat = 0, exp = 0;
    if (h["alg"].get_string().get(alg) || alg != "RS256") return "Invalid JWT: alg is not RS256";
    if (c["iss"].get_string().get(iss) || iss != sa_email_) return "Invalid JWT: wrong iss";
    if (c["aud"].get_string().get(aud) || aud != base_url() + "/token") {
      return "Invalid JWT: aud is not the token URI";
    }
    if (c["scope"].get_string().get(scope) || scope.empty()) return "Invalid JWT: no scope";
    if (c["iat"].get_int64().get(iat) || c["exp"].get_int64().get(exp) || exp <= iat ||
        exp - iat > 3600) {
      return "Invalid JWT: iat/exp missing or more than an hour apart";
    }
    if (!VerifyRs256(sa_public_key_, parts[0] + "." + parts[1], signature)) {
      return "Invalid JWT Signature.";
    }
    return "";
  }

  // ---- Cloud Storage

  Response Upload(const Request& r, const std::string& bucket) {
    const auto name = r.Param("name");
    if (r.Param("uploadType") != "media") return Protocol(r, "uploadType must be media");
    if (!name || name->empty()) return Protocol(r, "media upload without name");
    if (r.Param("ifGenerationMatch") != "0")
      return Protocol(r, "create without ifGenerationMatch=0");
    if (!r.headers.count("content-type")) return Protocol(r, "media upload without Content-Type");
    auto b = buckets_.find(bucket);
    if (b == buckets_.end())
      return GoogleError(404, "notFound", "The specified bucket does not exist.");
    if (b->second.count(*name)) {
      return GoogleError(412, "conditionNotMet",
                         "At least one of the pre-conditions you specified did not hold.");
    }
    b->second[*name] = r.body;
    return Response{200, "application/json",
                    R"({"kind":"storage#object","bucket":)" + JsonString(bucket) + R"(,"name":)" +
                        JsonString(*name) + R"(,"generation":")" + std::to_string(++generation_) +
                        R"(","size":")" + std::to_string(r.body.size()) + "\"}"};
  }

  Response GetObject(const Request& r, const std::string& bucket, const std::string& name) {
    if (r.Param("alt") != "media") return Protocol(r, "object read without alt=media");
    auto b = buckets_.find(bucket);
    if (b == buckets_.end())
      return GoogleError(404, "notFound", "The specified bucket does not exist.");
    auto o = b->second.find(name);
    if (o == b->second.end())
      return GoogleError(404, "notFound", "No such object: " + bucket + "/" + name);
    return Response{200, "application/octet-stream", o->second};
  }

  // objects.delete: 204 with no body; 404 when there is no such object.
  Response DeleteObject(const std::string& bucket, const std::string& name) {
    auto b = buckets_.find(bucket);
    if (b == buckets_.end())
      return GoogleError(404, "notFound", "The specified bucket does not exist.");
    if (b->second.erase(name) == 0) {
      return GoogleError(404, "notFound", "No such object: " + bucket + "/" + name);
    }
    return Response{204, "application/json", ""};
  }

  Response ListObjects(const Request& r, const std::string& bucket) {
    auto b = buckets_.find(bucket);
    if (b == buckets_.end())
      return GoogleError(404, "notFound", "The specified bucket does not exist.");
    const std::string prefix = r.Param("prefix").value_or("");
    const std::string token = r.Param("pageToken").value_or("");
    // Page tokens are opaque to clients; this one is "next:" + the first name of the page.
    if (!token.empty() && !token.starts_with("next:")) return Protocol(r, "unknown pageToken");
    auto it =
        token.empty() ? b->second.lower_bound(prefix) : b->second.lower_bound(token.substr(5));
    std::string items;
    int count = 0;
    for (; it != b->second.end() && it->first.starts_with(prefix) && count < page_size_; ++it) {
      items += std::string(count++ ? "," : "") + R"({"kind":"storage#object","name":)" +
               JsonString(it->first) + "}";
    }
    std::string body = R"({"kind":"storage#objects")";
    if (count > 0) body += R"(,"items":[)" + items + "]";  // GCS leaves "items" out when empty
    if (it != b->second.end() && it->first.starts_with(prefix)) {
      body += R"(,"nextPageToken":)" + JsonString("next:" + it->first);
    }
    return Response{200, "application/json", body + "}"};
  }

  Response TestPermissions(const Request& r, const std::string& bucket) {
    if (!buckets_.count(bucket))
      return GoogleError(404, "notFound", "The specified bucket does not exist.");
    std::string list;
    int asked = 0;
    for (auto [it, end] = r.query.equal_range("permissions"); it != end; ++it, ++asked) {
      if (std::find(granted_.begin(), granted_.end(), it->second) != granted_.end()) {
        list += std::string(list.empty() ? "" : ",") + JsonString(it->second);
      }
    }
    if (asked == 0) return Protocol(r, "testIamPermissions without permissions");
    return Response{
        200, "application/json",
        R"({"kind":"storage#testIamPermissionsResponse","permissions":[)" + list + "]}"};
  }

  // ---- BigQuery

  Response GetTable(const std::string& project, const std::string& dataset,
                    const std::string& table) {
    auto t = tables_.find(project + "/" + dataset + "/" + table);
    if (t == tables_.end()) {
      return GoogleError(404, "notFound",
                         "Not found: Table " + project + ":" + dataset + "." + table);
    }
    std::string fields;
    for (const Field& f : t->second.schema) {
      fields += std::string(fields.empty() ? "" : ",") + R"({"name":)" + JsonString(f.name) +
                R"(,"type":)" + JsonString(f.type) + R"(,"mode":)" + JsonString(f.mode) + "}";
    }
    return Response{200, "application/json",
                    R"({"kind":"bigquery#table","tableReference":{"projectId":)" +
                        JsonString(project) + R"(,"datasetId":)" + JsonString(dataset) +
                        R"(,"tableId":)" + JsonString(table) + R"(},"creationTime":)" +
                        JsonString(t->second.creation_time) + R"(,"schema":{"fields":[)" + fields +
                        "]}}"};
  }

  Response InsertTable(const Request& r, const std::string& project, const std::string& dataset) {
    if (!datasets_.count(project + "/" + dataset)) {
      return GoogleError(404, "notFound", "Not found: Dataset " + project + ":" + dataset);
    }
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    std::string_view p, d, t;
    simdjson::dom::array fields;
    if (parser.parse(r.body).get(root) || root["tableReference"]["projectId"].get_string().get(p) ||
        root["tableReference"]["datasetId"].get_string().get(d) ||
        root["tableReference"]["tableId"].get_string().get(t) ||
        root["schema"]["fields"].get_array().get(fields)) {
      return Protocol(r, "tables.insert body lacks tableReference or schema.fields");
    }
    if (p != project || d != dataset) return Protocol(r, "tableReference differs from the path");
    Table table;
    for (simdjson::dom::element f : fields) {
      std::string_view name, type, mode = "NULLABLE";
      if (f["name"].get_string().get(name) || f["type"].get_string().get(type)) {
        return Protocol(r, "schema field without name or type");
      }
      if (f["mode"].get_string().get(mode)) mode = "NULLABLE";
      table.schema.push_back({std::string(name), std::string(type), std::string(mode)});
    }
    const std::string key = project + "/" + dataset + "/" + std::string(t);
    if (tables_.count(key)) return GoogleError(409, "duplicate", "Already Exists: Table " + key);
    table.creation_time = std::to_string(NextCreationTimeMs());
    tables_[key] = std::move(table);
    return GetTable(project, dataset, std::string(t));
  }

  // tables.patch of the schema, as BigQuery takes it: every field kept with its type and mode,
  // new fields NULLABLE or REPEATED (BigQuery adds no REQUIRED column to a table).
  Response PatchTable(const Request& r, const std::string& project, const std::string& dataset,
                      const std::string& table) {
    auto t = tables_.find(project + "/" + dataset + "/" + table);
    if (t == tables_.end()) {
      return GoogleError(404, "notFound",
                         "Not found: Table " + project + ":" + dataset + "." + table);
    }
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    simdjson::dom::array fields;
    if (parser.parse(r.body).get(root) || root["schema"]["fields"].get_array().get(fields)) {
      return Protocol(r, "tables.patch body without schema.fields");
    }
    std::vector<Field> schema;
    for (simdjson::dom::element f : fields) {
      std::string_view name, type, mode = "NULLABLE";
      if (f["name"].get_string().get(name) || f["type"].get_string().get(type)) {
        return Protocol(r, "schema field without name or type");
      }
      if (f["mode"].get_string().get(mode)) mode = "NULLABLE";
      schema.push_back({std::string(name), std::string(type), std::string(mode)});
    }
    for (const Field& old : t->second.schema) {
      auto same = std::find_if(schema.begin(), schema.end(),
                               [&](const Field& f) { return f.name == old.name; });
      if (same == schema.end())
        return Protocol(r, "Field " + old.name + " is missing in new schema");
      if (same->type != old.type || same->mode != old.mode) {
        return Protocol(r, "Field " + old.name + " has changed type or mode");
      }
    }
    for (const Field& f : schema) {
      const bool added = std::none_of(t->second.schema.begin(), t->second.schema.end(),
                                      [&](const Field& old) { return old.name == f.name; });
      if (added && f.mode == "REQUIRED") {
        return Protocol(r, "Cannot add required field " + f.name + " to an existing schema");
      }
    }
    t->second.schema = std::move(schema);
    return GetTable(project, dataset, table);
  }

  Response InsertAll(const Request& r, const std::string& key) {
    auto t = tables_.find(key);
    if (t == tables_.end()) return GoogleError(404, "notFound", "Not found: Table " + key);
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    simdjson::dom::array rows;
    if (parser.parse(r.body).get(root) || root["rows"].get_array().get(rows)) {
      return Protocol(r, "insertAll body without rows");
    }
    std::string errors;
    int64_t index = 0;
    for (simdjson::dom::element row : rows) {
      std::string_view insert_id;
      simdjson::dom::object json;
      if (row["insertId"].get_string().get(insert_id) || row["json"].get_object().get(json)) {
        return Protocol(r, "insertAll row without insertId or json");
      }
      std::string problem = insert_errors_times_ > 0 ? insert_error_reason_ : "";
      Row parsed;
      if (problem.empty()) problem = ParseRow(t->second.schema, json, parsed);
      if (!problem.empty()) {
        errors += std::string(errors.empty() ? "" : ",") + R"({"index":)" + std::to_string(index) +
                  R"(,"errors":[{"reason":)" + JsonString(problem) +
                  R"(,"location":"","debugInfo":"","message":)" + JsonString(problem) + "}]}";
      } else if (!dedup_ || t->second.insert_ids.insert(std::string(insert_id)).second) {
        parsed.sequence = ++sequence_;
        parsed.insert_id = std::string(insert_id);
        t->second.rows.push_back(std::move(parsed));
      }
      ++index;
    }
    if (insert_errors_times_ > 0) --insert_errors_times_;
    std::string body = R"({"kind":"bigquery#tableDataInsertAllResponse")";
    if (!errors.empty()) body += R"(,"insertErrors":[)" + errors + "]";
    return Response{200, "application/json", body + "}"};
  }

 public:  // for FakeGoogleApis::AddRow
  // Checks a row against the schema as BigQuery would; returns the error reason or "".
  static std::string ParseRow(const std::vector<Field>& schema, simdjson::dom::object json,
                              Row& out) {
    for (auto member : json) {
      // A named variable rather than a structured binding: clang 14 cannot capture those.
      std::string_view key = member.key;
      auto f =
          std::find_if(schema.begin(), schema.end(), [&](const Field& x) { return x.name == key; });
      if (f == schema.end()) return "invalid";  // no such field
    }
    bool has_project = false, has_job = false, has_base = false, has_timestamp_ms = false;
    for (const Field& f : schema) {
      simdjson::dom::element value;
      if (json[f.name].get(value) || value.is_null()) {
        if (f.mode == "REQUIRED") return "invalid";
        continue;
      }
      int64_t i = 0;
      double d = 0;
      std::string_view s;
      if (f.type == "INTEGER" && !ReadInt(value, i)) return "invalid";
      if (f.type == "FLOAT" && value.get_double().get(d)) return "invalid";
      if ((f.type == "STRING" || f.type == "TIMESTAMP") && value.get_string().get(s)) {
        return "invalid";
      }
      std::optional<int64_t> instant;
      if (f.type == "TIMESTAMP" && !(instant = ParseRfc3339(s))) return "invalid";
      out.cells[f.name] = simdjson::minify(value);
      if (f.name == "project") out.project = std::string(s);
      has_project = has_project || f.name == "project";
      if (f.name == "job_id" && f.type == "STRING") {
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
        if (ec != std::errc() || end != s.data() + s.size()) continue;  // SAFE_CAST: NULL
      }
      if (f.name == "job_id") out.job_id = i;
      has_job = has_job || f.name == "job_id";
      if (f.name == "base_job_id") out.base_job_id = i;
      has_base = has_base || f.name == "base_job_id";
      if (f.name == "timestamp_ms") out.timestamp_ms = i;
      has_timestamp_ms = has_timestamp_ms || f.name == "timestamp_ms";
      if (f.name == "latency_ms") {
        out.latency_ms = f.type == "INTEGER" ? static_cast<double>(i) : d;
        out.has_latency = true;
      }
      if (f.name == "timestamp") out.timestamp = instant;
      if (f.name == "recorded_at") out.recorded_at = std::string(s);
      if (f.name == "status") out.status = std::string(s);
    }
    out.lineage = has_project && has_job && has_base && has_timestamp_ms;
    return "";
  }

 private:
  Response Query(const Request& r, const std::string& project) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    std::string_view sql, mode;
    bool legacy = true;
    if (parser.parse(r.body).get(root) || root["query"].get_string().get(sql)) {
      return Protocol(r, "jobs.query body without query");
    }
    if (root["useLegacySql"].get_bool().get(legacy) || legacy) {
      return Protocol(r, "useLegacySql must be false for GoogleSQL");
    }
    if (root["parameterMode"].get_string().get(mode) || mode != "NAMED") {
      return Protocol(r, "parameterMode must be NAMED");
    }
    std::map<std::string, std::pair<std::string, std::string>> params;  // name -> type, value
    simdjson::dom::array list;
    if (root["queryParameters"].get_array().get(list) == simdjson::SUCCESS) {
      for (simdjson::dom::element q : list) {
        std::string_view name, type, value;
        if (q["name"].get_string().get(name) || q["parameterType"]["type"].get_string().get(type) ||
            q["parameterValue"]["value"].get_string().get(value)) {
          return Protocol(
              r, "query parameter without name, parameterType.type or parameterValue.value");
        }
        params[std::string(name)] = {std::string(type), std::string(value)};
      }
    }
    Evaluation answer = Evaluate(sql, params);
    if (answer.status == 404) return GoogleError(404, "notFound", answer.problem);
    if (!answer.reason.empty()) return GoogleError(answer.status, answer.reason, answer.problem);
    if (!answer.problem.empty()) return Protocol(r, answer.problem);
    const std::string& result = answer.result;
    const std::string job_id = "job_" + std::to_string(jobs_.size() + 1);
    Job job{project, "US", incomplete_next_, result};
    incomplete_next_ = 0;
    jobs_[job_id] = job;
    return JobAnswer(job_id, "bigquery#queryResponse");
  }

 public:  // for FakeGoogleApis::RunQuery
  using Params = std::map<std::string, std::pair<std::string, std::string>>;  // name -> type, value

  struct Evaluation {
    int status = 200;     // 404 for a missing table, 400 with `problem` otherwise
    std::string problem;  // empty when the query ran
    std::string reason;   // set when BigQuery itself refuses the query (not a protocol error)
    std::string result;   // the members after "jobComplete":true (schema, rows, totalRows)
  };

  // Runs one of the queries this fake knows over the table it names.
  Evaluation Evaluate(std::string_view sql, const Params& params) {
    const size_t tick = sql.find('`');
    const size_t end = tick == std::string_view::npos ? tick : sql.find('`', tick + 1);
    if (end == std::string_view::npos) return {400, "the query names no `project.dataset.table`"};
    std::vector<std::string> ref = Split(sql.substr(tick + 1, end - tick - 1), '.');
    if (ref.size() != 3) return {400, "table reference is not project.dataset.table"};
    auto t = tables_.find(ref[0] + "/" + ref[1] + "/" + ref[2]);
    if (t == tables_.end()) {
      return {404, "Not found: Table " + ref[0] + ":" + ref[1] + "." + ref[2]};
    }
    Evaluation answer;
    answer.problem = UnrecognizedName(sql, t->second);
    if (!answer.problem.empty()) {
      answer.status = 400;
    } else if (sql.find("APPROX_QUANTILES(latency_ms, 100)[OFFSET(99)]") !=
               std::string_view::npos) {
      answer.problem = P99Result(sql, t->second, answer.result);
    } else if (sql.find("APPROX_QUANTILES(latency_ms, 100)") != std::string_view::npos) {
      answer.problem = LatencyResult(sql, params, t->second, answer.result);
    } else if (sql.find("MAX(base_job_id)") != std::string_view::npos) {
      answer.problem = StoredBaseResult(sql, params, t->second, answer.result);
    } else if (sql.starts_with("DELETE FROM ")) {
      if (streaming_buffer_ && !t->second.rows.empty()) {
        Evaluation refused;
        refused.status = 400;
        refused.reason = "invalidQuery";
        refused.problem = "UPDATE or DELETE statement over table " + ref[0] + "." + ref[1] + "." +
                          ref[2] +
                          " would affect rows in the streaming buffer, which is not supported";
        return refused;
      }
      answer.problem = DeleteResult(sql, params, t->second, answer.result);
    } else {
      answer.problem = "a query this fake does not know";
    }
    if (!answer.problem.empty()) answer.status = 400;
    return answer;
  }

 private:
  // The first name in `sql` that is not a column of `table`, a keyword, a function (a name
  // before '('), a @parameter or an alias (a name after AS), as BigQuery's "Unrecognized name:
  // x"; "" when there is none. Quoted text and `table names` are skipped.
  static std::string UnrecognizedName(std::string_view sql, const Table& table) {
    static const std::set<std::string> kKeywords = {
        "DELETE", "SELECT", "FROM",  "WHERE",    "AND",     "OR",   "NOT",       "AS",    "BETWEEN",
        "IS",     "NULL",   "TRUE",  "FALSE",    "QUALIFY", "OVER", "PARTITION", "BY",    "ORDER",
        "DESC",   "ASC",    "LIMIT", "INTERVAL", "DAY",     "HOUR", "MINUTE",    "SECOND"};
    auto upper = [](std::string word) {
      for (char& c : word) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return word;
    };
    auto is_word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    std::set<std::string> aliases;
    std::vector<std::string> names;
    bool after_as = false;
    for (size_t i = 0; i < sql.size();) {
      const char c = sql[i];
      if (c == '`' || c == '\'' || c == '"') {
        const size_t close = sql.find(c, i + 1);
        i = close == std::string_view::npos ? sql.size() : close + 1;
      } else if (c == '@' || std::isdigit(static_cast<unsigned char>(c))) {
        for (++i; i < sql.size() && is_word(sql[i]); ++i) {
        }
      } else if (is_word(c)) {
        size_t j = i;
        while (j < sql.size() && is_word(sql[j])) ++j;
        const std::string word(sql.substr(i, j - i));
        size_t next = j;
        while (next < sql.size() && sql[next] == ' ') ++next;
        if (after_as) {
          aliases.insert(upper(word));
        } else if (next < sql.size() && sql[next] == '(') {
          // a function
        } else if (!kKeywords.count(upper(word))) {
          names.push_back(word);
        }
        after_as = upper(word) == "AS";
        i = j;
      } else {
        ++i;
      }
    }
    for (const std::string& name : names) {
      const bool column = std::any_of(table.schema.begin(), table.schema.end(),
                                      [&](const Field& f) { return upper(f.name) == upper(name); });
      if (!column && !aliases.count(upper(name))) return "Unrecognized name: " + name;
    }
    return "";
  }

  static const Field* FieldNamed(const Table& table, const std::string& name) {
    auto f = std::find_if(table.schema.begin(), table.schema.end(),
                          [&](const Field& x) { return x.name == name; });
    return f == table.schema.end() ? nullptr : &*f;
  }

  // The job id as an INT64, as the warehouse must write it for the table's job_id column.
  static std::string JobIdSql(const Table& table) {
    const Field* job_id = FieldNamed(table, "job_id");
    return job_id != nullptr && job_id->type == "STRING" ? "SAFE_CAST(job_id AS INT64)" : "job_id";
  }

  // The original service's P99 query: APPROX_QUANTILES(latency_ms, 100)[OFFSET(99)] over the
  // rows whose TIMESTAMP `timestamp` is within INTERVAL n DAY of now, NULL latencies ignored.
  std::string P99Result(std::string_view sql, const Table& table, std::string& result) {
    constexpr std::string_view kWindow =
        "WHERE timestamp >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL ";
    const size_t window = sql.find(kWindow);
    int64_t days = 0;
    const char* digits =
        sql.data() + (window == std::string_view::npos ? 0 : window) + kWindow.size();
    const auto [end, ec] = std::from_chars(digits, sql.data() + sql.size(), days);
    if (window == std::string_view::npos || ec != std::errc() ||
        std::string_view(end, sql.data() + sql.size() - end).substr(0, 5) != " DAY)") {
      return "the P99 query needs WHERE timestamp >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), "
             "INTERVAL n DAY)";
    }
    const Field* timestamp = FieldNamed(table, "timestamp");
    if (timestamp->type != "TIMESTAMP") {  // the column exists: UnrecognizedName passed
      return "No matching signature for operator >= for argument types: " + timestamp->type +
             ", TIMESTAMP";
    }
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    std::vector<double> latencies;
    for (const Row& row : table.rows) {
      if (row.timestamp && *row.timestamp >= now - days * 86'400'000 && row.has_latency) {
        latencies.push_back(row.latency_ms);
      }
    }
    std::sort(latencies.begin(), latencies.end());
    const int64_t n = static_cast<int64_t>(latencies.size());
    const int64_t rank = std::max<int64_t>(1, (99 * n + 99) / 100);
    const std::string type = FieldNamed(table, "latency_ms")->type;
    result = R"("schema":{"fields":[{"name":"p99_latency_ms","type":)" + JsonString(type) +
             R"(,"mode":"NULLABLE"}]},"totalRows":"1","rows":[{"f":[{"v":)" +
             (n == 0 ? std::string("null") : "\"" + Number(latencies[rank - 1]) + "\"") + "}]}]";
    return "";
  }

  static bool HasParam(const std::map<std::string, std::pair<std::string, std::string>>& params,
                       const std::string& name, const std::string& type) {
    auto it = params.find(name);
    return it != params.end() && it->second.first == type;
  }

  // DELETE FROM `table` WHERE project = @project: removes those rows, answers
  // numDmlAffectedRows (an int64 as a string) and dmlStats, as BigQuery answers DML.
  std::string DeleteResult(std::string_view sql, const Params& params, Table& table,
                           std::string& result) {
    if (!HasParam(params, "project", "STRING")) return "the DELETE needs @project STRING";
    if (!sql.ends_with("` WHERE project = @project")) {
      return "a DELETE this fake does not know (only WHERE project = @project)";
    }
    const std::string& project = params.at("project").second;
    const size_t before = table.rows.size();
    // BigQuery runs DML only over rows out of the streaming buffer, long after insertAll's
    // deduplication window (a minute or so) has passed: their insertIds are free again.
    std::erase_if(table.rows, [&](const Row& row) {
      if (row.project != project) return false;
      table.insert_ids.erase(row.insert_id);
      return true;
    });
    const std::string n = std::to_string(before - table.rows.size());
    result = R"("numDmlAffectedRows":")" + n + R"(","dmlStats":{"deletedRowCount":")" + n + R"("})";
    return "";
  }

  // MAX(base_job_id) of the job's rows with base_job_id < job_id; NULL without any.
  std::string StoredBaseResult(std::string_view sql, const Params& params, const Table& table,
                               std::string& result) {
    if (!HasParam(params, "project", "STRING") || !HasParam(params, "job_id", "INT64")) {
      return "base query needs @project STRING, @job_id INT64";
    }
    const std::string job_id = JobIdSql(table);
    if (sql.find(job_id + " = @job_id AND base_job_id < " + job_id) == std::string_view::npos) {
      return "the base query does not compare " + job_id + " (the job_id column as an INT64)";
    }
    const int64_t job = std::stoll(params.at("job_id").second);
    std::optional<int64_t> base;
    for (const Row& row : table.rows) {
      if (row.lineage && row.project == params.at("project").second && row.job_id == job &&
          row.base_job_id < row.job_id) {
        base = std::max(base.value_or(row.base_job_id), row.base_job_id);
      }
    }
    result = R"("schema":{"fields":[{"name":"base","type":"INTEGER","mode":"NULLABLE"}]},)"
             R"("totalRows":"1","rows":[{"f":[{"v":)" +
             (base ? "\"" + std::to_string(*base) + "\"" : std::string("null")) + "}]}]";
    return "";
  }

  std::string LatencyResult(std::string_view sql, const Params& params, const Table& table,
                            std::string& result) {
    if (sql.find("ROW_NUMBER() OVER (PARTITION BY project, job_id "
                 "ORDER BY base_job_id DESC, recorded_at) = 1") == std::string_view::npos ||
        sql.find("base_job_id < " + JobIdSql(table)) == std::string_view::npos) {
      return "the latency query does not keep the lineage row of each (project, job_id), "
             "comparing " +
             JobIdSql(table);
    }
    if (!HasParam(params, "from_ms", "INT64") || !HasParam(params, "to_ms", "INT64") ||
        !HasParam(params, "project", "STRING") || !HasParam(params, "all_projects", "BOOL") ||
        !HasParam(params, "status", "STRING") || !HasParam(params, "all_statuses", "BOOL")) {
      return "latency query needs @from_ms, @to_ms INT64, @project, @status STRING, "
             "@all_projects, @all_statuses BOOL";
    }
    const int64_t from = std::stoll(params.at("from_ms").second);
    const int64_t to = std::stoll(params.at("to_ms").second);
    const bool all = params.at("all_projects").second == "true";
    const std::string& project = params.at("project").second;
    // The lineage row per (project, job_id): the greatest base below job_id, then the first by
    // recorded_at, then arrival.
    std::map<std::pair<std::string, int64_t>, const Row*> first;
    for (const Row& row : table.rows) {
      if (!row.lineage || row.timestamp_ms < from || row.timestamp_ms > to ||
          (!all && row.project != project) || row.base_job_id >= row.job_id) {
        continue;
      }
      const Row*& kept = first[{row.project, row.job_id}];
      if (kept == nullptr ||
          std::tuple(-row.base_job_id, row.recorded_at, row.sequence) <
              std::tuple(-kept->base_job_id, kept->recorded_at, kept->sequence)) {
        kept = &row;
      }
    }
    const bool all_statuses = params.at("all_statuses").second == "true";
    std::vector<double> latencies;
    for (const auto& [key, row] : first) {
      const std::string status = row->status.empty() ? "succeeded" : row->status;
      if (all_statuses || status == params.at("status").second)
        latencies.push_back(row->latency_ms);
    }
    std::sort(latencies.begin(), latencies.end());
    const int64_t n = static_cast<int64_t>(latencies.size());
    // APPROX_QUANTILES(x, 100) on few values: element i is the nearest-rank i% quantile.
    std::string values;
    for (int64_t i = 0; n > 0 && i <= 100; ++i) {
      const int64_t rank = std::max<int64_t>(1, (i * n + 99) / 100);
      values += std::string(i ? "," : "") + R"({"v":")" + Number(latencies[rank - 1]) + "\"}";
    }
    result = R"("schema":{"fields":[{"name":"jobs","type":"INTEGER","mode":"NULLABLE"},)"
             R"({"name":"quantiles","type":"FLOAT","mode":"REPEATED"}]},)"
             R"("totalRows":"1","rows":[{"f":[{"v":")" +
             std::to_string(n) + R"("},{"v":[)" + values + "]}]}]";
    return "";
  }

  Response JobAnswer(const std::string& job_id, const std::string& kind) {
    Job& job = jobs_.at(job_id);
    std::string body = R"({"kind":")" + kind + R"(","jobReference":{"projectId":)" +
                       JsonString(job.project) + R"(,"jobId":)" + JsonString(job_id) +
                       R"(,"location":)" + JsonString(job.location) + "}";
    if (job.incomplete_answers > 0) {
      --job.incomplete_answers;
      return Response{200, "application/json", body + R"(,"jobComplete":false})"};
    }
    return Response{200, "application/json", body + R"(,"jobComplete":true,)" + job.result + "}"};
  }

  Response GetQueryResults(const Request& r, const std::string& project,
                           const std::string& job_id) {
    auto it = jobs_.find(job_id);
    if (it == jobs_.end() || it->second.project != project) {
      return GoogleError(404, "notFound", "Not found: Job " + project + ":" + job_id);
    }
    if (r.Param("location") != it->second.location) {
      return Protocol(r, "getQueryResults without the job's location");
    }
    return JobAnswer(job_id, "bigquery#getQueryResultsResponse");
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

ScopedEnv::ScopedEnv(const char* name, const char* value) : name_(name) {
  if (const char* old = std::getenv(name)) old_ = old;
  if (value == nullptr) {
    ::unsetenv(name);
  } else {
    ::setenv(name, value, 1);
  }
}

ScopedEnv::~ScopedEnv() {
  if (old_) {
    ::setenv(name_.c_str(), old_->c_str(), 1);
  } else {
    ::unsetenv(name_.c_str());
  }
}

FakeGoogleApis::FakeGoogleApis() : impl_(std::make_unique<Impl>()) {}
FakeGoogleApis::~FakeGoogleApis() = default;

std::string FakeGoogleApis::base_url() const { return impl_->base_url(); }

void FakeGoogleApis::AcceptToken(const std::string& token) {
  std::lock_guard lock(impl_->mutex_);
  impl_->accepted_tokens_.insert(token);
}

void FakeGoogleApis::ExpireAllTokens() {
  std::lock_guard lock(impl_->mutex_);
  impl_->expired_tokens_.insert(impl_->accepted_tokens_.begin(), impl_->accepted_tokens_.end());
}

void FakeGoogleApis::SetIssuedTokenLifetime(std::chrono::seconds lifetime) {
  std::lock_guard lock(impl_->mutex_);
  impl_->lifetime_ = lifetime;
}

void FakeGoogleApis::SetServiceAccount(const std::string& client_email,
                                       const std::string& public_key_pem) {
  std::lock_guard lock(impl_->mutex_);
  impl_->sa_email_ = client_email;
  impl_->sa_public_key_ = public_key_pem;
}

void FakeGoogleApis::AddBucket(const std::string& bucket) {
  std::lock_guard lock(impl_->mutex_);
  impl_->buckets_[bucket];
}

void FakeGoogleApis::SetListPageSize(int items) {
  std::lock_guard lock(impl_->mutex_);
  impl_->page_size_ = items;
}

void FakeGoogleApis::SetGrantedPermissions(std::vector<std::string> permissions) {
  std::lock_guard lock(impl_->mutex_);
  impl_->granted_ = std::move(permissions);
}

std::optional<std::string> FakeGoogleApis::Object(const std::string& bucket,
                                                  const std::string& name) const {
  std::lock_guard lock(impl_->mutex_);
  auto b = impl_->buckets_.find(bucket);
  if (b == impl_->buckets_.end()) return std::nullopt;
  auto o = b->second.find(name);
  return o == b->second.end() ? std::nullopt : std::optional<std::string>(o->second);
}

void FakeGoogleApis::AddDataset(const std::string& project, const std::string& dataset) {
  std::lock_guard lock(impl_->mutex_);
  impl_->datasets_.insert(project + "/" + dataset);
}

void FakeGoogleApis::CreateTable(const std::string& project, const std::string& dataset,
                                 const std::string& table, std::vector<Field> schema) {
  std::lock_guard lock(impl_->mutex_);
  Table& created = impl_->tables_[project + "/" + dataset + "/" + table];
  created = Table{};
  created.schema = std::move(schema);
  created.creation_time = std::to_string(impl_->NextCreationTimeMs());
}

void FakeGoogleApis::DeleteTable(const std::string& project, const std::string& dataset,
                                 const std::string& table) {
  std::lock_guard lock(impl_->mutex_);
  impl_->tables_.erase(project + "/" + dataset + "/" + table);
}

std::vector<Field> FakeGoogleApis::TableSchema(const std::string& project,
                                               const std::string& dataset,
                                               const std::string& table) const {
  std::lock_guard lock(impl_->mutex_);
  auto t = impl_->tables_.find(project + "/" + dataset + "/" + table);
  return t == impl_->tables_.end() ? std::vector<Field>{} : t->second.schema;
}

size_t FakeGoogleApis::RowCount(const std::string& project, const std::string& dataset,
                                const std::string& table) const {
  std::lock_guard lock(impl_->mutex_);
  auto t = impl_->tables_.find(project + "/" + dataset + "/" + table);
  return t == impl_->tables_.end() ? 0 : t->second.rows.size();
}

std::vector<std::map<std::string, std::string>> FakeGoogleApis::TableRows(
    const std::string& project, const std::string& dataset, const std::string& table) const {
  std::lock_guard lock(impl_->mutex_);
  std::vector<std::map<std::string, std::string>> rows;
  auto t = impl_->tables_.find(project + "/" + dataset + "/" + table);
  if (t == impl_->tables_.end()) return rows;
  for (const Row& row : t->second.rows) rows.push_back(row.cells);
  return rows;
}

std::string FakeGoogleApis::AddRow(const std::string& project, const std::string& dataset,
                                   const std::string& table, const std::string& json_row) {
  std::lock_guard lock(impl_->mutex_);
  auto t = impl_->tables_.find(project + "/" + dataset + "/" + table);
  if (t == impl_->tables_.end()) return "notFound";
  simdjson::dom::parser parser;
  simdjson::dom::object json;
  if (parser.parse(json_row).get_object().get(json)) return "invalid";
  Row row;
  std::string problem = Impl::ParseRow(t->second.schema, json, row);
  if (!problem.empty()) return problem;
  row.sequence = ++impl_->sequence_;
  t->second.rows.push_back(std::move(row));
  return "";
}

std::string FakeGoogleApis::RunQuery(const std::string& sql) {
  std::lock_guard lock(impl_->mutex_);
  Impl::Evaluation answer = impl_->Evaluate(sql, {});
  if (!answer.problem.empty()) return "error: " + answer.problem;
  simdjson::dom::parser parser;
  simdjson::dom::element cell;
  std::string_view text;
  if (parser.parse("{" + answer.result + "}").get(cell) ||
      cell["rows"].at(0)["f"].at(0)["v"].get(cell)) {
    return "error: the answer has no value";
  }
  if (cell.is_null()) return "NULL";
  return cell.get_string().get(text) ? "error: the value is not a string" : std::string(text);
}

void FakeGoogleApis::SetInsertIdDedup(bool on) {
  std::lock_guard lock(impl_->mutex_);
  impl_->dedup_ = on;
}

void FakeGoogleApis::SetStreamingBuffer(bool rows_in_buffer) {
  std::lock_guard lock(impl_->mutex_);
  impl_->streaming_buffer_ = rows_in_buffer;
}

void FakeGoogleApis::SetIncompleteAnswers(int answers) {
  std::lock_guard lock(impl_->mutex_);
  impl_->incomplete_next_ = answers;
}

void FakeGoogleApis::InsertErrorsNext(const std::string& reason, int times) {
  std::lock_guard lock(impl_->mutex_);
  impl_->insert_error_reason_ = reason;
  impl_->insert_errors_times_ = times;
}

void FakeGoogleApis::FailNext(Op op, int status, int times) {
  std::lock_guard lock(impl_->mutex_);
  impl_->faults_[op] = Fault{status, times, false};
}

void FakeGoogleApis::FailNextAfterApplying(Op op, int status) {
  std::lock_guard lock(impl_->mutex_);
  impl_->faults_[op] = Fault{status, 1, true};
}

int FakeGoogleApis::Count(Op op) const {
  std::lock_guard lock(impl_->mutex_);
  auto it = impl_->counts_.find(op);
  return it == impl_->counts_.end() ? 0 : it->second;
}

std::vector<std::string> FakeGoogleApis::ProtocolErrors() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->protocol_errors_;
}

}  // namespace buildtrace
