#include "detect/rule_action.h"

#include <nlohmann/json.hpp>

#include "core/text.h"

namespace td::detect {

using core::ErrorCode;
using core::fail;
using Json = nlohmann::json;

namespace {

std::string join(const std::string& path, const std::string& member) {
  return path.empty() ? member : path + "." + member;
}

core::Result<std::string> shortText(const Json& v, const std::string& field, size_t max,
                                    bool allow_empty) {
  if (!v.is_string()) return fail(ErrorCode::kInvalidArgument, "expected a string", field);
  std::string s = v.get<std::string>();
  if (!allow_empty && core::trim(s).empty())
    return fail(ErrorCode::kUnprocessable, "must not be empty", field);
  if (s.size() > max)
    return fail(ErrorCode::kUnprocessable, "longer than " + std::to_string(max) + " characters",
                field);
  return s;
}

}  // namespace

core::Result<RuleAction> parseRuleAction(std::string_view text, const std::string& path) {
  RuleAction a;
  if (core::trim(text).empty() || core::trim(text) == "null") return a;
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) return fail(ErrorCode::kInvalidArgument, "the action is not JSON", path);
  if (!j.is_object()) return fail(ErrorCode::kInvalidArgument, "the action must be an object", path);
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const Json& v = it.value();
    const std::string field = join(path, key);
    if (key == "type") {
      if (v == "create_threat") {
        a.type = RuleAction::Type::kCreateThreat;
      } else if (v == "create_signal") {
        a.type = RuleAction::Type::kCreateSignal;
      } else {
        return fail(ErrorCode::kUnprocessable, "expected create_threat or create_signal", field);
      }
    } else if (key == "score") {
      if (v.is_null()) continue;
      if (!v.is_number_integer())
        return fail(ErrorCode::kInvalidArgument, "expected an integer", field);
      const auto score = v.get<std::int64_t>();
      if (score < core::kMinScore || score > core::kMaxScore)
        return fail(ErrorCode::kUnprocessable, "a score is 0-100", field);
      a.score = static_cast<int>(score);
    } else if (key == "severity") {
      if (v.is_null()) continue;
      if (!v.is_string()) return fail(ErrorCode::kInvalidArgument, "expected a string", field);
      auto s = core::parseSeverity(v.get<std::string>());
      if (!s) return fail(ErrorCode::kUnprocessable, s.error().message, field);
      a.severity = *s;
    } else if (key == "kind") {
      if (v.is_null()) continue;
      if (!v.is_string()) return fail(ErrorCode::kInvalidArgument, "expected a string", field);
      auto k = core::parseThreatKind(v.get<std::string>());
      if (!k) return fail(ErrorCode::kUnprocessable, k.error().message, field);
      a.kind = *k;
    } else if (key == "source") {
      auto s = shortText(v, field, core::kMaxShortText, false);
      if (!s) return fail(s.error());
      a.source = *s;
    } else if (key == "name") {
      auto s = shortText(v, field, kMaxNameTemplate, true);
      if (!s) return fail(s.error());
      a.name_template = *s;
    } else if (key == "group") {
      auto s = shortText(v, field, core::kMaxShortText, true);
      if (!s) return fail(s.error());
      a.group = *s;
    } else if (key == "check_by") {
      std::string list;
      if (v.is_string()) {
        list = v.get<std::string>();
      } else if (v.is_array()) {
        for (size_t i = 0; i < v.size(); ++i) {
          if (!v[i].is_string())
            return fail(ErrorCode::kInvalidArgument, "expected a string",
                        field + "[" + std::to_string(i) + "]");
          list += v[i].get<std::string>() + ",";
        }
      } else {
        return fail(ErrorCode::kInvalidArgument, "expected a list of rule, entity, source", field);
      }
      auto c = core::parseCheckBy(list);
      if (!c) return fail(ErrorCode::kUnprocessable, c.error().message, field);
      a.check_by = *c;
    } else if (key == "entity") {
      if (!v.is_array()) return fail(ErrorCode::kInvalidArgument, "expected a list", field);
      if (v.size() > kMaxEntityFields)
        return fail(ErrorCode::kUnprocessable,
                    "at most " + std::to_string(kMaxEntityFields) + " entity fields", field);
      for (size_t i = 0; i < v.size(); ++i) {
        const std::string at = field + "[" + std::to_string(i) + "]";
        const Json& e = v[i];
        if (!e.is_object())
          return fail(ErrorCode::kInvalidArgument, "expected {\"type\",\"field\"}", at);
        EntityField ef;
        for (auto m = e.begin(); m != e.end(); ++m) {
          if (m.key() == "type") {
            auto s = shortText(m.value(), at + ".type", 64, false);
            if (!s) return fail(s.error());
            ef.type = *s;
          } else if (m.key() == "field") {
            auto s = shortText(m.value(), at + ".field", core::kMaxShortText, false);
            if (!s) return fail(s.error());
            ef.field = *s;
          } else {
            return fail(ErrorCode::kInvalidArgument, "unknown member", at + "." + m.key());
          }
        }
        if (ef.type.empty()) return fail(ErrorCode::kUnprocessable, "missing", at + ".type");
        if (ef.field.empty()) ef.field = ef.type;
        a.entity.push_back(std::move(ef));
      }
    } else {
      return fail(ErrorCode::kInvalidArgument,
                  "unknown member (type, score, severity, kind, source, name, entity, check_by, "
                  "group)",
                  field);
    }
  }
  return a;
}

std::string encodeRuleAction(const RuleAction& a) {
  Json j = Json::object();
  j["type"] = a.type == RuleAction::Type::kCreateSignal ? "create_signal" : "create_threat";
  if (a.score) j["score"] = *a.score;
  if (a.severity) j["severity"] = std::string(core::severityName(*a.severity));
  if (a.kind) j["kind"] = std::string(core::threatKindName(*a.kind));
  if (a.source != core::source::kRule) j["source"] = a.source;
  if (!a.name_template.empty()) j["name"] = a.name_template;
  if (!a.entity.empty()) {
    Json list = Json::array();
    for (const auto& e : a.entity) list.push_back({{"type", e.type}, {"field", e.field}});
    j["entity"] = list;
  }
  if (a.check_by != core::kDefaultCheckBy) {
    Json list = Json::array();
    // Named: the parts are views into it (a temporary in the range-init would die first).
    const std::string names = core::checkByNames(a.check_by);
    for (auto part : core::splitTrimmed(names, ','))
      if (!part.empty()) list.push_back(std::string(part));
    j["check_by"] = list;
  }
  if (!a.group.empty()) j["group"] = a.group;
  return j.dump();
}

std::string renderTemplate(std::string_view tmpl,
                           const std::function<std::string(std::string_view)>& lookup) {
  std::string out;
  size_t i = 0;
  while (i < tmpl.size()) {
    const size_t open = tmpl.find("{{", i);
    if (open == std::string_view::npos) {
      out.append(tmpl.substr(i));
      break;
    }
    const size_t close = tmpl.find("}}", open + 2);
    if (close == std::string_view::npos) {
      out.append(tmpl.substr(i));
      break;
    }
    out.append(tmpl.substr(i, open - i));
    out += lookup(core::trim(tmpl.substr(open + 2, close - open - 2)));
    i = close + 2;
  }
  return out;
}

}  // namespace td::detect
