#!/usr/bin/env bash
# ctest entry for the browser tests: run.sh THREATDESK_BINARY. Needs web/dist (scripts/build-web)
# and Debian's Chromium (scripts/install-deps); exits 77 (skipped) with a message without them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export TD_BIN=${1:?usage: run.sh THREATDESK_BINARY}
export TD_CHROMIUM=${TD_CHROMIUM:-/usr/bin/chromium}
if [[ ! -x "$TD_CHROMIUM" ]]; then
  echo "SKIP: $TD_CHROMIUM not found (scripts/install-deps installs Debian's chromium)"
  exit 77
fi
if [[ ! -f "$here/../../node_modules/playwright-core/package.json" ]]; then
  echo "SKIP: web/node_modules is missing (run scripts/build-web)"
  exit 77
fi
# The server under test logs every request; ASan builds are slower, so allow for it in waits.
exec node --test --test-reporter=spec "$here/ui.test.mjs"
