// The SQLite backend of VulnStore, on the SqliteStore's writer and reader connections (tables in
// schema_vuln.cpp). Thread safety: as for Store.
#pragma once

#include "store/vuln_store.h"

namespace td::store::sqlite {

class SqliteStore;

class SqliteVulnStore final : public VulnStore {
 public:
  explicit SqliteVulnStore(SqliteStore& store) : store_(store) {}

  core::Result<AssetRecord> createAsset(const AssetRecord& asset) override;
  core::Result<AssetRecord> updateAsset(const AssetRecord& asset) override;
  core::Result<AssetRecord> getAsset(AssetId id) override;
  core::Result<AssetRecord> findAsset(core::ProjectId project, const std::string& name) override;
  core::Result<std::vector<AssetRecord>> listAssets(
      const std::vector<core::ProjectId>& projects) override;
  core::Status deleteAsset(AssetId id) override;

  core::Result<SbomRecord> addSbom(const SbomRecord& sbom,
                                   const std::vector<SbomComponentRecord>& components) override;
  core::Result<std::vector<SbomRecord>> listSboms(AssetId asset) override;
  core::Result<SbomRecord> getSbom(SbomId id, bool with_document) override;
  core::Result<std::vector<SbomComponentRecord>> sbomComponents(SbomId id) override;

  core::Status putAdvisories(const std::vector<AdvisoryRecord>& advisories) override;
  core::Result<AdvisoryRecord> getAdvisory(const std::string& id) override;
  core::Result<AdvisoryPage> listAdvisories(const AdvisoryListFilter& filter) override;
  core::Result<std::int64_t> countAdvisories() override;
  core::Status forEachAdvisory(const std::function<bool(const AdvisoryRecord&)>& visit) override;
  core::Result<std::optional<AdvisoryFileRecord>> advisoryFile(const std::string& path) override;
  core::Status putAdvisoryFile(const AdvisoryFileRecord& file) override;

  core::Result<std::vector<FindingRecord>> assetFindings(AssetId asset) override;
  core::Result<std::vector<FindingRecord>> saveFindings(AssetId asset,
                                                        const std::vector<FindingRecord>& findings,
                                                        core::TimeMs scanned_at) override;
  core::Result<FindingPage> listFindings(const FindingFilter& filter) override;

 private:
  SqliteStore& store_;
};

}  // namespace td::store::sqlite
