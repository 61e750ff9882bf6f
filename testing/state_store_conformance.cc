// The StateStore conformance tests; see state_store_conformance.h. Each test gets a fresh store
// from the factory, so tests may assume the store starts empty.
#include "testing/state_store_conformance.h"

#include <algorithm>
#include <cstdio>
#include <latch>
#include <string_view>
#include <thread>
#include <vector>

#include "testing/random_bytes.h"

namespace buildtrace {

void ExpectListingsPageThroughManyKeys(StateStore& store) {
  using Names = std::vector<std::string>;
  auto listed = [&](std::string_view prefix) {
    Result<Names> names = store.List(prefix);
    return names.ok() ? *names : Names{"<error: " + names.status().message() + ">"};
  };
  Names all, under_p1;
  for (int i = 0; i < 25; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "p%d/%04d.json", i % 2, i);
    ASSERT_TRUE(store.CreateIfAbsent(name, name).ok()) << name;
    all.push_back(name);
    if (i % 2 == 1) under_p1.push_back(name);
  }
  std::sort(all.begin(), all.end());
  std::sort(under_p1.begin(), under_p1.end());
  EXPECT_EQ(listed(""), all);          // 3 pages
  EXPECT_EQ(listed("p1/"), under_p1);  // 2 pages
  EXPECT_EQ(listed("p1/0001"), Names{"p1/0001.json"});
}

std::string StateStoreFactoryName(const ::testing::TestParamInfo<StateStoreFactory>& info) {
  return info.param.name;
}

void PrintTo(const StateStoreFactory& factory, std::ostream* os) { *os << factory.name; }

void StateStoreConformanceTest::SetUp() {
  store_ = GetParam().make();
  ASSERT_NE(store_, nullptr) << "factory " << GetParam().name << " made no store";
}

void StateStoreConformanceTest::TearDown() { store_.reset(); }

