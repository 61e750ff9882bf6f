// Confinement of FileStateStore: symlinks, FIFOs, sockets and devices planted inside the data
// folder are refused, never followed, never listed; nothing outside the root is read or written.
// Every test runs twice: resolving with openat2(2), and with the walk used where it is missing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "store/beneath.h"
#include "store/file_state_store.h"
#include "store/file_state_store_test_fixture.h"

namespace buildtrace {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSecret[] = "OUTSIDE-SECRET";

class FileStoreConfinementTest : public FileStateStoreTest,
                                 public ::testing::WithParamInterface<bool> {
 protected:
  // <folder>/root is the store; <folder>/outside holds a secret the store must never touch.
  void SetUp() override {
    FileStateStoreTest::SetUp();
    root_ = folder_ + "/root";
    outside_ = folder_ + "/outside";
    WriteFile(outside_ + "/secret.json", kSecret);
    FileStoreOptions options;
    options.resolve_by_walk = GetParam();
    store_ = OpenOk(root_, options);
    ASSERT_NE(store_, nullptr);
  }

  void Link(const std::string& target, const std::string& below_root) {
    fs::create_directories(fs::path(root_ + "/" + below_root).parent_path());
    fs::create_symlink(target, root_ + "/" + below_root);
  }

  // The refusal every operation gives for a tampered entry.
  static void ExpectRefused(const Status& status, const std::string& operation_and_name,
                            const std::string& what) {
    EXPECT_EQ(status.code(), StatusCode::kInternal) << status.message();
    EXPECT_THAT(status.message(), AllOf(HasSubstr(operation_and_name + ": refused: "),
                                        HasSubstr(what), Not(HasSubstr(kSecret))));
  }

  std::string root_;
  std::string outside_;
  std::unique_ptr<FileStateStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Resolution, FileStoreConfinementTest, ::testing::Values(false, true),
                         [](const auto& param_info) {
                           return param_info.param ? "Walk" : "Openat2";
                         });

TEST_P(FileStoreConfinementTest, CreateThroughASymlinkedFolderIsRefusedAndWritesNothing) {
  Link(outside_, "jobs");
  Link(outside_, "reports/a");
  for (const char* name : {"jobs/1.json", "jobs/a/1.json", "reports/a/1.json"}) {
    ExpectRefused(store_->CreateIfAbsent(name, "x"), std::string("create ") + name,
                  "a folder on its path is a symlink");
    ExpectRefused(store_->CreateIfAbsent(name, ""), std::string("create ") + name,
                  "a folder on its path is a symlink");  // empty: created in place
  }
  const std::vector<ObjectToCreate> batch = {{"jobs/b/2.json", "x"}, {"ok/1.json", "y"}};
  const std::vector<Status> results = store_->CreateManyIfAbsent(batch);
  ExpectRefused(results[0], "create jobs/b/2.json", "a folder on its path is a symlink");
  EXPECT_TRUE(results[1].ok()) << results[1].message();
  EXPECT_EQ(FilesBelow(outside_), Names{"secret.json"});
  EXPECT_EQ(FilesBelow(root_), (Names{"jobs", "ok/1.json", "reports/a"}));
}

TEST_P(FileStoreConfinementTest, CreateOverASymlinkIsRefused) {
  Link(outside_ + "/secret.json", "jobs/1.json");
  ExpectRefused(store_->CreateIfAbsent("jobs/1.json", "x"), "create jobs/1.json",
                "not a regular file but a symlink");
  ExpectRefused(store_->CreateIfAbsent("jobs/1.json", ""), "create jobs/1.json",
                "not a regular file but a symlink");
  // Nor is a symlink to nothing followed by an empty object's create in place.
  Link(outside_ + "/missing.json", "jobs/2.json");
  ExpectRefused(store_->CreateIfAbsent("jobs/2.json", ""), "create jobs/2.json",
                "not a regular file but a symlink");
  EXPECT_FALSE(fs::exists(outside_ + "/missing.json"));
  EXPECT_EQ(FilesBelow(root_), (Names{"jobs/1.json", "jobs/2.json"}));
  std::ifstream secret(outside_ + "/secret.json");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(secret), {}), kSecret);
}

TEST_P(FileStoreConfinementTest, ReadOfASymlinkToAFileIsRefused) {
  Link(outside_ + "/secret.json", "jobs/a/1.json");
  Link("../../outside/secret.json", "jobs/a/2.json");
  ExpectRefused(store_->Read("jobs/a/1.json").status(), "read jobs/a/1.json",
                "not a regular file but a symlink");
  ExpectRefused(store_->Read("jobs/a/2.json").status(), "read jobs/a/2.json",
                "not a regular file but a symlink");
}

TEST_P(FileStoreConfinementTest, ReadThroughASymlinkedFolderIsRefused) {
  Link(outside_, "jobs");
  ExpectRefused(store_->Read("jobs/secret.json").status(), "read jobs/secret.json",
                "a folder on its path is a symlink");
}

