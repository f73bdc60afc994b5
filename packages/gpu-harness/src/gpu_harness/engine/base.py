"""The engine interface the HTTP layer and the timeline talk to; engines (lean, hf-cb) implement it.

An engine is single-threaded: `add_request`, `cancel` and `step` are called from one thread only (the
driver's, see driver.py). It reports each generated token through the request's `on_token` callback with its
engine time, records one iteration per step into the timeline, and describes its knobs as a dict.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: (token_index, token_id, t_seconds_on_timeline) for each generated token, in order.
TokenCallback = Callable[[int, int, float], None]
#: (finish_reason: "length" | "stop" | "cancelled" | "error", error message or None).
FinishCallback = Callable[[str, "str | None"], None]


@dataclass
class EngineRequest:
    """One generation request. `request_id` is the workload id used in logs (X-Request-Id) or a server id."""

    request_id: str
    prompt_token_ids: list[int]
    max_tokens: int
    ignore_eos: bool
    on_token: TokenCallback
    on_finish: FinishCallback
    #: Where the HTTP front stamped it (raw `time.perf_counter()`, the clock every process of the host
    #: shares): its handler starting, and its hand-over to the engine (submit). None where no front did.
    front_times: tuple[float, float] | None = None


class Engine(ABC):
    """A serving engine with a step loop. All methods run on the driver thread."""

    name: str = "abstract"
    #: Called by `step` right after the step is launched on the device and before the host waits for it, when
    #: the engine supports it (`supports_on_launch`): serve --token-delivery overlap hands the previous step's
    #: tokens to the HTTP thread there, so that their Python work runs while the device runs this step.
    on_launch: Callable[[], None] | None = None
    supports_on_launch: bool = False

    @abstractmethod
    def add_request(self, req: EngineRequest) -> int:
        """Queue a request; returns the engine's handle for `cancel`. Input is validated beforehand."""

    @abstractmethod
    def cancel(self, handle: int) -> bool:
        """Drop a request and free its KV now; its on_finish gets 'cancelled'. False when unknown/finished."""

    @abstractmethod
    def step(self) -> bool:
        """Run one iteration; False when there was nothing to run."""

    @abstractmethod
    def has_work(self) -> bool:
        """True while any request is waiting or running."""

    @abstractmethod
    def knobs(self) -> dict[str, Any]:
        """Scheduler/cache settings: engine, token_budget, batch_size_cap, block_size, num_blocks, ..."""

    @abstractmethod
    def kv_tokens_in_use(self) -> int:
        """KV tokens currently held by running requests (0 when idle)."""

    @abstractmethod
    def max_context(self) -> int:
        """The largest prompt + max_tokens a request may ask for."""

    def counters(self) -> dict[str, int]:
        """Cumulative engine counters (e.g. preemptions); empty when the engine has none."""
        return {}

    def warmup(self) -> None:  # noqa: B027 - optional hook
        """Run representative shapes (and capture CUDA graphs) before serving."""

    def probe(self, repeats: int) -> dict[str, Any] | None:
        """Time the machine probe's fixed step compositions (engine/probe.py) before serving; None when the
        engine has no step runner to time."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (threads, caches)."""
