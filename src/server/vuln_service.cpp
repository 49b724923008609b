#include "server/vuln_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <unordered_map>

#include "core/text.h"
#include "server/auth.h"
#include "vuln/cvss.h"

namespace td::server {
namespace {

using core::ErrorCode;
using core::fail;
namespace fs = std::filesystem;

// Advisories written to the store per transaction while an import streams.
constexpr size_t kStoreBatch = 1000;

store::AdvisoryRecord advisoryRecord(const vuln::Advisory& a, std::string_view document) {
  store::AdvisoryRecord r;
  r.id = a.id;
  r.modified = a.modified;
  r.published = a.published;
  r.withdrawn = a.withdrawn;
  r.aliases = a.aliases;
  r.summary = a.summary.size() > 1024 ? a.summary.substr(0, 1024) : a.summary;
  r.cvss = a.cvssScore();
  if (r.cvss)
    r.severity = std::string(vuln::cvssRating(*r.cvss));
  else
    r.severity = core::toLower(a.database_severity) == "moderate"
                     ? "MEDIUM"
                     : std::string(core::trim(a.database_severity));
  for (auto& c : r.severity) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& p : a.affected) {
    std::string eco = p.ecosystem.name;
    if (!p.ecosystem.release.empty()) eco += ":" + p.ecosystem.release;
    store::AdvisoryPackageRef ref{eco, p.name};
    if (std::none_of(r.packages.begin(), r.packages.end(), [&](const auto& x) {
          return x.ecosystem == ref.ecosystem && x.name == ref.name;
        }))
      r.packages.push_back(std::move(ref));
  }
  r.source = a.source;
  r.document = std::string(document);
  return r;
}

vuln::Asset engineAsset(const store::AssetRecord& a) {
  vuln::Asset out;
  out.name = a.name;
  out.host = a.host;
  out.owner = a.owner;
  out.entity_group = a.entity_group;
  out.criticality = a.criticality;
  out.project_id = a.project_id;
  return out;
}

// A stored finding back as the engine's, for the comparison with a new scan.
vuln::Finding engineFinding(const store::FindingRecord& r) {
  if (auto f = vuln::findingFromJson(r.detail_json)) return *f;
  vuln::Finding f;
  f.advisory_id = r.advisory_id;
  f.display_id = r.display_id;
  f.ecosystem = r.ecosystem;
  f.package = r.package;
  f.version = r.version;
  f.purl = r.purl;
  f.fixed_versions = r.fixed_versions;
  return f;
}

store::FindingRecord findingRecord(const vuln::Finding& f, const vuln::Asset& asset) {
  store::FindingRecord r;
  r.key = f.key();
  r.advisory_id = f.advisory_id;
  r.display_id = f.display_id;
  r.ecosystem = f.ecosystem;
  r.package = f.package;
  r.version = f.version;
  r.purl = f.purl;
  r.fixed_versions = f.fixed_versions;
  const vuln::FindingRisk risk = vuln::riskOf(f, asset);
  r.severity = risk.severity;
  r.score = risk.score;
  r.detail_json = vuln::findingToJson(f);
  return r;
}

// The outcome an automatic close records: the organisation's "Remediated", else a value that
// means the same, else none (the close is then skipped with a warning).
std::optional<std::string> remediatedOutcome(const std::vector<store::TagValue>& outcomes) {
  for (const auto& o : outcomes)
    if (core::equalsIgnoreCase(o.name, "Remediated")) return o.name;
  for (const char* word : {"remediat", "resolved", "fixed", "patched"})
    for (const auto& o : outcomes)
      if (core::containsIgnoreCase(o.name, word)) return o.name;
  return std::nullopt;
}

std::string componentKey(const store::SbomComponentRecord& c) {
  if (!c.package.empty()) return c.ecosystem + "|" + c.package;
  return "name|" + c.name;
}

}  // namespace

VulnService::VulnService(store::Store& store, triage::TriageService& triage,
                         VulnServiceOptions options)
    : store_(store), triage_(triage), options_(std::move(options)) {}

VulnService::~VulnService() { stop(); }