// If the store opened the FIFO for reading without O_NONBLOCK, this test would hang.
TEST_P(FileStoreConfinementTest, ReadOfAFifoIsRefusedWithoutBlocking) {
  fs::create_directories(root_ + "/jobs");
  ASSERT_EQ(::mkfifo((root_ + "/jobs/1.json").c_str(), 0644), 0) << std::strerror(errno);
  ExpectRefused(store_->Read("jobs/1.json").status(), "read jobs/1.json",
                "not a regular file but a FIFO");
  EXPECT_EQ(store_->CreateIfAbsent("jobs/1.json", "x").code(), StatusCode::kInternal);
  // An empty object, created in place rather than renamed, is refused the same way.
  ExpectRefused(store_->CreateIfAbsent("jobs/1.json", ""), "create jobs/1.json",
                "not a regular file but a FIFO");
}

TEST_P(FileStoreConfinementTest, ReadOfASocketIsRefused) {
  fs::create_directories(root_ + "/jobs");
  const std::string path = root_ + "/jobs/1.json";
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(address.sun_path)) << "temporary folder path too long";
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  Fd socket(::socket(AF_UNIX, SOCK_STREAM, 0));
  ASSERT_TRUE(socket.valid());
  ASSERT_EQ(::bind(socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
      << std::strerror(errno);
  ExpectRefused(store_->Read("jobs/1.json").status(), "read jobs/1.json",
                "not a regular file but a socket");
}

TEST_P(FileStoreConfinementTest, ReadOfADeviceIsRefused) {
  fs::create_directories(root_ + "/jobs");
  // /dev/null's numbers; making a device node needs CAP_MKNOD.
  if (::mknod((root_ + "/jobs/1.json").c_str(), S_IFCHR | 0644, makedev(1, 3)) != 0) {
    GTEST_SKIP() << "cannot make a device node here: " << std::strerror(errno);
  }
  ExpectRefused(store_->Read("jobs/1.json").status(), "read jobs/1.json",
                "not a regular file but a device");
}

TEST_P(FileStoreConfinementTest, ListNeverShowsNorFollowsWhatIsNotAFileOrFolder) {
  ASSERT_TRUE(store_->CreateIfAbsent("jobs/a/1.json", "one").ok());
  WriteFile(outside_ + "/b/2.json", "outside");
  Link(outside_ + "/b", "jobs/b");
  Link(outside_ + "/secret.json", "jobs/a/2.json");
  ASSERT_EQ(::mkfifo((root_ + "/jobs/a/3.json").c_str(), 0644), 0);
  Link(outside_, "linked");
  for (const char* prefix : {"", "jobs/", "jobs/a/", "jobs/b/", "linked/", "linked/b/"}) {
    Result<Names> listed = store_->List(prefix);
    ASSERT_TRUE(listed.ok()) << prefix << ": " << listed.status().message();
    const bool sees_job = std::string_view("jobs/a/").starts_with(prefix);
    EXPECT_EQ(*listed, sees_job ? Names{"jobs/a/1.json"} : Names{}) << prefix;
  }
}

TEST_P(FileStoreConfinementTest, DeleteThroughASymlinkedFolderIsRefusedAndOfASymlinkRemovesIt) {
  Link(outside_, "jobs");
  ExpectRefused(store_->Delete("jobs/secret.json"), "delete jobs/secret.json",
                "a folder on its path is a symlink");
  Link(outside_ + "/secret.json", "top");
  EXPECT_TRUE(store_->Delete("top").ok());
  EXPECT_EQ(FilesBelow(root_), Names{"jobs"});
  EXPECT_EQ(FilesBelow(outside_), Names{"secret.json"});
}

TEST_P(FileStoreConfinementTest, ProbeRefusesASymlinkedProbeFolder) {
  ASSERT_TRUE(fs::remove(root_ + "/.probe~"));  // made by Open's probe
  Link(outside_, ".probe~");
  const Status probe = store_->Probe();
  EXPECT_EQ(probe.code(), StatusCode::kUnavailable);
  EXPECT_THAT(probe.message(), HasSubstr("probe root folder: "));
  EXPECT_EQ(FilesBelow(outside_), Names{"secret.json"});
}

// The root itself may be a symlink, an operator's choice: resolved once at Open.
TEST_P(FileStoreConfinementTest, TheRootMayBeASymlink) {
  fs::create_directories(folder_ + "/real");
  fs::create_directory_symlink(folder_ + "/real", folder_ + "/via-link");
  FileStoreOptions options;
  options.resolve_by_walk = GetParam();
  std::unique_ptr<FileStateStore> store = OpenOk(folder_ + "/via-link", options);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Describe(), "file://" + folder_ + "/via-link");
  ASSERT_TRUE(store->CreateIfAbsent("jobs/a/1.json", "one").ok());
  EXPECT_EQ(FilesBelow(folder_ + "/real"), Names{"jobs/a/1.json"});
  Result<std::string> read = store->Read("jobs/a/1.json");
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(*read, "one");
  EXPECT_EQ(*store->List(""), Names{"jobs/a/1.json"});
}

}  // namespace
}  // namespace buildtrace
