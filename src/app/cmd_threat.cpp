#include "app/cmd_threat.h"

#include <iostream>

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>

#include "app/cli.h"
#include "core/text.h"
#include "server/export_format.h"
#include "server/json_codec.h"
#include "triage/service.h"

namespace td::app {
namespace {

struct CreateOptions {
  std::string store = kDefaultStore;
  std::string project, name, description, severity, kind = "THREAT", rule_id, rule_group;
  std::string entity, entity_group, host, evidence = "{}", group, check_by = "rule,entity,source";
  std::string actor = "cli";
  int score = -1;
  std::vector<std::string> tags;
};

core::Result<core::Entity> parseEntity(const std::string& text) {
  auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return core::fail(core::ErrorCode::kInvalidArgument,
                      "expected TYPE:VALUE such as host:WS-042, user:alice, ip:10.1.2.3",
                      "--entity");
  return core::Entity{text.substr(0, colon), text.substr(colon + 1)};
}

void addCreate(CLI::App& app) {
  auto o = std::make_shared<CreateOptions>();
  auto* threat = app.add_subcommand("threat", "Threats");
  threat->require_subcommand(1);
  auto* create = threat->add_subcommand("create", "Raise a threat by hand (source Manual)");
  addStoreOption(create, o->store);
  create->add_option("--project", o->project, "Project name")->required();
  create->add_option("--name", o->name, "What happened")->required();
  create->add_option("--description", o->description, "Details");
  create->add_option("--severity", o->severity, "INFO, LOW, MEDIUM, HIGH or CRITICAL");
  create->add_option("--score", o->score, "0-100 (default: from the severity)");
  create->add_option("--kind", o->kind, "SIGNAL or THREAT")->capture_default_str();
  create->add_option("--rule-id", o->rule_id, "Rule id, if a rule raised it");
  create->add_option("--rule-group", o->rule_group, "Rule group");
  create->add_option("--entity", o->entity, "TYPE:VALUE, e.g. host:WS-042 or user:alice");
  create->add_option("--entity-group", o->entity_group, "e.g. Workstations");
  create->add_option("--host", o->host, "Host name");
  create->add_option("--tag", o->tags, "A tag such as an ATT&CK id (repeatable)");
  create->add_option("--evidence", o->evidence, "Evidence as one JSON value")->capture_default_str();
  create->add_option("--group", o->group, "Threat group (queue) to put it in");
  create->add_option("--check-by", o->check_by, "De-duplicate on: rule, entity, source")
      ->capture_default_str();
  create->add_option("--actor", o->actor, "Who raises it, for the timeline")->capture_default_str();
  create->callback([o] {
    auto store = openStoreOrFail(o->store);
    core::Detection d;
    d.project_id = orFail(store->findProject(o->project)).id;
    d.name = o->name;
    d.description = o->description;
    d.source = std::string(core::source::kManual);
    if (!o->severity.empty()) d.severity = orFail(core::parseSeverity(o->severity));
    if (o->score >= 0) {
      d.score = o->score;
      if (o->severity.empty()) d.severity = core::severityForScore(o->score);
    } else {
      d.score = core::scoreForSeverity(d.severity);
    }
    d.kind = orFail(core::parseThreatKind(o->kind));
    d.rule_id = o->rule_id;
    d.rule_group = o->rule_group;
    if (!o->entity.empty()) d.entity = orFail(parseEntity(o->entity));
    d.entity_group = o->entity_group;
    d.host = o->host;
    d.tags = o->tags;
    if (!nlohmann::json::accept(o->evidence))
      throw CommandFailed("--evidence: not valid JSON");
    d.evidence_json = o->evidence;
    d.group = o->group;
    d.check_by = orFail(core::parseCheckBy(o->check_by));
    triage::TriageService triage(*store);
    core::Threat t = orFail(triage.createThreat(d, store::Actor{std::nullopt, o->actor}));
    std::cout << t.id << "\n";
  });
}

struct ExportOptions {
  std::string store = kDefaultStore;
  std::string project, format = "csv", out = "-";
  // Filters, spelled as the API's query parameters so both are read by one decoder.
  std::map<std::string, std::string> filters;
};

void addExport(CLI::App& app) {
  auto o = std::make_shared<ExportOptions>();
  auto* cmd = app.add_subcommand(
      "export", "Write a project's threats as CSV or NDJSON, streamed (memory stays flat)");
  addStoreOption(cmd, o->store);
  cmd->add_option("--project", o->project, "Project name")->required();
  cmd->add_option("--format", o->format, "csv or ndjson")
      ->check(CLI::IsMember({"csv", "ndjson"}))
      ->capture_default_str();
  cmd->add_option("--out", o->out, "Output file ('-': standard output)")->capture_default_str();
  for (const char* name : {"group", "state", "severity", "source", "owner", "kind", "entity",
                           "host", "text", "open", "from", "to", "sort", "order"}) {
    cmd->add_option(std::string("--") + name, o->filters[name],
                    std::string("Filter or order as the API's '") + name +
                        "' query parameter (see docs/api.md)");
  }
  cmd->callback([o] {
    server::QueryParams params;
    for (const auto& [name, value] : o->filters)
      if (!value.empty()) params.emplace(name, value);
    auto query = server::decodeThreatQuery(params);
    if (!query) {
      core::Error e = query.error();
      if (!e.field.empty()) e.field = "--" + e.field;
      throw CommandFailed(e);
    }
    auto store = openStoreOrFail(o->store);
    query->filter.project_id = orFail(store->findProject(o->project)).id;
    std::ofstream file;
    if (o->out != "-") {
      file.open(o->out, std::ios::binary | std::ios::trunc);
      if (!file) throw CommandFailed("--out: cannot write " + o->out);
    }
    std::ostream& out = o->out == "-" ? std::cout : file;
    const bool csv = o->format == "csv";
    std::string buffer;
    if (csv) buffer += server::kThreatCsvHeader;
    std::int64_t rows = 0;
    orFail(store->exportThreats(query->filter, query->page, [&](const core::Threat& t) {
      csv ? server::appendThreatCsv(buffer, t) : server::appendThreatNdjson(buffer, t);
      ++rows;
      if (buffer.size() >= 64 * 1024) {
        out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        buffer.clear();
      }
      return static_cast<bool>(out);
    }));
    out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    out.flush();
    if (!out) throw CommandFailed("--out: write failed");
    if (o->out != "-") std::cerr << rows << " threats written to " << o->out << "\n";
  });
}

}  // namespace

void registerThreatCommands(CLI::App& app) {
  addCreate(app);
  addExport(app);
}

}  // namespace td::app
