#include "intel/url.h"

#include <gtest/gtest.h>

namespace td::intel {
namespace {

std::string norm(std::string_view s) {
  auto r = normalizeUrl(s);
  return r ? *r : "ERROR: " + r.error().message;
}

TEST(UrlTest, LowercasesSchemeAndHostButNotPath) {
  EXPECT_EQ(norm("HTTP://EVIL.Example/Path/A"), "http://evil.example/Path/A");
}

TEST(UrlTest, DropsDefaultPortsKeepsOthers) {
  EXPECT_EQ(norm("http://a.example:80/"), "http://a.example/");
  EXPECT_EQ(norm("https://a.example:443/x"), "https://a.example/x");
  EXPECT_EQ(norm("https://a.example:8443/x"), "https://a.example:8443/x");
  EXPECT_EQ(norm("ftp://a.example:21/f"), "ftp://a.example/f");
  EXPECT_EQ(norm("http://a.example:0443/"), "http://a.example:443/");
  EXPECT_EQ(norm("http://a.example:99999/").substr(0, 6), "ERROR:");
  EXPECT_EQ(norm("http://a.example:8a/").substr(0, 6), "ERROR:");
}

TEST(UrlTest, NormalisesPercentEncoding) {
  EXPECT_EQ(norm("http://a.example/%7euser/%41"), "http://a.example/~user/A");
  EXPECT_EQ(norm("http://a.example/a%2fb"), "http://a.example/a%2Fb");  // reserved stays escaped
  EXPECT_EQ(norm("http://a.example/a b"), "http://a.example/a%20b");
  EXPECT_EQ(norm("http://a.example/100%"), "http://a.example/100%25");
  EXPECT_EQ(norm("http://a.example/?q=%3d%7E"), "http://a.example/?q=%3D~");
}

TEST(UrlTest, TrailingDotsEmptyPathDotSegmentsFragment) {
  EXPECT_EQ(norm("http://a.example./"), "http://a.example/");
  EXPECT_EQ(norm("http://a.example"), "http://a.example/");
  EXPECT_EQ(norm("http://a.example/a/./b/../c"), "http://a.example/a/c");
  EXPECT_EQ(norm("http://a.example/../../x"), "http://a.example/x");
  EXPECT_EQ(norm("http://a.example/p#frag"), "http://a.example/p");
  EXPECT_EQ(norm("http://a.example/p?"), "http://a.example/p?");
}

TEST(UrlTest, SchemeLessUserinfoAndIpv6) {
  EXPECT_EQ(norm("evil.example/x"), "http://evil.example/x");
  EXPECT_EQ(norm("http://User:Pw@A.example/"), "http://User:Pw@a.example/");
  EXPECT_EQ(norm("http://[2001:DB8::1]:80/"), "http://[2001:db8::1]/");
  EXPECT_EQ(urlHost("http://[2001:db8::1]:8080/x"), "2001:db8::1");
  EXPECT_EQ(urlHost("https://u@Host.Example.:8443/x"), "host.example");
}

TEST(UrlTest, RejectsWhatIsNotAUrl) {
  EXPECT_EQ(norm("").substr(0, 6), "ERROR:");
  EXPECT_EQ(norm("http:///path").substr(0, 6), "ERROR:");
  EXPECT_EQ(norm("ht tp://x/").substr(0, 6), "ERROR:");
  EXPECT_EQ(norm("http://[::1/").substr(0, 6), "ERROR:");
  EXPECT_EQ(norm(std::string(9000, 'a')).substr(0, 6), "ERROR:");
}

// Found by fuzz/intel_url: a host holding ':' and '[' normalised to a URL that no longer parsed.
TEST(UrlTest, RegressionHostWithColonAndBracketIsRejected) {
  EXPECT_EQ(norm("https://3:[D829B[::1]:443/x y").substr(0, 6), "ERROR:");
  EXPECT_EQ(norm("http://a:b:80/").substr(0, 6), "ERROR:");
  EXPECT_EQ(norm("http://[fe80::1%25eth0]/").substr(0, 6), "ERROR:");
}

TEST(UrlTest, NormalisationIsIdempotent) {
  for (const char* u : {"HTTP://User@EVIL.example.:80/a/./b/../%7e?q=%3d#f",
                        "https://[2001:DB8::1]:443/x y", "evil.example/path%", "ftp://h/%2e%2e/x"}) {
    auto once = normalizeUrl(u);
    ASSERT_TRUE(once) << u;
    EXPECT_EQ(norm(*once), *once) << u;
  }
}

}  // namespace
}  // namespace td::intel
