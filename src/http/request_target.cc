// Request target parsing and typed query parameters.
#include "http/request_target.h"

#include <charconv>

namespace buildtrace {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `in`; '+' means a space in query parts.
std::optional<std::string> Decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
    out.push_back(c);
  }
  return out;
}

Status BadTarget(const std::string& why) {
  return InvalidArgument("the request URL " + why).WithReason("invalid_request");
}

}  // namespace

Result<RequestTarget> ParseRequestTarget(std::string_view target) {
  if (target.size() > 8192) return BadTarget("is longer than 8192 bytes");
  if (target.empty() || target[0] != '/') return BadTarget("must start with '/'");
  const size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  RequestTarget parsed;
  path.remove_prefix(1);
  if (path.ends_with('/')) path.remove_suffix(1);
  while (!path.empty()) {
    const size_t slash = path.find('/');
    auto segment = Decode(path.substr(0, slash), false);
    if (!segment || segment->empty()) return BadTarget("has an invalid path");
    parsed.segments.push_back(std::move(*segment));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
    if (path.empty()) return BadTarget("has an invalid path");
  }
  if (q == std::string_view::npos) return parsed;
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      auto name = Decode(pair.substr(0, eq), true);
      auto value = Decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
      if (!name || !value) return BadTarget("has an invalid percent-encoding in its query");
      if (parsed.params.count(*name)) {
        return BadTarget("gives the parameter \"" + *name + "\" twice; give it once");
      }
      parsed.params.emplace(std::move(*name), std::move(*value));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return parsed;
}

Status CheckParams(const RequestTarget& target, std::span<const std::string_view> allowed) {
  for (const auto& [name, value] : target.params) {
    bool known = false;
    std::string list;
    for (std::string_view a : allowed) {
      known |= a == name;
      list += (list.empty() ? "" : ", ") + std::string(a);
    }
    if (!known) {
      return InvalidArgument("unknown query parameter \"" + name.substr(0, 64) + "\"; " +
                             (list.empty() ? std::string("this endpoint takes none")
                                           : "this endpoint takes " + list))
          .WithReason("invalid_request");
    }
  }
  return Status::Ok();
}

Result<int64_t> ParseJobIdText(std::string_view text, std::string_view what) {
  int64_t id = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), id);
  if (text.empty() || text[0] == '-' || text[0] == '+' || r.ec != std::errc() ||
      r.ptr != text.data() + text.size() || id < 1) {
    return InvalidArgument(std::string(what) + " must be an integer from 1 to " +
                           "9223372036854775807")
        .WithReason("invalid_request");
  }
  return id;
}

std::string StringParam(const RequestTarget& target, const std::string& name,
                        std::string_view fallback) {
  auto it = target.params.find(name);
  return it == target.params.end() ? std::string(fallback) : it->second;
}

Result<int64_t> IntParam(const RequestTarget& target, const std::string& name,
                         int64_t default_value, int64_t max, int64_t min) {
  auto it = target.params.find(name);
  if (it == target.params.end()) return default_value;
  const std::string& text = it->second;
  int64_t value = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size() || value < min ||
      value > max) {
    return InvalidArgument(name + " must be an integer from " + std::to_string(min) + " to " +
                           std::to_string(max))
        .WithReason("invalid_request");
  }
  return value;
}

Result<int64_t> ParseWindow(std::string_view text) {
  auto bad = [&] {
    return InvalidArgument(
               "window must be a positive number and a unit s, m, h, d or w, e.g. "
               "30d, at most 100 years")
        .WithReason("invalid_request");
  };
  if (text.size() < 2) return bad();
  int64_t n = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size() - 1, n);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() - 1 || n < 1) return bad();
  int64_t unit_ms = 0;
  switch (text.back()) {
    case 's':
      unit_ms = 1000;
      break;
    case 'm':
      unit_ms = 60'000;
      break;
    case 'h':
      unit_ms = 3'600'000;
      break;
    case 'd':
      unit_ms = 86'400'000;
      break;
    case 'w':
      unit_ms = 7 * 86'400'000LL;
      break;
    default:
      return bad();
  }
  constexpr int64_t kMaxMs = 36'525LL * 86'400'000;
  if (n > kMaxMs / unit_ms) return bad();
  return n * unit_ms;
}

Result<std::vector<double>> ParseQuantiles(std::string_view text) {
  auto bad = [] {
    return InvalidArgument(
               "quantiles must be 1 to 20 comma-separated numbers in [0, 1], e.g. "
               "0.5,0.95,0.99")
        .WithReason("invalid_request");
  };
  std::vector<double> out;
  while (true) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    double q = -1;
    auto r = std::from_chars(item.data(), item.data() + item.size(), q);
    if (item.empty() || r.ec != std::errc() || r.ptr != item.data() + item.size() || !(q >= 0) ||
        q > 1 || out.size() >= 20) {
      return bad();
    }
    out.push_back(q);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace buildtrace
