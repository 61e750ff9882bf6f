// Pub/Sub message data and push envelopes. Base64 is written here rather than taken from
// OpenSSL: EVP_DecodeBlock accepts whitespace and leaves padding to the caller, and a strict
// decoder of a few lines is easier to fuzz than to wrap.
#include "queue/pubsub_message.h"

#include <simdjson.h>

#include <array>
#include <cstdint>
#include <optional>

namespace buildtrace {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t group = 0;
    for (size_t k = 0; k < 3; ++k) {
      group = (group << 8) | (k < n ? static_cast<uint8_t>(bytes[i + k]) : 0u);
    }
    for (size_t k = 0; k < 4; ++k) {
      out += k <= n ? kAlphabet[(group >> (18 - 6 * k)) & 63] : '=';
    }
  }
  return out;
}

// The value of each base64 character, -1 for any other byte.
constexpr std::array<int8_t, 256> DecodeTable() {
  std::array<int8_t, 256> table{};
  for (int8_t& value : table) value = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return table;
}

// Padded standard base64 only: a multiple of four characters, '=' only as the last one or two.
std::optional<std::string> Base64Decode(std::string_view text) {
  static constexpr std::array<int8_t, 256> kTable = DecodeTable();
  if (text.size() % 4 != 0) return std::nullopt;
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t group = 0;
  const size_t digits = text.size() - padding;
  for (size_t i = 0; i < digits; ++i) {
    const int8_t value = kTable[static_cast<uint8_t>(text[i])];
    if (value < 0) return std::nullopt;
    group = (group << 6) | static_cast<uint32_t>(value);
    if (i % 4 == 3) {
      out += static_cast<char>(group >> 16);
      out += static_cast<char>((group >> 8) & 255);
      out += static_cast<char>(group & 255);
      group = 0;
    }
  }
  if (padding == 2) out += static_cast<char>(group >> 4);
  if (padding == 1) {
    out += static_cast<char>(group >> 10);
    out += static_cast<char>((group >> 2) & 255);
  }
  return out;
}

constexpr std::string_view kEnvelopeShape =
    "a Pub/Sub push request must be {\"message\":{\"data\":\"<base64 task>\",...},"
    "\"subscription\":\"projects/P/subscriptions/S\"}";

Status EnvelopeError(std::string_view what) {
  return InvalidArgument(std::string(kEnvelopeShape) + "; " + std::string(what));
}

}  // namespace

std::string EncodePubSubMessageData(const AnalysisTask& task) {
  return Base64Encode(EncodeAnalysisTask(task));
}

Result<AnalysisTask> DecodePubSubMessageData(std::string_view data) {
  std::optional<std::string> body = Base64Decode(data);
  if (!body) {
    return InvalidArgument(
        "the Pub/Sub message data is not padded standard base64 (RFC 4648); publish tasks with "
        "the pubsub:// queue, which encodes them");
  }
  Result<AnalysisTask> task = ParseAnalysisTask(*body);
  if (!task.ok()) return task.status().WithContext("the Pub/Sub message data: ");
  return task;
}

Result<AnalysisTask> ParsePubSubPushEnvelope(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::object envelope;
  if (auto error = parser.parse(body.data(), body.size()).get_object().get(envelope)) {
    return EnvelopeError(std::string("the body is not a JSON object (") +
                         simdjson::error_message(error) + ")");
  }
  std::string_view subscription;
  if (envelope["subscription"].get_string().get(subscription) != simdjson::SUCCESS) {
    return EnvelopeError("\"subscription\" is missing or not a string");
  }
  if (!subscription.starts_with("projects/") ||
      subscription.find("/subscriptions/") == std::string_view::npos) {
    return EnvelopeError("\"subscription\" does not name a subscription");
  }
  simdjson::dom::object message;
  if (envelope["message"].get_object().get(message) != simdjson::SUCCESS) {
    return EnvelopeError("\"message\" is missing or not an object");
  }
  std::string_view data;
  if (message["data"].get_string().get(data) != simdjson::SUCCESS) {
    return EnvelopeError("\"message\" has no \"data\" string");
  }
  return DecodePubSubMessageData(data);
}

}  // namespace buildtrace
