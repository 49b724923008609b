// A thin, error-checked layer over one PostgreSQL connection (libpqxx), shaped like the SQLite
// backend's (store/sqlite/connection.h) so that the stores' SQL and row-reading code can run on
// either: prepared statements cached by their SQL text, typed binding by 1-based index, rows
// read by 0-based column, explicit transactions.
//
// The stores write their SQL once, in the subset both databases understand, with `?` or `?N`
// placeholders; translateSql() turns those into PostgreSQL's `$N`, and translateDdl() turns the
// SQLite column types of the migrations into PostgreSQL's (64-bit integers, identity keys).
//
// Thread safety: a Connection (and its statements) is used by one thread at a time.
#pragma once

#include <pqxx/pqxx>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "store/sql/connection.h"

namespace td::store::postgres {

using core::Result;
using core::Status;

// Scalar max(a, b) / min(a, b) become greatest / least (aggregates stay).
// `?` and `?N` placeholders (outside quoted literals and identifiers) become `$N`; a bare `?`
// takes the number after the highest one seen so far, as SQLite numbers them. With `types`
// (index N-1 for $N), each placeholder of a known type carries a cast (`$1::int8`), so that
// PostgreSQL need not guess the type from a context that does not say (`$1 IS NULL`).
// With `used`, the placeholders are also renumbered densely ($3 alone becomes $1) and `used`
// receives the original numbers in their new order: PostgreSQL refuses a parameter the text
// never mentions (it cannot type it), while SQLite's stores skip numbers freely.
std::string translateSql(std::string_view sql, const std::vector<sql::ParamType>& types = {},
                         std::vector<int>* used = nullptr);
// Migration DDL: INTEGER PRIMARY KEY [AUTOINCREMENT] becomes a BIGINT identity key, INTEGER
// BIGINT (SQLite integers are 64-bit), REAL DOUBLE PRECISION, BLOB BYTEA; WITHOUT ROWID goes.
std::string translateDdl(std::string_view sql);

class PgConnection;

// One prepared statement. Bound values travel as text and PostgreSQL types them from their
// context; where the context does not say (`? IS NULL`), the SQL casts: CAST(? AS BIGINT).
class PgStatement final : public sql::Statement {
 public:
  PgStatement(PgConnection& conn, std::string sql, int params)
      : conn_(conn),
        sql_(std::move(sql)),
        params_(static_cast<std::size_t>(params)),
        types_(static_cast<std::size_t>(params)) {}
  PgStatement(const PgStatement&) = delete;
  PgStatement& operator=(const PgStatement&) = delete;

  using sql::Statement::bind;
  PgStatement& bind(int i, std::int64_t v) override {
    return set(i, std::to_string(v), sql::ParamType::kInt);
  }
  PgStatement& bind(int i, std::string_view v) override {
    return set(i, std::string(v), sql::ParamType::kText);
  }
  PgStatement& bind(int i, double v) override;
  // Bytes for a BYTEA column (sent in PostgreSQL's hex form).
  PgStatement& bindBlob(int i, std::string_view bytes) override;
  PgStatement& bindNull(int i, sql::ParamType type) override {
    if (slot(i)) {
      *slot(i) = std::nullopt;
      types_[static_cast<std::size_t>(i) - 1] = type;
    }
    return *this;
  }

  // The first step executes the statement; each step then moves to the next row.
  Result<bool> step() override;

  std::int64_t i64(int col) const override;
  bool isNull(int col) const override { return row().at(col).is_null(); }
  double f64(int col) const override;
  std::string_view textView(int col) const override;
  // The bytes of a BYTEA column.
  std::string blob(int col) const override;

  void reset() override;
  // Rows affected by the last execution (INSERT, UPDATE, DELETE).
  std::int64_t affected() const { return static_cast<std::int64_t>(result_.affected_rows()); }

