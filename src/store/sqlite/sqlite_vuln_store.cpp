#include "store/sqlite/sqlite_vuln_store.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/text.h"
#include "store/sqlite/sqlite_store.h"

namespace td::store::sqlite {

using core::ErrorCode;
using core::fail;

#define TDV_TRY(var, expr)                              \
  auto var##_result = (expr);                           \
  if (!var##_result) return fail(var##_result.error()); \
  auto& var = *var##_result
#define TDV_CHECK(expr)                                          \
  do {                                                           \
    if (auto td_s_ = (expr); !td_s_) return fail(td_s_.error()); \
  } while (0)

namespace {

constexpr const char* kAssetColumns =
    "SELECT id, project_id, name, host, owner, entity_group, description, criticality, "
    "created_at, updated_at, current_sbom_id, last_scan_at FROM vuln_assets ";
constexpr const char* kSbomColumns =
    "SELECT id, asset_id, uploaded_at, uploaded_by, format, spec_version, serial, subject, "
    "sha256, component_count FROM vuln_sboms ";
constexpr const char* kAdvisoryColumns =
    "SELECT id, modified, published, withdrawn, aliases, summary, severity, cvss, source, "
    "imported_at FROM vuln_advisories ";
constexpr const char* kFindingColumns =
    "SELECT f.id, f.asset_id, f.finding_key, f.advisory_id, f.display_id, f.ecosystem, f.package, "
    "f.version, f.purl, f.fixed_versions, f.severity, f.score, f.state, f.reason, f.note, "
    "f.first_seen, f.last_seen, f.resolved_at, f.threat_id, f.detail FROM vuln_findings f ";

std::string jsonList(const std::vector<std::string>& v) {
  return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> parseList(std::string_view text) {
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& e : j)
    if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

AssetRecord readAsset(const Statement& st) {
  AssetRecord a;
  a.id = st.i64(0);
  a.project_id = st.i64(1);
  a.name = st.text(2);
  a.host = st.text(3);
  a.owner = st.text(4);
  a.entity_group = st.text(5);
  a.description = st.text(6);
  a.criticality = st.i32(7);
  a.created_at = st.i64(8);
  a.updated_at = st.i64(9);
  a.current_sbom_id = st.optI64(10);
  a.last_scan_at = st.optI64(11);
  return a;
}

SbomRecord readSbom(const Statement& st) {
  SbomRecord s;
  s.id = st.i64(0);
  s.asset_id = st.i64(1);
  s.uploaded_at = st.i64(2);
  s.uploaded_by = st.text(3);
  s.format = st.text(4);
  s.spec_version = st.text(5);
  s.serial = st.text(6);
  s.subject = st.text(7);
  s.sha256 = st.text(8);
  s.component_count = st.i64(9);
  return s;
}

AdvisoryRecord readAdvisory(const Statement& st) {
  AdvisoryRecord a;
  a.id = st.text(0);
  a.modified = st.text(1);
  a.published = st.text(2);
  a.withdrawn = st.text(3);
  a.aliases = parseList(st.textView(4));
  a.summary = st.text(5);
  a.severity = st.text(6);
  if (!st.isNull(7)) a.cvss = st.f64(7);
  a.source = st.text(8);
  a.imported_at = st.i64(9);
  return a;
}

FindingRecord readFinding(const Statement& st) {
  FindingRecord f;
  f.id = st.i64(0);
  f.asset_id = st.i64(1);
  f.key = st.text(2);
  f.advisory_id = st.text(3);
  f.display_id = st.text(4);
  f.ecosystem = st.text(5);
  f.package = st.text(6);
  f.version = st.text(7);
  f.purl = st.text(8);
  f.fixed_versions = parseList(st.textView(9));
  f.severity = static_cast<core::Severity>(std::clamp(st.i32(10), 0, core::kSeverityCount - 1));
  f.score = st.i32(11);
  f.state = static_cast<FindingState>(std::clamp(st.i32(12), 0, 2));
  f.reason = st.text(13);
  f.note = st.text(14);
  f.first_seen = st.i64(15);
  f.last_seen = st.i64(16);
  f.resolved_at = st.optI64(17);
  f.threat_id = st.optI64(18);
  f.detail_json = st.text(19);
  return f;
}

core::Status fillOpenCounts(Connection& c, AssetRecord& a) {
  TDV_TRY(st, c.prepare(
                  "SELECT severity, count(*) FROM vuln_findings WHERE asset_id = ? AND state = 0 "
                  "GROUP BY severity"));
  st->bind(1, a.id);
  a.open_findings.fill(0);
  for (;;) {
    TDV_TRY(row, st->step());
    if (!row) break;
    int sev = std::clamp(st->i32(0), 0, core::kSeverityCount - 1);
    a.open_findings[static_cast<size_t>(sev)] = st->i64(1);
  }
  st->reset();
  return {};
}

core::Result<AssetRecord> readAssetById(Connection& c, AssetId id) {
  TDV_TRY(st, c.prepare(std::string(kAssetColumns) + "WHERE id = ?"));
  st->bind(1, id);
  TDV_TRY(row, st->step());
  if (!row) {
    st->reset();
    return fail(ErrorCode::kNotFound, "no asset " + std::to_string(id), "id");
  }
  AssetRecord a = readAsset(*st);
  st->reset();
  TDV_CHECK(fillOpenCounts(c, a));
  return a;
}

core::Status validateAsset(const AssetRecord& a) {
  if (core::trim(a.name).empty())
    return fail(ErrorCode::kUnprocessable, "an asset needs a name", "name");
  if (a.name.size() > core::kMaxShortText)
    return fail(ErrorCode::kUnprocessable, "an asset name is at most 256 bytes", "name");
  for (const auto& [field, value] : {std::pair<const char*, const std::string*>{"host", &a.host},
                                     {"owner", &a.owner},
                                     {"entity_group", &a.entity_group}})
    if (value->size() > core::kMaxShortText)
      return fail(ErrorCode::kUnprocessable, std::string(field) + " is at most 256 bytes", field);
  if (a.description.size() > core::kMaxDescriptionLength)
    return fail(ErrorCode::kUnprocessable, "description is at most 32 KiB", "description");
  if (a.criticality < 1 || a.criticality > 5)
    return fail(ErrorCode::kUnprocessable,
                "criticality is 1 (lowest) to 5 (business-critical), got " +
                    std::to_string(a.criticality),
                "criticality");
  return {};
}

// Maps a unique-name violation to a message about the name.
core::Error nameConflict(const core::Error& e, const std::string& name) {
  if (e.code != ErrorCode::kConflict) return e;
  return core::Error{ErrorCode::kConflict,
                     "the project already has an asset named '" + name + "'", "name"};
}

std::string likeEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace
}  // namespace td::store::sqlite

namespace td::store {

using core::ErrorCode;
using core::fail;

std::string_view findingStateName(FindingState s) {
  switch (s) {
    case FindingState::kOpen: return "open";
    case FindingState::kResolved: return "resolved";
    case FindingState::kSuppressed: return "suppressed";
  }
  return "open";
}

core::Result<FindingState> parseFindingState(std::string_view text) {
  for (auto s : {FindingState::kOpen, FindingState::kResolved, FindingState::kSuppressed})
    if (core::equalsIgnoreCase(text, findingStateName(s))) return s;
  return fail(ErrorCode::kInvalidArgument,
              "unknown finding state '" + std::string(text.substr(0, 64)) +
                  "' (expected open, resolved or suppressed)",
              "state");
}

}  // namespace td::store

namespace td::store::sqlite {

// --- assets ------------------------------------------------------------------------------------

core::Result<AssetRecord> SqliteVulnStore::createAsset(const AssetRecord& asset) {
  TDV_CHECK(validateAsset(asset));
  core::Result<AssetRecord> out = fail(ErrorCode::kInternal, "asset not written");
  auto s = store_.withWriter([&](Connection& c) -> core::Status {
    TDV_TRY(st, c.prepare(
                    "INSERT INTO vuln_assets (project_id, name, host, owner, entity_group, "
                    "description, criticality, created_at, updated_at) "
                    "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM projects "
                    "WHERE id = ?)"));
    const core::TimeMs now = core::nowMs();
    st->bind(1, asset.project_id)
        .bind(2, asset.name)
        .bind(3, asset.host)
        .bind(4, asset.owner)
        .bind(5, asset.entity_group)
        .bind(6, asset.description)
        .bind(7, asset.criticality)
        .bind(8, now)
        .bind(9, now)
        .bind(10, asset.project_id);
    if (auto r = st->run(); !r) return fail(nameConflict(r.error(), asset.name));
    if (c.changes() == 0)
      return fail(ErrorCode::kUnprocessable, "no project " + std::to_string(asset.project_id),
                  "project_id");
    out = readAssetById(c, c.lastInsertId());
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

core::Result<AssetRecord> SqliteVulnStore::updateAsset(const AssetRecord& asset) {
  TDV_CHECK(validateAsset(asset));
  core::Result<AssetRecord> out = fail(ErrorCode::kInternal, "asset not written");
  auto s = store_.withWriter([&](Connection& c) -> core::Status {
    TDV_TRY(st, c.prepare(
                    "UPDATE vuln_assets SET name = ?, host = ?, owner = ?, entity_group = ?, "
                    "description = ?, criticality = ?, updated_at = ? WHERE id = ?"));
    st->bind(1, asset.name)
        .bind(2, asset.host)
        .bind(3, asset.owner)
        .bind(4, asset.entity_group)
        .bind(5, asset.description)
        .bind(6, asset.criticality)
        .bind(7, core::nowMs())
        .bind(8, asset.id);
    if (auto r = st->run(); !r) return fail(nameConflict(r.error(), asset.name));
    if (c.changes() == 0)
      return fail(ErrorCode::kNotFound, "no asset " + std::to_string(asset.id), "id");
    out = readAssetById(c, asset.id);
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

core::Result<AssetRecord> SqliteVulnStore::getAsset(AssetId id) {
  core::Result<AssetRecord> out = fail(ErrorCode::kInternal, "asset not read");
  auto s = store_.withReader([&](Connection& c) -> core::Status {
    out = readAssetById(c, id);
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

core::Result<AssetRecord> SqliteVulnStore::findAsset(core::ProjectId project,
                                                     const std::string& name) {
  core::Result<AssetRecord> out = fail(ErrorCode::kNotFound, "no asset '" + name + "'", "name");
  auto s = store_.withReader([&](Connection& c) -> core::Status {
    TDV_TRY(st, c.prepare(std::string(kAssetColumns) +
                          "WHERE project_id = ? AND lower(name) = lower(?)"));
    st->bind(1, project).bind(2, name);
    TDV_TRY(row, st->step());
    if (!row) {
      st->reset();
      return {};
    }
    AssetRecord a = readAsset(*st);
    st->reset();
    TDV_CHECK(fillOpenCounts(c, a));
    out = std::move(a);
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

core::Result<std::vector<AssetRecord>> SqliteVulnStore::listAssets(
    const std::vector<core::ProjectId>& projects) {
  std::vector<AssetRecord> out;
  auto s = store_.withReader([&](Connection& c) -> core::Status {
    ReadTransaction tx(c);
    TDV_CHECK(tx.begin());
    TDV_TRY(st, c.prepare(std::string(kAssetColumns) + "ORDER BY lower(name), id"));
    for (;;) {
      TDV_TRY(row, st->step());
      if (!row) break;
      AssetRecord a = readAsset(*st);
      if (!projects.empty() &&
          std::find(projects.begin(), projects.end(), a.project_id) == projects.end())
        continue;
      out.push_back(std::move(a));
    }
    st->reset();
    for (auto& a : out) TDV_CHECK(fillOpenCounts(c, a));
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

core::Status SqliteVulnStore::deleteAsset(AssetId id) {
  return store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TDV_CHECK(tx.begin());
    for (const char* sql :
         {"DELETE FROM vuln_components WHERE sbom_id IN (SELECT id FROM vuln_sboms WHERE "
          "asset_id = ?)",
          "DELETE FROM vuln_sboms WHERE asset_id = ?", "DELETE FROM vuln_findings WHERE asset_id = ?",
          "DELETE FROM vuln_assets WHERE id = ?"}) {
      TDV_TRY(st, c.prepare(sql));
      st->bind(1, id);
      TDV_CHECK(st->run());
    }
    if (c.changes() == 0) return fail(ErrorCode::kNotFound, "no asset " + std::to_string(id), "id");
    return tx.commit();
  });
}

// --- SBOMs -------------------------------------------------------------------------------------

core::Result<SbomRecord> SqliteVulnStore::addSbom(
    const SbomRecord& sbom, const std::vector<SbomComponentRecord>& components) {
  SbomRecord out = sbom;
  out.document.clear();
  out.component_count = static_cast<std::int64_t>(components.size());
  auto s = store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TDV_CHECK(tx.begin());
    {
      TDV_TRY(st, c.prepare("SELECT 1 FROM vuln_assets WHERE id = ?"));
      st->bind(1, sbom.asset_id);
      TDV_TRY(row, st->step());
      st->reset();
      if (!row)
        return fail(ErrorCode::kNotFound, "no asset " + std::to_string(sbom.asset_id), "id");
    }
    if (out.uploaded_at == 0) out.uploaded_at = core::nowMs();
    TDV_TRY(ins, c.prepare(
                     "INSERT INTO vuln_sboms (asset_id, uploaded_at, uploaded_by, format, "
                     "spec_version, serial, subject, sha256, component_count, document) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    ins->bind(1, sbom.asset_id)
        .bind(2, out.uploaded_at)
        .bind(3, sbom.uploaded_by)
        .bind(4, sbom.format)
        .bind(5, sbom.spec_version)
        .bind(6, sbom.serial)
        .bind(7, sbom.subject)
        .bind(8, sbom.sha256)
        .bind(9, out.component_count)
        .bind(10, sbom.document);
    TDV_CHECK(ins->run());
    out.id = c.lastInsertId();
    TDV_TRY(comp, c.prepare(
                      "INSERT INTO vuln_components (sbom_id, position, ref, name, version, purl, "
                      "ecosystem, package) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
    int position = 0;
    for (const auto& k : components) {
      comp->reset();
      comp->bind(1, out.id)
          .bind(2, position++)
          .bind(3, k.ref)
          .bind(4, k.name)
          .bind(5, k.version)
          .bind(6, k.purl)
          .bind(7, k.ecosystem)
          .bind(8, k.package);
      TDV_CHECK(comp->run());
    }
    TDV_TRY(cur, c.prepare("UPDATE vuln_assets SET current_sbom_id = ?, updated_at = ? WHERE id = ?"));
    cur->bind(1, out.id).bind(2, out.uploaded_at).bind(3, sbom.asset_id);
    TDV_CHECK(cur->run());
    return tx.commit();
  });
  if (!s) return fail(s.error());
  return out;
}

core::Result<std::vector<SbomRecord>> SqliteVulnStore::listSboms(AssetId asset) {
  std::vector<SbomRecord> out;
  auto s = store_.withReader([&](Connection& c) -> core::Status {
    TDV_TRY(st, c.prepare(std::string(kSbomColumns) + "WHERE asset_id = ? ORDER BY id DESC"));
    st->bind(1, asset);
    for (;;) {
      TDV_TRY(row, st->step());
      if (!row) break;
      out.push_back(readSbom(*st));
    }
    st->reset();
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

core::Result<SbomRecord> SqliteVulnStore::getSbom(SbomId id, bool with_document) {
  core::Result<SbomRecord> out = fail(ErrorCode::kNotFound, "no SBOM " + std::to_string(id), "id");
  auto s = store_.withReader([&](Connection& c) -> core::Status {
    TDV_TRY(st, c.prepare(std::string(kSbomColumns) + "WHERE id = ?"));
    st->bind(1, id);
    TDV_TRY(row, st->step());
    if (row) out = readSbom(*st);
    st->reset();
    if (row && with_document) {
      TDV_TRY(doc, c.prepare("SELECT document FROM vuln_sboms WHERE id = ?"));
      doc->bind(1, id);
      TDV_TRY(r2, doc->step());
      if (r2) out->document = doc->text(0);
      doc->reset();
    }
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

core::Result<std::vector<SbomComponentRecord>> SqliteVulnStore::sbomComponents(SbomId id) {
  std::vector<SbomComponentRecord> out;
  auto s = store_.withReader([&](Connection& c) -> core::Status {
    TDV_TRY(st, c.prepare(
                    "SELECT ref, name, version, purl, ecosystem, package FROM vuln_components "
                    "WHERE sbom_id = ? ORDER BY position"));
    st->bind(1, id);
    for (;;) {
      TDV_TRY(row, st->step());
      if (!row) break;
      out.push_back({st->text(0), st->text(1), st->text(2), st->text(3), st->text(4), st->text(5)});
    }
    st->reset();
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

// --- advisories --------------------------------------------------------------------------------

core::Status SqliteVulnStore::putAdvisories(const std::vector<AdvisoryRecord>& advisories) {
  if (advisories.empty()) return {};
  return store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TDV_CHECK(tx.begin());
    TDV_TRY(del, c.prepare("DELETE FROM vuln_advisory_packages WHERE advisory_id = ?"));
    TDV_TRY(ins, c.prepare(
                     "INSERT INTO vuln_advisories (id, modified, published, withdrawn, "
                     "aliases, summary, severity, cvss, source, imported_at, document) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                     "modified = excluded.modified, published = excluded.published, "
                     "withdrawn = excluded.withdrawn, aliases = excluded.aliases, "
                     "summary = excluded.summary, severity = excluded.severity, "
                     "cvss = excluded.cvss, source = excluded.source, "
                     "imported_at = excluded.imported_at, document = excluded.document"));
    TDV_TRY(pkg, c.prepare(
                     "INSERT INTO vuln_advisory_packages (advisory_id, ecosystem, ecosystem_key, "
                     "name) VALUES (?, ?, ?, ?)"));
    const core::TimeMs now = core::nowMs();
    for (const auto& a : advisories) {
      del->reset();
      del->bind(1, a.id);
      TDV_CHECK(del->run());
      ins->reset();
      ins->bind(1, a.id)
          .bind(2, a.modified)
          .bind(3, a.published)
          .bind(4, a.withdrawn)
          .bind(5, jsonList(a.aliases))
          .bind(6, a.summary)
          .bind(7, a.severity);
      if (a.cvss)
        ins->bind(8, *a.cvss);
      else
        ins->bindNull(8);
      ins->bind(9, a.source).bind(10, a.imported_at ? a.imported_at : now).bind(11, a.document);
      TDV_CHECK(ins->run());
      for (const auto& p : a.packages) {
        pkg->reset();
        const std::string base = p.ecosystem.substr(0, p.ecosystem.find(':'));
        pkg->bind(1, a.id).bind(2, p.ecosystem).bind(3, core::toLower(base)).bind(4, p.name);
        TDV_CHECK(pkg->run());
      }
    }
    return tx.commit();
  });
}

core::Result<AdvisoryRecord> SqliteVulnStore::getAdvisory(const std::string& id) {
  core::Result<AdvisoryRecord> out = fail(ErrorCode::kNotFound, "no advisory " + id, "id");
  auto s = store_.withReader([&](Connection& c) -> core::Status {
    ReadTransaction tx(c);
    TDV_CHECK(tx.begin());
    TDV_TRY(st, c.prepare(std::string(kAdvisoryColumns) + "WHERE id = ?"));
    st->bind(1, id);
    TDV_TRY(row, st->step());
    if (!row) {
      st->reset();
      return {};
    }
    AdvisoryRecord a = readAdvisory(*st);
    st->reset();
    TDV_TRY(doc, c.prepare("SELECT document FROM vuln_advisories WHERE id = ?"));
    doc->bind(1, id);
    TDV_TRY(r2, doc->step());
    if (r2) a.document = doc->text(0);
    doc->reset();
    TDV_TRY(pk, c.prepare(
                    "SELECT ecosystem, name FROM vuln_advisory_packages WHERE advisory_id = ?"));
    pk->bind(1, id);
    for (;;) {
      TDV_TRY(r3, pk->step());
      if (!r3) break;
      a.packages.push_back({pk->text(0), pk->text(1)});
    }
    pk->reset();
    out = std::move(a);
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

core::Result<AdvisoryPage> SqliteVulnStore::listAdvisories(const AdvisoryListFilter& filter) {
  AdvisoryPage page;
  const int limit = std::clamp(filter.limit, 1, 500);
  const int offset = std::max(filter.offset, 0);
  std::string where = " WHERE 1=1";
  std::vector<std::string> args;
  if (!filter.query.empty()) {
    where +=
        " AND (lower(id) LIKE ? ESCAPE '\\' OR lower(aliases) LIKE ? ESCAPE '\\' OR "
        "lower(summary) LIKE ? ESCAPE '\\')";
    // lower() on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
    const std::string like = "%" + likeEscape(core::toLower(filter.query)) + "%";
    args.insert(args.end(), {like, like, like});
  }
  if (!filter.ecosystem.empty() || !filter.package.empty()) {
    where += " AND id IN (SELECT advisory_id FROM vuln_advisory_packages WHERE 1=1";
    if (!filter.ecosystem.empty()) {
      where += " AND ecosystem_key = ?";
      args.push_back(core::toLower(filter.ecosystem.substr(0, filter.ecosystem.find(':'))));
    }
    if (!filter.package.empty()) {
      where += " AND name = ?";
      args.push_back(filter.package);
    }
    where += ")";
  }
  if (filter.withdrawn) where += *filter.withdrawn ? " AND withdrawn <> ''" : " AND withdrawn = ''";
  auto s = store_.withReader([&](Connection& c) -> core::Status {
    ReadTransaction tx(c);
    TDV_CHECK(tx.begin());
    TDV_TRY(cnt, c.prepare("SELECT count(*) FROM vuln_advisories" + where));
    for (size_t i = 0; i < args.size(); ++i) cnt->bind(static_cast<int>(i + 1), args[i]);
    TDV_TRY(r, cnt->step());
    if (r) page.total = cnt->i64(0);
    cnt->reset();
    TDV_TRY(st, c.prepare(std::string(kAdvisoryColumns) + where.substr(1) +
                          " ORDER BY modified DESC, id LIMIT ? OFFSET ?"));
    int i = 1;
    for (const auto& a : args) st->bind(i++, a);
    st->bind(i, limit).bind(i + 1, offset);
    for (;;) {
      TDV_TRY(row, st->step());
      if (!row) break;
      page.items.push_back(readAdvisory(*st));
    }
    st->reset();
    TDV_TRY(pk, c.prepare(
                    "SELECT ecosystem, name FROM vuln_advisory_packages WHERE advisory_id = ?"));
    for (auto& a : page.items) {
      pk->reset();
      pk->bind(1, a.id);
      for (;;) {
        TDV_TRY(r3, pk->step());
        if (!r3) break;
        a.packages.push_back({pk->text(0), pk->text(1)});
      }
    }
    pk->reset();
    return {};
  });
  if (!s) return fail(s.error());
  return page;
}

core::Result<std::int64_t> SqliteVulnStore::countAdvisories() {
  std::int64_t n = 0;
  auto s = store_.withReader([&](Connection& c) -> core::Status {
    TDV_TRY(st, c.prepare("SELECT count(*) FROM vuln_advisories"));
    TDV_TRY(row, st->step());
    if (row) n = st->i64(0);
    st->reset();
    return {};
  });
  if (!s) return fail(s.error());
  return n;
}

core::Status SqliteVulnStore::forEachAdvisory(
    const std::function<bool(const AdvisoryRecord&)>& visit) {
  return store_.withReader([&](Connection& c) -> core::Status {
    ReadTransaction tx(c);
    TDV_CHECK(tx.begin());
    // Documents only: the in-memory database is rebuilt from them.
    TDV_TRY(st, c.prepare("SELECT id, source, document, imported_at FROM vuln_advisories ORDER BY id"));
    for (;;) {
      TDV_TRY(row, st->step());
      if (!row) break;
      AdvisoryRecord a;
      a.id = st->text(0);
      a.source = st->text(1);
      a.document = st->text(2);
      a.imported_at = st->i64(3);
      if (!visit(a)) break;
    }
    st->reset();
    return {};
  });
}

core::Result<std::optional<AdvisoryFileRecord>> SqliteVulnStore::advisoryFile(
    const std::string& path) {
  std::optional<AdvisoryFileRecord> out;
  auto s = store_.withReader([&](Connection& c) -> core::Status {
    TDV_TRY(st, c.prepare(
                    "SELECT path, size, mtime_ns, imported_at, advisories, errors FROM "
                    "vuln_advisory_files WHERE path = ?"));
    st->bind(1, path);
    TDV_TRY(row, st->step());
    if (row)
      out = AdvisoryFileRecord{st->text(0), st->i64(1), st->i64(2),
                               st->i64(3),  st->i64(4), st->i64(5)};
    st->reset();
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

core::Status SqliteVulnStore::putAdvisoryFile(const AdvisoryFileRecord& file) {
  return store_.withWriter([&](Connection& c) -> core::Status {
    TDV_TRY(st, c.prepare(
                    "INSERT INTO vuln_advisory_files (path, size, mtime_ns, imported_at, "
                    "advisories, errors) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE "
                    "SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
                    "imported_at = excluded.imported_at, advisories = excluded.advisories, "
                    "errors = excluded.errors"));
    st->bind(1, file.path)
        .bind(2, file.size)
        .bind(3, file.mtime_ns)
        .bind(4, file.imported_at)
        .bind(5, file.advisories)
        .bind(6, file.errors);
    return st->run();
  });
}

// --- findings ----------------------------------------------------------------------------------

core::Result<std::vector<FindingRecord>> SqliteVulnStore::assetFindings(AssetId asset) {
  std::vector<FindingRecord> out;
  auto s = store_.withReader([&](Connection& c) -> core::Status {
    TDV_TRY(st, c.prepare(std::string(kFindingColumns) + "WHERE f.asset_id = ? ORDER BY f.id"));
    st->bind(1, asset);
    for (;;) {
      TDV_TRY(row, st->step());
      if (!row) break;
      out.push_back(readFinding(*st));
    }
    st->reset();
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

core::Result<std::vector<FindingRecord>> SqliteVulnStore::saveFindings(
    AssetId asset, const std::vector<FindingRecord>& findings, core::TimeMs scanned_at) {
  std::vector<FindingRecord> out = findings;
  auto s = store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TDV_CHECK(tx.begin());
    TDV_TRY(up, c.prepare(
                    "INSERT INTO vuln_findings (asset_id, finding_key, advisory_id, display_id, "
                    "ecosystem, package, version, purl, fixed_versions, severity, score, state, "
                    "reason, note, first_seen, last_seen, resolved_at, threat_id, detail) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (asset_id, finding_key) DO UPDATE SET advisory_id = "
                    "excluded.advisory_id, display_id = excluded.display_id, ecosystem = "
                    "excluded.ecosystem, package = excluded.package, version = excluded.version, "
                    "purl = excluded.purl, fixed_versions = excluded.fixed_versions, severity = "
                    "excluded.severity, score = excluded.score, state = excluded.state, reason = "
                    "excluded.reason, note = excluded.note, last_seen = excluded.last_seen, "
                    "resolved_at = excluded.resolved_at, threat_id = excluded.threat_id, detail = "
                    "excluded.detail"));
    TDV_TRY(id_of, c.prepare("SELECT id FROM vuln_findings WHERE asset_id = ? AND finding_key = ?"));
    for (auto& f : out) {
      f.asset_id = asset;
      up->reset();
      up->bind(1, asset)
          .bind(2, f.key)
          .bind(3, f.advisory_id)
          .bind(4, f.display_id)
          .bind(5, f.ecosystem)
          .bind(6, f.package)
          .bind(7, f.version)
          .bind(8, f.purl)
          .bind(9, jsonList(f.fixed_versions))
          .bind(10, static_cast<int>(f.severity))
          .bind(11, f.score)
          .bind(12, static_cast<int>(f.state))
          .bind(13, f.reason)
          .bind(14, f.note)
          .bind(15, f.first_seen)
          .bind(16, f.last_seen)
          .bind(17, f.resolved_at)
          .bind(18, f.threat_id)
          .bind(19, f.detail_json);
      TDV_CHECK(up->run());
      id_of->reset();
      id_of->bind(1, asset).bind(2, f.key);
      TDV_TRY(row, id_of->step());
      if (row) f.id = id_of->i64(0);
      id_of->reset();
    }
    TDV_TRY(st, c.prepare("UPDATE vuln_assets SET last_scan_at = ? WHERE id = ?"));
    st->bind(1, scanned_at).bind(2, asset);
    TDV_CHECK(st->run());
    return tx.commit();
  });
  if (!s) return fail(s.error());
  return out;
}

core::Result<FindingPage> SqliteVulnStore::listFindings(const FindingFilter& filter) {
  FindingPage page;
  std::string where = "WHERE 1=1";
  std::vector<std::int64_t> args;
  if (filter.asset_id) {
    where += " AND f.asset_id = ?";
    args.push_back(*filter.asset_id);
  }
  if (filter.state) {
    where += " AND f.state = ?";
    args.push_back(static_cast<int>(*filter.state));
  }
  if (!filter.projects.empty()) {
    where += " AND f.asset_id IN (SELECT id FROM vuln_assets WHERE project_id IN (";
    for (size_t i = 0; i < filter.projects.size(); ++i) {
      where += i ? ", ?" : "?";
      args.push_back(filter.projects[i]);
    }
    where += "))";
  }
  const int limit = std::clamp(filter.limit, 1, 1000);
  auto s = store_.withReader([&](Connection& c) -> core::Status {
    ReadTransaction tx(c);
    TDV_CHECK(tx.begin());
    TDV_TRY(cnt, c.prepare("SELECT count(*) FROM vuln_findings f " + where));
    for (size_t i = 0; i < args.size(); ++i) cnt->bind(static_cast<int>(i + 1), args[i]);
    TDV_TRY(r, cnt->step());
    if (r) page.total = cnt->i64(0);
    cnt->reset();
    TDV_TRY(st, c.prepare(std::string(kFindingColumns) + where +
                          " ORDER BY f.state, f.severity DESC, f.score DESC, f.id LIMIT ? OFFSET ?"));
    int i = 1;
    for (auto a : args) st->bind(i++, a);
    st->bind(i, limit).bind(i + 1, std::max(filter.offset, 0));
    for (;;) {
      TDV_TRY(row, st->step());
      if (!row) break;
      page.items.push_back(readFinding(*st));
    }
    st->reset();
    return {};
  });
  if (!s) return fail(s.error());
  return page;
}

}  // namespace td::store::sqlite
