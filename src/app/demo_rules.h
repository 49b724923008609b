// A few small made-up rules for the demo (`make run`), so that the Rules area shows custom
// rules, actions (threat and signal) and an entity rule. Nothing here comes from the corpus.
#pragma once

#include "core/error.h"
#include "store/store.h"

namespace td::app {

core::Status seedDemoRules(store::Store& store);

}  // namespace td::app
