#!/usr/bin/env python3
"""Summarises bench/run.sh results (one JSON object per wrk run) as a markdown table.

usage: report.py RESULTS_JSONL
Per (variant, scenario, setup): medians over rounds of requests/s, p50, p99, peak RSS,
and the total non-2xx count. Then the median of per-round ratios
alertgate-redis / baseline-redis and alertgate-memory / baseline-bare (requests/s, p99),
and, when several PRELOAD or MAPPINGS values ran, the ratio of median requests/s at the
largest value to the smallest (the other dimension held at its smallest).
"""
import json
import statistics
import sys
from collections import defaultdict

SETUP_NAMES = {
    "bare": "baseline-bare",
    "redis": "baseline-redis",
    "ag-memory": "alertgate-memory",
    "ag-redis": "alertgate-redis",
}
PAIRS = [("ag-redis", "redis"), ("ag-memory", "bare")]


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
    out.append("| variant | scenario | setup | rounds | req/s (median) | p50 ms | p99 ms | peak RSS MiB | non-2xx | socket errors | max load1 |")
    out.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
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
                out.append(
                    f"| {v} | {sc} | {SETUP_NAMES.get(st, st)} | {len(g)} | {rps:,.0f} | "
                    f"{fmt_ms(med([r['p50_us'] for r in g]))} | {fmt_ms(med([r['p99_us'] for r in g]))} | "
                    f"{med([r['rss_kb'] for r in g]) / 1024:.1f} | {sum(r['non2xx'] for r in g)} | {errs} | "
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

    scale("preload", "mappings")
    scale("mappings", "preload")
    print("\n".join(out))


if __name__ == "__main__":
    main()
