// Tests of the sealed stored form: exact bytes, the round trip, objects written before sealing,
// and every kind of damage (a flipped bit anywhere, a truncation, a damaged seal).
#include "core/stored_job.h"

#include <gtest/gtest.h>

#include <string>

#include "core/canonical_hash.h"

namespace buildtrace {
namespace {

const std::string kCanonical =
    "{\"job_id\":7,\"project\":\"p\",\"state\":{\"D1\":\"door_1_2_3_4\"}}\n";

std::string Sealed() {
  std::string s = kCanonical;
  SealStoredJob(s, ContentDigest(kCanonical));
  return s;
}

TEST(StoredJobTest, SealAppendsTheDigestAsTheLastMember) {
  EXPECT_EQ(Sealed(),
            "{\"job_id\":7,\"project\":\"p\",\"state\":{\"D1\":\"door_1_2_3_4\"},"
            "\"digest\":\"" +
                ContentDigest(kCanonical) + "\"}\n");
}

TEST(StoredJobTest, SealTakesThePlaceOfTheFinalBrace) {
  const std::string seal = StoredJobSeal(ContentDigest(kCanonical));
  EXPECT_EQ(seal, ",\"digest\":\"" + ContentDigest(kCanonical) + "\"}\n");
  EXPECT_EQ(kCanonical.substr(0, kCanonical.size() - 2) + seal, Sealed());
}

TEST(StoredJobTest, UnsealGivesTheCanonicalBytesBackInPlace) {
  std::string s = Sealed();
  s.reserve(s.size() + 64);
  const size_t capacity = s.capacity();
  Result<UnsealedJob> r = UnsealStoredJob(s, "jobs/p/7.json");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->verified);
  EXPECT_EQ(r->digest, ContentDigest(kCanonical));
  EXPECT_EQ(s, kCanonical);
  EXPECT_EQ(s.capacity(), capacity);
}

TEST(StoredJobTest, AnObjectWrittenBeforeSealingIsLeftAsItIs) {
  std::string s = kCanonical;
  Result<UnsealedJob> r = UnsealStoredJob(s, "x");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->verified);
  EXPECT_EQ(r->digest, "");
  EXPECT_EQ(s, kCanonical);
}

TEST(StoredJobTest, EveryFlippedBitOutsideTheSealIsFound) {
  const std::string sealed = Sealed();
  const size_t seal_start = sealed.size() - (18 + 64 + 3);
  for (size_t i = 0; i < seal_start; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string s = sealed;
      s[i] = static_cast<char>(s[i] ^ (1 << bit));
      Result<UnsealedJob> r = UnsealStoredJob(s, "jobs/p/7.json");
      ASSERT_FALSE(r.ok()) << "byte " << i << " bit " << bit;
      EXPECT_EQ(r.status().code(), StatusCode::kInternal);
      EXPECT_EQ(r.status().reason(), "corrupt_object");
      EXPECT_NE(r.status().message().find("stored object jobs/p/7.json is corrupt"),
                std::string::npos);
    }
  }
}

TEST(StoredJobTest, AFlippedDigitOfTheDigestIsFound) {
  std::string s = Sealed();
  const size_t digit = s.size() - 3 - 10;
  s[digit] = s[digit] == '0' ? '1' : '0';
  Result<UnsealedJob> r = UnsealStoredJob(s, "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "corrupt_object");
}

// Damage to the seal itself (or a truncation) leaves bytes that are not the canonical form: the
// caller's parser rejects them, since "digest" is not a field of a job and the JSON is cut.
TEST(StoredJobTest, ADamagedSealOrATruncationIsNotTakenForASealedJob) {
  std::string damaged = Sealed();
  damaged[damaged.size() - 3 - 64 - 2] = 'X';  // the ':' of "sha256:"
  std::string before = damaged;
  ASSERT_TRUE(UnsealStoredJob(damaged, "x").ok());
  EXPECT_FALSE(UnsealStoredJob(damaged, "x")->verified);
  EXPECT_EQ(damaged, before);
  std::string truncated = Sealed().substr(0, 40);
  ASSERT_TRUE(UnsealStoredJob(truncated, "x").ok());
  EXPECT_FALSE(UnsealStoredJob(truncated, "x")->verified);
}

}  // namespace
}  // namespace buildtrace
