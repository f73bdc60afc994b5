"""Runs an engine on its own thread: a thread-safe inbox for submit/cancel, then step while there is work.

Owns threading only; the engine itself stays single-threaded. A step that raises fails the requests the
engine still holds (their on_finish gets 'error') instead of killing the thread, so the server keeps serving.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from .base import Engine, EngineRequest


class EngineDriver:
    """Thread-safe front of an Engine. `submit` returns a ticket usable with `cancel`."""

    def __init__(
        self,
        engine: Engine,
        *,
        after_step: Callable[[], None] | None = None,
        after_launch: bool = False,
        cpus: set[int] | None = None,
    ) -> None:
        self.engine = engine
        # Called on the engine thread after every pass of its loop (inbox drained, one step run): e.g. to hand
        # the step's token events to the HTTP thread at once (serve --token-delivery per-step). With
        # after_launch (serve --token-delivery overlap) it runs instead inside the next step, once that step
        # is launched on the device (the engine's on_launch hook), and after a pass only when no step follows
        # at once: the pass ran no step, or the engine has no work left.
        if after_launch and (after_step is None or not engine.supports_on_launch):
            raise ValueError(
                f"after_launch needs an after_step hook and an engine with on_launch ({engine.name})"
            )
        self._after_step = after_step
        self._after_launch = after_launch
        # The CPUs the engine thread may run on (serve --engine-cpus; None: wherever the OS puts it).
        self._cpus = cpus
        if after_launch:
            engine.on_launch = after_step
        # The engine's timeline (lean, hf-cb: `engine.timeline`), where each request's admission is
        # recorded: its arrival in the inbox (submit, any thread) and the engine thread taking it in
        # (_drain, between steps).
        self._timeline = getattr(engine, "timeline", None)
        self._inbox: deque[tuple[str, Any]] = deque()
        self._cv = threading.Condition()
        self._stop = False
        self._next_ticket = 0
        self._handles: dict[int, int] = {}
        self._live: dict[int, EngineRequest] = {}
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="engine", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, req: EngineRequest) -> int:
        inbox = None if self._timeline is None else self._timeline.now()
        with self._cv:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._inbox.append(("add", (ticket, req, inbox)))
            self._cv.notify()
        return ticket

    def cancel(self, ticket: int) -> None:
        with self._cv:
            self._inbox.append(("cancel", ticket))
            self._cv.notify()

    def call(self, fn: Any) -> None:
        """Run fn() on the engine thread between steps (e.g. to read state consistently)."""
        with self._cv:
            self._inbox.append(("call", fn))
            self._cv.notify()

    def query(self, fn: Any) -> concurrent.futures.Future[Any]:
        """Run fn() on the engine thread between steps; the future gets its result (or exception)."""
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                fut.set_result(fn())
            except Exception as err:
                fut.set_exception(err)

        self.call(run)
        return fut

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _wrap(self, ticket: int, req: EngineRequest) -> EngineRequest:
        def on_finish(reason: str, error: str | None) -> None:
            self._handles.pop(ticket, None)
            if self._live.pop(ticket, None) is None:
                return  # already ended (failed by _fail_all)
            req.on_finish(reason, error)

        return EngineRequest(
            req.request_id,
            req.prompt_token_ids,
            req.max_tokens,
            req.ignore_eos,
            req.on_token,
            on_finish,
            req.front_times,
        )

    def _drain(self) -> None:
        while True:
            with self._cv:
                if not self._inbox:
                    return
                kind, payload = self._inbox.popleft()
            if kind == "add":
                ticket, req, inbox = payload
                if inbox is not None:  # the engine has a timeline
                    self._timeline.record_admission(
                        req.request_id, inbox, self._timeline.now(), req.front_times
                    )
                wrapped = self._wrap(ticket, req)
                self._live[ticket] = req
                try:
                    self._handles[ticket] = self.engine.add_request(wrapped)
                except Exception as err:  # engine rejected it: report, keep serving
                    wrapped.on_finish("error", f"{type(err).__name__}: {err}")
            elif kind == "cancel":
                handle = self._handles.get(payload)
                if handle is not None:
                    self.engine.cancel(handle)
            else:
                payload()

    def _fail_all(self, message: str) -> None:
        for ticket in list(self._live):
            req = self._live.pop(ticket, None)
            handle = self._handles.pop(ticket, None)
            if handle is not None:
                try:
                    self.engine.cancel(handle)
                except Exception:  # the engine is already broken; the request must still end
                    pass
            if req is not None:
                req.on_finish("error", message)

    def _run(self) -> None:
        if self._cpus:
            os.sched_setaffinity(0, self._cpus)  # 0: this thread only (Linux)
        while True:
            with self._cv:
                while not self._stop and not self._inbox and not self.engine.has_work():
                    self._cv.wait(timeout=0.5)
                if self._stop:
                    return
            self._drain()
            stepped = False
            if self.engine.has_work():
                try:
                    stepped = self.engine.step()
                    if not stepped:
                        time.sleep(0.0005)  # nothing runnable yet (e.g. hf-cb between outputs): do not spin
                except Exception as err:
                    self.last_error = traceback.format_exc()
                    self._fail_all(f"engine step failed: {type(err).__name__}: {err}")
            if self._after_step is not None and not (
                self._after_launch and stepped and self.engine.has_work()
            ):
                self._after_step()
