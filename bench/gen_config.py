#!/usr/bin/env python3
"""Writes the alertgate config one bench run uses (called by bench/run.sh).

usage: gen_config.py BASE_CONFIG OUT_CONFIG EXTRA_SOURCES WORK_DIR

Starts from BASE_CONFIG (bench/config.yaml, else config.example.yaml). With
EXTRA_SOURCES > 0 it also copies the statuscake mapping EXTRA_SOURCES times under the
integration names `statuscake-bNNN` into WORK_DIR/mappings (beside all the original
mapping files), adds a source `sc-bNNN` for each (a copy of the `statuscake` source with
its integration renamed, so same token), and points the config's mappings directory there.
Prints the extra source ids, comma-separated, on stdout.

This is the one place that knows the config's shape: the keys it edits are looked up
defensively and a clear error names what it could not find.
"""
import copy
import os
import re
import shutil
import sys

import yaml

MAPPINGS_DIR_KEYS = ("mappings_dir", "mappings", "mapping_dir")


def die(msg):
    sys.exit(f"gen_config: {msg}")


def main():
    base, out, extra, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    base_dir = os.path.dirname(os.path.abspath(base))
    with open(base) as f:
        cfg = yaml.safe_load(f)
    if not isinstance(cfg, dict):
        die(f"{base}: not a YAML mapping")

    # Relative paths in the base config are relative to its own directory (or the repo
    # root, where run.sh runs): make the mappings dir absolute so OUT can live anywhere.
    key = next((k for k in MAPPINGS_DIR_KEYS if isinstance(cfg.get(k), str)), None)
    if key is not None:
        src_dir = cfg[key]
        if not os.path.isabs(src_dir):
            cand = os.path.join(base_dir, src_dir)
            src_dir = cand if os.path.isdir(cand) else os.path.abspath(src_dir)
        cfg[key] = src_dir

    # Preloads of up to a million open incidents must not meet the default max_open
    # (100 000): every bench source gets a cap above any preload.
    for src in (cfg.get("sources") or {}).values():
        if isinstance(src, dict):
            src["max_open"] = 10_000_000

    ids = []
    if extra > 0:
        if key is None:
            die(f"{base}: no mappings directory key (looked for {', '.join(MAPPINGS_DIR_KEYS)})")
        sources = cfg.get("sources")
        if not isinstance(sources, dict) or "statuscake" not in sources:
            die(f"{base}: no `sources.statuscake` to copy")
        mdir = os.path.join(work, "mappings")
        shutil.rmtree(mdir, ignore_errors=True)
        shutil.copytree(cfg[key], mdir)
        sc_files = [f for f in os.listdir(mdir) if re.search(r"statuscake.*\.ya?ml$", f)]
        if not sc_files:
            die(f"{cfg[key]}: no statuscake mapping file")
        with open(os.path.join(mdir, sc_files[0])) as f:
            sc_text = f.read()
        if not re.search(r"(?m)^integration:\s*statuscake\s*$", sc_text):
            die(f"{sc_files[0]}: no top-level `integration: statuscake` line")
        for i in range(1, extra + 1):
            integ, sid = f"statuscake-b{i:03d}", f"sc-b{i:03d}"
            text = re.sub(r"(?m)^integration:\s*statuscake\s*$", f"integration: {integ}", sc_text)
            with open(os.path.join(mdir, f"{integ}.yaml"), "w") as f:
                f.write(text)
            src = copy.deepcopy(sources["statuscake"])
            if isinstance(src, dict):
                for k in ("integration", "mapping"):
                    if src.get(k) == "statuscake":
                        src[k] = integ
            sources[sid] = src
            ids.append(sid)
        cfg[key] = mdir

    with open(out, "w") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    print(",".join(ids))


if __name__ == "__main__":
    main()
