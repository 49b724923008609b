#include "respond/mime.h"

#include <cctype>
#include <cstdint>
#include <ctime>
#include <functional>
#include <random>

#include "core/text.h"

namespace td::respond {
namespace {

bool ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

std::string headerSafe(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != '\r' && c != '\n') out += c;
  return out;
}

std::string wrap76(const std::string& b64) {
  std::string out;
  out.reserve(b64.size() + b64.size() / 76 * 2 + 2);
  for (size_t i = 0; i < b64.size(); i += 76) {
    out.append(b64, i, 76);
    out += "\r\n";
  }
  return out;
}

bool continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// At most `max` bytes of `s` from `at`, ending on a UTF-8 character boundary.
size_t utf8Chunk(std::string_view s, size_t at, size_t max) {
  size_t end = std::min(s.size(), at + max);
  while (end > at + 1 && end < s.size() && continuation(s[end])) --end;
  return end - at;
}

// A file name fit for a header: no control characters, quotes, backslashes or slashes, at most
// 200 bytes (on a character boundary); never empty.
std::string safeFileName(std::string_view name) {
  std::string out;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) continue;
    out += (c == '"' || c == '\\' || c == '/') ? '_' : c;
  }
  if (out.size() > 200) out.resize(utf8Chunk(out, 0, 200));
  return out.empty() ? std::string("attachment") : out;
}

std::string safeContentType(std::string_view type) {
  static constexpr std::string_view kAllowed =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&^_.+-/";
  if (type.empty() || type.size() > 100 || type.find('/') == std::string_view::npos ||
      type.find_first_not_of(kAllowed) != std::string_view::npos)
    return "application/octet-stream";
  return std::string(type);
}

// RFC 2231 value: UTF-8 with everything but attribute characters percent-encoded.
std::string rfc2231(std::string_view s) {
  // attr-char: the unreserved characters and these.
  return "UTF-8''" + core::percentEncode(s, "!$&+^`|");
}

// The file name in ASCII for clients that read only `filename`: non-ASCII bytes become '_'.
std::string asciiFallback(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u < 0x80) {
      out += s[i];
    } else if (!continuation(s[i])) {
      out += '_';
    }
  }
  return out;
}

void appendTextPart(std::string& out, const char* subtype, const std::string& body) {
  out += "Content-Type: text/";
  out += subtype;
  out += "; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  out += wrap76(base64Encode(body));
}

}  // namespace

std::string base64Encode(std::string_view in) {
  static constexpr char kTable[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += kTable[(v >> 6) & 63];
    out += kTable[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += i + 1 < in.size() ? kTable[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string encodeHeaderText(std::string_view value) {
  const std::string safe = headerSafe(value);
  if (ascii(safe)) return safe;
  // 45 bytes give 60 base64 characters: "=?UTF-8?B?" + 60 + "?=" is 72, under RFC 2047's 75.
  std::string out;
  for (size_t at = 0; at < safe.size();) {
    const size_t n = utf8Chunk(safe, at, 45);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64Encode(std::string_view(safe).substr(at, n)) + "?=";
    at += n;
  }
  return out;
}

std::string attachmentHeaders(const Attachment& a) {
  const std::string name = safeFileName(a.file_name);
  std::string out = "Content-Type: " + safeContentType(a.content_type);
  if (ascii(name)) {
    out += "; name=\"" + name + "\"\r\nContent-Disposition: attachment; filename=\"" + name + "\"";
  } else {
    out += ";\r\n name=\"" + encodeHeaderText(name) + "\"" +
           "\r\nContent-Disposition: attachment;\r\n filename=\"" + asciiFallback(name) + "\";" +
           "\r\n filename*=" + rfc2231(name);
  }
  return out;
}

std::string buildMime(const EmailMessage& m, core::TimeMs now) {
  std::string out;
  const time_t secs = static_cast<time_t>(now / 1000);
  struct tm tm_utc;
  gmtime_r(&secs, &tm_utc);
  char date[64];
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm_utc);
  out += "Date: " + std::string(date) + "\r\n";
  out += "From: ThreatDesk <" + headerSafe(m.from) + ">\r\n";
  std::string to;
  for (const auto& t : m.to) to += (to.empty() ? "" : ", ") + headerSafe(t);
  out += "To: " + to + "\r\n";
  out += "Subject: " + encodeHeaderText(m.subject) + "\r\n";
  if (!m.message_id.empty()) out += "Message-ID: " + headerSafe(m.message_id) + "\r\n";
  for (const auto& [k, v] : m.headers) out += headerSafe(k) + ": " + headerSafe(v) + "\r\n";
  out += "MIME-Version: 1.0\r\n";

  // Boundaries start with "=_", which base64 never contains, so no body can end a part early.
  std::mt19937_64 rng(static_cast<std::uint64_t>(now) ^ std::hash<std::string>{}(m.message_id));
  const std::string alternative = "=_threatdesk_" + std::to_string(rng());
  const std::string mixed = "=_threatdesk_mixed_" + std::to_string(rng());

  auto body = [&](std::string& part) {
    if (m.html.empty()) {
      appendTextPart(part, "plain", m.text);
      return;
    }
    part += "Content-Type: multipart/alternative; boundary=\"" + alternative + "\"\r\n\r\n";
    part += "--" + alternative + "\r\n";
    appendTextPart(part, "plain", m.text);
    part += "--" + alternative + "\r\n";
    appendTextPart(part, "html", m.html);
    part += "--" + alternative + "--\r\n";
  };

  if (m.attachments.empty()) {
    body(out);
    return out;
  }
  out += "Content-Type: multipart/mixed; boundary=\"" + mixed + "\"\r\n\r\n";
  out += "--" + mixed + "\r\n";
  body(out);
  for (const auto& a : m.attachments) {
    out += "--" + mixed + "\r\n";
    out += attachmentHeaders(a) + "\r\n";
    out += "Content-Transfer-Encoding: base64\r\n\r\n";
    out += wrap76(base64Encode(a.bytes));
  }
  out += "--" + mixed + "--\r\n";
  return out;
}

}  // namespace td::respond