 private:
  std::optional<std::string>* slot(int i) {
    if (i < 1 || static_cast<std::size_t>(i) > params_.size()) return nullptr;
    return &params_[static_cast<std::size_t>(i) - 1];
  }
  PgStatement& set(int i, std::string v, sql::ParamType type) {
    if (auto* s = slot(i)) {
      *s = std::move(v);
      types_[static_cast<std::size_t>(i) - 1] = type;
    }
    return *this;
  }
  pqxx::row row() const { return result_[static_cast<pqxx::result::size_type>(row_ - 1)]; }

  PgConnection& conn_;
  std::string sql_;  // as the store wrote it
  std::vector<std::optional<std::string>> params_;
  std::vector<sql::ParamType> types_;
  pqxx::result result_;
  std::size_t row_ = 0;  // 1-based index of the current row; 0 before the first step
  bool executed_ = false;
};

class PgConnection final : public sql::Connection {
 public:
  // Connects to `url` (postgresql://user[:password]@host[:port]/database?…, or a libpq
  // key=value string).
  static Result<std::unique_ptr<PgConnection>> open(const std::string& url);
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  ~PgConnection() override;

  sql::Backend backend() const override { return sql::Backend::kPostgres; }
  // The cached statement for `sql` (SQLite placeholder style), reset and ready to bind.
  // libpqxx prepares on first execution, so SQL errors surface from the first step().
  Result<sql::Statement*> prepare(std::string_view sql) override;
  Status exec(std::string_view sql) override;
  std::string migrationSql(std::string_view sqlite_ddl) const override {
    return translateDdl(sqlite_ddl);
  }
  std::string_view claimLock() const override { return " FOR UPDATE SKIP LOCKED"; }
  Status beginWrite() override { return exec("BEGIN"); }
  // One snapshot for every read of the transaction, as SQLite's read transactions give.
  Status beginRead() override { return exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); }
  // Announces the commit to the other nodes' read models (see changeCounter) in the same round
  // trip; a notification is delivered only if the transaction commits.
  Status commit() override { return exec("NOTIFY td_changes; COMMIT"); }
  void rollback() override { (void)exec("ROLLBACK"); }
  Status endRead() override { return exec("COMMIT"); }
  // PostgreSQL statements hold no snapshot between steps (results are read whole).
  void resetAll() override {}
  Result<std::int64_t> changeCounter() override;
  // lastval(): the id the last INSERT into a table with an identity key drew in this session.
  std::int64_t lastInsertId() override;
  std::int64_t changes() const override { return changes_; }

 private:
  friend class PgStatement;
  explicit PgConnection(std::unique_ptr<pqxx::connection> conn);
  // Runs `sql` prepared for the parameters' types (one server-side statement per combination
  // of types the store has bound; in practice one).
  Result<pqxx::result> execPrepared(const std::string& sql,
                                    const std::vector<std::optional<std::string>>& params,
                                    const std::vector<sql::ParamType>& types);

  std::unique_ptr<pqxx::connection> conn_;
  // Autocommit mode: the stores say BEGIN and COMMIT themselves, as they do on SQLite.
  std::unique_ptr<pqxx::nontransaction> work_;
  std::unordered_map<std::string, std::unique_ptr<PgStatement>> cache_;
  struct Prepared {
    std::string name;        // server-side
    std::vector<int> used;   // the store's parameter numbers, in the server-side order
  };
  std::unordered_map<std::string, Prepared> prepared_;  // sql + types -> server-side statement
  class ChangeListener;
  std::unique_ptr<ChangeListener> listener_;  // LISTEN td_changes, from the first changeCounter()
  std::int64_t other_commits_ = 0;
  std::int64_t changes_ = 0;
};

// Maps a libpqxx exception to our error model: unique/foreign-key violations -> kConflict,
// serialization failures, deadlocks and lost connections -> kUnavailable, else kInternal.
core::Error postgresError(const std::exception& e, std::string_view what);

}  // namespace td::store::postgres
