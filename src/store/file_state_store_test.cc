// Tests of FileStateStore: the StateStore conformance suite, each test in a fresh temporary folder,
// plus what is specific to files (opening, crash leftovers, on-disk layout, failing writes).
#include "store/file_state_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "store/file_state_store_test_fixture.h"
#include "testing/state_store_conformance.h"
#include "testing/temp_files.h"

namespace buildtrace {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A FileStateStore in a fresh temporary folder, removed (with all objects) on destruction.
class TempFolderStore : public StateStore {
 public:
  static std::unique_ptr<StateStore> Make(FileStoreOptions options) {
    const std::string folder = MakeTempFolder();
    if (folder.empty()) return nullptr;
    Result<std::unique_ptr<FileStateStore>> opened = FileStateStore::Open(folder, options);
    if (!opened.ok()) {
      ADD_FAILURE() << opened.status().message();
      return nullptr;
    }
    return std::unique_ptr<StateStore>(new TempFolderStore(folder, std::move(*opened)));
  }
  ~TempFolderStore() override {
    store_.reset();
    std::error_code ignored;
    fs::remove_all(folder_, ignored);
  }

  Status CreateIfAbsent(std::string_view name, std::string_view data) override {
    return store_->CreateIfAbsent(name, data);
  }
  std::vector<Status> CreateManyIfAbsent(std::span<const ObjectToCreate> objects) override {
    return store_->CreateManyIfAbsent(objects);  // the file store's own batches and pieces
  }
  Result<std::vector<Status>> CreateManyIfAbsentPreparing(
      std::span<const ObjectToCreate> objects, const std::function<Status()>& prepare) override {
    return store_->CreateManyIfAbsentPreparing(objects, prepare);
  }
  Result<InputBytes> ReadInput(std::string_view name) override { return store_->ReadInput(name); }
  Result<std::string> Read(std::string_view name) override { return store_->Read(name); }
  Result<Names> List(std::string_view prefix) override { return store_->List(prefix); }
  Status Delete(std::string_view name) override { return store_->Delete(name); }
  Status Probe() override { return store_->Probe(); }
  std::string Describe() const override { return store_->Describe(); }

 private:
  TempFolderStore(std::string folder, std::unique_ptr<FileStateStore> store)
      : folder_(std::move(folder)), store_(std::move(store)) {}

  std::string folder_;
  std::unique_ptr<FileStateStore> store_;
};

// With openat2(2); with the walk that stands in where the kernel lacks it; with every batch
// of CreateManyIfAbsentPreparing overlapped.
INSTANTIATE_TEST_SUITE_P(
    FileStateStore, StateStoreConformanceTest,
    ::testing::Values(StateStoreFactory{"File", [] { return TempFolderStore::Make({}); }},
                      StateStoreFactory{"FileWalk",
                                        [] {
                                          FileStoreOptions options;
                                          options.resolve_by_walk = true;
                                          return TempFolderStore::Make(options);
                                        }},
                      // Every batch written on the writer thread while the caller prepares.
                      StateStoreFactory{"FileOverlapping",
                                        [] {
                                          FileStoreOptions options;
                                          options.overlap_min_bytes = 0;
                                          return TempFolderStore::Make(options);
                                        }}),
    StateStoreFactoryName);

TEST_F(FileStateStoreTest, OpenCreatesMissingRootAndDescribesItsAbsolutePath) {
  std::unique_ptr<FileStateStore> store = OpenOk(folder_ + "/a/b/c/");
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(fs::is_directory(folder_ + "/a/b/c"));
  EXPECT_EQ(store->Describe(), "file://" + folder_ + "/a/b/c");
}

TEST_F(FileStateStoreTest, OpenOnRegularFileFailsNamingThePath) {
  const std::string path = folder_ + "/plain-file";
  WriteFile(path, "not a folder");
  Result<std::unique_ptr<FileStateStore>> opened = FileStateStore::Open(path);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(opened.status().message(), HasSubstr(path));
  EXPECT_THAT(opened.status().message(), HasSubstr("not a folder"));
}

TEST_F(FileStateStoreTest, OpenBelowRegularFileFailsNamingThePath) {
  WriteFile(folder_ + "/plain-file", "");
  Result<std::unique_ptr<FileStateStore>> opened = FileStateStore::Open(folder_ + "/plain-file/x");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(opened.status().message(), HasSubstr(folder_ + "/plain-file/x"));
}

TEST_F(FileStateStoreTest, ObjectsAreFilesUnderTheRoot) {
  std::unique_ptr<FileStateStore> store = OpenOk(folder_);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateIfAbsent("jobs/a/1.json", "{}").ok());
  std::ifstream file(folder_ + "/jobs/a/1.json", std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(file), {}), "{}");
  EXPECT_EQ(fs::status(folder_ + "/jobs/a/1.json").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::others_read);
}

