// simdjson On-Demand walk over a job body, checking each rule of the API as it goes. State IDs and
// hashes are not copied: without escapes they are views into the input, which ParsedJobs owns;
// the few with escapes are unescaped into ParsedJobs' own strings. The simdjson parser is freed
// (or kept for the next parse, SetParsersKept) when parsing ends, so a parsed job costs its input
// and one StateEntry per object.
#include "core/job_parser.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <mutex>
#include <string_view>
#include <vector>

#include "core/canonical_hash.h"
#include "core/flat_state.h"
#include "core/json_writer.h"
#include "core/state_index.h"
#include "core/timestamp.h"

namespace buildtrace {

using simdjson::ondemand::json_type;

class JobParser {
 public:
  JobParser(const ParseLimits& limits, ParsedJobs& out, simdjson::ondemand::parser& parser)
      : limits_(limits), out_(out), parser_(parser) {}

  // Parses `body` into a new ParsedJobs that owns it.
  static Result<std::unique_ptr<ParsedJobs>> Run(InputBytes body, const ParseLimits& limits,
                                                 bool allow_array);
  // Parses `input` into `out`'s jobs (their views point into `input`); the duplicate-ID check as
  // limits.check_duplicate_ids says, never deferred.
  static Status ParseInto(const InputBytes& input, ParsedJobs& out, const ParseLimits& limits,
                          bool allow_array);

  Status Parse(simdjson::padded_string_view body, bool allow_array);

 private:
  Status Walk(simdjson::padded_string_view body, bool allow_array);
  // Which top-level fields a job object has shown so far (to catch repeats and missing ones).
  enum Field : unsigned {
    kJobId = 1,
    kProject = 2,
    kTimestamp = 4,
    kLatency = 8,
    kStatus = 16,
    kMetadata = 32,
    kState = 64,
  };

  Status ParseArray(simdjson::ondemand::array array);
  Status ParseJobValue(simdjson::ondemand::value value, int64_t index);
  Status ParseJob(simdjson::ondemand::object object, int64_t index);
  Status ParseField(std::string_view key, simdjson::ondemand::value value, Job& job,
                    unsigned& seen);
  void ParseJobId(simdjson::ondemand::value value, Job& job);
  void ParseProject(simdjson::ondemand::value value, Job& job);
  void ParseTimestamp(simdjson::ondemand::value value, Job& job);
  void ParseLatency(simdjson::ondemand::value value, Job& job);
  void ParseStatus(simdjson::ondemand::value value, Job& job);
  Status ParseMetadata(simdjson::ondemand::value value, Job& job);
  Status ParseState(simdjson::ondemand::value value, Job& job);
  Status ParseStateValue(std::string_view id, simdjson::ondemand::value value, Job& job);
  Status CheckDuplicateIds(const Job& job);

  void Issue(std::string field, std::string message);
  Status Malformed(simdjson::error_code error) const;
  Status Outcome() const;

