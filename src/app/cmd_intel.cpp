#include "app/cmd_intel.h"

#include <sys/resource.h>
#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "app/cli.h"
#include "core/text.h"
#include "intel/feeds.h"
#include "intel/matcher.h"
#include "intel/warninglist.h"
#ifdef TD_WITH_INTEL_SYNC
#include <spdlog/spdlog.h>

#include <filesystem>

#include "intel/sync/feed_service.h"
#include "intel/sync/http_fetch.h"
#include "intel/sync/intel_processor.h"
#endif

namespace td::app {
namespace {

struct FeedOptions {
  std::vector<std::string> files;
  std::string format = "auto";
  std::string column, type, feed_name, warninglists;
  char delimiter = ',';
  int confidence = -1;
};

void addFeedOptions(CLI::App* c, FeedOptions& o) {
  c->add_option("--format", o.format, "auto | stix | misp | misp-feed | csv")
      ->capture_default_str();
  c->add_option("--column", o.column, "CSV: the value column (header name or 0-based number)");
  c->add_option("--type", o.type,
                "CSV: the indicator type of every row (ip, cidr, domain, url, md5, sha1, sha256, "
                "sha512, email, filename); default: guessed per value");
  c->add_option("--delimiter", o.delimiter, "CSV: field delimiter")->capture_default_str();
  c->add_option("--confidence", o.confidence, "CSV: confidence 0-100 of every row");
  c->add_option("--feed", o.feed_name, "Feed name (default: the file name)");
  c->add_option("--warninglists", o.warninglists,
                "MISP warninglists directory: suppress known-benign indicators");
}

intel::CsvMapping csvMapping(const FeedOptions& o) {
  intel::CsvMapping m;
  m.value_column = o.column;
  m.delimiter = o.delimiter;
  m.confidence = o.confidence;
  if (!o.type.empty()) {
    auto t = intel::parseIndicatorType(o.type);
    if (!t) throw CommandFailed("--type: unknown indicator type \"" + o.type + "\"");
    m.type = *t;
  }
  return m;
}

std::unique_ptr<intel::Warninglists> loadWarninglists(const FeedOptions& o) {
  if (o.warninglists.empty()) return nullptr;
  auto wl = std::make_unique<intel::Warninglists>();
  orFail(wl->loadDirectory(o.warninglists));
  for (const auto& w : wl->warnings()) std::cerr << "warning: " << w << "\n";
  return wl;
}

// Loads every feed into `builder`; a malformed feed ends the command naming file and position.
std::vector<intel::ImportReport> loadFeeds(const FeedOptions& o, intel::IndexBuilder& builder,
                                           const intel::Warninglists* wl) {
  auto format = intel::parseFeedFormat(o.format);
  if (!format) throw CommandFailed("--format: expected auto, stix, misp, misp-feed or csv");
  intel::CsvMapping mapping = csvMapping(o);
  std::vector<intel::ImportReport> reports;
  for (const auto& file : o.files) {
    intel::FeedInfo info;
    info.name = o.feed_name;
    auto batch = intel::loadFeed(file, *format, mapping, info);
    if (!batch) {
      core::Error e = batch.error();
      if (e.field.find(file) == std::string::npos) e.field = file + (e.field.empty() ? "" : ": " + e.field);
      throw CommandFailed(e);
    }
    intel::BuildOptions bo;
    bo.warninglists = wl;
    reports.push_back(builder.add(std::move(*batch), bo));
  }
  return reports;
}

nlohmann::json reportJson(const intel::ImportReport& r) {
  auto items = [](const std::vector<intel::ImportReport::Item>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& i : v) a.push_back({{"where", i.where}, {"value", i.value}, {"reason", i.reason}});
    return a;
  };
  return {{"feed", r.feed},           {"added", r.added},
          {"updated", r.updated},     {"expired", r.expired},
          {"suppressed", r.suppressed}, {"rejected", r.rejected},
          {"rejections", items(r.rejections)}, {"suppressions", items(r.suppressions)},
          {"warnings", r.warnings}};
}

void printReport(const std::string& file, const intel::ImportReport& r, size_t max_items) {
  std::cout << file << ": feed \"" << r.feed << "\": added " << r.added << ", updated "
            << r.updated << ", expired " << r.expired << ", suppressed " << r.suppressed
            << ", rejected " << r.rejected << "\n";
  size_t shown = 0;
  for (const auto& i : r.rejections) {
    if (shown++ >= max_items) break;
    std::cout << "  rejected " << i.where << " \"" << i.value << "\": " << i.reason << "\n";
  }
  shown = 0;
  for (const auto& i : r.suppressions) {
    if (shown++ >= max_items) break;
    std::cout << "  suppressed " << i.where << " \"" << i.value << "\": " << i.reason << "\n";
  }
  shown = 0;
  for (const auto& w : r.warnings) {
    if (shown++ >= max_items) break;
    std::cout << "  warning: " << w << "\n";
  }
  if (r.rejections.size() > max_items || r.suppressions.size() > max_items ||
      r.warnings.size() > max_items)
    std::cout << "  (lists cut at " << max_items << "; --max-items or --json for more)\n";
}

void addCheck(CLI::App* intel) {
  auto o = std::make_shared<FeedOptions>();
  auto json = std::make_shared<bool>(false);
  auto max_items = std::make_shared<size_t>(20);
  auto* c = intel->add_subcommand("check", "Parse feeds and print what an import would do");
  c->add_option("FILE", o->files, "STIX bundle, MISP event or feed directory, CSV or list (.gz ok)")
      ->required();
  addFeedOptions(c, *o);
  c->add_flag("--json", *json, "Print the import reports as one JSON array");
  c->add_option("--max-items", *max_items, "Rejections/suppressions shown per feed")
      ->capture_default_str();
  c->callback([o, json, max_items] {
    auto wl = loadWarninglists(*o);
    intel::IndexBuilder builder;
    auto reports = loadFeeds(*o, builder, wl.get());
    if (*json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& r : reports) out.push_back(reportJson(r));
      std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      return;
    }
    for (size_t i = 0; i < reports.size(); ++i) printReport(o->files[i], reports[i], *max_items);
    auto ix = builder.build();
    std::cout << ix->size() << " indicators in " << ix->feeds().size() << " feed(s), "
              << ix->memoryBytes() << " bytes of index\n";
  });
}

