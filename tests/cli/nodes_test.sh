#!/usr/bin/env bash
# Three `threatdesk serve` nodes on one PostgreSQL database (issue 9): a burst of events (the same
# hosts sent to every node at once, so that the same detection is raised on several nodes at the
# same moment) and of API actions (the same threats created on every node, notes and state changes)
# goes to all three; one node is killed with SIGKILL in the middle; the other two finish. Then:
# each de-duplication key has exactly one open threat, every outbox event was fanned out into
# exactly one delivery per response, every delivery arrived (the receiver saw its key), and any
# repeated arrival is the same delivery again (same Idempotency-Key, same body).
#
# Usage: nodes_test.sh THREATDESK [URL_FILE]; URL_FILE (default $TD_TEST_PG_URL_FILE) holds the URL
# of a PostgreSQL server where the test may create a database (ctest: the fixture `pg`).
source "$(dirname "$0")/lib.sh"
URL_FILE=${2:-${TD_TEST_PG_URL_FILE:-}}
[[ -n "$URL_FILE" && -r "$URL_FILE" ]] || { echo "FAIL: no PostgreSQL URL file (fixture pg)" >&2; exit 1; }
PG_URL=$(cat "$URL_FILE")
RECEIVER=$(dirname "$0")/../../src/respond/tests/webhook_receiver.py

DB="td_nodes_$$_$RANDOM"
psql "$PG_URL" -qXc "CREATE DATABASE $DB" >/dev/null
STORE="${PG_URL%/*}/$DB"
NODE_PIDS=()
RECEIVER_PID=
cleanup() {
  local rc=$?
  for p in "${NODE_PIDS[@]}" $RECEIVER_PID; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ $rc -ne 0 && -d "$WORK" ]]; then
    for f in "$WORK"/node*.err; do [[ -f "$f" ]] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
  fi
  [[ -n "${TD_KEEP_DB:-}" ]] && echo "kept database $STORE" >&2 || psql "$PG_URL" -qXc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
sql() { psql "$STORE" -qXAt -c "$1"; }

# The receiver: every request one JSON line (headers, body) in $WORK/hooks.ndjson.
python3 "$RECEIVER" "$WORK/hooks.ndjson" >"$WORK/receiver.out" 2>&1 &
RECEIVER_PID=$!
for _ in $(seq 1 100); do grep -q '^PORT ' "$WORK/receiver.out" 2>/dev/null && break; sleep 0.05; done
HOOK_PORT=$(sed -n 's/^PORT //p' "$WORK/receiver.out")
[[ -n "$HOOK_PORT" ]] || { fail "webhook receiver did not start"; finish; }

# Tenant, token, a custom Sigma rule and a webhook response for every threat event.
"$TD_BIN" org add --store "$STORE" --name Acme >/dev/null
"$TD_BIN" project add --store "$STORE" --org Acme --name SOC >/dev/null
token=$("$TD_BIN" token create --store "$STORE" --project SOC --scopes ingest,read,write)
cat >"$WORK/rule.yml" <<'YAML'
title: Encoded PowerShell (nodes e2e)
id: e2e00000-0000-4000-8000-0000000000e9
status: test
level: high
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\powershell.exe'
    CommandLine|contains: '-enc'
  condition: selection
YAML
"$TD_BIN" rules add --store "$STORE" "$WORK/rule.yml" >/dev/null
"$TD_BIN" response add --store "$STORE" --org Acme --json "{\"name\":\"hook\",\"type\":\"webhook\",
  \"events\":[\"threat.created\",\"threat.noted\",\"threat.state_changed\"],
  \"webhook\":{\"url\":\"http://127.0.0.1:$HOOK_PORT/hook\",\"backoff_ms\":100,\"max_attempts\":10}}" >/dev/null

# Three nodes. A short claim lease, so that what the killed node had claimed is taken over within
# the test (the default is a minute or two).
BASES=()
for n in 1 2 3; do
  port=$(free_port)
  "$TD_BIN" serve --store "$STORE" --listen "127.0.0.1:$port" --threads 8 --claim-lease 3 \
    >"$WORK/node$n.out" 2>"$WORK/node$n.err" &
  NODE_PIDS+=($!)
  BASES+=("http://127.0.0.1:$port")
