"""Machine-readable lines on stderr that the TypeScript side parses (progress events and coded errors)."""

from __future__ import annotations

import json
import sys
from typing import Any

PREFIX = "@@vidur-bridge "


def emit(event: str, **fields: Any) -> None:
    """Writes one `@@vidur-bridge {json}` line to stderr and flushes it."""
    sys.stderr.write(PREFIX + json.dumps({"event": event, **fields}) + "\n")
    sys.stderr.flush()


class SidecarError(Exception):
    """A failure the caller can act on; `code` is one of the VidurBridgeError codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
