// Expected failures as values: a small set of codes, a one-sentence message that says what to do,
// and optional per-field details (used for validation errors). The HTTP layer maps codes to
// statuses in one place (http/error_response.cc); nothing below it knows about HTTP.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace buildtrace {

enum class StatusCode {
  kOk,
  kInvalidArgument,  // the caller sent something wrong; retrying the same input fails again
  kNotFound,         // the named thing does not exist
  kAlreadyExists,    // a create-if-absent found the name taken (not necessarily an error)
  kConflict,         // the request contradicts what is stored
  kTooLarge,         // the input exceeds a configured limit
  kUnavailable,      // a backend could not be reached; retrying later may work
  kInternal,         // a bug or corrupt data; retrying does not help
};

// One problem with one field of one input item, e.g. job 2's "latency_ms".
struct StatusDetail {
  std::optional<int64_t> index;  // position of the item in the request, when there is one
  std::string field;             // dotted path of the field, e.g. "state.D003"
  std::string message;

  bool operator==(const StatusDetail&) const = default;
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message, std::vector<StatusDetail> details = {})
      : code_(code), message_(std::move(message)), details_(std::move(details)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::vector<StatusDetail>& details() const { return details_; }

  // A machine-readable reason more specific than the code, e.g. "malformed_json"; empty if none.
  const std::string& reason() const { return reason_; }
  Status WithReason(std::string reason) && {
    reason_ = std::move(reason);
    return std::move(*this);
  }

  // Prefixes the message with context, e.g. "reading job 12: ".
  Status WithContext(const std::string& context) const {
    Status s(code_, context + message_, details_);
    s.reason_ = reason_;
    return s;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::vector<StatusDetail> details_;
  std::string reason_;
};

inline Status InvalidArgument(std::string m, std::vector<StatusDetail> d = {}) {
  return Status(StatusCode::kInvalidArgument, std::move(m), std::move(d));
}
inline Status NotFound(std::string m) { return Status(StatusCode::kNotFound, std::move(m)); }
inline Status AlreadyExists(std::string m) {
  return Status(StatusCode::kAlreadyExists, std::move(m));
}
inline Status Conflict(std::string m, std::vector<StatusDetail> d = {}) {
  return Status(StatusCode::kConflict, std::move(m), std::move(d));
}
inline Status TooLarge(std::string m) { return Status(StatusCode::kTooLarge, std::move(m)); }
inline Status Unavailable(std::string m) { return Status(StatusCode::kUnavailable, std::move(m)); }
inline Status Internal(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }

const char* StatusCodeName(StatusCode code);

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : value_(std::move(status)) {}  // NOLINT: must not be Ok

  bool ok() const { return std::holds_alternative<T>(value_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(value_);
  }
  T& value() & { return std::get<T>(value_); }
  const T& value() const& { return std::get<T>(value_); }
  T&& value() && { return std::get<T>(std::move(value_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> value_;
};

}  // namespace buildtrace
