// CSV and plain-list import (abuse.ch, C2IntelFeeds, ThreatFox host files, one value a line).
#include <algorithm>
#include <charconv>

#include "core/text.h"
#include "intel/feeds.h"

namespace td::intel {
namespace {

using core::ErrorCode;
using core::fail;

// One line into fields: RFC 4180 quoting ("a ""b""") within a line.
std::vector<std::string> splitCsv(std::string_view line, char delim) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cur.push_back(c);
      }
    } else if (c == '"' && core::trim(cur).empty()) {
      cur.clear();
      quoted = true;
    } else if (c == delim) {
      out.emplace_back(core::trim(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.emplace_back(core::trim(cur));
  return out;
}

std::optional<size_t> asIndex(const std::string& col) {
  if (col.empty()) return std::nullopt;
  size_t v = 0;
  auto [p, ec] = std::from_chars(col.data(), col.data() + col.size(), v);
  if (ec != std::errc() || p != col.data() + col.size()) return std::nullopt;
  return v;
}

std::optional<size_t> findName(const std::vector<std::string>& header, std::string_view name) {
  for (size_t i = 0; i < header.size(); ++i)
    if (core::equalsIgnoreCase(header[i], name)) return i;
  return std::nullopt;
}

const std::initializer_list<std::string_view> kValueNames = {
    "ioc", "ioc_value", "indicator", "value", "dst_ip", "ip", "ip_address", "address", "domain",
    "host", "hostname", "url", "sha256_hash", "md5_hash", "sha1_hash", "sha256", "md5", "sha1"};

std::optional<size_t> guessColumn(const std::vector<std::string>& header,
                                  std::initializer_list<std::string_view> names) {
  for (auto n : names)
    if (auto i = findName(header, n)) return i;
  return std::nullopt;
}

}  // namespace

core::Result<FeedBatch> parseCsv(std::string_view text, const CsvMapping& m, const FeedInfo& feed) {
  FeedBatch batch;
  batch.feed = feed;
  batch.report.feed = feed.name;
  if (text.size() > kMaxFeedBytes) return fail(ErrorCode::kTooLarge, "feed over 2 GiB", feed.name);
  if (text.find('\0') != std::string_view::npos)
    return fail(ErrorCode::kInvalidArgument, "not a text feed (it holds NUL bytes)", feed.name);

  // Split into numbered lines, remembering the last comment before the first data line: some
  // feeds put their header there ("#ip,ioc").
  struct Line {
    size_t number;
    std::string_view text;
  };
  std::vector<Line> data;
  std::string_view last_comment;
  size_t number = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    ++number;
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view t = core::trim(line);
    if (t.empty()) {
      if (end == text.size()) break;
      continue;
    }
    if (m.comment != 0 && t.front() == m.comment) {
      if (data.empty()) last_comment = t.substr(1);
    } else {
      data.push_back({number, line});
    }
    if (end == text.size()) break;
  }

  // Header: the first data line when it names the columns, else the last leading comment.
  std::vector<std::string> header;
  size_t first_row = 0;
  auto names_value = [&](const std::vector<std::string>& h) {
    if (!m.value_column.empty() && !asIndex(m.value_column)) return findName(h, m.value_column).has_value();
    return guessColumn(h, kValueNames).has_value();
  };
  if (!data.empty()) {
    auto first = splitCsv(data[0].text, m.delimiter);
    bool first_is_indicator = false;
    size_t probe = asIndex(m.value_column).value_or(0);
    if (probe < first.size()) first_is_indicator = static_cast<bool>(normalizeGuess(first[probe]));
    if (names_value(first) && !first_is_indicator) {
      header = std::move(first);
      first_row = 1;
    } else if (!last_comment.empty()) {
      auto h = splitCsv(last_comment, m.delimiter);
      if (names_value(h)) header = std::move(h);
    }
  }
  auto column = [&](const std::string& spec, std::initializer_list<std::string_view> guesses,
                    const char* what) -> core::Result<std::optional<size_t>> {
    if (spec.empty()) return guessColumn(header, guesses);
    if (auto i = asIndex(spec)) return std::optional<size_t>(*i);
    if (auto i = findName(header, spec)) return std::optional<size_t>(*i);
    return fail(ErrorCode::kInvalidArgument,
                std::string(what) + " column \"" + spec + "\" is not in the header" +
                    (header.empty() ? " (no header found)" : ""),
                feed.name + ":" + std::to_string(data.empty() ? 1 : data[0].number));
  };
  // The value column: as mapped, else the first column (preferring known indicator names) whose
  // first data row holds an indicator.
  size_t vcol = 0;
  if (!m.value_column.empty()) {
    auto value_col = column(m.value_column, {}, "value");
    if (!value_col) return fail(value_col.error());
    vcol = value_col->value_or(0);
  } else if (first_row < data.size()) {
    auto row = splitCsv(data[first_row].text, m.delimiter);
    std::optional<size_t> known, any;
    for (size_t i = 0; i < row.size(); ++i) {
      bool ok = m.type ? static_cast<bool>(normalizeValue(*m.type, row[i]))
                       : static_cast<bool>(normalizeGuess(row[i]));
      if (!ok) continue;
      if (!any) any = i;
      if (!known && i < header.size() && guessColumn({header[i]}, kValueNames)) known = i;
    }
    vcol = known ? *known : any.value_or(0);
  }
  auto first_seen = column(m.first_seen_column, {"first_seen_utc", "first_seen", "firstseen", "date_added"}, "first-seen");
  auto last_seen = column(m.last_seen_column, {"last_seen_utc", "last_seen", "last_online", "lastseen"}, "last-seen");
  auto malware = column(m.malware_column, {"malware", "malware_printable", "malware_family", "threat"}, "malware");
  auto conf = column(m.confidence_column, {"confidence", "confidence_level"}, "confidence");
  auto label = column(m.label_column, {}, "label");
  for (auto* r : {&first_seen, &last_seen, &malware, &conf, &label})
    if (!*r) return fail(r->error());

  size_t good = 0;
  for (size_t r = first_row; r < data.size(); ++r) {
    const Line& line = data[r];
    std::string where = "line " + std::to_string(line.number);
    auto fields = splitCsv(line.text, m.delimiter);
    if (vcol >= fields.size()) {
      batch.report.reject(where, std::string(line.text.substr(0, 200)),
                          "no column " + std::to_string(vcol));
      continue;
    }
    const std::string& raw = fields[vcol];
    auto n = m.type ? normalizeValue(*m.type, raw) : normalizeGuess(raw);
    if (!n) {
      batch.report.reject(where, raw.substr(0, 200), n.error().message);
      continue;
    }
    IndicatorDraft d;
    d.type = n->type;
    d.value = std::move(n->value);
    d.confidence = m.confidence;
    auto field = [&](const std::optional<size_t>& c) -> std::string_view {
      return c && *c < fields.size() ? std::string_view(fields[*c]) : std::string_view();
    };
    if (auto t = field(*first_seen); !t.empty()) d.first_seen = parseFeedTime(t).value_or(0);
    if (auto t = field(*last_seen); !t.empty()) d.last_seen = parseFeedTime(t).value_or(0);
    d.context.malware = std::string(field(*malware));
    if (auto t = field(*conf); !t.empty()) {
      int c = -1;
      std::from_chars(t.data(), t.data() + t.size(), c);
      if (c >= 0 && c <= 100) d.confidence = c;
    }
    if (auto t = field(*label); !t.empty()) d.context.labels.emplace_back(t);
    batch.indicators.push_back(std::move(d));
    batch.where.push_back(std::move(where));
    ++good;
  }
  // Nothing usable in a non-empty feed means the mapping or the file is wrong, not the rows.
  if (good == 0 && batch.report.rejected > 0) {
    const auto& first = batch.report.rejections.front();
    return fail(ErrorCode::kInvalidArgument,
                "no row holds an indicator (first: \"" + first.value + "\": " + first.reason + ")",
                feed.name + ": " + first.where);
  }
  return batch;
}

}  // namespace td::intel
