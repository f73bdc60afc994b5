"""The engine in a process of its own (serve --engine-process): the HTTP side and the step loop share no GIL.

In one process the HTTP thread's Python work (a request's JSON, each token's SSE chunk) takes the interpreter
whenever the engine thread lets go of it, and the engine thread does that at every torch call of a step's
input preparation: the step's host time then grows with the HTTP traffic, which no simulator's per-batch CPU
overhead sees (fifteenth H200 session). Here the server process runs aiohttp only and a spawned child runs the
model, the engine, its driver thread and the timeline; they talk over one duplex pipe:

- server -> engine: ("add", ticket, request_id, prompt_ids, max_tokens, ignore_eos), ("cancel", ticket),
  ("call", query_id, what, log_dir), ("stop", log_dir);
- engine -> server: ("ready", info) or ("error", code, message) once at start; then ("events", [...]) with a
  step's token and finish events, sent by the driver's hook (after the step, or with --token-delivery overlap
  once the next step is launched), ("reply", query_id, ok, value), ("stopped", paths).

`ProcessFront` is the server side (an EngineFront, front.py); `engine_main` the child's.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import threading
import traceback
from typing import Any

from ..engine.base import EngineRequest
from ..errors import HarnessError
from .front import engine_call, stop_engine

#: Seconds to wait for the engine process to stop (and write its logs) before it is killed.
STOP_TIMEOUT_S = 60.0


class ProcessFront:
    """The server side of the pipe. Event-loop thread only; a loop reader reads the pipe."""

    def __init__(self, proc: Any, conn: Any, info: dict[str, Any]) -> None:
        self._proc = proc
        self._conn = conn
        self.name: str = info["name"]
        self._max_context: int = info["max_context"]
        self.run_info: dict[str, Any] = info["run_info"]
        self._tickets = itertools.count()
        self._queries = itertools.count()
        self._live: dict[int, EngineRequest] = {}
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._last_error: str | None = None
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(conn.fileno(), self._on_readable)
        self._closed = False

    @classmethod
    def start(cls, opts: Any) -> ProcessFront:
        """Spawn the engine process and wait until it has built, warmed up and probed the engine (or failed:
        its HarnessError is raised here). Call from the event loop's thread."""
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=engine_main, args=(opts, child), name="gpu-harness-engine", daemon=True)
        proc.start()
        child.close()
        try:
            msg = parent.recv()
        except EOFError:
            proc.join(timeout=5)
            raise HarnessError(
                "HARNESS_ENGINE", f"the engine process exited before it was ready (code {proc.exitcode})"
            ) from None
        if msg[0] == "error":
            proc.join(timeout=STOP_TIMEOUT_S)
            raise HarnessError(msg[1], msg[2])
        return cls(proc, parent, msg[1])

    def max_context(self) -> int:
        return self._max_context

    def submit(self, req: EngineRequest) -> int:
        ticket = next(self._tickets)
        if self._closed or not self._proc.is_alive():
            req.on_finish("error", self._last_error or "the engine process has stopped")
            return ticket
        self._live[ticket] = req
        self._conn.send(
            (
                "add",
                ticket,
                req.request_id,
                req.prompt_token_ids,
                req.max_tokens,
                req.ignore_eos,
                req.front_times,
            )
        )
        return ticket

    def cancel(self, ticket: int) -> None:
        if ticket in self._live and not self._closed:
            self._conn.send(("cancel", ticket))

    def hand_over(self, loop: asyncio.AbstractEventLoop, fn: Any, arg: Any) -> None:
        fn(arg)  # the callbacks already run on the loop (the pipe's reader)

    async def call(self, what: str, log_dir: str | None = None) -> Any:
        if self._closed or not self._proc.is_alive():
            raise RuntimeError("the engine process has stopped")
        qid = next(self._queries)
        fut: asyncio.Future[Any] = self._loop.create_future()
        self._waiting[qid] = fut
        self._conn.send(("call", qid, what, log_dir))
        return await fut

    @property
    def last_error(self) -> str | None:
        return self._last_error

    def _on_readable(self) -> None:
        try:
            while self._conn.poll():
                self._dispatch(self._conn.recv())
        except (EOFError, OSError):
            self._engine_gone()

    def _dispatch(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "events":
            for event in msg[1]:
                req = self._live.get(event[0])
                if req is None:
                    continue
                if event[1] == "tok":
                    req.on_token(event[2], event[3], event[4])
                else:
                    del self._live[event[0]]
                    req.on_finish(event[2], event[3])
        elif kind == "reply":
            fut = self._waiting.pop(msg[1], None)
            if fut is not None and not fut.done():
                if msg[2]:
                    fut.set_result(msg[3])
                else:
                    fut.set_exception(RuntimeError(msg[3]))
        elif kind == "last_error":
            self._last_error = msg[1]

    def _engine_gone(self) -> None:
        """The pipe closed under us: the engine process died. Every request and query still open fails."""
        self._loop.remove_reader(self._conn.fileno())
        self._proc.join(timeout=1)
        message = f"the engine process exited (code {self._proc.exitcode})"
        self._last_error = self._last_error or message
        live, self._live = self._live, {}
        for req in live.values():
            req.on_finish("error", message)
        waiting, self._waiting = self._waiting, {}
        for fut in waiting.values():
            if not fut.done():
                fut.set_exception(RuntimeError(message))

    def close(self, log_dir: str | None) -> list[str]:
        """Ask the engine process to stop (writing its logs to log_dir first); wait, and kill it if stuck."""
        if self._closed:
            return []
        self._closed = True
        paths: list[str] = []
        try:
            self._loop.remove_reader(self._conn.fileno())
            self._conn.send(("stop", log_dir))
            while self._conn.poll(STOP_TIMEOUT_S):
                msg = self._conn.recv()
                if msg[0] == "stopped":
                    paths = msg[1]
                    break
        except (EOFError, OSError):
            pass
        self._proc.join(timeout=STOP_TIMEOUT_S)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        self._conn.close()
        return paths


def engine_main(opts: Any, conn: Any) -> None:
    """The engine process: build and warm up the engine, report ready, then serve the pipe until "stop"."""
    from .server import build_engine_side, check_options, freeze_gc, make_driver

    try:
        engine, timeline, run_info = build_engine_side(opts, check_options(opts))
    except HarnessError as err:
        conn.send(("error", err.code, err.detail))
        return
    except Exception as err:  # a failure while building the model or engine: the server reports it
        conn.send(("error", "HARNESS_ENGINE", f"{type(err).__name__}: {err}\n{traceback.format_exc()}"))
        return
    send_lock = threading.Lock()

    def send(msg: tuple[Any, ...]) -> None:
        with send_lock:  # the engine thread sends events, this thread replies
            conn.send(msg)

    pending: list[tuple[Any, ...]] = []  # appended and flushed on the engine thread only
    reported: list[str | None] = [None]  # the driver's last step error, once sent

    def flush() -> None:
        if pending:
            events = pending[:]
            pending.clear()
            send(("events", events))
        if driver.last_error is not None and driver.last_error != reported[0]:
            reported[0] = driver.last_error
            send(("last_error", driver.last_error))

    driver = make_driver(opts, engine, flush)
    run_info["engine_pid"] = os.getpid()
    freeze_gc(run_info, opts.gc_freeze)
    send(("ready", {"name": engine.name, "max_context": engine.max_context(), "run_info": run_info}))
    driver.start()
    tickets: dict[int, int] = {}
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the server went away: stop without writing
            driver.stop()
            return
        kind = msg[0]
        if kind == "add":
            _, ticket, rid, prompt, max_tokens, ignore_eos, front_times = msg

            def on_token(index: int, token_id: int, t: float, ticket: int = ticket) -> None:
                pending.append((ticket, "tok", index, token_id, t))

            def on_finish(reason: str, error: str | None, ticket: int = ticket) -> None:
                tickets.pop(ticket, None)
                pending.append((ticket, "fin", reason, error))

            tickets[ticket] = driver.submit(
                EngineRequest(rid, prompt, max_tokens, ignore_eos, on_token, on_finish, front_times)
            )
        elif kind == "cancel":
            handle = tickets.get(msg[1])
            if handle is not None:
                driver.cancel(handle)
        elif kind == "call":
            _, qid, what, log_dir = msg

            def answer(fut: Any, qid: int = qid) -> None:
                err = fut.exception()
                send(
                    (
                        "reply",
                        qid,
                        err is None,
                        fut.result() if err is None else f"{type(err).__name__}: {err}",
                    )
                )

            driver.query(
                lambda what=what, log_dir=log_dir: engine_call(what, engine, timeline, run_info, log_dir)
            ).add_done_callback(answer)
        elif kind == "stop":
            send(("stopped", stop_engine(driver, engine, timeline, run_info, msg[1])))
            return
