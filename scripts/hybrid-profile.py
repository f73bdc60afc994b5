#!/usr/bin/env python3
"""One Vidur compute profile from two of the same model and GPU: every row of BASE, with the decode rows' (is_prefill
False) attention times taken from DECODE_FROM, then the manifest of BASE with a `hybrid` entry saying so.

  hybrid-profile.py BASE_ROOT DECODE_FROM_ROOT OUT_ROOT MODEL_PATH

e.g. data/h200-qwen3-0.6b/profiles data/h200-qwen3-0.6b/profiles-engine tmp/profiles-hybrid compute/h200/Qwen/Qwen3-0.6B.
The two attention.csv files must hold the same grid (the same key columns row for row, as two runs of
`gpu-harness profile` with one --max-seq-len do); mlp.csv is BASE's. Written to temp files, then renamed. Runs in the
project venv (it reads the key columns from gpu_harness's profile schema): .venv/bin/python scripts/hybrid-profile.py.
"""

import csv
import json
import os
import sys
from pathlib import Path

from gpu_harness.profile.schema import ATTENTION_INPUT_COLUMNS

KEYS = ATTENTION_INPUT_COLUMNS  # the columns that key a row of attention.csv


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as f:
        r = csv.DictReader(f)
        return list(r.fieldnames or []), list(r)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    base, other, out = (Path(a) / argv[3] for a in argv[:3])
    cols, rows = read(base / "attention.csv")
    ocols, orows = read(other / "attention.csv")
    decode_cols = [c for c in cols if c.startswith("time_stats.attn_decode.")]
    missing = [c for c in (*KEYS, *decode_cols) if c not in ocols]
    if missing:
        print(
            f"hybrid-profile: {other / 'attention.csv'}: no column {missing[0]}",
            file=sys.stderr,
        )
        return 2
    by_key = {tuple(r[k] for k in KEYS): r for r in orows}
    replaced = 0
    for i, r in enumerate(rows):
        if r["is_prefill"] != "False":
            continue
        o = by_key.get(tuple(r[k] for k in KEYS))
        if o is None:
            print(
                f"hybrid-profile: {base / 'attention.csv'} row {i + 2}: no decode row with its keys in {other}",
                file=sys.stderr,
            )
            return 2
        for c in decode_cols:
            r[c] = o[c]
        replaced += 1
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "attention.csv.tmp"
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, out / "attention.csv")
    write_atomic(out / "mlp.csv", (base / "mlp.csv").read_text())
    manifest = json.loads((base / "profile.json").read_text())
    manifest["hybrid"] = {
        "base": str(base),
        "decode_attention_from": str(other),
        "decode_rows_replaced": replaced,
        "columns": decode_cols,
        "command": "scripts/hybrid-profile.py " + " ".join(argv),
    }
    write_atomic(out / "profile.json", json.dumps(manifest, indent=2) + "\n")
    print(
        f"hybrid-profile: {replaced} decode rows of {len(rows)} from {other} -> {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
