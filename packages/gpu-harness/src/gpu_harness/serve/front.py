"""The HTTP side's view of the engine: submit, cancel, token hand-over, and the timeline endpoints' calls.

Two implementations behind one interface (`EngineFront`): `InProcessFront`, the engine on a thread of the
server process (EngineDriver), and `engine_proc.ProcessFront`, the engine in a process of its own (serve
--engine-process). `engine_call` is what the timeline endpoints run where the engine lives. The routes
(app.py) talk to the engine only through a front.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from ..engine.base import Engine, EngineRequest
from ..engine.driver import EngineDriver
from ..timeline import Timeline

#: The calls a front answers (`EngineFront.call`): the engine's counters, the two logs as CSV, the run
#: manifest, writing the logs to a folder, dropping them.
CALLS = ("stats", "iterations", "tokens", "admissions", "run", "flush", "reset")


def engine_call(
    what: str, engine: Engine, timeline: Timeline, run_info: dict[str, Any], log_dir: str | None
) -> Any:
    """Answer one of CALLS where the engine lives, on the engine thread between steps (where a step's row and
    its tokens are both recorded)."""
    if what == "stats":
        return {
            "kv_tokens_in_use": engine.kv_tokens_in_use(),
            "has_work": engine.has_work(),
            "counters": engine.counters(),
            "knobs": engine.knobs(),
        }
    if what == "iterations":
        return timeline.iterations_csv()
    if what == "tokens":
        return timeline.tokens_csv()
    if what == "admissions":
        return timeline.admissions_csv()
    if what == "run":
        return timeline.manifest(run_info)
    if what == "flush":
        if log_dir is None:
            raise ValueError("flush needs a log folder")
        return [str(p) for p in timeline.write(log_dir, run_info)]
    if what == "reset":
        timeline.reset()
        return {"reset": True, "resets": timeline.resets}
    raise ValueError(f"unknown engine call {what!r}: expected one of {', '.join(CALLS)}")


def stop_engine(
    driver: EngineDriver, engine: Engine, timeline: Timeline, run_info: dict[str, Any], log_dir: str | None
) -> list[str]:
    """Stop the driver thread, write the logs to log_dir when given, release the engine; the paths written."""
    driver.stop()
    paths = [] if log_dir is None else [str(p) for p in timeline.write(log_dir, run_info)]
    engine.close()
    return paths


class EngineFront(Protocol):
    """What the routes need from the engine, wherever it runs."""

    name: str
    run_info: dict[str, Any]

    def max_context(self) -> int: ...

    def submit(self, req: EngineRequest) -> int:
        """Queue a request; its on_token/on_finish must reach the event loop through `hand_over`."""

    def cancel(self, ticket: int) -> None: ...

    def hand_over(self, loop: asyncio.AbstractEventLoop, fn: Any, arg: Any) -> None:
        """Get fn(arg) called on `loop` (called from wherever a request's callbacks run)."""

    async def call(self, what: str, log_dir: str | None = None) -> Any: ...

    @property
    def last_error(self) -> str | None: ...

    def close(self, log_dir: str | None) -> list[str]:
        """Stop the engine; write the logs to log_dir first when given (returns the paths written)."""


class InProcessFront:
    """The engine on its driver thread in this process; tokens reach the loop per token (call_soon_threadsafe)
    or through a StepMailbox (one wakeup per flush)."""

    def __init__(
        self,
        engine: Engine,
        driver: EngineDriver,
        timeline: Timeline,
        run_info: dict[str, Any],
        mailbox: Any = None,
    ) -> None:
        self.engine = engine
        self.driver = driver
        self.timeline = timeline
        self.run_info = run_info
        self.mailbox = mailbox
        self.name = engine.name

    def max_context(self) -> int:
        return self.engine.max_context()

    def submit(self, req: EngineRequest) -> int:
        return self.driver.submit(req)

    def cancel(self, ticket: int) -> None:
        self.driver.cancel(ticket)

    def hand_over(self, loop: asyncio.AbstractEventLoop, fn: Any, arg: Any) -> None:
        if self.mailbox is not None:
            self.mailbox.post(loop, fn, arg)
        else:
            loop.call_soon_threadsafe(fn, arg)

    async def call(self, what: str, log_dir: str | None = None) -> Any:
        # Every call runs on the engine thread between steps: with per-token delivery a request's last token
        # (and its [DONE]) can reach the client while its step is still being recorded, so a timeline read
        # from this thread could miss that step's row.
        fut = self.driver.query(lambda: engine_call(what, self.engine, self.timeline, self.run_info, log_dir))
        return await asyncio.wrap_future(fut)

    @property
    def last_error(self) -> str | None:
        return self.driver.last_error

    def close(self, log_dir: str | None) -> list[str]:
        return stop_engine(self.driver, self.engine, self.timeline, self.run_info, log_dir)
