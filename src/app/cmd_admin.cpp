#include "app/cmd_admin.h"

#include <fmt/format.h>

#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "app/cli.h"
#include "server/auth.h"
#include "server/json_codec.h"
#include "store/migrate.h"
#include "triage/service.h"

namespace td::app {
namespace {

struct Options {
  std::string store = kDefaultStore;
  std::string name, parent, org, email, role = "readonly", time_zone = "UTC", display_name;
  std::string project, scopes = "read", token_name = "cli";
  bool password_stdin = false;
  std::int64_t id = 0;
};

void addOrgCommands(CLI::App& app, std::shared_ptr<Options> o) {
  auto* org = app.add_subcommand("org", "Organisations (they may nest: a provider and its customers)");
  org->require_subcommand(1);
  auto* add = org->add_subcommand("add", "Create an organisation with the default custom tags");
  addStoreOption(add, o->store);
  add->add_option("--name", o->name, "Organisation name")->required();
  add->add_option("--parent", o->parent, "Name of the organisation it belongs to");
  add->callback([o] {
    auto store = openStoreOrFail(o->store);
    std::optional<core::OrgId> parent;
    if (!o->parent.empty()) parent = orFail(store->findOrg(o->parent)).id;
    store::Org created = orFail(store->createOrg(o->name, parent));
    triage::TriageService triage(*store);
    orFail(triage.seedDefaultTags(created.id));
    std::cout << created.id << "\n";
  });
  auto* list = org->add_subcommand("list", "List organisations");
  addStoreOption(list, o->store);
  list->callback([o] {
    auto store = openStoreOrFail(o->store);
    auto orgs = orFail(store->listOrgs());
    std::cout << fmt::format("{:>5}  {:<32} {}\n", "ID", "NAME", "PARENT");
    for (const auto& org : orgs) {
      std::string parent;
      for (const auto& p : orgs)
        if (org.parent_id && p.id == *org.parent_id) parent = p.name;
      std::cout << fmt::format("{:>5}  {:<32} {}\n", org.id, org.name, parent);
    }
  });
}

void addProjectCommands(CLI::App& app, std::shared_ptr<Options> o) {
  auto* project = app.add_subcommand("project", "Projects (threats, tokens and rules belong to one)");
  project->require_subcommand(1);
  auto* add = project->add_subcommand("add", "Create a project in an organisation");
  addStoreOption(add, o->store);
  add->add_option("--org", o->org, "Organisation name")->required();
  add->add_option("--name", o->name, "Project name")->required();
  add->callback([o] {
    auto store = openStoreOrFail(o->store);
    auto org = orFail(store->findOrg(o->org));
    std::cout << orFail(store->createProject(org.id, o->name)).id << "\n";
  });
  auto* list = project->add_subcommand("list", "List projects");
  addStoreOption(list, o->store);
  list->callback([o] {
    auto store = openStoreOrFail(o->store);
    std::cout << fmt::format("{:>5}  {:<32} {}\n", "ID", "NAME", "ORGANISATION");
    for (const auto& p : orFail(store->listProjects()))
      std::cout << fmt::format("{:>5}  {:<32} {}\n", p.id, p.name, orFail(store->getOrg(p.org_id)).name);
  });
}

void addUserCommands(CLI::App& app, std::shared_ptr<Options> o) {
  auto* user = app.add_subcommand("user", "Users (admin, manager, operator, readonly)");
  user->require_subcommand(1);
  auto* add = user->add_subcommand(
      "add", "Create a user; without --password-stdin a password is generated and printed once");
  addStoreOption(add, o->store);
  add->add_option("--email", o->email, "Login e-mail address")->required();
  add->add_option("--org", o->org, "Organisation name")->required();
  add->add_option("--role", o->role, "admin, manager, operator or readonly")->capture_default_str();
  add->add_option("--time-zone", o->time_zone, "IANA time zone, e.g. Europe/Berlin")
      ->capture_default_str();
  add->add_option("--name", o->display_name, "Display name");
  add->add_flag("--password-stdin", o->password_stdin, "Read the password from standard input");
  add->callback([o] {
    auto store = openStoreOrFail(o->store);
    store::User u;
    u.email = o->email;
    u.display_name = o->display_name;
    u.role = orFail(store::parseRole(o->role));
    orFail(server::validateEmail(o->email, "--email"));
    orFail(server::validateTimeZone(o->time_zone, "--time-zone"));
    u.time_zone = o->time_zone;
    u.org_id = orFail(store->findOrg(o->org)).id;
    std::string password = o->password_stdin ? readSecretLine() : server::generatePassword();
    orFail(server::checkPasswordPolicy(password));
    u.password_hash = orFail(server::hashPassword(password));
    store::User created = orFail(store->createUser(u));
    if (o->password_stdin) {
      std::cout << created.id << "\n";
    } else {
      std::cout << "user " << created.email << " created; password (shown once): " << password
                << "\n";
    }
  });
  auto* list = user->add_subcommand("list", "List users");
  addStoreOption(list, o->store);
  list->callback([o] {
    auto store = openStoreOrFail(o->store);
    std::cout << fmt::format("{:>5}  {:<32} {:<9} {:<20} {}\n", "ID", "EMAIL", "ROLE",
                             "ORGANISATION", "TIME ZONE");
    for (const auto& u : orFail(store->listUsers()))
      std::cout << fmt::format("{:>5}  {:<32} {:<9} {:<20} {}\n", u.id, u.email,
                               store::roleName(u.role), orFail(store->getOrg(u.org_id)).name,
                               u.time_zone);
  });
  auto* passwd = user->add_subcommand("passwd", "Set a user's password (read from standard input)");
  addStoreOption(passwd, o->store);
  passwd->add_option("--email", o->email, "Login e-mail address")->required();
  passwd->add_flag("--password-stdin", o->password_stdin,
                   "Read the password from standard input (the default)");
  passwd->callback([o] {
    auto store = openStoreOrFail(o->store);
    auto user = orFail(store->findUserByEmail(o->email));
    std::string password = readSecretLine();
    orFail(server::checkPasswordPolicy(password));
    orFail(store->setPasswordHash(user.id, orFail(server::hashPassword(password))));
    std::cerr << "password of " << user.email << " changed\n";
  });
}

void addTokenCommands(CLI::App& app, std::shared_ptr<Options> o) {
  auto* token = app.add_subcommand("token", "API tokens of a project (Bearer; shown once)");
  token->require_subcommand(1);
  auto* create = token->add_subcommand("create", "Create a token; prints only the token");
  addStoreOption(create, o->store);
  create->add_option("--project", o->project, "Project name")->required();
  create->add_option("--scopes", o->scopes, "Comma separated: read, write, ingest")
      ->capture_default_str();
  create->add_option("--name", o->token_name, "A name to recognise the token by")
      ->capture_default_str();
  create->callback([o] {
    auto store = openStoreOrFail(o->store);
    store::ApiToken t;
    t.project_id = orFail(store->findProject(o->project)).id;
    t.scopes = orFail(store::parseScopes(o->scopes));
    if (t.scopes == store::Scope::kNone) throw CommandFailed("--scopes: give at least one scope");
    t.name = o->token_name;
    server::NewToken secret = server::generateToken();
    t.token_hash = secret.hash;
    t.prefix = secret.prefix;
    t.created_at = core::nowMs();
    orFail(store->createToken(t));
    std::cout << secret.secret << "\n";
  });
  auto* list = token->add_subcommand("list", "List tokens (never their secrets)");
  addStoreOption(list, o->store);
  list->add_option("--project", o->project, "Only this project's tokens");
  list->callback([o] {
    auto store = openStoreOrFail(o->store);
    std::optional<core::ProjectId> project;
    if (!o->project.empty()) project = orFail(store->findProject(o->project)).id;
    std::cout << fmt::format("{:>5}  {:<12} {:<20} {:<18} {:<24} {}\n", "ID", "PREFIX", "NAME",
                             "SCOPES", "CREATED", "REVOKED");
    for (const auto& t : orFail(store->listTokens(project)))
      std::cout << fmt::format("{:>5}  {:<12} {:<20} {:<18} {:<24} {}\n", t.id, t.prefix, t.name,
                               store::scopeNames(t.scopes), core::formatRfc3339(t.created_at),
                               t.revoked_at ? core::formatRfc3339(*t.revoked_at) : "");
  });
  auto* revoke = token->add_subcommand("revoke", "Revoke a token by id");
  addStoreOption(revoke, o->store);
  revoke->add_option("--id", o->id, "Token id (see token list)")->required();
  revoke->callback([o] {
    auto store = openStoreOrFail(o->store);
    orFail(store->revokeToken(o->id));
    std::cerr << "token " << o->id << " revoked\n";
  });
}

void addMigrateCommand(CLI::App& app) {
  auto from = std::make_shared<std::string>();
  auto to = std::make_shared<std::string>();
  auto* migrate = app.add_subcommand(
      "migrate",
      "Move an installation to another store (e.g. SQLite to PostgreSQL): every table with its "
      "ids, then the row counts compared");
  migrate->add_option("--from", *from, "Source store (sqlite:PATH)")->required();
  migrate->add_option("--to", *to, "Destination store, new and empty (postgresql://…)")->required();
  migrate->callback([from, to] {
    const bool tty = isatty(2);
    auto report = orFail(store::copyStore(
        *from, *to, [tty](const std::string& table, std::int64_t done, std::int64_t total) {
          if (tty) std::cerr << fmt::format("\r  {:<32} {:>10} / {:<10}", table, done, total);
          if (tty && done == total) std::cerr << "\n";
        }));
    std::cout << fmt::format("{:<32} {:>10} {:>10}\n", "TABLE", "SOURCE", "COPIED");
    for (const auto& t : report.tables)
      std::cout << fmt::format("{:<32} {:>10} {:>10}{}\n", t.table, t.source_rows, t.copied_rows,
                               t.source_rows == t.copied_rows ? "" : "  MISMATCH");
    if (!report.verified) {
      std::cerr << "threatdesk: migrate: row counts differ (see MISMATCH above)\n";
      std::exit(1);
    }
    std::cerr << "migrated " << report.rows << " rows in " << report.tables.size()
              << " tables; counts verified\n";
  });
}

}  // namespace

void registerAdminCommands(CLI::App& app) {
  auto options = std::make_shared<Options>();
  addOrgCommands(app, options);
  addProjectCommands(app, options);
  addUserCommands(app, options);
  addTokenCommands(app, options);
  addMigrateCommand(app);
}

}  // namespace td::app
