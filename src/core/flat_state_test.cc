// Tests of the flat-state fast path: on random documents, near the common shape and off it
// (blanks, member orders, escapes, structured values, limits, UTF-8 good and bad, control
// characters, repeated IDs and members, truncation, trailing bytes), ParseJobDocument and
// ParseJobBatch give exactly the full parser's answer, jobs or error; and the fast path is taken
// where it should be.
#include "core/flat_state.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <random>
#include <string>
#include <vector>

#include "core/job_parser.h"
#include "core/job_writer.h"

namespace buildtrace {
namespace {

using Parsed = Result<std::unique_ptr<ParsedJobs>>;

// Limits small enough for random documents to cross them.
ParseLimits SmallLimits() {
  ParseLimits limits;
  limits.max_objects = 40;
  limits.max_id_bytes = 8;
  limits.max_hash_bytes = 16;
  return limits;
}

class RandomJob {
 public:
  explicit RandomJob(uint32_t seed) : rng_(seed) {}

  // A job document; `flat` (when not null) says whether its state was built of the common
  // shape only, which the fast path must take if the rest of the document is valid.
  std::string Document(bool* flat) {
    odd_ = Chance(0.5);  // half the documents keep to the common shape
    std::vector<std::string> members = {
        Member("job_id", Chance(0.03) ? "0" : std::to_string(1 + Below(1000))),
        Member("timestamp", "\"2026-11-28T10:00:00Z\""),
        Member("latency_ms", Chance(0.03) ? "\"fast\"" : "12.5"),
    };
    if (Chance(0.5)) members.push_back(Member("project", "\"p-1\""));
    if (Chance(0.3)) members.push_back(Member("status", Chance(0.9) ? "\"failed\"" : "\"x\""));
    if (Chance(0.3)) {
      members.push_back(Member("metadata", Chance(0.8) ? "{\"branch\":\"ma\\\"in\",\"n\":\"[{}]\"}"
                                                       : "{\"nested\":{\"a\":[1,2]}}"));
    }
    if (odd_ && Chance(0.1)) {
      static const char* const kExtras[] = {
          "[1,{\"state\":{}}]", "-1.5e3",   "true", "null", "tru", "12x", "[]",
          "{\"a\":[{},[]]}",    "\"s\\\"\""};
      members.push_back(Member("extra", kExtras[Below(std::size(kExtras))]));
    }
    bool state_flat = true;
    members.insert(members.begin() + static_cast<long>(Below(members.size() + 1)),
                   Member("state", State(&state_flat)));
    if (odd_ && Chance(0.05)) members.push_back(Member("state", "{}"));
    std::string doc = Blank() + "{";
    for (size_t i = 0; i < members.size(); ++i) doc += (i ? "," + Blank() : Blank()) + members[i];
    doc += Blank() + "}" + Blank();
    if (odd_ && Chance(0.05)) doc += "x";
    if (odd_ && Chance(0.05)) doc.resize(Below(doc.size()));
    if (flat != nullptr) *flat = state_flat && !odd_;
    return doc;
  }

 private:
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  size_t Below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  // Between the state's tokens: none in a third of the states, which are then stored as sent.
  std::string Gap() { return tight_ ? "" : Blank(); }
  std::string Blank() {
    static const char* const kBlanks[] = {"", "", "", " ", "\n  ", "\t", "\r\n"};
    return kBlanks[Below(std::size(kBlanks))];
  }
  std::string Member(const std::string& key, const std::string& value) {
    return "\"" + key + "\"" + Blank() + ":" + Blank() + value;
  }
  // One of the ways an ID or a hash may be written; `flat` is cleared by any that is not plain.
  std::string Text(const std::string& plain, bool* flat) {
    if (!odd_ || Chance(0.9)) return "\"" + plain + "\"";
    *flat = false;
    switch (Below(8)) {
      case 0:
        return "\"" + plain + "\\/\"";  // an escape
      case 1:
        return "\"\"";  // empty
      case 2:
        return "\"" + plain + "\xc3\xa9\"";  // é: UTF-8, not ASCII
      case 3:
        return "\"" + plain + "\xff\"";  // not UTF-8
      case 4:
        return "\"" + plain + "\x01\"";  // a raw control character
      case 5:
        return "\"" + std::string(20, 'l') + "\"";  // over both limits
      case 6:
        return "\"" + plain + "\xe2\x82\"";  // a truncated UTF-8 sequence
      default:
        return "\"" + plain + "\\u00e9\"";  // an escaped é
    }
  }
  std::string State(bool* flat) {
    tight_ = Chance(0.33);
    const size_t objects = Below(odd_ ? 45 : 40);
    std::string state = "{";
    for (size_t i = 0; i < objects; ++i) {
      const size_t id = odd_ && Chance(0.03) ? 0 : i;  // a repeated ID
      std::string value;
      if (odd_ && Chance(0.05)) {
        *flat = false;
        value = Chance(0.5) ? "{\"type\":\"door\",\"x\":1}" : "5";
      } else {
        value = Text("h" + std::to_string(Below(100000)), flat);
      }
      state += (i ? "," + Gap() : Gap()) + Text("o" + std::to_string(id), flat) + Gap() + ":" +
               Gap() + value;
    }
    if (objects > 40) *flat = false;
    return state + Gap() + "}";
  }

