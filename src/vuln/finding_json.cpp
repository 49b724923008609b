// Finding <-> JSON: the form a finding is stored in (so that the next scan can be compared with
// it) and shown in.
#include <nlohmann/json.hpp>

#include "vuln/scanner.h"

namespace td::vuln {

using nlohmann::json;

std::string findingToJson(const Finding& f) {
  json j = {{"component_ref", f.component_ref}, {"ecosystem", f.ecosystem},
            {"package", f.package},             {"version", f.version},
            {"purl", f.purl},                   {"advisory", f.advisory_id},
            {"id", f.display_id},               {"aliases", f.aliases},
            {"related_advisories", f.also},     {"summary", f.summary},
            {"references", f.references},       {"fixed_versions", f.fixed_versions}};
  if (f.cvss) j["cvss"] = {{"score", *f.cvss}, {"vector", f.cvss_vector}};
  if (!f.database_severity.empty()) j["database_severity"] = f.database_severity;
  if (!f.vex_state.empty())
    j["vex"] = {{"state", f.vex_state},
                {"justification", f.vex_justification},
                {"detail", f.vex_detail}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> strings(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& e : *it)
    if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

}  // namespace

core::Result<Finding> findingFromJson(std::string_view text) {
  auto j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return core::fail(core::ErrorCode::kInvalidArgument, "a finding is a JSON object");
  for (const char* key : {"advisory", "ecosystem", "package"}) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string())
      return core::fail(core::ErrorCode::kInvalidArgument,
                        std::string("a finding needs a string \"") + key + "\"", key);
  }
  Finding f;
  f.component_ref = str(j, "component_ref");
  f.ecosystem = str(j, "ecosystem");
  f.package = str(j, "package");
  f.version = str(j, "version");
  f.purl = str(j, "purl");
  f.advisory_id = str(j, "advisory");
  f.display_id = str(j, "id");
  if (f.display_id.empty()) f.display_id = f.advisory_id;
  f.aliases = strings(j, "aliases");
  f.also = strings(j, "related_advisories");
  f.summary = str(j, "summary");
  f.references = strings(j, "references");
  f.fixed_versions = strings(j, "fixed_versions");
  if (auto c = j.find("cvss"); c != j.end() && c->is_object()) {
    if (auto s = c->find("score"); s != c->end() && s->is_number()) f.cvss = s->get<double>();
    f.cvss_vector = str(*c, "vector");
  }
  f.database_severity = str(j, "database_severity");
  if (auto v = j.find("vex"); v != j.end() && v->is_object()) {
    f.vex_state = str(*v, "state");
    f.vex_justification = str(*v, "justification");
    f.vex_detail = str(*v, "detail");
  }
  return f;
}

}  // namespace td::vuln
