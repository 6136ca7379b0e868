#!/usr/bin/env bash
# bench/run.sh — throughput/latency of alertgate against a bare hyper baseline.
# Run from anywhere: it cds to the repo root. See bench/README.md for what it measures.
#
# Env (defaults in brackets):
#   SETUPS      setups to run, in order ["bare redis redis-ref ag-memory ag-redis"]
#               bare = baseline bare, redis = baseline redis (one Lua call per request),
#               redis-ref = baseline with the reference lifecycle script (bench/README.md),
#               ag-memory / ag-redis = alertgate with the memory / Redis store,
#               am = Prometheus Alertmanager (runs only the am1/am100 scenarios),
#               ag-memory-alt / ag-redis-alt = the same with the binary ALT_ALERTGATE
#   ALT_ALERTGATE       another alertgate binary (a copy of a build before a change), for a
#                       before/after comparison in the same rounds
#   SCENARIOS   wrk scenarios ["statuscake statuspage"]: statuscake, statuspage
#               (bench/<name>.lua), am1 / am100 (bench/alerts.lua, 1 / 100 alerts a POST)
#   ROUNDS [3]  DURATION [10] seconds  WARMUP [2] seconds  THREADS [1]  CONNECTIONS [64]
#   NAMES [10000]       distinct fingerprints per scenario run
#   PRELOAD [0]         open incidents preloaded into alertgate before its runs; a list such
#                       as "1 10000 1000000" runs each as a variant (ascending: the Redis
#                       preload is topped up, never removed)
#   MAPPINGS [0]        extra StatusCake-copy sources/mappings; a list such as "0 200" runs
#                       each as a variant and spreads statuscake traffic over all sources
#   PIN [1 if >=2 cores] pin the server to CPU 0 (TOKIO_WORKER_THREADS=1) and wrk and
#                       redis-server to the other CPUs, so they do not fight for cores
#   MEMORY_N [0]        after the runs: flush Redis, preload N open incidents through
#                       ag-redis and report Redis bytes per incident (used_memory delta / N,
#                       MEMORY USAGE by key kind); needs ag-redis in SETUPS
#   NO_BUILD=1          skip cargo build (use existing binaries)
#   OUT                 output dir [bench/out/<timestamp>]; bench/out/latest.md is the last report
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
# pin_cpus, free_port, wait_http, start_redis
# shellcheck source=bench/lib.sh
source bench/lib.sh

SETUPS=${SETUPS:-"bare redis redis-ref ag-memory ag-redis"}
SCENARIOS=${SCENARIOS:-"statuscake statuspage"}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-64}
NAMES=${NAMES:-10000}
PRELOAD=${PRELOAD:-0}
MAPPINGS=${MAPPINGS:-0}
MEMORY_N=${MEMORY_N:-0}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
pin_cpus
OUT=${OUT:-$ROOT/bench/out/$(date +%Y%m%d-%H%M%S)}

# Tokens the gateway reads from its config's ${ENV_VAR}s; the bench sends the same ones.
export STATUSCAKE_TOKEN=${STATUSCAKE_TOKEN:-bench-statuscake-token}
export STATUSPAGE_TOKEN=${STATUSPAGE_TOKEN:-bench-statuspage-token}
export ALERTGATE_ADMIN_TOKEN=${ALERTGATE_ADMIN_TOKEN:-bench-admin-token}
export ALERTMANAGER_TOKEN=${ALERTMANAGER_TOKEN:-bench-alertmanager-token}
# The gateway runs at its default log level (info: no line per webhook); set RUST_LOG to change it.

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

