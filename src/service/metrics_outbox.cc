// The metrics outbox: entries in the store, a worker thread that retries them.
#include "service/metrics_outbox.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>
#include <vector>

#include "core/job.h"
#include "core/json_writer.h"
#include "core/timestamp.h"
#include "service/job_repository.h"
#include "service/log.h"

namespace buildtrace {
namespace {

// The counts of a row, by name, in the order they are written; every one must be there when read
// back.
struct CountField {
  const char* name;
  int64_t MetricsRow::*member;
};
constexpr CountField kCountFields[] = {
    {"added", &MetricsRow::added},       {"removed", &MetricsRow::removed},
    {"modified", &MetricsRow::modified}, {"unchanged", &MetricsRow::unchanged},
    {"moved", &MetricsRow::moved},       {"resized", &MetricsRow::resized},
    {"retyped", &MetricsRow::retyped},   {"changed", &MetricsRow::changed},
};

// The count called `name` of `row`; null for any other name.
int64_t* FindCount(MetricsRow& row, std::string_view name) {
  for (const CountField& field : kCountFields) {
    if (name == field.name) return &(row.*field.member);
  }
  return nullptr;
}

Status Corrupt(std::string_view name, const std::string& what) {
  return InvalidArgument("outbox entry " + std::string(name) + " is not a metrics row: " + what);
}

}  // namespace

std::string OutboxFolder(std::string_view project) {
  return std::string(kOutboxPrefix) + std::string(project) + "/";
}

std::string OutboxEntryName(const MetricsRow& row) {
  return OutboxFolder(row.project) + JobIdDigits(row.job_id) + "-" +
         (row.base_job_id ? JobIdDigits(*row.base_job_id) : std::string("none")) + ".json";
}

std::string EncodeOutboxEntry(const MetricsRow& row, int64_t queued_at_ms) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("queued_at_ms").Int(queued_at_ms);
  w.Key("row").BeginObject();
  w.Key("project").String(row.project);
  w.Key("job_id").Int(row.job_id);
  w.Key("base_job_id");
  if (row.base_job_id) {
    w.Int(*row.base_job_id);
  } else {
    w.Null();
  }
  w.Key("timestamp").String(row.timestamp);
  w.Key("timestamp_ms").Int(row.timestamp_ms);
  w.Key("latency_ms").Number(row.latency_ms);
  for (const CountField& field : kCountFields) w.Key(field.name).Int(row.*field.member);
  w.Key("status").String(JobStatusName(row.status));
  w.EndObject();
  w.EndObject();
  out.push_back('\n');
  return out;
}

Result<OutboxEntry> DecodeOutboxEntry(std::string_view name, std::string_view bytes) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(simdjson::padded_string(bytes)).get(root) != simdjson::SUCCESS) {
    return Corrupt(name, "not JSON");
  }
  simdjson::dom::object top;
  simdjson::dom::object fields;
  OutboxEntry entry;
  if (root.get_object().get(top) || top.size() != 2 ||
      top["queued_at_ms"].get_int64().get(entry.queued_at_ms) ||
      top["row"].get_object().get(fields)) {
    return Corrupt(name, "expected exactly {\"queued_at_ms\": integer, \"row\": {...}}");
  }
  MetricsRow& row = entry.row;
  size_t seen = 0;
  bool has_status = false;  // entries written before statuses were kept have none: succeeded
  for (auto [key, value] : fields) {
    ++seen;
    std::string_view text;
    if (key == "project") {
      if (value.get_string().get(text)) return Corrupt(name, "project is not a string");
      row.project = std::string(text);
    } else if (key == "job_id") {
      if (value.get_int64().get(row.job_id)) return Corrupt(name, "job_id is not an integer");
    } else if (key == "base_job_id") {
      int64_t base = 0;
      if (value.is_null()) {
        row.base_job_id.reset();
      } else if (value.get_int64().get(base) == simdjson::SUCCESS) {
        row.base_job_id = base;
      } else {
        return Corrupt(name, "base_job_id is neither an integer nor null");
      }
    } else if (key == "timestamp") {
      if (value.get_string().get(text)) return Corrupt(name, "timestamp is not a string");
      row.timestamp = std::string(text);
    } else if (key == "timestamp_ms") {
      if (value.get_int64().get(row.timestamp_ms)) {
        return Corrupt(name, "timestamp_ms is not an integer");
      }
    } else if (key == "latency_ms") {
      if (value.get_double().get(row.latency_ms) || !std::isfinite(row.latency_ms) ||
          row.latency_ms < 0) {
        return Corrupt(name, "latency_ms is not a number >= 0");
      }
    } else if (key == "status") {
      has_status = true;
      if (value.get_string().get(text)) return Corrupt(name, "status is not a string");
      if (text == JobStatusName(JobStatus::kSucceeded)) {
        row.status = JobStatus::kSucceeded;
      } else if (text == JobStatusName(JobStatus::kFailed)) {
        row.status = JobStatus::kFailed;
      } else {
        return Corrupt(name, "status is neither \"succeeded\" nor \"failed\"");
      }
    } else if (int64_t* count = FindCount(row, key)) {
      if (value.get_int64().get(*count) || *count < 0) {
        return Corrupt(name, std::string(key) + " is not an integer >= 0");
      }
    } else {
      return Corrupt(name, "unknown field " + std::string(key));
    }
  }
  if (seen != 6 + std::size(kCountFields) + (has_status ? 1 : 0)) {
    return Corrupt(name,
                   "a row has exactly the fields project, job_id, base_job_id, timestamp, "
                   "timestamp_ms, latency_ms, the eight counts and (since statuses are "
                   "kept) status, each once");
  }
  if (!IsValidProjectName(row.project)) return Corrupt(name, "invalid project name");
  if (Status s = CheckMetricsRow(row); !s.ok()) return Corrupt(name, s.message());
  if (FormatRfc3339Utc(row.timestamp_ms) != row.timestamp) {
    return Corrupt(name, "timestamp and timestamp_ms name different instants");
  }
  if (row.modified != row.moved + row.resized + row.retyped + row.changed) {
    return Corrupt(name, "modified is not moved + resized + retyped + changed");
  }
  if (OutboxEntryName(row) != name) {
    return Corrupt(name, "it holds the row of " + OutboxEntryName(row));
  }
  return entry;
}

