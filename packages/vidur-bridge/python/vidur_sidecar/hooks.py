"""Runtime wrappers around Vidur 0.0.26 classes (no source edits).

- Offline inputs: the predictor's `_get_input_files` (a Hugging Face hub download in 0.0.26) returns our
  local CSV paths, and `_load_predictions_from_hf` fails at once instead of trying the network.
- Deterministic forests: `RandomForestRegressor(random_state=seed)` (Vidur leaves it unseeded).
- Progress: each trained / predicted op emits a progress line; the simulation reports completed requests.
- Recorder: `MetricsStore.on_batch_end` is wrapped to log every batch end and every output token.
- Front gate (optional): `RequestArrivalEvent` is wrapped so a request reaches the scheduler later by the serving
  front's delay at its arrival (FrontGate), the front being fed every batch's tokens as the simulation emits them.
"""

from __future__ import annotations

import csv
from collections import deque
from typing import Any, TextIO

from .protocol import emit


class Recorder:
    """Streams batch rows and token times to CSV files in the run's raw output folder."""

    def __init__(self, batches_path: str, tokens_path: str, total_requests: int) -> None:
        self._batches_file: TextIO = open(batches_path, "w", newline="", encoding="utf-8")
        self._tokens_file: TextIO = open(tokens_path, "w", newline="", encoding="utf-8", buffering=1 << 20)
        self._batches = csv.writer(self._batches_file, lineterminator="\n")
        self._tokens = csv.writer(self._tokens_file, lineterminator="\n")
        self._batches.writerow(
            [
                "step",
                "start",
                "end",
                "num_prefill_tokens",
                "num_decode_tokens",
                "batch_size",
                "kv_tokens_in_use",
                "request_ids",
                "cpu_overhead",
            ]
        )
        self._tokens.writerow(["request_id", "token_index", "t"])
        self._emitted: dict[int, int] = {}
        self._orig_prefill: dict[int, int] = {}
        self._step = 0
        self._done = 0
        self._total = total_requests
        self._next_report = 0
        self.num_blocks: int | None = None
        self.block_size = 16
        self.gate: FrontGate | None = None

    def on_batch_end(self, time: float, batch: Any, memory_usage_percent: float) -> None:
        prefill_tokens = 0
        decode_tokens = 0
        emitted = 0
        ids = []
        for request, q in zip(batch.requests, batch.num_q_tokens, strict=True):
            rid = int(request.id)
            ids.append(str(rid))
            # Restarts rewrite num_prefill_tokens; the first value seen is the request's real prompt length.
            orig = self._orig_prefill.setdefault(rid, int(request.num_prefill_tokens))
            before = self._emitted.get(rid, 0)
            if q == 1 and before >= 1:
                decode_tokens += 1
            else:
                prefill_tokens += int(q)
            # Output tokens so far = processed tokens beyond the original prompt (Vidur counts the first
            # output token at prefill completion); a recompute after a restart emits nothing new.
            produced = int(request.num_processed_tokens) - orig if request.is_prefill_complete else 0
            while before < produced:
                self._tokens.writerow([rid, before, repr(float(time))])
                before += 1
                emitted += 1
            self._emitted[rid] = before
            if request.completed:
                self._done += 1
        if self.gate is not None:
            self.gate.on_tokens(float(time), emitted)
        kv_in_use = ""
        if self.num_blocks:
            kv_in_use = str(round(memory_usage_percent * self.num_blocks / 100) * self.block_size)
        start = repr(float(batch.scheduled_at))
        cpu = repr(float(getattr(batch, "_vb_cpu_overhead_s", 0.0)))
        self._batches.writerow(
            [self._step, start, repr(float(time)), prefill_tokens, decode_tokens, len(ids), kv_in_use, " ".join(ids), cpu]
        )
        self._step += 1
        if self._done >= self._next_report or self._done == self._total:
            emit("progress", phase="simulate", done=self._done, total=self._total)
            self._next_report = self._done + max(1, self._total // 20)
            if self._done == self._total:
                self._next_report = self._total + 1

    def close(self) -> None:
        self._batches_file.close()
        self._tokens_file.close()


class FrontGate:
    """The serving front (one worker) between the clients and the engine, inside the simulation.

    Each batch's output tokens reach the front `handoff_s` after the batch ends (the server hands a step's tokens
    over once the next step is launched); the front writes them at `per_token_s` each, plus `per_step_s` per batch,
    one batch after another. A request arriving at t is read by the front once the work handed over by t is done,
    so it reaches the scheduler at t + `constant_s` + that backlog. Causal: batches end and requests arrive in
    simulated time order, so the backlog at t only holds batches that ended before t.
    """

    def __init__(self, constant_s: float, per_token_s: float, per_step_s: float, handoff_s: float) -> None:
        self.constant_s = constant_s
        self.per_token_s = per_token_s
        self.per_step_s = per_step_s
        self.handoff_s = handoff_s
        self._pending: deque[tuple[float, int]] = deque()  # (hand-over time, tokens) not yet started
        self._done = float("-inf")  # when the front finishes the work started so far
        self.delays: dict[int, float] = {}

    def on_tokens(self, time: float, tokens: int) -> None:
        """A batch ended at `time` with `tokens` output tokens."""
        if tokens > 0:
            self._pending.append((time + self.handoff_s, tokens))

    def delay(self, request_id: int, time: float) -> float:
        """The request's delay from its arrival at `time` to the scheduler (recorded per request)."""
        while self._pending and self._pending[0][0] <= time:
            at, tokens = self._pending.popleft()
            self._done = max(at, self._done) + self.per_step_s + tokens * self.per_token_s
        d = self.constant_s + max(0.0, self._done - time)
        self.delays[request_id] = d
        return d


def install(profile: dict[str, str | None], recorder: Recorder, rf_random_state: int | None, train_total: int) -> None:
    """Installs every wrapper; call after Vidur is importable and before SimulationConfig is built."""
    from vidur.execution_time_predictor import sklearn_execution_time_predictor as skl
    from vidur.execution_time_predictor.random_forrest_execution_time_predictor import (
        RandomForrestExecutionTimePredictor,
    )
    from vidur.metrics.metrics_store import MetricsStore

    def get_input_files(self: Any) -> tuple[str, str, str, str]:
        return (
            str(profile["mlp"]),
            str(profile["attention"]),
            str(profile.get("all_reduce") or ""),
            str(profile.get("send_recv") or ""),
        )

    def no_hub(self: Any) -> Any:
        raise RuntimeError("vidur-bridge runs offline: predictions are trained from the local profile")

    skl.SklearnExecutionTimePredictor._get_input_files = get_input_files  # type: ignore[method-assign]
    skl.SklearnExecutionTimePredictor._load_predictions_from_hf = no_hub  # type: ignore[method-assign]

    counters = {"train": 0, "predict": 0}
    orig_train = skl.SklearnExecutionTimePredictor._train_model
    orig_predict = skl.SklearnExecutionTimePredictor._get_model_prediction

    def train_model(self: Any, model_name: str, model_type: Any, df: Any, feature_cols: Any, target_col: str) -> Any:
        emit("progress", phase="train", step=model_name, done=counters["train"], total=train_total, rows=len(df))
        model = orig_train(self, model_name, model_type, df, feature_cols, target_col)
        counters["train"] += 1
        emit("progress", phase="train", step=model_name, done=counters["train"], total=train_total)
        return model

    def get_model_prediction(self: Any, model_name: str, model_type: Any, model: Any, X: Any) -> Any:
        out = orig_predict(self, model_name, model_type, model, X)
        counters["predict"] += 1
        emit("progress", phase="predict", step=model_name, done=counters["predict"], total=train_total, rows=len(X))
        return out

    skl.SklearnExecutionTimePredictor._train_model = train_model  # type: ignore[method-assign]
    skl.SklearnExecutionTimePredictor._get_model_prediction = get_model_prediction  # type: ignore[method-assign]

    if rf_random_state is not None:
        from sklearn.ensemble import RandomForestRegressor

        def seeded_estimator(self: Any) -> Any:
            return RandomForestRegressor(random_state=rf_random_state)

        RandomForrestExecutionTimePredictor._get_estimator = seeded_estimator  # type: ignore[method-assign]

    orig_init = MetricsStore.__init__
    orig_on_batch_end = MetricsStore.on_batch_end

    def init(self: Any, simulation_config: Any) -> None:
        orig_init(self, simulation_config)
        # The replica scheduler fills cache_config.num_blocks in place later; keep the object, not the value.
        recorder._cache_config = simulation_config.cluster_config.cache_config  # type: ignore[attr-defined]
        recorder.block_size = int(simulation_config.cluster_config.cache_config.block_size)

    def on_batch_end(self: Any, time: float, batch: Any, replica_id: Any, memory_usage_percent: float) -> None:
        cache_config = getattr(recorder, "_cache_config", None)
        if cache_config is not None and cache_config.num_blocks:
            recorder.num_blocks = int(cache_config.num_blocks)
        recorder.on_batch_end(time, batch, memory_usage_percent)
        orig_on_batch_end(self, time, batch, replica_id, memory_usage_percent)

    MetricsStore.__init__ = init  # type: ignore[method-assign]
    MetricsStore.on_batch_end = on_batch_end  # type: ignore[method-assign]


def install_front_gate(gate: FrontGate, recorder: Recorder) -> None:
    """Delays every request's arrival at the scheduler by the gate's delay at its arrival (a second arrival
    event at the later time; the request keeps its arrival time, so Vidur's latencies still count from it)."""
    from vidur.events.request_arrival_event import RequestArrivalEvent

    recorder.gate = gate
    orig = RequestArrivalEvent.handle_event

    def handle_event(self: Any, scheduler: Any, metrics_store: Any) -> Any:
        if getattr(self, "_vb_gated", False):
            return orig(self, scheduler, metrics_store)
        d = gate.delay(int(self._request.id), float(self.time))
        later = RequestArrivalEvent(self.time + d, self._request)
        later._vb_gated = True  # type: ignore[attr-defined]
        return [later]

    RequestArrivalEvent.handle_event = handle_event  # type: ignore[method-assign]