// Reads NDJSON (plain or gzip) a line at a time.
class LineReader {
 public:
  explicit LineReader(const std::string& path) {
    if (path == "-") {
      file_ = gzdopen(0, "rb");
    } else {
      file_ = gzopen(path.c_str(), "rb");
    }
    if (file_ == nullptr) throw CommandFailed(path + ": cannot open");
    gzbuffer(file_, 1 << 18);
  }
  ~LineReader() {
    if (file_ != nullptr) gzclose(file_);
  }
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  bool next(std::string& line) {
    line.clear();
    while (true) {
      if (pos_ >= len_) {
        int n = gzread(file_, buf_, sizeof buf_);
        if (n <= 0) return !line.empty();
        len_ = static_cast<size_t>(n);
        pos_ = 0;
      }
      const char* start = buf_ + pos_;
      const void* nl = std::memchr(start, '\n', len_ - pos_);
      if (nl != nullptr) {
        size_t take = static_cast<const char*>(nl) - start;
        line.append(start, take);
        pos_ += take + 1;
        return true;
      }
      line.append(start, len_ - pos_);
      pos_ = len_;
    }
  }

 private:
  gzFile file_ = nullptr;
  char buf_[1 << 18];
  size_t pos_ = 0, len_ = 0;
};

void addMatch(CLI::App* intel) {
  struct MatchOptions {
    FeedOptions feeds;
    std::vector<std::string> events;
    std::string out = "-", fields, allow;
    bool ignore_validity = false;
  };
  auto o = std::make_shared<MatchOptions>();
  auto* c = intel->add_subcommand(
      "match", "Match events (NDJSON, .gz ok) against feeds offline; one JSON object per match");
  c->add_option("--intel", o->feeds.files, "Feed files (as for `intel check`)")->required();
  c->add_option("EVENTS", o->events, "NDJSON event files, '-' for standard input")->required();
  c->add_option("--out", o->out, "Where the matches go ('-': standard output)")
      ->capture_default_str();
  c->add_option("--fields", o->fields, "Field map (YAML/JSON) instead of the built-in defaults");
  c->add_option("--allow", o->allow, "Allow-list file: one IP, CIDR, domain or hash a line");
  c->add_flag("--ignore-validity", o->ignore_validity,
              "Match indicators outside their valid_from/valid_until (replaying old events)");
  addFeedOptions(c, o->feeds);
  c->callback([o] {
    auto wl = loadWarninglists(o->feeds);
    auto load_start = std::chrono::steady_clock::now();
    intel::IndexBuilder builder;
    auto reports = loadFeeds(o->feeds, builder, wl.get());
    auto live = std::make_shared<intel::LiveIndex>();
    live->store(builder.build());
    double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
    for (const auto& r : reports)
      std::cerr << "intel: feed \"" << r.feed << "\": added " << r.added << ", updated "
                << r.updated << ", expired " << r.expired << ", suppressed " << r.suppressed
                << ", rejected " << r.rejected << "\n";
    intel::MatchConfig config = intel::MatchConfig::defaults();
    if (!o->fields.empty()) config = orFail(intel::MatchConfig::parse(orFail(intel::readFileText(o->fields))));
    intel::MatcherOptions mo;
    mo.check_validity = !o->ignore_validity;
    if (!o->allow.empty()) {
      std::string text = orFail(intel::readFileText(o->allow));
      std::vector<std::string> entries;
      for (auto part : core::splitTrimmed(text, '\n')) entries.emplace_back(part);
      mo.allow = orFail(intel::AllowList::parse(entries));
    }
    intel::Matcher matcher(live, std::move(config), std::move(mo));
    std::ofstream file;
    std::ostream* out = &std::cout;
    if (o->out != "-") {
      file.open(o->out, std::ios::binary | std::ios::trunc);
      if (!file) throw CommandFailed(o->out + ": cannot write");
      out = &file;
    }
    auto start = std::chrono::steady_clock::now();
    std::vector<intel::Match> found;
    std::string line;
    for (const auto& path : o->events) {
      LineReader reader(path);
      while (reader.next(line)) {
        if (core::trim(line).empty()) continue;
        found.clear();
        matcher.match(line, found);
        for (const auto& m : found) *out << intel::matchJson(m, line) << "\n";
      }
    }
    out->flush();
    if (!*out) throw CommandFailed(o->out + ": write failed");
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto s = matcher.stats();
    std::cerr << "intel: " << live->load()->size() << " indicators loaded in " << load_s
              << " s; " << s.events << " events (" << s.bytes / 1e6 << " MB) in " << secs
              << " s: " << s.matches << " matches, " << s.allowed << " allowed, " << s.filtered
              << " outside validity or filtered, " << s.invalid << " not JSON; "
              << (secs > 0 ? s.bytes / 1e6 / secs : 0) << " MB/s\n";
  });
}

