#include "intel/matcher.h"

#include <simdjson.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/text.h"
#include "intel/url.h"

namespace td::intel {
namespace {

#include "intel/default_fields.inc"  // kDefaultFieldsYaml, generated from data/match_fields.yaml

using core::ErrorCode;
using core::fail;
using simdjson::dom::element;
using simdjson::dom::element_type;

struct SvHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

constexpr std::uint32_t kNoNode = UINT32_MAX;
constexpr int kMaxWalkDepth = 32;

std::string_view trimView(std::string_view s) { return core::trim(s); }

char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Looks a raw event value up as `kind`, calling hit(target) per indicator it matches. Shared by
// the intel index and the allow-list (which is an Index too).
template <typename F>
void lookupValue(const Index& ix, ValueKind kind, FieldMode mode, std::string_view raw, F&& hit) {
  std::string_view v = trimView(raw);
  if (v.empty() || v.size() > kMaxUrlLength) return;
  auto ip = [&](std::string_view s) -> bool {
    if (auto v4 = parseIpv4(s)) {
      ix.findIpv4(*v4, hit);
      return true;
    }
    if (s.find(':') == std::string_view::npos) return false;
    if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    if (auto v6 = parseIpv6(s)) {
      static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
      if (std::memcmp(v6->data(), kMapped, 12) == 0) {
        std::uint32_t a = (std::uint32_t{(*v6)[12]} << 24) | (std::uint32_t{(*v6)[13]} << 16) |
                          (std::uint32_t{(*v6)[14]} << 8) | (*v6)[15];
        ix.findIpv4(a, hit);
      } else {
        ix.findIpv6(*v6, hit);
      }
      return true;
    }
    return false;
  };
  switch (kind) {
    case ValueKind::kIp: ip(v); return;
    case ValueKind::kDomain: {
      if (ip(v)) return;
      std::string d = normalizeDomain(v);
      if (!d.empty()) ix.findDomain(d, hit);
      return;
    }
    case ValueKind::kUrl: {
      auto u = normalizeUrl(v);
      if (!u) return;
      ix.findString(IndicatorType::kUrl, *u, hit);
      std::string host = urlHost(*u);
      if (host.empty() || ip(host)) return;
      std::string d = normalizeDomain(host);
      if (!d.empty()) ix.findDomain(d, hit);
      return;
    }
    case ValueKind::kHash: {
      auto eq = v.find('=');
      if (eq != std::string_view::npos) v = trimView(v.substr(eq + 1));
      ix.findHash(v, hit);
      return;
    }
    case ValueKind::kEmail: {
      auto lt = v.find('<');
      if (lt != std::string_view::npos) {
        auto gt = v.find('>', lt);
        v = v.substr(lt + 1, gt == std::string_view::npos ? std::string_view::npos : gt - lt - 1);
      }
      auto n = normalizeValue(IndicatorType::kEmail, v);
      if (n) ix.findString(IndicatorType::kEmail, n->value, hit);
      return;
    }
    case ValueKind::kFileName: {
      if (mode == FieldMode::kBaseName) {
        auto slash = v.find_last_of("/\\");
        if (slash != std::string_view::npos) v.remove_prefix(slash + 1);
      }
      if (v.empty() || v.size() > 255) return;
      char buf[256];
      for (size_t i = 0; i < v.size(); ++i) buf[i] = lowerAscii(v[i]);
      ix.findString(IndicatorType::kFileName, std::string_view(buf, v.size()), hit);
      return;
    }
  }
}

bool isIpType(IndicatorType t) {
  return t == IndicatorType::kIpv4 || t == IndicatorType::kIpv6 || t == IndicatorType::kCidr4 ||
         t == IndicatorType::kCidr6;
}

std::optional<ValueKind> parseKind(const std::string& s) {
  if (s == "ip") return ValueKind::kIp;
  if (s == "domain") return ValueKind::kDomain;
  if (s == "url") return ValueKind::kUrl;
  if (s == "hash") return ValueKind::kHash;
  if (s == "email") return ValueKind::kEmail;
  if (s == "filename") return ValueKind::kFileName;
  return std::nullopt;
}

std::optional<FieldMode> parseMode(const std::string& s) {
  if (s.empty() || s == "value") return FieldMode::kValue;
  if (s == "sysmon_hashes") return FieldMode::kSysmonHashes;
  if (s == "basename") return FieldMode::kBaseName;
  if (s == "url") return FieldMode::kUrl;
  if (s == "email") return FieldMode::kEmail;
  return std::nullopt;
}

core::Result<MatchConfig> parseConfigImpl(std::string_view text) {
  YAML::Node root = YAML::Load(std::string(text));
  if (!root.IsMap()) return fail(ErrorCode::kInvalidArgument, "match config is not a mapping");
  MatchConfig c;
  const YAML::Node fields = root["fields"];
  if (!fields || !fields.IsSequence())
    return fail(ErrorCode::kInvalidArgument, "match config needs a \"fields\" list", "fields");
  for (size_t i = 0; i < fields.size(); ++i) {
    std::string where = "fields[" + std::to_string(i) + "]";
    const YAML::Node f = fields[i];
    if (!f.IsMap() || !f["path"] || !f["kind"])
      return fail(ErrorCode::kInvalidArgument, "a field needs \"path\" and \"kind\"", where);
    FieldRule r;
    r.path = f["path"].as<std::string>();
    if (r.path.empty()) return fail(ErrorCode::kInvalidArgument, "empty path", where);
    auto kind = parseKind(f["kind"].as<std::string>());
    if (!kind)
      return fail(ErrorCode::kInvalidArgument,
                  "unknown kind \"" + f["kind"].as<std::string>() +
                      "\" (ip, domain, url, hash, email, filename)",
                  where + ".kind");
    r.kind = *kind;
    auto mode = parseMode(f["mode"] ? f["mode"].as<std::string>() : std::string());
    if (!mode)
      return fail(ErrorCode::kInvalidArgument,
                  "unknown mode (value, sysmon_hashes, basename, url, email)", where + ".mode");
    r.mode = *mode;
    c.fields.push_back(std::move(r));
  }
  auto list = [&](const YAML::Node& n, std::vector<std::string>& out, const char* where)
      -> core::Status {
    if (!n) return {};
    if (!n.IsSequence())
      return fail(ErrorCode::kInvalidArgument, "expected a list of field paths", where);
    for (const auto& e : n) out.push_back(e.as<std::string>());
    return {};
  };
  if (root["entity"]) {
    if (auto st = list(root["entity"]["host"], c.host_fields, "entity.host"); !st) return fail(st.error());
    if (auto st = list(root["entity"]["user"], c.user_fields, "entity.user"); !st) return fail(st.error());
  }
  if (auto st = list(root["port"], c.port_fields, "port"); !st) return fail(st.error());
  if (auto st = list(root["bytes"], c.bytes_fields, "bytes"); !st) return fail(st.error());
  return c;
}

}  // namespace

// ---- MatchConfig ----------------------------------------------------------------------------

core::Result<MatchConfig> MatchConfig::parse(std::string_view text) {
  try {
    return parseConfigImpl(text);
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInvalidArgument, std::string("match config: ") + e.what());
  }
}

