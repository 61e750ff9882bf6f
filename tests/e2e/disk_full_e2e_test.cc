// A full disk, end to end: the data folder on a small tmpfs (mounted by the test; it runs as
// root in CI, and fails, never skips, where it cannot mount). Once the disk is full, posts get
// 503 and /readyz says so (503, naming the store); as soon as room returns, /readyz is ready
// again and posts are stored.
#include <gmock/gmock.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tests/e2e/e2e_fixture.h"

namespace buildtrace::e2e {
namespace {

using ::testing::HasSubstr;

class DiskFullE2eTest : public E2eTest {
 protected:
  bool NeedsServer() const override { return false; }
  std::vector<std::string> ServeArgs() const override {
    return {"--store", "file://" + states_dir() + "?min-free=1MiB"};
  }
  void TearDown() override {
    E2eTest::TearDown();
    if (mounted_) ::umount2(data_dir().c_str(), MNT_DETACH);
  }

  // Mounts a 24 MiB tmpfs on the data folder.
  void MountSmallDisk() {
    ASSERT_EQ(::mount("tmpfs", data_dir().c_str(), "tmpfs", 0, "size=24m"), 0)
        << "cannot mount a tmpfs on " << data_dir() << ": " << std::strerror(errno)
        << " (this test needs root or CAP_SYS_ADMIN)";
    mounted_ = true;
  }
  // Writes a filler file until the disk is full; returns its path.
  std::string FillDisk() {
    const std::string path = data_dir() + "/filler";
    std::ofstream out(path, std::ios::binary);
    const std::string chunk(64 << 10, 'f');
    while (out.write(chunk.data(), static_cast<std::streamsize>(chunk.size())) && out.flush()) {
    }
    return path;
  }

  bool mounted_ = false;
};

TEST_F(DiskFullE2eTest, AFullDiskIsNotReadyAndReadyAgainWhenRoomReturns) {
  MountSmallDisk();
  StartServer();
  PostOk(TestJob{.job_id = 1}.ToJson());
  EXPECT_EQ(JsonDoc(Get("/readyz").body).Str("/status"), "ready");

  const std::string filler = FillDisk();
  const HttpResponse post = Post("/process", TestJob{.job_id = 2}.ToJson());
  EXPECT_TRUE(IsError(post, 503, "unavailable")) << post.body;
  const HttpResponse full = Get("/readyz");
  ASSERT_EQ(full.status, 503) << full.body;
  const JsonDoc body(full.body);
  EXPECT_EQ(body.Str("/status"), "unavailable");
  EXPECT_EQ(body.Str("/store/status"), "unavailable");
  EXPECT_THAT(body.Str("/store/message"), HasSubstr("min-free"));

  std::filesystem::remove(filler);
  const HttpResponse room = Get("/readyz");
  EXPECT_EQ(room.status, 200) << room.body;
  EXPECT_EQ(JsonDoc(room.body).Str("/store/status"), "ok");
  PostOk(TestJob{.job_id = 2}.ToJson());
  EXPECT_EQ(Get("/jobs/2?project=web").status, 200);
}

}  // namespace
}  // namespace buildtrace::e2e
