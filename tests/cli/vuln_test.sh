#!/usr/bin/env bash
# Vulnerability management on the store from end to end: assets, `advisories import --store`,
# `sbom upload` raising threats, an upgrade closing one as Remediated, a broken SBOM refused in
# one line with the inventory kept, `sbom scan --store --fail-on`; then `serve` importing
# advisories from --advisories-dir at start, with the demo assets listed over HTTP.
source "$(dirname "$0")/lib.sh"

"$TD_BIN" org add --store "$STORE" --name Acme >/dev/null
"$TD_BIN" project add --store "$STORE" --org Acme --name web >/dev/null
mkdir -p "$WORK/osv"
cat >"$WORK/osv/widget.json" <<'JSON'
{"id": "GHSA-test-wdgt-0001", "modified": "2024-01-01T00:00:00Z", "aliases": ["CVE-2099-0001"],
 "summary": "Remote code execution in widget (made up)",
 "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
 "affected": [{"package": {"ecosystem": "npm", "name": "widget"},
   "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "2.0.0"}]}]}]}
JSON
bom() {
  printf '{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[{"type":"library","name":"widget","version":"%s","purl":"pkg:npm/widget@%s"}]}' "$1" "$1"
}
bom 1.5.0 >"$WORK/old.json"
bom 2.0.0 >"$WORK/new.json"

out=$("$TD_BIN" asset add shop --project web --owner "web team" --criticality 4 --store "$STORE")
expect_match "asset added" "$out" 'asset [0-9]+ shop added to web'
out=$("$TD_BIN" advisories import "$WORK/osv" --store "$STORE")
expect_match "advisory stored" "$out" '1 advisories stored'
out=$("$TD_BIN" sbom upload "$WORK/old.json" --asset shop --project web --store "$STORE")
expect_match "upload kept" "$out" 'CycloneDX 1.5 kept as SBOM'
expect_match "threat raised" "$out" '1 open findings \(1 new, 0 gone\).*1 raised'
threats=$("$TD_BIN" export --project web --format csv --store "$STORE")
expect_match "threat named after the CVE" "$threats" 'CVE-2099-0001 in widget@1.5.0'

expect_cli_error "broken SBOM refused in one line" sbom upload "$WORK/osv/widget.json" --asset shop --project web --store "$STORE"
list=$("$TD_BIN" asset list --project web --format json --store "$STORE")
expect_match "inventory kept: one critical finding" "$list" '"CRITICAL": 1'

rc=0
"$TD_BIN" sbom scan "$WORK/old.json" --store "$STORE" --fail-on HIGH >/dev/null 2>&1 || rc=$?
expect_eq "sbom scan --store fails on HIGH" "$rc" 1

out=$("$TD_BIN" sbom upload "$WORK/new.json" --asset shop --project web --store "$STORE")
expect_match "upgrade closes the threat" "$out" '0 open findings \(0 new, 1 gone\).*1 closed as remediated'
closed=$("$TD_BIN" export --project web --format csv --state Closed --store "$STORE")
expect_match "closed threat listed" "$closed" 'CVE-2099-0001'

# serve: advisories from --advisories-dir at start; the demo's assets over HTTP.
STORE="sqlite:$WORK/demo.db"
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
"$TD_BIN" serve --listen "127.0.0.1:$PORT" --store "$STORE" --demo --threads 4 \
  --advisories-dir "$WORK/osv" >"$WORK/out.log" 2>"$WORK/err.log" &
SERVER_PID=$!
for _ in $(seq 1 300); do
  curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/err.log" >&2; fail "server died"; finish; }
  sleep 0.2
done
password=$(sed -n 's/.*with password \([^ ]*\) (shown once.*/\1/p' "$WORK/out.log")
curl -sS -c "$WORK/cookies" -H 'Content-Type: application/json' \
  -d "{\"email\":\"admin@demo.local\",\"password\":\"$password\"}" "$BASE/api/v1/auth/login" >/dev/null
assets=$(curl -sS -b "$WORK/cookies" "$BASE/api/v1/assets?project=Payments%20Platform")
expect_match "demo assets listed" "$assets" '"name":"payments-api"'
found=""
for _ in $(seq 1 50); do
  found=$(curl -sS -b "$WORK/cookies" "$BASE/api/v1/advisories?q=wdgt")
  [[ "$found" == *'"total":1'* ]] && break
  sleep 0.2
done
expect_match "scheduled import ran at start" "$found" '"total":1'
kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
finish