const MatchConfig& MatchConfig::defaults() {
  static const MatchConfig kDefaults = [] {
    auto c = parse(kDefaultFieldsYaml);
    return c ? *c : MatchConfig{};
  }();
  return kDefaults;
}

// ---- AllowList ------------------------------------------------------------------------------

AllowList::AllowList() : index_(std::make_shared<const Index>()) {}

core::Result<AllowList> AllowList::parse(const std::vector<std::string>& entries) {
  FeedBatch batch;
  batch.feed.name = "allow-list";
  for (size_t i = 0; i < entries.size(); ++i) {
    std::string_view e = core::trim(entries[i]);
    if (e.empty() || e.front() == '#') continue;
    auto n = normalizeGuess(e);
    if (!n)
      return fail(ErrorCode::kInvalidArgument,
                  "allow-list entry \"" + std::string(e) + "\": " + n.error().message,
                  "allow[" + std::to_string(i) + "]");
    IndicatorDraft d;
    d.type = n->type;
    d.value = std::move(n->value);
    batch.indicators.push_back(std::move(d));
  }
  IndexBuilder b;
  b.add(std::move(batch));
  AllowList out;
  out.index_ = b.build();
  return out;
}

// ---- SuppressionCache -----------------------------------------------------------------------

SuppressionCache::SuppressionCache(core::TimeMs period, size_t capacity)
    : period_(period), slots_(std::max<size_t>(capacity, kStripes)) {}

bool SuppressionCache::admit(std::uint64_t key, core::TimeMs now) {
  if (period_ <= 0) return true;
  std::uint64_t h = mix64(key);
  size_t slot = h % slots_.size();
  std::lock_guard lock(stripes_[slot % kStripes]);
  Slot& s = slots_[slot];
  if (s.key == key && s.at != 0 && now - s.at < period_) return false;
  s.key = key;
  s.at = now;
  return true;
}