MetricsOutbox::MetricsOutbox(StateStore& store, MetricsWarehouse& warehouse, OutboxOptions options,
                             std::function<int64_t()> now_ms)
    : store_(store),
      warehouse_(warehouse),
      options_(options),
      now_ms_(std::move(now_ms)),
      backoff_(options.initial_backoff) {}

MetricsOutbox::~MetricsOutbox() { Stop(); }

Status MetricsOutbox::Add(const MetricsRow& row) {
  const std::string name = OutboxEntryName(row);
  const int64_t queued_at = now_ms_();
  Status kept = store_.CreateIfAbsent(name, EncodeOutboxEntry(row, queued_at));
  if (!kept.ok() && kept.code() != StatusCode::kAlreadyExists) return kept;
  std::lock_guard lock(mutex_);
  pending_.try_emplace(name, queued_at);  // an existing entry keeps its own, earlier time
  ++adds_;
  // An idle worker comes back soon for the new row; one that backs off from a failing
  // warehouse keeps its backoff.
  const auto soon = std::chrono::steady_clock::now() + options_.initial_backoff;
  if (!backing_off_ && soon < next_pass_) next_pass_ = soon;
  changed_.notify_all();
  return Status::Ok();
}

bool MetricsOutbox::IsPending(const MetricsRow& row) const {
  const std::string name = OutboxEntryName(row);
  std::lock_guard lock(mutex_);
  return pending_.count(name) != 0;
}

Result<int64_t> MetricsOutbox::DiscardProject(std::string_view project) {
  std::lock_guard pass(pass_mutex_);
  const std::string folder = OutboxFolder(project);
  Result<int64_t> deleted = DeleteObjectsUnder(store_, folder);
  if (!deleted.ok()) return deleted;
  std::lock_guard lock(mutex_);
  std::erase_if(pending_, [&](const auto& entry) { return entry.first.starts_with(folder); });
  std::erase_if(corrupt_, [&](const std::string& name) { return name.starts_with(folder); });
  changed_.notify_all();
  return deleted;
}

