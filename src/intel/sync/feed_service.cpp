#include "intel/sync/feed_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/time.h"
#include "intel/sync/http_fetch.h"
#include "intel/sync/taxii_client.h"
#include "intel/taxii.h"

namespace td::intel::sync {
namespace {

using core::ErrorCode;
using core::fail;
using Json = nlohmann::json;

constexpr int kMaxRefreshMinutes = 366 * 24 * 60;

std::string errorLine(const core::Error& e) {
  return e.field.empty() ? e.message : e.field + ": " + e.message;
}

Json itemsJson(const std::vector<ImportReport::Item>& items) {
  Json a = Json::array();
  for (const auto& i : items) a.push_back({{"where", i.where}, {"value", i.value}, {"reason", i.reason}});
  return a;
}

std::string contextJson(const Context& c) {
  if (c == Context{}) return "";
  Json j = Json::object();
  if (!c.name.empty()) j["name"] = c.name;
  if (!c.actor.empty()) j["actor"] = c.actor;
  if (!c.malware.empty()) j["malware"] = c.malware;
  if (!c.attack_ids.empty()) j["attack_ids"] = c.attack_ids;
  if (!c.report.empty()) j["report"] = c.report;
  if (!c.labels.empty()) j["labels"] = c.labels;
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Context contextOf(const std::string& text) {
  Context c;
  if (text.empty()) return c;
  Json j = Json::parse(text, nullptr, false);
  if (!j.is_object()) return c;
  auto str = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto list = [&](const char* k) {
    std::vector<std::string> out;
    auto it = j.find(k);
    if (it != j.end() && it->is_array())
      for (const auto& v : *it)
        if (v.is_string()) out.push_back(v.get<std::string>());
    return out;
  };
  c.name = str("name");
  c.actor = str("actor");
  c.malware = str("malware");
  c.report = str("report");
  c.attack_ids = list("attack_ids");
  c.labels = list("labels");
  return c;
}

// The store's row for a draft: a const draft's strings are copied, a draft passed as an rvalue
// gives up its value and external id.
template <typename Draft>
store::IntelIndicatorRow rowOf(Draft&& d, const std::string* context_json = nullptr) {
  store::IntelIndicatorRow r;
  r.type = std::string(indicatorTypeName(d.type));
  r.value = std::forward<Draft>(d).value;
  if (!d.atoms.empty()) {
    Json a = Json::array();
    for (const auto& atom : d.atoms) a.push_back({std::string(indicatorTypeName(atom.type)), atom.value});
    r.atoms_json = a.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  r.external_id = std::forward<Draft>(d).external_id;
  r.confidence = d.confidence;
  r.first_seen = d.first_seen;
  r.last_seen = d.last_seen;
  r.valid_from = d.valid_from;
  r.valid_until = d.valid_until;
  r.context_json = context_json ? *context_json : contextJson(d.context);
  return r;
}

// Context JSON → Context, parsed once per distinct text: the rows of a feed share few contexts,
// and a JSON parse per row was most of a million-row load.
class ContextCache {
 public:
  const Context& get(const std::string& text) {
    if (text.empty() || text == "{}") return empty_;
    if (text == last_text_) return *last_;
    auto it = map_.find(text);
    if (it == map_.end()) {
      if (map_.size() >= kMaxEntries) {
        scratch_ = contextOf(text);
        last_text_.clear();
        return scratch_;
      }
      it = map_.emplace(text, contextOf(text)).first;
    }
    last_text_ = text;
    last_ = &it->second;
    return it->second;
  }

 private:
  static constexpr size_t kMaxEntries = 1 << 16;
  std::unordered_map<std::string, Context> map_;
  std::string last_text_;
  const Context* last_ = nullptr;
  Context empty_, scratch_;
};

std::optional<IndicatorDraft> draftOf(const store::IntelIndicatorRow& r,
                                      ContextCache* contexts = nullptr) {
  auto type = parseIndicatorType(r.type);
  if (!type) return std::nullopt;
  IndicatorDraft d;
  d.type = *type;
  d.value = r.value;
  if (!r.atoms_json.empty()) {
    Json a = Json::parse(r.atoms_json, nullptr, false);
    if (a.is_array())
      for (const auto& pair : a) {
        if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string())
          continue;
        auto at = parseIndicatorType(pair[0].get<std::string>());
        if (!at) continue;
        d.atoms.push_back({*at, pair[1].get<std::string>()});
      }
    if (d.type == IndicatorType::kCompound && d.atoms.size() < 2) return std::nullopt;
  }
  d.external_id = r.external_id;
  d.confidence = r.confidence;
  d.first_seen = r.first_seen;
  d.last_seen = r.last_seen;
  d.valid_from = r.valid_from;
  d.valid_until = r.valid_until;
  d.context = contexts ? contexts->get(r.context_json) : contextOf(r.context_json);
  return d;
}

std::optional<FeedFormat> formatOf(const std::string& type) {
  if (type == "taxii") return FeedFormat::kStix;
  return parseFeedFormat(type);
}

// A secret of "env:NAME" is read from the environment at use, so it need not be stored.
core::Result<std::string> resolveSecret(const std::string& secret) {
  if (secret.rfind("env:", 0) != 0) return secret;
  const std::string name = secret.substr(4);
  const char* value = std::getenv(name.c_str());
  if (value == nullptr)
    return fail(ErrorCode::kUnprocessable,
                "the feed's secret names environment variable " + name + ", which is not set",
                "credentials");
  return std::string(value);
}

}  // namespace

std::string importReportJson(const ImportReport& r) {
  Json j = {{"feed", r.feed},
            {"added", r.added},
            {"updated", r.updated},
            {"expired", r.expired},
            {"suppressed", r.suppressed},
            {"rejected", r.rejected},
            {"rejections", itemsJson(r.rejections)},
            {"suppressions", itemsJson(r.suppressions)},
            {"warnings", r.warnings}};
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

core::Result<CsvMapping> parseCsvMapping(const std::string& mapping_json) {
  CsvMapping m;
  if (mapping_json.empty()) return m;
  Json j = Json::parse(mapping_json, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail(ErrorCode::kInvalidArgument, "mapping must be a JSON object", "mapping");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const Json& v = it.value();
    const std::string field = "mapping." + key;
    auto text = [&]() -> core::Result<std::string> {
      if (v.is_string()) return v.get<std::string>();
      if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
      return fail(ErrorCode::kInvalidArgument, "expected a column name or number", field);
    };
    if (key == "column" || key == "first_seen_column" || key == "last_seen_column" ||
        key == "malware_column" || key == "confidence_column" || key == "label_column") {
      auto t = text();
      if (!t) return fail(t.error());
      if (t->size() > 128) return fail(ErrorCode::kUnprocessable, "column name too long", field);
      (key == "column"              ? m.value_column
       : key == "first_seen_column" ? m.first_seen_column
       : key == "last_seen_column"  ? m.last_seen_column
       : key == "malware_column"    ? m.malware_column
       : key == "confidence_column" ? m.confidence_column
                                    : m.label_column) = *t;
    } else if (key == "type") {
      if (!v.is_string()) return fail(ErrorCode::kInvalidArgument, "expected a string", field);
      auto t = parseIndicatorType(v.get<std::string>());
      if (!t || *t == IndicatorType::kCompound)
        return fail(ErrorCode::kUnprocessable,
                    "unknown indicator type (ip, cidr, domain, url, md5, sha1, sha256, sha512, "
                    "email, filename)",
                    field);
      m.type = *t;
    } else if (key == "delimiter") {
      if (!v.is_string() || v.get<std::string>().size() != 1)
        return fail(ErrorCode::kUnprocessable, "expected one character", field);
      m.delimiter = v.get<std::string>()[0];
    } else if (key == "confidence") {
      if (!v.is_number_integer() || v.get<int>() < 0 || v.get<int>() > 100)
        return fail(ErrorCode::kUnprocessable, "expected 0-100", field);
      m.confidence = v.get<int>();
    } else {
      return fail(ErrorCode::kUnprocessable, "unknown mapping member", field);
    }
  }
  return m;
}

FeedService::FeedService(store::Store& store, FeedServiceOptions options)
    : store_(store), options_(std::move(options)) {
  if (!options_.warninglists_dir.empty()) {
    warninglists_ = std::make_unique<Warninglists>();
    if (auto s = warninglists_->loadDirectory(options_.warninglists_dir); !s) {
      spdlog::warn("intel: warninglists not loaded: {}", errorLine(s.error()));
      warninglists_.reset();
    }
  }
}

FeedService::~FeedService() { stop(); }

core::Status FeedService::validateFeed(const store::IntelFeed& f,
                                      const store::IntelFeed* before) const {
  if (f.name.empty() || f.name.size() > core::kMaxShortText)
    return fail(ErrorCode::kUnprocessable, "a feed needs a name of 1-256 characters", "name");
  for (unsigned char c : f.name)
    if (c < 0x20) return fail(ErrorCode::kUnprocessable, "name has control characters", "name");
  if (std::find(std::begin(kFeedTypes), std::end(kFeedTypes), f.type) == std::end(kFeedTypes))
    return fail(ErrorCode::kUnprocessable,
                "unknown feed type '" + f.type.substr(0, 64) +
                    "' (expected stix, misp, misp-feed, csv, taxii or auto)",
                "type");
  if (f.source.empty() || f.source.size() > 4096)
    return fail(ErrorCode::kUnprocessable,
                "a feed needs a source: a URL, a file path or \"upload\"", "source");
  const bool url = isHttpUrl(f.source);
  if (f.type == "taxii" && !url)
    return fail(ErrorCode::kUnprocessable,
                "a TAXII feed's source is the collection URL (https://host/api-root/collections/ID/)",
                "source");
  if (f.type == "misp-feed" && url)
    return fail(ErrorCode::kUnprocessable,
                "a MISP feed is a directory; fetch one event export as type misp instead",
                "source");
  const bool source_changed = before == nullptr || before->source != f.source;
  if (!url && f.source != kUploadSource && !options_.allow_local_sources && source_changed)
    return fail(ErrorCode::kUnprocessable,
                "local file paths are not accepted here; give an http(s) URL or \"upload\" and "
                "upload the file",
                "source");
  if (f.refresh_minutes < 0 || f.refresh_minutes > kMaxRefreshMinutes)
    return fail(ErrorCode::kUnprocessable, "refresh_minutes must be 0 (manual) to 527040",
                "refresh_minutes");
  if (f.refresh_minutes > 0 && f.source == kUploadSource)
    return fail(ErrorCode::kUnprocessable, "a feed fed by uploads has nothing to refresh",
                "refresh_minutes");
  if (f.default_confidence < 0 || f.default_confidence > 100)
    return fail(ErrorCode::kUnprocessable, "default_confidence must be 0-100",
                "default_confidence");
  if (f.username.size() > 256 || f.secret.size() > 4096)
    return fail(ErrorCode::kUnprocessable, "credentials too long", "credentials");
  if (auto m = parseCsvMapping(f.mapping_json); !m) return fail(m.error());
  return {};
}

core::Result<store::IntelFeed> FeedService::createFeed(store::IntelFeed feed) {
  if (feed.mapping_json.empty()) feed.mapping_json = "{}";
  if (auto s = validateFeed(feed); !s) return fail(s.error());
  feed.next_run_at = feed.refresh_minutes > 0 ? std::optional<core::TimeMs>(core::nowMs())
                                              : std::nullopt;
  auto created = store_.intel().createFeed(feed);
  if (!created) return created;
  return created;  // no indicators yet: the index is unchanged
}

core::Result<store::IntelFeed> FeedService::updateFeed(store::IntelFeed feed) {
  if (feed.mapping_json.empty()) feed.mapping_json = "{}";
  auto old = store_.intel().getFeed(feed.id);
  if (!old) return fail(old.error());
  if (auto s = validateFeed(feed, &*old); !s) return fail(s.error());
  feed.org_id = old->org_id;
  if (feed.refresh_minutes == 0) {
    feed.next_run_at = std::nullopt;
  } else if (old->refresh_minutes != feed.refresh_minutes || !old->next_run_at) {
    const core::TimeMs base = old->last_import_at.value_or(0);
    feed.next_run_at = std::max(core::nowMs(), base + feed.refresh_minutes * core::TimeMs{60'000});
  } else {
    feed.next_run_at = old->next_run_at;
  }
  std::lock_guard lock(import_mu_);
  auto updated = store_.intel().updateFeed(feed);
  if (!updated) return updated;
  if (old->enabled != updated->enabled || old->name != updated->name ||
      old->default_confidence != updated->default_confidence) {
    bool known;
    {
      std::lock_guard l(mu_);
      known = orgs_.count(updated->org_id) != 0;
    }
    if (known) {
      if (auto s = reloadLocked(updated->org_id); !s) return fail(s.error());
    }
  }
  return updated;
}

core::Status FeedService::deleteFeed(store::IntelFeedId id) {
  auto old = store_.intel().getFeed(id);
  if (!old) return fail(old.error());
  std::lock_guard lock(import_mu_);
  if (auto s = store_.intel().deleteFeed(id); !s) return s;
  bool known;
  {
    std::lock_guard l(mu_);
    known = orgs_.count(old->org_id) != 0;
  }
  if (known) return reloadLocked(old->org_id);
  return {};
}

core::Result<FeedBatch> FeedService::fetch(const store::IntelFeed& feed, bool& incremental,
                                           std::string& cursor) {
  FeedInfo info{feed.name, feed.default_confidence};
  incremental = false;
  cursor = feed.cursor;
  if (feed.source == kUploadSource)
    return fail(ErrorCode::kUnprocessable,
                "feed '" + feed.name + "' takes uploaded files only; upload one to import it",
                "source");
  auto mapping = parseCsvMapping(feed.mapping_json);
  if (!mapping) return fail(mapping.error());
  std::string password;
  if (!feed.username.empty()) {
    auto secret = resolveSecret(feed.secret);
    if (!secret) return fail(secret.error());
    password = *secret;
  }
  if (feed.type == "taxii") {
    TaxiiPoll poll;
    poll.collection_url = feed.source;
    poll.username = feed.username;
    poll.password = password;
    poll.added_after = feed.cursor;
    poll.page_limit = options_.taxii_page_limit;
    poll.timeout_seconds = options_.fetch_timeout_seconds;
    auto polled = pollTaxii(poll);
    if (!polled) return fail(polled.error());
    // With a cursor only what was added since comes back: merge it into the feed. Without one
    // (first poll, or a server that never says how far it got) the poll is the whole feed.
    incremental = !feed.cursor.empty();
    if (!polled->date_added_last.empty()) cursor = polled->date_added_last;
    const std::string bundle = stixBundleOf(polled->objects);
    return parseStixBundle(bundle, info);
  }
  auto format = formatOf(feed.type);
  if (!format) return fail(ErrorCode::kUnprocessable, "unknown feed type", "type");
  if (isHttpUrl(feed.source)) {
    HttpGet get;
    get.url = feed.source;
    get.username = feed.username;
    get.password = password;
    get.timeout_seconds = options_.fetch_timeout_seconds;
    auto answer = httpGet(get);
    if (!answer) return fail(answer.error());
    if (answer->status == 401 || answer->status == 403)
      return fail(ErrorCode::kUnauthenticated,
                  "the feed's server refused the credentials (HTTP " +
                      std::to_string(answer->status) + ")",
                  "credentials");
    if (answer->status < 200 || answer->status >= 300)
      return fail(ErrorCode::kUnavailable,
                  "fetching " + feed.source + " answered HTTP " + std::to_string(answer->status),
                  "source");
    auto text = inflateIfGzip(std::move(answer->body));
    if (!text) return fail(text.error());
    return parseFeedText(*text, *format, *mapping, info);
  }
  // A file path can only have been set where local sources are allowed (the CLI): the server
  // refreshes such a feed from the file it names.
  return loadFeed(feed.source, *format, *mapping, info);
}

core::Result<ImportOutcome> FeedService::importFeed(store::IntelFeedId id,
                                                    const std::string& trigger) {
  auto feed = store_.intel().getFeed(id);
  if (!feed) return fail(feed.error());
  const core::TimeMs started = core::nowMs();
  bool incremental = false;
  std::string cursor;
  // Fetching happens outside the import lock: a slow server does not hold up other imports.
  auto batch = fetch(*feed, incremental, cursor);
  return runImport(
      *feed, [&]() -> core::Result<FeedBatch> { return std::move(batch); }, incremental, cursor,
      trigger, started);
}

core::Result<ImportOutcome> FeedService::importContent(store::IntelFeedId id, std::string content,
                                                       const std::string& trigger) {
  auto feed = store_.intel().getFeed(id);
  if (!feed) return fail(feed.error());
  const core::TimeMs started = core::nowMs();
  auto parse = [&]() -> core::Result<FeedBatch> {
    auto text = inflateIfGzip(std::move(content));
    if (!text) return fail(text.error());
    auto mapping = parseCsvMapping(feed->mapping_json);
    if (!mapping) return fail(mapping.error());
    auto format = formatOf(feed->type);
    if (!format) return fail(ErrorCode::kUnprocessable, "unknown feed type", "type");
    if (*format == FeedFormat::kMispFeed) format = FeedFormat::kMispEvent;  // one event file
    return parseFeedText(*text, *format, *mapping, FeedInfo{feed->name, feed->default_confidence});
  };
  return runImport(*feed, parse, false, feed->cursor, trigger, started);
}

core::Result<ImportOutcome> FeedService::runImport(
    const store::IntelFeed& feed, const std::function<core::Result<FeedBatch>()>& parse,
    bool incremental, const std::string& cursor, const std::string& trigger,
    core::TimeMs started) {
  auto batch = parse();
  std::lock_guard lock(import_mu_);
  ImportOutcome out;
  out.record.feed_id = feed.id;
  out.record.started_at = started;
  out.record.trigger = trigger;
  if (!batch) {
    // Recorded so that the feed shows why it is stale; its indicators stay as they were.
    out.record.ok = false;
    out.record.error = errorLine(batch.error());
    out.record.finished_at = core::nowMs();
    if (auto r = store_.intel().recordImport(out.record, {}, false, cursor); !r)
      spdlog::warn("intel: feed {}: cannot record the failed import: {}", feed.name,
                   r.error().message);
    spdlog::warn("intel: feed {} ({}): import failed: {}", feed.name, trigger, out.record.error);
    return fail(batch.error());
  }
  // An organisation whose index is in memory builds on it and swaps in the result. Otherwise no
  // index is built: the import is counted against the keys of the organisation's stored rows
  // (countImport reports what adding to the index loaded from them would) and the index is loaded
  // from the store when it is first used.
  std::shared_ptr<LiveIndex> live;
  {
    std::lock_guard l(mu_);
    auto it = orgs_.find(feed.org_id);
    if (it != orgs_.end()) live = it->second.live;
  }
  BuildOptions bo;
  bo.now = core::nowMs();
  bo.warninglists = warninglists_.get();
  std::vector<store::IntelIndicatorRow> rows;
  rows.reserve(batch->indicators.size());
  // The context JSON once per run of equal contexts, not once per row.
  Context last_context;
  std::string last_json;
  bool have_last = false;
  auto keep = [&](auto&& d) {
    const bool same = have_last && d.context == last_context;
    if (!same) {
      last_context = d.context;
      have_last = true;
    }
    rows.push_back(rowOf(std::forward<decltype(d)>(d), same ? &last_json : nullptr));
    if (!same) last_json = rows.back().context_json;
  };
  std::optional<IndexBuilder> builder;
  KeySet known;
  if (!live) {
    known.reserve(batch->indicators.size(), batch->indicators.size() * 32);
    auto feeds = keysFromStore(known, feed.org_id, bo.now);
    if (!feeds) return fail(feeds.error());
    // Past the builder's feed limit only the builder says what happens.
    if (*feeds >= 0xffff) {
      builder.emplace();
      if (auto s = fillFromStore(*builder, feed.org_id, bo.now); !s) return fail(s.error());
    }
  } else {
    builder.emplace(*live->load());
  }
  if (builder) {
    out.report = builder->add(std::move(*batch), bo, !incremental,
                              [&](const IndicatorDraft& d) { keep(d); });
  } else {
    out.report = countImport(std::move(*batch), bo, known,
                             [&](IndicatorDraft& d) { keep(std::move(d)); });
  }
  out.record.ok = true;
  out.record.added = static_cast<std::int64_t>(out.report.added);
  out.record.updated = static_cast<std::int64_t>(out.report.updated);
  out.record.expired = static_cast<std::int64_t>(out.report.expired);
  out.record.suppressed = static_cast<std::int64_t>(out.report.suppressed);
  out.record.rejected = static_cast<std::int64_t>(out.report.rejected);
  out.record.report_json = importReportJson(out.report);
  out.record.finished_at = core::nowMs();
  auto recorded = store_.intel().recordImport(out.record, rows, !incremental, cursor);
  if (!recorded) return fail(recorded.error());
  out.record = *recorded;
  // The store holds the import now; the live index follows (a disabled feed stays out of it).
  if (live) {
    if (feed.enabled) live->store(builder->build());
    auto version = store_.intel().intelVersion(feed.org_id);
    std::lock_guard l(mu_);
    if (version) orgs_[feed.org_id].version = *version;
  }
  const auto& w = out.record.writes;
  spdlog::info(
      "intel: feed {} ({}): added {}, updated {}, expired {}, suppressed {}, rejected {}; stored "
      "rows: {} inserted, {} updated, {} deleted, {} unchanged",
      feed.name, trigger, out.report.added, out.report.updated, out.report.expired,
      out.report.suppressed, out.report.rejected, w.inserted, w.updated, w.deleted, w.unchanged);
  return out;
}

core::Status FeedService::fillFromStore(IndexBuilder& builder, core::OrgId org,
                                       core::TimeMs now) {
  std::optional<FeedBatch> batch;
  auto flush = [&] {
    if (batch) builder.add(std::move(*batch), BuildOptions{now, nullptr}, true);
    batch.reset();
  };
  store::IntelFeedId current = 0;
  ContextCache contexts;
  auto s = store_.intel().forEachIndicator(
      org, true, [&](const store::IntelFeed& feed, const store::IntelIndicatorRow& row) {
        if (feed.id != current) {
          flush();
          current = feed.id;
          batch.emplace();
          batch->feed = FeedInfo{feed.name, feed.default_confidence};
        }
        // Rows whose validity has ended stay out, as an index built from the store leaves them
        // out: an import building on these rows counts such a value as added, not updated.
        if (row.valid_until != 0 && row.valid_until < now) return true;
        if (auto d = draftOf(row, &contexts)) batch->indicators.push_back(std::move(*d));
        return true;
      });
  if (!s) return fail(s.error());
  flush();
  return {};
}

core::Result<size_t> FeedService::keysFromStore(KeySet& known, core::OrgId org,
                                                core::TimeMs now) {
  size_t feeds = 0;
  store::IntelFeedId current = 0;
  auto s = store_.intel().forEachIndicator(
      org, true, [&](const store::IntelFeed& feed, const store::IntelIndicatorRow& row) {
        if (feed.id != current) {
          ++feeds;
          current = feed.id;
        }
        // What fillFromStore would leave out.
        if (row.valid_until != 0 && row.valid_until < now) return true;
        auto type = parseIndicatorType(row.type);
        if (!type) return true;
        if (*type == IndicatorType::kCompound && !draftOf(row)) return true;
        known.insert(*type, row.value);
        return true;
      });
  if (!s) return fail(s.error());
  return feeds;
}

core::Result<std::shared_ptr<const Index>> FeedService::buildFromStore(core::OrgId org) {
  IndexBuilder builder;
  if (auto s = fillFromStore(builder, org, core::nowMs()); !s) return fail(s.error());
  return builder.build();
}

std::shared_ptr<LiveIndex> FeedService::entryLocked(core::OrgId org) {
  {
    std::lock_guard l(mu_);
    auto it = orgs_.find(org);
    if (it != orgs_.end() && it->second.live) return it->second.live;
  }
  auto live = std::make_shared<LiveIndex>();
  {
    std::lock_guard l(mu_);
    orgs_[org].live = live;
  }
  if (auto s = reloadLocked(org); !s)
    spdlog::error("intel: cannot load the indicators of organisation {}: {}", org,
                  s.error().message);
  return live;
}

core::Status FeedService::reloadLocked(core::OrgId org) {
  auto version = store_.intel().intelVersion(org);
  if (!version) return fail(version.error());
  auto built = buildFromStore(org);
  if (!built) return fail(built.error());
  std::shared_ptr<LiveIndex> live;
  {
    std::lock_guard l(mu_);
    OrgEntry& e = orgs_[org];
    if (!e.live) e.live = std::make_shared<LiveIndex>();
    e.version = *version;
    live = e.live;
  }
  live->store(std::move(*built));
  return {};
}

std::shared_ptr<const LiveIndex> FeedService::liveIndex(core::OrgId org) {
  {
    std::lock_guard l(mu_);
    auto it = orgs_.find(org);
    if (it != orgs_.end() && it->second.live) return it->second.live;
  }
  std::lock_guard lock(import_mu_);
  return entryLocked(org);
}

core::Status FeedService::reload(core::OrgId org) {
  std::lock_guard lock(import_mu_);
  return reloadLocked(org);
}

int FeedService::runDue(core::TimeMs now) {
  int imported = 0;
  auto due = store_.intel().claimDueFeeds(now, options_.lease_ms, 16);
  if (!due) {
    spdlog::warn("intel: cannot claim due feeds: {}", due.error().message);
  } else {
    for (const auto& feed : *due) {
      {
        std::lock_guard l(mu_);
        if (stopping_) break;
      }
      auto r = importFeed(feed.id, "schedule");
      if (r) ++imported;
      const core::TimeMs next = core::nowMs() + feed.refresh_minutes * core::TimeMs{60'000};
      if (auto s = store_.intel().setNextRun(feed.id, next); !s)
        spdlog::warn("intel: feed {}: cannot schedule the next run: {}", feed.name,
                     s.error().message);
    }
  }
  // Imports made by another node or the CLI: reload what changed.
  std::vector<std::pair<core::OrgId, std::int64_t>> known;
  {
    std::lock_guard l(mu_);
    for (const auto& [org, e] : orgs_) known.emplace_back(org, e.version);
  }
  for (const auto& [org, version] : known) {
    auto now_version = store_.intel().intelVersion(org);
    if (now_version && *now_version != version) {
      if (auto s = reload(org); !s)
        spdlog::warn("intel: cannot reload organisation {}: {}", org, s.error().message);
    }
  }
  return imported;
}

void FeedService::start() {
  std::lock_guard l(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void FeedService::stop() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void FeedService::loop() {
  while (true) {
    runDue(core::nowMs());
    std::unique_lock l(mu_);
    wake_.wait_for(l, std::chrono::milliseconds(options_.tick_ms), [this] { return stopping_; });
    if (stopping_) return;
  }
}

}  // namespace td::intel::sync
