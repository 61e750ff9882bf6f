// A small, iterative walk over XML elements (no recursion, bounded depth), enough for the flat
// documents S3 answers with. Text is collected raw per element and decoded only where it is used.
#include "store/s3_xml.h"

#include <cstdint>
#include <functional>

namespace buildtrace {
namespace {

constexpr size_t kMaxDepth = 64;

// Called at each element's end with the names from the root down to it, and its own text (raw,
// not yet decoded; text of child elements is not included).
using ElementEnd =
    std::function<Status(const std::vector<std::string_view>& path, const std::string& text)>;

bool IsXmlSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool IsAllSpace(std::string_view text) {
  for (char c : text) {
    if (!IsXmlSpace(c)) return false;
  }
  return true;
}

Status Malformed(std::string_view what) {
  return InvalidArgument("malformed XML: " + std::string(what));
}

// The position of the '>' that ends the tag starting after `from`, skipping quoted attribute
// values; npos if there is none or a '<' comes first.
size_t FindTagEnd(std::string_view xml, size_t from) {
  char quote = 0;
  for (size_t i = from; i < xml.size(); ++i) {
    const char c = xml[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '>') {
      return i;
    } else if (c == '<') {
      return std::string_view::npos;
    }
  }
  return std::string_view::npos;
}

// CDATA content is literal; it is stored escaped so that the one decoding step restores it.
void AppendEscaped(std::string& out, std::string_view literal) {
  for (char c : literal) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else {
      out += c;
    }
  }
}

// Handles the tag `tag` (the text between '<' and '>'): pushes a start tag, pops an end tag.
Status OnTag(std::string_view tag, std::vector<std::string_view>& path,
             std::vector<std::string>& texts, bool& seen_root, const ElementEnd& on_end) {
  if (tag.starts_with('/')) {
    std::string_view name = tag.substr(1);
    while (!name.empty() && IsXmlSpace(name.back())) name.remove_suffix(1);
    if (path.empty() || path.back() != name) {
      return Malformed("end tag </" + std::string(name) + "> does not match");
    }
    if (Status s = on_end(path, texts.back()); !s.ok()) return s;
    path.pop_back();
    texts.pop_back();
    return Status::Ok();
  }
  const bool self_closing = tag.ends_with('/');
  if (self_closing) tag.remove_suffix(1);
  size_t name_end = 0;
  while (name_end < tag.size() && !IsXmlSpace(tag[name_end])) ++name_end;
  const std::string_view name = tag.substr(0, name_end);
  if (name.empty()) return Malformed("a tag without a name");
  if (path.empty() && seen_root)
    return Malformed("a second root element <" + std::string(name) + ">");
  if (path.size() >= kMaxDepth) return Malformed("elements nested too deeply");
  seen_root = true;
  path.push_back(name);
  texts.emplace_back();
  if (!self_closing) return Status::Ok();
  if (Status s = on_end(path, texts.back()); !s.ok()) return s;
  path.pop_back();
  texts.pop_back();
  return Status::Ok();
}

Status WalkXml(std::string_view xml, const ElementEnd& on_end) {
  std::vector<std::string_view> path;
  std::vector<std::string> texts;
  bool seen_root = false;
  size_t i = 0;
  while (i < xml.size()) {
    const size_t lt = xml.find('<', i);
    const std::string_view text = xml.substr(i, lt == std::string_view::npos ? xml.npos : lt - i);
    if (path.empty() && !IsAllSpace(text)) return Malformed("text outside the root element");
    if (!path.empty()) texts.back() += text;
    if (lt == std::string_view::npos) break;
    const std::string_view rest = xml.substr(lt);
    size_t end = std::string_view::npos;
    if (rest.starts_with("<?")) {
      if ((end = xml.find("?>", lt + 2)) == xml.npos) return Malformed("unterminated <?");
      i = end + 2;
    } else if (rest.starts_with("<!--")) {
      if ((end = xml.find("-->", lt + 4)) == xml.npos) return Malformed("unterminated comment");
      i = end + 3;
    } else if (rest.starts_with("<![CDATA[")) {
      if (path.empty()) return Malformed("CDATA outside the root element");
      if ((end = xml.find("]]>", lt + 9)) == xml.npos) return Malformed("unterminated CDATA");
      AppendEscaped(texts.back(), xml.substr(lt + 9, end - lt - 9));
      i = end + 3;
    } else if (rest.starts_with("<!")) {
      return Malformed("document type declarations are not supported");
    } else {
      if ((end = FindTagEnd(xml, lt + 1)) == xml.npos) return Malformed("unterminated tag");
      if (Status s = OnTag(xml.substr(lt + 1, end - lt - 1), path, texts, seen_root, on_end);
          !s.ok()) {
        return s;
      }
      i = end + 1;
    }
  }
  if (!path.empty()) return Malformed("element <" + std::string(path.back()) + "> is not closed");
  if (!seen_root) return Malformed("no root element");
  return Status::Ok();
}

// XML 1.0's Char production.
bool IsXmlChar(uint32_t c) {
  return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
         (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

void AppendUtf8(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// The code point of "#123" or "#x7B"; nullopt if malformed or not an XML character.
std::optional<uint32_t> ParseCharRef(std::string_view ref) {
  ref.remove_prefix(1);  // '#'
  int base = 10;
  if (!ref.empty() && ref.front() == 'x') {
    base = 16;
    ref.remove_prefix(1);
  }
  if (ref.empty() || ref.size() > 8) return std::nullopt;
  uint32_t value = 0;
  for (char c : ref) {
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (base == 16 && c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (base == 16 && c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    if (digit < 0) return std::nullopt;
    value = value * static_cast<uint32_t>(base) + static_cast<uint32_t>(digit);
  }
  if (!IsXmlChar(value)) return std::nullopt;
  return value;
}

}  // namespace

std::optional<std::string> DecodeXmlText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text[i] != '&') {
      out += text[i++];
      continue;
    }
    const size_t semi = text.find(';', i);
    if (semi == std::string_view::npos || semi - i > 11) return std::nullopt;
    const std::string_view entity = text.substr(i + 1, semi - i - 1);
    if (entity == "amp") {
      out += '&';
    } else if (entity == "lt") {
      out += '<';
    } else if (entity == "gt") {
      out += '>';
    } else if (entity == "quot") {
      out += '"';
    } else if (entity == "apos") {
      out += '\'';
    } else if (entity.starts_with('#')) {
      const std::optional<uint32_t> c = ParseCharRef(entity);
      if (!c) return std::nullopt;
      AppendUtf8(out, *c);
    } else {
      return std::nullopt;
    }
    i = semi + 1;
  }
  return out;
}

Result<S3ListPage> ParseListObjectsV2(std::string_view xml) {
  S3ListPage page;
  std::string root;
  auto decode_into = [](const std::string& text, std::string& out, std::string_view element) {
    std::optional<std::string> decoded = DecodeXmlText(text);
    if (!decoded) return Malformed("bad character reference in <" + std::string(element) + ">");
    out = std::move(*decoded);
    return Status::Ok();
  };
  const Status walked = WalkXml(
      xml, [&](const std::vector<std::string_view>& path, const std::string& text) -> Status {
        if (path.size() == 1) root = path[0];
        if (path[0] != "ListBucketResult") return Status::Ok();
        if (path.size() == 3 && path[1] == "Contents" && path[2] == "Key") {
          return decode_into(text, page.keys.emplace_back(), "Key");
        }
        if (path.size() != 2) return Status::Ok();
        if (path[1] == "NextContinuationToken") {
          return decode_into(text, page.next_continuation_token, "NextContinuationToken");
        }
        if (path[1] == "IsTruncated") {
          if (text != "true" && text != "false") {
            return Malformed("<IsTruncated> is neither true nor false");
          }
          page.is_truncated = text == "true";
        }
        return Status::Ok();
      });
  if (!walked.ok()) return walked;
  if (root != "ListBucketResult") {
    return InvalidArgument("expected a <ListBucketResult> document, got <" + root + ">");
  }
  return page;
}

S3ErrorBody ParseS3Error(std::string_view xml) {
  S3ErrorBody error;
  const Status walked = WalkXml(
      xml, [&](const std::vector<std::string_view>& path, const std::string& text) -> Status {
        if (path.size() != 2 || path[0] != "Error") return Status::Ok();
        std::string* field = path[1] == "Code"      ? &error.code
                             : path[1] == "Message" ? &error.message
                                                    : nullptr;
        if (field != nullptr) *field = DecodeXmlText(text).value_or(text);
        return Status::Ok();
      });
  if (!walked.ok()) return {};
  return error;
}

}  // namespace buildtrace