#ifdef TD_WITH_INTEL_SYNC
// `intel import`: a feed kept in the store (found by name in the organisation, or created), fetched
// from its file or URL now, with the report printed. The server picks the change up on its next
// scheduler tick.
void addImport(CLI::App* intel) {
  struct ImportOptions {
    std::string source, store = kDefaultStore, org, project, feed, format = "auto", column, type,
                username, secret_env, warninglists;
    char delimiter = ',';
    int confidence = -1, refresh = -1;
    bool json = false;
    size_t max_items = 20;
  };
  auto o = std::make_shared<ImportOptions>();
  auto* c = intel->add_subcommand(
      "import", "Import a feed file or URL into the store (creating the feed the first time)");
  c->add_option("SOURCE", o->source,
                "Feed file or MISP feed directory, http(s) URL, or TAXII 2.1 collection URL "
                "(with --format taxii)")
      ->required();
  addStoreOption(c, o->store);
  c->add_option("--org", o->org, "Organisation the feed belongs to (default: the only one)");
  c->add_option("--project", o->project, "Or: the project whose organisation it belongs to");
  c->add_option("--feed", o->feed, "Feed name (default: the file name)");
  c->add_option("--format", o->format, "auto | stix | misp | misp-feed | csv | taxii")
      ->capture_default_str();
  c->add_option("--column", o->column, "CSV: the value column (header name or 0-based number)");
  c->add_option("--type", o->type, "CSV: the indicator type of every row (default: guessed)");
  c->add_option("--delimiter", o->delimiter, "CSV: field delimiter")->capture_default_str();
  c->add_option("--confidence", o->confidence, "CSV: confidence 0-100 of every row");
  c->add_option("--refresh", o->refresh,
                "Refresh every N minutes in `threatdesk serve` (0: on demand only)");
  c->add_option("--username", o->username, "URL/TAXII: basic-auth user name");
  c->add_option("--secret-env", o->secret_env,
                "URL/TAXII: environment variable holding the password (read at each fetch, not "
                "stored)");
  c->add_option("--warninglists", o->warninglists,
                "MISP warninglists directory: suppress known-benign indicators");
  c->add_flag("--json", o->json, "Print the import as JSON");
  c->add_option("--max-items", o->max_items, "Rejections/suppressions shown")->capture_default_str();
  c->callback([o] {
    // The service logs for the server's log; here the report and the one-line error say it all.
    spdlog::set_level(spdlog::level::err);
    auto store = openStoreOrFail(o->store);
    core::OrgId org = 0;
    if (!o->org.empty() && !o->project.empty())
      throw CommandFailed("--org and --project: give one of them");
    if (!o->project.empty()) {
      org = orFail(store->findProject(o->project)).org_id;
    } else if (!o->org.empty()) {
      org = orFail(store->findOrg(o->org)).id;
    } else {
      auto orgs = orFail(store->listOrgs());
      if (orgs.size() != 1)
        throw CommandFailed("--org: name the organisation the feed belongs to (the store has " +
                            std::to_string(orgs.size()) + ")");
      org = orgs[0].id;
    }
    const bool url = intel::sync::isHttpUrl(o->source);
    std::string source = o->source;
    if (!url) {
      std::error_code ec;
      if (!std::filesystem::exists(source, ec)) throw CommandFailed(source + ": no such file");
      source = std::filesystem::absolute(source, ec).string();
    }
    std::string name = o->feed;
    if (name.empty()) {
      std::string trimmed = o->source;
      while (!trimmed.empty() && trimmed.back() == '/') trimmed.pop_back();
      name = std::filesystem::path(trimmed).filename().string();
      auto q = name.find('?');
      if (q != std::string::npos) name = name.substr(0, q);
      if (name.empty()) name = "feed";
    }
    nlohmann::json mapping = nlohmann::json::object();
    if (!o->column.empty()) mapping["column"] = o->column;
    if (!o->type.empty()) mapping["type"] = o->type;
    if (o->delimiter != ',') mapping["delimiter"] = std::string(1, o->delimiter);
    if (o->confidence >= 0) mapping["confidence"] = o->confidence;

    intel::sync::FeedServiceOptions so;
    so.warninglists_dir = o->warninglists;
    intel::sync::FeedService service(*store, so);
    store::IntelFeed feed;
    std::optional<store::IntelFeed> existing;
    for (const auto& f : orFail(store->intel().listFeeds(org)))
      if (core::toLower(f.name) == core::toLower(name)) existing = f;
    if (existing) feed = *existing;
    feed.org_id = org;
    feed.name = name;
    feed.type = o->format;
    feed.source = source;
    feed.mapping_json = mapping.dump();
    if (o->refresh >= 0) feed.refresh_minutes = o->refresh;
    if (!o->username.empty()) feed.username = o->username;
    if (!o->secret_env.empty()) feed.secret = "env:" + o->secret_env;
    feed = existing ? orFail(service.updateFeed(feed)) : orFail(service.createFeed(feed));
    auto outcome = service.importFeed(feed.id, "cli");
    if (!outcome) {
      core::Error e = outcome.error();
      // Importers name the feed; the operator typed the path.
      if (e.field == name || e.field.rfind(name + ":", 0) == 0)
        e.field = o->source + e.field.substr(name.size());
      if (e.field.find(o->source) == std::string::npos)
        e.field = o->source + (e.field.empty() ? "" : ": " + e.field);
      throw CommandFailed(e);
    }
    if (o->json) {
      nlohmann::json out = reportJson(outcome->report);
      out["feed_id"] = feed.id;
      out["import_id"] = outcome->record.id;
      const auto& w = outcome->record.writes;
      out["stored_rows"] = {{"inserted", w.inserted},
                            {"updated", w.updated},
                            {"deleted", w.deleted},
                            {"unchanged", w.unchanged}};
      std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      return;
    }
    printReport(o->source, outcome->report, o->max_items);
    auto stored = orFail(store->intel().getFeed(feed.id));
    const auto& w = outcome->record.writes;
    std::cout << "feed " << stored.id << " \"" << stored.name << "\" now holds "
              << stored.indicator_count << " indicators (import " << outcome->record.id
              << "; stored rows: " << w.inserted << " inserted, " << w.updated << " updated, "
              << w.deleted << " deleted, " << w.unchanged << " unchanged)\n";
  });
}

