// Builds the report on one job: finds its base (lineage), diffs the two stored states, records
// the metrics row in the warehouse once per (project, job, base), and renders it. The comparison
// with the lineage base is kept in the store next to the states (reports/...), once per job and
// lineage, whatever the format or limit asked for: every later report on it, in either format and
// with any limit it holds, is rendered from that one object without reading the states. Reports
// against an explicit base are computed and never kept, so readers cannot grow the store.
// Never computes a report on partial data: a store error is returned as is.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>

#include "core/report.h"
#include "core/shared_text.h"
#include "service/answer_cache.h"
#include "service/job_repository.h"
#include "service/metrics_outbox.h"
#include "warehouse/metrics_warehouse.h"

namespace buildtrace {

struct ReportRequest {
  std::string project{kDefaultProject};
  int64_t job_id = 0;
  std::optional<int64_t> base_job_id;  // explicit base; chosen by lineage when absent
  size_t limit = 1000;                 // listed IDs per kind
  // The client takes a gzip-compressed answer (http/response_coding.h): a kept answer is then
  // served in the gzip form kept beside it, made once (Render, Drawing).
  bool accept_gzip = false;
};

// Thread-safe if the repository's store and the warehouse are.
class ReportService {
 public:
  // `outbox` (may be null: a refused row is then only reported as failed) keeps the rows the
  // warehouse refuses for a retry in the background.
  // `answer_cache_bytes` caps the rendered answers of kept comparisons held in memory
  // (service/answer_cache.h; 0: none).
  ReportService(JobRepository& jobs, MetricsWarehouse& warehouse, MetricsOutbox* outbox = nullptr,
                size_t answer_cache_bytes = kDefaultAnswerCacheBytes)
      : jobs_(jobs), warehouse_(warehouse), outbox_(outbox), answers_(answer_cache_bytes) {}
  // Waits for the comparison being kept (KeepLater), if any; those still waiting are dropped
  // (StopKeeping), so that shutdown never waits for more than one store write.
  ~ReportService();
  ReportService(const ReportService&) = delete;
  ReportService& operator=(const ReportService&) = delete;

  static constexpr size_t kDefaultAnswerCacheBytes = size_t{16} << 20;
  // Render keeps the comparison of a job of at least this many objects after it has answered,
  // on a thread of its own (KeepLater): rendering and flushing it to the store are then not part
  // of the first request's time. Smaller ones are kept before the answer, as Analyse keeps all.
  static constexpr size_t kKeepLaterMinObjects = 100'000;

  // Computes the report afresh and records its metrics row (lineage base only: a report against
  // an explicit base has no warehouse section). kNotFound if the job or the
  // explicit base does not exist; kUnavailable if the store cannot be read; kInternal if a
  // stored job is corrupt. A warehouse failure is not an error: the row goes to the outbox and
  // the report's `warehouse` section says "pending" ("failed" when the outbox cannot keep it
  // either, or there is none). Holds the project's lock shared.
  Result<Report> Build(const ReportRequest& request);

  // The rendered report: from the kept comparison when there is one that holds the limit asked
  // for, else built, recorded, kept (lineage base only, and only once its row is recorded, so a
  // kept comparison always has its row) and rendered. Errors as Build; a kept comparison that
  // does not parse is kInternal with reason "corrupt_object", naming it. A kept report's
  // warehouse section says the row is already recorded.
  // A report against an explicit base is computed and never recorded: its warehouse section
  // says "not_recorded". `precomputed`, when given, is set to whether the lineage comparison was
  // kept before this call (analysed in the background, or asked for before). A kept comparison's
  // answer is rendered once per format and limit and then served from memory (the same bytes,
  // shared, never copied) while the warehouse's epoch stays the same. Holds the project's lock
  // (JobRepository::project_locks) shared.
  // With request.accept_gzip, the answer comes gzip-compressed (core/gzip_compress.h) when it is
  // at least kMinGzipAnswerBytes long and its gzip form is smaller, and `gzipped` (when given)
  // says so; the caller sends whatever comes as it is. A kept answer's compressed form is made at
  // the first such request and kept beside it in the cache (its own entry, so the cache's cap
  // counts it, and each form leaves when it is the least recently used); an answer that is not
  // kept is compressed for this request only, and only up to kMaxGzipPerRequestBytes.
  Result<SharedText> Render(const ReportRequest& request, ReportFormat format,
                            bool* precomputed = nullptr, bool* gzipped = nullptr);

