// FileStateStore's writers: temporary names that carry the writer's identity and what Open()
// removes of them; flushes that fail before or after the rename (through the sync_file_system
// hook) and the promise that an acknowledged create is never lost; Probe and free space.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "store/file_state_store.h"
#include "store/file_state_store_test_fixture.h"
#include "store/writer_identity.h"

namespace buildtrace {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

Names Sorted(Names names) {
  std::sort(names.begin(), names.end());
  return names;
}

// A child process that runs until Stop(), which ends and reaps it: a writer that is alive, then
// certainly gone.
class ChildProcess {
 public:
  ChildProcess() {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[1]);
      char byte;
      while (::read(fds[0], &byte, 1) < 0 && errno == EINTR) {
      }
      ::_exit(0);  // the parent closed its end
    }
    ::close(fds[0]);
    write_end_ = fds[1];
  }
  ~ChildProcess() { Stop(); }
  void Stop() {
    if (pid_ <= 0) return;
    ::close(write_end_);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int write_end_ = -1;
};

// A sync_file_system hook that counts its calls and fails those `fail` says, with EIO.
struct FlushHook {
  std::atomic<int> calls{0};
  std::function<bool(int call)> fail = [](int) { return false; };
  std::function<void(int call)> during = [](int) {};

  FileStoreOptions Options() {
    FileStoreOptions options;
    options.sync_file_system = [this](int) {
      const int call = ++calls;
      during(call);
      return fail(call) ? EIO : 0;
    };
    return options;
  }
};

class FileStoreWritersTest : public FileStateStoreTest {
 protected:
  void PlantTemp(const std::string& below_root, const WriterIdentity& writer, uint64_t random,
                 std::chrono::minutes age = std::chrono::minutes(0)) {
    const std::string path = folder_ + "/" + below_root + "/" + TempFileName(writer, random);
    WriteFile(path, "partial");
    fs::last_write_time(path, fs::file_time_type::clock::now() - age);
  }
  static std::string Read(FileStateStore& store, std::string_view name) {
    Result<std::string> read = store.Read(name);
    return read.ok() ? *read : "<" + read.status().message() + ">";
  }
};

TEST(WriterIdentityTest, TempNamesRoundTripAndOtherNamesCarryNoWriter) {
  const WriterIdentity writer{"00112233aabb", 4242, 987654321};
  const std::string name = TempFileName(writer, 0xfeedULL);
  EXPECT_EQ(name, ".tmp-00112233aabb-4242-987654321-000000000000feed~");
  const std::optional<WriterIdentity> parsed = WriterOfTempFile(name);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->host, writer.host);
  EXPECT_EQ(parsed->pid, writer.pid);
  EXPECT_EQ(parsed->start_time, writer.start_time);
  for (const char* other :
       {".tmp-00000000deadbeef~", ".tmp-00112233aabb-4242-987654321-000000000000feed",
        ".tmp-00112233AABB-4242-987654321-000000000000feed~",
        ".tmp-00112233aabb-0-987654321-000000000000feed~",
        ".tmp-00112233aabb-42x-987654321-000000000000feed~",
        ".tmp-00112233aabb-4242-987654321-000000000000feed-1~", "jobs.json"}) {
    EXPECT_FALSE(WriterOfTempFile(other).has_value()) << other;
  }
  EXPECT_TRUE(IsTempFileName(".tmp-00000000deadbeef~"));
  EXPECT_FALSE(IsTempFileName(".tmp-but-an-object"));
}

TEST_F(FileStoreWritersTest, TempNamesCarryThisWritersIdentity) {
  FlushHook hook;
  Names seen;
  hook.during = [&](int call) {
    if (call == 1) seen = FilesBelow(folder_ + "/jobs/a");
  };
  std::unique_ptr<FileStateStore> store = OpenOk(folder_, hook.Options());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateIfAbsent("jobs/a/1.json", "one").ok());
  ASSERT_EQ(seen.size(), 1u);
  const std::optional<WriterIdentity> writer = WriterOfTempFile(seen[0]);
  ASSERT_TRUE(writer.has_value()) << seen[0];
  EXPECT_EQ(writer->host, ThisHost());
  EXPECT_EQ(writer->pid, ::getpid());
  EXPECT_EQ(writer->start_time, IdentityOfProcess(::getpid())->start_time);
  EXPECT_NE(writer->start_time, 0u);
  EXPECT_FALSE(IsValidObjectName("jobs/a/" + seen[0]));
  EXPECT_FALSE(WriterIsGone(*writer));
}

