// Crash safety: the server is killed with SIGKILL while four clients post jobs; after a restart
// on the same data dir every acknowledged job reads back whole (its bytes hash to the digest the
// POST answered) and no temporary file is left in the states folder.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/canonical_hash.h"
#include "tests/e2e/e2e_fixture.h"

namespace buildtrace::e2e {
namespace {

constexpr int kClients = 4;
constexpr int kKillAfterAcknowledged = 40;

// The fixture's server is not used: this test kills and restarts its own.
class E2eCrash : public E2eTest {
 protected:
  bool NeedsServer() const override { return false; }

  std::unique_ptr<ServerProcess> Start() {
    ServerProcess::Options options;
    options.binary = BinaryPath();
    options.data_dir = data_dir();
    options.log_path = log_path();
    auto started = ServerProcess::Start(options);
    EXPECT_TRUE(started.ok()) << started.status().message();
    return started.ok() ? std::move(*started) : nullptr;
  }
};

// Jobs of a few hundred objects, so that a kill often lands in the middle of a write.
std::string CrashJob(int64_t job_id) {
  TestJob job;
  job.job_id = job_id;
  job.project = "crash";
  std::string state = "{";
  for (int i = 0; i < 300; ++i) {
    if (i > 0) state += ',';
    state += "\"O" + std::to_string(i) + "\":\"door_" + std::to_string(job_id % 1000) + "_" +
             std::to_string(i) + "_5_5\"";
  }
  job.state = state + "}";
  return job.ToJson();
}

TEST_F(E2eCrash, AcknowledgedJobsSurviveSigkillWhole) {
  std::unique_ptr<ServerProcess> server = Start();
  ASSERT_TRUE(server);

  std::mutex mutex;
  std::condition_variable acknowledged_more;
  std::map<int64_t, std::string> acknowledged;  // job ID -> digest; guarded by mutex
  std::vector<int64_t> unanswered;              // posted when the server died; guarded by mutex
  std::atomic<bool> killed{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpClient client(server->endpoint(), std::chrono::seconds(20));
      for (int64_t job_id = (c + 1) * 1'000'000 + 1; !killed; ++job_id) {
        auto answer = client.Post("/process", CrashJob(job_id));
        std::lock_guard lock(mutex);
        if (!answer.ok() || answer->status != 202) {  // each job is new
          unanswered.push_back(job_id);
          if (!killed) ADD_FAILURE() << "job " << job_id << " not stored before the kill";
          return;
        }
        acknowledged[job_id] = JsonDoc(answer->body).Str("/accepted/0/digest");
        acknowledged_more.notify_all();
      }
    });
  }
  {
    std::unique_lock lock(mutex);
    EXPECT_TRUE(acknowledged_more.wait_for(
        lock, std::chrono::seconds(60),
        [&] { return acknowledged.size() >= static_cast<size_t>(kKillAfterAcknowledged); }))
        << "only " << acknowledged.size() << " jobs acknowledged in 60 s";
    killed = true;
  }
  EXPECT_FALSE(server->Stop(SIGKILL).ok());  // "was killed by signal 9"
  for (auto& t : clients) t.join();
  server.reset();

  // Writes cut short by the kill left temporary files named after the killed server (same host,
  // a pid no longer running): the store removes them at start. So it does a temporary file whose
  // writer it cannot tell (an older build's name) once it is older than the abandonment age.
  const std::string stray = states_dir() + "/.tmp-00000000deadbeef~";
  std::ofstream(stray) << "partial";
  std::filesystem::last_write_time(
      stray, std::filesystem::file_time_type::clock::now() - std::chrono::hours(2));
  server = Start();
  ASSERT_TRUE(server);
  HttpClient client(server->endpoint(), std::chrono::seconds(20));
  std::lock_guard lock(mutex);
  ASSERT_GE(acknowledged.size(), static_cast<size_t>(kKillAfterAcknowledged));
  for (const auto& [job_id, digest] : acknowledged) {
    auto job = client.Get("/jobs/" + std::to_string(job_id) + "?project=crash");
    ASSERT_TRUE(job.ok()) << job.status().message();
    EXPECT_EQ(job->status, 200) << "acknowledged job " << job_id << ": " << job->body;
    EXPECT_EQ(ContentDigest(job->body), digest) << "acknowledged job " << job_id;
  }
  // A job posted when the server died is either absent or whole.
  for (int64_t job_id : unanswered) {
    auto job = client.Get("/jobs/" + std::to_string(job_id) + "?project=crash");
    ASSERT_TRUE(job.ok()) << job.status().message();
    if (job->status == 200) {
      EXPECT_TRUE(JsonDoc(job->body).ok()) << "job " << job_id << ": " << job->body;
    } else {
      EXPECT_TRUE(IsError(*job, 404, "not_found")) << "job " << job_id;
    }
  }
  for (const std::string& file : FilesUnder(states_dir())) {
    EXPECT_EQ(file.find(".tmp-"), std::string::npos) << "left after the restart: " << file;
  }
  const Status stopped = server->Stop();
  EXPECT_TRUE(stopped.ok()) << stopped.message();
}

}  // namespace
}  // namespace buildtrace::e2e
