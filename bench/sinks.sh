#!/usr/bin/env bash
# bench/sinks.sh — webhooks at full rate with and without a slow notification sink.
# Run from anywhere: it cds to the repo root. See bench/README.md ("Notifications under load").
#
# alertgate on the Redis store is driven with wrk (StatusCake cycle: every request opens or
# resolves an incident, so every request is one event) in two setups, alternating round by
# round in the same run:
#   no-sink    no `sinks:` in the config
#   with-sink  one `webhook` sink pointing at bench/slow_sink.py, which answers every POST
#              after SINK_DELAY_MS
# After each with-sink run the gateway keeps running and GET /v1/sinks is polled until the
# sink's lag and pending are both 0 (the drain time), or DRAIN_MAX seconds have passed (then
# the remaining backlog and the delivery rate seen while draining are reported, and the
# time to drain is projected from them).
#
# Env (defaults in brackets):
#   ROUNDS [3]  DURATION [10] seconds  WARMUP [2] seconds  THREADS [1]  CONNECTIONS [64]
#   NAMES [10000]         distinct StatusCake names per run
#   SINK_DELAY_MS [50]    the sink's answer delay
#   DRAIN_MAX [120]       seconds to wait for the backlog to reach 0 (0: no bound)
#   PIN [1 if >=2 cores]  server on CPU 0 with one tokio worker; wrk, redis-server and the
#                         sink on the other CPUs (as bench/run.sh)
#   NO_BUILD=1            skip cargo build --release --bin alertgate
#   OUT                   output dir [bench/out/sinks-<timestamp>]; bench/out/sinks-latest.md
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
# pin_cpus, free_port, wait_http, start_redis
# shellcheck source=bench/lib.sh
source bench/lib.sh

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-64}
NAMES=${NAMES:-10000}
SINK_DELAY_MS=${SINK_DELAY_MS:-50}
DRAIN_MAX=${DRAIN_MAX:-120}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
pin_cpus
OUT=${OUT:-$ROOT/bench/out/sinks-$(date +%Y%m%d-%H%M%S)}

export STATUSCAKE_TOKEN=${STATUSCAKE_TOKEN:-bench-statuscake-token}
export STATUSPAGE_TOKEN=${STATUSPAGE_TOKEN:-bench-statuspage-token}
export ALERTGATE_ADMIN_TOKEN=${ALERTGATE_ADMIN_TOKEN:-bench-admin-token}