// Old-format names (".tmp-<hex>~") carry no writer, so only their age lets Open remove them.
TEST_F(FileStateStoreTest, OpenRemovesOldStrayTempFilesAndKeepsObjects) {
  std::unique_ptr<FileStateStore> store = OpenOk(folder_);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateIfAbsent("jobs/a/1.json", "one").ok());
  ASSERT_TRUE(store->CreateIfAbsent("jobs/.tmp-but-an-object", "kept").ok());
  const auto two_hours_ago = fs::file_time_type::clock::now() - std::chrono::hours(2);
  for (const char* temp : {"/.tmp-00000000deadbeef~", "/jobs/a/.tmp-0123456789abcdef~",
                           "/jobs/a/deep/.tmp-fedcba9876543210~"}) {
    WriteFile(folder_ + temp, "partial");
    fs::last_write_time(folder_ + temp, two_hours_ago);
  }
  fs::last_write_time(folder_ + "/jobs/.tmp-but-an-object", two_hours_ago);
  WriteFile(folder_ + "/jobs/.tmp-0000000000000001~", "young, writer unknown");
  store.reset();

  store = OpenOk(folder_);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(FilesBelow(folder_),
            (Names{"jobs/.tmp-0000000000000001~", "jobs/.tmp-but-an-object", "jobs/a/1.json"}));
  Result<std::string> read = store->Read("jobs/a/1.json");
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(*read, "one");
}

TEST_F(FileStateStoreTest, TempFilesAndInvalidNamesAreNeverListed) {
  std::unique_ptr<FileStateStore> store = OpenOk(folder_);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateIfAbsent("jobs/a/1.json", "one").ok());
  WriteFile(folder_ + "/jobs/a/.tmp-0123456789abcdef~", "partial");
  WriteFile(folder_ + "/jobs/a/not valid", "dropped in by hand");
  Result<Names> all = store->List("");
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_EQ(*all, Names{"jobs/a/1.json"});
  Result<Names> temps = store->List("jobs/a/.tmp");
  ASSERT_TRUE(temps.ok()) << temps.status().message();
  EXPECT_EQ(*temps, Names{});
}

TEST_F(FileStateStoreTest, NoTempFileRemainsAfterCreates) {
  std::unique_ptr<FileStateStore> store = OpenOk(folder_);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateIfAbsent("jobs/a/1.json", "one").ok());
  ASSERT_EQ(store->CreateIfAbsent("jobs/a/1.json", "two").code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(store->CreateIfAbsent("top", "").ok());
  ASSERT_TRUE(store->Probe().ok());
  const std::vector<ObjectToCreate> batch = {
      {"jobs/a/1.json", "three"}, {"jobs/b/2.json", "b"}, {"bad//name", "x"}, {"jobs/c", "c"}};
  const std::vector<Status> results = store->CreateManyIfAbsent(batch);
  EXPECT_EQ(results[0].code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(results[1].ok() && results[3].ok());
  EXPECT_EQ(FilesBelow(folder_), (Names{"jobs/a/1.json", "jobs/b/2.json", "jobs/c", "top"}));
}

// Files this process writes are limited to `bytes` while it lives (RLIMIT_FSIZE, with SIGXFSZ
// ignored so that a write past the limit fails with EFBIG); each test runs in a process of its own.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    if (::getrlimit(RLIMIT_FSIZE, &old_limit_) != 0) return;
    struct rlimit limit = old_limit_;
    limit.rlim_cur = bytes;
    set_ = ::setrlimit(RLIMIT_FSIZE, &limit) == 0;
    if (set_) old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
  ~FileSizeLimit() {
    if (!set_) return;
    ::setrlimit(RLIMIT_FSIZE, &old_limit_);
    std::signal(SIGXFSZ, old_handler_);
  }
  bool set() const { return set_; }

 private:
  struct rlimit old_limit_ {};
  void (*old_handler_)(int) = nullptr;
  bool set_ = false;
};

