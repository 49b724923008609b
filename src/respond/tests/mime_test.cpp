// The MIME message of e-mail deliveries: structure with and without HTML and attachments,
// base64 that round-trips (also binary with NULs), RFC 2047 subjects split on character
// boundaries, RFC 2231 file names, and no header injection.
#include "respond/mime.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace td::respond {
namespace {

constexpr core::TimeMs kNow = 1795000000000;  // 2026-11-18

std::string decodeBase64(std::string_view in) {
  std::string out;
  unsigned buf = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else continue;  // CRLF, padding
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xFF);
    }
  }
  return out;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < s.size()) {
    auto end = s.find("\r\n", at);
    if (end == std::string::npos) end = s.size();
    out.push_back(s.substr(at, end - at));
    at = end + 2;
  }
  return out;
}

// The value of a "boundary=" parameter on the first line that has one after `from`.
std::string boundaryAfter(const std::string& msg, const std::string& type, size_t from = 0) {
  const auto at = msg.find("Content-Type: " + type + "; boundary=\"", from);
  if (at == std::string::npos) return "";
  const auto start = msg.find('"', at) + 1;
  return msg.substr(start, msg.find('"', start) - start);
}

// The body of the part whose headers contain `marker`, between its blank line and the next "--".
std::string partBody(const std::string& msg, const std::string& marker) {
  const auto at = msg.find(marker);
  if (at == std::string::npos) return "";
  const auto start = msg.find("\r\n\r\n", at) + 4;
  return msg.substr(start, msg.find("\r\n--", start) - start);
}

EmailMessage sample() {
  EmailMessage m;
  m.from = "threatdesk@example.com";
  m.to = {"soc@example.com"};
  m.subject = "Weekly SOC summary";
  m.text = "Open threats: 3\n";
  m.html = "<p>Open threats: <b>3</b></p>";
  m.message_id = "<td-report-s1-1@threatdesk>";
  return m;
}

TEST(Base64Test, RoundTripsEveryLengthAndByte) {
  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foo"), "Zm9v");
  EXPECT_EQ(base64Encode("foobar"), "Zm9vYmFy");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n < all.size(); n += 37)
    EXPECT_EQ(decodeBase64(base64Encode(all.substr(0, n))), all.substr(0, n));
}

TEST(MimeTest, TextOnlyAndAlternativeWithoutAttachments) {
  auto m = sample();
  m.html.clear();
  const auto plain = buildMime(m, kNow);
  EXPECT_NE(plain.find("Content-Type: text/plain; charset=utf-8\r\n"), std::string::npos);
  EXPECT_EQ(plain.find("multipart"), std::string::npos);
  const auto alt = buildMime(sample(), kNow);
  EXPECT_EQ(alt.find("multipart/mixed"), std::string::npos);
  const auto b = boundaryAfter(alt, "multipart/alternative");
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(b.rfind("=_", 0), 0u);
  EXPECT_NE(alt.find("--" + b + "--\r\n"), std::string::npos);
  EXPECT_EQ(decodeBase64(partBody(alt, "text/html")), "<p>Open threats: <b>3</b></p>");
  EXPECT_NE(alt.find("Date: Wed, 18 Nov 2026 "), std::string::npos) << alt;
  EXPECT_NE(alt.find("Message-ID: <td-report-s1-1@threatdesk>\r\n"), std::string::npos);
}

