// `buildtrace worker`: the analysis workers and the sweep, without the HTTP service.
#include "cli/worker_command.h"

#include <pthread.h>

#include <csignal>
#include <cstdio>

#include "cli/backend_choice.h"
#include "service/job_repository.h"
#include "service/log.h"
#include "service/report_service.h"

namespace buildtrace {

int RunWorker(const WorkerOptions& options) {
  if (options.analysis.queue_url.starts_with("inproc:")) {
    std::fprintf(stderr,
                 "buildtrace worker: inproc:// lives inside one serve process, which analyses "
                 "its own tasks (--analysis-workers); give a shared queue: --queue "
                 "redis://HOST:PORT/STREAM or pubsub://projects/P/topics/T?subscription=S\n");
    return 2;
  }
  // SIGINT and SIGTERM are taken by sigwait below, on this thread only: every thread started
  // from here on inherits the blocked mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  Result<BackendChoice> choice =
      ChooseBackends(options.store_url, options.warehouse_url, options.data_dir);
  if (!choice.ok()) {
    std::fprintf(stderr, "buildtrace worker: %s\n", choice.status().message().c_str());
    return 2;
  }
  LogInfo(DescribeBackends(*choice, options.analysis.queue_url));
  BackendOptions backend_options{.store_url = choice->store_url,
                                 .warehouse_url = choice->warehouse_url,
                                 .warehouse_timeout_ms = options.warehouse_timeout_ms};
  Result<std::unique_ptr<ServiceBackends>> backends = OpenServiceBackends(backend_options);
  if (!backends.ok()) {
    std::fprintf(stderr, "buildtrace worker: %s\n", backends.status().message().c_str());
    return 1;
  }
  ServiceBackends& b = **backends;
  Result<std::unique_ptr<AnalysisQueue>> queue = b.registry.OpenQueue(options.analysis.queue_url);
  if (!queue.ok()) {
    std::fprintf(stderr, "buildtrace worker: %s\n", queue.status().message().c_str());
    return 1;
  }
  JobRepository jobs(*b.store, options.limits);
  ReportService reports(jobs, *b.bounded, b.outbox.get());
  Analyzer analyzer(jobs, reports, queue->get());
  AnalysisStats stats;
  BackgroundAnalysis analysis(**queue, analyzer, jobs, *b.store, stats, options.analysis);
  // Scripts and tests read this line to know the worker runs.
  std::printf("buildtrace worker: %d thread(s) on %s (store %s, warehouse %s)\n",
              options.analysis.workers, (*queue)->Describe().c_str(), b.store->Describe().c_str(),
              b.warehouse->Describe().c_str());
  std::fflush(stdout);
  b.outbox->Start();
  analysis.Start();
  int signal = 0;
  sigwait(&stop_signals, &signal);
  LogInfo("received signal " + std::to_string(signal) + ", stopping");
  analysis.Stop();
  b.outbox->Stop();
  LogInfo("stopped after " + std::to_string(stats.analysed_total.load()) + " analyses");
  return 0;
}

}  // namespace buildtrace
