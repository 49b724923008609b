#!/usr/bin/env bash
# Intel on the store from end to end: `threatdesk intel import` (a bad line reported, the good
# ones kept; a malformed feed refused in one line with the indicators kept), a project's matching
# settings (`intel settings`), then `serve --demo`
# with the demo feed, an uploaded feed, an event ingested over HTTP raising an intel threat, and
# the indicator search.
source "$(dirname "$0")/lib.sh"

"$TD_BIN" org add --store "$STORE" --name Acme >/dev/null
printf 'ip,malware\n198.51.100.1,Emotet\n999.1.1.1,broken\nevil.example,QakBot\n' >"$WORK/c2.csv"
out=$("$TD_BIN" intel import --store "$STORE" --column ip "$WORK/c2.csv")
expect_match "import report" "$out" 'added 2, updated 0, expired 0, suppressed 0, rejected 1'
expect_match "rejection names the line" "$out" 'rejected .*999\.1\.1\.1'
expect_match "feed holds two" "$out" 'now holds 2 indicators'
printf '{"type":"bundle","objects":[' >"$WORK/c2.csv"
expect_cli_error "malformed feed refused in one line" intel import --store "$STORE" --format stix "$WORK/c2.csv"
printf 'ip\n198.51.100.1\n' >"$WORK/c2.csv"
again=$("$TD_BIN" intel import --store "$STORE" --format csv --json "$WORK/c2.csv")
expect_match "kept after the failure: the value is known" "$again" '"updated": 1'
same=$("$TD_BIN" intel import --store "$STORE" --format csv --json "$WORK/c2.csv")
expect_match "an unchanged refresh rewrites no row" "$same" '"deleted": 0,[[:space:]]*"inserted": 0,[[:space:]]*"unchanged": 1,[[:space:]]*"updated": 0'

# A project's matching settings from the command line: changed, kept, a bad entry refused in one line.
"$TD_BIN" project add --store "$STORE" --org Acme --name web >/dev/null
set_out=$("$TD_BIN" intel settings --store "$STORE" --project web --allow 10.0.0.0/8 --unsafe-ports 23 --suppression-minutes 60)
expect_match "settings saved" "$set_out" 'saved'
shown=$("$TD_BIN" intel settings --store "$STORE" --project web --json)
expect_match "allow-list kept" "$shown" '"10\.0\.0\.0/8"'
expect_match "period kept" "$shown" '"suppression_minutes": 60'
expect_cli_error "bad allow-list entry refused" intel settings --store "$STORE" --project web --allow 'not a value!'
expect_cli_error "port in two classes refused" intel settings --store "$STORE" --project web --ignore-ports 23

# The server with demo data (a fresh store).
STORE="sqlite:$WORK/demo.db"
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
"$TD_BIN" serve --listen "127.0.0.1:$PORT" --store "$STORE" --demo --threads 4 >"$WORK/out.log" 2>"$WORK/err.log" &
SERVER_PID=$!
for _ in $(seq 1 300); do
  curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/err.log" >&2; fail "server died"; finish; }
  sleep 0.2
done
password=$(sed -n 's/.*with password \([^ ]*\) (shown once.*/\1/p' "$WORK/out.log")
curl -sS -c "$WORK/cookies" -H 'Content-Type: application/json' \
  -d "{\"email\":\"admin@demo.local\",\"password\":\"$password\"}" "$BASE/api/v1/auth/login" >"$WORK/login.json"
csrf=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])' <"$WORK/login.json")
feeds=$(curl -sS -b "$WORK/cookies" "$BASE/api/v1/intel/feeds")
expect_match "demo feed listed" "$feeds" '"name":"Demo C2 and phishing indicators"'
expect_match "demo feed imported" "$feeds" '"indicator_count":7'
lookup=$(curl -sS -b "$WORK/cookies" "$BASE/api/v1/intel/indicators?value=203.0.113.5")
expect_match "an address in the demo CIDR matches it" "$lookup" '"value":"203.0.113.0/28"'

token=$("$TD_BIN" token create --store "$STORE" --project "Corporate IT" --scopes read,write,ingest)
ingest=$(curl -sS -w ' %{http_code}' -H "Authorization: Bearer $token" -H 'Content-Type: application/x-ndjson' \
  --data-binary $'{"host":{"name":"WS-7"},"destination":{"ip":"198.51.100.23","port":443}}\n' "$BASE/api/v1/ingest")
expect_match "event accepted" "$ingest" ' 20[02]$'
found=""
for _ in $(seq 1 50); do
  found=$(curl -sS -H "Authorization: Bearer $token" "$BASE/api/v1/threats?source=Threat%20Intelligence&limit=50")
  [[ "$found" == *'198.51.100.23'* && "$found" == *'WS-7'* ]] && break
  sleep 0.2
done
expect_match "the event raised an intel threat" "$found" 'ipv4:198\.51\.100\.23'

kill -TERM "$SERVER_PID"; wait "$SERVER_PID" && ok || fail "serve did not exit 0"
SERVER_PID=
finish
