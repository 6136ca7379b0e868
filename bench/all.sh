#!/usr/bin/env bash
# bench/all.sh — the whole performance report in one command: every setup side by side
# (with Redis bytes per incident), then the scale runs, as four bench/run.sh runs; one
# report (bench/out/all.md: each run's report in turn) and one chart (bench/out/all.svg:
# the first run's rows and the scale rows). README "Performance" shows its figures.
#
# Env (defaults in brackets): ROUNDS [3], DURATION [5] for every run;
#   MEMORY_PRELOAD ["1 100000"], REDIS_PRELOAD ["1 1000000"], MAPPINGS ["0 200"];
#   MEMORY_N [20000]. Everything else passes through to bench/run.sh.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
export ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-5}
MEMORY_PRELOAD=${MEMORY_PRELOAD:-"1 100000"}
REDIS_PRELOAD=${REDIS_PRELOAD:-"1 1000000"}
ALL_MAPPINGS=${MAPPINGS:-"0 200"}
ALL_MEMORY_N=${MEMORY_N:-20000}
unset MAPPINGS MEMORY_N PRELOAD
OUT=${OUT:-$ROOT/bench/out/all-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

# run NAME VAR=VALUE... : one bench/run.sh run into $OUT/NAME.
run() {
    local name=$1
    shift
    env "$@" OUT="$OUT/$name" bench/run.sh
    export NO_BUILD=1 # built once
}

run setups SETUPS="bare redis redis-ref ag-memory ag-redis am" \
    SCENARIOS="statuscake am1 am100" MEMORY_N="$ALL_MEMORY_N"
run memory-scale SETUPS="bare ag-memory" SCENARIOS=statuscake PRELOAD="$MEMORY_PRELOAD"
run redis-scale SETUPS="redis-ref ag-redis" SCENARIOS=statuscake PRELOAD="$REDIS_PRELOAD"
run sources SETUPS="bare ag-memory" SCENARIOS=statuscake MAPPINGS="$ALL_MAPPINGS"

{
    for name in setups memory-scale redis-scale sources; do
        echo "# $name"
        echo
        sed '1d' "$OUT/$name/report.md"
        echo
    done
} >"$OUT/all.md"
# The chart: the first run whole, and of the others only their scaled rows (their
# smallest variant repeats what the first run measured, in other rounds).
{
    cat "$OUT/setups/results.jsonl"
    grep -hv '"variant": *"preload=\(0\|1\),mappings=0"' \
        "$OUT/memory-scale/results.jsonl" "$OUT/redis-scale/results.jsonl" \
        "$OUT/sources/results.jsonl" || true
} >"$OUT/all.jsonl"
python3 bench/chart.py "$OUT/all.jsonl" "$OUT/all.svg" \
    "git $(git rev-parse --short HEAD 2>/dev/null || echo '?'), ${ROUNDS} rounds x ${DURATION}s, wrk -c64; scale rows from their own runs"
cp "$OUT/all.md" "$ROOT/bench/out/all.md"
cp "$OUT/all.svg" "$ROOT/bench/out/all.svg"
echo "report: $OUT/all.md, chart: $OUT/all.svg"
