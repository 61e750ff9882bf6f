// Writing jobs in their stored form.
#include "core/job_writer.h"

#include "core/json_writer.h"
#include "core/large_memory.h"

namespace buildtrace {

void AppendStateJson(const JobState& state, std::string& out) {
  out.push_back('{');
  bool first = true;
  for (const StateEntry& entry : state) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(out, entry.id);
    out.push_back(':');
    if (entry.structured) {
      out.append(entry.value);
    } else {
      AppendJsonString(out, entry.value);
    }
  }
  out.push_back('}');
}

namespace {

// Writes the job's members up to and including the state's key into `out`.
void AppendJobHead(const JobHeader& h, std::string& out) {
  JsonWriter w(out);
  w.BeginObject();
  w.Key("job_id").Int(h.job_id);
  w.Key("project").String(h.project);
  w.Key("timestamp").String(h.timestamp);
  w.Key("latency_ms").Number(h.latency_ms);
  w.Key("status").String(JobStatusName(h.status));
  w.Key("metadata").BeginObject();
  for (const auto& [key, value] : h.metadata) w.Key(key).String(value);
  w.EndObject();
  w.Key("state").Raw("");  // the state follows, written by the caller or kept as the client's
}

// The head, with the state in it when `copy_state` or when there are no client bytes to keep.
SerializedJob Serialize(const Job& job, bool copy_state) {
  SerializedJob out;
  const bool state_in_head = copy_state || job.state_json.empty();
  size_t room = 256 + job.header.metadata.size() * 64 + kJobEnd.size();
  // IDs and hashes are usually short; this avoids most reallocations for large states.
  if (state_in_head) {
    room += job.state_json.empty() ? job.state.size() * 40 : job.state_json.size();
  }
  out.head.reserve(room);
  AdviseHugePages(out.head.data(), out.head.capacity());  // before the writes below touch it
  AppendJobHead(job.header, out.head);
  if (!state_in_head) {
    out.state = job.state_json;  // the client's bytes are already the stored form
  } else if (job.state_json.empty()) {
    AppendStateJson(job.state, out.head);
  } else {
    out.head.append(job.state_json);
  }
  return out;
}

}  // namespace

SerializedJob SerializeJobPieces(const Job& job) { return Serialize(job, false); }

std::string SerializeJob(const Job& job) {
  std::string out = std::move(Serialize(job, true).head);
  out.append(kJobEnd);
  return out;
}

}  // namespace buildtrace
