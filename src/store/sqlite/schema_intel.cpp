// The intel domain's tables: versions 2000-2999 (feeds, indicators, import reports). Never edit a migration that has shipped; add
// a new one.
#include "store/sqlite/schema.h"

namespace td::store::sqlite {

const std::vector<Migration>& intelMigrations() {
  static const std::vector<Migration> kMigrations = {};
  return kMigrations;
}

}  // namespace td::store::sqlite
