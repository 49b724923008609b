// The detect domain's tables: versions 1000-1999 (rule packs, rules, rule state). Never edit a migration that has shipped; add
// a new one.
#include "store/sqlite/schema.h"

namespace td::store::sqlite {

const std::vector<Migration>& detectMigrations() {
  static const std::vector<Migration> kMigrations = {};
  return kMigrations;
}

}  // namespace td::store::sqlite
