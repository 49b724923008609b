#include "store/migrate.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "store/postgres/connection.h"
#include "store/sqlite/connection.h"
#include "store/store.h"

namespace td::store {

using core::ErrorCode;
using core::fail;

namespace {

constexpr std::int64_t kRowsPerTransaction = 5000;

std::string sqlitePath(const std::string& url) {
  std::string path = url.substr(std::string_view("sqlite:").size());
  if (path.rfind("//", 0) == 0) path = path.substr(2);
  return path;
}

bool isPostgres(const std::string& url) {
  return url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0;
}

struct Column {
  std::string name;
  sql::ParamType type = sql::ParamType::kUnknown;  // from the declared type, for NULLs
};

struct Table {
  std::string name;
  std::vector<Column> columns;
  std::set<std::string> depends_on;  // tables its foreign keys point to (itself excluded)
  bool rowid = true;                 // rows can be read in insertion (rowid) order
};

sql::ParamType declaredType(std::string decl) {
  std::transform(decl.begin(), decl.end(), decl.begin(), ::toupper);
  if (decl.find("INT") != std::string::npos) return sql::ParamType::kInt;
  if (decl.find("TEXT") != std::string::npos || decl.find("CHAR") != std::string::npos)
    return sql::ParamType::kText;
  if (decl.find("REAL") != std::string::npos || decl.find("DOUB") != std::string::npos)
    return sql::ParamType::kReal;
  if (decl.find("BLOB") != std::string::npos) return sql::ParamType::kBlob;
  return sql::ParamType::kUnknown;
}

core::Result<std::vector<Table>> readTables(sql::Connection& c) {
  std::vector<Table> tables;
  TD_TRY(list, c.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT "
                         "LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name"));
  while (true) {
    TD_TRY(row, list->step());
    if (!row) break;
    Table t;
    t.name = list->text(0);
    t.rowid = list->text(1).find("WITHOUT ROWID") == std::string::npos;
    tables.push_back(std::move(t));
  }
  list->reset();
  for (auto& t : tables) {
    TD_TRY(cols, c.prepare("SELECT name, type FROM pragma_table_info(?) ORDER BY cid"));
    cols->bind(1, t.name);
    while (true) {
      TD_TRY(row, cols->step());
      if (!row) break;
      t.columns.push_back({cols->text(0), declaredType(cols->text(1))});
    }
    cols->reset();
    TD_TRY(fks, c.prepare("SELECT \"table\" FROM pragma_foreign_key_list(?)"));
    fks->bind(1, t.name);
    while (true) {
      TD_TRY(row, fks->step());
      if (!row) break;
      if (fks->textView(0) != t.name) t.depends_on.insert(fks->text(0));
    }
    fks->reset();
  }
  return tables;
}

// Tables ordered so that each comes after those its foreign keys point to.
core::Result<std::vector<Table>> dependencyOrder(std::vector<Table> tables) {
  std::vector<Table> ordered;
  std::set<std::string> placed;
  while (!tables.empty()) {
    auto ready = std::find_if(tables.begin(), tables.end(), [&](const Table& t) {
      return std::all_of(t.depends_on.begin(), t.depends_on.end(),
                         [&](const std::string& d) { return placed.count(d) > 0; });
    });
    if (ready == tables.end())
      return fail(ErrorCode::kInternal, "the tables' foreign keys form a cycle (" +
                                            tables.front().name + " …)");
    placed.insert(ready->name);
    ordered.push_back(std::move(*ready));
    tables.erase(ready);
  }
  return ordered;
}

core::Result<std::int64_t> countRows(sql::Connection& c, const std::string& table) {
  TD_TRY(st, c.prepare("SELECT count(*) FROM " + table));
  TD_TRY(row, st->step());
  const std::int64_t n = row ? st->i64(0) : 0;
  st->reset();
  return n;
}

core::Result<std::unique_ptr<sql::Connection>> connect(const std::string& url) {
  if (isPostgres(url)) {
    TD_TRY(c, postgres::PgConnection::open(url));
    return std::unique_ptr<sql::Connection>(std::move(c));
  }
  TD_TRY(c, sqlite::SqliteConnection::open(sqlitePath(url), false));
  return std::unique_ptr<sql::Connection>(std::move(c));
}

core::Status copyTable(sqlite::SqliteConnection& from, sql::Connection& to, const Table& t,
                       const CopyProgress& progress, TableCopy& out) {
  std::string cols, marks;
  for (const auto& c : t.columns) {
    if (!cols.empty()) {
      cols += ", ";
      marks += ", ";
    }
    cols += c.name;
    marks += "?";
  }
  TD_TRY(total, countRows(from, t.name));
  out.source_rows = total;
  TD_TRY(read, from.prepare("SELECT " + cols + " FROM " + t.name +
                            (t.rowid ? " ORDER BY rowid" : "")));
  auto* src = static_cast<sqlite::SqliteStatement*>(read);
  TD_TRY(write, to.prepare("INSERT INTO " + t.name + " (" + cols + ") VALUES (" + marks + ")"));
  std::int64_t done = 0;
  std::unique_ptr<sql::Transaction> tx;
  while (true) {
    TD_TRY(row, src->step());
    if (!row) break;
    if (!tx) {
      tx = std::make_unique<sql::Transaction>(to);
      TD_CHECK(tx->begin());
    }
    write->reset();
    for (int i = 0; i < static_cast<int>(t.columns.size()); ++i) {
      switch (src->columnType(i)) {
        case SQLITE_INTEGER: write->bind(i + 1, src->i64(i)); break;
        case SQLITE_FLOAT: write->bind(i + 1, src->f64(i)); break;
        case SQLITE_BLOB: write->bindBlob(i + 1, src->blob(i)); break;
        case SQLITE_NULL: write->bindNull(i + 1, t.columns[static_cast<size_t>(i)].type); break;
        default: write->bind(i + 1, src->textView(i)); break;
      }
    }
    if (auto s = write->run(); !s) {
      auto e = s.error();
      e.message = "copying " + t.name + " row " + std::to_string(done + 1) + ": " + e.message;
      return fail(std::move(e));
    }
    ++done;
    if (done % kRowsPerTransaction == 0) {
      TD_CHECK(tx->commit());
      tx.reset();
      if (progress) progress(t.name, done, total);
    }
  }
  src->reset();
  if (tx) TD_CHECK(tx->commit());
  if (progress) progress(t.name, done, total);
  TD_TRY(copied, countRows(to, t.name));
  out.copied_rows = copied;
  return {};
}

// Identity keys continue after the copied ids (PostgreSQL's sequences do not see explicit ids).
core::Status advanceIdentities(sql::Connection& to, const std::vector<Table>& tables) {
  for (const auto& t : tables) {
    TD_TRY(ids, to.prepare("SELECT column_name FROM information_schema.columns WHERE "
                           "table_name = ? AND is_identity = 'YES'"));
    ids->bind(1, t.name);
    std::vector<std::string> columns;
    while (true) {
      TD_TRY(row, ids->step());
      if (!row) break;
      columns.push_back(ids->text(0));
    }
    ids->reset();
    for (const auto& c : columns) {
      TD_CHECK(to.exec("SELECT setval(pg_get_serial_sequence('" + t.name + "', '" + c +
                       "'), coalesce(max(" + c + "), 0) + 1, false) FROM " + t.name));
    }
  }
  return {};
}

}  // namespace