done
for n in 0 1 2; do
  for _ in $(seq 1 300); do
    curl -fsS "${BASES[$n]}/healthz" >/dev/null 2>&1 && break
    kill -0 "${NODE_PIDS[$n]}" 2>/dev/null || { fail "node $((n + 1)) exited"; finish; }
    sleep 0.1
  done
done
auth=(-H "Authorization: Bearer $token")

# Events: 40 hosts, 15 hits each, in 20 chunks of 2 hosts. Every node gets every chunk (each in its
# own order), one `threatdesk ingest` per chunk, so the same detection is raised on all three at
# about the same moment and the ingest goes on for a while.
HOSTS=40 CHUNKS=20
python3 - "$WORK" "$HOSTS" "$CHUNKS" <<'PY'
import json, random, sys
work, hosts, chunks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
per = hosts // chunks
for n in (1, 2, 3):
    for c in range(chunks):
        lines = []
        for h in range(c * per, (c + 1) * per):
            for i in range(15):
                lines.append(json.dumps({"Channel": "Security", "EventID": 4688, "Computer": f"NODE-WS-{h:03d}",
                                         "Image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                                         "CommandLine": f"powershell -enc SQBFAFgA{i}"}))
        random.Random(n * 100 + c).shuffle(lines)
        open(f"{work}/events{n}.{c}.ndjson", "w").write("\n".join(lines) + "\n")
PY
ingest_loop() {  # NODE: sends the chunks one after another; progress in $WORK/progress.NODE
  local n=$1 c rc=0
  for c in $(seq 0 $((CHUNKS - 1))); do
    "$TD_BIN" ingest --url "${BASES[$n]}" --token "$token" "$WORK/events$((n + 1)).$c.ndjson" \
      >/dev/null 2>>"$WORK/ingest$n.log" || { rc=1; break; }
    echo "$c" >>"$WORK/progress.$n"
  done
  return $rc
}

# API threats: 12 keys (user svc-K), each created on every node at once, four rounds (the upsert
# folds them into one threat per key).
api_create() {  # NODE KEY ROUND
  curl -sS -o "$WORK/created.$1.$2.$3" -w '%{http_code}\n' "${auth[@]}" -H 'Content-Type: application/json' \
    -d "{\"name\":\"Lateral movement (nodes e2e)\",\"severity\":\"HIGH\",\"entity\":{\"type\":\"user\",\"value\":\"svc-$2\"}}" \
    "${BASES[$1]}/api/v1/threats" >>"$WORK/codes.$1" 2>/dev/null || echo "000" >>"$WORK/codes.$1"
}
api_round() {  # ROUND
  local k n
  for k in $(seq 1 12); do for n in 0 1 2; do api_create "$n" "$k" "$1" & done; done
  wait_helpers
}
# Waits for the background helpers (curl, ingest loops), not the nodes or the receiver.
wait_helpers() {
  local p
  for p in $(jobs -p); do
    [[ " ${NODE_PIDS[*]} $RECEIVER_PID ${INGEST_PIDS[*]:-} ${KILLER_PID:-} " == *" $p "* ]] || wait "$p" 2>/dev/null || true
  done
}
# A note (POST .../notes) or a state change (PATCH) on threat ID through node N; successes and
# failures are counted per node.
act() {  # NODE KIND ID
  local args=(-d '{"text":"looked at it"}' "${BASES[$1]}/api/v1/threats/$3/notes")
  [[ $2 == state ]] && args=(-X PATCH -d '{"state":"In Progress"}' "${BASES[$1]}/api/v1/threats/$3")
  if curl -fsS -o /dev/null --max-time 20 "${auth[@]}" -H 'Content-Type: application/json' "${args[@]}" 2>/dev/null; then
    echo "$2 $3" >>"$WORK/acted.$1"
  else
    echo "$2 $3" >>"$WORK/failed.$1"
  fi
}
api_ids() {  # the threat id each key's answers name (all answers of one key must name one)
  local k
  for k in $(seq 1 12); do
    cat "$WORK"/created.*.$k.* 2>/dev/null | python3 -c 'import json,sys
ids=set()
for line in sys.stdin.read().replace("}{", "}\n{").splitlines():
    try: ids.add(json.loads(line)["id"])
    except Exception: pass
print(" ".join(map(str, sorted(ids))) or "none")'
  done
}

INGEST_PIDS=()
for n in 0 1 2; do ingest_loop "$n" & INGEST_PIDS+=($!); done
# Node 2 dies in the middle of it all: once it has taken 8 of its 20 chunks.
(
  for _ in $(seq 1 600); do [[ $(cat "$WORK/progress.1" 2>/dev/null | wc -l) -ge 8 ]] && break; sleep 0.02; done
  kill -9 "${NODE_PIDS[1]}"
  echo "node 2 killed after $(cat "$WORK/progress.1" 2>/dev/null | wc -l) of $CHUNKS chunks, $(cat "$WORK"/codes.* 2>/dev/null | wc -l) API creates" >"$WORK/killed"
) &
KILLER_PID=$!
api_round 1
api_round 2
# Notes on every API threat, through all three nodes, while the ingest goes on.
mapfile -t ids < <(api_ids)
for i in "${!ids[@]}"; do [[ "${ids[$i]}" =~ ^[0-9]+$ ]] && act $((i % 3)) note "${ids[$i]}" & done
wait "$KILLER_PID"
wait "${NODE_PIDS[1]}" 2>/dev/null || true
cat "$WORK/killed"
curl -fsS -o /dev/null --max-time 2 "${BASES[1]}/healthz" 2>/dev/null && fail "killed node still answers" || ok
# The burst goes on against all three (node 2's share now fails at the client): two more rounds of
# creates, and state changes through the survivors.
api_round 3
api_round 4
mapfile -t ids < <(api_ids)
for i in "${!ids[@]}"; do [[ "${ids[$i]}" =~ ^[0-9]+$ ]] && act $((i % 2 == 0 ? 0 : 2)) state "${ids[$i]}" & done
wait_helpers
wait "${INGEST_PIDS[0]}" && ok || fail "ingest to node 1: $(cat "$WORK/ingest0.log")"
wait "${INGEST_PIDS[2]}" && ok || fail "ingest to node 3: $(cat "$WORK/ingest2.log")"
wait "${INGEST_PIDS[1]}" 2>/dev/null && fail "ingest to node 2 finished though the node was killed" || ok
INGEST_PIDS=()

# Every request a surviving node answered succeeded, and all of one key's answers name one threat.
for n in 0 2; do
  expect_eq "API creates on node $((n + 1)) all succeeded" "$(grep -vc '^20[01]$' "$WORK/codes.$n" || true)" "0"
  expect_eq "actions on node $((n + 1)) that failed" "$(cat "$WORK/failed.$n" 2>/dev/null || true)" ""
done
mapfile -t ids < <(api_ids)
for i in "${!ids[@]}"; do expect_match "key svc-$((i + 1)): one threat id across nodes" "${ids[$i]}" '^[0-9]+$'; done

# Wait until every host has its threat and the outbox and deliveries are settled: nothing pending,
# nothing claimed (the dead node's claims run out after the 3 s lease and the others take them).
settled=0
for _ in $(seq 1 200); do
  hosts=$(sql "SELECT count(DISTINCT host) FROM threats WHERE host LIKE 'NODE-WS-%'")
  pending=$(sql "SELECT (SELECT count(*) FROM outbox WHERE delivered_at IS NULL) + (SELECT count(*) FROM deliveries WHERE status = 0)")
  least=$(sql "SELECT coalesce(min(count), 0) FROM threats WHERE host LIKE 'NODE-WS-%'")
  if [[ "$hosts" == "$HOSTS" && "$pending" == 0 && "$least" -ge 30 ]]; then settled=1; break; fi
  sleep 0.2
done
expect_eq "settled (hosts with a threat / outbox and deliveries pending / fewest hits)" \
  "$settled:$hosts:$pending" "1:$HOSTS:0"

# No threat duplicated: one open threat per de-duplication key; as many as hosts + API keys.
expect_eq "keys with more than one open threat" \
  "$(sql "SELECT count(*) FROM (SELECT dedup_key FROM threats WHERE closed = 0 GROUP BY project_id, dedup_key HAVING count(*) > 1) d")" "0"
expect_eq "open threats" "$(sql "SELECT count(*) FROM threats WHERE closed = 0")" "$((HOSTS + 12))"
expect_eq "one open threat per host" \
  "$(sql "SELECT count(*) FROM (SELECT host FROM threats WHERE host LIKE 'NODE-WS-%' GROUP BY host HAVING count(*) <> 1) d")" "0"
# Every detection the surviving nodes accepted was counted on its host's threat (15 per node);
# the killed node's unflushed events may be missing, never extra.
counts=$(sql "SELECT min(count), max(count) FROM threats WHERE host LIKE 'NODE-WS-%'")
expect_match "hits folded into the hosts' threats (min|max)" "$counts" '^(3[0-9]|4[0-5])\|(3[0-9]|4[0-5])$'

# No delivery lost or made twice: every outbox event is fanned out into exactly one webhook delivery
# of the response, each delivered; exactly one threat.created event per threat. (The fan-out also
# records a `fanout` row per event, skipped: its marker, not something sent.)
expect_eq "threats without exactly one threat.created event" \
  "$(sql "SELECT count(*) FROM threats t WHERE (SELECT count(*) FROM outbox o WHERE o.threat_id = t.id AND o.kind = 'threat.created') <> 1")" "0"
expect_eq "outbox events without exactly one delivery" \
  "$(sql "SELECT count(*) FROM outbox o WHERE o.kind IN ('threat.created','threat.noted','threat.state_changed') AND (SELECT count(*) FROM deliveries d WHERE d.outbox_id = o.id AND d.kind = 'webhook') <> 1")" "0"
expect_eq "deliveries not delivered" "$(sql "SELECT count(*) FROM deliveries WHERE kind = 'webhook' AND status <> 1")" "0"
# Every note a node acknowledged (node 2's before it died included) is there, with its event; a
# note node 2 committed but could not acknowledge may be there too. Every state change is.
acked_notes=$(cat "$WORK"/acted.* 2>/dev/null | grep -c '^note ' || true)
noted=$(sql "SELECT count(*) FROM outbox WHERE kind = 'threat.noted'")
if (( noted >= acked_notes && noted <= 12 && acked_notes >= 8 )); then ok; else
  fail "notes: $noted events for $acked_notes acknowledged of 12"; fi
expect_eq "notes stored = note events" "$(sql "SELECT count(*) FROM notes")" "$noted"
expect_eq "state change events" "$(sql "SELECT count(*) FROM outbox WHERE kind = 'threat.state_changed'")" "12"
sql "SELECT idempotency_key FROM deliveries WHERE kind = 'webhook' ORDER BY 1" >"$WORK/keys.db"
python3 - "$WORK/hooks.ndjson" "$WORK/keys.db" >"$WORK/compare" <<'PY'
import json, sys
seen = {}
repeats = differing = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    k = r["headers"].get("idempotency-key", "")
    if k in seen:
        repeats += 1
        differing += seen[k] != r["body"]
    seen[k] = r["body"]
owed = set(open(sys.argv[2]).read().split())
print(f"missing={len(owed - set(seen))} unknown={len(set(seen) - owed)} differing={differing} repeats={repeats} owed={len(owed)}")
PY
compare=$(cat "$WORK/compare")
expect_match "every delivery arrived, repeats are the same delivery" "$compare" '^missing=0 unknown=0 differing=0 '
echo "deliveries: $compare"
owed=$(sql "SELECT count(*) FROM deliveries WHERE kind = 'webhook'")
expect_eq "deliveries owed = threats + notes + state changes" "$owed" "$((HOSTS + 12 + noted + 12))"

# The two survivors stop cleanly.
for n in 0 2; do
  kill -TERM "${NODE_PIDS[$n]}"
  wait "${NODE_PIDS[$n]}" && ok || fail "node $((n + 1)) did not stop cleanly: $(tail -n 5 "$WORK/node$((n + 1)).err")"
done
NODE_PIDS=()
finish
