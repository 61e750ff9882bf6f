// Tests of the S3 XML reading: ListObjectsV2 pages and error bodies as S3 writes them, entity
// decoding, and malformed input (which must fail cleanly, never crash or loop).
#include "store/s3_xml.h"

#include <gtest/gtest.h>

namespace buildtrace {
namespace {

using Keys = std::vector<std::string>;

TEST(S3XmlTest, ParsesAListObjectsV2Page) {
  const std::string xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>bt/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents><Key>bt/a.json</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>
    <ETag>&quot;abc&quot;</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass></Contents>
  <Contents>
    <Key>bt/b&amp;c&lt;d&gt;e&quot;f&apos;g</Key>
    <Owner><ID>x</ID><DisplayName>Key</DisplayName></Owner>
  </Contents>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>)";
  Result<S3ListPage> page = ParseListObjectsV2(xml);
  ASSERT_TRUE(page.ok()) << page.status().message();
  EXPECT_EQ(page->keys, (Keys{"bt/a.json", "bt/b&c<d>e\"f'g"}));
  EXPECT_TRUE(page->is_truncated);
  EXPECT_EQ(page->next_continuation_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

TEST(S3XmlTest, ParsesTheLastAndEmptyPages) {
  Result<S3ListPage> last = ParseListObjectsV2(
      "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key></Contents>"
      "<ContinuationToken>t</ContinuationToken></ListBucketResult>");
  ASSERT_TRUE(last.ok()) << last.status().message();
  EXPECT_EQ(last->keys, Keys{"k"});
  EXPECT_FALSE(last->is_truncated);
  EXPECT_EQ(last->next_continuation_token, "");  // <ContinuationToken> is the one sent

  Result<S3ListPage> empty =
      ParseListObjectsV2("<ListBucketResult><Prefix/><KeyCount>0</KeyCount></ListBucketResult>");
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_TRUE(empty->keys.empty());
}

TEST(S3XmlTest, DecodesNumericReferencesAndCdata) {
  Result<S3ListPage> page = ParseListObjectsV2(
      "<ListBucketResult><!-- a comment <Key>no</Key> -->"
      "<Contents><Key>a&#47;b&#x2F;c&#233;&#x1F600;</Key></Contents>"
      "<Contents><Key><![CDATA[x&amp;<y>]]>z</Key></Contents></ListBucketResult>");
  ASSERT_TRUE(page.ok()) << page.status().message();
  EXPECT_EQ(page->keys, (Keys{"a/b/c\xc3\xa9\xf0\x9f\x98\x80", "x&amp;<y>z"}));
}

TEST(S3XmlTest, DecodeXmlTextRejectsUnknownAndInvalidReferences) {
  EXPECT_EQ(DecodeXmlText("plain"), "plain");
  EXPECT_EQ(DecodeXmlText("&amp;amp;"), "&amp;");
  for (std::string_view bad : {"&", "&amp", "&nbsp;", "&#;", "&#x;", "&#0;", "&#xD800;",
                               "&#x110000;", "&#12a;", "&#xFFFFFFFFF;", "&;"}) {
    EXPECT_EQ(DecodeXmlText(bad), std::nullopt) << bad;
  }
}

TEST(S3XmlTest, RejectsMalformedListings) {
  for (std::string_view bad : {
           "",
           "not xml",
           "<ListBucketResult>",
           "<ListBucketResult><Contents><Key>a</Contents></Key></ListBucketResult>",
           "<ListBucketResult></ListBucketResult><ListBucketResult></ListBucketResult>",
           "<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>",
           "<ListBucketResult><Contents><Key>a&bad;</Key></Contents></ListBucketResult>",
           "<ListBucketResult attr='>'",
           "<ListBucketResult><!-- open</ListBucketResult>",
           "<!DOCTYPE x [<!ENTITY e 'boom'>]><ListBucketResult/>",
           "<Error><Code>AccessDenied</Code></Error>",
           "<html><body>502 Bad Gateway</body></html>",
       }) {
    EXPECT_FALSE(ParseListObjectsV2(bad).ok()) << bad;
  }
}

TEST(S3XmlTest, TagsNestedTooDeeplyAreRefusedNotRecursed) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "<a>";
  EXPECT_FALSE(ParseListObjectsV2(deep).ok());
}

TEST(S3XmlTest, AttributesMayHoldAngleBrackets) {
  Result<S3ListPage> page = ParseListObjectsV2(
      R"(<ListBucketResult xmlns="urn:x" a='1>2'><Contents><Key>k</Key></Contents></ListBucketResult>)");
  ASSERT_TRUE(page.ok()) << page.status().message();
  EXPECT_EQ(page->keys, Keys{"k"});
}

TEST(S3XmlTest, ParsesErrorBodies) {
  const S3ErrorBody error = ParseS3Error(R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match &quot;yours&quot;</Message>
<StringToSign>AWS4-HMAC-SHA256</StringToSign><RequestId>1</RequestId></Error>)");
  EXPECT_EQ(error.code, "SignatureDoesNotMatch");
  EXPECT_EQ(error.message, "The request signature we calculated does not match \"yours\"");

  for (std::string_view not_error : {"", "<html>oops</html>", "<Error><Code>X</Code>",
                                     "<ListBucketResult><Code>X</Code></ListBucketResult>"}) {
    const S3ErrorBody none = ParseS3Error(not_error);
    EXPECT_EQ(none.code, "") << not_error;
    EXPECT_EQ(none.message, "") << not_error;
  }
}

}  // namespace
}  // namespace buildtrace
