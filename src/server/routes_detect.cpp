#include "server/routes_detect.h"

#include <httplib.h>

#include <charconv>

#include "core/text.h"
#include "detect/rule_action.h"
#include "detect/rule_explain.h"
#include "server/json_codec.h"

namespace td::server {
namespace {

using core::ErrorCode;
using core::fail;
using store::Role;
using store::Scope;

constexpr size_t kMaxTestEvents = detect::kMaxExplainEvents;

Json encodeGroup(const store::RuleGroup& g) {
  Json action = g.action_json.empty() ? Json(nullptr) : Json::parse(g.action_json, nullptr, false);
  if (action.is_discarded()) action = nullptr;
  return {{"id", g.id},
          {"name", g.name},
          {"kind", std::string(store::ruleGroupKindName(g.kind))},
          {"description", g.description},
          {"enabled", g.enabled},
          {"action", action},
          {"rule_count", g.rule_count},
          {"enabled_rules", g.enabled_rules},
          {"hits", g.hits},
          {"created_at", core::formatRfc3339(g.created_at)},
          {"updated_at", core::formatRfc3339(g.updated_at)}};
}

Json encodeRule(const store::StoredRule& r, bool full) {
  Json action = r.action_json.empty() ? Json(nullptr) : Json::parse(r.action_json, nullptr, false);
  if (action.is_discarded()) action = nullptr;
  Json j = {{"id", r.id},
            {"rule_id", r.uid},
            {"title", r.title},
            {"level", r.level},
            {"status", r.status},
            {"kind", r.kind},
            {"tags", r.tags},
            {"group_id", r.group_id},
            {"group", r.group},
            {"enabled", r.enabled},
            {"active", r.enabled && r.group_enabled},
            {"action", action},
            {"hits", r.hits},
            {"last_hit_at", r.last_hit_at ? Json(core::formatRfc3339(*r.last_hit_at)) : Json()},
            {"created_at", core::formatRfc3339(r.created_at)},
            {"updated_at", core::formatRfc3339(r.updated_at)}};
  if (full) j["yaml"] = r.yaml;
  return j;
}

Json encodeDiagnostic(const detect::Diagnostic& d) {
  return {{"level", d.level == detect::DiagnosticLevel::kError ? "error" : "warning"},
          {"code", d.code},
          {"message", d.message},
          {"file", d.file},
          {"line", d.line},
          {"column", d.column}};
}

// Rules are shared by every project: changing them is for managers of a top-level organisation.
core::Status requireRuleManager(const RequestContext& ctx, store::Store& store) {
  const auto& user = ctx.principal().user;
  if (!user) return fail(ErrorCode::kForbidden, "rules are changed by users, not API tokens");
  auto org = store.getOrg(user->org_id);
  if (!org) return fail(org.error());
  if (org->parent_id)
    return fail(ErrorCode::kForbidden,
                "rules are shared by every project; they are changed from the top-level "
                "organisation");
  return {};
}

// A validated action object as canonical JSON text; null -> "".
core::Result<std::string> actionText(const Json& v, const std::string& field) {
  if (v.is_null()) return std::string();
  auto a = detect::parseRuleAction(v.dump(), field);
  if (!a) return fail(a.error());
  return detect::encodeRuleAction(*a);
}

struct ProjectActionChange {
  core::ProjectId project = 0;
  std::string action_json;
};

core::Result<std::optional<ProjectActionChange>> projectAction(const RequestContext& ctx,
                                                               store::Store& store,
                                                               const Json& body) {
  if (!body.contains("project_action")) return std::optional<ProjectActionChange>();
  const Json& pa = body["project_action"];
  if (!pa.is_object())
    return fail(ErrorCode::kInvalidArgument, "expected {\"project\", \"action\"}",
                "project_action");
  ProjectActionChange out;
  bool has_project = false;
  for (auto it = pa.begin(); it != pa.end(); ++it) {
    if (it.key() == "project") {
      core::Result<store::Project> p = fail(ErrorCode::kNotFound, "no such project",
                                            "project_action.project");
      if (it.value().is_number_integer()) {
        p = ctx.visibleProject(it.value().get<std::int64_t>());
      } else if (it.value().is_string()) {
        auto found = store.findProject(it.value().get<std::string>());
        if (found && ctx.canSeeProject(*found)) p = *found;
      }
      if (!p) return fail(ErrorCode::kNotFound, "no such project", "project_action.project");
      out.project = p->id;
      has_project = true;
    } else if (it.key() == "action") {
      auto text = actionText(it.value(), "project_action.action");
      if (!text) return fail(text.error());
      out.action_json = *text;
    } else {
      return fail(ErrorCode::kInvalidArgument, "unknown member", "project_action." + it.key());
    }
  }
  if (!has_project)
    return fail(ErrorCode::kInvalidArgument, "missing", "project_action.project");
  return std::optional<ProjectActionChange>(out);
}

bool yamlContentType(const httplib::Request& req) {
  const std::string ct = core::toLower(req.get_header_value("Content-Type"));
  return ct.find("yaml") != std::string::npos || ct.rfind("text/plain", 0) == 0;
}

Reply ruleCheckFailure(const detect::RuleCheck& check) {
  Reply r = errorReply(check.firstError());
  Json diags = Json::array();
  for (const auto& d : check.report.diagnostics) diags.push_back(encodeDiagnostic(d));
  r.body["diagnostics"] = diags;
  return r;
}

core::Result<int> intQuery(const RequestContext& ctx, const std::string& name, int def, int lo,
                           int hi) {
  auto v = ctx.queryValue(name);
  if (!v) return def;
  int n = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || ec != std::errc() || ptr != v->data() + v->size() || n < lo || n > hi)
    return fail(ErrorCode::kInvalidArgument,
                name + " must be an integer " + std::to_string(lo) + "-" + std::to_string(hi),
                name);
  return n;
}

Json reloadJson(const ReloadSummary& s) {
  Json errors = Json::array();
  for (const auto& d : s.errors) errors.push_back(encodeDiagnostic(d));
  return {{"version", s.version},
          {"rules", s.rules},
          {"entity_rules", s.entity_rules},
          {"refused", s.refused},
          {"errors", errors},
          {"seconds", s.seconds}};
}

}  // namespace

