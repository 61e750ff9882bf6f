// Tests of backend URLs and the registry: which URLs open which built-in backend (absolute and
// relative paths), what an unknown or malformed URL says, and LocalPathOf's cases.
#include "backends/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backends/backend_url.h"
#include "warehouse/sqlite_warehouse.h"

namespace buildtrace {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

BackendUrl Url(std::string_view text) {
  Result<BackendUrl> url = ParseBackendUrl(text);
  EXPECT_TRUE(url.ok()) << text << ": " << url.status().message();
  return url.ok() ? *url : BackendUrl{};
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string folder = ::testing::TempDir() + "bt-registry-XXXXXX";
    ASSERT_NE(::mkdtemp(folder.data()), nullptr) << "cannot make a temporary folder";
    // TempDir() may be relative or hold symlinks; compare against the canonical form.
    folder_ = fs::canonical(folder).string();
    saved_cwd_ = fs::current_path().string();
    RegisterBuiltinBackends(registry_);
  }
  void TearDown() override {
    if (!saved_cwd_.empty()) fs::current_path(saved_cwd_);
    std::error_code ignored;
    fs::remove_all(folder_, ignored);
  }

  std::string folder_;
  std::string saved_cwd_;  // restored after tests that change the working directory
  BackendRegistry registry_;
};

TEST_F(RegistryTest, FileUrlWithAnAbsolutePathOpensAFileStore) {
  auto store = registry_.OpenStore("file://" + folder_ + "/states");
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ((*store)->Describe(), "file://" + folder_ + "/states");
  EXPECT_TRUE(fs::is_directory(folder_ + "/states"));
  ASSERT_TRUE((*store)->CreateIfAbsent("jobs/a/1.json", "x").ok());
  EXPECT_TRUE(fs::is_regular_file(folder_ + "/states/jobs/a/1.json"));
}

TEST_F(RegistryTest, SqliteUrlWithAnAbsolutePathOpensASqliteWarehouse) {
  auto warehouse = registry_.OpenWarehouse("sqlite://" + folder_ + "/wh/metrics.db");
  ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
  EXPECT_EQ((*warehouse)->Describe(), "sqlite://" + folder_ + "/wh/metrics.db");
  EXPECT_TRUE(fs::is_regular_file(folder_ + "/wh/metrics.db"));
  EXPECT_TRUE((*warehouse)->Probe().ok());
}

TEST_F(RegistryTest, SqliteBusyTimeoutIsFiveSecondsUnlessTheUrlSetsIt) {
  auto plain = registry_.OpenWarehouse("sqlite://" + folder_ + "/a.db");
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  auto* sqlite = dynamic_cast<SqliteWarehouse*>(plain->get());
  ASSERT_NE(sqlite, nullptr);
  EXPECT_EQ(sqlite->busy_timeout(), std::chrono::milliseconds(5000));

  for (auto [query, ms] : {std::pair{"250", 250}, {"0", 0}, {"600000", 600000}}) {
    auto set = registry_.OpenWarehouse("sqlite://" + folder_ + "/b.db?busy-timeout-ms=" + query);
    ASSERT_TRUE(set.ok()) << set.status().message();
    sqlite = dynamic_cast<SqliteWarehouse*>(set->get());
    ASSERT_NE(sqlite, nullptr);
    EXPECT_EQ(sqlite->busy_timeout(), std::chrono::milliseconds(ms));
    EXPECT_EQ((*set)->Describe(), "sqlite://" + folder_ + "/b.db");
  }
}

