// MISP event and feed import.
#include <algorithm>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "core/text.h"
#include "intel/feeds.h"

namespace td::intel {
namespace {

using core::ErrorCode;
using core::fail;
using nlohmann::json;
namespace fs = std::filesystem;

std::string str(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<long long>());
  return {};
}

bool truthy(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end()) return false;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_number()) return it->get<double>() != 0;
  if (it->is_string()) {
    std::string s = it->get<std::string>();
    return s == "1" || s == "true" || s == "True";
  }
  return false;
}

// The value between the quotes of a galaxy tag: misp-galaxy:threat-actor="APT 28" -> APT 28.
std::string tagValue(const std::string& tag) {
  auto q = tag.find('"');
  if (q == std::string::npos) return {};
  auto e = tag.rfind('"');
  return e > q ? tag.substr(q + 1, e - q - 1) : std::string();
}

void appendName(std::string& field, const std::string& name) {
  if (name.empty() || field.find(name) != std::string::npos) return;
  if (!field.empty()) field += ", ";
  field += name;
}

void addUnique(std::vector<std::string>& v, std::string s) {
  if (!s.empty() && std::find(v.begin(), v.end(), s) == v.end()) v.push_back(std::move(s));
}

// Files a MISP tag into the context: galaxy clusters for actors, malware and ATT&CK, the rest as
// labels.
void applyTag(Context& c, const std::string& tag) {
  if (tag.rfind("misp-galaxy:", 0) == 0) {
    std::string kind = tag.substr(12, tag.find('=') - 12);
    std::string v = tagValue(tag);
    if (kind == "threat-actor" || kind == "mitre-intrusion-set" || kind == "microsoft-activity-group") {
      appendName(c.actor, v.substr(0, v.find(" - G")));
      return;
    }
    if (kind == "mitre-attack-pattern" || kind == "mitre-enterprise-attack-attack-pattern") {
      auto dash = v.rfind(" - T");
      addUnique(c.attack_ids, dash == std::string::npos ? v : v.substr(dash + 3));
      return;
    }
    if (kind == "malpedia" || kind == "mitre-malware" || kind == "mitre-tool" || kind == "tool" ||
        kind == "ransomware" || kind == "banker" || kind == "rat" || kind == "botnet" ||
        kind == "android" || kind == "stealer" || kind == "backdoor") {
      appendName(c.malware, v.substr(0, v.find(" - S")));
      return;
    }
  }
  if (tag.rfind("mitre-attack:", 0) == 0 || tag.rfind("attack.t", 0) == 0) {
    auto t = tag.find_last_of("=.:");
    addUnique(c.attack_ids, tag.substr(t + 1));
    return;
  }
  addUnique(c.labels, tag);
}

void applyTags(Context& c, const json& o) {
  auto tags = o.find("Tag");
  if (tags == o.end() || !tags->is_array()) return;
  for (const auto& t : *tags)
    if (t.is_object()) applyTag(c, str(t, "name"));
}

struct Mapped {
  IndicatorType type;
  std::string value;
};

// MISP attribute type -> indicator types, splitting composite "a|b" values.
std::vector<Mapped> mapAttribute(const std::string& type, const std::string& value,
                                 std::string* why) {
  auto pipe = value.find('|');
  std::string left = value.substr(0, pipe);
  std::string right = pipe == std::string::npos ? std::string() : value.substr(pipe + 1);
  if (type == "ip-dst" || type == "ip-src") return {{IndicatorType::kIpv4, value}};
  if (type == "ip-dst|port" || type == "ip-src|port") return {{IndicatorType::kIpv4, left}};
  if (type == "domain" || type == "hostname") return {{IndicatorType::kDomain, value}};
  if (type == "hostname|port") return {{IndicatorType::kDomain, left}};
  if (type == "domain|ip") return {{IndicatorType::kDomain, left}, {IndicatorType::kIpv4, right}};
  if (type == "url" || type == "uri") return {{IndicatorType::kUrl, value}};
  if (type == "md5") return {{IndicatorType::kMd5, value}};
  if (type == "sha1") return {{IndicatorType::kSha1, value}};
  if (type == "sha256") return {{IndicatorType::kSha256, value}};
  if (type == "sha512") return {{IndicatorType::kSha512, value}};
  // A file name next to its hash: the hash identifies the file, the name alone would be noise.
  if (type == "filename|md5" || type == "malware-sample") return {{IndicatorType::kMd5, right}};
  if (type == "filename|sha1") return {{IndicatorType::kSha1, right}};
  if (type == "filename|sha256") return {{IndicatorType::kSha256, right}};
  if (type == "filename|sha512") return {{IndicatorType::kSha512, right}};
  if (type == "filename") return {{IndicatorType::kFileName, value}};
  if (type == "email-src" || type == "email-dst" || type == "email" || type == "whois-registrant-email")
    return {{IndicatorType::kEmail, value}};
  *why = "attribute type \"" + type + "\" has no indicator type";
  return {};
}