void addRuleRoutes(Server& server, RuleService& service) {
  store::Store& store = server.store();
  const Access read{false, Role::kReadonly, Scope::kRead, false};
  const Access manage{false, Role::kManager, Scope::kNone, false};
  RuleService* rules = &service;

  server.addRoute({"GET", "/api/v1/rule-groups", read,
                   [&store](RequestContext&) -> core::Result<Reply> {
                     auto groups = store.rules().listGroups();
                     if (!groups) return fail(groups.error());
                     Json items = Json::array();
                     for (const auto& g : *groups) items.push_back(encodeGroup(g));
                     return Reply::json({{"items", items}});
                   },
                   "Rule groups with rule and hit counts"});

  server.addRoute(
      {"PATCH", "/api/v1/rule-groups/{id}", manage,
       [&store, rules](RequestContext& ctx) -> core::Result<Reply> {
         auto id = ctx.idParam("id");
         if (!id) return fail(id.error());
         auto body = ctx.jsonBody();
         if (!body) return fail(body.error());
         if (!body->is_object())
           return fail(ErrorCode::kInvalidArgument, "expected a JSON object", "");
         store::RuleGroupChange change;
         for (auto it = body->begin(); it != body->end(); ++it) {
           const auto& k = it.key();
           if (k == "enabled") {
             if (!it.value().is_boolean())
               return fail(ErrorCode::kInvalidArgument, "expected true or false", k);
             change.enabled = it.value().get<bool>();
           } else if (k == "description") {
             if (!it.value().is_string())
               return fail(ErrorCode::kInvalidArgument, "expected a string", k);
             change.description = it.value().get<std::string>();
           } else if (k == "action") {
             auto text = actionText(it.value(), "action");
             if (!text) return fail(text.error());
             change.action_json = *text;
           } else if (k != "project_action") {
             return fail(ErrorCode::kInvalidArgument,
                         "unknown member (enabled, description, action, project_action)", k);
           }
         }
         auto pa = projectAction(ctx, store, *body);
         if (!pa) return fail(pa.error());
         if (change.enabled || change.description || change.action_json) {
           if (auto ok = requireRuleManager(ctx, store); !ok) return fail(ok.error());
         }
         auto group = store.rules().getGroup(*id);
         if (!group) return fail(group.error());
         if (*pa) {
           auto s = store.rules().setProjectAction({store::ProjectRuleAction::Target::kGroup, *id,
                                                    (*pa)->project, (*pa)->action_json});
           if (!s) return fail(s.error());
         }
         auto changed = store.rules().changeGroup(*id, change);
         if (!changed) return fail(changed.error());
         if (auto r = rules->reload(); !r) return fail(r.error());
         return Reply::json(encodeGroup(*changed));
       },
       "Enable or disable a rule group, or set its action (globally or for one project)"});

  server.addRoute(
      {"GET", "/api/v1/rules", read,
       [&store](RequestContext& ctx) -> core::Result<Reply> {
         store::RuleFilter f;
         for (const auto& [k, v] : ctx.query()) {
           if (k == "group") {
             auto g = store.rules().findGroup(v);
             if (!g) {
               std::int64_t n = 0;
               auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
               if (ec != std::errc() || p != v.data() + v.size())
                 return fail(ErrorCode::kNotFound, "no rule group '" + v.substr(0, 64) + "'",
                             "group");
               f.group_id = n;
             } else {
               f.group_id = g->id;
             }
           } else if (k == "enabled") {
             if (v != "true" && v != "false")
               return fail(ErrorCode::kInvalidArgument, "expected true or false", k);
             f.enabled = v == "true";
           } else if (k == "text") {
             if (v.size() > kMaxQueryValueLength)
               return fail(ErrorCode::kInvalidArgument, "too long", k);
             f.text = v;
           } else if (k == "kind") {
             f.kind = v;
           } else if (k != "limit" && k != "offset") {
             return fail(ErrorCode::kInvalidArgument,
                         "unknown parameter (group, enabled, text, kind, limit, offset)", k);
           }
         }
         auto limit = intQuery(ctx, "limit", 100, 1, 1000);
         if (!limit) return fail(limit.error());
         auto offset = intQuery(ctx, "offset", 0, 0, 100'000'000);
         if (!offset) return fail(offset.error());
         f.limit = *limit;
         f.offset = *offset;
         auto page = store.rules().listRules(f);
         if (!page) return fail(page.error());
         Json items = Json::array();
         for (const auto& r : page->items) items.push_back(encodeRule(r, false));
         return Reply::json({{"items", items}, {"total", page->total}});
       },
       "Rules with their group, state and hit counts"});

  server.addRoute({"GET", "/api/v1/rules/{id}", read,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto id = ctx.idParam("id");
                     if (!id) return fail(id.error());
                     auto r = store.rules().getRule(*id);
                     if (!r) return fail(r.error());
                     return Reply::json(encodeRule(*r, true));
                   },
                   "One rule with its YAML text"});

  server.addRoute(
      {"POST", "/api/v1/rules", manage,
       [&store, rules](RequestContext& ctx) -> core::Result<Reply> {
         if (auto ok = requireRuleManager(ctx, store); !ok) return fail(ok.error());
         std::string yaml;
         std::string group = kCustomGroup;
         bool enabled = true;
         std::string action;
         if (yamlContentType(ctx.request())) {
           yaml = ctx.request().body;
           if (auto g = ctx.queryValue("group")) group = *g;
         } else {
           auto body = ctx.jsonBody();
           if (!body) return fail(body.error());
           if (!body->is_object())
             return fail(ErrorCode::kInvalidArgument, "expected a JSON object", "");
           for (auto it = body->begin(); it != body->end(); ++it) {
             const auto& k = it.key();
             if (k == "yaml") {
               if (!it.value().is_string())
                 return fail(ErrorCode::kInvalidArgument, "expected the rule's YAML text", k);
               yaml = it.value().get<std::string>();
             } else if (k == "group") {
               if (!it.value().is_string())
                 return fail(ErrorCode::kInvalidArgument, "expected a group name", k);
               group = it.value().get<std::string>();
             } else if (k == "enabled") {
               if (!it.value().is_boolean())
                 return fail(ErrorCode::kInvalidArgument, "expected true or false", k);
               enabled = it.value().get<bool>();
             } else if (k == "action") {
               auto text = actionText(it.value(), "action");
               if (!text) return fail(text.error());
               action = *text;
             } else {
               return fail(ErrorCode::kInvalidArgument,
                           "unknown member (yaml, group, enabled, action)", k);
             }
           }
         }
         if (core::trim(yaml).empty())
           return fail(ErrorCode::kInvalidArgument, "the rule's YAML text is missing", "yaml");
         detect::RuleCheck check;
         auto created = addCustomRule(store.rules(), yaml, group, enabled, &check);
         if (!created) {
           if (!check.ok()) return ruleCheckFailure(check);
           return fail(created.error());
         }
         if (!action.empty()) {
           created = store.rules().changeRule(created->id, {std::nullopt, action, std::nullopt});
           if (!created) return fail(created.error());
         }
         if (auto r = rules->reload(); !r) return fail(r.error());
         Reply reply = Reply::json(encodeRule(*created, true), 201);
         Json warnings = Json::array();
         for (const auto& d : check.report.diagnostics)
           if (d.level == detect::DiagnosticLevel::kWarning)
             warnings.push_back(encodeDiagnostic(d));
         reply.body["warnings"] = warnings;
         return reply;
       },
       "Upload a custom rule (YAML as JSON {\"yaml\"} or as an application/yaml body)"});

  server.addRoute(
      {"PATCH", "/api/v1/rules/{id}", manage,
       [&store, rules](RequestContext& ctx) -> core::Result<Reply> {
         auto id = ctx.idParam("id");
         if (!id) return fail(id.error());
         auto body = ctx.jsonBody();
         if (!body) return fail(body.error());
         if (!body->is_object())
           return fail(ErrorCode::kInvalidArgument, "expected a JSON object", "");
         auto rule = store.rules().getRule(*id);
         if (!rule) return fail(rule.error());
         store::RuleChange change;
         for (auto it = body->begin(); it != body->end(); ++it) {
           const auto& k = it.key();
           if (k == "enabled") {
             if (!it.value().is_boolean())
               return fail(ErrorCode::kInvalidArgument, "expected true or false", k);
             change.enabled = it.value().get<bool>();
           } else if (k == "action") {
             auto text = actionText(it.value(), "action");
             if (!text) return fail(text.error());
             change.action_json = *text;
           } else if (k == "yaml") {
             if (!it.value().is_string())
               return fail(ErrorCode::kInvalidArgument, "expected the rule's YAML text", k);
             auto group = store.rules().getGroup(rule->group_id);
             if (!group) return fail(group.error());
             if (group->kind != store::RuleGroupKind::kCustom)
               return fail(ErrorCode::kConflict,
                           "managed rules change with the next pack install; copy the rule into "
                           "a custom group to edit it",
                           "yaml");
             const std::string yaml = it.value().get<std::string>();
             detect::RuleCheck check = detect::checkRuleText(yaml);
             if (!check.ok()) return ruleCheckFailure(check);
             store::StoredRule content = *rule;
             content.uid = check.meta.uid;
             content.title = check.meta.title;
             content.level = check.meta.level;
             content.status = check.meta.status;
             content.kind = check.meta.kind;
             content.tags = check.meta.tags;
             content.yaml = yaml;
             change.content = content;
           } else if (k != "project_action") {
             return fail(ErrorCode::kInvalidArgument,
                         "unknown member (enabled, action, yaml, project_action)", k);
           }
         }
         auto pa = projectAction(ctx, store, *body);
         if (!pa) return fail(pa.error());
         if (change.enabled || change.action_json || change.content) {
           if (auto ok = requireRuleManager(ctx, store); !ok) return fail(ok.error());
         }
         if (*pa) {
           auto s = store.rules().setProjectAction({store::ProjectRuleAction::Target::kRule, *id,
                                                    (*pa)->project, (*pa)->action_json});
           if (!s) return fail(s.error());
         }
         auto changed = store.rules().changeRule(*id, change);
         if (!changed) return fail(changed.error());
         if (auto r = rules->reload(); !r) return fail(r.error());
         return Reply::json(encodeRule(*changed, true));
       },
       "Enable or disable a rule, set its action, or edit a custom rule's YAML"});

  server.addRoute({"DELETE", "/api/v1/rules/{id}", manage,
                   [&store, rules](RequestContext& ctx) -> core::Result<Reply> {
                     if (auto ok = requireRuleManager(ctx, store); !ok) return fail(ok.error());
                     auto id = ctx.idParam("id");
                     if (!id) return fail(id.error());
                     auto rule = store.rules().getRule(*id);
                     if (!rule) return fail(rule.error());
                     auto group = store.rules().getGroup(rule->group_id);
                     if (!group) return fail(group.error());
                     if (group->kind != store::RuleGroupKind::kCustom)
                       return fail(ErrorCode::kConflict,
                                   "managed rules are not deleted one by one; disable the rule",
                                   "id");
                     if (auto s = store.rules().deleteRule(*id); !s) return fail(s.error());
                     if (auto r = rules->reload(); !r) return fail(r.error());
                     Reply reply;
                     reply.status = 204;
                     return reply;
                   },
                   "Delete a custom rule"});

  server.addRoute(
      {"POST", "/api/v1/rules/test", Access{false, Role::kOperator, Scope::kNone, false},
       [](RequestContext& ctx) -> core::Result<Reply> {
         auto body = ctx.jsonBody();
         if (!body) return fail(body.error());
         if (!body->is_object())
           return fail(ErrorCode::kInvalidArgument, "expected {\"rule\", \"events\"}", "");
         std::string rule;
         std::vector<std::string> events;
         bool has_rule = false, has_events = false;
         for (auto it = body->begin(); it != body->end(); ++it) {
           const auto& k = it.key();
           if (k == "rule") {
             if (!it.value().is_string())
               return fail(ErrorCode::kInvalidArgument, "expected the rule's YAML text", k);
             rule = it.value().get<std::string>();
             has_rule = true;
           } else if (k == "events") {
             if (!it.value().is_array())
               return fail(ErrorCode::kInvalidArgument, "expected a list of events", k);
             if (it.value().size() > kMaxTestEvents)
               return fail(ErrorCode::kTooLarge,
                           "at most " + std::to_string(kMaxTestEvents) + " events", k);
             for (size_t i = 0; i < it.value().size(); ++i) {
               const Json& e = it.value()[i];
               if (e.is_string()) {
                 events.push_back(e.get<std::string>());
               } else if (e.is_object()) {
                 events.push_back(e.dump(-1, ' ', false, Json::error_handler_t::replace));
               } else {
                 return fail(ErrorCode::kInvalidArgument, "an event is a JSON object",
                             "events[" + std::to_string(i) + "]");
               }
             }
             has_events = true;
           } else {
             return fail(ErrorCode::kInvalidArgument, "unknown member (rule, events)", k);
           }
         }
         if (!has_rule) return fail(ErrorCode::kInvalidArgument, "missing", "rule");
         if (!has_events) return fail(ErrorCode::kInvalidArgument, "missing", "events");
         auto x = detect::explainRule(rule, events);
         if (!x) return fail(x.error());
         Json items = Json::array();
         size_t matched = 0;
         for (const auto& e : x->events) {
           Json item = {{"index", e.index},
                        {"matched", e.matched},
                        {"selections", e.selections},
                        {"fields", e.fields},
                        {"field_map", e.field_map}};
           if (!e.error.empty()) item["error"] = e.error;
           if (e.matched) ++matched;
           items.push_back(item);
         }
         Json warnings = Json::array();
         for (const auto& d : x->report.diagnostics) warnings.push_back(encodeDiagnostic(d));
         return Reply::json({{"rule_id", x->rule_id},
                             {"title", x->title},
                             {"matched", matched},
                             {"events", items},
                             {"warnings", warnings}});
       },
       "Test a rule against sample events: which match, and which selections held"});

  server.addRoute({"POST", "/api/v1/rules/reload", manage,
                   [&store, rules](RequestContext& ctx) -> core::Result<Reply> {
                     if (auto ok = requireRuleManager(ctx, store); !ok) return fail(ok.error());
                     auto r = rules->reload();
                     if (!r) return fail(r.error());
                     return Reply::json(reloadJson(*r));
                   },
                   "Recompile the enabled rules and swap them in while events flow"});

  server.addRoute({"GET", "/api/v1/rules/status", read,
                   [rules](RequestContext&) -> core::Result<Reply> {
                     Json j = reloadJson(rules->lastReload());
                     const auto s = rules->processor().stats();
                     j["events"] = s.events;
                     j["bad_events"] = s.bad_events;
                     j["detections"] = s.detections;
                     j["signals"] = s.signals;
                     j["entity_threats"] = s.entity_threats;
                     return Reply::json(j);
                   },
                   "The rules in effect (last reload) and the Sigma stage's counters"});
}

}  // namespace td::server
