"""Sarathi-style chunked-prefill scheduler, the same policy as Vidur's `sarathi` replica scheduler.

Pure Python (no torch): decides, per iteration, which requests run and how many tokens each processes, and
owns the KV block accounting and slot assignment. It does not run the model.
Policy (README "Scheduler policy"):

1. Running requests are kept in arrival order. Each one whose prefill is complete decodes 1 token; decodes are
   never limited by the token budget, only by `batch_size_cap` requests per iteration. Before a decode, the
   request must be able to grow: if no KV block is free, the newest running request not yet placed in this
   batch is preempted (its blocks freed, put at the front of the waiting queue, later recomputed as a prefill
   of prompt + tokens generated so far); if none is left, the request itself is preempted.
2. Partially prefilled running requests then take prefill chunks, in arrival order, from what is left of the
   `chunk_size` token budget.
3. Waiting requests are admitted in FIFO order while fewer than `batch_size_cap` requests hold KV and sit in
   this batch, the budget is not spent, and `ceil(prefill_tokens / block_size)` blocks can be reserved leaving
   `watermark_blocks` free; admission stops at the first request that does not fit (no skipping ahead).
A decode that needs a new block takes exactly one (a request holds ceil(tokens / block_size) blocks).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field


@dataclass
class Sequence:
    """A request's scheduling state. `tokens` = prompt + generated; KV holds `num_computed` of them."""

    seq_id: int
    arrival: int
    prompt_len: int
    max_tokens: int
    tokens: list[int]
    num_computed: int = 0
    prefill_target: int = 0
    num_output: int = 0
    num_restarts: int = 0
    slot: int | None = None
    finished: bool = False

    def __post_init__(self) -> None:
        self.prefill_target = len(self.tokens)

    @property
    def prefill_done(self) -> bool:
        """True once this incarnation's prefill (prompt, or prompt + outputs after a restart) is in KV."""
        return self.num_computed >= self.prefill_target


@dataclass
class ScheduledBatch:
    """One iteration: (sequence, number of tokens it processes); decodes first, then prefill chunks."""

    items: list[tuple[Sequence, int]] = field(default_factory=list)
    preempted: list[Sequence] = field(default_factory=list)

    @property
    def num_prefill_tokens(self) -> int:
        return sum(n for s, n in self.items if not s.prefill_done)

    @property
    def num_decode_tokens(self) -> int:
        return sum(n for s, n in self.items if s.prefill_done)


