// Analysing one job, and the records analysis leaves in the store.
#include "service/analysis.h"

#include <simdjson.h>

#include "core/json_writer.h"
#include "core/timestamp.h"
#include "service/log.h"

namespace buildtrace {
namespace {

// "<19 digits>" -> the number; nullopt for anything else.
std::optional<int64_t> Digits19(std::string_view s) {
  if (s.size() != 19) return std::nullopt;
  int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

// The most jobs a late arrival enqueues again: the run up to the next succeeded job.
constexpr size_t kMaxFollowUps = 10'000;

}  // namespace

std::string AnalysisProjectFolder(std::string_view project) {
  return "analysis/" + std::string(project) + "/";
}

std::string AnalysisFolder(std::string_view project, int64_t job_id) {
  return AnalysisProjectFolder(project) + JobIdDigits(job_id).substr(0, 16) + "/";
}

std::string AnalysisRecordName(std::string_view project, int64_t job_id,
                               std::optional<int64_t> base_job_id, int64_t skipped_failed) {
  return AnalysisFolder(project, job_id) + JobIdDigits(job_id) + "-" +
         (base_job_id ? JobIdDigits(*base_job_id) : std::string("none")) + "-l" +
         std::to_string(skipped_failed) + ".json";
}

bool AnalysisRecordKey::operator<(const AnalysisRecordKey& other) const {
  const int64_t base = base_job_id.value_or(0);
  const int64_t other_base = other.base_job_id.value_or(0);
  if (base != other_base) return base < other_base;
  return skipped_failed < other.skipped_failed;
}

std::optional<AnalysisRecordKey> ParseAnalysisRecordName(std::string_view leaf) {
  // <19>-<19 or none>-l<n>.json
  if (leaf.size() < 19 + 1 + 4 + 2 + 1 + 5 || !leaf.ends_with(".json") || leaf[19] != '-') {
    return std::nullopt;
  }
  AnalysisRecordKey key;
  std::optional<int64_t> job = Digits19(leaf.substr(0, 19));
  if (!job || *job < 1) return std::nullopt;
  key.job_id = *job;
  std::string_view rest = leaf.substr(20, leaf.size() - 20 - 5);
  if (rest.starts_with("none-l")) {
    rest.remove_prefix(6);
  } else {
    std::optional<int64_t> base = Digits19(rest.substr(0, 19));
    if (!base || rest.substr(19, 2) != "-l") return std::nullopt;
    key.base_job_id = *base;
    rest.remove_prefix(21);
  }
  if (rest.empty() || rest.size() > 9) return std::nullopt;
  for (char c : rest) {
    if (c < '0' || c > '9') return std::nullopt;
    key.skipped_failed = key.skipped_failed * 10 + (c - '0');
  }
  return key;
}

Result<std::map<int64_t, AnalysisRecordKey>> CurrentRecords(StateStore& store,
                                                            std::string_view project,
                                                            int64_t job_id) {
  const std::string folder = AnalysisFolder(project, job_id);
  Result<std::vector<std::string>> names = store.List(folder);
  if (!names.ok()) return names.status();
  std::map<int64_t, AnalysisRecordKey> current;
  for (const std::string& name : *names) {
    std::optional<AnalysisRecordKey> key =
        ParseAnalysisRecordName(std::string_view(name).substr(folder.size()));
    if (!key) continue;
    auto [it, inserted] = current.emplace(key->job_id, *key);
    if (!inserted && it->second < *key) it->second = *key;
  }
  return current;
}

std::string EncodeAnalysisRecord(const AnalysisRecord& r) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("job_id").Int(r.job_id);
  w.Key("base_job_id");
  r.base_job_id ? w.Int(*r.base_job_id) : w.Null();
  w.Key("skipped_failed").Int(r.skipped_failed);
  w.Key("status").String(JobStatusName(r.status));
  w.Key("timestamp").String(r.timestamp);
  w.Key("latency_ms").Number(r.latency_ms);
  w.Key("counts").BeginObject();
  w.Key("added").Int(r.counts.added);
  w.Key("removed").Int(r.counts.removed);
  w.Key("unchanged").Int(r.counts.unchanged);
  w.Key("moved").Int(r.counts.moved);
  w.Key("resized").Int(r.counts.resized);
  w.Key("retyped").Int(r.counts.retyped);
  w.Key("changed").Int(r.counts.changed);
  w.EndObject();
  w.EndObject();
  out.push_back('\n');
  return out;
}

Result<AnalysisRecord> ParseAnalysisRecord(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  auto bad = [](const char* what) {
    return Internal(std::string("analysis record: ") + what).WithReason("corrupt_object");
  };
  if (parser.parse(json.data(), json.size()).get(doc)) return bad("not JSON");
  AnalysisRecord r;
  std::string_view status, timestamp;
  if (doc["job_id"].get_int64().get(r.job_id) ||
      doc["skipped_failed"].get_int64().get(r.skipped_failed) ||
      doc["status"].get_string().get(status) || doc["timestamp"].get_string().get(timestamp) ||
      doc["latency_ms"].get_double().get(r.latency_ms)) {
    return bad("a member is missing or of the wrong type");
  }
  simdjson::dom::element base = doc["base_job_id"];
  if (!base.is_null()) {
    int64_t id = 0;
    if (base.get_int64().get(id)) return bad("base_job_id is not a job ID");
    r.base_job_id = id;
  }
  if (status != "succeeded" && status != "failed") return bad("status is not succeeded or failed");
  r.status = status == "succeeded" ? JobStatus::kSucceeded : JobStatus::kFailed;
  r.timestamp = std::string(timestamp);
  simdjson::dom::object counts;
  if (doc["counts"].get_object().get(counts)) return bad("counts is missing");
  for (auto [name, field] : {std::pair{"added", &r.counts.added},
                             {"removed", &r.counts.removed},
                             {"unchanged", &r.counts.unchanged},
                             {"moved", &r.counts.moved},
                             {"resized", &r.counts.resized},
                             {"retyped", &r.counts.retyped},
                             {"changed", &r.counts.changed}}) {
    if (counts[name].get_int64().get(*field)) return bad("a count is missing");
  }
  return r;
}

std::string DeadLetterFolder(std::string_view project) {
  return "deadletters/" + std::string(project) + "/";
}

std::string DeadLetterName(std::string_view project, int64_t job_id) {
  return DeadLetterFolder(project) + JobIdDigits(job_id) + ".json";
}

Status Analyzer::Analyse(const AnalysisTask& task) {
  // Its index entry, records, kept comparison and row are never written while the project is
  // being deleted: a job deleted before is "not stored" below.
  const ProjectLocks::Held held = jobs_.project_locks().Share(task.project);
  Result<JobHeader> header = jobs_.LoadHeader(task.project, task.job_id);
  if (!header.ok()) {
    if (header.status().code() != StatusCode::kNotFound) return header.status();
    LogWarning("analysis task for job " + std::to_string(task.job_id) + " of project " +
               task.project + ", which is not stored: nothing to do");
    return Status::Ok();
  }
  // The job is in the index if its POST returned; a crash in between is repaired here.
  const IndexedJob indexed{task.job_id, header->status};
  if (Status s = jobs_.index().Add(task.project, std::span(&indexed, 1)); !s.ok()) return s;
  const std::string job_prefix =
      AnalysisFolder(task.project, task.job_id) + JobIdDigits(task.job_id) + "-";
  Result<std::vector<std::string>> earlier = jobs_.store().List(job_prefix);
  if (!earlier.ok()) return earlier.status();
  // Analysed for the first time: the jobs after it whose lineage it changes are enqueued first,
  // so that a crash before its record is written sends them again when the task is redelivered.
  if (earlier->empty()) {
    if (Status s = FollowUp(task); !s.ok()) return s;
  }
  // A job that arrives while this one is analysed may change its lineage under it: analyse
  // again until the lineage read after the record is the one the record holds.
  for (int round = 0;; ++round) {
    Result<AnalysisRecordKey> done = AnalyseOnce(task, *header);
    if (!done.ok()) return done.status();
    Result<BaseSelection> now = jobs_.index().SelectBase(task.project, task.job_id);
    if (!now.ok()) return now.status();
    const AnalysisRecordKey current{task.job_id, now->base_job_id,
                                    static_cast<int64_t>(now->skipped_failed.size())};
    if (current == *done || round == 2) break;
  }
  return Status::Ok();
}

Result<AnalysisRecordKey> Analyzer::AnalyseOnce(const AnalysisTask& task, const JobHeader& header) {
  Result<ReportService::LineageReport> lineage = reports_.Analyse(task.project, task.job_id);
  if (!lineage.ok()) return lineage.status();
  const Report& report = lineage->report;
  if (report.warehouse && report.warehouse->status == "failed") {
    return Unavailable("the lineage row of job " + std::to_string(task.job_id) + " of project " +
                       task.project + " could not be recorded: " + report.warehouse->message);
  }
  AnalysisRecord record;
  record.job_id = task.job_id;
  record.base_job_id = report.base.base_job_id;
  record.skipped_failed = static_cast<int64_t>(report.base.skipped_failed.size());
  record.status = header.status;
  record.timestamp = FormatRfc3339Utc(header.timestamp_ms);
  record.latency_ms = header.latency_ms;
  record.counts = report.diff.counts;
  Status kept = jobs_.store().CreateIfAbsent(
      AnalysisRecordName(task.project, task.job_id, record.base_job_id, record.skipped_failed),
      EncodeAnalysisRecord(record));
  if (!kept.ok() && kept.code() != StatusCode::kAlreadyExists) return kept;
  return AnalysisRecordKey{task.job_id, record.base_job_id, record.skipped_failed};
}

Status Analyzer::FollowUp(const AnalysisTask& task) {
  if (queue_ == nullptr) return Status::Ok();
  // Analysed for the first time: if the job came late, the jobs after it up to the next
  // succeeded one that were analysed already have a new lineage now. (Jobs not analysed yet
  // have tasks of their own; in order, there are no later jobs at all: one listing.)
  Result<std::vector<IndexedJob>> following =
      jobs_.index().Following(task.project, task.job_id, kMaxFollowUps);
  if (!following.ok()) return following.status();
  std::vector<AnalysisTask> tasks;
  std::string folder;
  std::map<int64_t, AnalysisRecordKey> analysed;
  for (const IndexedJob& job : *following) {
    if (std::string f = AnalysisFolder(task.project, job.job_id); f != folder) {
      folder = std::move(f);
      Result<std::map<int64_t, AnalysisRecordKey>> records =
          CurrentRecords(jobs_.store(), task.project, job.job_id);
      if (!records.ok()) return records.status();
      analysed = std::move(*records);
    }
    if (analysed.count(job.job_id)) tasks.push_back(AnalysisTask{task.project, job.job_id});
  }
  if (tasks.empty()) return Status::Ok();
  if (Status published = queue_->Publish(tasks); !published.ok()) {
    follow_ups_lost_.fetch_add(tasks.size());
    LogWarning("jobs after late job " + std::to_string(task.job_id) + " of project " +
               task.project + " wait for the sweep: " + published.message());
  }
  return Status::Ok();
}

}  // namespace buildtrace
