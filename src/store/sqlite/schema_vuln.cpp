// The vuln domain's tables: versions 3000-3999 (assets, SBOMs, advisories, findings). Never edit
// a migration that has shipped; add a new one.
#include "store/sqlite/schema.h"

namespace td::store::sqlite {

const std::vector<Migration>& vulnMigrations() {
  static const std::vector<Migration> kMigrations = {
      {3000, R"sql(
CREATE TABLE vuln_assets (
  id INTEGER PRIMARY KEY,
  project_id BIGINT NOT NULL REFERENCES projects(id),
  name TEXT NOT NULL,
  host TEXT NOT NULL,
  owner TEXT NOT NULL,
  entity_group TEXT NOT NULL,
  description TEXT NOT NULL,
  criticality INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  current_sbom_id BIGINT,
  last_scan_at BIGINT
);
CREATE UNIQUE INDEX vuln_assets_name ON vuln_assets (project_id, lower(name));

-- Every upload is kept: the inventory's history is the sequence of an asset's SBOMs.
CREATE TABLE vuln_sboms (
  id INTEGER PRIMARY KEY,
  asset_id BIGINT NOT NULL REFERENCES vuln_assets(id),
  uploaded_at BIGINT NOT NULL,
  uploaded_by TEXT NOT NULL,
  format TEXT NOT NULL,
  spec_version TEXT NOT NULL,
  serial TEXT NOT NULL,
  subject TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  component_count BIGINT NOT NULL,
  document TEXT NOT NULL
);
CREATE INDEX vuln_sboms_asset ON vuln_sboms (asset_id, id);

CREATE TABLE vuln_components (
  sbom_id BIGINT NOT NULL REFERENCES vuln_sboms(id),
  position INTEGER NOT NULL,
  ref TEXT NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  purl TEXT NOT NULL,
  ecosystem TEXT NOT NULL,
  package TEXT NOT NULL,
  PRIMARY KEY (sbom_id, position)
);
CREATE INDEX vuln_components_package ON vuln_components (ecosystem, package);

-- The OSV document is kept whole so that the in-memory advisory database is rebuilt at start
-- exactly as imported; the other columns serve lists and filters.
CREATE TABLE vuln_advisories (
  id TEXT PRIMARY KEY,
  modified TEXT NOT NULL,
  published TEXT NOT NULL,
  withdrawn TEXT NOT NULL,
  aliases TEXT NOT NULL,
  summary TEXT NOT NULL,
  severity TEXT NOT NULL,
  cvss REAL,
  source TEXT NOT NULL,
  imported_at BIGINT NOT NULL,
  document TEXT NOT NULL
);

CREATE TABLE vuln_advisory_packages (
  advisory_id TEXT NOT NULL REFERENCES vuln_advisories(id),
  ecosystem TEXT NOT NULL,
  ecosystem_key TEXT NOT NULL,
  name TEXT NOT NULL
);
CREATE INDEX vuln_advisory_packages_advisory ON vuln_advisory_packages (advisory_id);
CREATE INDEX vuln_advisory_packages_name ON vuln_advisory_packages (ecosystem_key, name);

CREATE TABLE vuln_advisory_files (
  path TEXT PRIMARY KEY,
  size BIGINT NOT NULL,
  mtime_ns BIGINT NOT NULL,
  imported_at BIGINT NOT NULL,
  advisories BIGINT NOT NULL,
  errors BIGINT NOT NULL
);

CREATE TABLE vuln_findings (
  id INTEGER PRIMARY KEY,
  asset_id BIGINT NOT NULL REFERENCES vuln_assets(id),
  finding_key TEXT NOT NULL,
  advisory_id TEXT NOT NULL,
  display_id TEXT NOT NULL,
  ecosystem TEXT NOT NULL,
  package TEXT NOT NULL,
  version TEXT NOT NULL,
  purl TEXT NOT NULL,
  fixed_versions TEXT NOT NULL,
  severity INTEGER NOT NULL,
  score INTEGER NOT NULL,
  state INTEGER NOT NULL,
  reason TEXT NOT NULL,
  note TEXT NOT NULL,
  first_seen BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  resolved_at BIGINT,
  threat_id BIGINT,
  detail TEXT NOT NULL
);
CREATE UNIQUE INDEX vuln_findings_key ON vuln_findings (asset_id, finding_key);
CREATE INDEX vuln_findings_state ON vuln_findings (state, asset_id);
)sql"},
  };
  return kMigrations;
}

}  // namespace td::store::sqlite
