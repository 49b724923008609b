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

namespace td::store::postgres {

using core::Result;
using core::Status;

// `?` and `?N` placeholders (outside quoted literals and identifiers) become `$N`; a bare `?`
// takes the number after the highest one seen so far, as SQLite numbers them.
std::string translateSql(std::string_view sql);
// Migration DDL: INTEGER PRIMARY KEY [AUTOINCREMENT] becomes a BIGINT identity key, INTEGER
// BIGINT (SQLite integers are 64-bit), REAL DOUBLE PRECISION, BLOB BYTEA; WITHOUT ROWID goes.
std::string translateDdl(std::string_view sql);

class Connection;

// One prepared statement. Bound values travel as text and PostgreSQL types them from their
// context; where the context does not say (`? IS NULL`), the SQL casts: CAST(? AS BIGINT).
class Statement {
 public:
  Statement(Connection& conn, std::string name, int params)
      : conn_(conn), name_(std::move(name)), params_(static_cast<std::size_t>(params)) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, std::int64_t v) { return set(i, std::to_string(v)); }
  Statement& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Statement& bind(int i, bool v) { return bind(i, static_cast<std::int64_t>(v ? 1 : 0)); }
  Statement& bind(int i, std::string_view v) { return set(i, std::string(v)); }
  Statement& bind(int i, const std::string& v) { return set(i, v); }
  Statement& bind(int i, const char* v) { return set(i, std::string(v)); }
  Statement& bind(int i, double v);
  // Bytes for a BYTEA column (sent in PostgreSQL's hex form).
  Statement& bindBlob(int i, std::string_view bytes);
  Statement& bindNull(int i) {
    if (slot(i)) *slot(i) = std::nullopt;
    return *this;
  }
  template <typename T>
  Statement& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bindNull(i);
  }

  // The first step executes the statement; each step then moves to the next row. True when a
  // row is ready, false when done.
  Result<bool> step();
  // Executes (for statements without rows, or whose rows do not matter).
  Status run();

  std::int64_t i64(int col) const;
  int i32(int col) const { return static_cast<int>(i64(col)); }
  bool isNull(int col) const { return row().at(col).is_null(); }
  std::optional<std::int64_t> optI64(int col) const {
    if (isNull(col)) return std::nullopt;
    return i64(col);
  }
  double f64(int col) const;
  std::string text(int col) const { return std::string(textView(col)); }
  std::string_view textView(int col) const;
  // The bytes of a BYTEA column.
  std::string blob(int col) const;

  void reset();
  // Rows affected by the last execution (INSERT, UPDATE, DELETE).
  std::int64_t affected() const { return static_cast<std::int64_t>(result_.affected_rows()); }

 private:
  std::optional<std::string>* slot(int i) {
    if (i < 1 || static_cast<std::size_t>(i) > params_.size()) return nullptr;
    return &params_[static_cast<std::size_t>(i) - 1];
  }
  Statement& set(int i, std::string v) {
    if (auto* s = slot(i)) *s = std::move(v);
    return *this;
  }
  pqxx::row row() const { return result_[static_cast<pqxx::result::size_type>(row_ - 1)]; }

  Connection& conn_;
  std::string name_;
  std::vector<std::optional<std::string>> params_;
  pqxx::result result_;
  std::size_t row_ = 0;  // 1-based index of the current row; 0 before the first step
  bool executed_ = false;
};

class Connection {
 public:
  // Connects to `url` (postgresql://user[:password]@host[:port]/database?…, or a libpq
  // key=value string).
  static Result<std::unique_ptr<Connection>> open(const std::string& url);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // The cached statement for `sql` (SQLite placeholder style), reset and ready to bind.
  // libpqxx prepares on first execution, so SQL errors surface from the first step().
  Result<Statement*> prepare(std::string_view sql);
  // Runs one or more statements without parameters (migrations, BEGIN/COMMIT).
  Status exec(std::string_view sql);
  // Kept for the SQLite backend's shape: PostgreSQL statements hold no snapshot between steps.
  void resetAll() {}
  // The id the last INSERT into a table with an identity key produced in this session.
  Result<std::int64_t> lastInsertId();
  // Rows affected by the last statement run through prepare() or exec().
  std::int64_t changes() const { return changes_; }

 private:
  friend class Statement;
  explicit Connection(std::unique_ptr<pqxx::connection> conn);
  Result<pqxx::result> execPrepared(const std::string& name,
                                    const std::vector<std::optional<std::string>>& params);

  std::unique_ptr<pqxx::connection> conn_;
  // Autocommit mode: the stores say BEGIN and COMMIT themselves, as they do on SQLite.
  std::unique_ptr<pqxx::nontransaction> work_;
  std::unordered_map<std::string, std::unique_ptr<Statement>> cache_;
  std::int64_t changes_ = 0;
};

// BEGIN … COMMIT, rolled back by the destructor unless committed.
class Transaction {
 public:
  explicit Transaction(Connection& c) : c_(c) {}
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction() {
    if (open_) (void)c_.exec("ROLLBACK");
  }
  Status begin() {
    auto s = c_.exec("BEGIN");
    if (s) open_ = true;
    return s;
  }
  Status commit() {
    auto s = c_.exec("COMMIT");
    open_ = false;  // a failed COMMIT has ended the transaction too
    return s;
  }

 private:
  Connection& c_;
  bool open_ = false;
};

// Maps a libpqxx exception to our error model: unique/foreign-key violations -> kConflict,
// serialization failures, deadlocks and lost connections -> kUnavailable, else kInternal.
core::Error postgresError(const std::exception& e, std::string_view what);

}  // namespace td::store::postgres
