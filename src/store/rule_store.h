// Rule storage of the detection engine: rule groups (packs such as the Managed Rules installed
// from SigmaHQ, or a team's Custom Rules), the rules in them as their YAML text with the metadata
// lists and filters need, which rules and groups are enabled, their actions (what a match raises:
// create_threat / create_signal with score, severity, name template ...; kept as JSON text that
// the detect module parses and validates) globally and per project, and hit counts.
//
// The store knows nothing of Sigma: callers (the rule service, `threatdesk rules install`) parse
// the YAML and hand over the metadata. Every change except hit counting bumps rulesVersion(), so
// a running server can tell that the rules it compiled are stale (e.g. after a CLI install).
//
// Thread safety: every method may be called from any thread at any time (as for Store).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/threat.h"
#include "core/time.h"

namespace td::store {

using RuleGroupId = std::int64_t;
using RuleRowId = std::int64_t;

// "managed": installed from a pack; its rules are replaced by the next install and cannot be
// edited or deleted one by one (only enabled, disabled and given actions). "custom": a team's own.
enum class RuleGroupKind : std::uint8_t { kManaged = 0, kCustom = 1 };
std::string_view ruleGroupKindName(RuleGroupKind k);  // "managed" | "custom"
core::Result<RuleGroupKind> parseRuleGroupKind(std::string_view text);

struct RuleGroup {
  RuleGroupId id = 0;
  std::string name;
  RuleGroupKind kind = RuleGroupKind::kCustom;
  std::string description;
  bool enabled = true;
  std::string action_json;  // "" = none (rules fall back to their own or the level's default)
  std::int64_t rule_count = 0;     // filled by list/get
  std::int64_t enabled_rules = 0;  // rules enabled in the group (regardless of the group flag)
  std::int64_t hits = 0;           // sum over its rules
  core::TimeMs created_at = 0;
  core::TimeMs updated_at = 0;
};

struct StoredRule {
  RuleRowId id = 0;
  RuleGroupId group_id = 0;
  std::string group;       // the group's name (filled on reads)
  bool group_enabled = true;  // filled on reads
  std::string uid;         // the rule's own id (Sigma `id`); unique within its group
  std::string title;
  std::string level;       // informational | low | medium | high | critical | ""
  std::string status;      // Sigma status
  std::string kind = "sigma";  // sigma | correlation | entity
  std::vector<std::string> tags;
  std::string yaml;
  bool enabled = true;
  std::string action_json;  // "" = the group's
  std::int64_t hits = 0;
  std::optional<core::TimeMs> last_hit_at;
  core::TimeMs created_at = 0;
  core::TimeMs updated_at = 0;
};

struct RuleFilter {
  std::optional<RuleGroupId> group_id;
  std::optional<bool> enabled;     // the rule's own flag
  std::string text;                // substring of title or uid, case-insensitive
  std::optional<std::string> kind;
  int limit = 100;                 // 1..1000
  int offset = 0;
};

struct RulePage {
  std::vector<StoredRule> items;
  std::int64_t total = 0;
};

// What installing a pack into a group did.
struct RuleInstallCounts {
  std::int64_t added = 0;
  std::int64_t updated = 0;    // same uid, new text
  std::int64_t unchanged = 0;
  std::int64_t removed = 0;    // in the group before, not in the pack
};

// A per-project action: applies to one rule or one group in one project, ahead of the global one.
struct ProjectRuleAction {
  enum class Target : std::uint8_t { kRule = 0, kGroup = 1 };
  Target target = Target::kRule;
  std::int64_t target_id = 0;
  core::ProjectId project_id = 0;
  std::string action_json;
};

struct RuleGroupChange {
  std::optional<bool> enabled;
  std::optional<std::string> description;
  std::optional<std::string> action_json;  // "" clears
};

struct RuleChange {
  std::optional<bool> enabled;
  std::optional<std::string> action_json;  // "" clears
  // A new text with its metadata (custom rules only); all of these together.
  std::optional<StoredRule> content;
};

class RuleStore {
 public:
  RuleStore() = default;
  RuleStore(const RuleStore&) = delete;
  RuleStore& operator=(const RuleStore&) = delete;
  virtual ~RuleStore() = default;

  // --- groups --------------------------------------------------------------------------------
  // kConflict when the name (case-insensitive) exists.
  virtual core::Result<RuleGroup> createGroup(const std::string& name, RuleGroupKind kind,
                                              const std::string& description) = 0;
  virtual core::Result<RuleGroup> getGroup(RuleGroupId id) = 0;
  virtual core::Result<RuleGroup> findGroup(const std::string& name) = 0;
  virtual core::Result<std::vector<RuleGroup>> listGroups() = 0;
  virtual core::Result<RuleGroup> changeGroup(RuleGroupId id, const RuleGroupChange& change) = 0;
  // Deletes a group with its rules and per-project actions.
  virtual core::Status deleteGroup(RuleGroupId id) = 0;

  // Makes a group's rules exactly `rules` (keyed by uid) in one transaction: new uids are added,
  // known uids keep their enabled flag, action and hits (their text is replaced when it differs),
  // uids no longer present are removed.
  virtual core::Result<RuleInstallCounts> replaceGroupRules(RuleGroupId group,
                                                            const std::vector<StoredRule>& rules) = 0;

  // --- rules ---------------------------------------------------------------------------------
  // kConflict when the group holds the uid already.
  virtual core::Result<StoredRule> createRule(const StoredRule& rule) = 0;
  virtual core::Result<StoredRule> getRule(RuleRowId id) = 0;
  virtual core::Result<RulePage> listRules(const RuleFilter& filter) = 0;
  virtual core::Result<StoredRule> changeRule(RuleRowId id, const RuleChange& change) = 0;
  virtual core::Status deleteRule(RuleRowId id) = 0;
  // Every rule that is enabled in an enabled group, with text and actions: what a server compiles.
  virtual core::Result<std::vector<StoredRule>> activeRules() = 0;

  // --- per-project actions -------------------------------------------------------------------
  // Sets (or with an empty action_json removes) one project's action for a rule or group.
  virtual core::Status setProjectAction(const ProjectRuleAction& action) = 0;
  virtual core::Result<std::vector<ProjectRuleAction>> listProjectActions() = 0;

  // --- hits and version ----------------------------------------------------------------------
  // Adds to the hit counts of rules (by row id); unknown ids are ignored (a rule deleted while
  // its hits were in flight). Does not bump the version.
  virtual core::Status addHits(const std::vector<std::pair<RuleRowId, std::int64_t>>& hits,
                               core::TimeMs at) = 0;
  // Grows with every change of rules, groups or actions.
  virtual core::Result<std::int64_t> rulesVersion() = 0;
};

}  // namespace td::store
