// The SQLite implementation of the stores' SQL connection (store/sql/connection.h): one sqlite3
// connection, prepared statements cached by their SQL text. Nothing here knows the ThreatDesk
// schema.
//
// Thread safety: a Connection (and its statements) is used by one thread at a time; the
// SqliteStore hands connections out under its own locks.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "core/error.h"
#include "store/sql/connection.h"

namespace td::store::sqlite {

using core::Result;
using core::Status;
// The stores are written against the backend-neutral interface.
using Statement = sql::Statement;
using Connection = sql::Connection;
using Transaction = sql::Transaction;
using ReadTransaction = sql::ReadTransaction;

// Maps the last error of `db` to our error model: busy/locked -> kUnavailable, constraint ->
// kConflict, everything else kInternal. `what` says what we were doing.
core::Error sqliteError(sqlite3* db, int rc, std::string_view what);

// One prepared statement, reset (and its bindings cleared) each time Connection::prepare hands
// it out.
class SqliteStatement final : public sql::Statement {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }

  using sql::Statement::bind;
  SqliteStatement& bind(int i, std::int64_t v) override {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  SqliteStatement& bind(int i, std::string_view v) override {
    // SQLITE_TRANSIENT: the caller's buffer need not outlive the step.
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  SqliteStatement& bind(int i, double v) override {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  SqliteStatement& bindBlob(int i, std::string_view bytes) override {
    sqlite3_bind_blob64(stmt_, i, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
    return *this;
  }
  SqliteStatement& bindNull(int i, sql::ParamType) override {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }

  Result<bool> step() override;

  std::int64_t i64(int col) const override { return sqlite3_column_int64(stmt_, col); }
  bool isNull(int col) const override { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  double f64(int col) const override { return sqlite3_column_double(stmt_, col); }
  std::string_view textView(int col) const override;
  std::string blob(int col) const override;

  void reset() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB or SQLITE_NULL: the value's own
  // type (SQLite types values, not columns), for copying rows elsewhere.
  int columnType(int col) const { return sqlite3_column_type(stmt_, col); }
  sqlite3_stmt* raw() { return stmt_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// Checkpoints a database's WAL from a thread of its own with a connection of its own, so that
// the copying of pages into the database file and its fsync happen outside the write lock: a
// commit that fills the WAL past kWalCheckpointPages asks for a checkpoint and goes on (SQLite's
// automatic checkpoint would run it inside that commit, the write lock held, stalling every
// writer behind one fsync). PASSIVE checkpoints never wait for readers or writers. Should the WAL
// still grow past kWalInlinePages (readers pinning old frames, a writer outrunning the thread),
// the committing writer checkpoints itself, as SQLite's own would.
//
// Thread safety: request() from the writer's thread (SQLite's WAL hook), the rest internal.
class WalCheckpointer {
 public:
  static constexpr int kWalCheckpointPages = 1000;  // SQLite's default automatic checkpoint
  static constexpr int kWalInlinePages = 16 * kWalCheckpointPages;
  explicit WalCheckpointer(std::string path) : path_(std::move(path)) {}
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;
  ~WalCheckpointer();
  // Wakes the checkpoint thread (started on the first request).
  void request();

 private:
  void run();
  const std::string path_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool requested_ = false;  // mu_
  bool stop_ = false;       // mu_
  std::thread thread_;      // mu_ (started once)
};

class SqliteConnection final : public sql::Connection {
 public:
  // Opens (creating when missing) the database at `path` in WAL mode with a busy timeout. A
  // writable connection checkpoints the WAL in the background (WalCheckpointer).
  static Result<std::unique_ptr<SqliteConnection>> open(const std::string& path, bool read_only);
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;
  ~SqliteConnection() override;

  sql::Backend backend() const override { return sql::Backend::kSqlite; }
  Result<sql::Statement*> prepare(std::string_view sql) override;
  Status exec(std::string_view sql) override;
  std::string migrationSql(std::string_view sqlite_ddl) const override {
    return std::string(sqlite_ddl);
  }
  std::string_view claimLock() const override { return {}; }
  // BEGIN IMMEDIATE: the write lock is taken at once, so a transaction never fails half-way
  // because another connection wrote first.
  Status beginWrite() override { return exec("BEGIN IMMEDIATE"); }
  Status beginRead() override { return exec("BEGIN"); }
  // Statements are reset first so that none holds the snapshot open.
  Status commit() override {
    resetAll();
    return exec("COMMIT");
  }
  Status endRead() override { return commit(); }
  void rollback() override {
    resetAll();
    (void)exec("ROLLBACK");
  }
  void resetAll() override {
    for (auto& [sql, stmt] : cache_) sqlite3_reset(stmt->raw());
  }
  Result<std::int64_t> changeCounter() override;
  std::int64_t lastInsertId() override { return sqlite3_last_insert_rowid(db_); }
  std::int64_t changes() const override { return sqlite3_changes(db_); }
  sqlite3* raw() { return db_; }

 private:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<std::string, std::unique_ptr<SqliteStatement>> cache_;
  std::unique_ptr<WalCheckpointer> checkpointer_;  // writable connections
};

}  // namespace td::store::sqlite