// An empty object (the job index's) has nothing to tear: it is created under its own name, with
// no temporary file, and flushed once; a batch with data in it still takes the two flushes.
TEST_F(FileStoreWritersTest, EmptyObjectsAreCreatedInPlaceWithOneFlush) {
  FlushHook hook;
  Names at_first_flush;
  hook.during = [&](int call) {
    if (call == 1) at_first_flush = FilesBelow(folder_ + "/index");
  };
  std::unique_ptr<FileStateStore> store = OpenOk(folder_, hook.Options());
  ASSERT_NE(store, nullptr);
  const std::vector<ObjectToCreate> empty = {{"index/p/a", ""}, {"index/p/b", ""}};
  std::vector<Status> results = store->CreateManyIfAbsent(empty);
  ASSERT_TRUE(results[0].ok()) << results[0].message();
  ASSERT_TRUE(results[1].ok()) << results[1].message();
  EXPECT_EQ(hook.calls.load(), 1);
  EXPECT_EQ(at_first_flush, (Names{"p/a", "p/b"}));
  EXPECT_EQ(Read(*store, "index/p/a"), "");
  // Found existing: kAlreadyExists, after a flush (its creator may not have flushed it yet).
  EXPECT_EQ(store->CreateIfAbsent("index/p/a", "").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store->CreateIfAbsent("index/p", "").code(), StatusCode::kAlreadyExists);  // a folder
  EXPECT_EQ(hook.calls.load(), 3);
  const std::vector<ObjectToCreate> mixed = {{"index/p/c", ""}, {"jobs/p/1.json", "one"}};
  results = store->CreateManyIfAbsent(mixed);
  ASSERT_TRUE(results[0].ok()) << results[0].message();
  ASSERT_TRUE(results[1].ok()) << results[1].message();
  EXPECT_EQ(hook.calls.load(), 5);
  EXPECT_EQ(Read(*store, "jobs/p/1.json"), "one");
  EXPECT_EQ(FilesBelow(folder_), (Names{"index/p/a", "index/p/b", "index/p/c", "jobs/p/1.json"}));
}

// Its flush failing, an empty object created in place is not known to be durable; a retry
// finds it and confirms it with a flush of its own.
TEST_F(FileStoreWritersTest, EmptyObjectWhoseFlushFailsIsUnavailableUntilARetryConfirmsIt) {
  FlushHook hook;
  hook.fail = [](int call) { return call == 1; };
  std::unique_ptr<FileStateStore> store = OpenOk(folder_, hook.Options());
  ASSERT_NE(store, nullptr);
  const Status failed = store->CreateIfAbsent("index/p/a", "");
  EXPECT_EQ(failed.code(), StatusCode::kUnavailable);
  EXPECT_THAT(failed.message(),
              AllOf(HasSubstr("create index/p/a: flush failed: Input/output error"),
                    HasSubstr("may be visible"), HasSubstr("retry the create to confirm it")));
  EXPECT_EQ(store->CreateIfAbsent("index/p/a", "").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(hook.calls.load(), 2);
}

TEST_F(FileStoreWritersTest, OpenKeepsTempFilesOfLiveWritersAndRemovesThoseOfGoneOnes) {
  ChildProcess live, dead;
  ASSERT_GT(live.pid(), 0);
  ASSERT_GT(dead.pid(), 0);
  const std::optional<WriterIdentity> live_writer = IdentityOfProcess(live.pid());
  const std::optional<WriterIdentity> dead_writer = IdentityOfProcess(dead.pid());
  ASSERT_TRUE(live_writer && dead_writer);
  dead.Stop();
  WriterIdentity restarted = ThisWriter();  // our pid, but another process's start time
  ++restarted.start_time;
  WriterIdentity elsewhere = *dead_writer;  // another host: nothing can be known of its pid
  elsewhere.host = "0123456789ab";
  PlantTemp("jobs/a", *live_writer, 1);
  PlantTemp("jobs/a", ThisWriter(), 2);
  PlantTemp("jobs/b", *dead_writer, 3);
  PlantTemp("jobs/b", restarted, 4);
  PlantTemp("jobs/b", elsewhere, 5);
  ASSERT_NE(OpenOk(folder_), nullptr);
  EXPECT_EQ(FilesBelow(folder_), Sorted({"jobs/a/" + TempFileName(*live_writer, 1),
                                         "jobs/a/" + TempFileName(ThisWriter(), 2),
                                         "jobs/b/" + TempFileName(elsewhere, 5)}));

  live.Stop();
  ASSERT_NE(OpenOk(folder_), nullptr);
  EXPECT_EQ(FilesBelow(folder_), Sorted({"jobs/a/" + TempFileName(ThisWriter(), 2),
                                         "jobs/b/" + TempFileName(elsewhere, 5)}));
}

TEST_F(FileStoreWritersTest, OpenRemovesTempFilesOlderThanTheAbandonmentAgeWhoeverWroteThem) {
  FileStoreOptions options;
  options.abandoned_temp_age = std::chrono::minutes(10);
  PlantTemp("jobs", ThisWriter(), 1, std::chrono::minutes(20));
  PlantTemp("jobs", ThisWriter(), 2, std::chrono::minutes(5));
  WriteFile(folder_ + "/jobs/.tmp-00000000deadbeef~", "old format");
  fs::last_write_time(folder_ + "/jobs/.tmp-00000000deadbeef~",
                      fs::file_time_type::clock::now() - std::chrono::minutes(20));
  WriteFile(folder_ + "/jobs/1.json", "an object, however old");
  fs::last_write_time(folder_ + "/jobs/1.json",
                      fs::file_time_type::clock::now() - std::chrono::hours(48));
  ASSERT_NE(OpenOk(folder_, options), nullptr);
  EXPECT_EQ(FilesBelow(folder_), Sorted({"jobs/" + TempFileName(ThisWriter(), 2), "jobs/1.json"}));
}

TEST_F(FileStoreWritersTest, FailedFlushBeforeTheRenameLeavesNothing) {
  FlushHook hook;
  hook.fail = [](int call) { return call == 1; };
  std::unique_ptr<FileStateStore> store = OpenOk(folder_, hook.Options());
  ASSERT_NE(store, nullptr);
  const std::vector<ObjectToCreate> batch = {{"jobs/a/1.json", "one"}, {"jobs/b/2.json", "two"}};
  const std::vector<Status> results = store->CreateManyIfAbsent(batch);
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(results[i].code(), StatusCode::kUnavailable);
    EXPECT_THAT(results[i].message(),
                HasSubstr("file store " + folder_ + ": create " + std::string(batch[i].name()) +
                          ": Input/output error"));
    EXPECT_EQ(store->Read(batch[i].name()).status().code(), StatusCode::kNotFound);
  }
  EXPECT_EQ(hook.calls.load(), 1);  // no flush after a rename that did not happen
  EXPECT_EQ(FilesBelow(folder_), Names{});
}

