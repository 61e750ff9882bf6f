// Reading the two XML documents the S3 store needs from an S3-compatible server: a ListObjectsV2
// page and an error body. Not a general XML parser: it walks elements (skipping the declaration,
// comments, processing instructions and attributes), checks that tags nest, and decodes the
// predefined and numeric character references in text. Input is untrusted: malformed documents
// give an error, never a crash.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace buildtrace {

struct S3ListPage {
  std::vector<std::string> keys;  // each <Contents><Key>, decoded, in document order
  bool is_truncated = false;
  std::string next_continuation_token;  // decoded; empty if absent
};

// Parses a <ListBucketResult> document. kInvalidArgument, saying what is wrong, for anything
// else or for malformed XML.
Result<S3ListPage> ParseListObjectsV2(std::string_view xml);

struct S3ErrorBody {
  std::string code;     // e.g. "SignatureDoesNotMatch"; empty if absent
  std::string message;  // S3's sentence; empty if absent
};

// The <Code> and <Message> of an <Error> document; both empty when `xml` is not one (an empty
// body, HTML from a proxy, malformed XML).
S3ErrorBody ParseS3Error(std::string_view xml);

// Replaces &amp; &lt; &gt; &quot; &apos; and &#N; / &#xH; (written as UTF-8) in XML text;
// nullopt for any other '&' sequence or a code point XML does not allow.
std::optional<std::string> DecodeXmlText(std::string_view text);

}  // namespace buildtrace