size_t VulnService::advisoryCount() const {
  std::shared_lock lock(db_mu_);
  return db_.size();
}

core::Result<vuln::ImportReport> VulnService::loadAdvisories() {
  vuln::ImportReport report;
  std::unique_lock lock(db_mu_);
  auto s = store_.vuln().forEachAdvisory([&](const store::AdvisoryRecord& r) {
    ++report.documents;
    auto a = vuln::parseOsvAdvisory(r.document, r.source);
    if (!a) {
      report.errors.push_back(a.error());
      return true;
    }
    if (db_.add(std::move(*a))) ++report.imported;
    return true;
  });
  if (!s) return fail(s.error());
  return report;
}

// --- SBOMs -------------------------------------------------------------------------------------

core::Result<UploadResult> VulnService::uploadSbom(store::AssetId asset_id,
                                                   std::string_view document,
                                                   const store::Actor& actor,
                                                   vuln::SbomOptions options) {
  auto asset = store_.vuln().getAsset(asset_id);
  if (!asset) return fail(asset.error());
  if (document.size() > options_.max_sbom_bytes)
    return fail(ErrorCode::kTooLarge,
                "the SBOM is " + std::to_string(document.size()) + " bytes; at most " +
                    std::to_string(options_.max_sbom_bytes) + " are accepted",
                "body");
  options.max_bytes = std::min(options.max_bytes, options_.max_sbom_bytes);
  auto sbom = vuln::parseSbom(document, options);
  if (!sbom) {
    core::Error e = sbom.error();
    if (e.code == ErrorCode::kInvalidArgument || e.code == ErrorCode::kUnprocessable)
      e.message = "SBOM refused (the asset's previous inventory is kept): " + e.message;
    return fail(e);
  }
  store::SbomRecord rec;
  rec.asset_id = asset_id;
  rec.uploaded_at = core::nowMs();
  rec.uploaded_by = actor.name;
  rec.format = std::string(vuln::sbomFormatName(sbom->format));
  rec.spec_version = sbom->spec_version;
  rec.serial = sbom->serial;
  rec.subject = sbom->subject;
  rec.sha256 = sha256Hex(document);
  rec.document = std::string(document);
  std::vector<store::SbomComponentRecord> components;
  components.reserve(sbom->components.size());
  for (const auto& c : sbom->components) {
    store::SbomComponentRecord k;
    k.ref = c.ref;
    k.name = c.group.empty() ? c.name : c.group + "/" + c.name;
    k.version = c.version;
    k.purl = c.purl;
    if (c.parsed_purl) {
      vuln::PurlPackage p = vuln::purlPackage(*c.parsed_purl);
      k.ecosystem = p.ecosystem.name;
      k.package = p.name;
    }
    components.push_back(std::move(k));
  }
  std::lock_guard lock(scan_mu_);
  auto stored = store_.vuln().addSbom(rec, components);
  if (!stored) return fail(stored.error());
  UploadResult out;
  out.sbom = *stored;
  out.warnings = sbom->warnings;
  auto scanned = scanLocked(asset_id, /*bump_kept=*/true);
  if (!scanned) return fail(scanned.error());
  out.scan = std::move(*scanned);
  return out;
}