class SarathiScheduler:
    """Token budget `chunk_size`, request cap `batch_size_cap`, `num_blocks` blocks of `block_size` tokens."""

    def __init__(
        self,
        *,
        chunk_size: int,
        batch_size_cap: int,
        block_size: int,
        num_blocks: int,
        watermark_blocks_fraction: float = 0.01,
    ) -> None:
        if chunk_size < 1 or batch_size_cap < 1 or block_size < 1 or num_blocks < 1:
            raise ValueError("chunk_size, batch_size_cap, block_size and num_blocks must be >= 1")
        self.chunk_size = chunk_size
        self.batch_size_cap = batch_size_cap
        self.block_size = block_size
        self.num_blocks = num_blocks
        self.watermark_blocks = int(watermark_blocks_fraction * num_blocks)
        self.waiting: list[Sequence] = []
        self.running: list[Sequence] = []
        self.allocated: dict[int, int] = {}
        self.num_allocated = 0
        self.num_preemptions = 0
        self.recomputed_tokens = 0
        self.preempted_in_prefill = 0
        self._free_slots = list(range(batch_size_cap))
        heapq.heapify(self._free_slots)

    # -- block accounting -------------------------------------------------------------------------------
    def _can_allocate(self, seq: Sequence) -> bool:
        if seq.seq_id not in self.allocated:
            need = math.ceil(seq.prefill_target / self.block_size)
            return self.num_blocks - self.num_allocated - need >= self.watermark_blocks
        # Like Vidur: a running request needs one free block to go on, even when its last block has room.
        return self.num_blocks - self.num_allocated >= 1

    def _allocate(self, seq: Sequence, blocks: int) -> None:
        self.num_allocated += blocks
        self.allocated[seq.seq_id] = self.allocated.get(seq.seq_id, 0) + blocks
        assert self.num_allocated <= self.num_blocks

    def _admit(self, seq: Sequence) -> None:
        self._allocate(seq, math.ceil(seq.prefill_target / self.block_size))
        seq.slot = heapq.heappop(self._free_slots)

    def _grow_for_decode(self, seq: Sequence) -> None:
        # The decode writes KV at position len(tokens) - 1, so the request needs len(tokens) token slots.
        reserved = self.allocated[seq.seq_id] * self.block_size
        if len(seq.tokens) > reserved:
            self._allocate(seq, 1)

    def free(self, seq: Sequence) -> None:
        """Release a request's blocks and slot (finish, cancel or preemption)."""
        blocks = self.allocated.pop(seq.seq_id, None)
        if blocks is not None:
            self.num_allocated -= blocks
        if seq.slot is not None:
            heapq.heappush(self._free_slots, seq.slot)
            seq.slot = None

    def _restart(self, seq: Sequence, batch: ScheduledBatch) -> None:
        self.free(seq)
        if not seq.prefill_done:
            self.preempted_in_prefill += 1
        # Prefill work this preemption adds over one pass per prompt: what the dropped incarnation had
        # prefilled (now lost) plus the outputs it generated (re-prefilled as part of the new prompt).
        self.recomputed_tokens += (
            min(seq.num_computed, seq.prefill_target) + len(seq.tokens) - seq.prefill_target
        )
        seq.num_computed = 0
        seq.prefill_target = len(seq.tokens)
        seq.num_restarts += 1
        self.num_preemptions += 1
        self.waiting.insert(0, seq)
        batch.preempted.append(seq)

    # -- queue operations -------------------------------------------------------------------------------
    def add(self, seq: Sequence) -> None:
        """Queue a new request (FIFO)."""
        self.waiting.append(seq)

    def remove(self, seq_id: int) -> Sequence | None:
        """Drop a request wherever it is and free its KV; returns it, or None when unknown."""
        for queue in (self.waiting, self.running):
            for i, seq in enumerate(queue):
                if seq.seq_id == seq_id:
                    del queue[i]
                    self.free(seq)
                    return seq
        return None

    def has_work(self) -> bool:
        return bool(self.waiting or self.running)

    # -- the policy ---------------------------------------------------------------------------------------
    def schedule(self) -> ScheduledBatch:
        """Pick the next iteration's batch (maybe empty); picked ones leave `running` until finish_batch."""
        batch = ScheduledBatch()
        used = 0
        partial: list[Sequence] = []
        while self.running and len(batch.items) < self.batch_size_cap:
            seq = self.running.pop(0)
            if not seq.prefill_done:
                partial.append(seq)
                continue
            placed = True
            while not self._can_allocate(seq):
                if self.running:
                    self._restart(self.running.pop(), batch)
                else:
                    self._restart(seq, batch)
                    placed = False
                    break
            if placed:
                self._grow_for_decode(seq)
                batch.items.append((seq, 1))
                used += 1
        skipped: list[Sequence] = []
        for seq in partial:
            n = max(0, min(seq.prefill_target - seq.num_computed, self.chunk_size - used))
            if n == 0:
                skipped.append(seq)
                continue
            batch.items.append((seq, n))
            used += n
        self.running = sorted(skipped + self.running, key=lambda s: s.arrival)
        while self.waiting:
            if len(self.allocated) >= self.batch_size_cap or len(batch.items) >= self.batch_size_cap:
                break
            seq = self.waiting[0]
            if not self._can_allocate(seq):
                break
            n = max(0, min(seq.prefill_target - seq.num_computed, self.chunk_size - used))
            if n == 0:
                break
            self.waiting.pop(0)
            self._admit(seq)
            batch.items.append((seq, n))
            used += n
        return batch

    def finish_batch(self, batch: ScheduledBatch) -> None:
        """After the engine ran `batch` (and updated each sequence): free finished ones, requeue the rest."""
        for seq, _ in batch.items:
            if seq.finished:
                self.free(seq)
            else:
                self.running.append(seq)
        self.running.sort(key=lambda s: s.arrival)

    @property
    def kv_blocks_in_use(self) -> int:
        return self.num_allocated
