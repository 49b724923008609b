#include "store/types.h"

#include <array>

#include "core/text.h"

namespace td::store {
namespace {

using core::ErrorCode;
using core::fail;

constexpr std::array<std::string_view, 4> kRoleNames = {"readonly", "operator", "manager", "admin"};
constexpr std::array<std::string_view, 3> kTagKindNames = {"threat_group", "threat_state",
                                                           "threat_outcome"};

}  // namespace

std::string_view roleName(Role r) { return kRoleNames[static_cast<size_t>(r)]; }

core::Result<Role> parseRole(std::string_view text) {
  for (size_t i = 0; i < kRoleNames.size(); ++i)
    if (core::equalsIgnoreCase(core::trim(text), kRoleNames[i])) return static_cast<Role>(i);
  return fail(ErrorCode::kUnprocessable,
              "unknown role '" + std::string(text.substr(0, 64)) +
                  "' (expected admin, manager, operator or readonly)",
              "role");
}

core::Result<Scope> parseScopes(std::string_view text) {
  Scope set = Scope::kNone;
  for (std::string_view part : core::splitTrimmed(text, ',')) {
    if (part.empty()) continue;
    if (core::equalsIgnoreCase(part, "ingest"))
      set = set | Scope::kIngest;
    else if (core::equalsIgnoreCase(part, "read"))
      set = set | Scope::kRead;
    else if (core::equalsIgnoreCase(part, "write"))
      set = set | Scope::kWrite;
    else
      return fail(ErrorCode::kUnprocessable,
                  "unknown scope '" + std::string(part.substr(0, 64)) +
                      "' (expected ingest, read or write)",
                  "scopes");
  }
  if (set == Scope::kNone)
    return fail(ErrorCode::kUnprocessable, "at least one scope is needed (ingest, read, write)",
                "scopes");
  return set;
}

std::string scopeNames(Scope set) {
  std::string out;
  auto add = [&](Scope bit, const char* name) {
    if (!has(set, bit)) return;
    if (!out.empty()) out += ',';
    out += name;
  };
  add(Scope::kIngest, "ingest");
  add(Scope::kRead, "read");
  add(Scope::kWrite, "write");
  return out;
}

std::string_view tagKindName(TagKind k) { return kTagKindNames[static_cast<size_t>(k)]; }

core::Result<TagKind> parseTagKind(std::string_view text) {
  text = core::trim(text);
  for (size_t i = 0; i < kTagKindNames.size(); ++i) {
    // Accept the short forms too ("group", "state", "outcome"), as people type them.
    std::string_view full = kTagKindNames[i];
    if (core::equalsIgnoreCase(text, full) || core::equalsIgnoreCase(text, full.substr(7)))
      return static_cast<TagKind>(i);
  }
  return fail(ErrorCode::kUnprocessable,
              "unknown tag kind '" + std::string(text.substr(0, 64)) +
                  "' (expected threat_group, threat_state or threat_outcome)",
              "kind");
}

}  // namespace td::store
