// The workers' loop, retries and dead letters, and the sweep.
#include "service/analysis_workers.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/json_writer.h"
#include "service/log.h"

namespace buildtrace {
namespace {

constexpr size_t kReceiveBatch = 8;
constexpr std::chrono::milliseconds kReceiveWait{1000};
constexpr size_t kMaxTrackedAttempts = 100'000;
constexpr size_t kPublishBatch = 500;

std::string TaskKey(const AnalysisTask& task) {
  return task.project + "/" + std::to_string(task.job_id);
}

// Failures that another attempt cannot mend: a corrupt stored object, an invalid job.
bool Permanent(const Status& status) {
  return status.code() == StatusCode::kInternal || status.code() == StatusCode::kInvalidArgument;
}

}  // namespace

AnalysisWorkers::AnalysisWorkers(AnalysisQueue& queue, Analyzer& analyzer, StateStore& store,
                                 AnalysisStats& stats, AnalysisWorkerOptions options)
    : queue_(queue), analyzer_(analyzer), store_(store), stats_(stats), options_(options) {}

AnalysisWorkers::~AnalysisWorkers() { Stop(); }

void AnalysisWorkers::Start() {
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { Run(); });
}

void AnalysisWorkers::Stop() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stopped_.notify_all();
  queue_.Close();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void AnalysisWorkers::Run() {
  for (;;) {
    {
      std::lock_guard lock(stop_mutex_);
      if (stopping_) return;
    }
    Result<std::vector<QueueDelivery>> batch = queue_.Receive(kReceiveBatch, kReceiveWait);
    if (batch.ok()) {
      for (const QueueDelivery& delivery : *batch) Process(delivery);
      continue;
    }
    // An unreachable queue may fail at once: wait before asking again, or until Stop().
    LogWarning("analysis workers cannot receive tasks: " + batch.status().message());
    std::unique_lock lock(stop_mutex_);
    stopped_.wait_for(lock, kReceiveWait, [this] { return stopping_; });
  }
}

int64_t AnalysisWorkers::AttemptOf(const QueueDelivery& delivery) {
  std::lock_guard lock(attempts_mutex_);
  const std::string key = TaskKey(delivery.task);
  if (delivery.attempt > 0) return delivery.attempt;
  if (attempts_.size() >= kMaxTrackedAttempts) attempts_.clear();
  return ++attempts_[key];
}

void AnalysisWorkers::Forget(const AnalysisTask& task) {
  std::lock_guard lock(attempts_mutex_);
  attempts_.erase(TaskKey(task));
}

void AnalysisWorkers::Process(const QueueDelivery& delivery) {
  const int64_t attempt = AttemptOf(delivery);
  const Status analysed = analyzer_.Analyse(delivery.task);
  if (analysed.ok()) {
    stats_.analysed_total.fetch_add(1);
    Forget(delivery.task);
    if (Status acked = queue_.Ack(delivery); !acked.ok() && acked.code() != StatusCode::kNotFound) {
      LogWarning("analysis of job " + std::to_string(delivery.task.job_id) + " of project " +
                 delivery.task.project +
                 " done, but its task was not acknowledged (it will be "
                 "analysed again, harmlessly): " +
                 acked.message());
    }
    return;
  }
  stats_.failed_attempts_total.fetch_add(1);
  if (Permanent(analysed) || attempt >= options_.max_attempts) {
    DeadLetter(delivery, attempt, analysed);
    return;
  }
  auto delay = options_.first_retry * (int64_t{1} << std::min<int64_t>(attempt - 1, 20));
  delay = std::min(delay, options_.max_retry);
  LogWarning("analysis of job " + std::to_string(delivery.task.job_id) + " of project " +
             delivery.task.project + " failed (attempt " + std::to_string(attempt) + " of " +
             std::to_string(options_.max_attempts) + "), retried in " +
             std::to_string(delay.count()) + " ms: " + analysed.message());
  if (Status retried = queue_.Retry(delivery, delay); !retried.ok()) {
    LogWarning("the failed task could not be handed back (its lease runs out instead): " +
               retried.message());
  }
}

