// Where serve, worker and rebuild-metrics keep states and metrics: the flags, then the original
// service's BUCKET and PROJECT_ID, then the data folder; what BUCKET and PROJECT_ID may hold;
// and how the choice is logged, secrets masked.
#include "cli/backend_choice.h"

#include <gtest/gtest.h>

#include <map>

namespace buildtrace {
namespace {

// An environment of `variables` only.
EnvironmentReader Env(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](const char* name) -> const char* {
    auto it = variables.find(name);
    return it == variables.end() ? nullptr : it->second.c_str();
  };
}

TEST(ChooseBackendsTest, DataFolderByDefault) {
  auto choice = ChooseBackends("", "", "/srv/bt/./data", Env({}));
  ASSERT_TRUE(choice.ok()) << choice.status().message();
  EXPECT_EQ(choice->store_url, "file:///srv/bt/data/states");
  EXPECT_EQ(choice->store_source, "--data-dir");
  EXPECT_EQ(choice->warehouse_url, "sqlite:///srv/bt/data/metrics.db");
  EXPECT_EQ(choice->warehouse_source, "--data-dir");
}

TEST(ChooseBackendsTest, OriginalVariables) {
  auto choice =
      ChooseBackends("", "", "/d", Env({{"BUCKET", "gs://my-bucket"}, {"PROJECT_ID", "demo"}}));
  ASSERT_TRUE(choice.ok()) << choice.status().message();
  EXPECT_EQ(choice->store_url, "gs://my-bucket");
  EXPECT_EQ(choice->store_source, "BUCKET");
  EXPECT_EQ(choice->warehouse_url, "bigquery://demo/buildtrace_metrics/job_results");
  EXPECT_EQ(choice->warehouse_source, "PROJECT_ID");
  EXPECT_EQ(ChooseBackends("", "", "/d", Env({{"BUCKET", "my-bucket"}}))->store_url,
            "gs://my-bucket");
  EXPECT_EQ(ChooseBackends("", "", "/d", Env({{"BUCKET", "gs://b.example/bt/prod/"}}))->store_url,
            "gs://b.example/bt/prod/");
  EXPECT_EQ(ChooseBackends("", "", "/d", Env({{"BUCKET", ""}, {"PROJECT_ID", ""}}))->store_url,
            "file:///d/states")
      << "empty is unset";
}

TEST(ChooseBackendsTest, FlagsWin) {
  auto choice = ChooseBackends("s3://states/bt", "postgresql://bt@db/bt", "/d",
                               Env({{"BUCKET", "gs://my-bucket"}, {"PROJECT_ID", "demo"}}));
  ASSERT_TRUE(choice.ok()) << choice.status().message();
  EXPECT_EQ(choice->store_url, "s3://states/bt");
  EXPECT_EQ(choice->store_source, "--store");
  EXPECT_EQ(choice->warehouse_url, "postgresql://bt@db/bt");
  EXPECT_EQ(choice->warehouse_source, "--warehouse");
  // A flag given, a malformed variable is not even read.
  EXPECT_TRUE(ChooseBackends("file:///s", "sqlite:///m", "/d",
                             Env({{"BUCKET", "s3://x"}, {"PROJECT_ID", "Demo"}}))
                  .ok());
}

TEST(ChooseBackendsTest, MalformedBucket) {
  for (const char* bucket :
       {"s3://my-bucket", "gs://", "gs://ab", "My Bucket", "gs://-bucket", "bucket/prefix",
        "gs://bucket/../x", "gs://bucket//x", "gs://bucket?x=1", "file:///tmp"}) {
    auto choice = ChooseBackends("", "", "/d", Env({{"BUCKET", bucket}}));
    ASSERT_FALSE(choice.ok()) << bucket;
    EXPECT_EQ(choice.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(choice.status().message(),
              "BUCKET=" + std::string(bucket) +
                  " is not a Cloud Storage bucket; set it to gs://NAME, gs://NAME/PREFIX or "
                  "NAME (3-222 characters of a-z 0-9 . _ -), or give --store URL");
  }
}

TEST(ChooseBackendsTest, MalformedProject) {
  for (const char* project : {"Demo", "1demo", "my project", "demo/x"}) {
    auto choice = ChooseBackends("", "", "/d", Env({{"PROJECT_ID", project}}));
    ASSERT_FALSE(choice.ok()) << project;
    EXPECT_EQ(choice.status().message(),
              "PROJECT_ID=" + std::string(project) +
                  " is not a Google Cloud project ID; set it to the project's ID (a lower-case "
                  "letter, then a-z 0-9 - . :), or give --warehouse URL");
  }
  EXPECT_EQ(
      ChooseBackends("", "", "/d", Env({{"PROJECT_ID", "example.com:my-proj"}}))->warehouse_url,
      "bigquery://example.com:my-proj/buildtrace_metrics/job_results");
}

TEST(RedactUrlTest, MasksPasswordsAndSecretParameters) {
  EXPECT_EQ(RedactUrl("postgresql://bt:s3cr@t@db.internal:5432/bt?sslmode=require"),
            "postgresql://bt:***@db.internal:5432/bt?sslmode=require");
  EXPECT_EQ(RedactUrl("postgresql://bt@db:5432/bt?password=x&sslmode=require&SSLPassword=y"),
            "postgresql://bt@db:5432/bt?password=***&sslmode=require&SSLPassword=***");
  EXPECT_EQ(RedactUrl("redis://10.0.0.5:6379/bt?group=g"), "redis://10.0.0.5:6379/bt?group=g");
  EXPECT_EQ(RedactUrl("s3://b/p?endpoint=http://u:pw@minio:9000&access_token=z"),
            "s3://b/p?endpoint=http://u:pw@minio:9000&access_token=***")
      << "the user info is the authority's only; a URL inside a parameter is its value";
  EXPECT_EQ(RedactUrl("gs://my-bucket"), "gs://my-bucket");
  EXPECT_EQ(RedactUrl("x://user:pw@host/p?client_secret=1#frag"),
            "x://user:***@host/p?client_secret=***#frag");
}

TEST(DescribeBackendsTest, NamesEachSource) {
  BackendChoice choice{.store_url = "gs://my-bucket",
                       .store_source = "BUCKET",
                       .warehouse_url = "postgresql://bt:pw@db/bt",
                       .warehouse_source = "--warehouse"};
  EXPECT_EQ(DescribeBackends(choice, "inproc://"),
            "store gs://my-bucket (from BUCKET), warehouse postgresql://bt:***@db/bt (from "
            "--warehouse or BUILDTRACE_WAREHOUSE), queue inproc://");
  choice.store_source = "--data-dir";
  choice.store_url = "file:///d/states";
  EXPECT_EQ(DescribeBackends(choice, ""),
            "store file:///d/states (default in --data-dir), warehouse postgresql://bt:***@db/bt "
            "(from --warehouse or BUILDTRACE_WAREHOUSE)");
}

}  // namespace
}  // namespace buildtrace