// `intel settings`: a project's matching settings (allow-list, port classes, minimum bytes,
// suppression period). Without a change option it prints them; with one it changes only what was
// given and stores them (checked as the API checks them). A running server picks the change up
// within seconds.
void addSettings(CLI::App* intel) {
  struct SettingsOptions {
    std::string store = kDefaultStore, project, allow_file, ignore, service, unsafe;
    std::vector<std::string> allow, unallow;
    bool clear_allow = false, json = false;
    std::optional<std::int64_t> min_bytes, suppression;
  };
  auto o = std::make_shared<SettingsOptions>();
  auto* c = intel->add_subcommand(
      "settings", "Show or change a project's intel matching settings (allow-list, ports, ...)");
  addStoreOption(c, o->store);
  c->add_option("--project", o->project, "Project (default: the only one)");
  c->add_option("--allow", o->allow, "Add an allow-list entry: IP, CIDR, domain, URL, hash, e-mail");
  c->add_option("--allow-file", o->allow_file, "Add the entries of a file (one a line, # comments)");
  c->add_option("--unallow", o->unallow, "Remove an allow-list entry");
  c->add_flag("--clear-allow", o->clear_allow, "Empty the allow-list first");
  c->add_option("--min-bytes", o->min_bytes,
                "Drop IP hits on events that moved fewer bytes (0: off)");
  c->add_option("--ignore-ports", o->ignore,
                "Destination ports whose IP hits are dropped, comma separated ('' clears)");
  c->add_option("--service-ports", o->service, "Destination ports of services, comma separated");
  c->add_option("--unsafe-ports", o->unsafe,
                "Destination ports that raise the score by 10, comma separated");
  c->add_option("--suppression-minutes", o->suppression,
                "Per indicator and entity, raise once per this period (0: every hit; default 1440)");
  c->add_flag("--json", o->json, "Print the settings as JSON");
  c->callback([o, c] {
    auto store = openStoreOrFail(o->store);
    store::Project project;
    if (!o->project.empty()) {
      project = orFail(store->findProject(o->project));
    } else {
      auto projects = orFail(store->listProjects());
      if (projects.size() != 1)
        throw CommandFailed(core::Error{core::ErrorCode::kInvalidArgument,
                                        "name the project (the store has " +
                                            std::to_string(projects.size()) + ")",
                                        "--project"});
      project = projects[0];
    }
    store::IntelSettings s = orFail(store->intel().getSettings(project.id));
    auto ports = [](const std::string& text, const char* option) {
      std::vector<int> out;
      for (auto part : core::splitTrimmed(text, ',')) {
        if (part.empty()) continue;
        int v = 0;
        auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
        if (ec != std::errc() || p != part.data() + part.size())
          throw CommandFailed(core::Error{core::ErrorCode::kInvalidArgument,
                                          "\"" + std::string(part) + "\" is not a port number",
                                          option});
        out.push_back(v);
      }
      return out;
    };
    bool changed = false;
    if (o->clear_allow) {
      s.allow.clear();
      changed = true;
    }
    std::vector<std::string> add = o->allow;
    if (!o->allow_file.empty()) {
      std::string text = orFail(intel::readFileText(o->allow_file));
      for (auto line : core::splitTrimmed(text, '\n'))
        if (!line.empty() && line[0] != '#') add.emplace_back(line);
    }
    for (auto& a : add) {
      a = std::string(core::trim(a));
      if (std::find(s.allow.begin(), s.allow.end(), a) == s.allow.end()) s.allow.push_back(a);
      changed = true;
    }
    for (const auto& a : o->unallow) {
      std::erase(s.allow, std::string(core::trim(a)));
      changed = true;
    }
    if (o->min_bytes) s.min_bytes = *o->min_bytes, changed = true;
    if (o->suppression) s.suppression_minutes = *o->suppression, changed = true;
    if (c->count("--ignore-ports")) s.ignore_ports = ports(o->ignore, "--ignore-ports"), changed = true;
    if (c->count("--service-ports"))
      s.service_ports = ports(o->service, "--service-ports"), changed = true;
    if (c->count("--unsafe-ports")) s.unsafe_ports = ports(o->unsafe, "--unsafe-ports"), changed = true;
    if (changed) {
      if (auto checked = intel::sync::matcherOptionsOf(s); !checked) {
        core::Error e = checked.error();
        // The CLI's names for the API's members.
        if (e.field.rfind("allow", 0) == 0) {
          e.message += " (" + e.field + ")";
          e.field = "--allow";
        } else if (e.field.find("_ports") != std::string::npos) {
          e.message += " (" + e.field + ")";
          e.field = "--" + e.field.substr(0, e.field.find("_ports")) + "-ports";
        } else if (e.field == "min_bytes") {
          e.field = "--min-bytes";
        } else if (e.field == "suppression_minutes") {
          e.field = "--suppression-minutes";
        }
        throw CommandFailed(e);
      }
      s = orFail(store->intel().putSettings(s));
    }
    if (o->json) {
      nlohmann::json j = {{"project", project.name},        {"allow", s.allow},
                          {"min_bytes", s.min_bytes},       {"ignore_ports", s.ignore_ports},
                          {"service_ports", s.service_ports}, {"unsafe_ports", s.unsafe_ports},
                          {"suppression_minutes", s.suppression_minutes}};
      std::cout << j.dump(2) << "\n";
      return;
    }
    auto list = [](const std::vector<int>& v) {
      std::string out;
      for (int p : v) out += (out.empty() ? "" : ",") + std::to_string(p);
      return out.empty() ? std::string("-") : out;
    };
    std::cout << "project \"" << project.name << "\"" << (changed ? " (saved)" : "") << "\n"
              << "allow-list: " << s.allow.size() << " entries\n";
    for (const auto& a : s.allow) std::cout << "  " << a << "\n";
    std::cout << "min bytes: " << s.min_bytes << (s.min_bytes == 0 ? " (off)" : "") << "\n"
              << "ignore ports: " << list(s.ignore_ports) << "\n"
              << "service ports: " << list(s.service_ports) << "\n"
              << "unsafe ports: " << list(s.unsafe_ports) << "\n"
              << "suppression: " << s.suppression_minutes << " minutes\n";
  });
}
#endif

}  // namespace

