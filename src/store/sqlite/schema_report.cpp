// The report domain's tables: versions 5000-5999 (reports, schedules). Never edit a migration that has shipped; add
// a new one.
#include "store/sqlite/schema.h"

namespace td::store::sqlite {

const std::vector<Migration>& reportMigrations() {
  static const std::vector<Migration> kMigrations = {};
  return kMigrations;
}

}  // namespace td::store::sqlite