  const ParseLimits& limits_;
  ParsedJobs& out_;
  simdjson::ondemand::parser& parser_;
  std::vector<StatusDetail> issues_;
  size_t issue_count_ = 0;
  int64_t index_ = 0;  // of the job being parsed
  bool has_index_ = true;
  bool allow_array_ = true;
  int64_t jobs_seen_ = 0;
  // A state scanned already (flat_state.h), which the document's "state": {} stands for, and its
  // text when that is its stored form.
  JobState* prescanned_ = nullptr;
  std::string_view prescanned_json_;
};

namespace {

bool IsFatal(simdjson::error_code e) {
  return e != simdjson::SUCCESS && e != simdjson::INCORRECT_TYPE &&
         e != simdjson::NUMBER_OUT_OF_RANGE;
}

std::string Quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  size_t cut = std::min<size_t>(s.size(), 64);
  // Never cut a UTF-8 sequence in two: back up over continuation bytes.
  while (cut < s.size() && cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  out.append(s.substr(0, cut));
  if (cut < s.size()) out.append("...");
  out.push_back('"');
  return out;
}

enum class StringForm { kPlain, kEscaped, kInvalid };

// Scans the JSON string whose content starts at `raw` (just after its opening quote) up to its
// closing quote, which simdjson's first stage guarantees. Plain strings (no escape) can be used
// in place; JSON forbids raw control characters in strings, which simdjson does not check.
// Eight bytes at a time: reading past the closing quote stays within the document's padding,
// which simdjson requires after the last byte.
StringForm ScanString(const char* raw, size_t& length) {
  static_assert(std::endian::native == std::endian::little, "the first byte must be the lowest");
  bool escaped = false;
  for (const char* p = raw;;) {
    uint64_t word;
    std::memcpy(&word, p, sizeof word);
    const uint64_t mask = JsonEscapeMask(word);
    if (mask == 0) {
      p += sizeof word;
      continue;
    }
    p += std::countr_zero(mask) / 8;
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"') {
      length = static_cast<size_t>(p - raw);
      return escaped ? StringForm::kEscaped : StringForm::kPlain;
    }
    if (c != '\\') return StringForm::kInvalid;  // a control character
    escaped = true;
    p += 2;  // the backslash and the escaped character, which may be a quote
  }
}

constexpr std::string_view kAllowedFields =
    "job_id, project, timestamp, latency_ms, status, metadata, state";

// Reads a scalar of the given type; an error means it is not valid JSON ("tru", "nul", "12x").
// `V` is an On-Demand value or a document whose root is a scalar.
template <typename V>
simdjson::error_code ReadScalar(V& v, json_type type) {
  std::string_view text;
  double number = 0;
  bool flag = false;
  switch (type) {
    case json_type::string:
      return v.get_string().get(text);
    case json_type::number:
      return v.get_double().get(number) ? simdjson::NUMBER_ERROR : simdjson::SUCCESS;
    case json_type::boolean:
      return v.get_bool().get(flag) ? simdjson::T_ATOM_ERROR : simdjson::SUCCESS;
    case json_type::null:
      return v.is_null().get(flag) || !flag ? simdjson::N_ATOM_ERROR : simdjson::SUCCESS;
    default:
      return simdjson::INCORRECT_TYPE;
  }
}

// Reads every key and value below `value`; returns the first error. Recursive, so nesting deeper
// than `depth_left` levels is an error (as in simdjson's DOM parser) rather than a stack overflow.
simdjson::error_code ReadAll(simdjson::ondemand::value value, size_t depth_left) {
  json_type type;
  if (auto e = value.type().get(type)) return e;
  if ((type == json_type::object || type == json_type::array) && depth_left == 0) {
    return simdjson::DEPTH_ERROR;
  }
  if (type == json_type::object) {
    simdjson::ondemand::object object;
    if (auto e = value.get_object().get(object)) return e;
    for (auto field_result : object) {
      simdjson::ondemand::field field;
      std::string_view key;
      if (auto e = std::move(field_result).get(field)) return e;
      if (auto e = field.unescaped_key().get(key)) return e;
      if (auto e = ReadAll(field.value(), depth_left - 1)) return e;
    }
    return simdjson::SUCCESS;
  }
  if (type == json_type::array) {
    simdjson::ondemand::array array;
    if (auto e = value.get_array().get(array)) return e;
    for (auto element : array) {
      simdjson::ondemand::value child;
      if (auto e = element.get(child)) return e;
      if (auto e = ReadAll(child, depth_left - 1)) return e;
    }
    return simdjson::SUCCESS;
  }
  return ReadScalar(value, type);
}

// Reads the whole document once more; an error means the body is not valid JSON.
simdjson::error_code ReadDocument(simdjson::ondemand::parser& parser,
                                  simdjson::padded_string_view body) {
  simdjson::ondemand::document doc;
  json_type type;
  if (auto e = parser.iterate(body).get(doc)) return e;
  if (auto e = doc.type().get(type)) return e;
  if (type != json_type::object && type != json_type::array) return ReadScalar(doc, type);
  simdjson::ondemand::value root;
  if (auto e = doc.get_value().get(root)) return e;
  // The root is at depth 1 and simdjson tracks depths below max_depth: keep a level spare.
  if (auto e = ReadAll(root, parser.max_depth() - 2)) return e;
  const char* trailing = nullptr;
  return doc.current_location().get(trailing) ? simdjson::SUCCESS : simdjson::TRAILING_CONTENT;
}

}  // namespace

void JobParser::Issue(std::string field, std::string message) {
  ++issue_count_;
  if (issues_.size() >= limits_.max_details) return;
  StatusDetail d;
  if (has_index_) d.index = index_;
  d.field = std::move(field);
  d.message = std::move(message);
  issues_.push_back(std::move(d));
}

