// The RFC 5322 / MIME message of an e-mail delivery: text and HTML as multipart/alternative, and
// attachments (a scheduled report's PDF) around it as multipart/mixed. Bodies and attachments are
// base64 in 76-character lines; non-ASCII subjects are RFC 2047 encoded words (folded, split on
// UTF-8 character boundaries); non-ASCII file names are RFC 2231 (filename*=UTF-8''...) with an
// RFC 2047 `name` for old clients. Header values lose CR and LF (no header injection).
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/time.h"

namespace td::respond {

struct Attachment {
  std::string file_name;     // shown to the recipient; any UTF-8
  std::string content_type;  // "application/pdf"
  std::string bytes;
};

struct EmailMessage {
  std::string from;
  std::vector<std::string> to;
  std::string subject;
  std::string text;
  std::string html;  // empty: a text-only message
  std::string
      message_id;  // "<key@threatdesk>", stable across retries so receivers can drop repeats
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<Attachment> attachments;
};

// The whole message. Without attachments: text/plain, or multipart/alternative (text, HTML).
// With attachments: multipart/mixed of that body and each attachment. Boundaries are derived
// from `now` and the message id, so a message built twice for one delivery is the same.
std::string buildMime(const EmailMessage& message, core::TimeMs now);

// Building blocks, exposed for the tests.
std::string base64Encode(std::string_view bytes);
// An RFC 2047 header value: ASCII stays as it is; otherwise "=?UTF-8?B?...?=" words of at most
// 75 characters, folded with CRLF SP. CR and LF are dropped first.
std::string encodeHeaderText(std::string_view value);
// The Content-Type and Content-Disposition lines of an attachment (without the final CRLF).
std::string attachmentHeaders(const Attachment& attachment);

}  // namespace td::respond