core::Status addEvent(const json& event, const std::string& where_prefix, FeedBatch& batch,
                      std::map<std::string, size_t>& ignored) {
  if (!event.is_object())
    return fail(ErrorCode::kInvalidArgument, "MISP event is not a JSON object", where_prefix);
  Context ctx;
  ctx.name = str(event, "info");
  applyTags(ctx, event);
  auto galaxies = event.find("Galaxy");
  if (galaxies != event.end() && galaxies->is_array()) {
    for (const auto& g : *galaxies) {
      if (!g.is_object()) continue;
      auto clusters = g.find("GalaxyCluster");
      if (clusters == g.end() || !clusters->is_array()) continue;
      for (const auto& cl : *clusters)
        if (cl.is_object() && !str(cl, "tag_name").empty()) applyTag(ctx, str(cl, "tag_name"));
    }
  }
  std::string uuid = str(event, "uuid");
  if (!uuid.empty()) ctx.report = "misp-event:" + uuid;
  // MISP threat level (1 high .. 4 undefined) is the nearest thing to a confidence MISP has.
  int confidence = -1;
  std::string level = str(event, "threat_level_id");
  if (level == "1") confidence = 90;
  if (level == "2") confidence = 70;
  if (level == "3") confidence = 50;
  core::TimeMs event_date = parseFeedTime(str(event, "date")).value_or(0);

  auto takeAttributes = [&](const json& list, const std::string& where) -> core::Status {
    if (!list.is_array())
      return fail(ErrorCode::kInvalidArgument, "\"Attribute\" is not an array", where);
    for (size_t i = 0; i < list.size(); ++i) {
      const json& a = list[i];
      std::string at = where + "[" + std::to_string(i) + "]";
      if (!a.is_object()) {
        batch.report.reject(at, "", "attribute is not a JSON object");
        continue;
      }
      std::string type = str(a, "type"), value = str(a, "value");
      if (truthy(a, "deleted")) {
        ++ignored["deleted attribute"];
        continue;
      }
      if (!truthy(a, "to_ids")) {
        ++ignored["to_ids is false (not meant for detection)"];
        continue;
      }
      std::string why;
      auto mapped = mapAttribute(type, value, &why);
      if (mapped.empty()) {
        ++ignored[why];
        continue;
      }
      Context c = ctx;
      applyTags(c, a);
      std::string category = str(a, "category");
      if (!category.empty()) addUnique(c.labels, "misp-category:" + category);
      for (auto& m : mapped) {
        auto n = normalizeValue(m.type, m.value);
        if (!n) {
          batch.report.reject(at, value, type + ": " + n.error().message);
          continue;
        }
        IndicatorDraft d;
        d.type = n->type;
        d.value = std::move(n->value);
        d.external_id = str(a, "uuid");
        d.confidence = confidence;
        d.first_seen = parseFeedTime(str(a, "first_seen")).value_or(event_date);
        auto ts = parseFeedTime(str(a, "timestamp"));
        d.last_seen = parseFeedTime(str(a, "last_seen")).value_or(ts.value_or(0));
        d.context = c;
        batch.indicators.push_back(std::move(d));
        batch.where.push_back(at);
      }
    }
    return {};
  };
  if (auto it = event.find("Attribute"); it != event.end()) {
    if (auto st = takeAttributes(*it, where_prefix + "Attribute"); !st) return st;
  }
  if (auto it = event.find("Object"); it != event.end() && it->is_array()) {
    for (size_t i = 0; i < it->size(); ++i) {
      const json& o = (*it)[i];
      if (!o.is_object()) continue;
      auto attrs = o.find("Attribute");
      if (attrs == o.end()) continue;
      if (auto st = takeAttributes(*attrs, where_prefix + "Object[" + std::to_string(i) +
                                               "].Attribute");
          !st)
        return st;
    }
  }
  return {};
}