// A request body's sender is told what to send; a document (a stored job, a file for `diff`) was
// written by someone else, and its reader says what to do about it.
Status JobParser::Malformed(simdjson::error_code error) const {
  const std::string what = std::string("not valid JSON (") + simdjson::error_message(error) + ")";
  return (allow_array_ ? InvalidArgument("the body is " + what + "; send a JSON object or array")
                       : InvalidArgument("the document is " + what))
      .WithReason("malformed_json");
}

Status JobParser::Outcome() const {
  if (issue_count_ == 0) return Status::Ok();
  const StatusDetail& first = issues_.front();
  std::string message = std::to_string(issue_count_) + " problem" + (issue_count_ == 1 ? "" : "s") +
                        " found, the first: ";
  if (first.index) message += "job " + std::to_string(*first.index) + ": ";
  if (!first.field.empty()) message += first.field + ": ";
  message += first.message;
  return InvalidArgument(std::move(message), issues_).WithReason("invalid_job");
}

Status JobParser::Parse(simdjson::padded_string_view body, bool allow_array) {
  allow_array_ = allow_array;
  Status status = Walk(body, allow_array);
  // On-Demand checks a number or literal only when it is read, and the walk leaves unread the
  // values it rejects by type or skips (unknown fields, repeats), so a rejected body may still
  // hide "tru" or "12x". Malformed JSON is the answer then; reading the rejected body once more
  // tells, at no cost to accepted bodies (whose every value the walk has read).
  if (status.reason() == "invalid_job") {
    if (auto e = ReadDocument(parser_, body)) return Malformed(e);
  }
  return status;
}

Status JobParser::Walk(simdjson::padded_string_view body, bool allow_array) {
  simdjson::ondemand::document doc;
  if (auto e = parser_.iterate(body).get(doc)) return Malformed(e);
  json_type type;
  if (auto e = doc.type().get(type)) return Malformed(e);
  if (type == json_type::array && allow_array) {
    simdjson::ondemand::array array;
    if (auto e = doc.get_array().get(array)) return Malformed(e);
    if (Status s = ParseArray(array); !s.ok()) return s;
  } else if (type == json_type::object) {
    simdjson::ondemand::object object;
    if (auto e = doc.get_object().get(object)) return Malformed(e);
    if (Status s = ParseJob(object, 0); !s.ok()) return s;
  } else {
    has_index_ = false;
    Issue("", allow_array ? "the body must be a job object or an array of job objects"
                          : "the document must be a job object");
    return Outcome();
  }
  const char* trailing = nullptr;
  if (!doc.current_location().get(trailing)) return Malformed(simdjson::TRAILING_CONTENT);
  return Outcome();
}

Status JobParser::ParseArray(simdjson::ondemand::array array) {
  int64_t index = 0;
  for (auto element : array) {
    simdjson::ondemand::value value;
    if (auto e = element.get(value)) return Malformed(e);
    if (static_cast<size_t>(index) >= limits_.max_jobs) {
      return TooLarge("the request holds more than " + std::to_string(limits_.max_jobs) +
                      " jobs; split it into smaller requests")
          .WithReason("too_many_jobs");
    }
    if (Status s = ParseJobValue(value, index++); !s.ok()) return s;
  }
  if (index == 0) {
    has_index_ = false;
    Issue("", "the array holds no jobs; send at least one");
  }
  return Status::Ok();
}

Status JobParser::ParseJobValue(simdjson::ondemand::value value, int64_t index) {
  simdjson::ondemand::object object;
  auto e = value.get_object().get(object);
  if (e == simdjson::INCORRECT_TYPE) {
    index_ = index;
    Issue("", "a job must be a JSON object");
    return Status::Ok();
  }
  if (e) return Malformed(e);
  return ParseJob(object, index);
}

Status JobParser::ParseJob(simdjson::ondemand::object object, int64_t index) {
  index_ = index;
  const size_t issues_before = issue_count_;
  Job job;
  unsigned seen = 0;
  for (auto field_result : object) {
    simdjson::ondemand::field field;
    std::string_view key;
    if (auto e = std::move(field_result).get(field)) return Malformed(e);
    if (auto e = field.unescaped_key().get(key)) return Malformed(e);
    if (Status s = ParseField(key, field.value(), job, seen); !s.ok()) return s;
  }
  const std::pair<unsigned, const char*> required[] = {
      {kJobId, "job_id"}, {kTimestamp, "timestamp"}, {kLatency, "latency_ms"}, {kState, "state"}};
  for (const auto& [bit, name] : required) {
    if (!(seen & bit)) Issue(name, "is required");
  }
  if (issue_count_ == issues_before) out_.jobs_.push_back(std::move(job));
  ++jobs_seen_;
  return Status::Ok();
}

