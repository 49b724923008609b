#include "detect/field_map.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "detect/builtin_data.h"

namespace td::detect {
namespace {

std::vector<FieldPath> pathList(const YAML::Node& n) {
  std::vector<FieldPath> out;
  if (!n) return out;
  if (n.IsScalar()) {
    out.push_back(splitPath(n.Scalar()));
  } else if (n.IsSequence()) {
    for (const auto& item : n) {
      if (item.IsScalar()) out.push_back(splitPath(item.Scalar()));
    }
  }
  return out;
}

}  // namespace

FieldPath splitPath(std::string_view dotted) {
  FieldPath out;
  if (dotted.empty()) return out;
  size_t start = 0;
  while (true) {
    const size_t dot = dotted.find('.', start);
    out.emplace_back(dotted.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

core::Result<FieldMap> parseFieldMap(std::string_view yaml, const std::string& origin) {
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsMap()) return core::fail(core::ErrorCode::kInvalidArgument, "not a map", origin);
    FieldMap m;
    m.name = root["name"] ? root["name"].as<std::string>() : origin;
    if (root["priority"]) m.priority = root["priority"].as<int>();
    m.shape = pathList(root["shape"]);
    m.timestamp = pathList(root["timestamp"]);
    if (root["host"]) m.host_field = root["host"].as<std::string>();
    if (const auto u = root["user"]) {
      if (u.IsScalar()) {
        m.user_fields.push_back(u.Scalar());
      } else if (u.IsSequence()) {
        for (const auto& x : u) m.user_fields.push_back(x.as<std::string>());
      }
    }
    if (root["text_key"]) m.text_key = root["text_key"].as<std::string>();
    if (const auto f = root["fields"]) {
      if (!f.IsMap()) {
        return core::fail(core::ErrorCode::kInvalidArgument, "'fields' must be a map", origin);
      }
      for (const auto& kv : f) m.fields[kv.first.as<std::string>()] = pathList(kv.second);
    }
    m.containers = pathList(root["containers"]);
    m.keywords = pathList(root["keywords"]);
    if (root["containers"] && root["containers"].IsSequence()) {
      // pathList drops nothing, but "" must stay the root (an empty path).
      m.containers.clear();
      for (const auto& c : root["containers"]) m.containers.push_back(splitPath(c.Scalar()));
    }
    if (root["keywords"] && root["keywords"].IsSequence()) {
      m.keywords.clear();
      for (const auto& c : root["keywords"]) m.keywords.push_back(splitPath(c.Scalar()));
    }
    return m;
  } catch (const YAML::Exception& e) {
    return core::fail(core::ErrorCode::kInvalidArgument, e.what(),
                      origin + ":" + std::to_string(e.mark.line + 1));
  }
}

const std::vector<FieldMap>& builtinFieldMaps() {
  static const std::vector<FieldMap> maps = [] {
    std::vector<FieldMap> out;
    for (const auto& [name, text] : builtinFieldMapTexts()) {
      auto m = parseFieldMap(text, std::string(name));
      if (m) out.push_back(std::move(*m));
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const FieldMap& a, const FieldMap& b) { return a.priority < b.priority; });
    return out;
  }();
  return maps;
}

core::Result<FieldMap> loadFieldMap(const std::string& name_or_file) {
  for (const auto& m : builtinFieldMaps()) {
    if (m.name == name_or_file) return m;
  }
  std::ifstream in(name_or_file, std::ios::binary);
  if (!in) {
    return core::fail(core::ErrorCode::kNotFound,
                      "no built-in field map and no file named '" + name_or_file +
                          "' (built-in: windows_raw, ecs, flat)",
                      "--field-map");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parseFieldMap(ss.str(), name_or_file);
}

std::string_view builtinLogsourceYaml() { return builtinLogsourceText(); }

}  // namespace td::detect
