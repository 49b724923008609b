// The respond domain's tables: versions 4000-4999 (responses, deliveries, subscriptions). Never edit a migration that has shipped; add
// a new one.
#include "store/sqlite/schema.h"

namespace td::store::sqlite {

const std::vector<Migration>& respondMigrations() {
  static const std::vector<Migration> kMigrations = {};
  return kMigrations;
}

}  // namespace td::store::sqlite
