// Builds the `buildtrace` command line with CLI11 and runs the chosen subcommand.
#include "cli/command_line.h"

#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <iostream>
#include <map>

#include "cli/option_environment.h"
#include "core/job_state.h"
#include "service/log.h"

namespace buildtrace {
namespace {

// "64MiB", "512KiB", "1GiB", "1000" -> bytes; 0 on error.
uint64_t ParseSize(const std::string& text) {
  uint64_t value = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), value);
  if (r.ec != std::errc() || r.ptr == text.data()) return 0;
  const std::string unit(r.ptr);
  if (unit.empty() || unit == "B") return value;
  if (unit == "KiB" || unit == "K") return value << 10;
  if (unit == "MiB" || unit == "M") return value << 20;
  if (unit == "GiB" || unit == "G") return value << 30;
  return 0;
}

uint16_t DefaultPort() {
  const char* env = std::getenv("PORT");
  if (!env) return 8080;
  unsigned port = 0;
  auto r = std::from_chars(env, env + std::char_traits<char>::length(env), port);
  if (r.ec != std::errc() || *r.ptr != '\0' || port > 65535) {
    std::cerr << "buildtrace: ignoring PORT=" << env << " (not a port number); using 8080\n";
    return 8080;
  }
  return static_cast<uint16_t>(port);
}

// --url and --token of the commands that talk to a running service.
void AddConnection(CLI::App& command, std::string& url, std::string& token) {
  command.add_option("--url", url, "The service, http://HOST:PORT")->capture_default_str();
  command.add_option("--token", token,
                     "Bearer token, when the service checks tokens (prefer BUILDTRACE_TOKEN: a "
                     "command line is visible to other users)");
}

