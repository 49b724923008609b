#include "report/templates.h"

#include <nlohmann/json.hpp>

namespace td::report {

std::vector<TemplateInfo> listTemplates() {
  std::vector<TemplateInfo> out;
  for (const auto& [name, doc] : templateDocuments()) {
    TemplateInfo t;
    t.name = std::string(name);
    t.document = std::string(doc);
    auto j = nlohmann::json::parse(doc, nullptr, false);
    if (j.is_object()) {
      t.title = j.value("title", "");
      t.description = j.value("description", "");
    }
    out.push_back(std::move(t));
  }
  return out;
}

core::Result<TemplateInfo> findTemplate(std::string_view name) {
  std::string names;
  for (auto& t : listTemplates()) {
    if (t.name == name) return t;
    names += (names.empty() ? "" : ", ") + t.name;
  }
  return core::fail(core::ErrorCode::kNotFound,
                    "no report template named '" + std::string(name.substr(0, 100)) +
                        "' (templates: " + names + ")",
                    "report");
}

}  // namespace td::report
