#!/usr/bin/env bash
# `threatdesk serve --demo` as `make run` starts it: demo data seeded once, the admin's password
# printed once, login and the overview over real HTTP, a token from the CLI used against the
# running server, and SIGTERM ending it cleanly with nothing lost.
source "$(dirname "$0")/lib.sh"

PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
start_server() {
  "$TD_BIN" serve --listen "127.0.0.1:$PORT" --store "$STORE" --demo --threads 4 >"$WORK/out.log" 2>"$WORK/err.log" &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/err.log" >&2; return 1; }
    sleep 0.2
  done
  return 1
}
stop_server() {
  kill -TERM "$SERVER_PID"
  local rc=0
  wait "$SERVER_PID" || rc=$?
  SERVER_PID=
  return $rc
}

start_server || { fail "server did not start"; finish; }
ok
password=$(sed -n 's/.*with password \([^ ]*\) (shown once.*/\1/p' "$WORK/out.log")
expect_match "admin password printed" "$password" "^[A-Za-z0-9]{16,}$"
expect_match "threat count printed" "$(cat "$WORK/out.log")" "Demo data seeded: [0-9]{3} threats"

login=$(curl -sS -c "$WORK/cookies" -H 'Content-Type: application/json' \
  -d "{\"email\":\"admin@demo.local\",\"password\":\"$password\"}" "$BASE/api/v1/auth/login")
csrf=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])' <<<"$login")
expect_match "csrf token" "$csrf" "^[A-Za-z0-9_-]{16,}$"

overview=$(curl -sS -b "$WORK/cookies" "$BASE/api/v1/overview")
open_total=$(python3 -c 'import json,sys; o=json.load(sys.stdin); print(sum(o["open_by_severity"].values()))' <<<"$overview")
if [[ "$open_total" -gt 20 ]]; then ok; else fail "overview shows $open_total open threats"; fi
items=$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["threats"]["items"]))' <<<"$overview")
if [[ "$items" -gt 0 ]]; then ok; else fail "overview's first page is empty"; fi

status=$(curl -s -o /dev/null -w '%{http_code}' -b "$WORK/cookies" -X PATCH \
  -H 'Content-Type: application/json' -d '{"state":"In Progress"}' "$BASE/api/v1/threats/1")
expect_eq "PATCH without CSRF header refused" "$status" "403"

token=$("$TD_BIN" token create --store "$STORE" --project "Corporate IT" --scopes read,write)
created=$(curl -sS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"name":"Ransom note found on share","severity":"CRITICAL","score":95,"kind":"THREAT","entity":{"type":"host","value":"SRV-FILE02"},"host":"SRV-FILE02","tags":["T1486"],"evidence":{"path":"\\\\SRV-FILE02\\finance\\README.txt"}}' \
  "$BASE/api/v1/threats")
tid=$(python3 -c 'import json,sys; t=json.load(sys.stdin); assert t["source"]=="API", t; print(t["id"])' <<<"$created") || fail "create: $created"
expect_match "created id" "$tid" "^[0-9]+$"
bad=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"name":"x","severity":"URGENT"}' "$BASE/api/v1/threats")
expect_match "unknown severity is 422 with a JSON error naming the field" "$bad" '"field":"severity".* 422$'

stop_server && ok || fail "serve did not exit 0 on SIGTERM"
expect_match "clean stop logged" "$(cat "$WORK/err.log")" "stopped cleanly"

# A restart keeps everything and seeds nothing twice.
start_server || { fail "server did not restart"; finish; }
expect_match "no second seeding" "$(cat "$WORK/out.log")" "no demo data seeded"
got=$(curl -sS -H "Authorization: Bearer $token" "$BASE/api/v1/threats/$tid")
expect_match "threat survives the restart" "$got" "Ransom note found on share"
stop_server && ok || fail "second stop"

finish