TEST(MimeTest, AttachmentMakesMultipartMixedAroundTheAlternative) {
  auto m = sample();
  std::string pdf = "%PDF-1.5\n";
  for (int i = 0; i < 1000; ++i) pdf += static_cast<char>(i % 256);  // binary, with NULs
  m.attachments.push_back({"weekly-2026-11-23.pdf", "application/pdf", pdf});
  const auto msg = buildMime(m, kNow);
  const auto mixed = boundaryAfter(msg, "multipart/mixed");
  const auto alt = boundaryAfter(msg, "multipart/alternative");
  ASSERT_FALSE(mixed.empty());
  ASSERT_FALSE(alt.empty());
  EXPECT_NE(mixed, alt);
  // The top-level type is mixed; the alternative is its first part; the PDF its second.
  EXPECT_LT(msg.find("Content-Type: multipart/mixed"), msg.find("--" + mixed + "\r\n"));
  EXPECT_LT(msg.find("--" + mixed + "\r\n"), msg.find("Content-Type: multipart/alternative"));
  EXPECT_LT(msg.find("--" + alt + "--"), msg.find("Content-Type: application/pdf"));
  EXPECT_NE(msg.find("Content-Type: application/pdf; name=\"weekly-2026-11-23.pdf\"\r\n"
                     "Content-Disposition: attachment; filename=\"weekly-2026-11-23.pdf\"\r\n"
                     "Content-Transfer-Encoding: base64\r\n\r\n"),
            std::string::npos)
      << msg;
  EXPECT_EQ(decodeBase64(partBody(msg, "Content-Type: application/pdf")), pdf);
  EXPECT_TRUE(msg.size() > 2 && msg.substr(msg.size() - mixed.size() - 6) == "--" + mixed + "--\r\n");
  for (const auto& line : lines(msg)) EXPECT_LE(line.size(), 998u);
  // Base64 body lines are 76 characters.
  const auto body = partBody(msg, "Content-Type: application/pdf");
  EXPECT_EQ(lines(body).front().size(), 76u);
}

TEST(MimeTest, NonAsciiSubjectIsSplitIntoEncodedWordsOnCharacterBoundaries) {
  std::string subject;
  for (int i = 0; i < 40; ++i) subject += "Übersicht ";  // 440 bytes, 2-byte Ü
  const auto encoded = encodeHeaderText(subject);
  std::string decoded;
  for (const auto& line : lines(encoded)) {
    std::string word = line.front() == ' ' ? line.substr(1) : line;
    ASSERT_EQ(word.rfind("=?UTF-8?B?", 0), 0u) << word;
    ASSERT_EQ(word.substr(word.size() - 2), "?=");
    EXPECT_LE(word.size(), 75u);
    const auto piece = decodeBase64(word.substr(10, word.size() - 12));
    // Every word decodes to whole characters: it never starts with a continuation byte.
    EXPECT_NE(static_cast<unsigned char>(piece[0]) & 0xC0, 0x80u);
    decoded += piece;
  }
  EXPECT_EQ(decoded, subject);
  EXPECT_EQ(encodeHeaderText("plain ASCII"), "plain ASCII");
}

TEST(MimeTest, HeaderValuesCannotInjectHeaders) {
  auto m = sample();
  m.subject = "hi\r\nBcc: evil@example.com";
  m.attachments.push_back({"a\r\nX-Evil: 1\".pdf", "application/pdf\r\nX-Evil: 2", "x"});
  const auto msg = buildMime(m, kNow);
  for (const auto& line : lines(msg)) {
    EXPECT_NE(line.rfind("Bcc:", 0), 0u);
    EXPECT_NE(line.rfind("X-Evil:", 0), 0u);
  }
  EXPECT_NE(msg.find("Subject: hiBcc: evil@example.com\r\n"), std::string::npos);
  // A content type that is not a plain type/subtype becomes octet-stream; quotes leave the name.
  EXPECT_NE(msg.find("Content-Type: application/octet-stream; name=\"aX-Evil: 1_.pdf\""),
            std::string::npos)
      << msg;
}

TEST(MimeTest, NonAsciiFileNameUsesRfc2231AndAnAsciiFallback) {
  const auto h = attachmentHeaders({"Wochenübersicht März.pdf", "application/pdf", ""});
  EXPECT_NE(h.find("filename*=UTF-8''Wochen%C3%BCbersicht%20M%C3%A4rz.pdf"), std::string::npos)
      << h;
  EXPECT_NE(h.find("filename=\"Wochen_bersicht M_rz.pdf\";"), std::string::npos) << h;
  EXPECT_NE(h.find("name=\"=?UTF-8?B?"), std::string::npos) << h;
  EXPECT_EQ(attachmentHeaders({"", "application/pdf", ""}).find("filename=\"attachment\""),
            attachmentHeaders({"", "application/pdf", ""}).find("filename="));
}

}  // namespace
}  // namespace td::respond
