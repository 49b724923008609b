#!/usr/bin/env bash
# The combined intel benchmark of issue 4 (docs/benchmarks.md "Intel"): 1,000,000 indicators over
# the corpus's events replicated to ~250 MB, through `threatdesk ingest --offline` with the intel
# matcher alone, the Sigma rules alone, and both; then the million imported into a fresh store, a
# one-line feed imported beside it (which reads the million's keys), and the million imported again
# (which writes only what changed: nothing). Run it on an otherwise quiet machine; it prints CPU
# and wall time and peak RSS per run (GNU time) and the command's own summary lines.
#
# Usage: bench/intel/combined.sh THREATDESK DATA_DIR [RULES_DIR]
#   DATA_DIR holds events.ndjson and indicators-1m.txt as intel_bench writes them
#   (build/<dir>/bench-data/intel after one run of intel_bench).
#   RULES_DIR defaults to $THREATDESK_CORPUS/sigma/rules/windows.
set -euo pipefail
TD=${1:?usage: $0 THREATDESK DATA_DIR [RULES_DIR]}
DATA=${2:?usage: $0 THREATDESK DATA_DIR [RULES_DIR]}
CORPUS=${THREATDESK_CORPUS:-$(cd "$(dirname "$0")/../../.." && pwd)/shared/corpus}
RULES=${3:-$CORPUS/sigma/rules/windows}
EVENTS=$DATA/events.ndjson
INTEL=$DATA/indicators-1m.txt
FMT="cpu %U+%S s, wall %e s, maxrss %M KB"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

run() {
  local name=$1; shift
  echo "== $name"
  echo "\$ $*"
  /usr/bin/time -f "$FMT" "$@" 2>"$T/err" >"$T/out" || { cat "$T/err"; return 1; }
  grep -E '^(intel:|events |detections |intel matches|rules:|cpu )' "$T/err" || true
  grep -E 'now holds' "$T/out" || true  # intel import: what the store wrote
}

echo "events: $(wc -c <"$EVENTS") bytes, $(wc -l <"$EVENTS") lines; indicators: $(wc -l <"$INTEL")"
run "file load of the million (intel check)" "$TD" intel check --max-items 0 "$INTEL"
run "intel matcher alone in ingest --offline" \
  "$TD" ingest --offline --intel "$INTEL" --out "$T/intel.ndjson" "$EVENTS"
echo "matches written: $(wc -l <"$T/intel.ndjson")"
run "Sigma rules alone in ingest --offline" \
  "$TD" ingest --offline --rules "$RULES" --out "$T/sigma.ndjson" "$EVENTS"
run "Sigma rules and intel together in ingest --offline" \
  "$TD" ingest --offline --rules "$RULES" --intel "$INTEL" --out "$T/both.ndjson" "$EVENTS"
echo "lines written: $(wc -l <"$T/both.ndjson")"

"$TD" org add --store "sqlite:$T/b.db" --name Bench >/dev/null
printf '192.0.2.1\n' >"$T/one.txt"
run "import of the million into a fresh store" \
  "$TD" intel import --store "sqlite:$T/b.db" --feed bench-1m --max-items 0 "$INTEL"
run "a one-line import beside the stored million (reads their keys)" \
  "$TD" intel import --store "sqlite:$T/b.db" --feed one --max-items 0 "$T/one.txt"
run "the million imported again" \
  "$TD" intel import --store "sqlite:$T/b.db" --feed bench-1m --max-items 0 "$INTEL"