TEST_F(RegistryTest, SqliteBusyTimeoutMustBeMillisecondsUpToTenMinutes) {
  for (const char* query : {"busy-timeout-ms=", "busy-timeout-ms=-1", "busy-timeout-ms=600001",
                            "busy-timeout-ms=1s", "busy-timeout-ms=5#x", "timeout-ms=5"}) {
    const std::string url = "sqlite://" + folder_ + "/c.db?" + query;
    auto warehouse = registry_.OpenWarehouse(url);
    ASSERT_FALSE(warehouse.ok()) << query;
    EXPECT_EQ(warehouse.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(warehouse.status().message(), HasSubstr(url));
    EXPECT_THAT(warehouse.status().message(), HasSubstr("busy-timeout-ms"));
  }
  EXPECT_FALSE(fs::exists(folder_ + "/c.db"));
}

TEST_F(RegistryTest, RelativePathsAreRelativeToTheWorkingDirectory) {
  fs::current_path(folder_);
  auto store = registry_.OpenStore("file://rel/states");
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ((*store)->Describe(), "file://" + folder_ + "/rel/states");
  EXPECT_TRUE(fs::is_directory(folder_ + "/rel/states"));

  auto warehouse = registry_.OpenWarehouse("sqlite://rel/metrics.db");
  ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
  EXPECT_EQ((*warehouse)->Describe(), "sqlite://" + folder_ + "/rel/metrics.db");
  EXPECT_TRUE(fs::is_regular_file(folder_ + "/rel/metrics.db"));
}

TEST_F(RegistryTest, LocalhostAndUpperCaseSchemesAreAccepted) {
  auto store = registry_.OpenStore("FILE://localhost" + folder_ + "/states");
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ((*store)->Describe(), "file://" + folder_ + "/states");
  auto warehouse = registry_.OpenWarehouse("SQLite://" + folder_ + "/m.db");
  ASSERT_TRUE(warehouse.ok()) << warehouse.status().message();
}

TEST_F(RegistryTest, UnknownSchemeListsTheKnownOnes) {
  auto store = registry_.OpenStore("ftp://bucket/prefix");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.status().message(),
            "store URL \"ftp://bucket/prefix\" has an unknown scheme; this build supports "
            "file://, gs://, s3://");

  // A warehouse URL is not a store URL, and the other way round.
  auto wrong_kind = registry_.OpenStore("sqlite://" + folder_ + "/m.db");
  ASSERT_FALSE(wrong_kind.ok());
  EXPECT_EQ(wrong_kind.status().code(), StatusCode::kInvalidArgument);
  auto warehouse = registry_.OpenWarehouse("file://" + folder_);
  ASSERT_FALSE(warehouse.ok());
  EXPECT_EQ(warehouse.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(warehouse.status().message(),
            "warehouse URL \"file://" + folder_ +
                "\" has an unknown scheme; this build supports bigquery://, postgres://, "
                "postgresql://, sqlite://");
}

TEST_F(RegistryTest, KnownSchemesAreListedInOrderAndFactoriesGetTheParsedUrl) {
  BackendUrl seen;
  registry_.RegisterStore("mem", [&](const BackendUrl& url) -> Result<std::unique_ptr<StateStore>> {
    seen = url;
    return Unavailable("mem store is not running");
  });
  auto opened = registry_.OpenStore("MEM://some/where");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kUnavailable);  // the factory's answer, as is
  EXPECT_EQ(opened.status().message(), "mem store is not running");
  EXPECT_EQ(seen.scheme, "mem");
  EXPECT_EQ(seen.rest, "some/where");
  EXPECT_EQ(seen.text, "MEM://some/where");

  auto unknown = registry_.OpenStore("ftp://bucket");
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(),
              HasSubstr("this build supports file://, gs://, mem://, s3://"));
}

TEST_F(RegistryTest, UrlWithoutSchemeIsInvalid) {
  for (const std::string url : {"nope", "/var/lib/buildtrace", "://x", "", "file:/x"}) {
    SCOPED_TRACE(url);
    auto store = registry_.OpenStore(url);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(store.status().message(), HasSubstr("has no scheme"));
    auto warehouse = registry_.OpenWarehouse(url);
    ASSERT_FALSE(warehouse.ok());
    EXPECT_EQ(warehouse.status().code(), StatusCode::kInvalidArgument);
  }
  auto store = registry_.OpenStore("nope");
  EXPECT_EQ(store.status().message(),
            "backend URL \"nope\" has no scheme; write it as scheme://..., e.g. "
            "file:///var/lib/buildtrace");
}