  std::mt19937 rng_;
  bool odd_ = false;
  bool tight_ = false;
};

// ScanFlatState reads up to 7 bytes past the document's end: it must be padded, as parsed
// documents are.
std::optional<FlatState> Scan(const simdjson::padded_string& doc, const ParseLimits& limits) {
  return ScanFlatState(std::string_view(doc.data(), doc.size()), limits);
}

// `doc` in a string whose spare capacity, which the parser takes as its padding, holds `padding`
// bytes: a kept buffer's old contents are arbitrary, and the scan reads past a string's end.
std::string WithPadding(const std::string& doc, char padding) {
  std::string bytes(doc.size() + simdjson::SIMDJSON_PADDING, padding);
  bytes.resize(doc.size());  // keeps the capacity and, past the terminator, the bytes
  bytes.replace(0, doc.size(), doc);
  return bytes;
}

Parsed ParseWith(bool flat_states, const std::string& doc, bool batch, char padding = 0) {
  SetFlatStatesEnabled(flat_states);
  std::string bytes = WithPadding(doc, padding);
  Parsed parsed = batch ? ParseJobBatch(std::move(bytes), SmallLimits())
                        : ParseJobDocument(std::move(bytes), SmallLimits());
  SetFlatStatesEnabled(true);
  return parsed;
}

void ExpectSame(const Parsed& fast, const Parsed& full, const std::string& doc) {
  ASSERT_EQ(fast.ok(), full.ok()) << doc << "\n" << (fast.ok() ? full : fast).status().message();
  if (!full.ok()) {
    EXPECT_EQ(fast.status().code(), full.status().code()) << doc;
    EXPECT_EQ(fast.status().reason(), full.status().reason()) << doc;
    EXPECT_EQ(fast.status().message(), full.status().message()) << doc;
    EXPECT_EQ(fast.status().details(), full.status().details()) << doc;
    return;
  }
  const std::vector<Job>& a = (*fast)->jobs();
  const std::vector<Job>& b = (*full)->jobs();
  ASSERT_EQ(a.size(), b.size()) << doc;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].header.job_id, b[i].header.job_id) << doc;
    EXPECT_EQ(a[i].header.project, b[i].header.project) << doc;
    EXPECT_EQ(a[i].header.timestamp, b[i].header.timestamp) << doc;
    EXPECT_EQ(a[i].header.timestamp_ms, b[i].header.timestamp_ms) << doc;
    EXPECT_EQ(a[i].header.latency_ms, b[i].header.latency_ms) << doc;
    EXPECT_EQ(a[i].header.status, b[i].header.status) << doc;
    EXPECT_EQ(a[i].header.metadata, b[i].header.metadata) << doc;
    EXPECT_TRUE(a[i].state == b[i].state) << doc;
    // A compact flat state is stored as the client's bytes: the same bytes as written anew.
    EXPECT_EQ(SerializeJob(a[i]), SerializeJob(b[i])) << doc;
    EXPECT_TRUE(b[i].state_json.empty());
  }
}

