// The SQLite connection: a writable connection checkpoints its WAL from a thread of its own, not
// inside the commit that filled it (the write lock held).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "store/sqlite/connection.h"

namespace td::store::sqlite {
namespace {

namespace fs = std::filesystem;

TEST(SqliteConnectionTest, CheckpointsTheWalInTheBackground) {
  const fs::path dir = fs::temp_directory_path() / ("td-sqlite-conn-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string db = (dir / "t.db").string();
  {
    auto c = SqliteConnection::open(db, false);
    ASSERT_TRUE(c) << c.error().message;
    auto& conn = **c;
    // SQLite's own automatic checkpoint is off (the connection's WAL hook replaces it).
    auto pragma = conn.prepare("PRAGMA wal_autocheckpoint");
    ASSERT_TRUE(pragma);
    ASSERT_TRUE(*(*pragma)->step());
    EXPECT_EQ((*pragma)->i64(0), 0);
    (*pragma)->reset();

    ASSERT_TRUE(conn.exec("CREATE TABLE t (x BLOB)"));
    const auto size_before = fs::file_size(db);
    // One commit of ~1,500 pages: past the checkpoint threshold, far below the inline one.
    ASSERT_TRUE(conn.beginWrite());
    auto ins = conn.prepare("INSERT INTO t (x) VALUES (?)");
    ASSERT_TRUE(ins);
    const std::string page(4000, 'x');
    for (int i = 0; i < 1500; ++i) {
      (*ins)->reset();
      (*ins)->bindBlob(1, page);
      ASSERT_TRUE((*ins)->run());
    }
    ASSERT_TRUE(conn.commit());
    // Only a checkpoint writes the pages into the database file; the writer did not run one, so
    // the checkpoint thread does, while the writer goes on.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (fs::file_size(db) < size_before + 1400 * 4096 &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_GE(fs::file_size(db), size_before + 1400 * 4096);
    auto count = conn.prepare("SELECT count(*) FROM t");
    ASSERT_TRUE(count);
    ASSERT_TRUE(*(*count)->step());
    EXPECT_EQ((*count)->i64(0), 1500);
    (*count)->reset();
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace td::store::sqlite