Status JobParser::ParseField(std::string_view key, simdjson::ondemand::value value, Job& job,
                             unsigned& seen) {
  static const std::pair<std::string_view, Field> kFields[] = {
      {"job_id", kJobId},       {"project", kProject}, {"timestamp", kTimestamp},
      {"latency_ms", kLatency}, {"status", kStatus},   {"metadata", kMetadata},
      {"state", kState}};
  Field bit{};
  for (const auto& [name, b] : kFields) {
    if (key == name) bit = b;
  }
  if (bit == Field{}) {
    Issue(std::string(key),
          "unknown field; the fields of a job are " + std::string(kAllowedFields));
    return Status::Ok();
  }
  if (seen & bit) {
    Issue(std::string(key), "appears twice; each field must appear once");
    return Status::Ok();
  }
  seen |= bit;
  switch (bit) {
    case kJobId:
      ParseJobId(value, job);
      return Status::Ok();
    case kProject:
      ParseProject(value, job);
      return Status::Ok();
    case kTimestamp:
      ParseTimestamp(value, job);
      return Status::Ok();
    case kLatency:
      ParseLatency(value, job);
      return Status::Ok();
    case kStatus:
      ParseStatus(value, job);
      return Status::Ok();
    case kMetadata:
      return ParseMetadata(value, job);
    case kState:
      return ParseState(value, job);
  }
  return Status::Ok();
}

void JobParser::ParseJobId(simdjson::ondemand::value value, Job& job) {
  int64_t id = 0;
  json_type type;
  if (value.type().get(type) || type != json_type::number || value.get_int64().get(id) || id < 1) {
    Issue("job_id", "must be an integer from 1 to 9223372036854775807");
    return;
  }
  job.header.job_id = id;
}

void JobParser::ParseProject(simdjson::ondemand::value value, Job& job) {
  std::string_view project;
  if (value.get_string().get(project) || !IsValidProjectName(project)) {
    Issue("project",
          "must be 1-128 characters of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter "
          "or digit");
    return;
  }
  job.header.project = std::string(project);
}

void JobParser::ParseTimestamp(simdjson::ondemand::value value, Job& job) {
  std::string_view text;
  std::optional<int64_t> ms;
  if (!value.get_string().get(text)) ms = ParseRfc3339(text);
  if (!ms) {
    Issue("timestamp",
          "must be an RFC 3339 date-time with an offset, e.g. \"2026-11-28T10:00:00Z\"");
    return;
  }
  job.header.timestamp = std::string(text);
  job.header.timestamp_ms = *ms;
}

void JobParser::ParseLatency(simdjson::ondemand::value value, Job& job) {
  double latency = -1;
  json_type type;
  if (value.type().get(type) || type != json_type::number || value.get_double().get(latency) ||
      !std::isfinite(latency) || latency < 0) {
    Issue("latency_ms", "must be a number of milliseconds >= 0");
    return;
  }
  job.header.latency_ms = latency;
}

void JobParser::ParseStatus(simdjson::ondemand::value value, Job& job) {
  std::string_view status;
  if (!value.get_string().get(status)) {
    if (status == "succeeded") return void(job.header.status = JobStatus::kSucceeded);
    if (status == "failed") return void(job.header.status = JobStatus::kFailed);
  }
  Issue("status", "must be \"succeeded\" or \"failed\"");
}