TEST(FlatStateTest, RandomDocumentsGiveTheFullParsersAnswer) {
  size_t taken = 0, flat_valid = 0, invalid = 0, compact = 0;
  for (uint32_t seed = 1; seed <= 3000; ++seed) {
    RandomJob generator(seed);
    bool flat = false;
    const std::string doc = generator.Document(&flat);
    const bool batch = seed % 4 == 0;  // a POST body of one job takes the same path
    const Parsed full = ParseWith(false, doc, batch);
    static const char kPaddings[] = {'\0', '"', '\\', '\x80', ' ', 'a'};
    const Parsed fast = ParseWith(true, doc, batch, kPaddings[seed % std::size(kPaddings)]);
    ExpectSame(fast, full, doc);
    if (HasFailure()) return;
    const std::optional<FlatState> flat_state = Scan(simdjson::padded_string(doc), SmallLimits());
    const bool scanned = flat_state.has_value();
    taken += scanned;
    if (fast.ok() && scanned && flat_state->compact) {
      ++compact;
      EXPECT_EQ((*fast)->jobs().front().state_json,
                doc.substr(flat_state->begin, flat_state->end - flat_state->begin));
    }
    invalid += !full.ok();
    if (flat && full.ok()) {
      ++flat_valid;
      EXPECT_TRUE(scanned) << doc;  // the common shape, valid: the fast path must take it
    }
  }
  // The mix covers both paths and both answers.
  EXPECT_GT(taken, 1000u);
  EXPECT_GT(flat_valid, 1000u);
  EXPECT_GT(invalid, 300u);
  EXPECT_GT(compact, 300u);  // stored as the client's bytes
}

TEST(FlatStateTest, ScansTheStateInPlaceAndFindsItsExtent) {
  const std::string text =
      "{\"job_id\":1,\"state\" : { \"a\" : \"x_1\",\n\"bb\":\"y\" } ,\"latency_ms\":1}";
  const simdjson::padded_string doc(text);
  const std::optional<FlatState> flat = Scan(doc, ParseLimits{});
  ASSERT_TRUE(flat.has_value());
  EXPECT_EQ(text.substr(flat->begin, flat->end - flat->begin),
            "{ \"a\" : \"x_1\",\n\"bb\":\"y\" }");
  ASSERT_EQ(flat->state.size(), 2u);
  EXPECT_EQ(flat->state[1].id, "bb");
  EXPECT_EQ(flat->state[1].value, "y");
  EXPECT_FALSE(flat->state[1].structured);
  EXPECT_EQ(flat->state[0].id.data(), doc.data() + text.find("a\""));  // into the document
  EXPECT_FALSE(flat->compact);                                         // blanks between tokens
  const simdjson::padded_string compact(
      std::string_view("{\"state\":{\"a\":\"x_1\",\"bb\":\"y\"}}"));
  EXPECT_TRUE(Scan(compact, ParseLimits{})->compact);
  const simdjson::padded_string empty(std::string_view("{\"state\":{}}"));
  EXPECT_TRUE(Scan(empty, ParseLimits{})->compact);
}

TEST(FlatStateTest, LeavesEverythingElseToTheFullParser) {
  const ParseLimits limits = SmallLimits();
  for (const char* doc : {
           "[{\"job_id\":1,\"state\":{}}]",            // a batch
           "{\"job_id\":1}",                           // no state
           "{\"st\\u0061te\":{\"a\":\"b\"}}",          // an escaped key
           "{\"state\":{\"a\":\"b\"},\"state\":{}}",   // a repeated state
           "{\"state\":\"a\"}",                        // not an object
           "{\"state\":{\"a\":{\"type\":\"door\"}}}",  // a structured value
           "{\"state\":{\"a\":\"b\",}}",               // a trailing comma
           "{\"state\":{\"a\" \"b\"}}",                // no colon
           "{\"state\":{\"a\":\"b\"}",                 // unclosed
           "{\"m\":[1},\"state\":{\"a\":\"b\"}]}",     // brackets that do not match
           "{\"state\":{\"123456789\":\"b\"}}",        // an ID over max_id_bytes
           "{\"state\":{\"a\":\"\xff\"}}",             // not UTF-8
       }) {
    EXPECT_FALSE(Scan(simdjson::padded_string(std::string(doc)), limits).has_value()) << doc;
  }
}

}  // namespace
}  // namespace buildtrace
