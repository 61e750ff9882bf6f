// Tests of the tokens file parser and of the access decision: each malformed line is rejected
// with its line number, scopes and projects are enforced, and every entry is compared through
// the constant-time comparison.
#include "http/access_control.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/canonical_hash.h"

namespace buildtrace {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Outcome = AccessDecision::Outcome;

std::string Line(std::string_view token, std::string_view rest) {
  return "sha256:" + Sha256Hex(token) + " " + std::string(rest) + "\n";
}

std::string Bearer(std::string_view token) { return "Bearer " + std::string(token); }

class AccessControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string text = "# tokens for the tests\n\n" + Line("all", "ingest,read") +
                             "   # an indented comment\n" + Line("reader", "read web,api") +
                             Line("ci", "ingest web");
    Result<AccessControl> access = AccessControl::Parse(text, "tokens.txt");
    ASSERT_TRUE(access.ok()) << access.status().message();
    access_.emplace(std::move(*access));
  }
  AccessDecision Decide(std::string_view authorization, AccessNeed need) {
    return access_->Decide(authorization, need);
  }
  std::optional<AccessControl> access_;
};

TEST_F(AccessControlTest, ParsesScopesProjectsAndLineNumbers) {
  const auto& tokens = access_->tokens();
  ASSERT_EQ(tokens.size(), 3u);
  EXPECT_EQ(tokens[0].line, 3);
  EXPECT_TRUE(tokens[0].HasScope(AccessScope::kIngest));
  EXPECT_TRUE(tokens[0].HasScope(AccessScope::kRead));
  EXPECT_TRUE(tokens[0].AllowsEveryProject());
  EXPECT_EQ(tokens[1].line, 5);
  EXPECT_FALSE(tokens[1].HasScope(AccessScope::kIngest));
  EXPECT_EQ(tokens[1].projects, (std::vector<std::string>{"web", "api"}));
  EXPECT_EQ(tokens[2].sha256_hex, Sha256Hex("ci"));
}

TEST(AccessControlParseTest, UppercaseHexAndCrlfAreAccepted) {
  std::string hex = Sha256Hex("t");
  for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  Result<AccessControl> access = AccessControl::Parse("sha256:" + hex + "\tread\r\n", "f");
  ASSERT_TRUE(access.ok()) << access.status().message();
  EXPECT_NE(access->Authenticate("Bearer t"), nullptr);
}