Status JobParser::ParseMetadata(simdjson::ondemand::value value, Job& job) {
  simdjson::ondemand::object object;
  if (auto e = value.get_object().get(object)) {
    if (IsFatal(e)) return Malformed(e);
    Issue("metadata", "must be an object of string values, e.g. {\"branch\": \"main\"}");
    return Status::Ok();
  }
  for (auto field_result : object) {
    simdjson::ondemand::field field;
    std::string_view key, text;
    if (auto e = std::move(field_result).get(field)) return Malformed(e);
    if (auto e = field.unescaped_key().get(key)) return Malformed(e);
    auto e = field.value().get_string().get(text);
    if (IsFatal(e)) return Malformed(e);
    const std::string name = "metadata." + std::string(key);
    if (e) {
      Issue(name, "must be a string");
    } else if (key.empty() || key.size() > limits_.max_metadata_key_bytes) {
      Issue(name, "keys must be 1-" + std::to_string(limits_.max_metadata_key_bytes) + " bytes");
    } else if (text.size() > limits_.max_metadata_value_bytes) {
      Issue(name, "must be at most " + std::to_string(limits_.max_metadata_value_bytes) + " bytes");
    } else if (job.header.metadata.size() >= limits_.max_metadata_entries) {
      Issue("metadata",
            "holds more than " + std::to_string(limits_.max_metadata_entries) + " entries");
      break;
    } else {
      for (const auto& [k, v] : job.header.metadata) {
        if (k == key) Issue(name, "appears twice; each key must appear once");
      }
      job.header.metadata.emplace_back(key, text);
    }
  }
  return Status::Ok();
}

Status JobParser::ParseState(simdjson::ondemand::value value, Job& job) {
  simdjson::ondemand::object object;
  if (auto e = value.get_object().get(object)) {
    if (IsFatal(e)) return Malformed(e);
    Issue("state",
          "must be an object mapping object IDs to hashes, e.g. {\"D003\": \"door_10_20_5_5\"}");
    return Status::Ok();
  }
  if (prescanned_ != nullptr) {
    job.state = std::move(*prescanned_);
    job.state_json = prescanned_json_;
    prescanned_ = nullptr;
    return limits_.check_duplicate_ids ? CheckDuplicateIds(job) : Status::Ok();
  }
  if (out_.jobs_.empty() && !allow_array_) {
    // One job per document: its objects are most of the input, at 20 bytes or more each.
    job.state.reserve(out_.input_.size() / 24);
  }
  for (auto field_result : object) {
    simdjson::ondemand::field field;
    if (auto e = std::move(field_result).get(field)) return Malformed(e);
    std::string_view id;
    size_t length = 0;
    switch (ScanString(field.key().raw(), length)) {
      case StringForm::kPlain:
        id = std::string_view(field.key().raw(), length);
        break;
      case StringForm::kEscaped:
        if (auto e = field.unescaped_key().get(id)) return Malformed(e);
        id = out_.strings_.emplace_back(id);
        break;
      case StringForm::kInvalid:
        return Malformed(simdjson::UNESCAPED_CHARS);
    }
    if (job.state.size() >= limits_.max_objects) {
      Issue("state", "holds more than " + std::to_string(limits_.max_objects) + " objects");
      return Status::Ok();
    }
    if (id.empty() || id.size() > limits_.max_id_bytes) {
      Issue("state", "object IDs must be 1-" + std::to_string(limits_.max_id_bytes) + " bytes; " +
                         Quoted(id) + " is not");
      continue;
    }
    if (Status s = ParseStateValue(id, field.value(), job); !s.ok()) return s;
  }
  return limits_.check_duplicate_ids ? CheckDuplicateIds(job) : Status::Ok();
}

Status JobParser::CheckDuplicateIds(const Job& job) {
  if (auto dup = StateIndex(job.state, IndexThreadsFor(job.state.size())).duplicate()) {
    Issue("state." + std::string(*dup),
          "this object ID appears twice; each object must appear once");
  }
  return Status::Ok();
}