mkdir -p "$OUT/raw"
WORK=$(mktemp -d /tmp/alertgate-bench.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- tools and binaries
ensure_tools() {
    local need=()
    command -v wrk >/dev/null || need+=(wrk)
    command -v redis-server >/dev/null || need+=(redis-server)
    command -v curl >/dev/null || need+=(curl)
    command -v python3 >/dev/null || need+=(python3)
    python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
    if [[ " $SETUPS " == *" am "* ]]; then
        command -v prometheus-alertmanager >/dev/null || need+=(prometheus-alertmanager)
    fi
    if ((${#need[@]})); then
        log "installing ${need[*]}"
        [[ $(id -u) == 0 ]] || die "need root to apt-get install ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    if ! python3 -c 'import yaml' 2>/dev/null; then
        # python3 on PATH may be a pyenv one without PyYAML; Debian's has it now.
        PYTHON=/usr/bin/python3
    fi
}
PYTHON=python3

wants_alertgate() { [[ " $SETUPS " == *" ag-"* ]]; }
wants_redis() { [[ " $SETUPS " == *" redis "* || " $SETUPS " == *" redis-ref "* || " $SETUPS " == *" ag-redis"* ]]; }
# Redis-backed setups: INFO commandstats is reset before and read after their measured run.
uses_redis() { [[ $1 == redis || $1 == redis-ref || $1 == ag-redis* ]]; }
# Alertmanager only speaks its own API: it runs the am* scenarios and nothing else.
runs_scenario() { [[ $1 != am || $2 == am* ]]; }

build() {
    if [[ ${NO_BUILD:-} == 1 ]]; then return; fi
    local args=(--example baseline)
    wants_alertgate && args+=(--bin alertgate)
    log "cargo build --release ${args[*]}"
    cargo build --release "${args[@]}" >&2
}

BASELINE=$TARGET_DIR/release/examples/baseline
ALERTGATE=$TARGET_DIR/release/alertgate


# ---------------------------------------------------------------- alertgate config
# The one place that knows alertgate's CLI and config shape (see also bench/gen_config.py).
# bench/config.yaml wins when it exists; else the repo's config.example.yaml.
base_config() {
    if [[ -f bench/config.yaml ]]; then echo bench/config.yaml
    elif [[ -f config.example.yaml ]]; then echo config.example.yaml
    else die "no bench/config.yaml or config.example.yaml"; fi
}
# gateway_config EXTRA → writes $WORK/config-EXTRA.yaml; sets EXTRA_SOURCES (comma list).
gateway_config() {
    local extra=$1
    GATEWAY_CONFIG=$WORK/config-$extra.yaml
    EXTRA_SOURCES=$("$PYTHON" bench/gen_config.py "$(base_config)" "$GATEWAY_CONFIG" "$extra" "$WORK/m$extra")
}
# alertgate_cmd SETUP PORT → the server command line, one word a line.
alertgate_cmd() {
    local setup=$1 port=$2
    local bin=$ALERTGATE
    if [[ $setup == *-alt ]]; then bin=${ALT_ALERTGATE:?ALT_ALERTGATE must name a binary for $setup}; fi
    printf '%s\n' "$bin" serve --config "$GATEWAY_CONFIG" --listen "127.0.0.1:$port"
    # The -alt binary gets a database of its own: two versions may not share one keyspace.
    if [[ $setup == ag-redis ]]; then printf '%s\n' --redis-url "redis://127.0.0.1:$REDIS_PORT/0"; fi
    if [[ $setup == ag-redis-alt ]]; then printf '%s\n' --redis-url "redis://127.0.0.1:$REDIS_PORT/1"; fi
}

# ---------------------------------------------------------------- servers
SERVER_PID= SERVER_PORT=
start_server() {
    local setup=$1 cmd
    SERVER_PORT=$(free_port)
    case $setup in
    bare) cmd=("$BASELINE" bare "127.0.0.1:$SERVER_PORT") ;;
    redis | redis-ref) cmd=("$BASELINE" "$setup" "127.0.0.1:$SERVER_PORT" "redis://127.0.0.1:$REDIS_PORT/") ;;
    am)
        # Its own storage dir per start, no cluster (no gossip port), a receiver that sends
        # nothing: what is measured is the API taking alerts in.
        mkdir -p "$WORK/am-$RUN_SEQ"
        printf 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n' >"$WORK/am.yml"
        cmd=(prometheus-alertmanager --config.file="$WORK/am.yml" --storage.path="$WORK/am-$RUN_SEQ"
            --web.listen-address="127.0.0.1:$SERVER_PORT" --cluster.listen-address= --log.level=warn) ;;
    ag-memory | ag-redis | ag-memory-alt | ag-redis-alt) mapfile -t cmd < <(alertgate_cmd "$setup" "$SERVER_PORT") ;;
    *) die "unknown setup $setup" ;;
    esac
    # env and taskset exec the server, so $! stays its pid (for VmHWM).
    "${SERVER_PIN[@]}" "${cmd[@]}" >>"$OUT/raw/server-$setup.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_http "http://127.0.0.1:$SERVER_PORT/-/ready" 30 "$SERVER_PID" ||
        die "$setup did not become ready: ${cmd[*]} (log: $OUT/raw/server-$setup.log)"
}
stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}
peak_rss_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status"; }
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
# redis_stats: "usec_per_call calls usec_total" of EVALSHA and of all commands, from INFO.
redis_stats() {
    rcli info commandstats | tr -d '\r' | awk -F'[:=,]' '
        /^cmdstat_/ { tc += $3; tu += $5 }
        /^cmdstat_evalsha:/ { ec = $3; eu = $5 }
        END { printf "%d %d %d %d\n", ec, eu, tc, tu }'
}

