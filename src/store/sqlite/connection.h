// A thin, error-checked layer over one sqlite3 connection: prepared statements cached by their
// SQL text, typed binding and reading, transactions. Nothing here knows the ThreatDesk schema.
//
// Thread safety: a Connection (and its statements) is used by one thread at a time; the
// SqliteStore hands connections out under its own locks.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.h"

namespace td::store::sqlite {

using core::Result;
using core::Status;

// Maps the last error of `db` to our error model: busy/locked -> kUnavailable, constraint ->
// kConflict, everything else kInternal. `what` says what we were doing.
core::Error sqliteError(sqlite3* db, int rc, std::string_view what);

// One prepared statement. Binding indexes are 1-based like SQLite's; column indexes 0-based.
// Reset (and its bindings cleared) each time it is handed out by Connection::prepare.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  Statement& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Statement& bind(int i, bool v) { return bind(i, static_cast<std::int64_t>(v ? 1 : 0)); }
  Statement& bind(int i, std::string_view v) {
    // SQLITE_TRANSIENT: the caller's buffer need not outlive the step.
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Statement& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Statement& bindNull(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  template <typename T>
  Statement& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bindNull(i);
  }

  // One step: true when a row is ready, false when done.
  Result<bool> step();
  // Steps to the end (for statements without rows, or whose rows do not matter).
  Status run();

  std::int64_t i64(int col) const { return sqlite3_column_int64(stmt_, col); }
  int i32(int col) const { return sqlite3_column_int(stmt_, col); }
  bool isNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::optional<std::int64_t> optI64(int col) const {
    if (isNull(col)) return std::nullopt;
    return i64(col);
  }
  std::string text(int col) const;
  std::string_view textView(int col) const;

  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  sqlite3_stmt* raw() { return stmt_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Connection {
 public:
  // Opens (creating when missing) the database at `path` in WAL mode with a busy timeout.
  static Result<std::unique_ptr<Connection>> open(const std::string& path, bool read_only);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // The cached statement for `sql`, reset and ready to bind. The reference stays valid for the
  // connection's life; it must not be used by two callers at once (one step loop at a time).
  Result<Statement*> prepare(std::string_view sql);
  // Runs one or more statements without results (migrations, pragmas, BEGIN/COMMIT).
  Status exec(std::string_view sql);
  // Resets every cached statement so that none holds a read snapshot open (called before a
  // connection goes back to the pool and before COMMIT).
  void resetAll() {
    for (auto& [sql, stmt] : cache_) sqlite3_reset(stmt->raw());
  }
  std::int64_t lastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  sqlite3* raw() { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<std::string, std::unique_ptr<Statement>> cache_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back by the destructor unless committed.
class Transaction {
 public:
  explicit Transaction(Connection& c) : c_(c) {}
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction() {
    if (!open_) return;
    c_.resetAll();
    (void)c_.exec("ROLLBACK");
  }
  Status begin() {
    auto s = c_.exec("BEGIN IMMEDIATE");
    if (s) open_ = true;
    return s;
  }
  Status commit() {
    c_.resetAll();
    auto s = c_.exec("COMMIT");
    if (s) open_ = false;
    return s;
  }

 private:
  Connection& c_;
  bool open_ = false;
};

// A read transaction (BEGIN DEFERRED): a consistent snapshot for several reads.
class ReadTransaction {
 public:
  explicit ReadTransaction(Connection& c) : c_(c) {}
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;
  ~ReadTransaction() {
    if (!open_) return;
    c_.resetAll();
    (void)c_.exec("COMMIT");
  }
  Status begin() {
    auto s = c_.exec("BEGIN");
    if (s) open_ = true;
    return s;
  }

 private:
  Connection& c_;
  bool open_ = false;
};

}  // namespace td::store::sqlite

// Early returns for the store's backends: propagate the error of a Result (binding its value by
// reference otherwise), or of a Status.
#define TD_TRY(var, expr)                                          \
  auto var##_result = (expr);                                      \
  if (!var##_result) return ::td::core::fail(var##_result.error()); \
  auto& var = *var##_result
#define TD_CHECK(expr)                                                      \
  do {                                                                      \
    if (auto td_s_ = (expr); !td_s_) return ::td::core::fail(td_s_.error()); \
  } while (0)
