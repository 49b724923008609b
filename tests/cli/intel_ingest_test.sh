#!/usr/bin/env bash
# `threatdesk ingest --offline --intel FILE…` from end to end, without a server: intel matches
# alone (one JSON object per match with the indicator's type, value and id in its feed, the field
# and the event), then together with Sigma rules (the Sigma lines keep their format, the summary
# table lists both), a bad line counted beside the good ones, and the errors of bad arguments.
source "$(dirname "$0")/lib.sh"

cat >"$WORK/bundle.json" <<'EOF'
{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[
 {"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
  "created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z","name":"C2 server",
  "pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--d81f86b9-975b-4c0b-875e-810c5ad45a4f",
  "created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z","name":"Phishing domain",
  "pattern":"[domain-name:value = 'evil.example']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}
]}
EOF
printf 'sha256\n%s\n' 2f7e4bcf6f8e4e6a8ac2d0f3e3c1b7c5d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4 >"$WORK/hashes.csv"

cat >"$WORK/events.ndjson" <<'EOF'
{"host":{"name":"WS-1"},"user":{"name":"alice"},"destination":{"ip":"198.51.100.7","port":443},"process":{"command_line":"curl https://198.51.100.7/"}}
{"host":{"name":"WS-2"},"destination":{"ip":"198.51.100.70","port":443}}
this is not json
{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WS-3","CommandLine":"whoami /all","QueryName":"cdn.evil.example"}
{"host":{"name":"WS-4"},"file":{"hash":{"sha256":"2F7E4BCF6F8E4E6A8AC2D0F3E3C1B7C5D9E8F7A6B5C4D3E2F1A0B9C8D7E6F5A4"}}}
EOF

# Intel alone.
"$TD_BIN" ingest --offline --intel "$WORK/bundle.json" --intel "$WORK/hashes.csv" \
  --out "$WORK/m.ndjson" "$WORK/events.ndjson" 2>"$WORK/err.txt" || fail "intel-only run failed: $(cat "$WORK/err.txt")"
expect_eq "three matches, one line each" "$(wc -l <"$WORK/m.ndjson")" 3
python3 - "$WORK/m.ndjson" <<'EOF' || fail "match objects"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {r["indicator"]["type"]: r for r in rows}
ip = by["ipv4"]
assert ip["indicator"]["value"] == "198.51.100.7", ip
assert ip["indicator"]["id"] == "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", ip
assert ip["field"] == "destination.ip", ip
assert ip["event"]["host"]["name"] == "WS-1", ip
assert ip["line"] == 1, ip
d = by["domain"]
assert d["indicator"]["value"] == "evil.example" and d["matched"] == "cdn.evil.example", d
assert d["line"] == 4 and d["field"] == "QueryName", d
assert by["sha256"]["event"]["host"]["name"] == "WS-4"
EOF
err=$(cat "$WORK/err.txt")
expect_match "feeds reported" "$err" 'intel: 3 indicators loaded'
expect_match "summary lists the indicator" "$err" 'Threat intelligence: ipv4:198\.51\.100\.7'
expect_match "summary counts the matches" "$err" 'intel matches 3 of 3 indicators'
expect_match "the bad line is reported" "$err" 'events 5 \(1 bad\)'
expect_match "by its number" "$err" 'bad line 3'

# With Sigma rules: both kinds of line in one output, the Sigma ones as before.
mkdir -p "$WORK/rules"
cat >"$WORK/rules/whoami.yml" <<'EOF'
title: Whoami Execution
id: 0d8ba4a4-5f7b-4c55-9a3e-36f1d1d7a0a1
status: test
level: medium
logsource:
  category: process_creation
  product: windows
detection:
  selection:
    CommandLine|contains: whoami
  condition: selection
EOF
"$TD_BIN" ingest --offline --rules "$WORK/rules" --intel "$WORK/bundle.json" \
  --out "$WORK/both.ndjson" "$WORK/events.ndjson" 2>"$WORK/err.txt" || fail "combined run failed: $(cat "$WORK/err.txt")"
expect_eq "two intel matches and one detection" "$(wc -l <"$WORK/both.ndjson")" 3
sigma=$(grep '"rule_id"' "$WORK/both.ndjson" || true)
expect_match "Sigma line unchanged" "$sigma" '^\{"rule_id":"0d8ba4a4-5f7b-4c55-9a3e-36f1d1d7a0a1","rule_title":"Whoami Execution","level":"medium","host":"WS-3"'
expect_eq "intel lines" "$(grep -c '"indicator"' "$WORK/both.ndjson")" 2
err=$(cat "$WORK/err.txt")
expect_match "table has the rule" "$err" 'Whoami Execution +medium +1'
expect_match "table has the indicator" "$err" 'Threat intelligence: domain:evil\.example'
expect_match "detections line" "$err" 'detections 1 from 1 of 1 rules'
expect_match "intel line" "$err" 'intel matches 2 of 2 indicators'

# Threads give the same matches.
"$TD_BIN" ingest --offline --quiet --threads 2 --intel "$WORK/bundle.json" --intel "$WORK/hashes.csv" \
  --out "$WORK/t.ndjson" "$WORK/events.ndjson" || fail "threaded run failed"
expect_eq "threaded matches" "$(wc -l <"$WORK/t.ndjson")" 3

# An allow-list keeps a value from matching.
printf '198.51.100.0/24\n' >"$WORK/allow.txt"
"$TD_BIN" ingest --offline --quiet --intel "$WORK/bundle.json" --intel-allow "$WORK/allow.txt" \
  --out "$WORK/a.ndjson" "$WORK/events.ndjson" || fail "allow-list run failed"
expect_eq "allowed address does not match" "$(grep -c 198.51.100.7 "$WORK/a.ndjson" || true)" 0

# Bad arguments: one line each.
expect_cli_error "neither rules nor intel" ingest --offline --out - "$WORK/events.ndjson"
expect_cli_error "missing feed" ingest --offline --intel "$WORK/nope.json" "$WORK/events.ndjson"
printf '{"type":"bundle","objects":[' >"$WORK/broken.json"
expect_cli_error "malformed feed" ingest --offline --intel "$WORK/broken.json" --intel-format stix "$WORK/events.ndjson"
expect_cli_error "intel without offline" ingest --intel "$WORK/bundle.json" "$WORK/events.ndjson"
printf 'not-an-entry!\n' >"$WORK/allow.txt"
expect_cli_error "bad allow-list entry" ingest --offline --intel "$WORK/bundle.json" --intel-allow "$WORK/allow.txt" "$WORK/events.ndjson"
finish
