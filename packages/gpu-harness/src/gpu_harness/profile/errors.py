"""Coded errors of the profiler. Owns the closed set of codes; never prints or exits (the CLI does)."""

from __future__ import annotations

from typing import Literal

ProfileErrorCode = Literal[
    "PROFILE_BAD_FLAG",
    "PROFILE_BAD_CONFIG",
    "PROFILE_UNSUPPORTED",
    "PROFILE_DEVICE",
    "PROFILE_WRITE",
]


class ProfileError(Exception):
    """A profiler failure with a stable code; the message says what, where and what was expected."""

    def __init__(self, code: ProfileErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code: ProfileErrorCode = code


def is_profile_error(err: object) -> bool:
    """True when err is a ProfileError."""
    return isinstance(err, ProfileError)
