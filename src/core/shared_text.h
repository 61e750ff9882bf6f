// Immutable bytes that several holders share without copying them: a rendered answer kept in
// memory (service/answer_cache.h) and the responses sending it (http/response_body.h).
#pragma once

#include <memory>
#include <string>

namespace buildtrace {

using SharedText = std::shared_ptr<const std::string>;

}  // namespace buildtrace
