# Shared helpers of the shell tests: a temporary directory removed on exit, and checks that print
# what was expected when they fail.
set -euo pipefail
TD_BIN=${1:?usage: $0 PATH_TO_THREATDESK}
WORK=$(mktemp -d)
trap 'rc=$?; [[ -n "${SERVER_PID:-}" ]] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; exit $rc' EXIT
STORE="sqlite:$WORK/threatdesk.db"
failures=0
passes=0

ok() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# expect_eq NAME ACTUAL EXPECTED
expect_eq() { if [[ "$2" == "$3" ]]; then ok; else fail "$1: got '$2', expected '$3'"; fi; }
# expect_match NAME TEXT REGEX
expect_match() { if [[ "$2" =~ $3 ]]; then ok; else fail "$1: '$2' does not match /$3/"; fi; }

# expect_cli_error NAME ARGS...: the command exits non-zero with exactly one line on stderr.
expect_cli_error() {
  local name=$1; shift
  local err rc=0
  err=$("$TD_BIN" "$@" 2>&1 >/dev/null) || rc=$?
  if [[ $rc -eq 0 ]]; then fail "$name: exited 0"; return; fi
  local lines; lines=$(printf '%s\n' "$err" | wc -l)
  if [[ $lines -ne 1 ]]; then fail "$name: $lines lines on stderr: $err"; return; fi
  ok
}

finish() {
  echo "$passes passed, $failures failed"
  [[ $failures -eq 0 ]]
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
