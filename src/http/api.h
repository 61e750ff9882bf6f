// BuildTrace's HTTP API (docs/api.md): thin handlers that parse the request, call the service
// layer and the backends, and render the answer. The routes are one table, Api::Routes().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <utility>

#include "core/job_parser.h"
#include "http/access_control.h"
#include "http/request_metrics.h"
#include "http/routes.h"
#include "http/server.h"
#include "queue/analysis_queue.h"
#include "service/analysis.h"
#include "service/analysis_workers.h"
#include "service/backend_metrics.h"
#include "service/deadline_pool.h"
#include "service/job_repository.h"
#include "service/metrics_outbox.h"
#include "service/project_deletion.h"
#include "service/report_service.h"
#include "store/state_store.h"
#include "warehouse/metrics_warehouse.h"

namespace buildtrace {

namespace ui {
struct PageFrame;  // ui/pages.h
}  // namespace ui

// The cookie the dashboard's sign-in form sets: the token, for the pages (Route::page) only.
inline constexpr std::string_view kSessionCookie = "buildtrace_token";

struct ApiContext {
  StateStore& store;
  MetricsWarehouse& warehouse;
  ParseLimits limits;
  std::function<int64_t()> now_ms;  // the clock, injected for tests
  // The largest request body accepted after Content-Encoding is undone (--max-body): the server
  // limits the bytes on the wire, this the decompressed ones.
  uint64_t max_body_bytes = 64ull << 20;
  // Bearer-token access control (--auth-tokens-file); null: no tokens, every request allowed.
  // Not owned; must outlive the Api.
  const AccessControl* access = nullptr;
  // Keeps the metrics rows the warehouse refuses (reports then say "pending"); null: none, a
  // refused row is reported as failed. Not owned.
  MetricsOutbox* outbox = nullptr;
  // The server's response counts, for GET /metrics; null: none shown. Not owned.
  const ResponseCounters* responses = nullptr;
  // The server's connections and request bodies, for GET /metrics; null: none shown. Not owned.
  const ServerStats* server = nullptr;
  // How long /readyz waits for each backend's probe before it reports the backend as not
  // answering (the probes run at once, on threads of their own).
  std::chrono::milliseconds probe_deadline{1000};
  // Background analysis (service/analysis_workers.h). `queue`: where POST /process sends one
  // task per created job; null: background analysis is off (reports are computed on demand).
  // Not owned.
  // The rendered answers of kept comparisons held in memory (service/answer_cache.h).
  size_t answer_cache_bytes = ReportService::kDefaultAnswerCacheBytes;
  AnalysisQueue* queue = nullptr;
  // Called when tasks could not be enqueued (the sweep then comes sooner); may be empty.
  std::function<void()> enqueue_failed;
  // The workers' counters, for /readyz and /metrics; null: none shown. Not owned.
  const AnalysisStats* analysis = nullptr;
  // What GET /report answers when the request names no format (no ?format=, no Accept asking
  // for text/plain): kJson, or kClassic for clients of the original service (--report-format).
  ReportFormat default_report_format = ReportFormat::kJson;
  // The backends' call durations and errors (service/backend_metrics.h), for GET /metrics; null:
  // none shown. Not owned.
  const BackendMetrics* backends = nullptr;
};

// Thread-safe: Handle may run on many threads at once.
class Api {
 public:
  explicit Api(ApiContext context);

  HttpResponse Handle(HttpRequest& request);

  // For ServerOptions::screen: the access decision from the headers alone, before the body is
  // read. 401 (with WWW-Authenticate) without a valid token, 403 when the token lacks the
  // route's scope or project; nullopt when Handle should run (the projects of a POST /process
  // body are still checked there, once it is parsed). Cheap and non-blocking.
  std::optional<HttpResponse> Screen(const HttpRequest& headers) const;
  // For ServerOptions::lane: GET /healthz inline, /readyz and /metrics on the control pool,
  // everything else on the workers.
  static RequestLane Lane(const HttpRequest& request);

  // The route table: every route the API answers, with its parameters, scope, handler and
  // documented answers (http/routes.h). GET /openapi.json and GET /docs are generated from it.
  static std::span<const Route> Routes();
  // The routes of the API proper, without the dashboard's pages: what /openapi.json describes.
  static std::span<const Route> ApiRoutes();
  // The service's version, as GET /openapi.json, /docs and the pages' footer name it.
  static std::string_view Version();