void finish(FeedBatch& batch, const std::map<std::string, size_t>& ignored) {
  for (const auto& [why, n] : ignored)
    batch.report.warnings.push_back(std::to_string(n) + " attribute(s) ignored: " + why);
}

core::Result<FeedBatch> parseEventImpl(std::string_view text, const FeedInfo& feed) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded())
    return fail(ErrorCode::kInvalidArgument, "MISP event is not valid JSON", feed.name);
  FeedBatch batch;
  batch.feed = feed;
  batch.report.feed = feed.name;
  std::map<std::string, size_t> ignored;
  std::vector<std::pair<const json*, std::string>> events;
  if (doc.is_object() && doc.contains("Event")) {
    events.emplace_back(&doc["Event"], "Event.");
  } else if (doc.is_object() && doc.contains("response") && doc["response"].is_array()) {
    const json& r = doc["response"];
    for (size_t i = 0; i < r.size(); ++i) {
      if (!r[i].is_object() || !r[i].contains("Event"))
        return fail(ErrorCode::kInvalidArgument, "response entry without \"Event\"",
                    feed.name + ": response[" + std::to_string(i) + "]");
      events.emplace_back(&r[i]["Event"], "response[" + std::to_string(i) + "].Event.");
    }
  } else if (doc.is_object() && (doc.contains("Attribute") || doc.contains("Object"))) {
    events.emplace_back(&doc, "");
  } else {
    return fail(ErrorCode::kInvalidArgument,
                "not a MISP event (expected \"Event\", \"response\" or \"Attribute\")", feed.name);
  }
  for (const auto& [e, where] : events) {
    if (auto st = addEvent(*e, where, batch, ignored); !st) {
      core::Error err = st.error();
      err.field = feed.name + ": " + err.field;
      return fail(std::move(err));
    }
  }
  finish(batch, ignored);
  return batch;
}

}  // namespace

core::Result<FeedBatch> parseMispEvent(std::string_view text, const FeedInfo& feed) {
  try {
    return parseEventImpl(text, feed);
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInvalidArgument, std::string("MISP event: ") + e.what(), feed.name);
  }
}

core::Result<FeedBatch> loadMispFeed(const std::string& dir, const FeedInfo& feed) {
  try {
    fs::path root(dir);
    auto manifest_text = readFileText((root / "manifest.json").string());
    if (!manifest_text) return fail(manifest_text.error());
    json manifest = json::parse(*manifest_text, nullptr, false);
    if (manifest.is_discarded() || !manifest.is_object())
      return fail(ErrorCode::kInvalidArgument, "manifest.json is not a JSON object",
                  (root / "manifest.json").string());
    FeedBatch all;
    all.feed = feed;
    all.report.feed = feed.name;
    for (const auto& [uuid, meta] : manifest.items()) {
      if (uuid.find('/') != std::string::npos || uuid.find("..") != std::string::npos)
        return fail(ErrorCode::kInvalidArgument, "manifest names an unsafe event file", uuid);
      fs::path file = root / (uuid + ".json");
      auto text = readFileText(file.string());
      if (!text) return fail(text.error());
      auto batch = parseMispEvent(*text, FeedInfo{file.filename().string(), feed.default_confidence});
      if (!batch) return fail(batch.error());
      for (size_t i = 0; i < batch->indicators.size(); ++i) {
        all.indicators.push_back(std::move(batch->indicators[i]));
        all.where.push_back(uuid + ": " + batch->where[i]);
      }
      auto& r = batch->report;
      all.report.rejected += r.rejected;
      for (auto& item : r.rejections) {
        item.where = uuid + ": " + item.where;
        if (all.report.rejections.size() < ImportReport::kMaxItems)
          all.report.rejections.push_back(std::move(item));
      }
      for (auto& w : r.warnings) all.report.warnings.push_back(uuid + ": " + w);
    }
    return all;
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInvalidArgument, std::string("MISP feed: ") + e.what(), dir);
  }
}

}  // namespace td::intel
