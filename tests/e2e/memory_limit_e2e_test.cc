// The attack that got the service OOM-killed in a 1 GiB container, replayed in a memory-limited
// control group: 24 authenticated connections each announce a 64 MiB body and send one byte.
// The server runs in a cgroup of its own limited to 192 MiB (v1's memory controller or v2's,
// whichever this machine lets the test make); where no cgroup can be made it runs under an
// address-space limit instead (prlimit --as), and the test says which on its output.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include "core/canonical_hash.h"
#include "testing/http_wire.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/raw_connection.h"

namespace buildtrace::e2e {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kLimitBytes = 192ull << 20;

bool WriteTo(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  return static_cast<bool>(out);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A memory-limited cgroup of the test's own, or none where this machine allows none.
class MemoryCgroup {
 public:
  MemoryCgroup() {
    const std::string name = "/bt-e2e-" + std::to_string(::getpid());
    for (const auto& [root, limit_file] :
         {std::pair<std::string, std::string>{"/sys/fs/cgroup/memory", "memory.limit_in_bytes"},
          {"/sys/fs/cgroup", "memory.max"}}) {
      std::error_code ec;
      if (!fs::exists(root + "/cgroup.procs", ec) || !fs::create_directory(root + name, ec)) {
        continue;
      }
      if (WriteTo(root + name + "/" + limit_file, std::to_string(kLimitBytes))) {
        path_ = root + name;
        return;
      }
      fs::remove(root + name, ec);
    }
  }
  ~MemoryCgroup() {
    std::error_code ec;
    if (!path_.empty()) fs::remove(path_, ec);  // empty once the server has exited
  }
  const std::string& path() const { return path_; }
  // The OOM kills counted in the group (v1: memory.oom_control, v2: memory.events).
  int64_t OomKills() const {
    for (const char* file : {"/memory.oom_control", "/memory.events"}) {
      const std::string text = ReadAll(path_ + file);
      const size_t at = text.find("oom_kill ");
      if (at != std::string::npos) return std::stoll(text.substr(at + 9));
    }
    return -1;
  }

 private:
  std::string path_;
};

class E2eMemoryLimit : public E2eTest {
 protected:
  bool NeedsServer() const override { return false; }
  std::vector<std::string> ServeArgs() const override {
    return {"--auth-tokens-file", root_dir() + "/tokens"};
  }
  std::vector<std::string> Launcher() const override {
    if (cgroup_.path().empty()) return {"/usr/bin/prlimit", "--as=1610612736", "--"};
    // The shell joins the group, then becomes the server.
    return {"/bin/sh", "-c", "echo $$ > " + cgroup_.path() + "/cgroup.procs && exec \"$0\" \"$@\""};
  }
  void SetUp() override {
    E2eTest::SetUp();
    std::ofstream(root_dir() + "/tokens") << "sha256:" << Sha256Hex("ci-token") << " ingest,read\n";
    std::cout << "[ limit    ] "
              << (cgroup_.path().empty() ? "no cgroup can be made here: address space 1.5 GiB"
                                         : "cgroup " + cgroup_.path() + ", 192 MiB")
              << std::endl;
    StartServer();
  }

  MemoryCgroup cgroup_;
};

TEST_F(E2eMemoryLimit, AnnouncedBodiesWithAValidTokenFitInASmallContainer) {
  std::vector<std::unique_ptr<RawConnection>> conns;
  for (int i = 0; i < 24; ++i) {
    conns.push_back(std::make_unique<RawConnection>(server().port()));
    ASSERT_TRUE(conns.back()->ok()) << conns.back()->error();
    ASSERT_TRUE(conns.back()->Send(Announce(64 << 20, "Authorization: Bearer ci-token\r\n") + "["));
  }
  // 24 x 64 MiB used to be allocated and zero-filled here, 1.5 GiB: killed in 1 GiB. Now a
  // real job posted meanwhile is stored.
  const std::string job = TestJob{.job_id = 1}.ToJson();
  RawConnection post(server().port());
  ASSERT_TRUE(post.Send(
      Announce(job.size(), "Authorization: Bearer ci-token\r\nConnection: close\r\n") + job));
  ASSERT_TRUE(post.ReadUntilClosed(std::chrono::seconds(10))) << post.received();
  EXPECT_EQ(Statuses(post.received()), std::vector<int>{202}) << post.received();
  EXPECT_EQ(Get("/healthz").status, 200);
  EXPECT_EQ(::kill(server().pid(), 0), 0) << "the server is gone";
  if (!cgroup_.path().empty()) {
    EXPECT_EQ(cgroup_.OomKills(), 0);
  }
  conns.clear();
}

}  // namespace
}  // namespace buildtrace::e2e
