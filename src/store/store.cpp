#include "store/store.h"

#include <filesystem>
#include <system_error>

#include "store/sqlite/sqlite_store.h"

namespace td::store {

Result<std::unique_ptr<Store>> openStore(const std::string& url) {
  constexpr std::string_view kSqlite = "sqlite:";
  if (url.rfind(kSqlite, 0) == 0) {
    std::string path = url.substr(kSqlite.size());
    // "sqlite://path" is accepted too, as people write URLs.
    if (path.rfind("//", 0) == 0) path = path.substr(2);
    if (path.empty())
      return core::fail(core::ErrorCode::kInvalidArgument,
                        "the store URL needs a file: sqlite:PATH", "store");
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(parent, ec);
      if (ec)
        return core::fail(core::ErrorCode::kUnavailable,
                          "cannot create " + parent.string() + ": " + ec.message(), "store");
    }
    auto store = sqlite::SqliteStore::open(path);
    if (!store) return core::fail(store.error());
    return std::unique_ptr<Store>(std::move(*store));
  }
  if (url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0) {
    auto store = sqlite::SqliteStore::openPostgres(url);
    if (!store) return core::fail(store.error());
    return std::unique_ptr<Store>(std::move(*store));
  }
  return core::fail(core::ErrorCode::kInvalidArgument,
                    "unknown store URL '" + url + "' (expected sqlite:PATH or postgresql://…)",
                    "store");
}

}  // namespace td::store