TEST_F(RegistryTest, MalformedSchemesAndControlCharactersAreInvalid) {
  auto bad_scheme = registry_.OpenStore("fi le://x");
  ASSERT_FALSE(bad_scheme.ok());
  EXPECT_EQ(bad_scheme.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_scheme.status().message(), HasSubstr("has an invalid scheme"));

  auto control = registry_.OpenStore("file://" + folder_ + "/a\nb");
  ASSERT_FALSE(control.ok());
  EXPECT_EQ(control.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(control.status().message(), HasSubstr("holds a control character"));
  EXPECT_FALSE(fs::exists(folder_ + "/a\nb"));
}

TEST_F(RegistryTest, BackendFailuresComeBackAsTheBackendSaysThem) {
  const std::string file = folder_ + "/plain-file";
  std::ofstream(file) << "not a folder";
  auto store = registry_.OpenStore("file://" + file);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(store.status().message(), HasSubstr(file));

  auto warehouse = registry_.OpenWarehouse("sqlite://" + file);
  ASSERT_FALSE(warehouse.ok());
  EXPECT_EQ(warehouse.status().code(), StatusCode::kInternal);  // not a SQLite database

  auto query = registry_.OpenWarehouse("sqlite://" + folder_ + "/m.db?mode=ro");
  ASSERT_FALSE(query.ok());
  EXPECT_EQ(query.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(folder_ + "/m.db?mode=ro"));
}

TEST(ParseBackendUrlTest, SplitsSchemeAndRest) {
  const BackendUrl url = Url("Postgresql+SSL://db.example/metrics");
  EXPECT_EQ(url.scheme, "postgresql+ssl");
  EXPECT_EQ(url.rest, "db.example/metrics");
  EXPECT_EQ(url.text, "Postgresql+SSL://db.example/metrics");
  EXPECT_EQ(Url("file://").rest, "");
}

TEST(LocalPathOfTest, ReadsAbsoluteLocalhostAndRelativePaths) {
  const std::pair<std::string, std::string> cases[] = {
      {"file:///abs/path", "/abs/path"},
      {"file://localhost/abs", "/abs"},
      {"file://localhost/", "/"},
      {"file://relative/path", "relative/path"},
      {"file://./here", "./here"},
      {"sqlite:///var/lib/bt/metrics.db", "/var/lib/bt/metrics.db"},
      {"sqlite://metrics.db", "metrics.db"},
  };
  for (const auto& [text, path] : cases) {
    Result<std::string> local = LocalPathOf(Url(text));
    ASSERT_TRUE(local.ok()) << text << ": " << local.status().message();
    EXPECT_EQ(*local, path) << text;
  }
}

TEST_F(RegistryTest, FileUrlTakesAFreeSpaceThresholdForProbe) {
  auto store = registry_.OpenStore("file://" + folder_ + "/states?min-free=512MiB");
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ((*store)->Describe(), "file://" + folder_ + "/states?min-free=536870912");
  EXPECT_TRUE(fs::is_directory(folder_ + "/states"));

  // No disk holds 2^63 bytes free, so Probe must refuse and say why (Open does not check).
  auto full = registry_.OpenStore("file://" + folder_ + "/full?min-free=8589934592GiB");
  ASSERT_TRUE(full.ok()) << full.status().message();
  const Status probe = (*full)->Probe();
  EXPECT_EQ(probe.code(), StatusCode::kUnavailable);
  EXPECT_THAT(probe.message(), HasSubstr("below the threshold of 9223372036854775808 bytes"));

  auto off = registry_.OpenStore("file://" + folder_ + "/off?min-free=0");
  ASSERT_TRUE(off.ok()) << off.status().message();
  EXPECT_EQ((*off)->Describe(), "file://" + folder_ + "/off?min-free=0");
  EXPECT_TRUE((*off)->Probe().ok());
}

TEST_F(RegistryTest, FileUrlWithABadMinFreeOrAnUnknownParameterIsInvalid) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"?min-free=abc", "min-free=abc is not a byte count"},
      {"?min-free=12TB", "min-free=12TB is not a byte count"},
      {"?min-free=-1", "min-free=-1 is not a byte count"},
      {"?min-free=1.5GiB", "min-free=1.5GiB is not a byte count"},
      {"?min-free=18446744073709551616", "is not a byte count"},
      {"?min-free=17179869184GiB", "is not a byte count"},
      {"?min-free=", "has a parameter without a name or a value"},
      {"?min-free=1&min-free=2", "gives parameter min-free twice"},
      {"?timeout-ms=100", "has an unknown parameter timeout-ms; file:// takes only min-free"},
      {"?min-free=1#x", "has a fragment"}};
  for (const auto& [query, expected] : cases) {
    const std::string url = "file://" + folder_ + "/states" + query;
    SCOPED_TRACE(url);
    auto store = registry_.OpenStore(url);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(store.status().message(), HasSubstr("\"" + url + "\""));
    EXPECT_THAT(store.status().message(), HasSubstr(expected));
  }
  EXPECT_FALSE(fs::exists(folder_ + "/states"));
}