log() { printf '[sinks %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

mkdir -p "$OUT/raw"
WORK=$(mktemp -d /tmp/alertgate-sinks.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- tools and binaries
PYTHON=python3
ensure_tools() {
    local need=()
    command -v wrk >/dev/null || need+=(wrk)
    command -v redis-server >/dev/null || need+=(redis-server)
    command -v curl >/dev/null || need+=(curl)
    command -v python3 >/dev/null || need+=(python3)
    python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
    if ((${#need[@]})); then
        log "installing ${need[*]}"
        [[ $(id -u) == 0 ]] || die "need root to apt-get install ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    # python3 on PATH may be a pyenv one without PyYAML; Debian's has it.
    python3 -c 'import yaml' 2>/dev/null || PYTHON=/usr/bin/python3
}
build() {
    [[ ${NO_BUILD:-} == 1 ]] && return
    log "cargo build --release --bin alertgate"
    cargo build --release --bin alertgate >&2
}
ALERTGATE=$TARGET_DIR/release/alertgate


# ---------------------------------------------------------------- the sink
SINK_PORT=
start_sink() {
    "${LOAD_PIN[@]}" "$PYTHON" bench/slow_sink.py 0 "$SINK_DELAY_MS" >"$WORK/sink.out" 2>"$OUT/raw/sink.log" &
    local pid=$! i
    PIDS+=("$pid")
    for ((i = 0; i < 100; i++)); do
        SINK_PORT=$(awk '/^LISTENING/ {print $2}' "$WORK/sink.out")
        [[ -n $SINK_PORT ]] && { log "slow sink (${SINK_DELAY_MS} ms) on 127.0.0.1:$SINK_PORT"; return; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    die "slow sink did not start (see $OUT/raw/sink.log)"
}
sink_posts() { curl -sf --max-time 2 "http://127.0.0.1:$SINK_PORT/stats" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["posts"])'; }

# ---------------------------------------------------------------- configs
# write_config OUT SINK_URL|"" : the base config (bench/config.yaml, else config.example.yaml)
# with the mappings dir made absolute and, given a URL, one `webhook` sink `slow` there.
write_config() {
    local base=config.example.yaml
    [[ -f bench/config.yaml ]] && base=bench/config.yaml
    "$PYTHON" - "$base" "$1" "$2" <<'EOF'
import os, sys, yaml
base, out, url = sys.argv[1:]
cfg = yaml.safe_load(open(base))
d = cfg.get("mappings_dir")
if isinstance(d, str) and not os.path.isabs(d):
    cfg["mappings_dir"] = os.path.join(os.path.dirname(os.path.abspath(base)), d)
cfg.pop("sinks", None)
if url:
    cfg["sinks"] = {"slow": {"type": "webhook", "url": url, "timeout": "10s"}}
yaml.safe_dump(cfg, open(out, "w"), sort_keys=False)
EOF
}

# ---------------------------------------------------------------- server
SERVER_PID= SERVER_PORT=
start_server() {
    local setup=$1
    SERVER_PORT=$(free_port)
    "${SERVER_PIN[@]}" "$ALERTGATE" serve --config "$WORK/config-$setup.yaml" --listen "127.0.0.1:$SERVER_PORT" \
        --redis-url "redis://127.0.0.1:$REDIS_PORT/" >>"$OUT/raw/server-$setup.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_http "http://127.0.0.1:$SERVER_PORT/-/ready" 30 "$SERVER_PID" ||
        die "$setup did not become ready (log: $OUT/raw/server-$setup.log)"
}
stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}
sanity_check() {
    local code
    code=$(curl -s -o "$WORK/sanity.out" -w '%{http_code}' --max-time 5 \
        -H 'Content-Type: application/x-www-form-urlencoded' --data-binary @tests/fixtures/statuscake/down-basic.form \
        "http://127.0.0.1:$SERVER_PORT/hooks/statuscake?token=$STATUSCAKE_TOKEN") || true
    [[ $code == 2* ]] || die "sanity request answered $code: $(head -c 300 "$WORK/sanity.out")"
}
# sink_state → "LAG PENDING DELIVERED DEAD" of sink `slow` (LAG "null" when unknown).
sink_state() {
    curl -sf --max-time 5 -H "Authorization: Bearer $ALERTGATE_ADMIN_TOKEN" "http://127.0.0.1:$SERVER_PORT/v1/sinks" |
        "$PYTHON" -c '
import json, sys
s = next(x for x in json.load(sys.stdin)["sinks"] if x["id"] == "slow")
print("null" if s["lag"] is None else s["lag"], s["pending"], s["delivered"], s["dead_lettered"])'
}

run_wrk() {
    local secs=$1 tag=$2 logf=$3
    timeout -k 5 $((secs + 30)) "${LOAD_PIN[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --timeout 5s --latency \
        -s bench/statuscake.lua "http://127.0.0.1:$SERVER_PORT" -- "$STATUSCAKE_TOKEN" "$NAMES" "$tag" statuscake \
        >"$logf" 2>&1 || die "wrk failed (see $logf)"
}

# ---------------------------------------------------------------- main
ensure_tools
build
[[ -x $ALERTGATE ]] || die "missing $ALERTGATE"
start_redis
start_sink
write_config "$WORK/config-no-sink.yaml" ""
write_config "$WORK/config-with-sink.yaml" "http://127.0.0.1:$SINK_PORT/alertgate"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
log "server CPUs $SERVER_CPUS, wrk/redis/sink CPUs $LOAD_CPUS | rounds $ROUNDS | ${DURATION}s (+${WARMUP}s warm-up) | -t$THREADS -c$CONNECTIONS | sink ${SINK_DELAY_MS} ms | drain max ${DRAIN_MAX}s | out $OUT"

RUN_SEQ=0
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then order=(no-sink with-sink); else order=(with-sink no-sink); fi
    for setup in "${order[@]}"; do
        RUN_SEQ=$((RUN_SEQ + 1))
        tag=$(printf 'r%02d' $((RUN_SEQ % 100)))
        # Every run starts on an empty Redis: no backlog or consumer group carries over.
        redis-cli -p "$REDIS_PORT" flushall >/dev/null
        start_server "$setup"
        sanity_check
        base=$OUT/raw/$RUN_SEQ-$setup-round$round
        if ((WARMUP > 0)); then run_wrk "$WARMUP" "w${tag:1}" "$base.warmup.txt"; fi
        load1=$(cut -d' ' -f1 /proc/loadavg)
        posts0=$(sink_posts) || die "slow sink not answering"
        run_wrk "$DURATION" "$tag" "$base.txt"
        line=$(grep '^BENCH_RESULT' "$base.txt") || die "no BENCH_RESULT in $base.txt"
        backlog=0 delivered_load=0 drain_s=null drained=null delivered=0 dead=0 left=0 rate=null
        if [[ $setup == with-sink ]]; then
            t0=$(date +%s.%N)
            st=$(sink_state) || die "GET /v1/sinks failed (log: $OUT/raw/server-$setup.log)"
            read -r lag pending delivered_load dead <<<"$st"
            [[ $lag == null ]] && lag=0
            backlog=$((lag + pending))
            drained=false
            while :; do
                st=$(sink_state) || die "GET /v1/sinks failed (log: $OUT/raw/server-$setup.log)"
                read -r lag pending delivered dead <<<"$st"
                now=$(date +%s.%N)
                elapsed=$(awk -v a="$t0" -v b="$now" 'BEGIN {printf "%.1f", b - a}')
                if [[ $lag == 0 && $pending == 0 ]]; then drained=true drain_s=$elapsed left=0; break; fi
                [[ $lag == null ]] && lag=0
                left=$((lag + pending))
                if ((DRAIN_MAX > 0)) && awk -v e="$elapsed" -v m="$DRAIN_MAX" 'BEGIN {exit !(e >= m)}'; then
                    drain_s=$elapsed
                    break
                fi
                sleep 0.5
            done
            rate=$(awk -v d=$((delivered - delivered_load)) -v s="$drain_s" 'BEGIN {printf "%.1f", (s > 0) ? d / s : 0}')
            log "with-sink round $round: backlog $backlog after the load, $([[ $drained == true ]] && echo "drained in ${drain_s}s" || echo "NOT drained after ${drain_s}s, $left left") | delivered $delivered ($rate/s while draining), dead $dead"
        fi
        posts=$(sink_posts) || die "slow sink not answering"
        posts=$((posts - posts0))
        stop_server
        "$PYTHON" - "$line" "$round" "$setup" "$load1" "$backlog" "$delivered_load" "$delivered" "$dead" \
            "$drain_s" "$drained" "$left" "$rate" "$posts" >>"$RESULTS" <<'EOF'
import json, sys
line, rnd, setup, load1, backlog, dl, delivered, dead, drain_s, drained, left, rate, posts = sys.argv[1:]
r = {k: float(v) if "." in v else int(v) for k, v in (f.split("=", 1) for f in line.split()[1:])}
r.update(round=int(rnd), setup=setup, load1=float(load1), backlog_after_load=int(backlog),
         delivered_during_load=int(dl), delivered=int(delivered), dead_lettered=int(dead),
         drain_s=json.loads(drain_s), drained=json.loads(drained), left=int(left),
         drain_rate=json.loads(rate), sink_posts=int(posts))
print(json.dumps(r))
EOF
        log "$(printf '%-9s round %d: %8.0f req/s  p99 %6.2f ms  non-2xx %s  load %s' "$setup" "$round" \
            "$(sed 's/.*rps=\([0-9.]*\).*/\1/' <<<"$line")" \
            "$(sed 's/.*p99_us=\([0-9]*\).*/\1/' <<<"$line" | awk '{print $1/1000}')" \
            "$(sed 's/.*non2xx=\([0-9]*\).*/\1/' <<<"$line")" "$load1")"
    done
done

{
    echo "# alertgate notifications under load $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "git $(git rev-parse --short HEAD 2>/dev/null || echo '?') | $NCPU cores | Redis store | statuscake cycle, $NAMES names | rounds $ROUNDS | ${DURATION}s each after ${WARMUP}s warm-up | wrk -t$THREADS -c$CONNECTIONS | sink answers after ${SINK_DELAY_MS} ms | drain bound ${DRAIN_MAX}s | server CPUs $SERVER_CPUS, wrk/redis/sink CPUs $LOAD_CPUS"
    echo
    "$PYTHON" - "$RESULTS" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| round | setup | webhook req/s | p99 ms | non-2xx | backlog after load | delivered | drain s | delivery/s while draining | left | load1 |")
print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    sink = r["setup"] == "with-sink"
    drain = "" if not sink else (f'{r["drain_s"]}' if r["drained"] else f'> {r["drain_s"]} (not drained)')
    print(f'| {r["round"]} | {r["setup"]} | {r["rps"]:,.0f} | {r["p99_us"] / 1000:.2f} | {r["non2xx"]} | '
          + (f'{r["backlog_after_load"]:,} | {r["delivered"]:,} | {drain} | {r["drain_rate"]} | {r["left"]:,}' if sink else "| | | | ")
          + f' | {r["load1"]} |')
print()
med = lambda xs: statistics.median(xs) if xs else float("nan")
by = {s: [r for r in rows if r["setup"] == s] for s in ("no-sink", "with-sink")}
print("| setup | rounds | req/s (median) | p99 ms (median) |")
print("|---|---:|---:|---:|")
for s, rs in by.items():
    print(f'| {s} | {len(rs)} | {med([r["rps"] for r in rs]):,.0f} | {med([r["p99_us"] / 1000 for r in rs]):.2f} |')
pairs = {}
for r in rows:
    pairs.setdefault(r["round"], {})[r["setup"]] = r
ratios = [p["with-sink"]["rps"] / p["no-sink"]["rps"] for p in pairs.values() if len(p) == 2]
if ratios:
    print(f"\nwith-sink / no-sink req/s, median of the per-round ratios: {med(ratios):.3f}")
ws = by["with-sink"]
if ws:
    rate = med([r["drain_rate"] for r in ws if r["drain_rate"]])
    print(f"delivery rate while draining (median): {rate} events/s")
    for r in ws:
        if not r["drained"] and r["drain_rate"]:
            print(f'round {r["round"]}: {r["left"]:,} events left after {r["drain_s"]} s; at {r["drain_rate"]}/s '
                  f'the backlog of {r["backlog_after_load"]:,} takes ~{r["backlog_after_load"] / r["drain_rate"] / 60:,.0f} min to drain')
EOF
} >"$OUT/report.md"
cp "$OUT/report.md" "$ROOT/bench/out/sinks-latest.md"
cat "$OUT/report.md"
log "results: $RESULTS, report: $OUT/report.md"
