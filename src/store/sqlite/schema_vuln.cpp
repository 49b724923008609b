// The vuln domain's tables: versions 3000-3999 (assets, SBOMs, advisories, findings). Never edit a migration that has shipped; add
// a new one.
#include "store/sqlite/schema.h"

namespace td::store::sqlite {

const std::vector<Migration>& vulnMigrations() {
  static const std::vector<Migration> kMigrations = {};
  return kMigrations;
}

}  // namespace td::store::sqlite
