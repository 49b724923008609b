// Moving an installation from one store to another (`threatdesk migrate --from sqlite:PATH --to
// postgresql://…`): every table, row for row with its ids, in an order that satisfies the
// foreign keys, then the counts compared. The destination is created and migrated to the same
// schema version first and must hold no rows yet, so that nothing is merged by accident.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"

namespace td::store {

struct TableCopy {
  std::string table;
  std::int64_t source_rows = 0;
  std::int64_t copied_rows = 0;  // counted in the destination after the copy
};

struct StoreCopyReport {
  std::vector<TableCopy> tables;
  std::int64_t rows = 0;
  bool verified = false;  // every table's counts agree
};

// Called after each batch of rows and at the end of each table.
using CopyProgress = std::function<void(const std::string& table, std::int64_t done,
                                        std::int64_t total)>;

// `from` must be a sqlite: store URL; `to` a postgresql:// (or another sqlite:) URL.
core::Result<StoreCopyReport> copyStore(const std::string& from, const std::string& to,
                                        const CopyProgress& progress = {});

}  // namespace td::store
