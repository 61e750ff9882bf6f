// Tests of the rendered-answer LRU: hits only in the same epoch, eviction by bytes in least
// recently used order, a project's entries forgotten by prefix, bytes shared and never copied.
#include "service/answer_cache.h"

#include <gtest/gtest.h>

#include <optional>

namespace buildtrace {
namespace {

SharedText Text(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

// The kept text, or nullopt: what a test compares.
std::optional<std::string> Found(AnswerCache& cache, const std::string& key,
                                 std::string_view epoch) {
  SharedText found = cache.Find(key, epoch);
  if (!found) return std::nullopt;
  return *found;
}

TEST(AnswerCacheTest, HitsOnlyInTheEpochItWasMadeIn) {
  AnswerCache cache(1000);
  EXPECT_EQ(Found(cache, "k", "e1"), std::nullopt);
  cache.Put("k", "e1", Text("answer"));
  EXPECT_EQ(Found(cache, "k", "e1"), "answer");
  EXPECT_EQ(Found(cache, "k", "e2"), std::nullopt);
  cache.Put("k", "e2", Text("newer"));  // replaces
  EXPECT_EQ(Found(cache, "k", "e2"), "newer");
  EXPECT_EQ(Found(cache, "k", "e1"), std::nullopt);
  EXPECT_EQ(cache.bytes(), 1u + 5u);
}

TEST(AnswerCacheTest, HandsOutTheKeptBytesThemselvesWhichOutliveTheirEntry) {
  AnswerCache cache(100);
  const SharedText put = Text(std::string(50, 'a'));
  cache.Put("k", "e", put);
  const SharedText first = cache.Find("k", "e");
  const SharedText second = cache.Find("k", "e");
  EXPECT_EQ(first.get(), put.get());  // the same bytes, not a copy
  EXPECT_EQ(second.get(), put.get());
  cache.Forget("k");
  EXPECT_EQ(cache.Find("k", "e"), nullptr);
  EXPECT_EQ(*first, std::string(50, 'a'));  // still held by whoever is sending it
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(AnswerCacheTest, LeastRecentlyUsedGoesFirstPastTheCap) {
  AnswerCache cache(30);                           // key + answer bytes
  cache.Put("a", "e", Text(std::string(9, 'a')));  // 10 bytes
  cache.Put("b", "e", Text(std::string(9, 'b')));
  cache.Put("c", "e", Text(std::string(9, 'c')));
  EXPECT_EQ(cache.bytes(), 30u);
  ASSERT_TRUE(cache.Find("a", "e"));  // a is now the most recent
  cache.Put("d", "e", Text(std::string(9, 'd')));
  EXPECT_EQ(cache.Find("b", "e"), nullptr);  // the least recent went
  EXPECT_TRUE(cache.Find("a", "e"));
  EXPECT_TRUE(cache.Find("c", "e"));
  EXPECT_TRUE(cache.Find("d", "e"));
  EXPECT_EQ(cache.bytes(), 30u);
  cache.Put("huge", "e", Text(std::string(100, 'h')));  // larger than the cap: not kept
  EXPECT_EQ(cache.Find("huge", "e"), nullptr);
  EXPECT_EQ(cache.bytes(), 30u);
}

TEST(AnswerCacheTest, ForgetDropsEveryKeyWithThePrefix) {
  AnswerCache cache(1000);
  cache.Put("reports/p/1 0 1000", "e", Text("x"));
  cache.Put("reports/p/2 1 5", "e", Text("y"));
  cache.Put("reports/pq/1 0 1000", "e", Text("z"));
  cache.Forget("reports/p/");
  EXPECT_EQ(Found(cache, "reports/p/1 0 1000", "e"), std::nullopt);
  EXPECT_EQ(Found(cache, "reports/p/2 1 5", "e"), std::nullopt);
  EXPECT_EQ(Found(cache, "reports/pq/1 0 1000", "e"), "z");
  EXPECT_EQ(cache.bytes(), std::string("reports/pq/1 0 1000").size() + 1);
}

TEST(AnswerCacheTest, ZeroBytesKeepsNothing) {
  AnswerCache cache(0);
  cache.Put("k", "e", Text(""));
  EXPECT_EQ(cache.Find("k", "e"), nullptr);
}

}  // namespace
}  // namespace buildtrace
