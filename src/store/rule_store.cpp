#include "store/rule_store.h"

#include "core/text.h"

namespace td::store {

std::string_view ruleGroupKindName(RuleGroupKind k) {
  return k == RuleGroupKind::kManaged ? "managed" : "custom";
}

core::Result<RuleGroupKind> parseRuleGroupKind(std::string_view text) {
  if (core::equalsIgnoreCase(text, "managed")) return RuleGroupKind::kManaged;
  if (core::equalsIgnoreCase(text, "custom")) return RuleGroupKind::kCustom;
  return core::fail(core::ErrorCode::kUnprocessable, "a rule group is 'managed' or 'custom'",
                    "kind");
}

}  // namespace td::store