  struct LineageReport {
    Report report;
    bool precomputed = false;  // read from the kept comparison rather than computed now
  };
  // Analyses a job: its comparison with the base lineage chooses, kept (at kKeptReportLimit)
  // and its lineage row recorded, as Render does without rendering. Errors as Build. The caller
  // holds the project's lock shared (Analyzer::Analyse does).
  Result<LineageReport> Analyse(std::string_view project, int64_t job_id);

  // The comparison Render would serve (the kept lineage comparison, or an explicit base's, at
  // kKeptReportLimit) drawn (core/overlay_svg.h; `interactive`: for a page), which needs the two
  // states' geometry. Both states are read and parsed once per comparison and variant: the
  // drawing is then served from memory (the answer cache; the states never change, so neither
  // does the drawing, whatever the warehouse's epoch) until the project is deleted or the cache
  // needs the room. `comparison`, when given, receives that comparison as a Report, for a page
  // that shows it beside the drawing: the same base, chosen once, under the same lock. Errors as
  // Build. Holds the project's lock shared.
  // With request.accept_gzip, the drawing comes gzip-compressed as Render's kept answers do.
  Result<SharedText> Drawing(ReportRequest request, bool interactive, Report* comparison = nullptr,
                             bool* gzipped = nullptr);

  // Forgets what this process remembers of the project's kept comparisons (it was deleted), and
  // drops the comparisons still waiting to be kept (KeepLater), of any project. The caller holds
  // the project's lock exclusively.
  void ForgetProject(std::string_view project);

  // For tests: waits until every comparison handed to the background has been kept (or dropped).
  void AwaitKeeps();
  // Keeps nothing more in the background: drops the comparisons waiting (returns how many; a
  // later request computes them again) and keeps from now on before answering. The destructor
  // calls it; the comparison being kept, if any, is finished.
  size_t StopKeeping();
  // For tests: the job size from which Render keeps after answering (kKeepLaterMinObjects), and
  // a hook the background thread runs before it takes a comparison's project lock.
  void SetKeepLater(size_t min_objects, std::function<void()> before_keep = nullptr);

 private:
  Result<BaseSelection> ChooseBase(const ReportRequest& request);
  // The job's base, once the job is known to exist (kNotFound naming it otherwise).
  Result<BaseSelection> ExistingJobsBase(const ReportRequest& request);
  // The lineage comparison at request.limit: kept, or computed, recorded and kept (with
  // `keep_later`, a large one after the caller has answered: KeepLater).
  Result<LineageReport> Lineage(const ReportRequest& request, BaseSelection base,
                                bool keep_later = false);
  Result<Report> Compute(const ReportRequest& request, BaseSelection base);
  // The kept lineage comparison, or an explicit base's computed, for `base` (from ChooseBase),
  // with the project's lock held by the caller.
  Result<Report> ComparisonFor(const ReportRequest& request, BaseSelection base);
  WarehouseOutcome Record(const Report& report);
  // The kept answer under `key` in `epoch` as the client takes it (AsAccepted): its gzip form,
  // kept or made and kept now, or the answer itself; null when neither is kept.
  SharedText FindKept(const ReportRequest& request, const std::string& key, std::string_view epoch,
                      bool* gzipped);
  // Keeps `answer` under `key` in `epoch` and returns it as the client takes it (AsAccepted).
  SharedText PutKept(const ReportRequest& request, const std::string& key, std::string_view epoch,
                     SharedText answer, bool* gzipped);
  // `answer` as the client takes it, as Render says: gzip-compressed, its compressed form kept
  // under *kept_key + " gzip" in `epoch` when `kept_key` is given, or as it is. Sets *gzipped
  // (may be null) to which.
  SharedText AsAccepted(const ReportRequest& request, SharedText answer,
                        const std::string* kept_key, std::string_view epoch, bool* gzipped);
  struct KeptReport {
    Report report;
    std::string recorded_in;  // the warehouse epoch its row was recorded in; "" if not known
  };
  // The kept comparison `name`: nullopt when there is none (or it cannot be read now: the report
  // is then computed); kInternal "corrupt_object" when it does not parse or is another job's.
  Result<std::optional<KeptReport>> ReadKept(const std::string& name, const ReportRequest& request,
                                             const BaseSelection& base);
  // Keeps `report` (cut at kKeptReportLimit) as `name`, with the epoch its row was recorded in.
  void Keep(const std::string& name, const Report& report, const std::optional<std::string>& epoch);
  // The same on the keeper thread, soon: the caller answers meanwhile. A request for the same
  // comparison before it is kept computes it again, as two first requests at once do (and does
  // not hand it over twice). With kMaxPendingKeeps waiting already, once StopKeeping has run, or
  // with no thread or memory to be had, it keeps it now instead. The keeper logs, and goes on,
  // when a keep throws.
  void KeepLater(const std::string& name, const Report& report,
                 const std::optional<std::string>& epoch);
  void RunKeeper();
  // The warehouse section of a kept comparison's report: "recorded" when its row was recorded in
  // the warehouse's current epoch (or this process wrote it again since); otherwise the row is
  // recorded again (the warehouse lost its rows, or the comparison predates epochs).
  WarehouseOutcome RecordKept(const std::string& name, const KeptReport& kept);
  // The warehouse's epoch, asked at most every 2 s; the last one known while it cannot be
  // reached; nullopt when none is known. Logs when it changes.
  std::optional<std::string> CurrentEpoch();

