#include <gtest/gtest.h>

#include "vuln/ecosystem.h"
#include "vuln/purl.h"

namespace td::vuln {
namespace {

TEST(PurlTest, ParsesMavenAndMapsToOsvName) {
  auto p = parsePurl("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->ns, "org.apache.logging.log4j");
  EXPECT_EQ(p->name, "log4j-core");
  EXPECT_EQ(p->version, "2.14.1");
  auto pkg = purlPackage(*p);
  EXPECT_EQ(pkg.ecosystem.kind, Ecosystem::kMaven);
  EXPECT_EQ(pkg.name, "org.apache.logging.log4j:log4j-core");
}

TEST(PurlTest, ScopedNpmNameKeepsTheAt) {
  auto p = parsePurl("pkg:npm/%40angular/core@12.0.0");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->ns, "@angular");
  EXPECT_EQ(purlPackage(*p).name, "@angular/core");
  EXPECT_EQ(toString(*p), "pkg:npm/%40angular/core@12.0.0");
}

TEST(PurlTest, DistroQualifierGivesTheRelease) {
  auto p = parsePurl("pkg:rpm/almalinux/openssl@1:3.0.7-6.el9?arch=x86_64&distro=almalinux-9.2");
  ASSERT_TRUE(p);
  auto pkg = purlPackage(*p);
  EXPECT_EQ(pkg.ecosystem.kind, Ecosystem::kRpm);
  EXPECT_EQ(pkg.ecosystem.name, "AlmaLinux");
  EXPECT_EQ(pkg.ecosystem.release, "9");
  auto a = parsePurl("pkg:apk/alpine/zlib@1.2.10-r2?distro=3.16.2");
  ASSERT_TRUE(a);
  EXPECT_EQ(purlPackage(*a).ecosystem.release, "3.16");
}

TEST(PurlTest, RefusesWithWhatAndWhere) {
  auto p = parsePurl("pkg:3nginx/nginx@1");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().field, "type");
  auto q = parsePurl("maven/x@1");
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().field, "scheme");
  auto r = parsePurl("pkg:npm/x@1%zz");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "version");
}

TEST(PurlTest, UnknownTypeIsReportedAsUnknownEcosystem) {
  auto p = parsePurl("pkg:conan/openssl@3.0.3");
  ASSERT_TRUE(p);
  EXPECT_EQ(purlPackage(*p).ecosystem.kind, Ecosystem::kUnknown);
}

// Found by vuln_purl_fuzzer: a git host that decodes to "/" did not survive the round trip.
TEST(PurlTest, GitHostMustBeOneSegment) {
  EXPECT_FALSE(parsePurl("pkg:git/%2F/x@1"));
  auto p = parsePurl("pkg:git/github.com/a/b@1");
  ASSERT_TRUE(p);
  EXPECT_EQ(toString(*p), "pkg:git/github.com/a/b@1");
}

TEST(PurlTest, PypiNamesNormalise) {
  EXPECT_EQ(normalisePackageName(Ecosystem::kPyPI, "Django_REST.framework"), "django-rest-framework");
}

}  // namespace
}  // namespace td::vuln