namespace {

using Names = std::vector<std::string>;

std::string StatusText(const Status& status) {
  return std::string(StatusCodeName(status.code())) + ": " + status.message();
}

// A valid name of exactly 512 bytes, in short segments that every backend can hold.
std::string LongestValidName() {
  std::string name;
  while (name.size() + 101 <= 512) name += std::string(100, 'n') + "/";
  name += std::string(512 - name.size(), 'x');
  return name;
}

void ExpectCreateThenRead(StateStore& store, std::string_view name, const std::string& data) {
  const Status created = store.CreateIfAbsent(name, data);
  ASSERT_TRUE(created.ok()) << name << ": " << StatusText(created);
  Result<std::string> read = store.Read(name);
  ASSERT_TRUE(read.ok()) << name << ": " << StatusText(read.status());
  EXPECT_EQ(read->size(), data.size()) << name;
  EXPECT_TRUE(*read == data) << name << ": content differs";  // not EXPECT_EQ: may be 5 MiB
  // ReadInput gives the same bytes, with simdjson's padding readable after them.
  Result<InputBytes> input = store.ReadInput(name);
  ASSERT_TRUE(input.ok()) << name << ": " << StatusText(input.status());
  EXPECT_TRUE(input->view() == data) << name << ": ReadInput's content differs";
  volatile char padding = input->data()[input->size() + simdjson::SIMDJSON_PADDING - 1];
  (void)padding;
}

TEST_P(StateStoreConformanceTest, CreateThenReadReturnsExactBytes) {
  ExpectCreateThenRead(store(), "jobs/p1/0001.json", R"({"state":{"D001":"ok"}})");
  ExpectCreateThenRead(store(), "empty", "");
  ExpectCreateThenRead(store(), "binary.bin", std::string("\0a\0\xff\x80\n\r\0", 8));
  ExpectCreateThenRead(store(), "all-bytes/blob", RandomBytes(4096, 1));
  ExpectCreateThenRead(store(), "A.Z_a-z.0-9/..x/.y", "odd but valid segments");
  ExpectCreateThenRead(store(), LongestValidName(), "longest name");
}

TEST_P(StateStoreConformanceTest, CreateThenReadLargeBlob) {
  ExpectCreateThenRead(store(), "large/5mib", RandomBytes(5 << 20, 2));
}

TEST_P(StateStoreConformanceTest, ReadLeavesPaddingCapacity) {
  for (size_t size : {0, 1, 15, 63, 64, 65, 4096, 100000}) {
    const std::string name = "padding/" + std::to_string(size);
    ASSERT_TRUE(store().CreateIfAbsent(name, RandomBytes(size, 3)).ok()) << name;
    Result<std::string> read = store().Read(name);
    ASSERT_TRUE(read.ok()) << name << ": " << StatusText(read.status());
    EXPECT_EQ(read->size(), size);
    EXPECT_GE(read->capacity() - read->size(), kReadPadding) << name;
  }
}

TEST_P(StateStoreConformanceTest, SecondCreateIsAlreadyExistsAndKeepsContent) {
  ASSERT_TRUE(store().CreateIfAbsent("jobs/p1/0001.json", "first").ok());
  const Status second = store().CreateIfAbsent("jobs/p1/0001.json", "second");
  EXPECT_EQ(second.code(), StatusCode::kAlreadyExists) << StatusText(second);
  const Status same = store().CreateIfAbsent("jobs/p1/0001.json", "first");
  EXPECT_EQ(same.code(), StatusCode::kAlreadyExists) << StatusText(same);
  Result<std::string> read = store().Read("jobs/p1/0001.json");
  ASSERT_TRUE(read.ok()) << StatusText(read.status());
  EXPECT_EQ(*read, "first");
}

TEST_P(StateStoreConformanceTest, ReadOfMissingIsNotFound) {
  ASSERT_TRUE(store().CreateIfAbsent("jobs/p1/0001.json", "x").ok());
  for (std::string_view name : {"missing", "jobs/p1/0002.json", "jobs/p2/0001.json", "jobs/p1",
                                "jobs", "jobs/p1/0001.json/more"}) {
    Result<std::string> read = store().Read(name);
    EXPECT_EQ(read.status().code(), StatusCode::kNotFound)
        << name << ": " << StatusText(read.status());
    EXPECT_EQ(store().ReadInput(name).status().code(), StatusCode::kNotFound) << name;
  }
}

TEST_P(StateStoreConformanceTest, InvalidNamesAreRejected) {
  const std::vector<std::string> invalid = {"",
                                            "/a",
                                            "a/",
                                            "a//b",
                                            "../x",
                                            "a/../b",
                                            "a/./b",
                                            ".",
                                            "..",
                                            "a b",
                                            "a\\b",
                                            "a\nb",
                                            std::string("a\0b", 3),
                                            "caf\xc3\xa9",
                                            LongestValidName() + "x",
                                            std::string(513, 'a')};
  for (const std::string& name : invalid) {
    const Status created = store().CreateIfAbsent(name, "data");
    EXPECT_EQ(created.code(), StatusCode::kInvalidArgument)
        << "'" << name << "': " << StatusText(created);
    EXPECT_EQ(store().Read(name).status().code(), StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(store().Delete(name).code(), StatusCode::kInvalidArgument) << name;
  }
  Result<Names> all = store().List("");
  ASSERT_TRUE(all.ok()) << StatusText(all.status());
  EXPECT_EQ(*all, Names{}) << "a rejected create left something behind";
}

TEST_P(StateStoreConformanceTest, DeleteRemovesOnlyThatObject) {
  for (std::string_view name : {"outbox/p1/1.json", "outbox/p1/2.json", "outbox/p10/1.json"}) {
    ASSERT_TRUE(store().CreateIfAbsent(name, name).ok()) << name;
  }
  const Status deleted = store().Delete("outbox/p1/1.json");
  ASSERT_TRUE(deleted.ok()) << StatusText(deleted);
  EXPECT_EQ(store().Read("outbox/p1/1.json").status().code(), StatusCode::kNotFound);
  Result<Names> left = store().List("outbox/");
  ASSERT_TRUE(left.ok()) << StatusText(left.status());
  EXPECT_EQ(*left, (Names{"outbox/p1/2.json", "outbox/p10/1.json"}));
  Result<std::string> kept = store().Read("outbox/p1/2.json");
  ASSERT_TRUE(kept.ok()) << StatusText(kept.status());
  EXPECT_EQ(*kept, "outbox/p1/2.json");
}

TEST_P(StateStoreConformanceTest, DeleteOfMissingIsOkAndTheNameCanBeCreatedAgain) {
  ASSERT_TRUE(store().CreateIfAbsent("outbox/p1/1.json", "first").ok());
  EXPECT_TRUE(store().Delete("outbox/p1/missing.json").ok());
  EXPECT_TRUE(store().Delete("outbox/p1/1.json").ok());
  EXPECT_TRUE(store().Delete("outbox/p1/1.json").ok()) << "a second delete is Ok too";
  ASSERT_TRUE(store().CreateIfAbsent("outbox/p1/1.json", "second").ok());
  Result<std::string> read = store().Read("outbox/p1/1.json");
  ASSERT_TRUE(read.ok()) << StatusText(read.status());
  EXPECT_EQ(*read, "second");
}

// Fills the store for the List tests. Created out of order; the byte order of '/', '0', 'A', '_'
// and 'a' matters below.
void CreateListFixture(StateStore& store) {
  for (std::string_view name :
       {"jobs/p1/0010.json", "jobs/p10/0001.json", "jobs/p1/0001.json", "jobs/p1/A", "jobs/p1/_",
        "jobs/p1/a", "jobs/p1/0002.json", "jobs/p2/0001.json", "jobsx", "index/p1"}) {
    const Status created = store.CreateIfAbsent(name, name);
    ASSERT_TRUE(created.ok()) << name << ": " << StatusText(created);
  }
}

Names ListOk(StateStore& store, std::string_view prefix) {
  Result<Names> listed = store.List(prefix);
  EXPECT_TRUE(listed.ok()) << "'" << prefix << "': " << StatusText(listed.status());
  return listed.ok() ? *listed : Names{"<error>"};
}

TEST_P(StateStoreConformanceTest, ListReturnsNamesUnderPrefixInByteOrder) {
  ASSERT_NO_FATAL_FAILURE(CreateListFixture(store()));
  EXPECT_EQ(ListOk(store(), ""), (Names{"index/p1", "jobs/p1/0001.json", "jobs/p1/0002.json",
                                        "jobs/p1/0010.json", "jobs/p1/A", "jobs/p1/_", "jobs/p1/a",
                                        "jobs/p10/0001.json", "jobs/p2/0001.json", "jobsx"}));
  EXPECT_EQ(ListOk(store(), "jobs/"),
            (Names{"jobs/p1/0001.json", "jobs/p1/0002.json", "jobs/p1/0010.json", "jobs/p1/A",
                   "jobs/p1/_", "jobs/p1/a", "jobs/p10/0001.json", "jobs/p2/0001.json"}));
  EXPECT_EQ(ListOk(store(), "jobs/p1/"),
            (Names{"jobs/p1/0001.json", "jobs/p1/0002.json", "jobs/p1/0010.json", "jobs/p1/A",
                   "jobs/p1/_", "jobs/p1/a"}));
  EXPECT_EQ(ListOk(store(), "jobs/p1/00"),
            (Names{"jobs/p1/0001.json", "jobs/p1/0002.json", "jobs/p1/0010.json"}));
}

TEST_P(StateStoreConformanceTest, ListPrefixIsAPlainStringPrefix) {
  ASSERT_NO_FATAL_FAILURE(CreateListFixture(store()));
  EXPECT_EQ(ListOk(store(), "jobs"),
            (Names{"jobs/p1/0001.json", "jobs/p1/0002.json", "jobs/p1/0010.json", "jobs/p1/A",
                   "jobs/p1/_", "jobs/p1/a", "jobs/p10/0001.json", "jobs/p2/0001.json", "jobsx"}));
  EXPECT_EQ(ListOk(store(), "jobs/p1"),
            (Names{"jobs/p1/0001.json", "jobs/p1/0002.json", "jobs/p1/0010.json", "jobs/p1/A",
                   "jobs/p1/_", "jobs/p1/a", "jobs/p10/0001.json"}));
  EXPECT_EQ(ListOk(store(), "jobs/p1/0001.json"), (Names{"jobs/p1/0001.json"}));
  EXPECT_EQ(ListOk(store(), "i"), (Names{"index/p1"}));
}

TEST_P(StateStoreConformanceTest, DeleteObjectsUnderAFolderLeavesItEmptyAndReusable) {
  ASSERT_NO_FATAL_FAILURE(CreateListFixture(store()));
  ASSERT_TRUE(store().CreateIfAbsent("jobs/p1/deep/er/1.json", "deep").ok());
  Result<int64_t> deleted = DeleteObjectsUnder(store(), "jobs/p1/");
  ASSERT_TRUE(deleted.ok()) << StatusText(deleted.status());
  EXPECT_EQ(*deleted, 7);
  EXPECT_EQ(ListOk(store(), "jobs/p1/"), Names{});
  // Only that folder: "jobs/p10/" shares its first bytes.
  EXPECT_EQ(ListOk(store(), ""),
            (Names{"index/p1", "jobs/p10/0001.json", "jobs/p2/0001.json", "jobsx"}));
  deleted = DeleteObjectsUnder(store(), "jobs/p1/");
  ASSERT_TRUE(deleted.ok()) << StatusText(deleted.status());
  EXPECT_EQ(*deleted, 0);
  // The names can be created again, with new content, below folders emptied.
  ASSERT_TRUE(store().CreateIfAbsent("jobs/p1/0001.json", "again").ok());
  ASSERT_TRUE(store().CreateIfAbsent("jobs/p1/deep/er/1.json", "again").ok());
  Result<std::string> read = store().Read("jobs/p1/deep/er/1.json");
  ASSERT_TRUE(read.ok()) << StatusText(read.status());
  EXPECT_EQ(*read, "again");
  EXPECT_EQ(ListOk(store(), "jobs/p1/"), (Names{"jobs/p1/0001.json", "jobs/p1/deep/er/1.json"}));
}

TEST_P(StateStoreConformanceTest, ListWithPrefixMatchingNothingIsEmpty) {
  ASSERT_NO_FATAL_FAILURE(CreateListFixture(store()));
  for (std::string_view prefix : {"nothing", "nothing/", "jobs/p3/", "jobs/p1/0001.json/",
                                  "jobs/p1/9", "jobs//", "jobs/./p1/", "a b/", "zzz"}) {
    EXPECT_EQ(ListOk(store(), prefix), Names{}) << "'" << prefix << "'";
  }
}

TEST_P(StateStoreConformanceTest, ListWithDotDotPrefixIsInvalid) {
  ASSERT_NO_FATAL_FAILURE(CreateListFixture(store()));
  for (std::string_view prefix : {"../", "../jobs/", "jobs/../", "jobs/../jobs/p1/"}) {
    Result<Names> listed = store().List(prefix);
    EXPECT_EQ(listed.status().code(), StatusCode::kInvalidArgument)
        << "'" << prefix << "': " << StatusText(listed.status());
  }
}

TEST_P(StateStoreConformanceTest, ConcurrentCreatesOfOneNameHaveOneWinner) {
  constexpr int kThreads = 8;
  std::vector<Status> results(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const std::string data = "writer " + std::to_string(i) + " " + RandomBytes(10000, i);
      start.arrive_and_wait();
      results[i] = store().CreateIfAbsent("race/new-folder/object", data);
    });
  }
  for (std::thread& thread : threads) thread.join();
  int winner = -1;
  for (int i = 0; i < kThreads; ++i) {
    if (results[i].ok()) {
      EXPECT_EQ(winner, -1) << "writers " << winner << " and " << i << " both won";
      winner = i;
    } else {
      EXPECT_EQ(results[i].code(), StatusCode::kAlreadyExists) << StatusText(results[i]);
    }
  }
  ASSERT_NE(winner, -1) << "no writer won";
  Result<std::string> read = store().Read("race/new-folder/object");
  ASSERT_TRUE(read.ok()) << StatusText(read.status());
  EXPECT_TRUE(*read == "writer " + std::to_string(winner) + " " + RandomBytes(10000, winner));
}

