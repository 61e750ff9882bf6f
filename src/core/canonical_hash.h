// Canonical form and SHA-256 of structured objects. A client may send an object's attributes
// instead of a hash; the service writes them in one canonical form (keys sorted by their UTF-8
// bytes, no whitespace, numbers normalised as in AppendJsonNumber, strings escaped as in
// AppendJsonString) so that the same attributes in another key order or number spelling
// ("5", "5.0", "5e0") are the same object, and hashes that form with SHA-256.
#pragma once

#include <simdjson.h>

#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace buildtrace {

// Appends the canonical JSON of `value` (any JSON value) to `out`. Rejects, with
// kInvalidArgument and a message naming the problem: nesting deeper than `max_depth` levels, a
// key that appears twice in one object, numbers that do not fit a double. Consumes `value`.
Status AppendCanonicalJson(simdjson::ondemand::value value, int max_depth, std::string& out);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// "sha256:" + Sha256Hex(data): the form digests take in every API answer.
std::string ContentDigest(std::string_view data);
// The same of the pieces' bytes one after the other, without joining them.
std::string ContentDigest(std::span<const std::string_view> pieces);

}  // namespace buildtrace
