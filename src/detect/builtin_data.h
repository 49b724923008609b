// The YAML data files shipped in src/detect (field maps, logsource mapping), compiled into the
// binary by CMake (builtin_data.cpp is generated). Immutable; safe from any thread.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace td::detect {

// (name, YAML text) of each file under src/detect/fieldmaps/.
const std::vector<std::pair<std::string_view, std::string_view>>& builtinFieldMapTexts();
std::string_view builtinLogsourceText();

}  // namespace td::detect