Status MetricsOutbox::DrainOnce() {
  std::lock_guard pass(pass_mutex_);
  Result<std::vector<std::string>> names = store_.List(kOutboxPrefix);
  if (!names.ok()) {
    std::lock_guard lock(mutex_);
    last_error_ = names.status().message();
    return names.status();
  }

  std::vector<std::pair<std::string, OutboxEntry>> entries;
  std::map<std::string, int64_t> unread;  // listed but not readable now: still pending
  std::set<std::string> corrupt;
  Status first_error = Status::Ok();
  for (const std::string& name : *names) {
    Result<std::string> bytes = store_.Read(name);
    if (!bytes.ok()) {
      if (bytes.status().code() == StatusCode::kNotFound) continue;  // drained by another instance
      if (first_error.ok()) first_error = bytes.status();
      unread.emplace(name, 0);
      continue;
    }
    Result<OutboxEntry> entry = DecodeOutboxEntry(name, *bytes);
    if (!entry.ok()) {
      corrupt.insert(name);
      continue;
    }
    entries.emplace_back(name, std::move(*entry));
  }
  {
    // Entries that turned corrupt since the last pass are logged once.
    std::lock_guard lock(mutex_);
    for (const std::string& name : corrupt) {
      if (!corrupt_.count(name)) {
        LogError("outbox entry " + name + " in " + store_.Describe() +
                 " is not a metrics row and is left alone; see docs/operations.md");
      }
    }
    corrupt_ = corrupt;
  }
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.second.queued_at_ms < b.second.queued_at_ms;
  });

  std::map<std::string, int64_t> still_pending = std::move(unread);
  int64_t recorded = 0;
  std::optional<std::string> refused;  // why the warehouse refused a row; the pass stops there
  for (auto& [name, entry] : entries) {
    if (refused) {
      still_pending.emplace(name, entry.queued_at_ms);
      continue;
    }
    Result<bool> written = warehouse_.Record(entry.row);
    if (!written.ok()) {
      refused = written.status().message();
      if (first_error.ok()) first_error = written.status();
      still_pending.emplace(name, entry.queued_at_ms);
      continue;
    }
    ++recorded;
    // The row is in the warehouse; an entry that cannot be deleted now is written (found
    // written) again by a later pass, which is harmless.
    if (Status deleted = store_.Delete(name); !deleted.ok()) {
      LogWarning("outbox entry " + name +
                 " written to the warehouse but not deleted: " + deleted.message());
      still_pending.emplace(name, entry.queued_at_ms);
      if (first_error.ok()) first_error = deleted;
    }
  }
  if (refused) {
    LogWarning("metrics outbox: " + std::to_string(still_pending.size()) +
               " rows wait for the warehouse " + warehouse_.Describe() + ": " + *refused);
  } else if (recorded > 0) {
    LogInfo("metrics outbox: " + std::to_string(recorded) + " rows written to " +
            warehouse_.Describe());
  }

  std::lock_guard lock(mutex_);
  // Rows added while this pass ran and not seen by its listing stay pending too.
  for (const auto& [name, queued_at] : pending_) {
    if (!std::binary_search(names->begin(), names->end(), name)) {
      still_pending.emplace(name, queued_at);
    }
  }
  pending_ = std::move(still_pending);
  recorded_total_ += recorded;
  if (refused) ++failed_attempts_total_;
  ++passes_total_;
  if (refused) {
    last_error_ = *refused;
  } else if (recorded > 0) {
    last_error_.clear();
  }
  changed_.notify_all();
  return first_error;
}

void MetricsOutbox::Start() {
  std::lock_guard lock(mutex_);
  if (worker_.joinable() || stopping_) return;
  next_pass_ = std::chrono::steady_clock::now();
  worker_ = std::thread([this] { Run(); });
}

void MetricsOutbox::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    changed_.notify_all();
  }
  if (worker_.joinable() && worker_.get_id() != std::this_thread::get_id()) worker_.join();
}

void MetricsOutbox::Run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (std::chrono::steady_clock::now() < next_pass_) {
      changed_.wait_until(lock, next_pass_);
      continue;  // woken early (an Add, Stop) or on time: look again
    }
    const uint64_t adds_before = adds_;
    lock.unlock();
    const Status outcome = DrainOnce();
    lock.lock();
    const auto now = std::chrono::steady_clock::now();
    backing_off_ = !outcome.ok();
    if (!outcome.ok()) {
      next_pass_ = now + backoff_;
      backoff_ = std::min(backoff_ * 2, options_.max_backoff);
    } else {
      backoff_ = options_.initial_backoff;
      // A row added during the pass may not have been listed: come back soon for it.
      next_pass_ =
          now + (adds_ != adds_before ? options_.initial_backoff : options_.rescan_interval);
    }
  }
}

bool MetricsOutbox::WaitFor(const std::function<bool(const OutboxStats&)>& condition,
                            std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return condition(StatsLocked()); });
}

OutboxStats MetricsOutbox::Stats() const {
  std::lock_guard lock(mutex_);
  return StatsLocked();
}

OutboxStats MetricsOutbox::StatsLocked() const {
  OutboxStats stats;
  stats.pending = static_cast<int64_t>(pending_.size());
  for (const auto& [name, queued_at] : pending_) {
    if (queued_at > 0 && (!stats.oldest_queued_ms || queued_at < *stats.oldest_queued_ms)) {
      stats.oldest_queued_ms = queued_at;
    }
  }
  stats.corrupt = static_cast<int64_t>(corrupt_.size());
  stats.recorded_total = recorded_total_;
  stats.failed_attempts_total = failed_attempts_total_;
  stats.passes_total = passes_total_;
  stats.last_error = last_error_;
  return stats;
}

}  // namespace buildtrace
