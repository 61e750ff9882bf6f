// MetricsOutbox: metrics rows that the warehouse did not take, kept durably next to the states
// and retried in the background until the warehouse has them, so that no row is lost while the
// warehouse is down. Each row is one object
//   "outbox/<project>/<job_id>-<base_id or none>.json"   (IDs as 19 digits)
// named by the row's key (project, job, base), the same key under which the warehouse keeps it
// once. MetricsWarehouse::Record never duplicates a row, so a row retried twice (by two instances
// sharing the store, or again after a crash between the write and the delete) is still written
// once. An entry is deleted once its row is in the warehouse.
// Entries that cannot be read back as a row (changed by hand, say) are "corrupt": logged, counted,
// left in place for an operator and never retried.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "core/status.h"
#include "store/state_store.h"
#include "warehouse/metrics_warehouse.h"

namespace buildtrace {

inline constexpr std::string_view kOutboxPrefix = "outbox/";

struct OutboxOptions {
  // The wait after a pass in which the warehouse refused a row; doubled after each such pass up
  // to max_backoff, back to initial_backoff after a pass that wrote everything.
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{300'000};
  // How often an outbox with nothing to retry lists the store anyway, for entries that other
  // instances sharing the store left behind (a crash, a scale-down).
  std::chrono::milliseconds rescan_interval{60'000};
};

struct OutboxStats {
  int64_t pending = 0;  // rows waiting, as of the last pass plus those added since
  // When the oldest waiting row was queued (ms since the epoch); none when nothing waits.
  std::optional<int64_t> oldest_queued_ms;
  int64_t corrupt = 0;                // entries that are not a row; never retried
  int64_t recorded_total = 0;         // rows this process moved from the outbox to the warehouse
  int64_t failed_attempts_total = 0;  // rows this process retried and the warehouse refused
  int64_t passes_total = 0;           // passes over the outbox this process finished
  std::string last_error;             // why the last refused row was refused; "" after a success
};

// The object that keeps `row`: "outbox/<project>/<job_id 19 digits>-<base 19 digits|none>.json".
std::string OutboxEntryName(const MetricsRow& row);
// "outbox/<project>/": the folder of the project's entries.
std::string OutboxFolder(std::string_view project);

// The entry's bytes: {"queued_at_ms": N, "row": {...every MetricsRow field...}}, the status as
// "succeeded" or "failed".
std::string EncodeOutboxEntry(const MetricsRow& row, int64_t queued_at_ms);

struct OutboxEntry {
  MetricsRow row;
  int64_t queued_at_ms = 0;
};

// Reads an entry back, checking every field (CheckMetricsRow, types, nothing missing or extra) and
// that `name` is the row's own name. kInvalidArgument saying what is wrong otherwise. An entry
// without "status" (written before statuses were kept) is a succeeded job's row.
Result<OutboxEntry> DecodeOutboxEntry(std::string_view name, std::string_view bytes);

// Thread-safe. The store and the warehouse must outlive the outbox.
class MetricsOutbox {
 public:
  MetricsOutbox(StateStore& store, MetricsWarehouse& warehouse, OutboxOptions options,
                std::function<int64_t()> now_ms);
  ~MetricsOutbox();  // Stop()s the worker
  MetricsOutbox(const MetricsOutbox&) = delete;
  MetricsOutbox& operator=(const MetricsOutbox&) = delete;

  // Keeps `row` durably for the worker to retry (Ok also when it is kept already); the store's
  // error otherwise, and then nothing is kept. Brings the worker's next pass forward to
  // initial_backoff from now when it was idle.
  Status Add(const MetricsRow& row);

  // Whether this process knows `row` to be waiting in the outbox.
  bool IsPending(const MetricsRow& row) const;

  // One pass: lists the outbox, reads every entry, and writes the rows to the warehouse, oldest
  // first, deleting each entry whose row is written (or found written). Stops at the first row
  // the warehouse refuses (the next ones would most likely wait for the same timeout); the rest
  // stay pending. Returns Ok when nothing is left to retry, else the first error (the store's
  // or the warehouse's). Passes never overlap: a call waits for a running one.
  Status DrainOnce();

  // Deletes the project's entries (corrupt ones too) and forgets them, so that no pass writes
  // their rows afterwards: waits for a running pass (whose rows may then be in the warehouse)
  // and keeps the next one out meanwhile. Returns the entries deleted. Entries that other
  // processes add meanwhile, or whose passes run now, are not covered: the caller keeps writers
  // of the project away (service/project_deletion.h). The store's error otherwise; the entries
  // not deleted then stay pending.
  Result<int64_t> DiscardProject(std::string_view project);

  // Starts the background worker: a pass at once (which resumes what an earlier run left), then
  // after each backoff while rows wait, or after rescan_interval when none do. Once only.
  void Start();
  // Stops the worker after its current pass; rows that still wait stay in the store for the next
  // start. Idempotent.
  void Stop();

  // Blocks until `condition` holds for the stats (looked at after every change) or `timeout`
  // passes; whether it holds. For tests and for shutdown.
  bool WaitFor(const std::function<bool(const OutboxStats&)>& condition,
               std::chrono::milliseconds timeout);
  bool WaitUntilEmpty(std::chrono::milliseconds timeout) {
    return WaitFor([](const OutboxStats& s) { return s.pending == 0; }, timeout);
  }

  OutboxStats Stats() const;

 private:
  void Run();
  OutboxStats StatsLocked() const;  // mutex_ held

  StateStore& store_;
  MetricsWarehouse& warehouse_;
  const OutboxOptions options_;
  const std::function<int64_t()> now_ms_;

  std::mutex pass_mutex_;  // held for a whole pass

  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable changed_;
  std::map<std::string, int64_t> pending_;  // entry name -> queued_at_ms
  std::set<std::string> corrupt_;
  int64_t recorded_total_ = 0;
  int64_t failed_attempts_total_ = 0;
  int64_t passes_total_ = 0;
  std::string last_error_;
  uint64_t adds_ = 0;  // Add() calls, so the worker sees rows added during its pass
  std::chrono::steady_clock::time_point next_pass_;
  std::chrono::milliseconds backoff_;
  bool backing_off_ = false;  // the last pass failed
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace buildtrace
