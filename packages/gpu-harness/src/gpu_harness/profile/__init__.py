"""The Vidur-schema profiler: times the reference server's modules and attention kernels per Vidur op and
writes Vidur's `mlp.csv` / `attention.csv` plus a `profile.json` manifest. The CLI lives in cli.py."""

from .errors import ProfileError, is_profile_error
from .runner import ProfileOptions, ProfileResult, run_profile
from .schema import ATTENTION_COLUMNS, MLP_COLUMNS

__all__ = [
    "ATTENTION_COLUMNS",
    "MLP_COLUMNS",
    "ProfileError",
    "ProfileOptions",
    "ProfileResult",
    "is_profile_error",
    "run_profile",
]