Status JobParser::ParseStateValue(std::string_view id, simdjson::ondemand::value value, Job& job) {
  json_type type;
  if (auto e = value.type().get(type)) return Malformed(e);
  if (type == json_type::string) {
    std::string_view hash;
    const std::string_view token = value.raw_json_token();
    size_t length = 0;
    switch (ScanString(token.data() + 1, length)) {
      case StringForm::kPlain: {
        simdjson::ondemand::raw_json_string raw;
        if (auto e = value.get_raw_json_string().get(raw)) return Malformed(e);
        hash = std::string_view(token.data() + 1, length);
        break;
      }
      case StringForm::kEscaped:
        if (auto e = value.get_string().get(hash)) return Malformed(e);
        hash = out_.strings_.emplace_back(hash);
        break;
      case StringForm::kInvalid:
        return Malformed(simdjson::UNESCAPED_CHARS);
    }
    if (hash.empty() || hash.size() > limits_.max_hash_bytes) {
      Issue("state." + std::string(id),
            "a hash must be 1-" + std::to_string(limits_.max_hash_bytes) + " bytes");
      return Status::Ok();
    }
    job.state.push_back({id, hash, false});
    return Status::Ok();
  }
  if (type != json_type::object) {
    Issue("state." + std::string(id),
          "must be a hash string or an object of attributes such as {\"type\": \"door\", "
          "\"x\": 10, \"y\": 20, \"w\": 5, \"h\": 5}");
    return Status::Ok();
  }
  std::string canonical;
  if (Status s = AppendCanonicalJson(value, limits_.max_depth, canonical); !s.ok()) {
    if (s.message().find("not valid JSON") != std::string::npos) {
      return Malformed(simdjson::TAPE_ERROR);
    }
    Issue("state." + std::string(id), s.message());
    return Status::Ok();
  }
  if (canonical.size() > limits_.max_structured_bytes) {
    Issue("state." + std::string(id), "a structured object must be at most " +
                                          std::to_string(limits_.max_structured_bytes) +
                                          " bytes of canonical JSON");
    return Status::Ok();
  }
  const std::string& stored = out_.strings_.emplace_back(std::move(canonical));
  job.state.push_back({id, stored, true});
  return Status::Ok();
}

namespace {

// The parsers kept between parses (SetParsersKept), each counted as its capacity.
class KeptParsers {
 public:
  void SetLimit(size_t bytes) {
    std::vector<std::unique_ptr<simdjson::ondemand::parser>> freed;  // after the lock
    {
      std::lock_guard<std::mutex> lock(mutex_);
      limit_ = bytes;
      while (kept_bytes_ > limit_) {
        kept_bytes_ -= parsers_.back()->capacity();
        freed.push_back(std::move(parsers_.back()));
        parsers_.pop_back();
      }
    }
  }
  size_t KeptNow() {
    std::lock_guard<std::mutex> lock(mutex_);
    return kept_bytes_;
  }
  // The largest kept parser, or a new one.
  std::unique_ptr<simdjson::ondemand::parser> Take() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!parsers_.empty()) {
        auto largest = std::max_element(parsers_.begin(), parsers_.end(), [](auto& a, auto& b) {
          return a->capacity() < b->capacity();
        });
        std::unique_ptr<simdjson::ondemand::parser> parser = std::move(*largest);
        parsers_.erase(largest);
        kept_bytes_ -= parser->capacity();
        return parser;
      }
    }
    return std::make_unique<simdjson::ondemand::parser>();
  }
  // Keeps `parser` if it fits under the limit; frees it (outside the lock) otherwise.
  void Give(std::unique_ptr<simdjson::ondemand::parser> parser) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const size_t bytes = parser->capacity();
      if (bytes != 0 && kept_bytes_ + bytes <= limit_) {
        kept_bytes_ += bytes;
        parsers_.push_back(std::move(parser));
        return;
      }
    }
    parser.reset();
  }

 private:
  std::mutex mutex_;
  size_t limit_ = 0;
  size_t kept_bytes_ = 0;
  std::vector<std::unique_ptr<simdjson::ondemand::parser>> parsers_;
};

KeptParsers& Kept() {
  static KeptParsers* kept = new KeptParsers();  // never destroyed: parses may run at exit
  return *kept;
}

}  // namespace

void SetParsersKept(size_t bytes) { Kept().SetLimit(bytes); }
size_t ParsersKeptNow() { return Kept().KeptNow(); }