TEST_F(FileStateStoreTest, WriteCutShortInAPieceFailsAndLeavesNothing) {
  // Past the file size limit, writev stops short, in the middle of the second piece here, and
  // the next call fails with EFBIG (SIGXFSZ ignored); each test runs in a process of its own.
  std::unique_ptr<FileStateStore> store = OpenOk(folder_);
  ASSERT_NE(store, nullptr);
  const std::string middle(300'000, 'm');
  const std::vector<ObjectToCreate> batch = {
      ObjectToCreate("jobs/a/1.json", {"head", middle, "seal"})};
  std::vector<Status> results;
  {
    const FileSizeLimit limit(100'000);
    ASSERT_TRUE(limit.set());
    results = store->CreateManyIfAbsent(batch);
  }
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].code(), StatusCode::kUnavailable);
  EXPECT_THAT(results[0].message(),
              HasSubstr("file store " + folder_ + ": create jobs/a/1.json: File too large"));
  EXPECT_EQ(FilesBelow(folder_), Names{});
}

// The overlapped batch's writes cut short by the file size limit, in a first piece (on the writer
// thread) and in a last one (after the preparation): the object fails, nothing is left.
TEST_F(FileStateStoreTest, OverlappedWriteCutShortInAnyPieceFailsAndLeavesNothing) {
  FileStoreOptions options;
  options.overlap_min_bytes = 0;
  std::unique_ptr<FileStateStore> store = OpenOk(folder_, options);
  ASSERT_NE(store, nullptr);
  const std::string long_middle(300'000, 'm');
  const std::string short_middle(90'000, 'm');
  const std::string long_seal(20'000, 's');
  const std::vector<ObjectToCreate> batch = {
      ObjectToCreate("jobs/a/1.json", {"head", long_middle, "seal"}),
      ObjectToCreate("jobs/a/2.json", {"head", short_middle, long_seal}),
      ObjectToCreate("jobs/a/3.json", {"head", short_middle, "seal"})};
  int prepared = 0;
  Result<std::vector<Status>> created = InvalidArgument("not created");
  {
    const FileSizeLimit limit(100'000);
    ASSERT_TRUE(limit.set());
    created = store->CreateManyIfAbsentPreparing(batch, [&] {
      ++prepared;
      return Status::Ok();
    });
  }
  EXPECT_EQ(prepared, 1);
  ASSERT_TRUE(created.ok()) << created.status().message();
  const std::vector<Status>& results = *created;
  ASSERT_EQ(results.size(), 3u);
  for (size_t i : {0, 1}) {
    EXPECT_EQ(results[i].code(), StatusCode::kUnavailable) << i;
    EXPECT_THAT(results[i].message(), HasSubstr("file store " + folder_ + ": create jobs/a/" +
                                                std::to_string(i + 1) + ".json: File too large"));
  }
  EXPECT_TRUE(results[2].ok()) << results[2].message();
  EXPECT_EQ(FilesBelow(folder_), Names{"jobs/a/3.json"});
}

// A refusing or throwing preparation takes back the temporary files written meanwhile, and no
// folder was made: they wait in the deepest folder that exists until the preparation agrees.
TEST_F(FileStateStoreTest, OverlappedBatchLeavesNothingWhenThePreparationFails) {
  FileStoreOptions options;
  options.overlap_min_bytes = 0;
  std::unique_ptr<FileStateStore> store = OpenOk(folder_, options);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateIfAbsent("jobs/a/0.json", "there").ok());
  const std::string middle(1 << 20, 'm');
  const std::vector<ObjectToCreate> batch = {ObjectToCreate("jobs/a/1.json", {"h", middle, "s"}),
                                             ObjectToCreate("jobs/b/c/1.json", {"h", middle, "s"}),
                                             ObjectToCreate("top", {"h", middle, "s"})};
  const auto entries = [&] {
    Names all;
    for (const auto& entry : fs::recursive_directory_iterator(folder_)) {
      all.push_back(fs::relative(entry.path(), folder_).string());
    }
    std::sort(all.begin(), all.end());
    return all;
  };
  const Names before = entries();
  EXPECT_EQ(before, (Names{".probe~", "jobs", "jobs/a", "jobs/a/0.json"}));
  int calls = 0;
  const Result<std::vector<Status>> refused = store->CreateManyIfAbsentPreparing(batch, [&] {
    ++calls;
    return InvalidArgument("refused by the caller");
  });
  EXPECT_EQ(calls, 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(), "refused by the caller");
  EXPECT_EQ(entries(), before);
  EXPECT_THROW((void)store->CreateManyIfAbsentPreparing(
                   batch, []() -> Status { throw std::runtime_error("preparation failed"); }),
               std::runtime_error);
  EXPECT_EQ(entries(), before);
  // Agreed, each goes to its own folder, made then.
  const Result<std::vector<Status>> created =
      store->CreateManyIfAbsentPreparing(batch, [] { return Status::Ok(); });
  ASSERT_TRUE(created.ok());
  for (const Status& s : *created) EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(FilesBelow(folder_),
            (Names{"jobs/a/0.json", "jobs/a/1.json", "jobs/b/c/1.json", "top"}));
  EXPECT_EQ(*store->Read("jobs/b/c/1.json"), "h" + middle + "s");
}

// The folder a temporary file was written in is the one its object goes to, whatever happens to
// the folder's name meanwhile (as for a create without the overlap); a temporary file replaced
// meanwhile is not written to, and no temporary file is left either way.
TEST_F(FileStateStoreTest, OverlappedObjectStaysWithItsFolderAndRefusesAReplacedFile) {
  std::promise<void> staged;  // a new one before each batch
  FileStoreOptions options;
  options.overlap_min_bytes = 0;
  options.after_staging = [&] { staged.set_value(); };
  std::unique_ptr<FileStateStore> store = OpenOk(folder_, options);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateIfAbsent("jobs/a/0.json", "there").ok());
  const std::string middle(1 << 20, 'm');
  const std::vector<ObjectToCreate> moved = {ObjectToCreate("jobs/a/1.json", {"h", middle, "s"})};
  staged = std::promise<void>();
  const Result<std::vector<Status>> created = store->CreateManyIfAbsentPreparing(moved, [&] {
    staged.get_future().wait();
    fs::rename(folder_ + "/jobs/a", folder_ + "/jobs/a.old");
    return Status::Ok();
  });
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE((*created)[0].ok()) << (*created)[0].message();
  EXPECT_EQ(FilesBelow(folder_), (Names{"jobs/a.old/0.json", "jobs/a.old/1.json"}));
  EXPECT_THAT(TempFilesBelow(folder_), IsEmpty());

  const std::vector<ObjectToCreate> replaced = {
      ObjectToCreate("jobs/a.old/2.json", {"h", middle, "s"})};
  staged = std::promise<void>();
  const Result<std::vector<Status>> refused = store->CreateManyIfAbsentPreparing(replaced, [&] {
    staged.get_future().wait();
    const std::vector<fs::path> temps = TempFilesBelow(folder_);
    if (temps.size() != 1) return Internal("expected one temporary file");
    fs::remove(temps[0]);
    WriteFile(temps[0].string(), "someone else's");
    return Status::Ok();
  });
  ASSERT_TRUE(refused.ok()) << refused.status().message();
  EXPECT_EQ((*refused)[0].code(), StatusCode::kInternal);
  EXPECT_THAT((*refused)[0].message(), HasSubstr("its temporary file was replaced meanwhile"));
  EXPECT_EQ(FilesBelow(folder_), (Names{"jobs/a.old/0.json", "jobs/a.old/1.json"}));
}

// A folder on the way that cannot be made fails that object after the preparation, as a create
// without it does, and leaves nothing of it.
TEST_F(FileStateStoreTest, OverlappedObjectWhoseFolderCannotBeMadeFailsAlone) {
  WriteFile(folder_ + "/jobs", "a file, not a folder");
  FileStoreOptions options;
  options.overlap_min_bytes = 0;
  std::unique_ptr<FileStateStore> store = OpenOk(folder_, options);
  ASSERT_NE(store, nullptr);
  const std::vector<ObjectToCreate> batch = {ObjectToCreate("jobs/a/1.json", {"x", "y"}),
                                             ObjectToCreate("ok/1.json", {"x", "y"}),
                                             ObjectToCreate("bad//name", {"x", "y"})};
  const Result<std::vector<Status>> created =
      store->CreateManyIfAbsentPreparing(batch, [] { return Status::Ok(); });
  ASSERT_TRUE(created.ok());
  const std::vector<Status>& results = *created;
  EXPECT_EQ(results[0].code(), StatusCode::kUnavailable);
  EXPECT_THAT(results[0].message(),
              HasSubstr("file store " + folder_ + ": create jobs/a/1.json: Not a directory"));
  EXPECT_TRUE(results[1].ok()) << results[1].message();
  EXPECT_EQ(results[2].code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(FilesBelow(folder_), (Names{"jobs", "ok/1.json"}));
  EXPECT_EQ(*store->Read("ok/1.json"), "xy");
}

TEST(ObjectToCreateTest, TakesUpToThreePieces) {
  const ObjectToCreate one("a", "bytes");
  EXPECT_EQ(one.pieces().size(), 1u);
  EXPECT_EQ(one.Joined(), "bytes");
  const ObjectToCreate three("b", {"x", "", "yz"});
  EXPECT_EQ(three.name(), "b");
  EXPECT_EQ(three.size(), 3u);
  EXPECT_EQ(three.Joined(), "xyz");
  EXPECT_THROW(ObjectToCreate("c", {"1", "2", "3", "4"}), std::length_error);
}

TEST_F(FileStateStoreTest, FailedBatchCreateLeavesNothingOfTheFailedObjects) {
  WriteFile(folder_ + "/jobs", "a file, not a folder");
  std::unique_ptr<FileStateStore> store = OpenOk(folder_);
  ASSERT_NE(store, nullptr);
  const std::vector<ObjectToCreate> batch = {{"jobs/a/1.json", "x"}, {"ok/1.json", "y"}};
  const std::vector<Status> results = store->CreateManyIfAbsent(batch);
  EXPECT_EQ(results[0].code(), StatusCode::kUnavailable);
  EXPECT_THAT(results[0].message(), HasSubstr("file store " + folder_ + ": create jobs/a/1.json"));
  EXPECT_TRUE(results[1].ok()) << results[1].message();
  EXPECT_EQ(FilesBelow(folder_), (Names{"jobs", "ok/1.json"}));
}

TEST_F(FileStateStoreTest, FailedCreateIsUnavailableNamingTheObjectAndLeavesNothing) {
  // Tests run as root, where a read-only folder still takes writes; a file where a folder must
  // be created fails for everyone.
  WriteFile(folder_ + "/jobs", "a file, not a folder");
  std::unique_ptr<FileStateStore> store = OpenOk(folder_);
  ASSERT_NE(store, nullptr);
  for (const char* name : {"jobs/a/1.json", "jobs/1.json"}) {
    const Status created = store->CreateIfAbsent(name, "data");
    EXPECT_EQ(created.code(), StatusCode::kUnavailable) << created.message();
    EXPECT_THAT(created.message(), HasSubstr("file store " + folder_ + ": create " + name + ": "));
    EXPECT_EQ(store->Read(name).status().code(), StatusCode::kNotFound) << name;
  }
  EXPECT_EQ(FilesBelow(folder_), Names{"jobs"});
}

TEST_F(FileStateStoreTest, ReadOfMissingNamesTheObject) {
  std::unique_ptr<FileStateStore> store = OpenOk(folder_);
  ASSERT_NE(store, nullptr);
  Result<std::string> read = store->Read("jobs/a/1.json");
  EXPECT_EQ(read.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(read.status().message(), "file store " + folder_ + ": object jobs/a/1.json not found");
}

TEST_F(FileStateStoreTest, NameThatIsAFolderOfObjectsCannotBeCreated) {
  std::unique_ptr<FileStateStore> store = OpenOk(folder_);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateIfAbsent("jobs/a/1.json", "one").ok());
  EXPECT_EQ(store->CreateIfAbsent("jobs/a", "x").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store->Read("jobs/a").status().code(), StatusCode::kNotFound);
}

TEST_F(FileStateStoreTest, SegmentTooLongForTheFileSystemIsInvalid) {
  std::unique_ptr<FileStateStore> store = OpenOk(folder_);
  ASSERT_NE(store, nullptr);
  const std::string name = "jobs/" + std::string(300, 'x');
  ASSERT_TRUE(IsValidObjectName(name));
  EXPECT_EQ(store->CreateIfAbsent(name, "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Read(name).status().code(), StatusCode::kNotFound);
}

TEST_F(FileStateStoreTest, ListWithLeadingSlashIsInvalid) {
  std::unique_ptr<FileStateStore> store = OpenOk(folder_);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->List("/").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->List("/etc/").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(FileStateStoreTest, ProbeFailsWhenTheRootIsGone) {
  std::unique_ptr<FileStateStore> store = OpenOk(folder_ + "/root");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Probe().ok());
  fs::remove_all(folder_ + "/root");
  const Status probe = store->Probe();
  EXPECT_EQ(probe.code(), StatusCode::kUnavailable);
  EXPECT_THAT(probe.message(), HasSubstr(folder_ + "/root"));
}

}  // namespace
}  // namespace buildtrace

namespace buildtrace {
namespace {

TEST_F(FileStateStoreTest, ConcurrentCreatesShareFlushesAndAllLand) {
  std::unique_ptr<FileStateStore> store = OpenOk(folder_);
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 8, kEach = 20;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string name = "jobs/t" + std::to_string(t) + "/" + std::to_string(i);
        if (!store->CreateIfAbsent(name, name).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  Result<std::vector<std::string>> names = store->List("jobs/");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), static_cast<size_t>(kThreads * kEach));
  for (const std::string& name : *names) EXPECT_EQ(*store->Read(name), name);
}

}  // namespace
}  // namespace buildtrace
