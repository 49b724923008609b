// STIX bundle import. nlohmann-json here: feeds are parsed once per refresh, off the hot path.
#include <algorithm>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "intel/feeds.h"
#include "intel/stix_pattern.h"

namespace td::intel {
namespace {

using core::ErrorCode;
using core::fail;
using nlohmann::json;

std::string str(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

core::TimeMs timeOf(const json& o, const char* key) {
  std::string s = str(o, key);
  if (s.empty()) return 0;
  return parseFeedTime(s).value_or(0);
}

// The ATT&CK technique id of an attack-pattern (external_references source mitre-attack).
std::string attackId(const json& o) {
  auto refs = o.find("external_references");
  if (refs != o.end() && refs->is_array()) {
    for (const auto& r : *refs) {
      if (!r.is_object()) continue;
      std::string src = str(r, "source_name");
      std::string id = str(r, "external_id");
      if ((src == "mitre-attack" || src == "capec" || id.rfind("T", 0) == 0) && !id.empty())
        if (src == "mitre-attack" || (id.size() >= 5 && id[0] == 'T')) return id;
    }
  }
  return str(o, "name");
}

std::string firstUrl(const json& o) {
  auto refs = o.find("external_references");
  if (refs == o.end() || !refs->is_array()) return {};
  for (const auto& r : *refs)
    if (r.is_object() && !str(r, "url").empty()) return str(r, "url");
  return {};
}

void addUnique(std::vector<std::string>& v, std::string s) {
  if (!s.empty() && std::find(v.begin(), v.end(), s) == v.end()) v.push_back(std::move(s));
}

void appendName(std::string& field, const std::string& name) {
  if (name.empty() || field == name || field.find(name) != std::string::npos) return;
  if (!field.empty()) field += ", ";
  field += name;
}

core::Result<FeedBatch> parseStixBundleImpl(std::string_view text, const FeedInfo& feed) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded())
    return fail(ErrorCode::kInvalidArgument, "STIX bundle is not valid JSON", feed.name);
  const json* objects = nullptr;
  json single;
  if (doc.is_object() && str(doc, "type") == "bundle") {
    auto it = doc.find("objects");
    if (it == doc.end()) {
      static const json kEmpty = json::array();
      objects = &kEmpty;
    } else if (!it->is_array()) {
      return fail(ErrorCode::kInvalidArgument, "STIX bundle \"objects\" is not an array",
                  feed.name + ": objects");
    } else {
      objects = &*it;
    }
  } else if (doc.is_object() && doc.contains("type") && doc.contains("id")) {
    single = json::array({doc});
    objects = &single;
  } else if (doc.is_array()) {
    objects = &doc;
  } else {
    return fail(ErrorCode::kInvalidArgument,
                "not a STIX bundle (expected an object with \"type\": \"bundle\")", feed.name);
  }

  // Pass 1: the objects an indicator's context can point at.
  std::unordered_map<std::string, const json*> by_id;
  for (size_t i = 0; i < objects->size(); ++i) {
    const json& o = (*objects)[i];
    if (!o.is_object())
      return fail(ErrorCode::kInvalidArgument, "STIX object is not a JSON object",
                  feed.name + ": objects[" + std::to_string(i) + "]");
    std::string id = str(o, "id");
    if (!id.empty()) by_id.emplace(id, &o);
  }
  std::unordered_map<std::string, Context> context;  // by indicator id
  std::unordered_map<std::string, std::string> actor_of;  // campaign/intrusion-set -> actor
  for (const auto& o : *objects) {
    if (str(o, "type") != "relationship") continue;
    if (str(o, "relationship_type") != "attributed-to") continue;
    auto target = by_id.find(str(o, "target_ref"));
    if (target == by_id.end()) continue;
    std::string ttype = str(*target->second, "type");
    if (ttype == "threat-actor" || ttype == "intrusion-set")
      appendName(actor_of[str(o, "source_ref")], str(*target->second, "name"));
  }
  auto enrich = [&](Context& c, const json& target) {
    std::string type = str(target, "type");
    std::string name = str(target, "name");
    if (type == "malware" || type == "tool") {
      appendName(c.malware, name);
    } else if (type == "threat-actor" || type == "intrusion-set") {
      appendName(c.actor, name);
    } else if (type == "campaign") {
      addUnique(c.labels, "campaign:" + name);
      auto a = actor_of.find(str(target, "id"));
      if (a != actor_of.end()) appendName(c.actor, a->second);
    } else if (type == "attack-pattern") {
      addUnique(c.attack_ids, attackId(target));
    }
  };
  for (const auto& o : *objects) {
    std::string type = str(o, "type");
    if (type == "relationship") {
      std::string src = str(o, "source_ref"), dst = str(o, "target_ref");
      if (src.rfind("indicator--", 0) == 0) {
        auto t = by_id.find(dst);
        if (t != by_id.end()) enrich(context[src], *t->second);
      }
    } else if (type == "sighting") {
      // A sighting of an indicator says nothing of its context.
    } else if (type == "report") {
      std::string link = firstUrl(o);
      std::string name = str(o, "name");
      auto refs = o.find("object_refs");
      if (refs == o.end() || !refs->is_array()) continue;
      for (const auto& r : *refs) {
        if (!r.is_string()) continue;
        std::string ref = r.get<std::string>();
        if (ref.rfind("indicator--", 0) != 0) continue;
        Context& c = context[ref];
        if (c.report.empty()) c.report = !link.empty() ? link : "report: " + name;
      }
    }
  }

