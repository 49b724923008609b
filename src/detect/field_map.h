// A field map says where, in one layout of event JSON, a Sigma field name finds its value, which
// field holds the event's time and which fields name its host and user. Maps are YAML data
// (src/detect/fieldmaps/*.yaml, compiled into the binary; users may pass their own file). The
// engine picks a map per event from the event's shape unless one is forced.
// Value types; the built-in list is immutable after first use and safe to read from any thread.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace td::detect {

// A dotted path split into its keys: "Event.System.Computer" -> {Event, System, Computer}.
// "" is the event's root. A "*" key stands for any key at that level.
using FieldPath = std::vector<std::string>;
FieldPath splitPath(std::string_view dotted);

struct FieldMap {
  std::string name;
  int priority = 50;                  // lower is tried first when choosing a map by shape
  std::vector<FieldPath> shape;       // the map fits an event where any of these exists
  std::vector<FieldPath> timestamp;   // first present wins
  std::string host_field = "Computer";
  std::vector<std::string> user_fields;
  std::string text_key = "#text";
  std::map<std::string, std::vector<FieldPath>> fields;  // explicit Sigma field -> paths
  std::vector<FieldPath> containers;  // objects searched for a Sigma field by its own name
  std::vector<FieldPath> keywords;    // where field-less (keyword) searches look
};

// Parses a map from YAML text; `origin` names the source in errors.
core::Result<FieldMap> parseFieldMap(std::string_view yaml, const std::string& origin);

// The shipped maps (windows_raw, ecs, flat), in priority order.
const std::vector<FieldMap>& builtinFieldMaps();

// A built-in map by name, or else a YAML file at that path.
core::Result<FieldMap> loadFieldMap(const std::string& name_or_file);

// The shipped logsource mapping (logsources.yaml) as text; parsed by the compiler.
std::string_view builtinLogsourceYaml();

}  // namespace td::detect