void addOfflineIntelOptions(CLI::App* c, OfflineIntelOptions& o) {
  c->add_option("--intel", o.files,
                "Intel feed file (STIX bundle, MISP event/feed, CSV or plain list; repeatable)");
  c->add_option("--intel-format", o.format, "Feed format: auto | stix | misp | misp-feed | csv")
      ->capture_default_str();
  c->add_option("--intel-column", o.column, "CSV feeds: the value column (name or 0-based number)");
  c->add_option("--intel-type", o.type, "CSV feeds: the indicator type of every row");
  c->add_option("--warninglists", o.warninglists,
                "MISP warninglists directory: suppress known-benign indicators");
  c->add_option("--intel-fields", o.fields, "Intel field map (YAML/JSON) instead of the defaults");
  c->add_option("--intel-allow", o.allow,
                "Allow-list file: one IP, CIDR, domain or hash a line that never matches");
  c->add_flag("--intel-ignore-validity", o.ignore_validity,
              "Match indicators outside their valid_from/valid_until (replaying old events)");
}

OfflineIntel loadOfflineIntel(const OfflineIntelOptions& o, bool report) {
  FeedOptions feeds;
  feeds.files = o.files;
  feeds.format = o.format;
  feeds.column = o.column;
  feeds.type = o.type;
  feeds.warninglists = o.warninglists;
  auto cpuNow = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  };
  const double cpu_start = cpuNow();
  auto wl = loadWarninglists(feeds);
  const auto start = std::chrono::steady_clock::now();
  intel::IndexBuilder builder;
  auto reports = loadFeeds(feeds, builder, wl.get());
  OfflineIntel r;
  r.index = std::make_shared<intel::LiveIndex>();
  auto index = builder.build();
  r.indicators = index->size();
  r.memory_bytes = index->memoryBytes();
  r.index->store(std::move(index));
  r.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  intel::MatchConfig config = intel::MatchConfig::defaults();
  if (!o.fields.empty()) {
    config = orFail(intel::MatchConfig::parse(orFail(intel::readFileText(o.fields))));
  }
  intel::MatcherOptions mo;
  mo.check_validity = !o.ignore_validity;
  if (!o.allow.empty()) {
    std::string text = orFail(intel::readFileText(o.allow));
    std::vector<std::string> entries;
    for (auto part : core::splitTrimmed(text, '\n')) {
      if (!part.empty() && part[0] != '#') entries.emplace_back(part);
    }
    auto allow = intel::AllowList::parse(entries);
    if (!allow) {
      core::Error e = allow.error();
      e.field = "--intel-allow: " + o.allow + (e.field.empty() ? "" : ": " + e.field);
      throw CommandFailed(e);
    }
    mo.allow = std::move(*allow);
  }
  r.matcher = std::make_shared<intel::Matcher>(r.index, std::move(config), std::move(mo));
  if (report) {
    for (const auto& rep : reports) {
      std::cerr << "intel: feed \"" << rep.feed << "\": added " << rep.added << ", updated "
                << rep.updated << ", expired " << rep.expired << ", suppressed " << rep.suppressed
                << ", rejected " << rep.rejected << "\n";
    }
    char line[200];
    std::snprintf(line, sizeof line,
                  "intel: %zu indicators loaded in %.2f s (cpu %.2f s; index %.1f bytes each)\n",
                  r.indicators, r.load_seconds, cpuNow() - cpu_start,
                  r.indicators ? double(r.memory_bytes) / double(r.indicators) : 0.0);
    std::cerr << line;
  }
  return r;
}

void registerIntelCommands(CLI::App& app) {
  auto* intel = app.add_subcommand("intel", "Threat-intelligence feeds");
  intel->require_subcommand(1);
  addCheck(intel);
  addMatch(intel);
#ifdef TD_WITH_INTEL_SYNC
  addImport(intel);
  addSettings(intel);
#endif
}

}  // namespace td::app