  // The repository and the report service the handlers use, for the analysis workers that run
  // beside them in `serve` (one header cache and one epoch cache for both).
  JobRepository& jobs() { return jobs_; }
  ReportService& reports() { return reports_; }
  // What GET /metrics shows of the requests answered and the jobs ingested.
  const RequestMetrics& request_metrics() const { return request_metrics_; }
  const IngestCounters& ingested() const { return ingested_; }
  // Analyses the tasks of POST /tasks/pubsub, and of the workers that run beside the Api; its
  // follow-up tasks go to context.queue.
  Analyzer& analyzer() { return analyzer_; }

 private:
  // Handle's work, untimed; `matched` is set to the route the request's path matched (the
  // method's, else the path's first), or null when none did.
  HttpResponse Dispatch(HttpRequest& request, const Route*& matched);
  // The route handlers (the table in Api::Routes()).
  HttpResponse PostProcess(RouteCall& call);
  HttpResponse GetReport(RouteCall& call);
  HttpResponse GetReportSvg(RouteCall& call);
  HttpResponse GetJob(RouteCall& call);
  HttpResponse GetProjects(RouteCall& call);
  HttpResponse GetLatencyStats(RouteCall& call);
  HttpResponse GetProjectJobs(RouteCall& call);
  HttpResponse DeleteProject(RouteCall& call);
  HttpResponse PostPubSubTask(RouteCall& call);
  HttpResponse GetHealth(RouteCall& call);
  HttpResponse GetReady(RouteCall& call);
  HttpResponse GetMetrics(RouteCall& call);
  HttpResponse GetOpenApi(RouteCall& call);
  HttpResponse GetDocs(RouteCall& call);
  // The dashboard (api_ui.cc).
  HttpResponse GetHome(RouteCall& call);
  HttpResponse GetUiProject(RouteCall& call);
  HttpResponse GetUiJob(RouteCall& call);
  HttpResponse GetSignIn(RouteCall& call);
  HttpResponse PostSignIn(RouteCall& call);
  HttpResponse PostSignOut(RouteCall& call);
  HttpResponse GetFavicon(RouteCall& call);
  ui::PageFrame Frame(const RouteCall& call) const;
  // `status` as an error page, with the HTTP status the API would give it.
  HttpResponse PageError(const RouteCall& call, const Status& status) const;
  // Enqueues an analysis task for each job `stored` created; logs and reports a failure.
  void Enqueue(const std::vector<std::pair<const Job*, StoredJob>>& stored);
  // Dead letters in the store, listed at most every 10 s (for /readyz and /metrics).
  std::optional<int64_t> DeadLetters();
  // The queue's depth and the dead letters, and its probe when `probe_queue` (for /readyz; /metrics
  // needs no probe), each within context_.probe_deadline; only when there is a queue.
  struct AnalysisHealth {
    Status queue;                         // Ok when not probed
    std::optional<int64_t> depth;         // nullopt: the queue cannot count, or did not answer
    std::optional<int64_t> dead_letters;  // nullopt: the store did not answer
  };
  AnalysisHealth ProbeAnalysis(bool probe_queue);
  // `details`: the backends' messages and the outbox (with access control on, only for a caller
  // with a read token: messages can name projects and paths).
  HttpResponse ReadyAnswer(bool details);
  // The store's and the warehouse's probes, run at once, each within context_.probe_deadline;
  // callers that arrive while a round runs share its answers.
  std::pair<Status, Status> ProbeBackends();

  ApiContext context_;
  JobRepository jobs_;
  ReportService reports_;
  Analyzer analyzer_;
  ProjectDeletion deletion_;
  DeadlinePool probes_{2, 4};
  std::mutex probe_mutex_;
  std::atomic<uint64_t> probe_rounds_{0};  // written under probe_mutex_
  std::pair<Status, Status> last_probe_;   // guarded by probe_mutex_
  std::mutex dead_letters_mutex_;
  std::optional<int64_t> dead_letters_;                         // guarded by dead_letters_mutex_
  std::chrono::steady_clock::time_point dead_letters_counted_;  // guarded by dead_letters_mutex_
  RequestMetrics request_metrics_{Routes()};
  IngestCounters ingested_;
};

}  // namespace buildtrace