void AnalysisWorkers::DeadLetter(const QueueDelivery& delivery, int64_t attempt,
                                 const Status& error) {
  std::string body;
  JsonWriter w(body);
  w.BeginObject();
  w.Key("project").String(delivery.task.project);
  w.Key("job_id").Int(delivery.task.job_id);
  w.Key("attempts").Int(attempt);
  w.Key("error").String(error.message());
  w.EndObject();
  body.push_back('\n');
  // Not for a job whose project was deleted since the attempt: there is nothing left to mend.
  const ProjectLocks::Held held = analyzer_.jobs().project_locks().Share(delivery.task.project);
  Result<std::string> job = analyzer_.jobs().ReadRaw(delivery.task.project, delivery.task.job_id);
  if (!job.ok() && job.status().code() == StatusCode::kNotFound) {
    Forget(delivery.task);
    LogWarning("analysis of job " + std::to_string(delivery.task.job_id) + " of project " +
               delivery.task.project + " failed, but the job is no longer stored: dropped");
    (void)queue_.Ack(delivery);
    return;
  }
  const Status kept =
      store_.CreateIfAbsent(DeadLetterName(delivery.task.project, delivery.task.job_id), body);
  if (!kept.ok() && kept.code() != StatusCode::kAlreadyExists) {
    // Not acknowledged: the task comes back when its lease runs out, and is tried once more.
    LogError("a failed analysis task could not be kept as a dead letter: " + kept.message());
    return;
  }
  stats_.dead_letters_total.fetch_add(1);
  Forget(delivery.task);
  LogError("analysis of job " + std::to_string(delivery.task.job_id) + " of project " +
           delivery.task.project + " gave up after " + std::to_string(attempt) +
           " attempt(s); kept as " + DeadLetterName(delivery.task.project, delivery.task.job_id) +
           ": " + error.message());
  (void)queue_.Ack(delivery);
}

AnalysisSweep::~AnalysisSweep() { Stop(); }

Result<int64_t> AnalysisSweep::SweepProject(const std::string& project) {
  Result<std::vector<IndexedJob>> backfilled = jobs_.BackfillIndex(project);
  if (!backfilled.ok()) return backfilled.status();
  Result<std::vector<std::string>> dead = jobs_.store().List(DeadLetterFolder(project));
  if (!dead.ok()) return dead.status();
  const std::set<std::string> dead_letters(dead->begin(), dead->end());
  // Walk the jobs oldest first, knowing the lineage each has now, and compare with the records
  // of its index folder (one listing per folder of 1 000 jobs).
  std::optional<int64_t> last_succeeded;
  int64_t failed_since = 0;
  std::string folder;
  std::map<int64_t, AnalysisRecordKey> current;  // the folder's records: the current per job
  std::vector<AnalysisTask> tasks;
  int64_t enqueued = 0;
  Status failure;
  auto flush = [&] {
    if (tasks.empty()) return true;
    failure = queue_.Publish(tasks);
    if (!failure.ok()) return false;
    enqueued += static_cast<int64_t>(tasks.size());
    tasks.clear();
    return true;
  };
  Status walked = jobs_.index().Ascending(project, std::nullopt, [&](const IndexedJob& job) {
    if (std::string f = AnalysisFolder(project, job.job_id); f != folder) {
      folder = std::move(f);
      Result<std::map<int64_t, AnalysisRecordKey>> records =
          CurrentRecords(jobs_.store(), project, job.job_id);
      if (!records.ok()) {
        failure = records.status();
        return false;
      }
      current = std::move(*records);
    }
    const AnalysisRecordKey expected{
        job.job_id, last_succeeded,
        std::min<int64_t>(failed_since, static_cast<int64_t>(JobIndex::kMaxSkippedListed))};
    auto it = current.find(job.job_id);
    if ((it == current.end() || !(it->second == expected)) &&
        !dead_letters.count(DeadLetterName(project, job.job_id))) {
      tasks.push_back(AnalysisTask{project, job.job_id});
      if (tasks.size() >= kPublishBatch && !flush()) return false;
    }
    if (job.status == JobStatus::kSucceeded) {
      last_succeeded = job.job_id;
      failed_since = 0;
    } else {
      ++failed_since;
    }
    return true;
  });
  if (!walked.ok()) return walked;
  if (!failure.ok() || !flush()) return failure;
  return enqueued;
}

Result<int64_t> AnalysisSweep::RunOnce() {
  Result<std::vector<ProjectSummary>> projects = jobs_.ListProjects();
  if (!projects.ok()) return projects.status();
  int64_t enqueued = 0;
  for (const ProjectSummary& project : *projects) {
    Result<int64_t> swept = SweepProject(project.project);
    if (!swept.ok()) {
      stats_.swept_total.fetch_add(static_cast<uint64_t>(enqueued));
      return swept.status().WithContext("sweeping project " + project.project + ": ");
    }
    enqueued += *swept;
  }
  stats_.swept_total.fetch_add(static_cast<uint64_t>(enqueued));
  stats_.sweeps_total.fetch_add(1);
  return enqueued;
}

void AnalysisSweep::Start() {
  thread_ = std::thread([this] {
    auto last_pass = std::chrono::steady_clock::now() - options_.interval;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_pass >= options_.interval || behind_.exchange(false)) {
        lock.unlock();
        Result<int64_t> swept = RunOnce();
        if (!swept.ok()) {
          behind_.store(true);
          LogWarning("analysis sweep stopped early (the next pass goes on): " +
                     swept.status().message());
        } else if (*swept > 0) {
          LogInfo("analysis sweep enqueued " + std::to_string(*swept) +
                  " job(s) whose analysis was missing or stale");
        }
        last_pass = std::chrono::steady_clock::now();
        lock.lock();
      }
      wake_.wait_for(lock, options_.behind_check);
    }
  });
}

void AnalysisSweep::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace buildtrace