TEST(AccessControlParseTest, EachMalformedLineIsRejectedWithItsLineNumber) {
  const std::string good = Line("good", "read");
  const std::string hash = "sha256:" + Sha256Hex("bad");
  struct Case {
    std::string line;
    std::string message;
  };
  const std::vector<Case> cases = {
      {hash + "\n", "expected \"sha256:<hex of the token> <scopes> [<projects>]\", got 1"},
      {hash + " read web extra\n", "got 4 fields"},
      {Sha256Hex("bad") + " read\n", "the first field must be sha256:"},
      {"md5:" + Sha256Hex("bad") + " read\n", "the first field must be sha256:"},
      {"sha256:abc read\n", "the first field must be sha256:"},
      {"sha256:" + std::string(64, 'g') + " read\n", "the first field must be sha256:"},
      {hash + " write\n", "scope 1 of the second field is not a scope"},
      {hash + " read,\n", "scope 2 of the second field is not a scope"},
      {hash + " read web,,api\n", "project 2 of the third field is not a project name"},
      {hash + " read ../etc\n", "project 1 of the third field is not a project name"},
      {good, "the same token hash is already on line 2"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    Result<AccessControl> access = AccessControl::Parse("# head\n" + good + c.line, "t.txt");
    ASSERT_FALSE(access.ok());
    EXPECT_EQ(access.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(access.status().message(), HasSubstr("tokens file t.txt, line 3: "));
    EXPECT_THAT(access.status().message(), HasSubstr(c.message));
    // Messages may be printed and logged: they never carry a hash.
    EXPECT_THAT(access.status().message(), Not(HasSubstr(Sha256Hex("bad"))));
    EXPECT_THAT(access.status().message(), Not(HasSubstr(Sha256Hex("good"))));
  }
}

TEST(AccessControlParseTest, ErrorsNameABadFieldByPositionNotByValue) {
  // A token pasted into the scopes or projects field must not end up in a log.
  const std::string hash = "sha256:" + Sha256Hex("good");
  for (const std::string& line :
       {hash + " bt_live_s3cr3t\n", hash + " read web,bt_live_s3cr3t!\n"}) {
    Result<AccessControl> access = AccessControl::Parse(line, "t.txt");
    ASSERT_FALSE(access.ok());
    EXPECT_THAT(access.status().message(), Not(HasSubstr("s3cr3t"))) << line;
  }
}

TEST(AccessControlParseTest, FileWithoutTokensIsRejected) {
  Result<AccessControl> access = AccessControl::Parse("# only a comment\n\n", "empty.txt");
  ASSERT_FALSE(access.ok());
  EXPECT_THAT(access.status().message(), HasSubstr("tokens file empty.txt lists no token"));
}

TEST(AccessControlParseTest, UnreadableFileIsRejected) {
  Result<AccessControl> access = AccessControl::Load("/nonexistent/bt-tokens");
  ASSERT_FALSE(access.ok());
  EXPECT_EQ(access.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(access.status().message(),
              HasSubstr("cannot read the tokens file /nonexistent/bt-tokens"));
}

TEST_F(AccessControlTest, MissingOrWrongTokenIsUnauthenticated) {
  const AccessNeed need{AccessScope::kRead, "web", false};
  const std::vector<std::string> headers = {
      "",    "Bearer ",   "Bearer wrong", "Basic all",
      "all", "Bearer al", "Bearer all2",  "Bearer " + Sha256Hex("all")};
  for (const std::string& header : headers) {
    SCOPED_TRACE(header);
    const AccessDecision d = Decide(header, need);
    EXPECT_EQ(d.outcome, Outcome::kUnauthenticated);
    EXPECT_EQ(d.token, nullptr);
    EXPECT_FALSE(d.message.empty());
  }
  EXPECT_TRUE(Decide("bearer all", need).allowed());  // the scheme is case-insensitive
}

TEST_F(AccessControlTest, ScopeIsEnforced) {
  EXPECT_TRUE(Decide(Bearer("all"), {AccessScope::kIngest, {}, false}).allowed());
  EXPECT_TRUE(Decide(Bearer("ci"), {AccessScope::kIngest, {}, false}).allowed());
  const AccessDecision reader = Decide(Bearer("reader"), {AccessScope::kIngest, {}, false});
  EXPECT_EQ(reader.outcome, Outcome::kForbidden);
  EXPECT_THAT(reader.message, HasSubstr("lacks the ingest scope"));
  const AccessDecision ci = Decide(Bearer("ci"), {AccessScope::kRead, "web", false});
  EXPECT_EQ(ci.outcome, Outcome::kForbidden);
  EXPECT_THAT(ci.message, HasSubstr("lacks the read scope"));
  // No scope needed (an unknown path): any valid token.
  EXPECT_TRUE(Decide(Bearer("reader"), {}).allowed());
}

TEST(AccessControlAdminTest, AdminScopeIsItsOwnAndProjectScoped) {
  const std::string text = Line("root", "admin") + Line("web-admin", "admin,read web") +
                           Line("all", "ingest,read,worker");
  Result<AccessControl> access = AccessControl::Parse(text, "tokens.txt");
  ASSERT_TRUE(access.ok()) << access.status().message();
  const AccessNeed delete_web{AccessScope::kAdmin, "web", false};
  const AccessNeed delete_api{AccessScope::kAdmin, "api", false};
  EXPECT_EQ(access->tokens()[0].scopes, static_cast<uint8_t>(AccessScope::kAdmin));
  EXPECT_TRUE(access->Decide(Bearer("root"), delete_web).allowed());
  EXPECT_TRUE(access->Decide(Bearer("root"), delete_api).allowed());
  EXPECT_TRUE(access->Decide(Bearer("web-admin"), delete_web).allowed());
  const AccessDecision other = access->Decide(Bearer("web-admin"), delete_api);
  EXPECT_EQ(other.outcome, Outcome::kForbidden);
  EXPECT_EQ(other.message,
            "the token does not allow project api; use a token listed for that project");
  // Every other scope together is not admin; admin alone reads nothing.
  const AccessDecision all = access->Decide(Bearer("all"), delete_web);
  EXPECT_EQ(all.outcome, Outcome::kForbidden);
  EXPECT_EQ(all.message,
            "the token lacks the admin scope this request needs; use a token that has it");
  EXPECT_EQ(access->Decide(Bearer("root"), {AccessScope::kRead, "web", false}).outcome,
            Outcome::kForbidden);
}

TEST(AccessControlAdminTest, ScopeNames) {
  EXPECT_EQ(AccessScopeName(AccessScope::kIngest), "ingest");
  EXPECT_EQ(AccessScopeName(AccessScope::kRead), "read");
  EXPECT_EQ(AccessScopeName(AccessScope::kWorker), "worker");
  EXPECT_EQ(AccessScopeName(AccessScope::kAdmin), "admin");
}

TEST_F(AccessControlTest, ProjectsAreEnforced) {
  EXPECT_TRUE(Decide(Bearer("reader"), {AccessScope::kRead, "api", false}).allowed());
  const AccessDecision other = Decide(Bearer("reader"), {AccessScope::kRead, "default", false});
  EXPECT_EQ(other.outcome, Outcome::kForbidden);
  EXPECT_THAT(other.message, HasSubstr("does not allow project default"));
  EXPECT_TRUE(Decide(Bearer("all"), {AccessScope::kRead, "anything", false}).allowed());
  // Every project (latency stats without a project) needs a token without a project list.
  EXPECT_TRUE(Decide(Bearer("all"), {AccessScope::kRead, {}, true}).allowed());
  EXPECT_EQ(Decide(Bearer("reader"), {AccessScope::kRead, {}, true}).outcome, Outcome::kForbidden);
}

TEST_F(AccessControlTest, DecideProjectsNeedsEveryProjectAllowed) {
  const AccessToken& ci = access_->tokens()[2];
  EXPECT_TRUE(DecideProjects(ci, {"web", "web"}).allowed());
  const AccessDecision d = DecideProjects(ci, {"web", "api"});
  EXPECT_EQ(d.outcome, Outcome::kForbidden);
  EXPECT_THAT(d.message, HasSubstr("does not allow project api"));
  EXPECT_TRUE(DecideProjects(access_->tokens()[0], {"x", "y"}).allowed());
}

TEST(AccessControlCompareTest, EveryEntryIsComparedThroughTheGivenComparison) {
  std::vector<std::string> compared;
  DigestEqual counting = [&](std::string_view a, std::string_view b) {
    compared.emplace_back(a);
    return ConstantTimeEqual(a, b);
  };
  Result<AccessControl> access = AccessControl::Parse(
      Line("one", "read") + Line("two", "read") + Line("three", "read"), "f", counting);
  ASSERT_TRUE(access.ok()) << access.status().message();
  // A match on the first entry still compares the others: the time says nothing of the match.
  const AccessToken* token = access->Authenticate("Bearer one");
  ASSERT_NE(token, nullptr);
  EXPECT_EQ(token->line, 1);
  EXPECT_EQ(compared,
            (std::vector<std::string>{Sha256Hex("one"), Sha256Hex("two"), Sha256Hex("three")}));
  compared.clear();
  EXPECT_EQ(access->Authenticate("Bearer four"), nullptr);
  EXPECT_EQ(compared.size(), 3u);
}

TEST(AccessControlCompareTest, ConstantTimeEqualComparesWholeDigests) {
  EXPECT_TRUE(ConstantTimeEqual("abcdef", "abcdef"));
  EXPECT_FALSE(ConstantTimeEqual("abcdef", "abcdeg"));
  EXPECT_FALSE(ConstantTimeEqual("bbcdef", "abcdef"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abcdef"));
  EXPECT_TRUE(ConstantTimeEqual("", ""));
}

}  // namespace
}  // namespace buildtrace
