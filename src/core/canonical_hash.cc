// Canonical JSON of structured objects, and SHA-256 through OpenSSL's EVP interface.
#include "core/canonical_hash.h"

#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "core/json_writer.h"

namespace buildtrace {
namespace {

using simdjson::ondemand::json_type;

Status Malformed(const char* what) {
  return InvalidArgument(std::string("structured object: ") + what);
}

Status AppendCanonicalObject(simdjson::ondemand::object object, int depth_left, std::string& out) {
  std::vector<std::pair<std::string_view, std::string>> members;
  for (auto field : object) {
    std::string_view key;
    simdjson::ondemand::value child;
    if (field.unescaped_key().get(key) || field.value().get(child)) {
      return Malformed("is not valid JSON");
    }
    std::string canonical;
    if (Status s = AppendCanonicalJson(child, depth_left - 1, canonical); !s.ok()) return s;
    members.emplace_back(key, std::move(canonical));
  }
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 1; i < members.size(); ++i) {
    if (members[i].first == members[i - 1].first) {
      return InvalidArgument("structured object: key \"" + std::string(members[i].first) +
                             "\" appears twice; each attribute must appear once");
    }
  }
  out.push_back('{');
  for (size_t i = 0; i < members.size(); ++i) {
    if (i) out.push_back(',');
    AppendJsonString(out, members[i].first);
    out.push_back(':');
    out.append(members[i].second);
  }
  out.push_back('}');
  return Status::Ok();
}

Status AppendCanonicalArray(simdjson::ondemand::array array, int depth_left, std::string& out) {
  out.push_back('[');
  bool first = true;
  for (auto element : array) {
    simdjson::ondemand::value child;
    if (element.get(child)) return Malformed("is not valid JSON");
    if (!first) out.push_back(',');
    first = false;
    if (Status s = AppendCanonicalJson(child, depth_left - 1, out); !s.ok()) return s;
  }
  out.push_back(']');
  return Status::Ok();
}

}  // namespace

Status AppendCanonicalJson(simdjson::ondemand::value value, int max_depth, std::string& out) {
  json_type type;
  if (value.type().get(type)) return Malformed("is not valid JSON");
  switch (type) {
    case json_type::object: {
      if (max_depth <= 0) return Malformed("nests too deeply");
      simdjson::ondemand::object object;
      if (value.get_object().get(object)) return Malformed("is not valid JSON");
      return AppendCanonicalObject(object, max_depth, out);
    }
    case json_type::array: {
      if (max_depth <= 0) return Malformed("nests too deeply");
      simdjson::ondemand::array array;
      if (value.get_array().get(array)) return Malformed("is not valid JSON");
      return AppendCanonicalArray(array, max_depth, out);
    }
    case json_type::string: {
      std::string_view s;
      if (value.get_string().get(s)) return Malformed("holds an invalid string");
      AppendJsonString(out, s);
      return Status::Ok();
    }
    case json_type::number: {
      double d;
      if (value.get_double().get(d)) return Malformed("holds a number that does not fit a double");
      AppendJsonNumber(out, d);
      return Status::Ok();
    }
    case json_type::boolean: {
      bool b;
      if (value.get_bool().get(b)) return Malformed("holds an invalid literal");
      out.append(b ? "true" : "false");
      return Status::Ok();
    }
    case json_type::null: {
      // is_null() fails on a bad literal such as "nul"; its implicit bool conversion would throw.
      bool is_null = false;
      if (value.is_null().get(is_null) || !is_null) return Malformed("holds an invalid literal");
      out.append("null");
      return Status::Ok();
    }
  }
  return Malformed("is not valid JSON");
}

namespace {

std::string Sha256HexOf(std::span<const std::string_view> pieces) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // These only fail on allocation failure, which the rest of the program treats as fatal.
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                  &EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) {
    throw std::bad_alloc();
  }
  for (std::string_view piece : pieces) EVP_DigestUpdate(context.get(), piece.data(), piece.size());
  EVP_DigestFinal_ex(context.get(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(length * 2, '0');
  for (unsigned int i = 0; i < length; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return hex;
}

}  // namespace

std::string Sha256Hex(std::string_view data) { return Sha256HexOf(std::span(&data, 1)); }

std::string ContentDigest(std::string_view data) { return "sha256:" + Sha256Hex(data); }

std::string ContentDigest(std::span<const std::string_view> pieces) {
  return "sha256:" + Sha256HexOf(pieces);
}

}  // namespace buildtrace