TEST_P(StateStoreConformanceTest, ConcurrentCreatesOfDistinctNamesAllSucceed) {
  constexpr int kThreads = 8;
  std::vector<Status> results(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      results[i] = store().CreateIfAbsent("race/a/b/" + std::to_string(i), std::to_string(i));
    });
  }
  for (std::thread& thread : threads) thread.join();
  Names expected;
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_TRUE(results[i].ok()) << i << ": " << StatusText(results[i]);
    expected.push_back("race/a/b/" + std::to_string(i));
  }
  Result<Names> listed = store().List("race/");
  ASSERT_TRUE(listed.ok()) << StatusText(listed.status());
  EXPECT_EQ(*listed, expected);
}

TEST_P(StateStoreConformanceTest, ProbeSucceedsWithoutVisibleSideEffects) {
  const Status probe = store().Probe();
  EXPECT_TRUE(probe.ok()) << StatusText(probe);
  Result<Names> listed = store().List("");
  ASSERT_TRUE(listed.ok()) << StatusText(listed.status());
  EXPECT_EQ(*listed, Names{});
}

TEST_P(StateStoreConformanceTest, DescribeIsNotEmpty) { EXPECT_FALSE(store().Describe().empty()); }

}  // namespace
}  // namespace buildtrace

namespace buildtrace {
namespace {

TEST_P(StateStoreConformanceTest, CreateManyGivesEachObjectItsOwnOutcome) {
  ASSERT_TRUE(store().CreateIfAbsent("batch/taken", "old").ok());
  const std::string big(100'000, 'x');
  const std::vector<ObjectToCreate> objects = {{"batch/a", "alpha"}, {"batch/taken", "new"},
                                               {"bad//name", "x"},   {"batch/b/c", big},
                                               {"batch/a", "again"}, {"other/d", ""}};
  const std::vector<Status> results = store().CreateManyIfAbsent(objects);
  ASSERT_EQ(results.size(), objects.size());
  EXPECT_TRUE(results[0].ok()) << results[0].message();
  EXPECT_EQ(results[1].code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(results[2].code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(results[3].ok()) << results[3].message();
  EXPECT_EQ(results[4].code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(results[5].ok()) << results[5].message();
  EXPECT_EQ(*store().Read("batch/a"), "alpha");
  EXPECT_EQ(*store().Read("batch/taken"), "old");
  EXPECT_EQ(*store().Read("batch/b/c"), big);
  EXPECT_EQ(*store().Read("other/d"), "");
  EXPECT_EQ(*store().List("batch/"),
            (std::vector<std::string>{"batch/a", "batch/b/c", "batch/taken"}));
  EXPECT_TRUE(store().CreateManyIfAbsent({}).empty());
}

TEST_P(StateStoreConformanceTest, CreateManyWritesAnObjectsPiecesOneAfterTheOther) {
  const std::string middle = RandomBytes(3 << 20, 17);  // past any one write or buffer
  const std::vector<ObjectToCreate> objects = {
      ObjectToCreate("pieces/a", {"head:", middle, ":seal"}),
      ObjectToCreate("pieces/b", {"", "only", ""}),
      ObjectToCreate("pieces/c", {"", ""}),
  };
  EXPECT_EQ(objects[0].size(), middle.size() + 10);
  const std::vector<Status> results = store().CreateManyIfAbsent(objects);
  ASSERT_EQ(results.size(), objects.size());
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(*store().Read("pieces/a"), "head:" + middle + ":seal");
  EXPECT_EQ(*store().Read("pieces/b"), "only");
  EXPECT_EQ(*store().Read("pieces/c"), "");
}

TEST_P(StateStoreConformanceTest, CreateManyPreparingReadsTheLastPiecesAfterThePreparation) {
  ASSERT_TRUE(store().CreateIfAbsent("prepared/taken", "old").ok());
  const std::string middle = RandomBytes(1 << 20, 23);
  std::string seal_a(5, '?');
  std::string seal_b(4, '?');
  const std::vector<ObjectToCreate> objects = {
      ObjectToCreate("prepared/a", {"head:", middle, seal_a}),
      ObjectToCreate("prepared/b", seal_b),  // one piece, the last
      ObjectToCreate("prepared/taken", {"x", seal_b}),
  };
  int calls = 0;
  const Result<std::vector<Status>> prepared = store().CreateManyIfAbsentPreparing(objects, [&] {
    ++calls;
    seal_a.replace(0, seal_a.size(), ":seal");  // in place: the pieces are views
    seal_b.replace(0, seal_b.size(), "done");
    return Status::Ok();
  });
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(prepared.ok()) << prepared.status().message();
  const std::vector<Status>& results = *prepared;
  ASSERT_EQ(results.size(), objects.size());
  EXPECT_TRUE(results[0].ok()) << results[0].message();
  EXPECT_TRUE(results[1].ok()) << results[1].message();
  EXPECT_EQ(results[2].code(), StatusCode::kAlreadyExists) << results[2].message();
  EXPECT_EQ(*store().Read("prepared/a"), "head:" + middle + ":seal");
  EXPECT_EQ(*store().Read("prepared/b"), "done");
  EXPECT_EQ(*store().Read("prepared/taken"), "old");
}

TEST_P(StateStoreConformanceTest, CreateManyPreparingCreatesNothingWhenThePreparationRefuses) {
  const std::string middle = RandomBytes(1 << 20, 29);
  const std::vector<ObjectToCreate> objects = {
      ObjectToCreate("refused/a", {"head:", middle, "seal"}),
      ObjectToCreate("refused/b/c", "x"),
  };
  const Result<std::vector<Status>> refused = store().CreateManyIfAbsentPreparing(
      objects, [] { return InvalidArgument("state.D1: this object ID appears twice"); });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(), "state.D1: this object ID appears twice");
  EXPECT_EQ(store().Read("refused/a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store().Read("refused/b/c").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*store().List("refused/"), std::vector<std::string>{});
  // Nothing was left half made: the same batch goes in afterwards.
  const std::vector<Status> again = store().CreateManyIfAbsent(objects);
  for (const Status& s : again) EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(*store().Read("refused/a"), "head:" + middle + "seal");
}

}  // namespace
}  // namespace buildtrace