core::Result<std::vector<VulnService::SbomChange>> VulnService::sbomHistory(
    store::AssetId asset) {
  auto uploads = store_.vuln().listSboms(asset);
  if (!uploads) return fail(uploads.error());
  std::vector<SbomChange> out;
  std::vector<store::SbomComponentRecord> newer;
  // Oldest first, so that each upload is compared with the one before it.
  std::vector<std::vector<store::SbomComponentRecord>> comps;
  for (auto it = uploads->rbegin(); it != uploads->rend(); ++it) {
    auto c = store_.vuln().sbomComponents(it->id);
    if (!c) return fail(c.error());
    comps.push_back(std::move(*c));
  }
  for (size_t i = 0; i < comps.size(); ++i) {
    SbomChange change;
    change.sbom = (*uploads)[uploads->size() - 1 - i];
    std::map<std::string, const store::SbomComponentRecord*> before, now;
    if (i > 0)
      for (const auto& c : comps[i - 1]) before.emplace(componentKey(c), &c);
    for (const auto& c : comps[i]) now.emplace(componentKey(c), &c);
    for (const auto& [k, c] : now) {
      auto b = before.find(k);
      if (b == before.end())
        change.added.push_back(*c);
      else if (b->second->version != c->version)
        change.changed.emplace_back(*b->second, *c);
    }
    for (const auto& [k, c] : before)
      if (!now.count(k)) change.removed.push_back(*c);
    out.push_back(std::move(change));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

// --- scanning ----------------------------------------------------------------------------------

core::Result<ScanSummary> VulnService::scanAsset(store::AssetId asset) {
  std::lock_guard lock(scan_mu_);
  return scanLocked(asset, /*bump_kept=*/false);
}

core::Result<ScanSummary> VulnService::scanAll(size_t* assets_scanned) {
  std::lock_guard lock(scan_mu_);
  auto assets = store_.vuln().listAssets({});
  if (!assets) return fail(assets.error());
  ScanSummary total;
  size_t n = 0;
  for (const auto& a : *assets) {
    if (!a.current_sbom_id) continue;
    auto s = scanLocked(a.id, /*bump_kept=*/false);
    if (!s) {
      spdlog::warn("vulnerability rescan of asset {} ({}) failed: {}", a.id, a.name,
                   s.error().message);
      total.warnings.push_back("asset " + a.name + ": " + s.error().message);
      continue;
    }
    ++n;
    total.components += s->components;
    total.open += s->open;
    total.added += s->added;
    total.resolved += s->resolved;
    total.suppressed += s->suppressed;
    total.threats_created += s->threats_created;
    total.threats_updated += s->threats_updated;
    total.threats_closed += s->threats_closed;
    total.threats_reopened += s->threats_reopened;
    for (auto& w : s->warnings) total.warnings.push_back(a.name + ": " + w);
  }
  if (assets_scanned) *assets_scanned = n;
  return total;
}

core::Result<ScanSummary> VulnService::scanLocked(store::AssetId asset_id, bool bump_kept) {
  ScanSummary summary;
  summary.asset_id = asset_id;
  auto asset = store_.vuln().getAsset(asset_id);
  if (!asset) return fail(asset.error());
  if (!asset->current_sbom_id) return summary;
  auto doc = store_.vuln().getSbom(*asset->current_sbom_id, true);
  if (!doc) return fail(doc.error());
  auto sbom = vuln::parseSbom(doc->document);
  if (!sbom) return fail(sbom.error());
  auto previous = store_.vuln().assetFindings(asset_id);
  if (!previous) return fail(previous.error());
  std::unordered_map<std::string, store::FindingRecord*> prev;
  vuln::ScanResult before;
  for (auto& r : *previous) {
    prev.emplace(r.key, &r);
    if (r.state == store::FindingState::kOpen) before.findings.push_back(engineFinding(r));
  }

  vuln::ScanResult result;
  vuln::ScanDiff diff;
  {
    std::shared_lock lock(db_mu_);
    result = vuln::scan(*sbom, db_);
    diff = vuln::diffScans(before, result, &db_);
  }
  const vuln::Asset asset_e = engineAsset(*asset);
  const core::TimeMs now = core::nowMs();
  summary.components = static_cast<std::int64_t>(result.components);
  summary.open = static_cast<std::int64_t>(result.findings.size());
  summary.suppressed = static_cast<std::int64_t>(result.suppressed.size());
  summary.added = static_cast<std::int64_t>(diff.added.size());
  summary.resolved = static_cast<std::int64_t>(diff.gone.size());
  summary.not_checked = result.skipped;

  // The organisation's tags: the first state reopens, the last closes, "Remediated" records why.
  auto project = store_.getProject(asset->project_id);
  if (!project) return fail(project.error());
  auto states = store_.listTags(project->org_id, store::TagKind::kState);
  if (!states) return fail(states.error());
  auto outcomes = store_.listTags(project->org_id, store::TagKind::kOutcome);
  if (!outcomes) return fail(outcomes.error());
  auto groups = store_.listTags(project->org_id, store::TagKind::kGroup);
  if (!groups) return fail(groups.error());
  std::optional<core::TagId> group_id;
  for (const auto& g : *groups)
    if (core::equalsIgnoreCase(g.name, options_.threat_group)) group_id = g.id;
  const std::optional<std::string> remediated = remediatedOutcome(*outcomes);
  const store::Actor system{std::nullopt, options_.actor};

  auto threatOpen = [&](const std::optional<core::ThreatId>& id) -> std::optional<bool> {
    if (!id) return std::nullopt;
    auto t = store_.getThreat(*id);
    if (!t) return std::nullopt;
    return !t->closed;
  };

  std::vector<store::FindingRecord> rows;
  std::vector<core::Detection> detections;
  std::vector<size_t> detection_row;  // rows index of each detection

  for (const auto& f : result.findings) {
    store::FindingRecord row = findingRecord(f, asset_e);
    row.state = store::FindingState::kOpen;
    row.first_seen = now;
    row.last_seen = now;
    auto p = prev.find(row.key);
    bool submit = true;
    if (p != prev.end()) {
      const store::FindingRecord& old = *p->second;
      row.first_seen = old.first_seen;
      row.threat_id = old.threat_id;
      std::optional<bool> open = threatOpen(old.threat_id);
      if (old.state != store::FindingState::kOpen) {
        // It came back: reopen the threat we closed (a threat someone deleted is raised anew).
        if (open && !*open && !states->empty()) {
          triage::ChangeRequest reopen;
          reopen.state = states->front().name;
          reopen.note = "Reopened automatically: " + f.display_id + " is present again in " +
                        f.package + "@" + f.version + " (asset " + asset->name + ")";
          if (auto changed = triage_.change(*old.threat_id, reopen, system); changed)
            ++summary.threats_reopened;
          else
            summary.warnings.push_back("threat " + std::to_string(*old.threat_id) +
                                       " not reopened: " + changed.error().message);
        }
      } else if (open && !*open) {
        // Still present, but a person closed the threat: respect that and do not raise it again.
        submit = false;
      } else if (!bump_kept) {
        submit = false;
      }
    }
    rows.push_back(std::move(row));
    if (submit) {
      core::Detection d = vuln::toDetection(f, asset_e);
      d.seen_at = now;
      if (auto valid = core::validateDetection(d); !valid) {
        summary.warnings.push_back(f.advisory_id + ": " + valid.error().message);
        continue;
      }
      detections.push_back(std::move(d));
      detection_row.push_back(rows.size() - 1);
    }
  }

  if (!detections.empty()) {
    std::vector<std::optional<core::TagId>> group_ids(detections.size(), group_id);
    auto applied = store_.applyDetections(detections, group_ids, system);
    if (!applied) return fail(applied.error());
    summary.threats_created = applied->created;
    summary.threats_updated = applied->updated;
    for (size_t i = 0; i < applied->threat_ids.size() && i < detection_row.size(); ++i)
      rows[detection_row[i]].threat_id = applied->threat_ids[i];
  }

  // Gone: close the threat as remediated with the reason.
  std::unordered_map<std::string, const vuln::Finding*> suppressed_now;
  for (const auto& f : result.suppressed) suppressed_now.emplace(f.key(), &f);
  for (const auto& g : diff.gone) {
    auto p = prev.find(g.finding.key());
    if (p == prev.end()) continue;
    store::FindingRecord row = *p->second;
    const bool by_vex = g.reason == vuln::GoneReason::kSuppressedByVex;
    row.state = by_vex ? store::FindingState::kSuppressed : store::FindingState::kResolved;
    row.reason = std::string(vuln::goneReasonName(g.reason));
    row.note = g.note;
    row.resolved_at = now;
    if (by_vex)
      if (auto s = suppressed_now.find(row.key); s != suppressed_now.end())
        row.detail_json = vuln::findingToJson(*s->second);
    std::optional<bool> open = threatOpen(row.threat_id);
    if (open && *open) {
      if (!remediated || states->empty()) {
        summary.warnings.push_back("threat " + std::to_string(*row.threat_id) +
                                   " not closed: the organisation has no Remediated outcome");
      } else {
        triage::ChangeRequest close;
        close.state = states->back().name;
        close.outcome = *remediated;
        close.note = "Closed automatically (" + row.reason + "): " + g.note;
        if (auto changed = triage_.change(*row.threat_id, close, system); changed)
          ++summary.threats_closed;
        else
          summary.warnings.push_back("threat " + std::to_string(*row.threat_id) +
                                     " not closed: " + changed.error().message);
      }
    }
    rows.push_back(std::move(row));
  }

  // Suppressed now and never open before: kept for the record, no threat.
  for (const auto& f : result.suppressed) {
    auto p = prev.find(f.key());
    if (p != prev.end() && p->second->state != store::FindingState::kSuppressed) continue;
    store::FindingRecord row = findingRecord(f, asset_e);
    row.state = store::FindingState::kSuppressed;
    row.reason = std::string(vuln::goneReasonName(vuln::GoneReason::kSuppressedByVex));
    row.note = f.display_id + " marked " + f.vex_state + " by VEX" +
               (f.vex_justification.empty() ? "" : " (" + f.vex_justification + ")");
    row.first_seen = p != prev.end() ? p->second->first_seen : now;
    row.last_seen = now;
    row.resolved_at = p != prev.end() && p->second->resolved_at ? p->second->resolved_at : now;
    if (p != prev.end()) row.threat_id = p->second->threat_id;
    rows.push_back(std::move(row));
  }

  auto saved = store_.vuln().saveFindings(asset_id, rows, now);
  if (!saved) return fail(saved.error());
  return summary;
}

// --- advisories --------------------------------------------------------------------------------

core::Result<AdvisoryImportResult> VulnService::importLocked(
    const std::function<core::Result<vuln::ImportReport>(vuln::AdvisoryDb&)>& run,
    const std::function<void(size_t)>& on_stored) {
  AdvisoryImportResult out;
  std::vector<store::AdvisoryRecord> batch;
  core::Status store_status;
  auto flush = [&] {
    if (batch.empty() || !store_status) return;
    store_status = store_.vuln().putAdvisories(batch);
    if (store_status) out.stored += batch.size();
    batch.clear();
    if (on_stored) on_stored(out.stored);
  };
  {
    std::unique_lock lock(db_mu_);
    db_.setImportObserver([&](const vuln::Advisory& a, std::string_view document) {
      batch.push_back(advisoryRecord(a, document));
      if (batch.size() >= kStoreBatch) flush();
    });
    auto report = run(db_);
    flush();
    db_.setImportObserver({});
    if (!report) return fail(report.error());
    out.report = std::move(*report);
  }
  if (!store_status) return fail(store_status.error());
  return out;
}

core::Result<AdvisoryImportResult> VulnService::importAdvisories(const fs::path& path,
                                                                 bool only_changed,
                                                                 const ImportProgress& progress) {
  std::error_code ec;
  std::vector<fs::path> files;
  if (fs::is_directory(path, ec)) {
    for (auto it = fs::recursive_directory_iterator(path, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      const std::string ext = it->path().extension().string();
      if (ext == ".json" || ext == ".zip") files.push_back(it->path());
    }
    if (ec)
      return fail(ErrorCode::kInvalidArgument, "cannot list " + path.string() + ": " + ec.message(),
                  path.string());
    std::sort(files.begin(), files.end());
  } else if (fs::exists(path, ec)) {
    files.push_back(path);
  } else {
    return fail(ErrorCode::kNotFound, "no such file or directory: " + path.string(),
                path.string());
  }

  std::lock_guard lock(scan_mu_);
  AdvisoryImportResult total;
  size_t done = 0;
  for (const auto& file : files) {
    if (stop_requested_) break;
    const std::string name = file.string();
    const auto size = static_cast<std::int64_t>(fs::file_size(file, ec));
    const auto mtime = static_cast<std::int64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(
            fs::last_write_time(file, ec).time_since_epoch())
            .count());
    if (only_changed) {
      auto known = store_.vuln().advisoryFile(name);
      if (known && *known && (*known)->size == size && (*known)->mtime_ns == mtime) {
        ++total.files_unchanged;
        ++done;
        continue;
      }
    }
    const size_t stored_before = total.stored;
    auto one = importLocked(
        [&](vuln::AdvisoryDb& db) { return db.importPath(file); },
        [&](size_t stored) {
          if (progress) progress(done, files.size(), stored_before + stored, name);
        });
    if (!one) return fail(one.error());
    total.stored += one->stored;
    ++total.files;
    (void)store_.vuln().putAdvisoryFile(
        {name, size, mtime, core::nowMs(), static_cast<std::int64_t>(one->report.imported),
         static_cast<std::int64_t>(one->report.errors.size())});
    total.report.merge(one->report);
    ++done;
    if (progress) progress(done, files.size(), total.stored, name);
  }
  if (total.stored > 0) {
    // scan_mu_ is held: rescan through the locked path.
    auto assets = store_.vuln().listAssets({});
    if (!assets) return fail(assets.error());
    for (const auto& a : *assets) {
      if (!a.current_sbom_id) continue;
      auto s = scanLocked(a.id, /*bump_kept=*/false);
      if (!s) {
        total.totals.warnings.push_back(a.name + ": " + s.error().message);
        continue;
      }
      ++total.assets_rescanned;
      total.totals.open += s->open;
      total.totals.added += s->added;
      total.totals.resolved += s->resolved;
      total.totals.threats_created += s->threats_created;
      total.totals.threats_closed += s->threats_closed;
      total.totals.threats_reopened += s->threats_reopened;
    }
  }
  return total;
}

core::Result<AdvisoryImportResult> VulnService::importAdvisoryJson(std::string_view json,
                                                                   const std::string& source) {
  std::lock_guard lock(scan_mu_);
  auto out = importLocked(
      [&](vuln::AdvisoryDb& db) -> core::Result<vuln::ImportReport> {
        return db.importJson(json, source);
      },
      {});
  if (!out) return out;
  out->files = 1;
  if (out->stored > 0) {
    auto assets = store_.vuln().listAssets({});
    if (!assets) return fail(assets.error());
    for (const auto& a : *assets) {
      if (!a.current_sbom_id) continue;
      auto s = scanLocked(a.id, /*bump_kept=*/false);
      if (!s) {
        out->totals.warnings.push_back(a.name + ": " + s.error().message);
        continue;
      }
      ++out->assets_rescanned;
      out->totals.open += s->open;
      out->totals.added += s->added;
      out->totals.resolved += s->resolved;
      out->totals.threats_created += s->threats_created;
      out->totals.threats_closed += s->threats_closed;
      out->totals.threats_reopened += s->threats_reopened;
    }
  }
  return out;
}

// --- scheduled import --------------------------------------------------------------------------

void VulnService::startScheduledImport(fs::path dir, std::chrono::seconds interval) {
  std::lock_guard lock(sched_mu_);
  if (scheduler_.joinable()) return;
  stopping_ = false;
  stop_requested_ = false;
  scheduler_ = std::thread([this, dir = std::move(dir), interval] { scheduledLoop(dir, interval); });
}

void VulnService::scheduledLoop(fs::path dir, std::chrono::seconds interval) {
  for (;;) {
    auto result = importAdvisories(dir, /*only_changed=*/true);
    if (!result) {
      spdlog::warn("scheduled advisory import from {} failed: {}", dir.string(),
                   result.error().message);
    } else if (result->files > 0) {
      spdlog::info(
          "scheduled advisory import from {}: {} files read ({} unchanged), {} advisories stored, "
          "{} errors, {} assets rescanned",
          dir.string(), result->files, result->files_unchanged, result->stored,
          result->report.errors.size(), result->assets_rescanned);
    }
    std::unique_lock lock(sched_mu_);
    if (sched_cv_.wait_for(lock, interval, [this] { return stopping_; })) return;
  }
}

void VulnService::stop() {
  std::thread t;
  {
    std::lock_guard lock(sched_mu_);
    stopping_ = true;
    stop_requested_ = true;
    t = std::move(scheduler_);
  }
  sched_cv_.notify_all();
  if (t.joinable()) t.join();
}

}  // namespace td::server
