"""`python -m gpu_harness.profile ...`: the profiler CLI on its own."""

from __future__ import annotations

import argparse
import sys

from .cli import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    """Parse flags and run; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m gpu_harness.profile")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