TEST(ParseByteCountTest, TakesBytesOrBinarySuffixes) {
  EXPECT_EQ(ParseByteCount("0"), 0u);
  EXPECT_EQ(ParseByteCount("1048576"), 1048576u);
  EXPECT_EQ(ParseByteCount("512KiB"), 512u << 10);
  EXPECT_EQ(ParseByteCount("256MiB"), uint64_t{256} << 20);
  EXPECT_EQ(ParseByteCount("2GiB"), uint64_t{2} << 30);
  EXPECT_EQ(ParseByteCount("18446744073709551615"), UINT64_MAX);
  for (const char* bad : {"", "MiB", "1 MiB", "1mib", "1MB", "+1", "0x10", "1KiBMiB", "1MiBKiB"}) {
    EXPECT_EQ(ParseByteCount(bad), std::nullopt) << bad;
  }
}

TEST(LocalPathOfTest, RejectsAnEmptyPathAQueryOrAFragment) {
  Result<std::string> empty = LocalPathOf(Url("file://"));
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.status().message(),
            "backend URL \"file://\" names no path; write e.g. file:///var/lib/buildtrace/...");

  for (const char* text : {"file:///a?x=1", "sqlite:///a/m.db#frag", "file://?"}) {
    SCOPED_TRACE(text);
    Result<std::string> local = LocalPathOf(Url(text));
    ASSERT_FALSE(local.ok());
    EXPECT_EQ(local.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(local.status().message(), HasSubstr("has a query or fragment"));
    EXPECT_THAT(local.status().message(), HasSubstr(text));
  }
}

}  // namespace
}  // namespace buildtrace

namespace buildtrace {
namespace {

TEST(QueueRegistryTest, InprocUrlsOpenAnInProcessQueue) {
  BackendRegistry registry;
  RegisterBuiltinBackends(registry);
  auto plain = registry.OpenQueue("inproc://");
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ((*plain)->Describe(), "inproc://?capacity=10000&lease-ms=60000");
  auto tuned = registry.OpenQueue("inproc://?capacity=5&lease-ms=200");
  ASSERT_TRUE(tuned.ok()) << tuned.status().message();
  EXPECT_EQ((*tuned)->lease(), std::chrono::milliseconds(200));
  const std::pair<const char*, const char*> bad[] = {
      {"inproc://here", "inproc:// names no host or path"},
      {"inproc://?capacity=0", "capacity must be a whole number from 1 to 10000000"},
      {"inproc://?lease-ms=5", "lease-ms must be a whole number from 100 to 86400000"},
      {"inproc://?depth=3", "unknown parameter depth; inproc:// takes capacity and lease-ms"},
      {"kafka://broker/t", "unknown scheme; this build supports inproc://, pubsub://, redis://"},
  };
  for (const auto& [url, message] : bad) {
    auto queue = registry.OpenQueue(url);
    ASSERT_FALSE(queue.ok()) << url;
    EXPECT_EQ(queue.status().code(), StatusCode::kInvalidArgument) << url;
    EXPECT_THAT(queue.status().message(), ::testing::HasSubstr(message)) << url;
  }
}

}  // namespace
}  // namespace buildtrace
