// The SQLite backend of IntelStore: tables intel_feeds, intel_indicators, intel_imports and
// intel_versions, intel_settings (schema_intel.cpp), reached through SqliteStore's writer and reader connections.
//
// Thread safety: as IntelStore; writes run under SqliteStore's write lock.
#pragma once

#include "store/intel_store.h"

namespace td::store::sqlite {

class SqliteStore;

class SqliteIntelStore final : public IntelStore {
 public:
  explicit SqliteIntelStore(SqliteStore& store) : store_(store) {}

  Result<IntelFeed> createFeed(const IntelFeed& feed) override;
  Result<IntelFeed> updateFeed(const IntelFeed& feed) override;
  Result<IntelFeed> getFeed(IntelFeedId id) override;
  Result<std::vector<IntelFeed>> listFeeds(std::optional<OrgId> org) override;
  Status deleteFeed(IntelFeedId id) override;

  Result<IntelImport> recordImport(const IntelImport& import,
                                   const std::vector<IntelIndicatorRow>& rows, bool replace,
                                   const std::string& cursor) override;
  Result<std::vector<IntelImport>> listImports(IntelFeedId feed, int limit) override;
  Result<IntelImport> getImport(std::int64_t id) override;

  Status forEachIndicator(
      OrgId org, bool enabled_only,
      const std::function<bool(const IntelFeed&, const IntelIndicatorRow&)>& row) override;
  Result<std::vector<IntelIndicatorHit>> findIndicators(const std::vector<OrgId>& orgs,
                                                        const std::string& value,
                                                        int limit) override;
  Result<std::vector<IntelIndicatorRow>> listIndicators(IntelFeedId feed, int offset,
                                                        int limit) override;

  Result<std::vector<IntelFeed>> claimDueFeeds(TimeMs now, TimeMs lease_ms, int limit) override;
  Status setNextRun(IntelFeedId feed, std::optional<TimeMs> at) override;
  Result<std::int64_t> intelVersion(OrgId org) override;
  Result<IntelSettings> getSettings(ProjectId project) override;
  Result<IntelSettings> putSettings(const IntelSettings& settings) override;

 private:
  SqliteStore& store_;
};

}  // namespace td::store::sqlite