# One real request per scenario before any load: a wrong token or config shows here, with
# the gateway's answer, instead of as a run of fast 4xx.
sanity_check() {
    local scenario=$1 url body ctype code
    case $scenario in
    statuscake) url="/hooks/statuscake?token=$STATUSCAKE_TOKEN" body=tests/fixtures/statuscake/down-basic.form
        ctype=application/x-www-form-urlencoded ;;
    statuspage) url="/hooks/statuspage?token=$STATUSPAGE_TOKEN" body=tests/fixtures/statuspage/incident-investigating-critical.json
        ctype=application/json ;;
    am*) url="/hooks/alertmanager?token=$ALERTMANAGER_TOKEN" ctype=application/json body=$WORK/am-sanity.json
        printf '%s' '{"receiver":"x","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"BenchSanity"},"annotations":{},"startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"bench-sanity"}],"groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"","version":"4","groupKey":"{}"}' >"$body" ;;
    *) return 0 ;;
    esac
    code=$(curl -s -o "$WORK/sanity.out" -w '%{http_code}' --max-time 5 -H "Content-Type: $ctype" \
        --data-binary "@$body" "http://127.0.0.1:$SERVER_PORT$url") || true
    [[ $code == 2* ]] || die "sanity request for $scenario answered $code: $(head -c 300 "$WORK/sanity.out")"
}

# ---------------------------------------------------------------- load
# wrk_args SCENARIO RUN_TAG → the arguments after `--` for that scenario's script.
wrk_args() {
    case $1 in
    statuscake) printf '%s\n' "$STATUSCAKE_TOKEN" "$NAMES" "$2" "statuscake${EXTRA_SOURCES:+,$EXTRA_SOURCES}" ;;
    statuspage) printf '%s\n' "$STATUSPAGE_TOKEN" "$NAMES" "$2" ;;
    am*) printf '%s\n' "$([[ $CURRENT_SETUP == am ]] && echo am || echo ag)" "$ALERTMANAGER_TOKEN" "$NAMES" "$2" "${1#am}" ;;
    *) printf '%s\n' "$2" ;;
    esac
}
scenario_script() { if [[ $1 == am* ]]; then echo alerts; else echo "$1"; fi; }
# run_wrk SCENARIO SECONDS RUN_TAG LOGFILE: bounded by -d and by timeout(1).
run_wrk() {
    local scenario=$1 secs=$2 tag=$3 logf=$4 args
    mapfile -t args < <(wrk_args "$scenario" "$tag")
    timeout -k 5 $((secs + 30)) "${LOAD_PIN[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --timeout 5s --latency \
        -s "bench/$(scenario_script "$scenario").lua" "http://127.0.0.1:$SERVER_PORT" -- "${args[@]}" >"$logf" 2>&1 ||
        die "wrk failed for $scenario (see $logf)"
}