TEST_F(FileStoreWritersTest, FailedFlushAfterTheRenameKeepsTheObjectAndARetryConfirmsIt) {
  FlushHook hook;
  hook.fail = [](int call) { return call == 2; };
  std::unique_ptr<FileStateStore> store = OpenOk(folder_, hook.Options());
  ASSERT_NE(store, nullptr);
  const Status created = store->CreateIfAbsent("jobs/a/1.json", "one");
  EXPECT_EQ(created.code(), StatusCode::kUnavailable);
  EXPECT_THAT(created.message(),
              AllOf(HasSubstr("create jobs/a/1.json: flush failed: Input/output error"),
                    HasSubstr("may be visible"), HasSubstr("retry the create to confirm it")));
  EXPECT_EQ(Read(*store, "jobs/a/1.json"), "one");
  EXPECT_EQ(store->CreateIfAbsent("jobs/a/1.json", "one").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(FilesBelow(folder_), Names{"jobs/a/1.json"});
}

// The race that lost acknowledged jobs: A renames, B finds the name taken (and its caller
// acknowledges the object as stored), then A's flush fails. B is a second instance on the same
// folder (as a second process would be), run from inside A's failing flush.
TEST_F(FileStoreWritersTest, AnAcknowledgedCreateIsNeverLostWhenAnotherCreatorsFlushFails) {
  std::unique_ptr<FileStateStore> other = OpenOk(folder_);
  ASSERT_NE(other, nullptr);
  Status other_created;
  FlushHook hook;
  hook.during = [&](int call) {
    if (call == 2) other_created = other->CreateIfAbsent("jobs/a/1.json", "same bytes");
  };
  hook.fail = [](int call) { return call == 2; };
  std::unique_ptr<FileStateStore> store = OpenOk(folder_, hook.Options());
  ASSERT_NE(store, nullptr);
  const Status created = store->CreateIfAbsent("jobs/a/1.json", "same bytes");
  EXPECT_EQ(created.code(), StatusCode::kUnavailable) << created.message();
  EXPECT_EQ(other_created.code(), StatusCode::kAlreadyExists) << other_created.message();
  EXPECT_EQ(Read(*other, "jobs/a/1.json"), "same bytes");
  EXPECT_EQ(Read(*store, "jobs/a/1.json"), "same bytes");
}

TEST_F(FileStoreWritersTest, AlreadyExistsIsAnsweredOnlyAfterAFlush) {
  FlushHook hook;
  hook.fail = [](int call) { return call == 4; };
  std::unique_ptr<FileStateStore> store = OpenOk(folder_, hook.Options());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateIfAbsent("jobs/a/1.json", "one").ok());
  ASSERT_EQ(hook.calls.load(), 2);
  const Status unconfirmed = store->CreateIfAbsent("jobs/a/1.json", "one");
  EXPECT_EQ(hook.calls.load(), 4);
  EXPECT_EQ(unconfirmed.code(), StatusCode::kUnavailable);
  EXPECT_THAT(unconfirmed.message(),
              AllOf(HasSubstr("create jobs/a/1.json: flush failed: Input/output error"),
                    HasSubstr("the object exists but is not known to be durable")));
  EXPECT_EQ(store->CreateIfAbsent("jobs/a/1.json", "one").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(hook.calls.load(), 6);
  EXPECT_EQ(Read(*store, "jobs/a/1.json"), "one");
}

// Threads of one instance race on one name while one flush fails, round after round, with the
// failure at each position in turn: whatever each create answers, every create that answered Ok
// or kAlreadyExists leaves the object readable with its bytes.
TEST_F(FileStoreWritersTest, ConcurrentCreatesWithAFailingFlushLoseNoAcknowledgedObject) {
  constexpr int kThreads = 6, kRounds = 12;
  FlushHook hook;
  std::atomic<int> failing_call{0};
  hook.fail = [&](int call) { return call == failing_call.load(); };
  std::unique_ptr<FileStateStore> store = OpenOk(folder_, hook.Options());
  ASSERT_NE(store, nullptr);
  for (int round = 0; round < kRounds; ++round) {
    failing_call = hook.calls.load() + 1 + round % 4;
    const std::string name = "race/" + std::to_string(round);
    std::vector<Status> results(kThreads);
    std::barrier start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        results[t] = store->CreateIfAbsent(name, "bytes of " + name);
      });
    }
    for (std::thread& thread : threads) thread.join();
    for (const Status& result : results) {
      ASSERT_THAT(result.code(), ::testing::AnyOf(StatusCode::kOk, StatusCode::kAlreadyExists,
                                                  StatusCode::kUnavailable))
          << result.message();
      if (result.code() != StatusCode::kUnavailable) {
        EXPECT_EQ(Read(*store, name), "bytes of " + name) << result.message();
      }
    }
  }
}