Status JobParser::ParseInto(const InputBytes& input, ParsedJobs& out, const ParseLimits& limits,
                            bool allow_array) {
  // A kept parser when there is one (its pages already faulted in), else a new one; given back
  // at the end, kept or freed as SetParsersKept allows.
  std::unique_ptr<simdjson::ondemand::parser> simdjson_parser = Kept().Take();
  Status status;
  bool parsed_fast = false;
  // A flat state is scanned on its own; the rest, the header, is parsed in full with {} in the
  // state's place. Whatever that parse finds wrong, the whole document is parsed again below, so
  // that every answer and error is the full parser's.
  std::optional<FlatState> flat;
  if (FlatStatesEnabled()) flat = ScanFlatState(input.view(), limits);
  if (flat) {
    const std::string_view whole = input.view();
    simdjson::padded_string header(whole.size() - (flat->end - flat->begin) + 2);
    char* end = std::copy_n(whole.data(), flat->begin, header.data());
    end = std::copy_n("{}", 2, end);
    std::copy(whole.begin() + static_cast<std::ptrdiff_t>(flat->end), whole.end(), end);
    JobParser parser(limits, out, *simdjson_parser);
    parser.prescanned_ = &flat->state;
    if (flat->compact) parser.prescanned_json_ = whole.substr(flat->begin, flat->end - flat->begin);
    status = parser.Parse(header, allow_array);
    parsed_fast = status.ok() && parser.prescanned_ == nullptr;
    if (!parsed_fast) {
      out.jobs_.clear();
      out.strings_.clear();
      flat.reset();  // its entries' memory, before the full parse needs its own
    }
  }
  if (!parsed_fast) {
    JobParser parser(limits, out, *simdjson_parser);
    status = parser.Parse(input.padded(), allow_array);
  }
  Kept().Give(std::move(simdjson_parser));
  return status;
}

Result<std::unique_ptr<ParsedJobs>> JobParser::Run(InputBytes body, const ParseLimits& limits,
                                                   bool allow_array) {
  auto parsed = std::make_unique<ParsedJobs>();
  parsed->input_ = std::move(body);
  if (!limits.check_duplicate_ids || !limits.defer_duplicate_check) {
    if (Status s = ParseInto(parsed->input_, *parsed, limits, allow_array); !s.ok()) return s;
    return parsed;
  }
  ParseLimits checked = limits;  // what ParsedJobs::CheckDuplicateIds parses with
  checked.defer_duplicate_check = false;
  ParseLimits unchecked = checked;
  unchecked.check_duplicate_ids = false;
  Status status = ParseInto(parsed->input_, *parsed, unchecked, allow_array);
  if (status.ok()) {
    parsed->deferred_check_ = checked;
    parsed->allow_array_ = allow_array;
    return parsed;
  }
  // Only a list of problems can differ once the check is made (malformed JSON and too many jobs
  // end the parse where they are met): parse again with it, for the same answer as without the
  // deferral.
  if (status.reason() != "invalid_job") return status;
  parsed->jobs_.clear();
  parsed->strings_.clear();
  status = ParseInto(parsed->input_, *parsed, checked, allow_array);
  return status.ok() ? Internal(
                           "a parse with the duplicate-ID check accepted what one without "
                           "it refused")
                     : status;
}

Status ParsedJobs::CheckDuplicateIds() const {
  if (!deferred_check_) return Status::Ok();
  const bool any = std::any_of(jobs_.begin(), jobs_.end(), [](const Job& job) {
    return StateIndex(job.state, IndexThreadsFor(job.state.size())).duplicate().has_value();
  });
  if (!any) return Status::Ok();
  // The answer the parse would have given with the check: the same input parsed again with it,
  // into jobs of its own (these stay as they are, for whoever still reads them).
  ParsedJobs again;
  const Status status = JobParser::ParseInto(input_, again, *deferred_check_, allow_array_);
  return status.ok() ? Internal(
                           "the duplicate-ID check found a repeated ID that a parse with "
                           "the check did not")
                     : status;
}

Result<std::unique_ptr<ParsedJobs>> ParseJobBatch(std::string body, const ParseLimits& limits) {
  return JobParser::Run(InputBytes(std::move(body)), limits, true);
}

Result<std::unique_ptr<ParsedJobs>> ParseJobBatch(std::string_view body,
                                                  const ParseLimits& limits) {
  return JobParser::Run(InputBytes(std::string(body)), limits, true);
}

Result<std::unique_ptr<ParsedJobs>> ParseJobBatch(InputBytes body, const ParseLimits& limits) {
  return JobParser::Run(std::move(body), limits, true);
}

Result<std::unique_ptr<ParsedJobs>> ParseJobDocument(std::string body, const ParseLimits& limits) {
  return JobParser::Run(InputBytes(std::move(body)), limits, false);
}

Result<std::unique_ptr<ParsedJobs>> ParseJobDocument(std::string_view body,
                                                     const ParseLimits& limits) {
  return JobParser::Run(InputBytes(std::string(body)), limits, false);
}

Result<std::unique_ptr<ParsedJobs>> ParseJobDocument(InputBytes body, const ParseLimits& limits) {
  return JobParser::Run(std::move(body), limits, false);
}

}  // namespace buildtrace
