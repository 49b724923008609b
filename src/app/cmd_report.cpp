#include "app/cmd_report.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "app/cli.h"
#include "core/text.h"
#include "report/query.h"
#include "report/render.h"
#include "report/scheduler.h"
#include "report/spec.h"
#include "report/templates.h"

namespace td::app {
namespace {

struct ReportOptions {
  std::string store = kDefaultStore;
  std::string report, format = "pdf", out, project, page_size, widget, now, file, name;
  bool grayscale = false;
  std::string cron, time_zone = "UTC";
  std::vector<std::string> to, users;
  int width = 1240;
};

std::string readFileOrFail(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CommandFailed("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A report document and the project it counts over, from NAME|FILE: a file that exists, else a
// shipped template, else a stored report (in --project, or the only one of that name).
struct Source {
  std::string document;
  core::ProjectId project_id = 0;
  std::string name;
};

std::optional<core::ProjectId> projectOrNone(store::Store& store, const std::string& name) {
  if (name.empty()) return std::nullopt;
  return orFail(store.findProject(name)).id;
}

Source resolve(store::Store* store, const ReportOptions& o) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(o.report, ec)) {
    Source s{readFileOrFail(o.report), 0, std::filesystem::path(o.report).stem().string()};
    if (store) s.project_id = projectOrNone(*store, o.project).value_or(0);
    return s;
  }
  if (auto t = report::findTemplate(o.report)) {
    Source s{t->document, 0, t->name};
    if (store) s.project_id = projectOrNone(*store, o.project).value_or(0);
    return s;
  }
  if (!store) throw CommandFailed("report: no file or template named '" + o.report + "'");
  if (auto project = projectOrNone(*store, o.project)) {
    auto r = store->reports().findReport(*project, o.report);
    if (!r)
      throw CommandFailed("report: no file, template or stored report named '" + o.report + "'");
    return {r->spec_json, r->project_id, r->name};
  }
  std::vector<store::ReportDefinition> found;
  for (auto& r : orFail(store->reports().listReports(std::nullopt)))
    if (core::equalsIgnoreCase(r.name, o.report)) found.push_back(std::move(r));
  if (found.empty())
    throw CommandFailed("report: no file, template or stored report named '" + o.report + "'");
  if (found.size() > 1)
    throw CommandFailed("report: several projects have a report named '" + o.report +
                        "'; name one with --project");
  return {found[0].spec_json, found[0].project_id, found[0].name};
}

// A document's first error as the one-line failure every command ends with.
[[noreturn]] void failWithFirst(const std::vector<core::Error>& errors) {
  core::Error first = errors.front();
  if (errors.size() > 1) first.message += " (and " + std::to_string(errors.size() - 1) + " more)";
  if (first.field.empty()) first.field = "report";
  throw CommandFailed(first);
}

void addRender(CLI::App* report) {
  auto o = std::make_shared<ReportOptions>();
  auto* render = report->add_subcommand(
      "render", "Render a stored report, a template (see `report templates`) or a report file");
  addStoreOption(render, o->store);
  render->add_option("REPORT", o->report, "Stored report name, template name or JSON file")
      ->required();
  render->add_option("--format", o->format, "pdf, png, svg, html or csv")->capture_default_str();
  render->add_option("--out", o->out, "Output file ('-' for standard output)")->required();
  render->add_option("--project", o->project, "Count this project's threats only");
  render->add_option("--page-size", o->page_size, "PDF: A4 or Letter (default: the report's)");
  render->add_flag("--grayscale", o->grayscale, "Draw in shades of grey");
  render->add_option("--widget", o->widget, "CSV: one widget's data (default: every widget)");
  render->add_option("--width", o->width, "PNG: width in pixels")->capture_default_str();
  render->add_option("--now", o->now, "Render as of this time (RFC 3339; default: now)");
  render->callback([o] {
    const auto format = orFail(report::parseFormat(o->format));
    // Files and templates render without a store when none exists yet (an empty report).
    std::unique_ptr<store::Store> store = openStoreOrFail(o->store);
    Source src = resolve(store.get(), *o);
    auto parsed = report::parseSpecAll(src.document);
    if (!parsed.spec) failWithFirst(parsed.errors);
    report::QueryOptions q;
    q.project_id = src.project_id;
    if (!o->now.empty()) q.now = orFail(core::parseRfc3339(o->now));
    auto data = orFail(report::runReport(*store, *parsed.spec, q));
    report::RenderOptions r;
    r.format = format;
    r.grayscale = o->grayscale;
    r.widget = o->widget;
    r.png_width_px = o->width;
    if (!o->page_size.empty()) {
      if (core::equalsIgnoreCase(o->page_size, "A4"))
        r.page_size = report::PageSize::kA4;
      else if (core::equalsIgnoreCase(o->page_size, "Letter"))
        r.page_size = report::PageSize::kLetter;
      else
        throw CommandFailed("--page-size: expected A4 or Letter");
    }
    const std::string bytes = orFail(report::renderReport(data, r));
    if (o->out == "-") {
      std::cout.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      return;
    }
    std::ofstream out(o->out, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw CommandFailed("cannot write " + o->out);
  });
}

void addCheckAndTemplates(CLI::App* report) {
  auto o = std::make_shared<ReportOptions>();
  auto* check = report->add_subcommand("check", "Validate a report document; list every error");
  check->add_option("FILE", o->file, "Report JSON file")->required();
  check->callback([o] {
    auto parsed = report::parseSpecAll(readFileOrFail(o->file));
    if (!parsed.spec) {
      // The full list on standard output (the point of `check`); the one-line failure on stderr.
      for (const auto& e : parsed.errors)
        std::cout << (e.field.empty() ? "report" : e.field) << ": " << e.message << "\n";
      failWithFirst(parsed.errors);
    }
    std::cout << o->file << ": valid, " << parsed.spec->widgets.size() << " widgets\n";
  });
  auto* templates = report->add_subcommand("templates", "List the shipped report templates");
  auto show = std::make_shared<std::string>();
  templates->add_option("--show", *show, "Print one template's document");
  templates->callback([show] {
    if (!show->empty()) {
      std::cout << orFail(report::findTemplate(*show)).document;
      return;
    }
    for (const auto& t : report::listTemplates())
      std::cout << t.name << "\t" << t.title << "\n";
  });
}

void addStored(CLI::App* report) {
  auto o = std::make_shared<ReportOptions>();
  auto* save = report->add_subcommand(
      "save", "Store a report document under a name (a new version when the name exists)");
  addStoreOption(save, o->store);
  save->add_option("--project", o->project, "Project")->required();
  save->add_option("--name", o->name, "Report name")->required();
  save->add_option("FILE", o->file, "Report JSON file, or a template name")->required();
  save->callback([o] {
    std::error_code ec;
    std::string doc;
    if (std::filesystem::is_regular_file(o->file, ec))
      doc = readFileOrFail(o->file);
    else
      doc = orFail(report::findTemplate(o->file)).document;
    auto parsed = report::parseSpecAll(doc);
    if (!parsed.spec) failWithFirst(parsed.errors);
    auto store = openStoreOrFail(o->store);
    const auto project = orFail(store->findProject(o->project));
    auto existing = store->reports().findReport(project.id, o->name);
    store::ReportDefinition r;
    if (existing)
      r = orFail(store->reports().updateReport(existing->id, std::nullopt, doc, "cli",
                                               std::nullopt));
    else
      r = orFail(store->reports().createReport(project.id, o->name, doc, "cli"));
    std::cout << r.id << "\t" << r.name << "\tversion " << r.version << "\n";
  });
  auto lo = std::make_shared<ReportOptions>();
  auto* list = report->add_subcommand("list", "List stored reports");
  addStoreOption(list, lo->store);
  list->add_option("--project", lo->project, "Only this project's reports");
  list->callback([lo] {
    auto store = openStoreOrFail(lo->store);
    for (const auto& r : orFail(store->reports().listReports(projectOrNone(*store, lo->project))))
      std::cout << r.id << "\t" << r.name << "\tversion " << r.version << "\t"
                << core::formatRfc3339(r.updated_at) << "\n";
  });

  auto so = std::make_shared<ReportOptions>();
  auto* schedule = report->add_subcommand("schedule", "Schedules of stored reports");
  schedule->require_subcommand(1);
  auto* add = schedule->add_subcommand(
      "add", "Render a report on a cron schedule and e-mail it (sent by `threatdesk serve --smtp`)");
  addStoreOption(add, so->store);
  add->add_option("--project", so->project, "Project of the report")->required();
  add->add_option("--report", so->name, "Report name")->required();
  add->add_option("--cron", so->cron, "Five-field cron expression, e.g. '0 8 * * MON'")
      ->required();
  add->add_option("--time-zone", so->time_zone, "IANA time zone the expression is read in")
      ->capture_default_str();
  add->add_option("--to", so->to, "Recipient e-mail address (repeatable)");
  add->add_option("--user", so->users,
                  "A user of the report's organisation (or its provider) by e-mail or id, mailed "
                  "at the user's current address while enabled (repeatable); --to and/or --user");
  add->add_option("--format", so->format, "pdf, png, svg or csv")->capture_default_str();
  add->callback([so] {
    auto store = openStoreOrFail(so->store);
    const auto project = orFail(store->findProject(so->project));
    const auto r = orFail(store->reports().findReport(project.id, so->name));
    store::ReportSchedule s;
    s.report_id = r.id;
    s.cron = so->cron;
    s.time_zone = so->time_zone;
    s.recipients = so->to;
    s.users = orFail(report::resolveScheduleUsers(*store, project.org_id, so->users));
    s.format = so->format;
    s = orFail(report::prepareSchedule(s, core::nowMs()));
    s = orFail(store->reports().createSchedule(s));
    std::cout << s.id << "\tnext run " << core::formatRfc3339(*s.next_run_at) << "\n";
  });
  auto* slist = schedule->add_subcommand("list", "List schedules, their last runs and the state of their e-mails");
  addStoreOption(slist, so->store);
  slist->callback([so] {
    auto store = openStoreOrFail(so->store);
    for (const auto& s : orFail(store->reports().listSchedules(std::nullopt))) {
      std::cout << s.id << "\treport " << s.report_id << "\t" << s.cron << " (" << s.time_zone
                << ")\t" << (s.enabled ? "enabled" : "disabled") << "\tnext "
                << (s.next_run_at ? core::formatRfc3339(*s.next_run_at) : "-") << "\tto ";
      std::string to;
      for (const auto& a : s.recipients) to += (to.empty() ? "" : ", ") + a;
      for (const auto id : s.users) {
        auto u = store->getUser(id);
        to += (to.empty() ? "" : ", ") + (u ? u->email : "user " + std::to_string(id));
      }
      std::cout << to << "\n";
      for (const auto& run : orFail(store->reports().listRuns(s.id, std::nullopt, 5))) {
        std::cout << "\trun " << run.id << "\t" << core::formatRfc3339(run.scheduled_for) << "\t"
                  << run.status << "\t" << run.message << "\n";
        for (const auto& d : run.deliveries)
          std::cout << "\t\t" << d.recipient << "\t" << d.status << "\t" << d.attempts
                    << " tries" << (d.last_error.empty() ? "" : "\t" + d.last_error) << "\n";
      }
    }
  });
}

}  // namespace

void registerReportCommands(CLI::App& app) {
  auto* report = app.add_subcommand("report", "Reports: render, check, templates, save, schedules");
  report->require_subcommand(1);
  addRender(report);
  addCheckAndTemplates(report);
  addStored(report);
}

}  // namespace td::app
