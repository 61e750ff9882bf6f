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

std::string SerializeJob(const Job& job) {
  const JobHeader& h = job.header;
  std::string out;
  // IDs and hashes are usually short; this avoids most reallocations for large states.
  out.reserve(256 + h.metadata.size() * 64 +
              (job.state_json.empty() ? job.state.size() * 40 : job.state_json.size()));
  AdviseHugePages(out.data(), out.capacity());  // before the writes below first touch it
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
  w.Key("state").Raw("");  // the state goes straight into `out`, without an intermediate copy
  if (job.state_json.empty()) {
    AppendStateJson(job.state, out);
  } else {
    out.append(job.state_json);  // the client's bytes are already the stored form
  }
  w.EndObject();
  out.push_back('\n');
  return out;
}

}  // namespace buildtrace
