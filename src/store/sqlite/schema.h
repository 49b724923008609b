// The SQLite schema as numbered migrations kept in the source, applied in order inside one
// transaction each and recorded in `schema_migrations`. Types are kept portable (BIGINT ids and
// millisecond timestamps, TEXT, INTEGER flags) so that the PostgreSQL backend's migrations are
// the same statements with its id syntax.
#pragma once

#include <vector>

#include "store/sqlite/connection.h"

namespace td::store::sqlite {

struct Migration {
  int version;
  // In SQLite's DDL; PostgreSQL runs it translated (Connection::migrationSql). Empty when the
  // migration concerns PostgreSQL only.
  const char* sql;
  // PostgreSQL's own statements, run instead of the translated `sql` where the two databases
  // need different things (triggers, functions).
  const char* postgres_sql = nullptr;
};

// Each domain keeps its tables' migrations in its own file (schema_<domain>.cpp) and its own range
// of versions, so modules add tables without touching each other's history:
//   1-999 foundation (schema.cpp)   1000-1999 detect (rules)   2000-2999 intel
//   3000-3999 vuln (assets, SBOMs, advisories)   4000-4999 respond   5000-5999 report
// Migrations are applied in version order; a domain's tables may reference the foundation's.
const std::vector<Migration>& foundationMigrations();
const std::vector<Migration>& detectMigrations();
const std::vector<Migration>& intelMigrations();
const std::vector<Migration>& vulnMigrations();
const std::vector<Migration>& respondMigrations();
const std::vector<Migration>& reportMigrations();

// Brings the database up to the newest schema version. Safe to run on every open.
Status migrate(Connection& conn);

// The newest schema version this build knows.
int latestSchemaVersion();

}  // namespace td::store::sqlite