// Durations such as 10s, 500ms or 2min, given in milliseconds.
CLI::AsNumberWithUnit Duration() {
  return CLI::AsNumberWithUnit(
      std::map<std::string, int64_t>{{"ms", 1}, {"s", 1000}, {"min", 60'000}},
      CLI::AsNumberWithUnit::UNIT_REQUIRED, "DURATION");
}

// Connection limits and timeouts: sizes such as 8KiB, durations such as 10s or 500ms.
void AddServeLimits(CLI::App& serve, ServeOptions& o) {
  const auto size = CLI::AsSizeValue(false);
  const auto ms = Duration();
  const auto positive = CLI::Range(int64_t{1}, int64_t{24} * 3600 * 1000);
  serve.add_option("--max-headers", o.max_header_bytes, "Largest request headers (431 beyond)")
      ->transform(size)
      ->check(CLI::Range(1u, 1u << 30))
      ->capture_default_str();
  serve.add_option("--max-url", o.max_url_bytes, "Longest request target (414 beyond)")
      ->transform(size)
      ->check(CLI::Range(1u, 1u << 30))
      ->capture_default_str();
  serve
      .add_option("--max-connections", o.max_connections,
                  "Open connections at most (a new one beyond gets 503)")
      ->check(CLI::Range(1u, 1u << 20))
      ->capture_default_str();
  serve
      .add_option("--max-connections-per-client", o.max_connections_per_client,
                  "Open connections from one address at most (0: no limit; beyond, its own "
                  "idle connection is closed, else the new one gets 503)")
      ->check(CLI::Range(0u, 1u << 20))
      ->capture_default_str();
  serve
      .add_option("--idle-timeout", o.idle_timeout_ms,
                  "How long a connection may wait for its next request (default 60s)")
      ->transform(ms)
      ->check(positive);
  serve
      .add_option("--header-timeout", o.header_timeout_ms,
                  "How long a request's headers may take to arrive (default 10s)")
      ->transform(ms)
      ->check(positive);
  serve
      .add_option("--request-timeout", o.request_timeout_ms,
                  "How long a whole request may take to arrive (default 120s)")
      ->transform(ms)
      ->check(positive);
  serve
      .add_option("--max-jobs-per-request", o.limits.max_jobs,
                  "Jobs in one POST /process at most (413 beyond)")
      ->check(CLI::Range(size_t{1}, size_t{1'000'000}))
      ->capture_default_str();
  serve.add_option("--max-objects", o.limits.max_objects, "Objects in one job's state at most")
      ->check(CLI::Range(size_t{1}, size_t{100'000'000}))
      ->capture_default_str();
  // A state entry holds IDs of up to JobState::kMaxIdBytes (16 383) bytes.
  serve.add_option("--max-id-bytes", o.limits.max_id_bytes, "Longest object ID")
      ->check(CLI::Range(size_t{1}, JobState::kMaxIdBytes))
      ->capture_default_str();
  serve.add_option("--max-hash-bytes", o.limits.max_hash_bytes, "Longest hash string")
      ->check(CLI::Range(size_t{1}, size_t{65'536}))
      ->capture_default_str();
  serve.add_option("--max-depth", o.limits.max_depth, "Deepest nesting in a structured object")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  serve
      .add_option("--shutdown-timeout", o.shutdown_timeout_ms,
                  "On SIGTERM, how long requests in flight may take to finish (default 10s)")
      ->transform(ms)
      ->check(positive);
  serve
      .add_option("--outbox-retry-initial", o.outbox_retry_initial_ms,
                  "First wait before retrying metrics rows the warehouse refused (default 1s)")
      ->transform(ms)
      ->check(positive);
  serve
      .add_option("--outbox-retry-max", o.outbox_retry_max_ms,
                  "Longest wait between retries of the outbox; doubles up to it (default 5min)")
      ->transform(ms)
      ->check(positive);
  serve
      .add_option("--outbox-rescan", o.outbox_rescan_ms,
                  "How often an idle outbox looks for rows other instances left (default 60s)")
      ->transform(ms)
      ->check(positive);
}

// How long the service waits for its backends before it answers without them.
void AddServeDeadlines(CLI::App& serve, ServeOptions& o) {
  const auto ms = Duration();
  serve
      .add_option("--warehouse-timeout", o.warehouse_timeout_ms,
                  "Longest wait for one warehouse call; a report's row then waits in the outbox "
                  "(default 1s)")
      ->transform(ms)
      ->check(CLI::Range(int64_t{1}, int64_t{600'000}));
  serve
      .add_option("--probe-timeout", o.probe_timeout_ms,
                  "Longest wait of /readyz for each backend's probe (default 1s)")
      ->transform(ms)
      ->check(CLI::Range(int64_t{1}, int64_t{60'000}));
}

// The analysis queue and its workers, for `serve` and `worker`; `workers` is the default of
// --analysis-workers (serve) or --threads (worker).
void AddAnalysisOptions(CLI::App& command, AnalysisOptions& o, const char* workers_flag,
                        int min_workers) {
  command
      .add_option("--queue", o.queue_url,
                  "Analysis queue URL: inproc:// (in this process, bounded), "
                  "redis://HOST:PORT/STREAM, pubsub://projects/P/topics/T?subscription=S")
      ->capture_default_str();
  command
      .add_option(workers_flag, o.workers,
                  min_workers == 0 ? "Threads analysing jobs in the background (0: none here; "
                                     "with inproc://, background analysis is off)"
                                   : "Threads analysing jobs")
      ->check(CLI::Range(min_workers, 256))
      ->capture_default_str();
  command
      .add_option("--max-attempts", o.max_attempts,
                  "Attempts at one task before it becomes a dead letter")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  command
      .add_option("--sweep-interval", o.sweep_interval_ms,
                  "How often stored jobs without analysis are looked for and enqueued "
                  "(default 10min; also at start)")
      ->transform(Duration())
      ->check(CLI::Range(int64_t{1000}, int64_t{24} * 3600 * 1000));
}

void AddServe(CLI::App& app, ServeOptions& o, std::string& max_body, std::string& max_inflight_body,
              std::string& keep_memory) {
  auto* serve = app.add_subcommand("serve", "Run the HTTP service");
  o.port = DefaultPort();
  serve->add_option("--host", o.host, "Address to listen on")->capture_default_str();
  serve->add_option("--port", o.port, "Port to listen on (default: $PORT, else 8080; 0 = any)")
      ->capture_default_str();
  serve->add_option("--data-dir", o.data_dir, "Folder for the default store and warehouse")
      ->capture_default_str();
  serve->add_option("--store", o.store_url, "State store URL (default: file://<data-dir>/states)");
  serve->add_option("--warehouse", o.warehouse_url,
                    "Metrics warehouse URL (default: sqlite://<data-dir>/metrics.db)");
  serve->add_option("--max-body", max_body, "Largest request body, e.g. 64MiB")
      ->capture_default_str();
  serve->add_option("--max-inflight-body", max_inflight_body,
                    "Request-body bytes held at once across all connections, e.g. 256MiB "
                    "(default: 4 x --max-body; beyond, 503)");
  serve
      ->add_option("--keep-memory", keep_memory,
                   "Freed memory kept for reuse by later requests, e.g. 64MiB (0: return it "
                   "all to the system at once)")
      ->capture_default_str();
  serve
      ->add_option("--threads", o.worker_threads,
                   "Worker threads (0: one per CPU the process may use, its affinity and cgroup "
                   "quota counted; at least 2)")
      ->check(CLI::Range(0, 256));
  AddServeLimits(*serve, o);
  AddServeDeadlines(*serve, o);
  serve->add_option("--auth-tokens-file", o.auth_tokens_file,
                    "File of bearer-token hashes, scopes and projects (docs/operations.md)");
  serve->add_flag("--allow-unauthenticated", o.allow_unauthenticated,
                  "Listen on a non-loopback --host without a tokens file");
  AddAnalysisOptions(*serve, o.analysis, "--analysis-workers", 0);
  const std::map<std::string, ReportFormat> formats = {{"json", ReportFormat::kJson},
                                                       {"classic", ReportFormat::kClassic}};
  serve
      ->add_option("--report-format", o.report_format,
                   "What GET /report answers without ?format=: json, or classic (the original "
                   "service's report, for its clients)")
      ->transform(CLI::CheckedTransformer(formats))
      ->default_str("json");
}

void AddWorker(CLI::App& app, WorkerOptions& o) {
  auto* worker = app.add_subcommand(
      "worker", "Analyse jobs from a shared queue, apart from the HTTP service (until SIGTERM)");
  worker->add_option("--data-dir", o.data_dir, "Folder of the default store and warehouse")
      ->capture_default_str();
  worker->add_option("--store", o.store_url,
                     "State store URL, the serve instances' (default: file://<data-dir>/states)");
  worker->add_option("--warehouse", o.warehouse_url,
                     "Metrics warehouse URL, the serve instances' (default: "
                     "sqlite://<data-dir>/metrics.db)");
  o.analysis.queue_url.clear();
  AddAnalysisOptions(*worker, o.analysis, "--threads", 1);
  worker->get_option("--queue")->required();
  worker
      ->add_option("--warehouse-timeout", o.warehouse_timeout_ms,
                   "Longest wait for one warehouse call; the row then waits in the outbox "
                   "(default 10s)")
      ->transform(Duration())
      ->check(CLI::Range(int64_t{1}, int64_t{600'000}));
}

void AddSimulate(CLI::App& app, SimulateOptions& o) {
  auto* sim = app.add_subcommand("simulate",
                                 "Post a deterministic sequence of jobs, then "
                                 "fetch their reports and latency percentiles");
  AddConnection(*sim, o.url, o.token);
  sim->add_option("--project", o.project, "Project to post to")->capture_default_str();
  sim->add_option("--jobs", o.jobs, "Number of jobs")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  sim->add_option("--objects", o.objects, "Objects per job")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  sim->add_option("--batch", o.batch, "Jobs per POST request")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  sim->add_option("--seed", o.seed, "Random seed")->capture_default_str();
  sim->add_option("--first-job-id", o.first_job_id, "ID of the first job")
      ->check(CLI::Range(int64_t{1}, INT64_MAX / 2))
      ->capture_default_str();
  sim->add_option("--start", o.start_epoch_seconds,
                  "Timestamp of the first job, in seconds since the epoch (default: so that the "
                  "last job is about now)");
  sim->add_option("--failure-rate", o.failure_rate, "Share of jobs that fail")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
}

void AddRebuildMetrics(CLI::App& app, RebuildCommandOptions& o) {
  auto* rebuild = app.add_subcommand(
      "rebuild-metrics",
      "Write every stored job's metrics row into the warehouse again, from the store (safe to "
      "repeat, also while the service runs)");
  rebuild->add_option("--data-dir", o.data_dir, "Folder of the default store and warehouse")
      ->capture_default_str();
  rebuild->add_option("--store", o.store_url,
                      "Store URL (default: file://<data-dir>/states; s3://, gs://)");
  rebuild->add_option("--warehouse", o.warehouse_url,
                      "Warehouse URL (default: sqlite://<data-dir>/metrics.db; postgresql://, "
                      "bigquery://)");
  rebuild->add_option("--project", o.project, "Only this project (default: every project)");
}

void AddPost(CLI::App& app, PostOptions& o) {
  auto* post = app.add_subcommand(
      "post",
      "Post job files (a job or a JSON array of jobs each; - for standard input) to a running "
      "service, gzip-compressed, and print its answers (exit 0: accepted, 1: an error answer, "
      "2: bad options or an unreadable file, 3: no answer)");
  AddConnection(*post, o.connection.url, o.connection.token);
  post->add_option("files", o.files, "Job files, in order; - for standard input")->required();
  post->add_flag("!--no-gzip", o.gzip, "Send the bodies uncompressed");
}

void AddReport(CLI::App& app, ReportOptions& o) {
  auto* report = app.add_subcommand(
      "report",
      "Print a job's report from a running service (exit 0: no changes, 1: changes, 2: trouble, "
      "3: no answer)");
  AddConnection(*report, o.connection.url, o.connection.token);
  report->add_option("job", o.job_id, "The job's ID")
      ->required()
      ->check(CLI::Range(int64_t{1}, INT64_MAX));
  report->add_option("--project", o.project, "The job's project")->capture_default_str();
  report->add_option("--base", o.base, "Compare with this job instead of lineage's base")
      ->check(CLI::Range(int64_t{1}, INT64_MAX));
  report->add_option("--format", o.format, "json, text or classic")
      ->check(CLI::IsMember({"json", "text", "classic"}))
      ->capture_default_str();
}

void AddJobs(CLI::App& app, JobsOptions& o) {
  auto* jobs = app.add_subcommand(
      "jobs",
      "List a project's jobs, newest first, with their analysis (JSON; a table on a terminal)");
  AddConnection(*jobs, o.connection.url, o.connection.token);
  jobs->add_option("--project", o.project, "The project")->capture_default_str();
  jobs->add_option("--limit", o.limit, "Jobs on the page (default 50)")->check(CLI::Range(1, 1000));
  jobs->add_option("--before", o.before, "Only jobs with a smaller ID (the next page)")
      ->check(CLI::Range(int64_t{1}, INT64_MAX));
}

void AddDeleteProject(CLI::App& app, DeleteProjectOptions& o) {
  auto* command = app.add_subcommand(
      "delete-project",
      "Delete a project from a running service: its jobs, reports, index and metrics rows, for "
      "good (exit 0: deleted or nothing to delete, 1: an error answer, 2: bad options or no "
      "--yes, 3: no answer)");
  AddConnection(*command, o.connection.url, o.connection.token);
  command->add_option("project", o.project, "The project")->required();
  command->add_flag("--yes", o.yes, "Confirm the deletion (nothing is sent without it)");
}

void AddStats(CLI::App& app, StatsOptions& o) {
  auto* stats = app.add_subcommand(
      "stats", "Print latency quantiles from a running service (JSON; a table on a terminal)");
  AddConnection(*stats, o.connection.url, o.connection.token);
  stats->add_option("--project", o.project, "Only this project (default: every project)");
  stats->add_option("--status", o.status, "Jobs counted: succeeded (default), failed or all")
      ->check(CLI::IsMember({"succeeded", "failed", "all"}));
  stats->add_option("--window", o.window, "Time window ending now, e.g. 7d (default 30d)");
  stats->add_option("--quantiles", o.quantiles, "e.g. 0.5,0.95,0.99 (the default)");
}

void ApplyLogging(const CommandLine& line) {
  static const std::map<std::string, LogLevel> kLevels = {{"debug", LogLevel::kDebug},
                                                          {"info", LogLevel::kInfo},
                                                          {"warning", LogLevel::kWarning},
                                                          {"error", LogLevel::kError}};
  SetLogLevel(kLevels.at(line.log_level));
  SetLogFormat(line.log_format == "json" ? LogFormat::kJson : LogFormat::kText);
}

int RunServeCommand(CommandLine& line) {
  ServeOptions& serve = line.serve;
  serve.max_body_bytes = ParseSize(line.max_body);
  if (serve.max_body_bytes == 0) {
    std::cerr << "buildtrace serve: --max-body \"" << line.max_body
              << "\" is not a size; write e.g. 64MiB, 512KiB or 1000000\n";
    return 2;
  }
  if (!line.max_inflight_body.empty()) {
    serve.max_inflight_body_bytes = ParseSize(line.max_inflight_body);
    if (serve.max_inflight_body_bytes == 0) {
      std::cerr << "buildtrace serve: --max-inflight-body \"" << line.max_inflight_body
                << "\" is not a size; write e.g. 256MiB, 1GiB or 1000000\n";
      return 2;
    }
  }
  serve.keep_memory_bytes = ParseSize(line.keep_memory);
  if (serve.keep_memory_bytes == 0 && line.keep_memory != "0") {
    std::cerr << "buildtrace serve: --keep-memory \"" << line.keep_memory
              << "\" is not a size; write e.g. 64MiB, 0 or 1GiB\n";
    return 2;
  }
  return RunServe(serve);
}

int Dispatch(const CLI::App& app, CommandLine& line) {
  const std::string command = app.get_subcommands().front()->get_name();
  const bool stdout_terminal = ::isatty(STDOUT_FILENO) == 1;
  const bool stderr_terminal = ::isatty(STDERR_FILENO) == 1;
  if (command == "serve") return RunServeCommand(line);
  if (command == "worker") return RunWorker(line.worker);
  if (command == "rebuild-metrics") return RunRebuildMetrics(line.rebuild, std::cout, std::cerr);
  if (command == "simulate") {
    line.simulate.progress = stderr_terminal;
    return RunSimulate(line.simulate, std::cout, std::cerr);
  }
  if (command == "post") {
    line.post.progress = stderr_terminal;
    return RunPost(line.post, std::cin, std::cout, std::cerr);
  }
  if (command == "report") return RunReport(line.report, std::cout, std::cerr);
  if (command == "jobs") {
    line.jobs.table = stdout_terminal;
    return RunJobs(line.jobs, std::cout, std::cerr);
  }
  if (command == "delete-project")
    return RunDeleteProject(line.delete_project, std::cout, std::cerr);
  if (command == "stats") {
    line.stats.table = stdout_terminal;
    return RunStats(line.stats, std::cout, std::cerr);
  }
  return RunDiff(line.diff, std::cout, std::cerr);
}

}  // namespace

std::unique_ptr<CLI::App> BuildCommandLine(CommandLine& line) {
  auto app = std::make_unique<CLI::App>(kCommandLineDescription);
  app->require_subcommand(1);
  app->fallthrough();  // --log-level and --log-format after the subcommand's name too
  AddGlobalOptions(*app, line.log_level, line.log_format);
  AddServe(*app, line.serve, line.max_body, line.max_inflight_body, line.keep_memory);
  AddWorker(*app, line.worker);
  AddRebuildMetrics(*app, line.rebuild);
  AddSimulate(*app, line.simulate);
  AddDiff(*app, line.diff);
  AddPost(*app, line.post);
  AddReport(*app, line.report);
  AddJobs(*app, line.jobs);
  AddStats(*app, line.stats);
  AddDeleteProject(*app, line.delete_project);
  BindEnvironment(*app, kCommandsWithoutEnvironment);
  return app;
}

int RunCommandLine(int argc, char** argv) {
  CommandLine line;
  std::unique_ptr<CLI::App> app = BuildCommandLine(line);
  try {
    app->parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app->exit(e);
    if (code == 0) return 0;
    NameVariablesInUse(*app);
    return 2;
  }
  ApplyLogging(line);
  return Dispatch(*app, line);
}

}  // namespace buildtrace
