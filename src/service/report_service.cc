// The report flow: lineage, diff, metrics row.
#include "service/report_service.h"

#include <algorithm>
#include <exception>
#include <future>
#include <new>

#include "core/gzip_compress.h"
#include "core/json_writer.h"
#include "core/overlay_svg.h"
#include "core/report_reader.h"
#include "core/timestamp.h"
#include "service/log.h"

namespace buildtrace {

MetricsRow MetricsRowFor(const Report& r) {
  const DiffCounts& c = r.diff.counts;
  MetricsRow row;
  row.project = r.job.project;
  row.job_id = r.job.job_id;
  row.base_job_id = r.base.base_job_id;
  row.timestamp = FormatRfc3339Utc(r.job.timestamp_ms);
  row.timestamp_ms = r.job.timestamp_ms;
  row.latency_ms = r.job.latency_ms;
  row.added = c.added;
  row.removed = c.removed;
  row.modified = c.modified();
  row.unchanged = c.unchanged;
  row.moved = c.moved;
  row.resized = c.resized;
  row.retyped = c.retyped;
  row.changed = c.changed;
  row.status = r.job.status;
  return row;
}

std::string KeptReportFolder(std::string_view project) {
  return "reports/" + std::string(project) + "/";
}

std::string KeptReportName(std::string_view project, int64_t job_id, const BaseSelection& base) {
  return KeptReportFolder(project) + JobIdDigits(job_id) + "/" +
         (base.base_job_id ? JobIdDigits(*base.base_job_id) : std::string("none")) + "-l" +
         std::to_string(base.skipped_failed.size()) + "-" + std::to_string(kKeptReportLimit) +
         "-v2.json";
}

Result<BaseSelection> ReportService::ExistingJobsBase(const ReportRequest& request) {
  Result<JobHeader> header = jobs_.LoadHeader(request.project, request.job_id);
  if (!header.ok()) return header.status();
  return ChooseBase(request);
}

Result<BaseSelection> ReportService::ChooseBase(const ReportRequest& request) {
  if (request.base_job_id) {
    Result<JobHeader> base = jobs_.LoadHeader(request.project, *request.base_job_id);
    if (!base.ok()) {
      if (base.status().code() != StatusCode::kNotFound) return base.status();
      return NotFound("base job " + std::to_string(*request.base_job_id) + " of project " +
                      request.project + " does not exist; name a stored job as base");
    }
    return ExplicitBase(*request.base_job_id);
  }
  // The job index when it holds the project's every job; listing the jobs otherwise (a project
  // stored by an earlier version, until the sweep has built its index).
  Result<bool> indexed = jobs_.index().IsComplete(request.project);
  if (!indexed.ok()) return indexed.status();
  if (*indexed) return jobs_.index().SelectBase(request.project, request.job_id);
  Result<std::vector<int64_t>> ids = jobs_.ListJobIds(request.project);
  if (!ids.ok()) return ids.status();
  const auto end = std::lower_bound(ids->begin(), ids->end(), request.job_id);
  const std::span<const int64_t> earlier(ids->data(), end - ids->begin());
  return SelectBase(request.job_id, earlier,
                    [&](int64_t id) { return jobs_.LoadStatus(request.project, id); });
}

Result<Report> ReportService::Compute(const ReportRequest& request, BaseSelection base) {
  // The base is read and parsed on a second thread while this one does the job itself. The diff
  // checks the IDs of both (JobRepository::IdCheck).
  constexpr auto kByTheDiff = JobRepository::IdCheck::kByTheDiff;
  std::future<Result<std::unique_ptr<ParsedJobs>>> pending_base;
  if (base.base_job_id) {
    pending_base = std::async(std::launch::async, [this, &request, id = *base.base_job_id] {
      return jobs_.Load(request.project, id, kByTheDiff);
    });
  }
  auto current = jobs_.Load(request.project, request.job_id, kByTheDiff);
  std::unique_ptr<ParsedJobs> previous;
  if (pending_base.valid()) {
    auto loaded = pending_base.get();
    if (!loaded.ok()) return loaded.status();
    previous = std::move(*loaded);
  }
  if (!current.ok()) return current.status();
  const Job& job = (*current)->jobs().front();
  static const JobState kEmpty;
  Result<DiffResult> diff =
      DiffStates(previous ? previous->jobs().front().state : kEmpty, job.state, request.limit);
  if (!diff.ok()) {
    // Stored jobs were checked when they were posted; a repeated ID now means the store was
    // changed behind our back. Loading each again with the check names the corrupt object (and
    // counts it) as any other corruption is.
    for (const std::optional<int64_t>& id : {base.base_job_id, std::optional(request.job_id)}) {
      if (!id) continue;
      if (auto checked = jobs_.Load(request.project, *id); !checked.ok()) return checked.status();
    }
    return Internal("stored jobs of project " + request.project +
                    " are corrupt: " + diff.status().message());
  }
  Report report;
  report.job = job.header;
  report.object_count = static_cast<int64_t>(job.state.size());
  report.base = std::move(base);
  report.limit = request.limit;
  report.diff = std::move(*diff);
  return report;
}

Result<Report> ReportService::Build(const ReportRequest& request) {
  const ProjectLocks::Held held = jobs_.project_locks().Share(request.project);
  Result<BaseSelection> base = ExistingJobsBase(request);
  if (!base.ok()) return base.status();
  const bool lineage = !base->explicit_base;
  Result<Report> report = Compute(request, std::move(*base));
  if (!report.ok()) return report;
  if (lineage) report->warehouse = Record(*report);
  return report;
}

Result<std::optional<ReportService::KeptReport>> ReportService::ReadKept(
    const std::string& name, const ReportRequest& request, const BaseSelection& base) {
  Result<std::string> kept = jobs_.store().Read(name);
  if (!kept.ok()) return std::optional<KeptReport>();
  KeptReport out;
  Result<Report> report = ParseReportJson(*kept, &out.recorded_in);
  std::string problem = report.ok() ? "" : report.status().message();
  if (report.ok() &&
      (report->job.job_id != request.job_id || report->job.project != request.project ||
       report->base.base_job_id != base.base_job_id)) {
    problem = "it holds the report of another job or base";
  }
  if (!problem.empty()) {
    return jobs_.Corrupt(Internal("kept report " + name + " in " + jobs_.store().Describe() +
                                  " is corrupt: " + problem +
                                  "; delete it and it is computed again"));
  }
  out.report = std::move(*report);
  return std::optional<KeptReport>(std::move(out));
}

std::optional<std::string> ReportService::CurrentEpoch() {
  constexpr auto kEpochReuse = std::chrono::seconds(2);
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock lock(epoch_mutex_);
  if (epoch_ && now - epoch_checked_ < kEpochReuse) return epoch_;
  lock.unlock();
  Result<std::string> epoch = warehouse_.Epoch();
  lock.lock();
  epoch_checked_ = now;
  if (!epoch.ok()) return epoch_;  // unreachable: the last one known, if any
  if (epoch_ && *epoch_ != *epoch) {
    LogWarning("the warehouse " + warehouse_.Describe() +
               " lost its rows (its epoch changed from " + *epoch_ + " to " + *epoch +
               "); rows are recorded again as their reports are read; run `buildtrace "
               "rebuild-metrics` to restore every row now");
  }
  if (epoch_ != *epoch) rerecorded_.clear();
  epoch_ = *epoch;
  return epoch_;
}

WarehouseOutcome ReportService::RecordKept(const std::string& name, const KeptReport& kept) {
  const std::optional<std::string> epoch = CurrentEpoch();
  const WarehouseOutcome trusted{"recorded", false,
                                 "metrics row already in " + warehouse_.Describe() +
                                     " from the job's analysis or an earlier report"};
  if (epoch && kept.recorded_in == *epoch) return trusted;
  {
    std::lock_guard lock(epoch_mutex_);
    if (epoch && epoch_ == epoch && rerecorded_.contains(name)) return trusted;
  }
  // Recorded under another epoch (or before epochs were kept): the warehouse may have lost the
  // row since. Writing it again is harmless, since the warehouse keeps a key once.
  WarehouseOutcome outcome = Record(kept.report);
  if (outcome.status == "recorded" && epoch) {
    std::lock_guard lock(epoch_mutex_);
    if (rerecorded_.size() >= kMaxRerecorded) rerecorded_.clear();
    if (epoch_ == epoch) rerecorded_.insert(name);
  }
  if (outcome.inserted) {
    outcome.message = "metrics row written again to " + warehouse_.Describe() +
                      ", which had lost it since an earlier report";
  }
  return outcome;
}

void ReportService::ForgetProject(std::string_view project) {
  {
    std::lock_guard lock(keep_mutex_);
    ++keep_generation_;
  }
  const std::string folder = KeptReportFolder(project);
  answers_.Forget(folder);
  std::lock_guard lock(epoch_mutex_);
  std::erase_if(rerecorded_, [&](const std::string& name) { return name.starts_with(folder); });
}

namespace {

// The suffix of the cache key of a kept answer's gzip form.
constexpr std::string_view kGzipKeySuffix = " gzip";

void Tell(bool* flag, bool value) {
  if (flag != nullptr) *flag = value;
}

}  // namespace

SharedText ReportService::FindKept(const ReportRequest& request, const std::string& key,
                                   std::string_view epoch, bool* gzipped) {
  if (request.accept_gzip) {
    if (SharedText compressed = answers_.Find(key + std::string(kGzipKeySuffix), epoch)) {
      Tell(gzipped, true);
      return compressed;
    }
  }
  SharedText answer = answers_.Find(key, epoch);
  if (!answer) return nullptr;
  return AsAccepted(request, std::move(answer), &key, epoch, gzipped);
}

SharedText ReportService::PutKept(const ReportRequest& request, const std::string& key,
                                  std::string_view epoch, SharedText answer, bool* gzipped) {
  answers_.Put(key, epoch, answer);
  return AsAccepted(request, std::move(answer), &key, epoch, gzipped);
}

SharedText ReportService::AsAccepted(const ReportRequest& request, SharedText answer,
                                     const std::string* kept_key, std::string_view epoch,
                                     bool* gzipped) {
  Tell(gzipped, false);
  if (!request.accept_gzip || answer->size() < kMinGzipAnswerBytes) return answer;
  // An answer larger than the cache holds is not kept (AnswerCache::Put), nor is its gzip form.
  if (kept_key != nullptr && kept_key->size() + answer->size() > answers_.max_bytes()) {
    kept_key = nullptr;
  }
  if (kept_key == nullptr && answer->size() > kMaxGzipPerRequestBytes) return answer;
  SharedText compressed;
  try {
    compressed = std::make_shared<const std::string>(GzipCompress(*answer));
  } catch (const std::bad_alloc&) {
    return answer;  // sent as it is
  }
  if (compressed->size() >= answer->size()) return answer;
  if (kept_key != nullptr) answers_.Put(*kept_key + std::string(kGzipKeySuffix), epoch, compressed);
  Tell(gzipped, true);
  return compressed;
}

Result<SharedText> ReportService::Render(const ReportRequest& request, ReportFormat format,
                                         bool* precomputed, bool* gzipped) {
  Tell(gzipped, false);
  // It may record a row and keep a comparison: never while the project is being deleted.
  const ProjectLocks::Held held = jobs_.project_locks().Share(request.project);
  Result<BaseSelection> base = ExistingJobsBase(request);
  if (!base.ok()) return base.status();
  if (base->explicit_base) {
    // An ad-hoc comparison: answered, never kept, never a warehouse row.
    if (precomputed != nullptr) *precomputed = false;
    Result<Report> report = Compute(request, std::move(*base));
    if (!report.ok()) return report.status();
    report->warehouse = WarehouseOutcome{
        "not_recorded", false,
        "a comparison with an explicit base is not the job's lineage: the warehouse keeps one "
        "row per job, against the base lineage chooses"};
    return AsAccepted(request, std::make_shared<const std::string>(RenderReport(*report, format)),
                      nullptr, "", gzipped);
  }
  // The key: the kept comparison's name, then what else shapes the answer.
  const std::string key = KeptReportName(request.project, request.job_id, *base) + " " +
                          std::to_string(static_cast<int>(format)) + " " +
                          std::to_string(request.limit);
  const std::optional<std::string> epoch = CurrentEpoch();
  if (epoch) {
    if (SharedText answer = FindKept(request, key, *epoch, gzipped)) {
      if (precomputed != nullptr) *precomputed = true;
      return answer;
    }
  }
  Result<LineageReport> lineage = Lineage(request, std::move(*base), /*keep_later=*/true);
  if (!lineage.ok()) return lineage.status();
  if (precomputed != nullptr) *precomputed = lineage->precomputed;
  auto answer = std::make_shared<const std::string>(RenderReport(lineage->report, format));
  // Only an answer that says its row is already recorded stays right for the epoch's life.
  const std::optional<WarehouseOutcome>& w = lineage->report.warehouse;
  if (epoch && lineage->precomputed && w && w->status == "recorded" && !w->inserted) {
    return PutKept(request, key, *epoch, std::move(answer), gzipped);
  }
  return AsAccepted(request, std::move(answer), nullptr, "", gzipped);
}

Result<Report> ReportService::ComparisonFor(const ReportRequest& request, BaseSelection base) {
  if (base.explicit_base) return Compute(request, std::move(base));
  Result<LineageReport> lineage = Lineage(request, std::move(base));
  if (!lineage.ok()) return lineage.status();
  return std::move(lineage->report);
}

Result<SharedText> ReportService::Drawing(ReportRequest request, bool interactive,
                                          Report* comparison, bool* gzipped) {
  Tell(gzipped, false);
  request.limit = kKeptReportLimit;
  const ProjectLocks::Held held = jobs_.project_locks().Share(request.project);
  Result<BaseSelection> base = ExistingJobsBase(request);
  if (!base.ok()) return base.status();
  // Under the kept comparison's name (so that ForgetProject drops it), in no warehouse epoch.
  const std::string key = KeptReportName(request.project, request.job_id, *base) +
                          (interactive ? " drawing-page" : " drawing");
  const std::optional<int64_t> base_id = base->base_job_id;
  SharedText kept = FindKept(request, key, "", gzipped);
  if (kept && comparison == nullptr) return kept;
  Result<Report> report = ComparisonFor(request, std::move(*base));
  if (!report.ok()) return report.status();
  if (comparison != nullptr) *comparison = *report;
  if (kept) return kept;
  auto job = jobs_.Load(request.project, request.job_id);
  if (!job.ok()) return job.status();
  std::unique_ptr<ParsedJobs> base_job;
  if (base_id) {
    auto loaded = jobs_.Load(request.project, *base_id);
    if (!loaded.ok()) return loaded.status();
    base_job = std::move(*loaded);
  }
  static const JobState kEmpty;
  OverlayOptions options;
  options.interactive = interactive;
  auto drawing = std::make_shared<const std::string>(
      RenderOverlaySvg(report->diff, base_job ? base_job->jobs().front().state : kEmpty,
                       (*job)->jobs().front().state, options));
  return PutKept(request, key, "", std::move(drawing), gzipped);
}

Result<ReportService::LineageReport> ReportService::Analyse(std::string_view project,
                                                            int64_t job_id) {
  ReportRequest request;
  request.project = std::string(project);
  request.job_id = job_id;
  request.limit = kKeptReportLimit;
  Result<BaseSelection> base = ChooseBase(request);
  if (!base.ok()) return base.status();
  return Lineage(request, std::move(*base));
}

Result<ReportService::LineageReport> ReportService::Lineage(const ReportRequest& request,
                                                            BaseSelection base, bool keep_later) {
  const std::string name = KeptReportName(request.project, request.job_id, base);
  Result<std::optional<KeptReport>> kept = ReadKept(name, request, base);
  if (!kept.ok()) return kept.status();
  if (*kept && CanDeriveReport((*kept)->report, request.limit)) {
    LineageReport out{DeriveReport((*kept)->report, request.limit), true};
    out.report.warehouse = RecordKept(name, **kept);
    return out;
  }
  ReportRequest computed = request;
  computed.limit = std::max(request.limit, kKeptReportLimit);
  Result<Report> report = Compute(computed, std::move(base));
  if (!report.ok()) return report.status();
  const std::optional<std::string> epoch = CurrentEpoch();
  const WarehouseOutcome outcome = Record(*report);
  if (outcome.status == "recorded") {
    size_t later_from;
    {
      std::lock_guard lock(keep_mutex_);
      later_from = keep_later_min_objects_;
    }
    if (keep_later && static_cast<size_t>(report->object_count) >= later_from) {
      KeepLater(name, *report, epoch);
    } else {
      Keep(name, *report, epoch);
    }
  }
  LineageReport out{
      computed.limit == request.limit ? std::move(*report) : DeriveReport(*report, request.limit),
      false};
  out.report.warehouse = outcome;
  return out;
}

ReportService::~ReportService() {
  const size_t dropped = StopKeeping();
  if (dropped > 0) {
    LogInfo(std::to_string(dropped) +
            " comparison(s) not kept at shutdown: they are computed again when asked for");
  }
  if (keeper_.joinable()) keeper_.join();  // after the comparison it is keeping, if any
}

size_t ReportService::StopKeeping() {
  size_t dropped;
  {
    std::lock_guard lock(keep_mutex_);
    keeper_stopping_ = true;
    dropped = pending_keeps_.size();
    pending_keeps_.clear();
  }
  keep_changed_.notify_all();
  return dropped;
}

void ReportService::KeepLater(const std::string& name, const Report& report,
                              const std::optional<std::string>& epoch) {
  try {
    Report cut = DeriveReport(report, kKeptReportLimit);
    std::lock_guard lock(keep_mutex_);
    const bool waiting = std::any_of(pending_keeps_.begin(), pending_keeps_.end(),
                                     [&](const PendingKeep& keep) { return keep.name == name; });
    if (waiting) return;  // a concurrent first request handed the same comparison over
    if (!keeper_stopping_ && pending_keeps_.size() < kMaxPendingKeeps) {
      if (!keeper_.joinable()) keeper_ = std::thread([this] { RunKeeper(); });
      pending_keeps_.push_back(
          PendingKeep{name, report.job.project, std::move(cut), epoch, keep_generation_});
      keep_changed_.notify_all();
      return;
    }
  } catch (const std::exception&) {
    // No thread or no memory to be had for it: kept now, below.
  }
  Keep(name, report, epoch);
}

void ReportService::RunKeeper() {
  std::unique_lock lock(keep_mutex_);
  for (;;) {
    keep_changed_.wait(lock, [&] { return keeper_stopping_ || !pending_keeps_.empty(); });
    if (keeper_stopping_ || pending_keeps_.empty()) return;  // StopKeeping dropped what waited
    PendingKeep keep = std::move(pending_keeps_.front());
    pending_keeps_.pop_front();
    ++keeps_running_;
    const std::function<void()> before = before_keep_;
    lock.unlock();
    try {
      if (before) before();
      // As every write of a project's data: never while the project is being deleted. A
      // deletion since it was handed over (ForgetProject) drops it.
      const ProjectLocks::Held held = jobs_.project_locks().Share(keep.project);
      bool current;
      {
        std::lock_guard check(keep_mutex_);
        current = keep.generation == keep_generation_;
      }
      if (current) Keep(keep.name, keep.report, keep.epoch);
    } catch (const std::exception& e) {
      // Not kept (out of memory, say): the next request computes it again. The process goes on,
      // as it does when a request's handler throws.
      LogError("comparison " + keep.name + " not kept: " + e.what());
    }
    lock.lock();
    --keeps_running_;
    keep_changed_.notify_all();
  }
}

void ReportService::AwaitKeeps() {
  std::unique_lock lock(keep_mutex_);
  keep_changed_.wait(lock, [&] { return pending_keeps_.empty() && keeps_running_ == 0; });
}

void ReportService::SetKeepLater(size_t min_objects, std::function<void()> before_keep) {
  std::lock_guard lock(keep_mutex_);
  keep_later_min_objects_ = min_objects;
  before_keep_ = std::move(before_keep);
}

void ReportService::Keep(const std::string& name, const Report& report,
                         const std::optional<std::string>& epoch) {
  // DeriveReport of a report cut already (KeepLater's) copies no more than it holds.
  std::string kept = RenderReportJson(DeriveReport(report, kKeptReportLimit));
  if (epoch) {
    // "...}\n" -> "...,"recorded_in":"<epoch>"}\n": the epoch the row was recorded in.
    kept.resize(kept.size() - 2);
    JsonWriter w(kept);
    kept.push_back(',');
    w.Key("recorded_in").String(*epoch);
    kept.append("}\n");
  }
  Status stored = jobs_.store().CreateIfAbsent(name, kept);
  if (!stored.ok() && stored.code() != StatusCode::kAlreadyExists) {
    LogWarning("report not kept for later requests: " + stored.message());
  }
}

WarehouseOutcome ReportService::Record(const Report& report) {
  const MetricsRow row = MetricsRowFor(report);
  auto which = [&] {
    return "metrics row of job " + std::to_string(row.job_id) + " of project " + row.project;
  };
  if (outbox_ != nullptr && outbox_->IsPending(row)) {
    // Already queued: the worker retries it with backoff; asking the warehouse again on every
    // report request would defeat the backoff.
    return {"pending", false,
            which() + " waits in the outbox for " + warehouse_.Describe() +
                "; it is retried in the background"};
  }
  Result<bool> inserted = warehouse_.Record(row);
  if (inserted.ok()) {
    if (*inserted) return {"recorded", true, "metrics row written to " + warehouse_.Describe()};
    return {"recorded", false,
            "metrics row already in " + warehouse_.Describe() +
                " from the job's analysis or an earlier report"};
  }
  const std::string refused = inserted.status().message();
  if (outbox_ == nullptr) {
    LogError(which() + " not recorded: " + refused);
    return {"failed", false, refused};
  }
  if (Status kept = outbox_->Add(row); !kept.ok()) {
    LogError(which() + " not recorded and not kept in the outbox: " + refused + "; " +
             kept.message());
    return {"failed", false,
            refused + "; keeping it in the outbox failed too (" + kept.message() +
                "); it is recorded when the report is asked for again"};
  }
  LogWarning(which() + " kept in the outbox: " + refused);
  return {"pending", false,
          "the warehouse did not take the row (" + refused +
              "); it is kept in the outbox and retried in the background"};
}

}  // namespace buildtrace
