// The triage workflow: the rules a team works threats by, above the store. Validates every
// request against the organisation's custom tags (the last state is the closed one, closing needs
// an outcome, reopening clears it) and turns it into store changes. Bulk actions change each
// threat atomically and report which did not change and why.
//
// Thread safety: a TriageService holds no mutable state of its own; call it from any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/threat.h"
#include "store/store.h"

namespace td::triage {

using core::Result;
using core::Status;
using store::Actor;

// A change as a person asks for it, by names. Unset members stay; for group/owner an empty
// string clears the value.
struct ChangeRequest {
  std::optional<std::string> group;    // threat_group name
  std::optional<std::string> owner;    // user email
  std::optional<std::string> state;    // threat_state name
  std::optional<std::string> outcome;  // threat_outcome name; required when state is the closed one
  std::optional<core::Severity> severity;
  std::optional<int> score;
  std::optional<std::string> note;
};

struct BulkFailure {
  core::ThreatId id = 0;
  core::Error error;
};

struct BulkResult {
  std::int64_t matched = 0;
  std::int64_t changed = 0;
  std::vector<core::ThreatId> changed_ids;
  std::vector<BulkFailure> failed;
};

// At most this many threats are changed by one bulk request (a filter matching more is refused).
constexpr std::int64_t kMaxBulk = 10000;

class TriageService {
 public:
  explicit TriageService(store::Store& store) : store_(store) {}

  // Creates a threat from a person or API client (source Manual or API) through the same
  // de-duplication as the engines. Returns the threat created or bumped.
  Result<core::Threat> createThreat(core::Detection detection, const Actor& actor);

  Result<core::Threat> change(core::ThreatId id, const ChangeRequest& request, const Actor& actor);
  Result<store::Note> addNote(core::ThreatId id, const std::string& text, const Actor& actor);

  // By ids (each must belong to `project`) or by filter.
  BulkResult bulkChange(store::ProjectId project, const std::vector<core::ThreatId>& ids,
                        const ChangeRequest& request, const Actor& actor);
  Result<BulkResult> bulkChange(const store::ThreatFilter& filter, const ChangeRequest& request,
                                const Actor& actor);

  // Custom tags of the organisation that owns `project`'s tags.
  Result<std::vector<store::TagValue>> tags(core::OrgId org, store::TagKind kind);
  Result<store::TagValue> addTag(core::OrgId org, store::TagKind kind, const std::string& name,
                                 std::optional<int> position);
  Result<store::TagValue> renameTag(core::OrgId org, core::TagId id, const std::string& name);
  Status deleteTag(core::OrgId org, core::TagId id, const std::optional<std::string>& replacement);

  // Seeds the default tags of a new organisation: states New, In Progress, On Hold, Closed;
  // outcomes Malicious, Benign, False Positive, Remediated; groups L1 Support, L2 Support.
  Status seedDefaultTags(core::OrgId org);

 private:
  Result<store::ThreatChange> resolve(const core::Threat& threat, const ChangeRequest& request);

  store::Store& store_;
};

}  // namespace td::triage
