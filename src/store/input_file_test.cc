// Tests of reading inputs for parsing: mapped files whose size falls on either side of a page
// boundary keep simdjson's padding readable and parse exactly like the same bytes in a string;
// pipes are read; limits and unopenable paths give their specific errors. The randomized part
// compares parses and diffs of mapped files with the std::map reference, on huge and normal pages.
#include "store/input_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "core/diff.h"
#include "core/flat_state.h"
#include "core/job_parser.h"
#include "testing/reference_diff.h"

namespace buildtrace {
namespace {

class InputFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/bt_input_file_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  std::string dir_;
};

void ExpectZeroPadding(const InputBytes& input) {
  for (size_t i = 0; i < simdjson::SIMDJSON_PADDING; ++i) {
    ASSERT_EQ(input.data()[input.size() + i], 0) << "padding byte " << i << " of " << input.size();
  }
}

size_t Page() { return static_cast<size_t>(::sysconf(_SC_PAGESIZE)); }

TEST_F(InputFileTest, SizesAroundPageBoundariesAreMappedWithZeroPadding) {
  std::mt19937_64 rng(3);
  const size_t base = kMapFromBytes / Page() * Page() + 4 * Page();
  for (size_t size :
       {kMapFromBytes, base - simdjson::SIMDJSON_PADDING - 1, base - simdjson::SIMDJSON_PADDING,
        base - simdjson::SIMDJSON_PADDING + 1, base - 1, base, base + 1}) {
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>('a' + rng() % 26);
    const std::string path = Write("f" + std::to_string(size), bytes);
    Result<InputBytes> input = ReadInputFile(path, size_t{1} << 30);
    ASSERT_TRUE(input.ok()) << input.status().message();
    EXPECT_TRUE(input->mapped()) << size;
    ASSERT_EQ(input->size(), size);
    EXPECT_TRUE(input->view() == bytes) << size;
    ExpectZeroPadding(*input);
  }
}

TEST_F(InputFileTest, SmallFilesAreReadNotMapped) {
  const std::string path = Write("small", "{\"a\":1}");
  Result<InputBytes> input = ReadInputFile(path, 100);
  ASSERT_TRUE(input.ok()) << input.status().message();
  EXPECT_FALSE(input->mapped());
  EXPECT_EQ(input->view(), "{\"a\":1}");
  ExpectZeroPadding(*input);
  Result<InputBytes> empty = ReadInputFile(Write("empty", ""), 100);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->size(), 0u);
  ExpectZeroPadding(*empty);
}

TEST_F(InputFileTest, PipesAreReadAsTheyArrive) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string bytes(300'000, 'x');
  std::thread writer([&] {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n =
          ::write(fds[1], bytes.data() + done, std::min<size_t>(7000, bytes.size() - done));
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::close(fds[1]);
  });
  Result<InputBytes> input = ReadInputFile(fds[0], "a pipe", size_t{1} << 30);
  writer.join();
  ::close(fds[0]);
  ASSERT_TRUE(input.ok()) << input.status().message();
  EXPECT_FALSE(input->mapped());
  EXPECT_TRUE(input->view() == bytes);
  ExpectZeroPadding(*input);
}

TEST_F(InputFileTest, LimitsAndMissingFilesAreSpecificErrors) {
  const std::string path = Write("big", std::string(kMapFromBytes + 1, ' '));
  Result<InputBytes> big = ReadInputFile(path, kMapFromBytes);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(big.status().message(),
            path + ": the file is larger than " + std::to_string(kMapFromBytes) + " bytes");
  Result<InputBytes> missing = ReadInputFile(dir_ + "/nope.json", 100);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.status().message(),
            dir_ + "/nope.json: cannot open the file (No such file or directory)");
}

// Random states of a few thousand objects (escaped, non-ASCII and long IDs; same order or
// shuffled), written as files padded with spaces to land on every side of a page boundary, read
// mapped, parsed in place and diffed: the same states as parsing the bytes from a string, and the
// reference's diff.
class MappedParseTest : public InputFileTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    InputFileTest::SetUp();
    was_ = HugePagesEnabled();
    SetHugePagesEnabled(GetParam());
  }
  void TearDown() override {
    SetHugePagesEnabled(was_);
    InputFileTest::TearDown();
  }

 private:
  bool was_ = true;
};

std::string PadTo(std::string document, size_t size) {
  if (document.size() < size) document.append(size - document.size(), ' ');
  return document;
}