TEST_F(FileStoreWritersTest, ProbeCreatesAndDeletesAnObjectWithoutFlushing) {
  FlushHook hook;
  std::unique_ptr<FileStateStore> store = OpenOk(folder_, hook.Options());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Probe().ok());
  EXPECT_EQ(hook.calls.load(), 0);
  EXPECT_TRUE(fs::is_directory(folder_ + "/.probe~"));
  EXPECT_EQ(FilesBelow(folder_), Names{});
  EXPECT_EQ(*store->List(""), Names{});

  // A probe that cannot create its object fails, although the root is there.
  fs::remove(folder_ + "/.probe~");
  WriteFile(folder_ + "/.probe~", "in the way");
  const Status probe = store->Probe();
  EXPECT_EQ(probe.code(), StatusCode::kUnavailable);
  EXPECT_THAT(probe.message(), HasSubstr("file store " + folder_ +
                                         ": probe root folder: Not a directory; check that the "
                                         "folder exists and is writable"));
}

TEST_F(FileStoreWritersTest, ProbeFailsBelowTheFreeSpaceThreshold) {
  FileStoreOptions options;
  options.min_free_bytes = UINT64_MAX;
  std::unique_ptr<FileStateStore> store = OpenOk(folder_, options);  // Open does not check
  ASSERT_NE(store, nullptr);
  const Result<uint64_t> free = store->FreeBytes();
  ASSERT_TRUE(free.ok()) << free.status().message();
  EXPECT_GT(*free, 0u);
  const Status probe = store->Probe();
  EXPECT_EQ(probe.code(), StatusCode::kUnavailable);
  EXPECT_THAT(probe.message(),
              AllOf(HasSubstr("file store " + folder_ + ": probe free space: "),
                    HasSubstr(" bytes free, below the threshold of 18446744073709551615 bytes "
                              "(min-free); free space on that file system or lower min-free")));
  EXPECT_EQ(store->Describe(), "file://" + folder_ + "?min-free=18446744073709551615");

  options.min_free_bytes = 0;
  store = OpenOk(folder_, options);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->Probe().ok());
  EXPECT_EQ(OpenOk(folder_)->Describe(), "file://" + folder_);
}

}  // namespace
}  // namespace buildtrace
