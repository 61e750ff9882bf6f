// Tests of geometry extraction from pseudo-hashes ("type_x_y_w_h") and structured objects.
#include "core/pseudo_hash.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace buildtrace {
namespace {

void ExpectGeometry(const std::optional<Geometry>& g, const std::string& type, double x, double y,
                    double w, double h, const std::string& rest) {
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->type, type);
  EXPECT_EQ(g->x, x);
  EXPECT_EQ(g->y, y);
  EXPECT_EQ(g->w, w);
  EXPECT_EQ(g->h, h);
  EXPECT_EQ(g->rest, rest);
}

TEST(ParsePseudoHashTest, DesignExample) {
  ExpectGeometry(ParsePseudoHash("door_10_20_5_5"), "door", 10, 20, 5, 5, "");
}

TEST(ParsePseudoHashTest, TypeMayContainUnderscores) {
  ExpectGeometry(ParsePseudoHash("sliding_door_1_2_3_4"), "sliding_door", 1, 2, 3, 4, "");
  ExpectGeometry(ParsePseudoHash("a_b_c_0_0_0_0"), "a_b_c", 0, 0, 0, 0, "");
  ExpectGeometry(ParsePseudoHash("d_1_2_3_4"), "d", 1, 2, 3, 4, "");
  // Only the last four fields are numbers; a numeric-looking type is still a type.
  ExpectGeometry(ParsePseudoHash("7_1_2_3_4"), "7", 1, 2, 3, 4, "");
}

TEST(ParsePseudoHashTest, NegativesAndDecimals) {
  ExpectGeometry(ParsePseudoHash("wall_-1.5_2.25_-3_0.5"), "wall", -1.5, 2.25, -3, 0.5, "");
  ExpectGeometry(ParsePseudoHash("door_+1_2_3_4"), "door", 1, 2, 3, 4, "");
  ExpectGeometry(ParsePseudoHash("door_1.0_2_3_4"), "door", 1, 2, 3, 4, "");
  ExpectGeometry(ParsePseudoHash("door_.5_2._3_4"), "door", 0.5, 2, 3, 4, "");
}

TEST(ParsePseudoHashTest, RejectsWhatIsNotTypeAndFourNumbers) {
  for (const char* hash : {"",
                           "door",
                           "door_1_2_3",
                           "_1_2_3_4",
                           "1_2_3_4",
                           "door_1_2_3_x",
                           "door_1e3_2_3_4",
                           "door_1_2_3_4_",
                           "door_1__2_3_4",
                           "door__2_3_4",
                           "door_1_2_3_",
                           "door_._2_3_4",
                           "door_-_2_3_4",
                           "door_1.2.3_2_3_4",
                           "door_ 1_2_3_4",
                           "door_0x1_2_3_4",
                           "door_inf_2_3_4",
                           "door_nan_2_3_4",
                           "door_--1_2_3_4",
                           "door_1_2_3_4 ",
                           "____",
                           "_____"}) {
    EXPECT_FALSE(ParsePseudoHash(hash).has_value()) << hash;
  }
}

TEST(ParsePseudoHashTest, ShaHexIsNotAPseudoHash) {
  EXPECT_FALSE(ParsePseudoHash("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  EXPECT_FALSE(ParsePseudoHash("sha256:abc"));
}

TEST(GeometryOfStructuredTest, ReadsTypeAndGeometry) {
  ExpectGeometry(GeometryOfStructured(R"({"h":5,"type":"door","w":5,"x":10,"y":20})"), "door", 10,
                 20, 5, 5, "");
  ExpectGeometry(GeometryOfStructured(R"({"h":0.5,"type":"t","w":-1,"x":1e20,"y":0.1})"), "t", 1e20,
                 0.1, -1, 0.5, "");
}

TEST(GeometryOfStructuredTest, OtherAttributesAreKeptInRest) {
  ExpectGeometry(GeometryOfStructured(
                     R"({"color":"red","h":5,"tags":["a"],"type":"door","w":5,"x":10,"y":20})"),
                 "door", 10, 20, 5, 5, R"({"color":"red","tags":["a"]})");
  const auto red = GeometryOfStructured(R"({"color":"red","h":1,"type":"d","w":1,"x":1,"y":1})");
  const auto blue = GeometryOfStructured(R"({"color":"blue","h":1,"type":"d","w":1,"x":9,"y":1})");
  const auto red2 = GeometryOfStructured(R"({"color":"red","h":1,"type":"d","w":1,"x":9,"y":1})");
  ASSERT_TRUE(red && blue && red2);
  EXPECT_NE(red->rest, blue->rest);
  EXPECT_EQ(red->rest, red2->rest);
}

TEST(GeometryOfStructuredTest, NulloptWhenAGeometryAttributeIsMissingOrMistyped) {
  for (const char* json :
       {R"({"type":"door","w":5,"x":10,"y":20})", R"({"h":5,"w":5,"x":10,"y":20})",
        R"({"h":5,"type":"door","w":5,"y":20})", R"({"h":5,"type":"door","w":5,"x":"10","y":20})",
        R"({"h":5,"type":7,"w":5,"x":10,"y":20})", R"({"h":null,"type":"door","w":5,"x":1,"y":2})",
        R"({"h":5,"type":"door","w":true,"x":1,"y":2})", "{}"}) {
    EXPECT_FALSE(GeometryOfStructured(json).has_value()) << json;
  }
}

TEST(GeometryOfStructuredTest, NulloptForNonObjects) {
  for (const char* json : {"[1,2]", R"("door_1_2_3_4")", "5", "null", "", "{", "door_1_2_3_4"}) {
    EXPECT_FALSE(GeometryOfStructured(json).has_value()) << json;
  }
}

}  // namespace
}  // namespace buildtrace
