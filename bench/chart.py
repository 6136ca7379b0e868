#!/usr/bin/env python3
"""Draws bench/run.sh results as an SVG bar chart (standard library only, SVG by hand).

usage: chart.py RESULTS_JSONL OUT.svg [SUBTITLE]
One row per (variant, scenario); left panel the median requests/s of each setup (with
alerts/s beside it when a request carries several alerts), right panel the median p99 in
ms. Bars of one panel share a scale; the numbers are printed on the bars.
"""
import json
import statistics
import sys
from collections import defaultdict
from xml.sax.saxutils import escape

NAMES = {"bare": "baseline-bare", "redis": "baseline-redis", "redis-ref": "baseline-redis-ref",
         "ag-memory": "alertgate-memory", "ag-redis": "alertgate-redis", "am": "alertmanager",
         "ag-memory-alt": "alertgate-memory (alt)", "ag-redis-alt": "alertgate-redis (alt)"}
COLORS = {"bare": "#9e9e9e", "redis": "#bdbdbd", "redis-ref": "#757575",
          "ag-memory": "#1f77b4", "ag-redis": "#d62728", "am": "#ff7f0e",
          "ag-memory-alt": "#aec7e8", "ag-redis-alt": "#ff9896"}
ORDER = list(NAMES)
BAR, GAP, LABEL_W, PANEL_W, PAD = 16, 4, 150, 300, 16


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    subtitle = sys.argv[3] if len(sys.argv) > 3 else ""
    groups = defaultdict(list)
    keys = []
    for r in rows:
        k = (r["variant"], r["scenario"])
        if k not in keys:
            keys.append(k)
        groups[k + (r["setup"],)].append(r)
    svg = []
    y = 58
    width = LABEL_W + 2 * PANEL_W + 3 * PAD + 130
    for v, sc in keys:
        setups = sorted({s for (vv, ss, s) in groups if (vv, ss) == (v, sc)},
                        key=lambda s: ORDER.index(s) if s in ORDER else 99)
        rps = {s: statistics.median([r["rps"] for r in groups[(v, sc, s)]]) for s in setups}
        alerts = {s: statistics.median([r["rps"] * r.get("batch", 1) for r in groups[(v, sc, s)]]) for s in setups}
        p99 = {s: statistics.median([r["p99_us"] for r in groups[(v, sc, s)]]) / 1000 for s in setups}
        svg.append(f'<text x="{PAD}" y="{y}" font-weight="bold">{escape(sc)}'
                   f'{"" if v == "preload=0,mappings=0" else " (" + escape(v) + ")"}</text>')
        y += 8
        max_r, max_p = max(rps.values()) or 1, max(p99.values()) or 1
        x0 = PAD + LABEL_W
        x1 = x0 + PANEL_W + PAD + 60
        for s in setups:
            c = COLORS.get(s, "#444")
            svg.append(f'<text x="{x0 - 6}" y="{y + BAR - 4}" text-anchor="end">{escape(NAMES.get(s, s))}</text>')
            w = max(1, rps[s] / max_r * PANEL_W)
            extra = f" ({alerts[s]:,.0f} alerts/s)" if alerts[s] != rps[s] else ""
            svg.append(f'<rect x="{x0}" y="{y}" width="{w:.1f}" height="{BAR}" fill="{c}"/>')
            label = f"{rps[s]:,.0f}{extra}"
            # Inside the bar when it fits (~6.5 px a character), else just after it.
            if w >= 6.5 * len(label) + 8:
                svg.append(f'<text x="{x0 + 4}" y="{y + BAR - 4}" fill="#fff" font-size="11">{label}</text>')
            else:
                svg.append(f'<text x="{x0 + w + 4}" y="{y + BAR - 4}" font-size="11">{label}</text>')
            w = max(1, p99[s] / max_p * PANEL_W)
            svg.append(f'<rect x="{x1}" y="{y}" width="{w:.1f}" height="{BAR}" fill="{c}" opacity="0.75"/>')
            svg.append(f'<text x="{x1 + w + 4}" y="{y + BAR - 4}" font-size="11">{p99[s]:.2f} ms</text>')
            y += BAR + GAP
        y += 22
    head = [f'<text x="{PAD}" y="20" font-size="15" font-weight="bold">alertgate bench: requests/s (higher is better) '
            f'and p99 latency (lower is better)</text>',
            f'<text x="{PAD}" y="38" font-size="11" fill="#555">{escape(subtitle)}</text>',
            f'<text x="{PAD + LABEL_W}" y="52" font-size="11" fill="#555">requests/s (median)</text>',
            f'<text x="{PAD + LABEL_W + PANEL_W + PAD + 60}" y="52" font-size="11" fill="#555">p99 ms (median)</text>']
    doc = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" viewBox="0 0 {width} {y}" '
           f'font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="#fff"/>\n'
           + "\n".join(head + svg) + "\n</svg>\n")
    with open(sys.argv[2], "w") as f:
        f.write(doc)


if __name__ == "__main__":
    main()
