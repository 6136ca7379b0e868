#!/usr/bin/env bash
# Runs every fuzz target for N seconds (default 300) and prints executions and crashes per
# target and in total. Not part of CI. Needs cargo-fuzz (`cargo install cargo-fuzz`); runs
# on stable (`-s none`: no sanitizer, the crate forbids unsafe code).
#
#   fuzz/run.sh [seconds-per-target] [target...]
#
# Seed corpora are built from tests/fixtures, mappings/ and fuzz/seeds/ into
# fuzz/corpus/<target>/ (not committed); crashes land in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-300}
shift || true
all=(form json_shape template expr mapping_yaml pipeline)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
fixtures=../tests/fixtures
logs=${FUZZ_LOGS:-$(mktemp -d)}

seed() { # target name < bytes
    mkdir -p "corpus/$1"
    cat > "corpus/$1/seed-$2"
}

seed_all() {
    local n=0 f line i
    local mappings=(../mappings/*.yaml) # sorted by name, as the pipeline target loads them
    for f in "$fixtures"/*/*.form "$fixtures"/*/*.json; do
        local name
        name=$(basename "$(dirname "$f")")-$(basename "$f")
        case $f in *.form) seed form "$name" < "$f" ;; esac
        # pipeline selector: bits 0-1 mapping, bit 2 GET, bits 3-4 Content-Type.
        for i in "${!mappings[@]}"; do
            { printf "\\x0$i"; cat "$f"; } | seed pipeline "$i-$name"
        done
        case $f in
            *.form) { printf '\x04'; cat "$f"; } | seed pipeline "get-$name" ;;
            *.json)
                for line in incident.status component_update.new_status alerts.0.status page.id heartbeat; do
                    { printf '%s\n' "$line"; cat "$f"; } | seed json_shape "$line-$name"
                done ;;
        esac
    done
    for f in "${mappings[@]}"; do
        seed mapping_yaml "$(basename "$f")" < "$f"
    done
    # Inputs that once failed, kept so every run replays them first.
    for f in seeds/regressions/*/*; do
        seed "$(basename "$(dirname "$f")")" "regression-$(basename "$f")" < "$f"
    done
    local payloads=("$fixtures"/statuscake/down-basic.form "$fixtures"/statuscake/up-minimal.form
        "$fixtures"/statuspage/incident-identified-critical.json
        "$fixtures"/statuspage/component-major-outage.json)
    while IFS= read -r line; do
        for f in "${payloads[@]}"; do
            n=$((n + 1))
            { printf '%s\n' "$line"; cat "$f"; } | seed expr "$n"
        done
    done < seeds/expressions.txt
    while IFS= read -r line; do
        for f in "${payloads[@]}"; do
            n=$((n + 1))
            { printf '%s\n' "$line"; cat "$f"; } | seed template "$n"
        done
    done < seeds/templates.txt
}

seed_all
cargo fuzz build -s none -O >/dev/null 2>&1 || cargo fuzz build -s none -O

total_runs=0
total_crashes=0
printf '%-14s %14s %8s %8s\n' target executions crashes hangs
for t in "${targets[@]}"; do
    mkdir -p "artifacts/$t"
    before=$(find "artifacts/$t" -type f | wc -l)
    # -timeout: one input over 10 s is a hang; -rss_limit_mb: over 2 GiB is a leak.
    cargo fuzz run -s none -O "$t" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        > "$logs/$t.log" 2>&1 || true
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$t.log" | grep -o '[0-9]*$' | tail -1)
    if [ -z "$runs" ]; then # stopped by a crash: take the last progress line
        runs=$(grep -o '^#[0-9]*' "$logs/$t.log" | tail -1 | tr -d '#')
    fi
    runs=${runs:-0}
    after=$(find "artifacts/$t" -type f | wc -l)
    crashes=$((after - before))
    hangs=$(find "artifacts/$t" -type f -name 'timeout-*' -newer "$logs" | wc -l)
    printf '%-14s %14s %8s %8s\n' "$t" "$runs" "$crashes" "$hangs"
    total_runs=$((total_runs + runs))
    total_crashes=$((total_crashes + crashes))
done
printf '%-14s %14s %8s\n' total "$total_runs" "$total_crashes"
echo "logs: $logs"
[ "$total_crashes" -eq 0 ]