TEST_P(MappedParseTest, MappedFilesParseAndDiffLikeTheReference) {
  const std::vector<std::string> pieces = {
      "door", "\xc3\xa9", "a\"b", "c\\d", "tab\t", std::string(200, 'p'), "_1_2_3_4", "x"};
  ParseLimits limits;
  limits.check_duplicate_ids = false;
  for (uint64_t seed : {11u, 12u, 13u, 14u}) {
    std::mt19937_64 rng(seed);
    auto random_id = [&] {
      std::string id = pieces[rng() % pieces.size()] + pieces[rng() % pieces.size()];
      return id + std::to_string(rng() % 100000);
    };
    auto random_hash = [&] {
      const char* types[] = {"door", "window", "wall"};
      return std::string(types[rng() % 3]) + "_" + std::to_string(rng() % 9) + "_" +
             std::to_string(rng() % 9) + "_" + std::to_string(1 + rng() % 3) + "_1";
    };
    std::map<std::string, std::string> before_map, after_map;
    while (before_map.size() < 4000) before_map.emplace(random_id(), random_hash());
    for (const auto& [id, hash] : before_map) {
      const uint64_t roll = rng() % 10;
      if (roll != 0) after_map.emplace(id, roll == 1 ? random_hash() : hash);
    }
    for (int i = 0; i < 300; ++i) after_map.emplace(random_id(), random_hash());
    std::vector<std::pair<std::string, std::string>> before(before_map.begin(), before_map.end());
    std::vector<std::pair<std::string, std::string>> after(after_map.begin(), after_map.end());
    if (seed % 2 == 0) std::shuffle(after.begin(), after.end(), rng);
    const std::string before_doc = JobDocument(before, rng);
    const std::string after_doc = JobDocument(after, rng);
    ASSERT_GE(before_doc.size(), kMapFromBytes);
    // The later file ends at, just before or just after a page boundary, by a padding's width.
    const size_t boundary = (after_doc.size() / Page() + 1) * Page();
    const size_t shift = seed % 4 == 0   ? 0
                         : seed % 4 == 1 ? simdjson::SIMDJSON_PADDING
                         : seed % 4 == 2 ? 1
                                         : Page() - 1;
    const std::string after_padded = PadTo(after_doc, boundary - shift);
    Result<InputBytes> mapped_before = ReadInputFile(Write("b.json", before_doc), 1 << 30);
    Result<InputBytes> mapped_after = ReadInputFile(Write("a.json", after_padded), 1 << 30);
    ASSERT_TRUE(mapped_before.ok() && mapped_after.ok());
    EXPECT_TRUE(mapped_before->mapped() && mapped_after->mapped());
    auto b = ParseJobDocument(std::move(*mapped_before), limits);
    auto a = ParseJobDocument(std::move(*mapped_after), limits);
    auto a_from_string = ParseJobDocument(std::string(after_padded), limits);
    ASSERT_TRUE(b.ok()) << b.status().message();
    ASSERT_TRUE(a.ok()) << a.status().message();
    ASSERT_TRUE(a_from_string.ok());
    const JobState& bs = (*b)->jobs().front().state;
    const JobState& as = (*a)->jobs().front().state;
    const JobState& as_string = (*a_from_string)->jobs().front().state;
    ASSERT_EQ(bs.size(), before.size());
    ASSERT_EQ(as.size(), as_string.size());
    for (size_t i = 0; i < as.size(); ++i) {
      ASSERT_EQ(as[i].id, as_string[i].id) << i;
      ASSERT_EQ(as[i].value, as_string[i].value) << i;
      ASSERT_EQ(as[i].id, after[i].first) << i;
    }
    for (size_t limit : {size_t{0}, size_t{5}, size_t{100000}}) {
      ExpectSameDiff(*DiffStates(bs, as, limit), ReferenceDiff(bs, as, limit),
                     "seed " + std::to_string(seed) + " limit " + std::to_string(limit));
    }
  }
}

// A flat state (core/flat_state.h) is scanned eight bytes at a time, reading past the end of a
// string into what follows it; at the end of a mapped file that is the padding page. A document
// that ends exactly at a page boundary, whole or cut inside its last hash, parses as the full
// parser parses it: the same state, or the same error.
TEST_P(MappedParseTest, FlatStatesEndingAtAPageBoundaryParseLikeTheFullParser) {
  const std::string head =
      "{\"job_id\":1,\"timestamp\":\"2026-11-28T10:00:00Z\",\"latency_ms\":1,"
      "\"state\":{";
  std::string entries;
  for (int i = 0; entries.size() < kMapFromBytes; ++i) {
    entries += "\"o" + std::to_string(i) + "\":\"door_1_2_3_4\",";
  }
  const size_t size = (head.size() + entries.size() + 64) / Page() * Page() + Page();
  const size_t hash_bytes =
      size - head.size() - entries.size() - std::string("\"z\":\"\"}}").size();
  const std::string whole = head + entries + "\"z\":\"" + std::string(hash_bytes, 'h') + "\"}}";
  ASSERT_EQ(whole.size(), size);
  const std::string cut = whole.substr(0, size - 3) + "hhh";  // the last hash never closes
  ASSERT_EQ(cut.size(), size);
  ParseLimits limits;
  limits.max_hash_bytes = hash_bytes;
  for (const bool closed : {true, false}) {
    const std::string& doc = closed ? whole : cut;
    const std::string path = Write("page.json", doc);
    Result<InputBytes> fast_input = ReadInputFile(path, 1 << 30);
    Result<InputBytes> full_input = ReadInputFile(path, 1 << 30);
    ASSERT_TRUE(fast_input.ok() && full_input.ok());
    ASSERT_TRUE(fast_input->mapped());
    EXPECT_EQ(ScanFlatState(fast_input->view(), limits).has_value(), closed);
    auto fast = ParseJobDocument(std::move(*fast_input), limits);
    SetFlatStatesEnabled(false);
    auto full = ParseJobDocument(std::move(*full_input), limits);
    SetFlatStatesEnabled(true);
    ASSERT_EQ(fast.ok(), closed);
    ASSERT_EQ(full.ok(), closed);
    if (!closed) {
      EXPECT_EQ(fast.status().message(), full.status().message());
      EXPECT_EQ(full.status().reason(), "malformed_json");
      continue;
    }
    const JobState& state = (*fast)->jobs().front().state;
    EXPECT_TRUE(state == (*full)->jobs().front().state);
    EXPECT_EQ(state.back().value, std::string(hash_bytes, 'h'));
  }
}

INSTANTIATE_TEST_SUITE_P(HugeAndNormalPages, MappedParseTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Huge" : "Normal";
                         });

}  // namespace
}  // namespace buildtrace
