#include "store/sqlite/connection.h"

namespace td::store::sqlite {

using core::ErrorCode;
using core::fail;

namespace {
// Long enough to ride out a checkpoint or another process's write, short enough that a stuck
// writer surfaces as kUnavailable instead of hanging a request.
constexpr int kBusyTimeoutMs = 10000;
}  // namespace

core::Error sqliteError(sqlite3* db, int rc, std::string_view what) {
  const int primary = rc & 0xff;
  ErrorCode code = ErrorCode::kInternal;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) code = ErrorCode::kUnavailable;
  if (primary == SQLITE_CONSTRAINT) code = ErrorCode::kConflict;
  std::string msg(what);
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return core::Error{code, std::move(msg), {}};
}

Result<bool> SqliteStatement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  auto err = sqliteError(db_, rc, "sqlite step");
  sqlite3_reset(stmt_);
  return fail(std::move(err));
}

std::string_view SqliteStatement::textView(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (!p) return {};
  return {p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))};
}

std::string SqliteStatement::blob(int col) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
  if (!p) return {};
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

WalCheckpointer::~WalCheckpointer() {
  std::thread t;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    t = std::move(thread_);
  }
  wake_.notify_one();
  if (t.joinable()) t.join();
}

void WalCheckpointer::request() {
  {
    std::lock_guard lock(mu_);
    requested_ = true;
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  }
  wake_.notify_one();
}

void WalCheckpointer::run() {
  sqlite3* db = nullptr;
  // A read first: a connection opens its WAL (and knows the database is in WAL mode, without
  // which a checkpoint does nothing) when it first reads.
  if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) !=
          SQLITE_OK ||
      sqlite3_busy_timeout(db, kBusyTimeoutMs) != SQLITE_OK ||
      sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) !=
          SQLITE_OK) {
    // Without a connection of its own the writers' inline checkpoint (kWalInlinePages) remains.
    sqlite3_close(db);
    return;
  }
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [&] { return requested_ || stop_; });
    if (stop_) break;
    requested_ = false;
    lock.unlock();
    // Busy (another checkpoint runs) or partial (readers) is fine: the next request goes on.
    (void)sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    lock.lock();
  }
  lock.unlock();
  sqlite3_close(db);
}

namespace {
// SQLite's WAL hook, after each commit of the writer: replaces its automatic checkpoint.
int onWalCommit(void* arg, sqlite3* db, const char* name, int pages) {
  if (pages >= WalCheckpointer::kWalInlinePages)
    (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  else if (pages >= WalCheckpointer::kWalCheckpointPages)
    static_cast<WalCheckpointer*>(arg)->request();
  return SQLITE_OK;
}
}  // namespace

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::open(const std::string& path,
                                                                 bool read_only) {
  sqlite3* db = nullptr;
  const int flags =
      (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
      SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    auto err = sqliteError(db, rc, "cannot open " + path);
    sqlite3_close(db);
    return fail(std::move(err));
  }
  std::unique_ptr<SqliteConnection> conn(new SqliteConnection(db));
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  sqlite3_extended_result_codes(db, 1);
  // WAL: readers never block the writer nor the writer readers. synchronous=NORMAL under WAL
  // loses at most the last transactions on power loss, never consistency.
  // Memory-mapped reads spare a copy per page; the writer's larger page cache keeps the hot
  // parts of the B-trees that the sink's upserts hit at random.
  std::string pragmas =
      "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; PRAGMA mmap_size=1073741824;";
  pragmas += read_only ? "PRAGMA cache_size=-32768;" : "PRAGMA cache_size=-262144;";
  if (!read_only) pragmas += "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
  if (auto s = conn->exec(pragmas); !s) return fail(s.error());
  if (!read_only) {
    conn->checkpointer_ = std::make_unique<WalCheckpointer>(path);
    sqlite3_wal_hook(db, onWalCommit, conn->checkpointer_.get());
  }
  return conn;
}

SqliteConnection::~SqliteConnection() {
  cache_.clear();  // statements are finalised before the connection closes
  sqlite3_wal_hook(db_, nullptr, nullptr);
  checkpointer_.reset();  // its connection closes first: the last one to close checkpoints
  sqlite3_close(db_);
}

Result<sql::Statement*> SqliteConnection::prepare(std::string_view sql) {
  auto it = cache_.find(std::string(sql));
  if (it != cache_.end()) {
    it->second->reset();
    return it->second.get();
  }
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return fail(sqliteError(db_, rc, "sqlite prepare"));
  auto owned = std::make_unique<SqliteStatement>(db_, stmt);
  SqliteStatement* raw = owned.get();
  cache_.emplace(std::string(sql), std::move(owned));
  return raw;
}

Status SqliteConnection::exec(std::string_view sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    auto e = sqliteError(nullptr, rc, "sqlite exec");
    e.message = "sqlite exec: " + msg;
    return fail(std::move(e));
  }
  return {};
}

Result<std::int64_t> SqliteConnection::changeCounter() {
  TD_TRY(st, prepare("PRAGMA data_version"));
  TD_TRY(row, st->step());
  const std::int64_t v = row ? st->i64(0) : 0;
  st->reset();
  return v;
}

}  // namespace td::store::sqlite
