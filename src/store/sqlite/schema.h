// The SQLite schema as numbered migrations kept in the source, applied in order inside one
// transaction each and recorded in `schema_migrations`. Types are kept portable (BIGINT ids and
// millisecond timestamps, TEXT, INTEGER flags) so that the PostgreSQL backend's migrations are
// the same statements with its id syntax.
#pragma once

#include "store/sqlite/connection.h"

namespace td::store::sqlite {

// Brings the database up to the newest schema version. Safe to run on every open.
Status migrate(Connection& conn);

// The newest schema version this build knows.
int latestSchemaVersion();

}  // namespace td::store::sqlite