// ---- Matcher --------------------------------------------------------------------------------

struct Matcher::Impl {
  struct Node {
    std::unordered_map<std::string, std::uint32_t, SvHash, std::equal_to<>> children;
    std::vector<std::uint16_t> rules;
    int host_rank = -1, user_rank = -1;
    bool port = false, bytes = false;
  };
  struct Candidate {
    std::uint32_t target;
    std::uint16_t rule;
    ValueKind kind;
    FieldMode mode;
    std::string_view raw;
  };
  struct EventState {
    const Index* ix = nullptr;
    std::vector<Candidate> cands;
    std::string_view host, user;
    int host_rank = INT_MAX, user_rank = INT_MAX;
    std::optional<std::uint16_t> port;
    std::uint64_t bytes = 0;
    bool has_bytes = false;
    void reset(const Index* index) {
      ix = index;
      cands.clear();
      host = user = {};
      host_rank = user_rank = INT_MAX;
      port.reset();
      bytes = 0;
      has_bytes = false;
    }
  };

  std::shared_ptr<const LiveIndex> live;
  MatchConfig config;
  MatcherOptions options;
  SuppressionCache suppression;
  std::vector<Node> nodes;
  std::atomic<std::uint64_t> events{0}, bytes{0}, invalid{0}, matches{0}, allowed{0},
      suppressed{0}, filtered{0};

  Impl(std::shared_ptr<const LiveIndex> l, MatchConfig c, MatcherOptions o)
      : live(std::move(l)),
        config(std::move(c)),
        options(std::move(o)),
        suppression(options.suppression_period, options.suppression_capacity) {
    nodes.emplace_back();
    for (size_t i = 0; i < config.fields.size() && i < 0xffff; ++i)
      nodes[nodeFor(config.fields[i].path)].rules.push_back(static_cast<std::uint16_t>(i));
    for (size_t i = 0; i < config.host_fields.size(); ++i) {
      Node& n = nodes[nodeFor(config.host_fields[i])];
      if (n.host_rank < 0) n.host_rank = static_cast<int>(i);
    }
    for (size_t i = 0; i < config.user_fields.size(); ++i) {
      Node& n = nodes[nodeFor(config.user_fields[i])];
      if (n.user_rank < 0) n.user_rank = static_cast<int>(i);
    }
    for (const auto& p : config.port_fields) nodes[nodeFor(p)].port = true;
    for (const auto& p : config.bytes_fields) nodes[nodeFor(p)].bytes = true;
  }

  std::uint32_t nodeFor(std::string_view path) {
    std::uint32_t n = 0;
    while (true) {
      auto dot = path.find('.');
      std::string_view seg = path.substr(0, dot);
      auto it = nodes[n].children.find(seg);
      std::uint32_t next;
      if (it == nodes[n].children.end()) {
        next = static_cast<std::uint32_t>(nodes.size());
        nodes[n].children.emplace(std::string(seg), next);
        nodes.emplace_back();
      } else {
        next = it->second;
      }
      n = next;
      if (dot == std::string_view::npos) return n;
      path.remove_prefix(dot + 1);
    }
  }

  // Follows a (possibly dotted, "source.ip") key from `n`.
  std::uint32_t descend(std::uint32_t n, std::string_view key) const {
    while (true) {
      auto dot = key.find('.');
      const auto& children = nodes[n].children;
      auto it = children.find(dot == std::string_view::npos ? key : key.substr(0, dot));
      if (it == children.end()) return kNoNode;
      n = it->second;
      if (dot == std::string_view::npos) return n;
      key.remove_prefix(dot + 1);
    }
  }

  void walk(element el, std::uint32_t n, EventState& st, int depth) const {
    simdjson::dom::object obj;
    if (el.get_object().get(obj) != simdjson::SUCCESS) return;
    for (auto field : obj) {
      std::uint32_t child = descend(n, field.key);
      if (child != kNoNode) visit(field.value, child, st, depth + 1);
    }
  }

