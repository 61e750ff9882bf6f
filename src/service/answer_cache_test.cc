// Tests of the rendered-answer LRU: hits only in the same epoch, eviction by bytes in least
// recently used order, a project's entries forgotten by prefix.
#include "service/answer_cache.h"

#include <gtest/gtest.h>

namespace buildtrace {
namespace {

TEST(AnswerCacheTest, HitsOnlyInTheEpochItWasMadeIn) {
  AnswerCache cache(1000);
  EXPECT_EQ(cache.Find("k", "e1"), std::nullopt);
  cache.Put("k", "e1", "answer");
  EXPECT_EQ(cache.Find("k", "e1"), "answer");
  EXPECT_EQ(cache.Find("k", "e2"), std::nullopt);
  cache.Put("k", "e2", "newer");  // replaces
  EXPECT_EQ(cache.Find("k", "e2"), "newer");
  EXPECT_EQ(cache.Find("k", "e1"), std::nullopt);
  EXPECT_EQ(cache.bytes(), 1u + 5u);
}

TEST(AnswerCacheTest, LeastRecentlyUsedGoesFirstPastTheCap) {
  AnswerCache cache(30);                     // key + answer bytes
  cache.Put("a", "e", std::string(9, 'a'));  // 10 bytes
  cache.Put("b", "e", std::string(9, 'b'));
  cache.Put("c", "e", std::string(9, 'c'));
  EXPECT_EQ(cache.bytes(), 30u);
  ASSERT_TRUE(cache.Find("a", "e"));  // a is now the most recent
  cache.Put("d", "e", std::string(9, 'd'));
  EXPECT_EQ(cache.Find("b", "e"), std::nullopt);  // the least recent went
  EXPECT_TRUE(cache.Find("a", "e"));
  EXPECT_TRUE(cache.Find("c", "e"));
  EXPECT_TRUE(cache.Find("d", "e"));
  EXPECT_EQ(cache.bytes(), 30u);
  cache.Put("huge", "e", std::string(100, 'h'));  // larger than the cap: not kept, nothing lost
  EXPECT_EQ(cache.Find("huge", "e"), std::nullopt);
  EXPECT_EQ(cache.bytes(), 30u);
}

TEST(AnswerCacheTest, ForgetDropsEveryKeyWithThePrefix) {
  AnswerCache cache(1000);
  cache.Put("reports/p/1 0 1000", "e", "x");
  cache.Put("reports/p/2 1 5", "e", "y");
  cache.Put("reports/pq/1 0 1000", "e", "z");
  cache.Forget("reports/p/");
  EXPECT_EQ(cache.Find("reports/p/1 0 1000", "e"), std::nullopt);
  EXPECT_EQ(cache.Find("reports/p/2 1 5", "e"), std::nullopt);
  EXPECT_EQ(cache.Find("reports/pq/1 0 1000", "e"), "z");
  EXPECT_EQ(cache.bytes(), std::string("reports/pq/1 0 1000").size() + 1);
}

TEST(AnswerCacheTest, ZeroBytesKeepsNothing) {
  AnswerCache cache(0);
  cache.Put("k", "e", "");
  EXPECT_EQ(cache.Find("k", "e"), std::nullopt);
}

}  // namespace
}  // namespace buildtrace
