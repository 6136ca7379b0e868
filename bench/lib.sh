# Shared by bench/run.sh and bench/sinks.sh (sourced): CPU pinning, free ports, waiting
# for HTTP, and a redis-server of the bench's own. Uses the caller's PYTHON, PIDS, WORK,
# log and die.

# pin_cpus: with PIN=1 (the default on 2+ cores) the server gets CPU 0 and one tokio
# worker, the load generator and Redis the rest. Sets NCPU, PIN, SERVER_CPUS, LOAD_CPUS,
# SERVER_PIN and LOAD_PIN.
pin_cpus() {
    NCPU=$(nproc)
    PIN=${PIN:-$((NCPU >= 2 ? 1 : 0))}
    if [[ $PIN == 1 ]]; then
        SERVER_CPUS=0 LOAD_CPUS=1-$((NCPU - 1))
        SERVER_PIN=(env TOKIO_WORKER_THREADS=1 taskset -c "$SERVER_CPUS")
        LOAD_PIN=(taskset -c "$LOAD_CPUS")
    else
        SERVER_CPUS=all LOAD_CPUS=all SERVER_PIN=() LOAD_PIN=()
    fi
}

free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http URL SECONDS PID: until URL answers 2xx, or fail if PID died / time ran out.
wait_http() {
    local url=$1 secs=$2 pid=$3 i
    for ((i = 0; i < secs * 20; i++)); do
        curl -sf -o /dev/null --max-time 1 "$url" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# start_redis: a redis-server on a free loopback port, no persistence, logging to $WORK.
REDIS_PORT=
start_redis() {
    REDIS_PORT=$(free_port)
    "${LOAD_PIN[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
        --daemonize no --logfile "$WORK/redis.log" --dir "$WORK" &
    PIDS+=($!)
    local i
    for ((i = 0; i < 100; i++)); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && { log "redis-server on 127.0.0.1:$REDIS_PORT"; return; }
        sleep 0.05
    done
    die "redis-server did not start (see $WORK/redis.log)"
}
