// Feed files: reading (gzip-aware), format detection, timestamps.
#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <filesystem>

#include "core/text.h"
#include "intel/feeds.h"

namespace td::intel {
namespace {

using core::ErrorCode;
using core::fail;
namespace fs = std::filesystem;

}  // namespace

core::Result<std::string> readFileText(const std::string& path) {
  // gzread passes plain files through unchanged, so one reader serves both.
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return fail(ErrorCode::kNotFound, "cannot open file", path);
  gzbuffer(f, 1 << 17);
  std::string out;
  char buf[1 << 16];
  while (true) {
    int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      return fail(ErrorCode::kInvalidArgument, "cannot read file: " + msg, path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxFeedBytes) {
      gzclose(f);
      return fail(ErrorCode::kTooLarge, "file over 2 GiB", path);
    }
  }
  gzclose(f);
  return out;
}

std::optional<core::TimeMs> parseFeedTime(std::string_view text) {
  std::string_view s = core::trim(text);
  if (s.empty()) return std::nullopt;
  bool digits = s.find_first_not_of("0123456789") == std::string_view::npos;
  if (digits && s.size() <= 12 && s.size() >= 9) {
    long long v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v * 1000;
  }
  if (auto t = core::parseRfc3339(s)) return *t;
  // "2024-02-08 19:20:49" (abuse.ch, UTC) and "…T…" without a zone.
  if (s.size() >= 19 && (s[10] == ' ' || s[10] == 'T')) {
    std::string fixed(s.substr(0, 19));
    fixed[10] = 'T';
    fixed += 'Z';
    if (auto t = core::parseRfc3339(fixed)) return *t;
  }
  return std::nullopt;
}

std::optional<FeedFormat> parseFeedFormat(std::string_view name) {
  std::string n = core::toLower(name);
  if (n == "auto") return FeedFormat::kAuto;
  if (n == "stix") return FeedFormat::kStix;
  if (n == "misp") return FeedFormat::kMispEvent;
  if (n == "misp-feed") return FeedFormat::kMispFeed;
  if (n == "csv" || n == "list" || n == "txt") return FeedFormat::kCsv;
  return std::nullopt;
}

core::Result<FeedBatch> loadFeed(const std::string& path, FeedFormat format,
                                 const CsvMapping& mapping, FeedInfo feed) {
  std::error_code ec;
  fs::path p(path);
  if (feed.name.empty()) {
    feed.name = p.filename().string();
    if (feed.name.empty()) feed.name = p.parent_path().filename().string();
  }
  if (fs::is_directory(p, ec)) {
    if (format != FeedFormat::kAuto && format != FeedFormat::kMispFeed)
      return fail(ErrorCode::kInvalidArgument, "a directory can only be a MISP feed", path);
    if (!fs::exists(p / "manifest.json", ec))
      return fail(ErrorCode::kInvalidArgument, "directory has no manifest.json (not a MISP feed)",
                  path);
    return loadMispFeed(path, feed);
  }
  if (format == FeedFormat::kMispFeed) return loadMispFeed(p.parent_path().string(), feed);
  auto text = readFileText(path);
  if (!text) return fail(text.error());
  return parseFeedText(*text, format, mapping, feed);
}

core::Result<std::string> inflateIfGzip(std::string data) {
  if (data.size() < 2 || static_cast<unsigned char>(data[0]) != 0x1f ||
      static_cast<unsigned char>(data[1]) != 0x8b)
    return data;
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK)
    return fail(ErrorCode::kInternal, "cannot start gzip inflation", "content");
  z.next_in = reinterpret_cast<Bytef*>(data.data());
  z.avail_in = static_cast<uInt>(std::min<size_t>(data.size(), 0xffffffffu));
  std::string out;
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      return fail(ErrorCode::kInvalidArgument, "gzip data is corrupt", "content");
    }
    out.append(buf, sizeof buf - z.avail_out);
    if (out.size() > kMaxFeedBytes) {
      inflateEnd(&z);
      return fail(ErrorCode::kTooLarge, "feed inflates to more than 2 GiB", "content");
    }
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
      inflateEnd(&z);
      return fail(ErrorCode::kInvalidArgument, "gzip data is truncated", "content");
    }
  }
  inflateEnd(&z);
  return out;
}

core::Result<FeedBatch> parseFeedText(std::string_view text, FeedFormat format,
                                      const CsvMapping& mapping, const FeedInfo& feed) {
  if (format == FeedFormat::kMispFeed)
    return fail(ErrorCode::kInvalidArgument,
                "a MISP feed is a directory (manifest.json and event files); send one event "
                "export as format misp",
                "format");
  if (format == FeedFormat::kAuto) {
    std::string_view t = core::trim(text.substr(0, 4096));
    if (!t.empty() && (t.front() == '{' || t.front() == '[')) {
      // Bundles say "type": "bundle"; MISP events "Event" or "Attribute".
      std::string_view head = text.substr(0, 1 << 16);
      bool misp = head.find("\"Event\"") != std::string_view::npos ||
                  head.find("\"Attribute\"") != std::string_view::npos ||
                  head.find("\"response\"") != std::string_view::npos;
      bool stix = head.find("\"bundle\"") != std::string_view::npos ||
                  head.find("\"indicator--") != std::string_view::npos;
      format = (misp && !stix) ? FeedFormat::kMispEvent : FeedFormat::kStix;
    } else {
      format = FeedFormat::kCsv;
    }
  }
  switch (format) {
    case FeedFormat::kStix: return parseStixBundle(text, feed);
    case FeedFormat::kMispEvent: return parseMispEvent(text, feed);
    default: return parseCsv(text, mapping, feed);
  }
}

}  // namespace td::intel
