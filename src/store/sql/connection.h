// The SQL connection the stores are written against, with one implementation per database:
// store/sqlite/connection.h (SQLite) and store/postgres/connection.h (PostgreSQL, libpqxx).
// The stores write their SQL once, with `?`/`?N` placeholders, in the subset both databases
// understand; where the two differ they ask backend().
//
// Binding indexes are 1-based, column indexes 0-based. A statement handed out by prepare() is
// reset and keeps no bindings. Thread safety: a Connection (and its statements) is used by one
// thread at a time; the stores hand connections out under their own locks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/error.h"

namespace td::store::sql {

using core::Result;
using core::Status;

enum class Backend { kSqlite, kPostgres };

// What a bound value is. PostgreSQL needs it where the SQL does not say (`? IS NULL`); SQLite
// does not care.
enum class ParamType { kUnknown, kInt, kText, kReal, kBlob };

template <typename T>
constexpr ParamType paramTypeOf() {
  if constexpr (std::is_integral_v<T>) return ParamType::kInt;
  if constexpr (std::is_floating_point_v<T>) return ParamType::kReal;
  if constexpr (std::is_convertible_v<T, std::string_view>) return ParamType::kText;
  return ParamType::kUnknown;
}

class Statement {
 public:
  virtual ~Statement() = default;

  virtual Statement& bind(int i, std::int64_t v) = 0;
  virtual Statement& bind(int i, std::string_view v) = 0;
  virtual Statement& bind(int i, double v) = 0;
  virtual Statement& bindBlob(int i, std::string_view bytes) = 0;
  // A NULL of the given type (an empty optional<T> binds a NULL of T's type).
  virtual Statement& bindNull(int i, ParamType type) = 0;
  Statement& bindNull(int i) { return bindNull(i, ParamType::kUnknown); }
  Statement& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Statement& bind(int i, bool v) { return bind(i, static_cast<std::int64_t>(v ? 1 : 0)); }
  Statement& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Statement& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  template <typename T>
  Statement& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bindNull(i, paramTypeOf<T>());
  }

  // One step: true when a row is ready, false when done.
  virtual Result<bool> step() = 0;
  // Steps to the end (for statements without rows, or whose rows do not matter).
  Status run() {
    while (true) {
      auto r = step();
      if (!r) return core::fail(r.error());
      if (!*r) return {};
    }
  }

  virtual std::int64_t i64(int col) const = 0;
  virtual bool isNull(int col) const = 0;
  virtual double f64(int col) const = 0;
  // Valid until the next step or reset.
  virtual std::string_view textView(int col) const = 0;
  virtual std::string blob(int col) const = 0;
  int i32(int col) const { return static_cast<int>(i64(col)); }
  std::optional<std::int64_t> optI64(int col) const {
    if (isNull(col)) return std::nullopt;
    return i64(col);
  }
  std::string text(int col) const { return std::string(textView(col)); }

  virtual void reset() = 0;
};

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Backend backend() const = 0;

  // The cached statement for `sql`, reset and ready to bind. The pointer stays valid for the
  // connection's life; it must not be used by two callers at once (one step loop at a time).
  virtual Result<Statement*> prepare(std::string_view sql) = 0;
  // Runs one or more statements without parameters or results (BEGIN/COMMIT, pragmas).
  virtual Status exec(std::string_view sql) = 0;
  // A migration written in SQLite's DDL, in this database's (column types, identity keys).
  virtual std::string migrationSql(std::string_view sqlite_ddl) const = 0;
  // Appended to the SELECT that picks rows to claim (outbox, deliveries, due feeds), so that
  // two nodes claiming at once never pick the same row and neither waits for the other:
  // " FOR UPDATE SKIP LOCKED" on PostgreSQL; nothing on SQLite, whose one writer at a time
  // (BEGIN IMMEDIATE across processes) does the same.
  virtual std::string_view claimLock() const = 0;

  // A write transaction (SQLite: BEGIN IMMEDIATE, taking the write lock at once) and a read
  // transaction (one consistent snapshot for several reads).
  virtual Status beginWrite() = 0;
  virtual Status beginRead() = 0;
  virtual Status commit() = 0;
  virtual void rollback() = 0;
  virtual Status endRead() = 0;
  // Makes every cached statement let go of its read snapshot (before a connection goes back to
  // a pool).
  virtual void resetAll() = 0;

  // A number that moves when another connection (another process, another node) has committed
  // a write since the last call: SQLite's data_version; on PostgreSQL the commits other
  // sessions announced (every commit of a write transaction sends NOTIFY td_changes).
  virtual Result<std::int64_t> changeCounter() = 0;

  // The id the last INSERT into a table with an integer key produced on this connection.
  virtual std::int64_t lastInsertId() = 0;
  // Rows changed by the last INSERT, UPDATE or DELETE.
  virtual std::int64_t changes() const = 0;
};

// A write transaction, rolled back by the destructor unless committed.
class Transaction {
 public:
  explicit Transaction(Connection& c) : c_(c) {}
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction() {
    if (open_) c_.rollback();
  }
  Status begin() {
    auto s = c_.beginWrite();
    if (s) open_ = true;
    return s;
  }
  Status commit() {
    auto s = c_.commit();
    if (s) open_ = false;
    return s;
  }

 private:
  Connection& c_;
  bool open_ = false;
};

// A read transaction: a consistent snapshot for several reads, ended by the destructor.
class ReadTransaction {
 public:
  explicit ReadTransaction(Connection& c) : c_(c) {}
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;
  ~ReadTransaction() {
    if (open_) (void)c_.endRead();
  }
  Status begin() {
    auto s = c_.beginRead();
    if (s) open_ = true;
    return s;
  }

 private:
  Connection& c_;
  bool open_ = false;
};

}  // namespace td::store::sql

// Early returns for the stores: propagate the error of a Result (binding its value by
// reference otherwise), or of a Status.
#define TD_TRY(var, expr)                                          \
  auto var##_result = (expr);                                      \
  if (!var##_result) return ::td::core::fail(var##_result.error()); \
  auto& var = *var##_result
#define TD_CHECK(expr)                                                      \
  do {                                                                      \
    if (auto td_s_ = (expr); !td_s_) return ::td::core::fail(td_s_.error()); \
  } while (0)