core::Result<StoreCopyReport> copyStore(const std::string& from, const std::string& to,
                                        const CopyProgress& progress) {
  if (from.rfind("sqlite:", 0) != 0)
    return fail(ErrorCode::kInvalidArgument, "--from must be a SQLite store (sqlite:PATH)", "from");
  if (from == to) return fail(ErrorCode::kInvalidArgument, "--from and --to are the same", "to");
  // Opening each store once migrates it to this build's schema (and refuses a newer one).
  {
    auto source = openStore(from);
    if (!source) return fail(source.error());
    auto dest = openStore(to);
    if (!dest) return fail(dest.error());
  }
  TD_TRY(src, sqlite::SqliteConnection::open(sqlitePath(from), true));
  TD_TRY(dst, connect(to));
  TD_TRY(found, readTables(*src));
  TD_TRY(tables, dependencyOrder(std::move(found)));

  // An installation already living in the destination is never merged into: the tables that
  // only users and threats fill must be empty. What the migrations seeded is replaced by the
  // source's own rows.
  for (const char* table : {"orgs", "users", "threats"}) {
    TD_TRY(n, countRows(*dst, table));
    if (n > 0)
      return fail(ErrorCode::kConflict,
                  std::string("the destination already holds data (table ") + table +
                      " has rows); migrate into a new, empty database",
                  "to");
  }
  {
    sql::Transaction tx(*dst);
    TD_CHECK(tx.begin());
    for (auto it = tables.rbegin(); it != tables.rend(); ++it)
      TD_CHECK(dst->exec("DELETE FROM " + it->name));
    TD_CHECK(tx.commit());
  }

  StoreCopyReport report;
  report.verified = true;
  for (const auto& t : tables) {
    TableCopy copy;
    copy.table = t.name;
    TD_CHECK(copyTable(*src, *dst, t, progress, copy));
    report.rows += copy.copied_rows;
    if (copy.copied_rows != copy.source_rows) report.verified = false;
    report.tables.push_back(std::move(copy));
  }
  if (dst->backend() == sql::Backend::kPostgres) TD_CHECK(advanceIdentities(*dst, tables));
  return report;
}

}  // namespace td::store