  JobRepository& jobs_;
  MetricsWarehouse& warehouse_;
  MetricsOutbox* outbox_;
  AnswerCache answers_;  // keyed by kept comparison name, format and limit

  static constexpr size_t kMaxRerecorded = 100'000;
  std::mutex epoch_mutex_;
  std::optional<std::string> epoch_;                     // guarded by epoch_mutex_
  std::chrono::steady_clock::time_point epoch_checked_;  // guarded by epoch_mutex_
  // Kept comparisons whose rows this process recorded again in epoch_.
  std::unordered_set<std::string> rerecorded_;  // guarded by epoch_mutex_

  struct PendingKeep {
    std::string name;
    std::string project;
    Report report;  // cut at kKeptReportLimit
    std::optional<std::string> epoch;
    uint64_t generation = 0;  // keep_generation_ when it was handed over
  };
  static constexpr size_t kMaxPendingKeeps = 4;
  std::mutex keep_mutex_;
  std::condition_variable keep_changed_;
  std::deque<PendingKeep> pending_keeps_;  // guarded by keep_mutex_
  size_t keeps_running_ = 0;               // guarded by keep_mutex_
  uint64_t keep_generation_ = 0;           // guarded by keep_mutex_; ForgetProject advances it
  bool keeper_stopping_ = false;           // guarded by keep_mutex_
  size_t keep_later_min_objects_ = kKeepLaterMinObjects;  // guarded by keep_mutex_
  std::function<void()> before_keep_;                     // guarded by keep_mutex_
  std::thread keeper_;  // started by the first KeepLater, joined by the destructor
};

// Kept comparisons list at most this many IDs per kind (the default limit): a report with a
// larger limit is computed unless the kept lists were not cut.
inline constexpr size_t kKeptReportLimit = 1000;

// Where the comparison of `job_id` with its lineage base is kept:
// "reports/<project>/<job_id>/<base_id or none>-l<skipped failed>-1000-v2.json", IDs as 19 digits,
// holding the JSON report (without its warehouse section) at limit kKeptReportLimit. The base
// and what lineage skipped are in the name, so a kept comparison is never served for a different
// lineage: jobs are never deleted (but with their whole project, kept comparisons included), so
// the set of failed jobs skipped between a job and its base only grows, and its size names it. The
// object also carries "recorded_in", the warehouse epoch its row was recorded in
// (MetricsWarehouse::Epoch), so that a warehouse that lost its rows since gets them again as their
// reports are read. (Earlier versions also kept "-e" explicit-base,
// ".txt" and other-limit variants under the same folder, and "-1000.json" without the added
// objects' placements that "-v2" holds; they are no longer read or written: a job whose kept
// comparison is of an earlier version is compared again once, and kept anew.)
std::string KeptReportName(std::string_view project, int64_t job_id, const BaseSelection& base);
// "reports/<project>/": the folder of the project's kept comparisons.
std::string KeptReportFolder(std::string_view project);

// The warehouse row for a report.
MetricsRow MetricsRowFor(const Report& report);

}  // namespace buildtrace
