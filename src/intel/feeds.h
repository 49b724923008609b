// Feed importers: STIX 2.1 bundles, MISP event exports and MISP feeds, CSV and plain lists. Each
// parses a whole feed into a FeedBatch (drafts plus per-indicator rejections) without touching any
// index; IndexBuilder::add then merges the batch. A feed that is malformed as a whole (not JSON,
// not a bundle, a CSV without the mapped column) fails with an Error naming what and where, so the
// live index stays as it was.
//
// Pure functions (file loaders read only the named paths); safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "intel/index.h"

namespace td::intel {

constexpr size_t kMaxFeedBytes = 1ull << 31;  // 2 GiB: one feed document at most

// STIX 2.1 (and 2.0) bundle: indicators with stix patterns; relationships from an indicator to
// malware, threat-actor, intrusion-set, campaign and attack-pattern give its context; reports
// that list an indicator give its report link.
core::Result<FeedBatch> parseStixBundle(std::string_view json, const FeedInfo& feed);

// MISP event export ({"Event": {...}}, a bare event, or {"response": [{"Event": …}, …]}).
// Attributes with to_ids false, deleted attributes and attribute types without an indicator type
// are counted as ignored with the reason.
core::Result<FeedBatch> parseMispEvent(std::string_view json, const FeedInfo& feed);
// A MISP feed directory: manifest.json listing event uuids, one <uuid>.json per event.
core::Result<FeedBatch> loadMispFeed(const std::string& dir, const FeedInfo& feed);

// How to read a CSV or plain list. Columns are named (matched against the header, which may be the
// last comment line as in C2IntelFeeds' "#ip,ioc") or 0-based numbers; empty means "guess".
struct CsvMapping {
  std::string value_column;                // empty: a known indicator column name, else column 0
  std::optional<IndicatorType> type;       // empty: guess per value
  std::string first_seen_column;           // empty: guessed from the header ("first_seen…")
  std::string last_seen_column;            // empty: guessed ("last_seen", "last_online")
  std::string malware_column;              // empty: guessed ("malware", "malware_printable")
  std::string confidence_column;           // empty: guessed ("confidence", "confidence_level")
  std::string label_column;                // empty: none
  char delimiter = ',';
  char comment = '#';
  int confidence = -1;                     // for every row when no confidence column
};
core::Result<FeedBatch> parseCsv(std::string_view text, const CsvMapping& mapping,
                                 const FeedInfo& feed);

enum class FeedFormat { kAuto, kStix, kMispEvent, kMispFeed, kCsv };
std::optional<FeedFormat> parseFeedFormat(std::string_view name);

// Reads a feed file (or MISP feed directory); `.gz` files are inflated. kAuto looks at the content:
// a JSON bundle is STIX, a JSON event MISP, a directory with manifest.json a MISP feed, anything
// else CSV. The feed name defaults to the file's base name.
core::Result<FeedBatch> loadFeed(const std::string& path, FeedFormat format = FeedFormat::kAuto,
                                 const CsvMapping& mapping = {}, FeedInfo feed = {});

// Parses a feed held in memory (an upload, a download): as loadFeed without the file. kAuto looks
// at the content; kMispFeed is refused (a MISP feed is a directory).
core::Result<FeedBatch> parseFeedText(std::string_view text, FeedFormat format,
                                      const CsvMapping& mapping, const FeedInfo& feed);
// `data` inflated when it starts with the gzip magic, else unchanged.
core::Result<std::string> inflateIfGzip(std::string data);

// Reads a whole file, inflating gzip. Shared by the CLI and the benchmark.
core::Result<std::string> readFileText(const std::string& path);

// Feed timestamps: RFC 3339, "YYYY-MM-DD hh:mm:ss" (UTC), a bare date, or Unix seconds.
std::optional<core::TimeMs> parseFeedTime(std::string_view text);

}  // namespace td::intel
