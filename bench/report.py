#!/usr/bin/env python3
"""Summarises bench/run.sh results (one JSON object per wrk run) as a markdown table.

usage: report.py RESULTS_JSONL [REDIS_MEMORY_JSON]
Per (variant, scenario, setup): medians over rounds of requests/s, p50, p99, peak RSS,
and the total non-2xx count. Then the median of per-round ratios
alertgate-redis / baseline-redis and alertgate-memory / baseline-bare (requests/s, p99),
and, when several PRELOAD or MAPPINGS values ran, the ratio of median requests/s at the
largest value to the smallest (the other dimension held at its smallest).
Redis-backed runs also carry INFO commandstats of their measured run: EVALSHA's
usec_per_call per setup, and alertgate's apply script / the reference script per round.
With REDIS_MEMORY_JSON (run.sh MEMORY_N), Redis bytes per open incident by key kind.
"""
import os
import json
import statistics
import sys
from collections import defaultdict

SETUP_NAMES = {
    "bare": "baseline-bare",
    "redis": "baseline-redis",
    "redis-ref": "baseline-redis-ref",
    "ag-memory": "alertgate-memory",
    "ag-redis": "alertgate-redis",
    "am": "alertmanager",
    "ag-memory-alt": "alertgate-memory (ALT_ALERTGATE)",
    "ag-redis-alt": "alertgate-redis (ALT_ALERTGATE)",
}
PAIRS = [("ag-redis", "redis"), ("ag-redis", "redis-ref"), ("ag-memory", "bare"),
         ("ag-memory", "am"), ("ag-redis", "am"), ("ag-redis", "ag-redis-alt"),
         ("ag-memory", "ag-memory-alt")]


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_ms(us):
    return f"{us / 1000:.2f}"


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    if not rows:
        sys.exit("report: no results")
    groups = defaultdict(list)
    by_round = {}
    variants, scenarios, setups = [], [], []
    for r in rows:
        for lst, v in ((variants, r["variant"]), (scenarios, r["scenario"]), (setups, r["setup"])):
            if v not in lst:
                lst.append(v)
        groups[(r["variant"], r["scenario"], r["setup"])].append(r)
        by_round[(r["variant"], r["scenario"], r["setup"], r["round"])] = r
    setups.sort(key=lambda s: list(SETUP_NAMES).index(s) if s in SETUP_NAMES else 99)

    out = []
    out.append("| variant | scenario | setup | rounds | req/s (median) | req/s spread | alerts/s | p50 ms | p99 ms | RSS ready MiB | peak RSS MiB | non-2xx | socket errors | max load1 |")
    out.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    medians = {}
    for v in variants:
        for sc in scenarios:
            for st in setups:
                g = groups.get((v, sc, st))
                if not g:
                    continue
                rps = med([r["rps"] for r in g])
                medians[(v, sc, st)] = rps
                errs = sum(r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"] for r in g)
                spread = (max(r["rps"] for r in g) - min(r["rps"] for r in g)) / rps * 100 if rps else 0
                out.append(
                    f"| {v} | {sc} | {SETUP_NAMES.get(st, st)} | {len(g)} | {rps:,.0f} | ±{spread / 2:.0f} % | "
                    f"{med([r['rps'] * r.get('batch', 1) for r in g]):,.0f} | "
                    f"{fmt_ms(med([r['p50_us'] for r in g]))} | {fmt_ms(med([r['p99_us'] for r in g]))} | "
                    f"{med([r.get('rss_ready_kb', 0) for r in g]) / 1024:.1f} | {med([r['rss_kb'] for r in g]) / 1024:.1f} | {sum(r['non2xx'] for r in g)} | {errs} | "
                    f"{max(r.get('load1', 0) for r in g):.2f} |"
                )

    out.append("")
    out.append("Median of per-round ratios (same round, same scenario):")
    out.append("")
    out.append("| variant | scenario | ratio | req/s ratio | p99 ratio | rounds |")
    out.append("|---|---|---|---:|---:|---:|")
    for v in variants:
        for sc in scenarios:
            for a, b in PAIRS:
                rps_r, p99_r = [], []
                for (vv, ss, st, rd), r in by_round.items():
                    if (vv, ss, st) != (v, sc, a):
                        continue
                    base = by_round.get((v, sc, b, rd))
                    if base and base["rps"] > 0 and base["p99_us"] > 0:
                        rps_r.append(r["rps"] / base["rps"])
                        p99_r.append(r["p99_us"] / base["p99_us"])
                if rps_r:
                    out.append(
                        f"| {v} | {sc} | {SETUP_NAMES[a]} / {SETUP_NAMES[b]} | "
                        f"{med(rps_r):.3f} | {med(p99_r):.2f} | {len(rps_r)} |"
                    )

    if not any(a in setups for a, _ in PAIRS):
        out.append("| | | (no alertgate setup ran) | | | |")

    # Scale: one dimension at a time, the other held at its smallest value.
    def scale(dim, other):
        vals = sorted({r[dim] for r in rows})
        if len(vals) < 2:
            return
        base_other = min(r[other] for r in rows)
        lo_v, hi_v = vals[0], vals[-1]
        out.append("")
        out.append(f"Scale ({dim}): median req/s at {dim}={hi_v} / at {dim}={lo_v} ({other}={base_other}):")
        out.append("")
        out.append(f"| scenario | setup | req/s {dim}={lo_v} | req/s {dim}={hi_v} | largest / smallest |")
        out.append("|---|---|---:|---:|---:|")
        for sc in scenarios:
            for st in setups:
                def pick(v):
                    xs = [r["rps"] for r in rows if r["scenario"] == sc and r["setup"] == st
                          and r[dim] == v and r[other] == base_other]
                    return med(xs) if xs else None
                lo, hi = pick(lo_v), pick(hi_v)
                if lo and hi:
                    out.append(f"| {sc} | {SETUP_NAMES.get(st, st)} | {lo:,.0f} | {hi:,.0f} | {hi / lo:.3f} |")

    redis_cpu(out, variants, scenarios, setups, groups, by_round)
    script_breakdown(out, rows)
    if len(sys.argv) > 2 and os.path.exists(sys.argv[2]):
        redis_memory(out, json.load(open(sys.argv[2])))
    scale("preload", "mappings")
    scale("mappings", "preload")
    print("\n".join(out))


def usec_per_call(r):
    return r["evalsha_usec"] / r["evalsha_calls"] if r.get("evalsha_calls") else None


def redis_cpu(out, variants, scenarios, setups, groups, by_round):
    """EVALSHA usec_per_call (INFO commandstats, reset before each measured run)."""
    rows = []
    for v in variants:
        for sc in scenarios:
            for st in setups:
                g = [r for r in groups.get((v, sc, st), []) if usec_per_call(r) is not None]
                if g:
                    per_req = med([r["evalsha_calls"] / r["requests"] for r in g if r["requests"]])
                    rows.append(f"| {v} | {sc} | {SETUP_NAMES.get(st, st)} | {len(g)} | "
                                f"{med([usec_per_call(r) for r in g]):.2f} | {per_req:.2f} |")
    if not rows:
        return
    out.append("")
    out.append("Redis CPU per script call (`INFO commandstats`, EVALSHA, measured run only; medians):")
    out.append("")
    out.append("| variant | scenario | setup | rounds | usec_per_call | calls per request |")
    out.append("|---|---|---|---:|---:|---:|")
    out.extend(rows)
    out.append("")
    out.append("| variant | scenario | ratio | usec_per_call ratio (median of per-round) | min | max | rounds |")
    out.append("|---|---|---|---:|---:|---:|---:|")
    for v in variants:
        for sc in scenarios:
            for a, b in (("ag-redis", "redis-ref"), ("ag-redis", "redis"), ("ag-redis", "ag-redis-alt")):
                xs = []
                for (vv, ss, st, rd), r in by_round.items():
                    base = by_round.get((v, sc, b, rd))
                    if (vv, ss, st) == (v, sc, a) and base and usec_per_call(r) and usec_per_call(base):
                        xs.append(usec_per_call(r) / usec_per_call(base))
                if xs:
                    out.append(f"| {v} | {sc} | {SETUP_NAMES[a]} / {SETUP_NAMES[b]} | {med(xs):.2f} | "
                               f"{min(xs):.2f} | {max(xs):.2f} | {len(xs)} |")


def script_breakdown(out, rows):
    """Where alertgate's script spends Redis CPU: the commands it calls, per script call."""
    for sc in dict.fromkeys(r["scenario"] for r in rows):
        g = [r for r in rows if r["setup"] == "ag-redis" and r["scenario"] == sc and r.get("cmdstats")
             and r.get("evalsha_calls")]
        if not g:
            continue
        names = sorted({c for r in g for c in r["cmdstats"]} - {"evalsha", "config", "info"})
        per = {c: med([r["cmdstats"].get(c, [0, 0])[1] / r["evalsha_calls"] for r in g]) for c in names}
        calls = {c: med([r["cmdstats"].get(c, [0, 0])[0] / r["evalsha_calls"] for r in g]) for c in names}
        total = med([usec_per_call(r) for r in g])
        inner = sum(per.values())
        out.append("")
        out.append(f"alertgate-redis, {sc}: the commands its script calls, per script call (medians; "
                   f"EVALSHA {total:.2f} µs in all, of which these commands {inner:.2f} µs, the rest Lua and "
                   f"call overhead):")
        out.append("")
        out.append("| command | calls per script call | µs per script call |")
        out.append("|---|---:|---:|")
        for c in sorted(names, key=lambda c: -per[c]):
            if calls[c] >= 0.01:
                out.append(f"| {c.upper()} | {calls[c]:.2f} | {per[c]:.2f} |")


def redis_memory(out, m):
    n = m["n"]
    out.append("")
    out.append(f"Redis bytes per open incident ({n:,} open, preloaded with the bench's StatusCake DOWNs): "
               f"`used_memory` delta / N = **{m['per_incident']:,.0f} B**; one incident: fp hash "
               f"{m['one_fp_bytes']} B, inc hash {m['one_inc_bytes']} B ({m['one_inc_fields']} fields holding "
               f"{m.get('one_inc_value_bytes', '?')} B of values, encoded as {m.get('one_inc_encoding', '?')}). "
               f"`MEMORY USAGE` by key kind (`events` is the stream's share):")
    out.append("")
    out.append("| key kind | keys | bytes | per incident |")
    out.append("|---|---:|---:|---:|")
    for k, d in sorted(m["kinds"].items(), key=lambda kv: -kv[1]["bytes"]):
        out.append(f"| {k} | {d['keys']:,} | {d['bytes']:,} | {d['per_incident']:,.0f} |")


if __name__ == "__main__":
    main()
