// An analysis task as a Google Pub/Sub message, both ways it arrives: in a pull answer (the
// message's base64 "data" field) and in a push request's body (the push envelope). Pure parsing,
// no network: the pubsub:// queue and the HTTP push route share it, and a fuzzer runs it alone.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "queue/analysis_queue.h"

namespace buildtrace {

// The "data" field of a message carrying `task`: standard base64 (RFC 4648 section 4, padded)
// of EncodeAnalysisTask(task), as the Pub/Sub REST API writes and expects message data.
std::string EncodePubSubMessageData(const AnalysisTask& task);

// The task in a message's "data" field. kInvalidArgument when it is not padded standard base64
// (what Pub/Sub sends) or does not decode to a task (ParseAnalysisTask's message then says why).
Result<AnalysisTask> DecodePubSubMessageData(std::string_view data);

// The task in the body of a Pub/Sub push request (a "wrapped" push subscription):
//
//   {"message": {"data": "<base64>", "messageId": "...", "attributes": {...}, ...},
//    "subscription": "projects/P/subscriptions/S", "deliveryAttempt": 3}
//
// Required: a JSON object with "message" (an object whose "data" decodes to a task, as in
// DecodePubSubMessageData) and "subscription" (a string naming a subscription). Other members,
// in either object, are allowed and ignored: Google documents several (messageId and
// message_id, publishTime and publish_time, attributes, orderingKey, deliveryAttempt) and adds
// more over time. Anything else is kInvalidArgument saying what is wrong, never a crash.
Result<AnalysisTask> ParsePubSubPushEnvelope(std::string_view body);

}  // namespace buildtrace
