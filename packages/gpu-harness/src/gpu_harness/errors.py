"""Coded errors of the server, engines, model loader and bench. Owns the closed set of codes; never prints."""

from __future__ import annotations

from typing import Literal

HarnessErrorCode = Literal[
    "HARNESS_BAD_CONFIG",
    "HARNESS_BAD_WEIGHTS",
    "HARNESS_BAD_FLAG",
    "HARNESS_BAD_REQUEST",
    "HARNESS_CONTEXT_OVERFLOW",
    "HARNESS_ENGINE",
    "HARNESS_UNSUPPORTED",
    "HARNESS_WRITE",
]


class HarnessError(Exception):
    """A failure with a stable code; the message says what failed, where, and what was expected."""

    def __init__(self, code: HarnessErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code: HarnessErrorCode = code
        self.detail = message


def is_harness_error(err: object) -> bool:
    """True when err is a HarnessError."""
    return isinstance(err, HarnessError)
