// The demo organisation `make run` shows a newcomer: tags, two projects, an admin user and a few
// hundred made-up but realistic threats over the last 30 days. Seeds only an empty store.
#pragma once

#include <string>

#include "core/error.h"
#include "store/store.h"

namespace td::app {

struct DemoSeeded {
  bool seeded = false;        // false: the store had data, nothing was touched
  std::string admin_email;
  std::string admin_password;  // generated; shown once
  int threats = 0;
};

core::Result<DemoSeeded> seedDemo(store::Store& store, core::TimeMs now);

}  // namespace td::app