  void visit(element v, std::uint32_t n, EventState& st, int depth) const {
    if (depth > kMaxWalkDepth) return;
    const Node& node = nodes[n];
    switch (v.type()) {
      case element_type::ARRAY: {
        simdjson::dom::array arr;
        if (v.get_array().get(arr) != simdjson::SUCCESS) return;
        for (element e : arr) visit(e, n, st, depth + 1);
        return;
      }
      case element_type::OBJECT: {
        // evtx-rs writes attributed values as {"#attributes": …, "#text": "value"}.
        element text;
        if (v.at_key("#text").get(text) == simdjson::SUCCESS &&
            text.type() != element_type::OBJECT)
          leaf(text, node, st);
        if (!node.children.empty()) walk(v, n, st, depth);
        return;
      }
      default: leaf(v, node, st); return;
    }
  }

  void leaf(element v, const Node& node, EventState& st) const {
    std::string_view s;
    bool is_string = v.get_string().get(s) == simdjson::SUCCESS;
    if (node.port && !st.port) {
      std::uint64_t p = 0;
      if (v.get_uint64().get(p) == simdjson::SUCCESS) {
        if (p <= 65535) st.port = static_cast<std::uint16_t>(p);
      } else if (is_string) {
        std::uint16_t q = 0;
        auto t = trimView(s);
        auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), q);
        if (ec == std::errc() && ptr == t.data() + t.size()) st.port = q;
      }
    }
    if (node.bytes) {
      std::uint64_t b = 0;
      if (v.get_uint64().get(b) == simdjson::SUCCESS) {
        st.bytes += b;
        st.has_bytes = true;
      }
    }
    if (!is_string) return;
    if (node.host_rank >= 0 && node.host_rank < st.host_rank && !trimView(s).empty()) {
      st.host = s;
      st.host_rank = node.host_rank;
    }
    if (node.user_rank >= 0 && node.user_rank < st.user_rank && !trimView(s).empty()) {
      st.user = s;
      st.user_rank = node.user_rank;
    }
    for (std::uint16_t r : node.rules) onValue(r, s, st);
  }

  void onValue(std::uint16_t r, std::string_view s, EventState& st) const {
    const FieldRule& rule = config.fields[r];
    if (rule.mode == FieldMode::kSysmonHashes) {
      // "SHA1=…,MD5=…,SHA256=…,IMPHASH=…": the import hash is not a file hash.
      while (!s.empty()) {
        auto comma = s.find(',');
        std::string_view part = trimView(s.substr(0, comma));
        auto eq = part.find('=');
        std::string_view algo = eq == std::string_view::npos ? std::string_view() : part.substr(0, eq);
        std::string_view hex = eq == std::string_view::npos ? part : part.substr(eq + 1);
        if (!core::equalsIgnoreCase(algo, "IMPHASH")) {
          st.ix->findHash(hex, [&](std::uint32_t t) {
            st.cands.push_back({t, r, ValueKind::kHash, FieldMode::kValue, hex});
          });
        }
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
      }
      return;
    }
    lookupValue(*st.ix, rule.kind, rule.mode, s, [&](std::uint32_t t) {
      st.cands.push_back({t, r, rule.kind, rule.mode, s});
    });
  }

  bool allowedValue(const Candidate& c) const {
    if (options.allow.empty()) return false;
    bool hit = false;
    lookupValue(options.allow.index(), c.kind, c.mode, c.raw, [&](std::uint32_t) { hit = true; });
    return hit;
  }

  bool matchEvent(std::string_view json, std::vector<Match>& out, core::TimeMs now) {
    thread_local simdjson::dom::parser parser;
    thread_local EventState st;
    events.fetch_add(1, std::memory_order_relaxed);
    bytes.fetch_add(json.size(), std::memory_order_relaxed);
    element doc;
    if (parser.parse(json.data(), json.size(), true).get(doc) != simdjson::SUCCESS ||
        doc.type() != element_type::OBJECT) {
      invalid.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    std::shared_ptr<const Index> index = live->load();
    st.reset(index.get());
    walk(doc, 0, st, 0);
    if (st.cands.empty()) return true;
    if (now == 0) now = core::nowMs();

    // Resolve compound atoms: a compound hits when every atom was seen in this event.
    thread_local std::vector<std::pair<IndicatorId, std::uint32_t>> compounds;
    thread_local std::vector<std::pair<IndicatorId, const Candidate*>> hits;
    compounds.clear();
    hits.clear();
    for (const Candidate& c : st.cands) {
      if (c.target & Index::kAtomBit) {
        auto a = index->atom(c.target);
        auto it = std::find_if(compounds.begin(), compounds.end(),
                               [&](const auto& p) { return p.first == a.compound; });
        if (it == compounds.end()) {
          compounds.emplace_back(a.compound, 0);
          it = compounds.end() - 1;
        }
        it->second |= 1u << a.atom;
        std::uint32_t full = (1u << index->atomCount(a.compound)) - 1;
        if (it->second == full) hits.emplace_back(a.compound, &c);
      } else {
        hits.emplace_back(c.target, &c);
      }
    }
    size_t emitted = 0;
    for (size_t i = 0; i < hits.size(); ++i) {
      auto [id, cand] = hits[i];
      bool dup = false;
      for (size_t j = 0; j < i && !dup; ++j) dup = hits[j].first == id;
      if (dup) continue;
      if (options.check_validity && !index->activeAt(id, now)) {
        filtered.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (allowedValue(*cand)) {
        allowed.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (isIpType(index->type(id))) {
        if (st.port && !options.port_classes.empty()) {
          auto pc = options.port_classes.find(*st.port);
          if (pc != options.port_classes.end() && pc->second == PortClass::kIgnore) {
            filtered.fetch_add(1, std::memory_order_relaxed);
            continue;
          }
        }
        if (options.min_bytes > 0 && st.has_bytes && st.bytes < options.min_bytes) {
          filtered.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
      }
      Match m;
      m.index = index;
      m.indicator = id;
      m.field = config.fields[cand->rule].path;
      m.value = std::string(cand->raw);
      m.host = std::string(st.host);
      m.user = std::string(st.user);
      m.port = st.port ? *st.port : -1;
      out.push_back(std::move(m));
      ++emitted;
    }
    matches.fetch_add(emitted, std::memory_order_relaxed);
    return true;
  }
};

Matcher::Matcher(std::shared_ptr<const LiveIndex> index, MatchConfig config,
                 MatcherOptions options)
    : impl_(std::make_unique<Impl>(std::move(index), std::move(config), std::move(options))) {}

Matcher::~Matcher() = default;

bool Matcher::match(std::string_view event_json, std::vector<Match>& out,
                    core::TimeMs now) noexcept {
  try {
    return impl_->matchEvent(event_json, out, now);
  } catch (...) {
    // Only allocation failure can get here; the event is dropped, the engine goes on.
    impl_->invalid.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
}

void Matcher::process(const std::vector<std::string_view>& events, core::DetectionSink& sink,
                      core::TimeMs now) noexcept {
  try {
    if (now == 0) now = core::nowMs();
    std::vector<core::Detection> batch;
    std::vector<Match> found;
    for (std::string_view e : events) {
      found.clear();
      impl_->matchEvent(e, found, now);
      for (const Match& m : found) {
        const Index& ix = *m.index;
        std::string key = std::string(indicatorTypeName(ix.type(m.indicator))) + ":" +
                          ix.value(m.indicator);
        std::uint64_t k = hashString(key) ^ mix64(hashString(m.host.empty() ? m.user : m.host));
        if (!impl_->suppression.admit(k, now)) {
          impl_->suppressed.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        batch.push_back(toDetection(m, e));
      }
    }
    if (!batch.empty()) sink.submit(std::move(batch));
  } catch (...) {
    impl_->invalid.fetch_add(1, std::memory_order_relaxed);
  }
}

MatcherStats Matcher::stats() const {
  MatcherStats s;
  s.events = impl_->events.load();
  s.bytes = impl_->bytes.load();
  s.invalid = impl_->invalid.load();
  s.matches = impl_->matches.load();
  s.allowed = impl_->allowed.load();
  s.suppressed = impl_->suppressed.load();
  s.filtered = impl_->filtered.load();
  return s;
}

namespace {

nlohmann::json indicatorJson(const Index& ix, IndicatorId id) {
  Index::View v = ix.view(id);
  nlohmann::json feeds = nlohmann::json::array();
  nlohmann::json context = nlohmann::json::object();
  for (const auto& s : v.sources) {
    nlohmann::json f = {{"feed", s.feed}, {"id", s.external_id}};
    if (s.confidence >= 0) f["confidence"] = s.confidence;
    feeds.push_back(std::move(f));
    const Context& c = *s.context;
    auto put = [&](const char* key, const std::string& val) {
      if (!val.empty() && !context.contains(key)) context[key] = val;
    };
    put("name", c.name);
    put("actor", c.actor);
    put("malware", c.malware);
    put("report", c.report);
    if (!c.attack_ids.empty() && !context.contains("attack")) context["attack"] = c.attack_ids;
    if (!c.labels.empty() && !context.contains("labels")) context["labels"] = c.labels;
  }
  nlohmann::json j = {{"type", indicatorTypeName(v.type)},
                      {"value", v.value},
                      {"id", v.sources.empty() ? std::string() : std::string(v.sources[0].external_id)},
                      {"feeds", std::move(feeds)},
                      {"context", std::move(context)}};
  if (v.confidence >= 0) j["confidence"] = v.confidence;
  if (v.first_seen) j["first_seen"] = core::formatRfc3339(v.first_seen);
  if (v.last_seen) j["last_seen"] = core::formatRfc3339(v.last_seen);
  if (v.valid_until) j["valid_until"] = core::formatRfc3339(v.valid_until);
  return j;
}

std::string evidence(const Match& m, std::string_view event_json, size_t limit) {
  nlohmann::json head = {{"indicator", indicatorJson(*m.index, m.indicator)},
                         {"field", m.field},
                         {"matched", m.value}};
  std::string out = head.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out.pop_back();  // reopen the object to append the raw event without re-encoding it
  std::string_view ev = core::trim(event_json);
  if (out.size() + ev.size() + 16 <= limit) {
    out += ",\"event\":";
    out += ev;
  } else {
    out += ",\"event_truncated\":true";
  }
  out += "}";
  return out;
}

std::string clip(std::string s, size_t n) {
  if (s.size() > n) s.resize(n);
  return s;
}

}  // namespace

core::Detection Matcher::toDetection(const Match& m, std::string_view event_json) const {
  const Index& ix = *m.index;
  Index::View v = ix.view(m.indicator);
  core::Detection d;
  d.project_id = impl_->options.project_id;
  d.source = std::string(core::source::kIntel);
  std::string type(indicatorTypeName(v.type));
  d.name = clip("Threat intelligence match: " + type + " " + v.value, core::kMaxNameLength);
  int conf = v.confidence >= 0 ? v.confidence : 50;
  if (isIpType(v.type) && m.port >= 0) {
    auto pc = impl_->options.port_classes.find(static_cast<std::uint16_t>(m.port));
    if (pc != impl_->options.port_classes.end() && pc->second == PortClass::kUnsafe) conf += 10;
  }
  d.score = std::clamp(conf, core::kMinScore, core::kMaxScore);
  d.severity = core::severityForScore(d.score);
  // The rule is the indicator: repeated hits on one entity bump one open threat.
  std::string rule = type + ":" + v.value;
  if (rule.size() > core::kMaxShortText)
    rule = type + ":hash-" + std::to_string(hashString(v.value));
  d.rule_id = rule;
  std::string feeds;
  const Context* ctx = nullptr;
  for (const auto& s : v.sources) {
    if (!feeds.empty()) feeds += ", ";
    feeds += s.feed;
    if (ctx == nullptr || (ctx->actor.empty() && ctx->malware.empty())) ctx = s.context;
  }
  d.rule_group = clip(feeds, core::kMaxShortText);
  if (!m.host.empty()) {
    d.entity = {"host", clip(m.host, core::kMaxShortText)};
  } else if (!m.user.empty()) {
    d.entity = {"user", clip(m.user, core::kMaxShortText)};
  } else {
    d.entity = {"value", clip(m.value, core::kMaxShortText)};
  }
  d.host = clip(m.host, core::kMaxShortText);
  std::string desc = "Event field " + m.field + " = \"" + m.value + "\" matched the " + type +
                     " indicator " + v.value + " from " + feeds + ".";
  if (ctx != nullptr) {
    if (!ctx->name.empty()) desc += " " + ctx->name + ".";
    if (!ctx->actor.empty()) desc += " Actor: " + ctx->actor + ".";
    if (!ctx->malware.empty()) desc += " Malware: " + ctx->malware + ".";
    if (!ctx->report.empty()) desc += " Report: " + ctx->report + ".";
    for (const auto& t : ctx->attack_ids)
      if (d.tags.size() < core::kMaxTags && !t.empty()) d.tags.push_back(clip(t, core::kMaxShortText));
  }
  d.description = clip(desc, core::kMaxDescriptionLength);
  d.evidence_json = evidence(m, event_json, core::kMaxEvidenceBytes);
  d.check_by = core::CheckBy::kRule | core::CheckBy::kEntity;
  return d;
}

std::string matchJson(const Match& m, std::string_view event_json) {
  return evidence(m, event_json, SIZE_MAX / 2);
}

}  // namespace td::intel
