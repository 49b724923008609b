#include "triage/service.h"

#include <algorithm>

#include "core/text.h"

namespace td::triage {
namespace {

using core::ErrorCode;
using core::fail;

constexpr size_t kMaxNoteLength = 64 * 1024;

// Finds a tag value by name, ignoring case, as people type them.
const store::TagValue* findByName(const std::vector<store::TagValue>& values,
                                  std::string_view name) {
  for (const auto& v : values)
    if (core::equalsIgnoreCase(v.name, name)) return &v;
  return nullptr;
}

std::string knownNames(const std::vector<store::TagValue>& values) {
  std::string out;
  for (const auto& v : values) {
    if (!out.empty()) out += ", ";
    out += v.name;
  }
  return out;
}

core::Status validateTagName(const std::string& name) {
  if (core::trim(name).empty())
    return fail(ErrorCode::kUnprocessable, "a tag name must not be empty", "name");
  if (core::trim(name).size() != name.size())
    return fail(ErrorCode::kUnprocessable, "a tag name must not start or end with spaces", "name");
  if (name.size() > core::kMaxShortText)
    return fail(ErrorCode::kUnprocessable, "a tag name is at most 256 bytes", "name");
  return {};
}

}  // namespace

Result<core::Threat> TriageService::createThreat(core::Detection detection, const Actor& actor) {
  if (auto valid = core::validateDetection(detection); !valid) return fail(valid.error());
  auto project = store_.getProject(detection.project_id);
  if (!project) return fail(project.error());
  std::optional<core::TagId> group_id;
  if (!detection.group.empty()) {
    auto groups = store_.listTags(project->org_id, store::TagKind::kGroup);
    if (!groups) return fail(groups.error());
    const store::TagValue* group = findByName(*groups, detection.group);
    if (!group)
      return fail(ErrorCode::kUnprocessable,
                  "unknown threat group '" + detection.group + "' (known: " + knownNames(*groups) +
                      ")",
                  "group");
    group_id = group->id;
  }
  if (detection.seen_at == 0) detection.seen_at = core::nowMs();
  auto result = store_.applyDetections({detection}, {group_id}, actor);
  if (!result) return fail(result.error());
  if (result->threat_ids.size() != 1)
    return fail(ErrorCode::kInternal, "the store did not name the threat it wrote");
  return store_.getThreat(result->threat_ids.front());
}

Result<store::ThreatChange> TriageService::resolve(const core::Threat& threat,
                                                   const ChangeRequest& request) {
  auto project = store_.getProject(threat.project_id);
  if (!project) return fail(project.error());
  const core::OrgId org = project->org_id;
  store::ThreatChange change;

  if (request.group) {
    if (request.group->empty()) {
      change.group_id = std::optional<core::TagId>{};
    } else {
      auto groups = store_.listTags(org, store::TagKind::kGroup);
      if (!groups) return fail(groups.error());
      const store::TagValue* group = findByName(*groups, *request.group);
      if (!group)
        return fail(ErrorCode::kUnprocessable,
                    "unknown threat group '" + *request.group + "' (known: " +
                        knownNames(*groups) + ")",
                    "group");
      change.group_id = group->id;
    }
  }

  if (request.owner) {
    if (request.owner->empty()) {
      change.owner_id = std::optional<core::UserId>{};
    } else {
      auto user = store_.findUserByEmail(*request.owner);
      if (!user)
        return fail(ErrorCode::kUnprocessable, "no user '" + *request.owner + "'", "owner");
      // An owner must be able to see the threat: their organisation is the project's or above it.
      auto visible = store_.orgSubtree(user->org_id);
      if (!visible) return fail(visible.error());
      if (std::find(visible->begin(), visible->end(), org) == visible->end())
        return fail(ErrorCode::kUnprocessable,
                    "user '" + *request.owner + "' cannot see this threat's project", "owner");
      change.owner_id = user->id;
    }
  }

  bool closing = false;
  bool stays_closed = threat.closed;
  if (request.state) {
    auto states = store_.listTags(org, store::TagKind::kState);
    if (!states) return fail(states.error());
    const store::TagValue* state = findByName(*states, *request.state);
    if (!state)
      return fail(ErrorCode::kUnprocessable,
                  "unknown threat state '" + *request.state + "' (known: " + knownNames(*states) +
                      ")",
                  "state");
    const bool to_closed = !states->empty() && state->id == states->back().id;
    closing = to_closed && !threat.closed;
    stays_closed = to_closed;
    if (state->id != threat.state_id) change.state_id = state->id;
    if (!to_closed && threat.closed) change.outcome_id = std::optional<core::TagId>{};  // reopen
  }

  if (request.outcome) {
    if (!stays_closed)
      return fail(ErrorCode::kUnprocessable,
                  "an outcome is recorded when a threat is closed; set state to the closed state "
                  "too",
                  "outcome");
    auto outcomes = store_.listTags(org, store::TagKind::kOutcome);
    if (!outcomes) return fail(outcomes.error());
    const store::TagValue* outcome = findByName(*outcomes, *request.outcome);
    if (!outcome)
      return fail(ErrorCode::kUnprocessable,
                  "unknown threat outcome '" + *request.outcome + "' (known: " +
                      knownNames(*outcomes) + ")",
                  "outcome");
    change.outcome_id = outcome->id;
  } else if (closing) {
    return fail(ErrorCode::kUnprocessable, "closing a threat needs an outcome", "outcome");
  }

  if (request.severity) change.severity = request.severity;
  if (request.score) {
    if (*request.score < core::kMinScore || *request.score > core::kMaxScore)
      return fail(ErrorCode::kUnprocessable,
                  "score " + std::to_string(*request.score) + " is out of range 0-100", "score");
    change.score = request.score;
  }
  if (request.note) {
    if (core::trim(*request.note).empty())
      return fail(ErrorCode::kUnprocessable, "a note must not be empty", "note");
    if (request.note->size() > kMaxNoteLength)
      return fail(ErrorCode::kUnprocessable, "a note is at most 64 KiB", "note");
    change.note = request.note;
  }
  return change;
}

Result<core::Threat> TriageService::change(core::ThreatId id, const ChangeRequest& request,
                                           const Actor& actor) {
  if (!request.group && !request.owner && !request.state && !request.outcome &&
      !request.severity && !request.score && !request.note)
    return fail(ErrorCode::kUnprocessable,
                "nothing to change: give group, owner, state, outcome, severity, score or note");
  auto threat = store_.getThreat(id);
  if (!threat) return fail(threat.error());
  auto change = resolve(*threat, request);
  if (!change) return fail(change.error());
  return store_.changeThreat(id, *change, actor);
}

Result<store::Note> TriageService::addNote(core::ThreatId id, const std::string& text,
                                           const Actor& actor) {
  if (core::trim(text).empty())
    return fail(ErrorCode::kUnprocessable, "a note must not be empty", "text");
  if (text.size() > kMaxNoteLength)
    return fail(ErrorCode::kUnprocessable, "a note is at most 64 KiB", "text");
  return store_.addNote(id, text, actor);
}

BulkResult TriageService::bulkChange(store::ProjectId project,
                                     const std::vector<core::ThreatId>& ids,
                                     const ChangeRequest& request, const Actor& actor) {
  BulkResult result;
  result.matched = static_cast<std::int64_t>(ids.size());
  for (core::ThreatId id : ids) {
    auto threat = store_.getThreat(id);
    if (!threat || threat->project_id != project) {
      // A threat of another project is reported as missing: its existence is not ours to tell.
      result.failed.push_back(
          {id, core::Error{ErrorCode::kNotFound, "no threat " + std::to_string(id), "ids"}});
      continue;
    }
    auto changed = change(id, request, actor);
    if (!changed) {
      result.failed.push_back({id, changed.error()});
      continue;
    }
    ++result.changed;
    result.changed_ids.push_back(id);
  }
  return result;
}

Result<BulkResult> TriageService::bulkChange(const store::ThreatFilter& filter,
                                             const ChangeRequest& request, const Actor& actor) {
  // Collect the ids first so the changes themselves cannot move threats in or out of the pages.
  std::vector<core::ThreatId> ids;
  store::PageRequest page;
  page.sort = store::ThreatSort::kCreated;
  page.limit = 500;
  while (true) {
    auto batch = store_.listThreats(filter, page);
    if (!batch) return fail(batch.error());
    if (batch->total > kMaxBulk)
      return fail(ErrorCode::kUnprocessable,
                  "the filter matches " + std::to_string(batch->total) +
                      " threats; a bulk change takes at most " + std::to_string(kMaxBulk),
                  "filter");
    for (const auto& t : batch->items) ids.push_back(t.id);
    if (batch->next_cursor.empty()) break;
    page.cursor = batch->next_cursor;
  }
  return bulkChange(filter.project_id, ids, request, actor);
}

Result<std::vector<store::TagValue>> TriageService::tags(core::OrgId org, store::TagKind kind) {
  return store_.listTags(org, kind);
}

Result<store::TagValue> TriageService::addTag(core::OrgId org, store::TagKind kind,
                                              const std::string& name,
                                              std::optional<int> position) {
  if (auto valid = validateTagName(name); !valid) return fail(valid.error());
  auto existing = store_.listTags(org, kind);
  if (!existing) return fail(existing.error());
  if (findByName(*existing, name))
    return fail(ErrorCode::kConflict,
                std::string(store::tagKindName(kind)) + " '" + name + "' exists already", "name");
  if (position && (*position < 0 || *position > static_cast<int>(existing->size())))
    return fail(ErrorCode::kUnprocessable,
                "position must be between 0 and " + std::to_string(existing->size()), "position");
  return store_.addTag(org, kind, name, position);
}

Result<store::TagValue> TriageService::renameTag(core::OrgId org, core::TagId id,
                                                 const std::string& name) {
  if (auto valid = validateTagName(name); !valid) return fail(valid.error());
  auto tag = store_.getTag(id);
  if (!tag || tag->org_id != org)
    return fail(ErrorCode::kNotFound, "no tag " + std::to_string(id));
  auto existing = store_.listTags(org, tag->kind);
  if (!existing) return fail(existing.error());
  if (const auto* same = findByName(*existing, name); same && same->id != id)
    return fail(ErrorCode::kConflict,
                std::string(store::tagKindName(tag->kind)) + " '" + name + "' exists already",
                "name");
  return store_.renameTag(id, name);
}

Status TriageService::deleteTag(core::OrgId org, core::TagId id,
                                const std::optional<std::string>& replacement) {
  auto tag = store_.getTag(id);
  if (!tag || tag->org_id != org) return fail(ErrorCode::kNotFound, "no tag " + std::to_string(id));
  std::optional<core::TagId> replacement_id;
  if (replacement) {
    auto existing = store_.listTags(org, tag->kind);
    if (!existing) return fail(existing.error());
    const store::TagValue* to = findByName(*existing, *replacement);
    if (!to)
      return fail(ErrorCode::kUnprocessable,
                  "unknown replacement " + std::string(store::tagKindName(tag->kind)) + " '" +
                      *replacement + "'",
                  "replacement");
    if (to->id == id)
      return fail(ErrorCode::kUnprocessable, "a value cannot replace itself", "replacement");
    replacement_id = to->id;
  }
  return store_.deleteTag(id, replacement_id);
}

Status TriageService::seedDefaultTags(core::OrgId org) {
  const std::pair<store::TagKind, std::vector<std::string>> defaults[] = {
      {store::TagKind::kState, {"New", "In Progress", "On Hold", "Closed"}},
      {store::TagKind::kOutcome, {"Malicious", "Benign", "False Positive", "Remediated"}},
      {store::TagKind::kGroup, {"L1 Support", "L2 Support"}},
  };
  for (const auto& [kind, names] : defaults) {
    auto existing = store_.listTags(org, kind);
    if (!existing) return fail(existing.error());
    if (!existing->empty()) continue;  // the organisation chose its own values already
    int position = 0;
    for (const auto& name : names) {
      auto added = store_.addTag(org, kind, name, position++);
      if (!added) return fail(added.error());
    }
  }
  return {};
}

}  // namespace td::triage