  FeedBatch batch;
  batch.feed = feed;
  batch.report.feed = feed.name;
  for (size_t i = 0; i < objects->size(); ++i) {
    const json& o = (*objects)[i];
    if (str(o, "type") != "indicator") continue;
    std::string id = str(o, "id");
    std::string where = id.empty() ? "objects[" + std::to_string(i) + "]" : id;
    std::string pattern = str(o, "pattern");
    if (o.contains("revoked") && o["revoked"].is_boolean() && o["revoked"].get<bool>()) {
      batch.report.reject(where, pattern, "indicator is revoked");
      continue;
    }
    std::string ptype = str(o, "pattern_type");
    if (!ptype.empty() && ptype != "stix") {
      batch.report.reject(where, pattern, "pattern_type \"" + ptype + "\" is not supported");
      continue;
    }
    if (pattern.empty()) {
      batch.report.reject(where, "", "indicator has no pattern");
      continue;
    }
    auto parsed = parseStixPattern(pattern);
    if (!parsed) {
      batch.report.reject(where, pattern, parsed.error().message + " at " + parsed.error().field);
      continue;
    }
    if (parsed->terms.empty()) {
      std::string why = "pattern cannot be matched";
      for (const auto& d : parsed->dropped) why += "; " + d;
      batch.report.reject(where, pattern, why);
      continue;
    }
    for (const auto& d : parsed->dropped)
      batch.report.warnings.push_back(where + ": part of the pattern cannot be matched (" + d +
                                      ")");
    for (const auto& w : parsed->warnings) batch.report.warnings.push_back(where + ": " + w);

    IndicatorDraft base;
    base.external_id = id;
    if (o.contains("confidence") && o["confidence"].is_number_integer())
      base.confidence = std::clamp(o["confidence"].get<int>(), 0, 100);
    base.first_seen = timeOf(o, "created");
    base.last_seen = timeOf(o, "modified");
    base.valid_from = timeOf(o, "valid_from");
    base.valid_until = timeOf(o, "valid_until");
    Context c = context[id];
    c.name = str(o, "name");
    for (const char* key : {"labels", "indicator_types"}) {
      auto it = o.find(key);
      if (it != o.end() && it->is_array())
        for (const auto& l : *it)
          if (l.is_string()) addUnique(c.labels, l.get<std::string>());
    }
    if (c.report.empty()) c.report = firstUrl(o);
    base.context = std::move(c);
    for (auto& term : parsed->terms) {
      IndicatorDraft d = base;
      if (term.size() == 1) {
        d.type = term[0].type;
        d.value = std::move(term[0].value);
      } else {
        std::sort(term.begin(), term.end(), [](const Atom& a, const Atom& b) {
          return a.type != b.type ? a.type < b.type : a.value < b.value;
        });
        d.type = IndicatorType::kCompound;
        for (const auto& a : term) {
          if (!d.value.empty()) d.value += " AND ";
          d.value += std::string(indicatorTypeName(a.type)) + "=" + a.value;
        }
        d.atoms = std::move(term);
      }
      batch.indicators.push_back(std::move(d));
      batch.where.push_back(where);
    }
  }
  return batch;
}

}  // namespace

core::Result<FeedBatch> parseStixBundle(std::string_view text, const FeedInfo& feed) {
  try {
    return parseStixBundleImpl(text, feed);
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInvalidArgument, std::string("STIX bundle: ") + e.what(), feed.name);
  }
}

}  // namespace td::intel
