"""What the eleventh session's GPU probes (chunk_ab.py, host_ab.py) write: NAME.json (meta and points) and NAME.md."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def write_results(
    args: argparse.Namespace,
    name: str,
    points: list[dict[str, Any]],
    text: str,
    **meta: Any,
) -> None:
    """Writes args.out/NAME.json ({meta: the given fields plus every argument, points}) and args.out/NAME.md
    (`text`), and prints the text."""
    args.out.mkdir(parents=True, exist_ok=True)
    meta.update(
        {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    )
    (args.out / f"{name}.json").write_text(
        json.dumps({"meta": meta, "points": points}, indent=1)
    )
    (args.out / f"{name}.md").write_text(text)
    print(text, end="")
