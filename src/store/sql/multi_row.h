// Multi-row statements: "<head> (…), (…), … <tail>" over many items, so that a large write is
// one statement (one round trip on PostgreSQL, one VM run with its cursors kept on SQLite) per
// chunk of items instead of one per item.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

#include "store/sql/connection.h"

namespace td::store::sql {

// Runs `head` + `group` repeated n times (comma separated) + `tail` over `count` items, n taken
// greedily from `sizes` (largest first, ending in 1): each size is one statement text, so the
// connection's statement cache holds sizes.size() entries at most. bind(st, first, item) binds
// one item from parameter `first` on (params_per_item each); onRow(st) sees every row the
// statement returns (RETURNING).
template <typename Bind, typename OnRow>
Status runMultiRow(Connection& c, std::string_view head, std::string_view group,
                   std::string_view tail, size_t count, int params_per_item,
                   std::initializer_list<size_t> sizes, Bind&& bind, OnRow&& onRow) {
  size_t done = 0;
  for (const size_t size : sizes) {
    if (done == count) break;
    if (count - done < size) continue;
    std::string sql(head);
    for (size_t i = 0; i < size; ++i) {
      if (i) sql += ", ";
      sql += group;
    }
    sql += tail;
    TD_TRY(st, c.prepare(sql));
    while (count - done >= size) {
      int param = 1;
      for (size_t i = 0; i < size; ++i, param += params_per_item) bind(*st, param, done + i);
      while (true) {
        TD_TRY(more, st->step());
        if (!more) break;
        onRow(*st);
      }
      st->reset();
      done += size;
    }
  }
  return {};
}

}  // namespace td::store::sql