# preload_incidents FROM TO: DOWN webhooks with unique names through the gateway itself.
preload_incidents() {
    local from=$1 to=$2 bound logf=$OUT/raw/preload-$1-$2-$RANDOM.log
    ((to > from)) || return 0
    bound=$((60 + (to - from) / 2000))
    log "preloading incidents $from..$to into $CURRENT_SETUP (at most ${bound}s)"
    local t0=$SECONDS
    timeout -k 5 $((bound + 30)) "${LOAD_PIN[@]}" wrk -t1 -c"$CONNECTIONS" -d"${bound}s" --timeout 5s \
        -s bench/preload.lua "http://127.0.0.1:$SERVER_PORT" -- "$STATUSCAKE_TOKEN" "$from" "$to" >"$logf" 2>&1 || true
    grep -q PRELOAD_DONE "$logf" || die "preload incomplete (see $logf)"
    log "preloaded $((to - from)) in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------- main
ensure_tools
build
[[ -x $BASELINE ]] || die "missing $BASELINE"
if wants_alertgate; then [[ -x $ALERTGATE ]] || die "missing $ALERTGATE"; fi
if wants_redis; then start_redis; fi
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
read -r -a SETUP_LIST <<<"$SETUPS"
read -r -a PRELOAD_LIST <<<"$PRELOAD"
read -r -a MAPPINGS_LIST <<<"$MAPPINGS"
REDIS_PRELOADED=0
RUN_SEQ=0
log "server CPUs $SERVER_CPUS, wrk/redis CPUs $LOAD_CPUS | setups: $SETUPS | scenarios: $SCENARIOS | rounds $ROUNDS | ${DURATION}s (+${WARMUP}s warm-up) | -t$THREADS -c$CONNECTIONS | out $OUT"

for preload in "${PRELOAD_LIST[@]}"; do
    for extra in "${MAPPINGS_LIST[@]}"; do
        variant="preload=$preload,mappings=$extra"
        EXTRA_SOURCES=
        if wants_alertgate; then gateway_config "$extra"; fi
        for ((round = 1; round <= ROUNDS; round++)); do
            # Rotate the setup order each round so slow drift hits every setup alike.
            n=${#SETUP_LIST[@]}
            order=()
            for ((i = 0; i < n; i++)); do order+=("${SETUP_LIST[$(((i + round - 1) % n))]}"); done
            for scenario in $SCENARIOS; do
                for setup in "${order[@]}"; do
                    runs_scenario "$setup" "$scenario" || continue
                    CURRENT_SETUP=$setup
                    RUN_SEQ=$((RUN_SEQ + 1))
                    tag=$(printf 'r%02d' $((RUN_SEQ % 100)))
                    start_server "$setup"
                    if [[ $setup == ag-* ]]; then
                        sanity_check "$scenario"
                        if [[ $setup == ag-memory* ]]; then
                            preload_incidents 0 "$preload"
                        elif ((preload > REDIS_PRELOADED)); then
                            preload_incidents "$REDIS_PRELOADED" "$preload"
                            REDIS_PRELOADED=$preload
                            log "redis dbsize: $(redis-cli -p "$REDIS_PORT" dbsize)"
                        fi
                    fi
                    rss_ready=$(rss_kb)
                    base=$OUT/raw/$RUN_SEQ-$setup-$scenario-round$round
                    if ((WARMUP > 0)); then run_wrk "$scenario" "$WARMUP" "w${tag:1}" "$base.warmup.txt"; fi
                    # Load average before the measured run: other work on the machine
                    # (a compile, say) shows here and explains an outlier.
                    load1=$(cut -d' ' -f1 /proc/loadavg)
                    # Redis CPU per call of this setup's measured run only (one Redis serves all).
                    if uses_redis "$setup"; then rcli config resetstat >/dev/null; fi
                    run_wrk "$scenario" "$DURATION" "$tag" "$base.txt"
                    rstats="0 0 0 0"
                    if uses_redis "$setup"; then
                        rstats=$(redis_stats)
                        rcli info commandstats | tr -d '\r' >"$base.cmdstats.txt"
                    fi
                    rss=$(peak_rss_kb)
                    stop_server
                    line=$(grep '^BENCH_RESULT' "$base.txt") || die "no BENCH_RESULT in $base.txt"
                    non2xx_wrk=$(awk '/Non-2xx or 3xx responses/ {print $NF}' "$base.txt")
                    "$PYTHON" - "$line" "$variant" "$round" "$scenario" "$setup" "$rss" "${non2xx_wrk:-0}" "$load1" "$preload" "$extra" "$rss_ready" "$rstats" "$base.cmdstats.txt" >>"$RESULTS" <<'EOF'
import json, os, re, sys
line, variant, rnd, scenario, setup, rss, non2xx_wrk, load1, preload, extra, rss_ready, rstats, cmdf = sys.argv[1:]
r = {k: float(v) if "." in v else int(v) for k, v in (f.split("=", 1) for f in line.split()[1:])}
assert r["non2xx"] == int(non2xx_wrk), "done() and wrk disagree on non-2xx"
r.update(variant=variant, round=int(rnd), scenario=scenario, setup=setup, rss_kb=int(rss or 0), load1=float(load1),
         preload=int(preload), mappings=int(extra), rss_ready_kb=int(rss_ready or 0),
         batch=int(scenario[2:]) if scenario.startswith("am") else 1)
ec, eu, tc, tu = (int(x) for x in rstats.split())
if tc:
    r.update(evalsha_calls=ec, evalsha_usec=eu, redis_calls=tc, redis_usec=tu)
if os.path.exists(cmdf):
    # Per command (those a script calls count too): {name: [calls, usec]}.
    r["cmdstats"] = {m.group(1): [int(m.group(2)), int(m.group(3))] for m in
                     re.finditer(r"^cmdstat_(\S+?):calls=(\d+),usec=(\d+)", open(cmdf).read(), re.M)}
print(json.dumps(r))
EOF
                    log "$(printf '%-10s %-10s round %d: %8.0f req/s  p50 %5.2f ms  p99 %6.2f ms  non-2xx %s  rss %s MiB  load %s  [%s]' \
                        "$setup" "$scenario" "$round" "$(sed 's/.*rps=\([0-9.]*\).*/\1/' <<<"$line")" \
                        "$(sed 's/.*p50_us=\([0-9]*\).*/\1/' <<<"$line" | awk '{print $1/1000}')" \
                        "$(sed 's/.*p99_us=\([0-9]*\).*/\1/' <<<"$line" | awk '{print $1/1000}')" \
                        "$(sed 's/.*non2xx=\([0-9]*\).*/\1/' <<<"$line")" "$((rss / 1024))" "$load1" "$variant")"
                done
            done
        done
    done
done

# ---------------------------------------------------------------- Redis bytes per incident
# A fresh keyspace, N open incidents through the gateway's own webhooks (the bench's
# ~600-byte StatusCake DOWNs), then used_memory's growth / N and MEMORY USAGE by key kind.
if ((MEMORY_N > 0)) && [[ " $SETUPS " == *" ag-redis "* ]]; then
    CURRENT_SETUP=ag-redis
    RUN_SEQ=$((RUN_SEQ + 1))
    rcli flushall >/dev/null
    gateway_config 0
    start_server ag-redis
    sleep 0.5
    used0=$(rcli info memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}')
    preload_incidents 0 "$MEMORY_N"
    sleep 1
    used1=$(rcli info memory | tr -d '\r' | awk -F: '/^used_memory:/ {print $2}')
    stop_server
    # Every key's exact size (SAMPLES 0), pipelined through one redis-cli.
    rcli --scan >"$WORK/keys.txt"
    sed 's/.*/MEMORY USAGE "&" SAMPLES 0/' "$WORK/keys.txt" | rcli >"$WORK/sizes.txt"
    one_fp=$(grep -m1 'fp:' "$WORK/keys.txt")
    one_inc=${one_fp%%fp:*}inc:$(rcli hget "$one_fp" open)
    "$PYTHON" - "$MEMORY_N" "$used0" "$used1" "$WORK/keys.txt" "$WORK/sizes.txt" "$one_fp" "$one_inc" \
        "$(rcli memory usage "$one_fp" samples 0)" "$(rcli memory usage "$one_inc" samples 0)" \
        "$(rcli hlen "$one_inc")" "$(rcli hgetall "$one_inc" | awk 'NR % 2 == 0 { n += length($0) } END { print n + 0 }')" \
        "$(rcli object encoding "$one_inc")" >"$OUT/redis-memory.json" <<'EOF'
import json, re, sys
n, used0, used1, keys, sizes, fp, inc, fp_b, inc_b, inc_fields, values_len, encoding = sys.argv[1:]
n = int(n)
kinds = {}
for k, sz in zip(open(keys).read().split("\n"), open(sizes).read().split("\n")):
    if not k:
        continue
    m = re.search(r"\}(fp|inc|ids|events|seq|sources|deadlines|flapping)\b", k)
    kind = m.group(1) if m else "other"
    c, b = kinds.get(kind, (0, 0))
    kinds[kind] = (c + 1, b + int(sz or 0))
print(json.dumps({"n": n, "used_memory_delta": int(used1) - int(used0),
    "per_incident": (int(used1) - int(used0)) / n,
    "kinds": {k: {"keys": c, "bytes": b, "per_incident": b / n} for k, (c, b) in kinds.items()},
    "one_fp_key": fp, "one_fp_bytes": int(fp_b or 0), "one_inc_key": inc, "one_inc_bytes": int(inc_b or 0),
    "one_inc_fields": int(inc_fields or 0), "one_inc_value_bytes": int(values_len or 0),
    "one_inc_encoding": encoding}))
EOF
    log "redis bytes per open incident: $("$PYTHON" -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["per_incident"]))' "$OUT/redis-memory.json")"
fi

{
    echo "# alertgate bench $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "git $(git rev-parse --short HEAD 2>/dev/null || echo '?') | $(nproc) cores | setups: $SETUPS | rounds $ROUNDS | ${DURATION}s each after ${WARMUP}s warm-up | wrk -t$THREADS -c$CONNECTIONS | $NAMES names | server CPUs $SERVER_CPUS, wrk/redis CPUs $LOAD_CPUS"
    echo
    "$PYTHON" bench/report.py "$RESULTS" "$OUT/redis-memory.json"
} >"$OUT/report.md"
"$PYTHON" bench/chart.py "$RESULTS" "$OUT/chart.svg" "git $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $ROUNDS rounds x ${DURATION}s, wrk -c$CONNECTIONS"
mkdir -p "$ROOT/bench/out"
cp "$OUT/chart.svg" "$ROOT/bench/out/latest.svg"
cp "$OUT/report.md" "$ROOT/bench/out/latest.md"
cat "$OUT/report.md"
log "results: $OUT/results.jsonl, report: $OUT/report.md"
