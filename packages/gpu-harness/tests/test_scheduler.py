"""The Sarathi scheduler's rules (budget, cap, FIFO admission, block accounting, preemption), no torch."""

from __future__ import annotations

from gpu_harness.engine.scheduler import SarathiScheduler, ScheduledBatch, Sequence


def seq(i: int, prompt: int, max_tokens: int = 8) -> Sequence:
    return Sequence(seq_id=i, arrival=i, prompt_len=prompt, max_tokens=max_tokens, tokens=[1] * prompt)


def run_batch(s: SarathiScheduler, batch: ScheduledBatch) -> None:
    """Apply a batch the way the engine does: chunks advance; completed prefills and decodes emit a token."""
    for q, n in batch.items:
        if q.prefill_done:
            q.num_computed += 1
            q.tokens.append(7)
            q.num_output += 1
        else:
            q.num_computed += n
            if q.prefill_done:
                q.tokens.append(7)
                q.num_output += 1
        q.finished = q.num_output >= q.max_tokens
    s.finish_batch(batch)


def plan(batch: ScheduledBatch) -> list[tuple[int, int]]:
    return [(q.seq_id, n) for q, n in batch.items]


def test_budget_chunks_prefills_in_fifo_order() -> None:
    s = SarathiScheduler(
        chunk_size=10, batch_size_cap=8, block_size=4, num_blocks=100, watermark_blocks_fraction=0
    )
    for i, p in enumerate([6, 7, 3]):
        s.add(seq(i, p))
    b = s.schedule()
    # 6 tokens of request 0, then 4 of request 1's 7; request 2 waits (budget spent, no skipping ahead).
    assert plan(b) == [(0, 6), (1, 4)]
    run_batch(s, b)
    b = s.schedule()
    # Request 0 decodes first (1 token), request 1's remaining 3, then request 2's 3: 7 <= 10.
    assert plan(b) == [(0, 1), (1, 3), (2, 3)]


def test_decodes_go_first_and_are_not_limited_by_budget() -> None:
    s = SarathiScheduler(
        chunk_size=2, batch_size_cap=8, block_size=4, num_blocks=100, watermark_blocks_fraction=0
    )
    for i in range(3):
        s.add(seq(i, 1))
    run_batch(s, s.schedule())  # prefills 0 and 1 (budget 2)
    run_batch(s, s.schedule())  # decodes 0, 1 use the budget: request 2 waits
    b = s.schedule()
    assert plan(b) == [(0, 1), (1, 1)]
    s2 = SarathiScheduler(
        chunk_size=3, batch_size_cap=8, block_size=4, num_blocks=100, watermark_blocks_fraction=0
    )
    for i in range(3):
        s2.add(seq(i, 1))
    run_batch(s2, s2.schedule())
    s2.chunk_size = 1
    # Three running decodes with a budget of 1: all three still decode in one iteration.
    assert plan(s2.schedule()) == [(0, 1), (1, 1), (2, 1)]


def test_batch_size_cap_limits_requests_per_iteration_and_holding_kv() -> None:
    s = SarathiScheduler(
        chunk_size=100, batch_size_cap=2, block_size=4, num_blocks=100, watermark_blocks_fraction=0
    )
    for i in range(4):
        s.add(seq(i, 2))
    b = s.schedule()
    assert plan(b) == [(0, 2), (1, 2)]
    run_batch(s, b)
    assert plan(s.schedule()) == [(0, 1), (1, 1)]
    assert len(s.allocated) == 2 and [q.seq_id for q in s.waiting] == [2, 3]


def test_blocks_reserved_for_whole_prompt_and_grow_one_at_a_time() -> None:
    s = SarathiScheduler(
        chunk_size=3, batch_size_cap=4, block_size=4, num_blocks=100, watermark_blocks_fraction=0
    )
    s.add(seq(0, 8, max_tokens=10))
    b = s.schedule()
    assert plan(b) == [(0, 3)]
    assert s.allocated[0] == 2  # ceil(8 / 4) reserved at admission, not per chunk
    run_batch(s, b)
    run_batch(s, s.schedule())
    run_batch(s, s.schedule())  # prefill done: 8 prompt tokens + 1 output
    assert s.allocated[0] == 2
    run_batch(s, s.schedule())  # the decode writes position 8: a third block
    assert s.allocated[0] == 3 and s.num_allocated == 3


def test_admission_respects_watermark_and_does_not_skip() -> None:
    s = SarathiScheduler(
        chunk_size=100, batch_size_cap=8, block_size=4, num_blocks=10, watermark_blocks_fraction=0.2
    )
    s.add(seq(0, 24))  # 6 blocks: 10 - 6 >= 2 ok
    s.add(seq(1, 12))  # 3 blocks: 10 - 6 - 3 = 1 < 2 -> waits
    s.add(seq(2, 1))  # would fit, but FIFO admission stops at request 1
    assert plan(s.schedule()) == [(0, 24)]


def test_preempts_newest_running_request_and_recomputes_it() -> None:
    s = SarathiScheduler(
        chunk_size=100, batch_size_cap=4, block_size=2, num_blocks=4, watermark_blocks_fraction=0
    )
    s.add(seq(0, 4, max_tokens=6))
    s.add(seq(1, 3, max_tokens=6))
    b = s.schedule()
    assert plan(b) == [(0, 4), (1, 3)] and s.num_allocated == 4
    run_batch(s, b)
    b = s.schedule()
    # No block is free: request 0 decodes after preempting the newest running request (1).
    assert plan(b) == [(0, 1)]
    assert [q.seq_id for q in b.preempted] == [1]
    assert s.waiting[0].seq_id == 1 and 1 not in s.allocated
    victim = s.waiting[0]
    assert victim.num_computed == 0 and victim.prefill_target == 4  # prompt 3 + 1 generated token
    assert s.num_preemptions == 1 and s.recomputed_tokens == 3 + 1  # 3 prefilled, 1 output


def test_lone_request_preempts_itself_when_no_block_is_free() -> None:
    s = SarathiScheduler(
        chunk_size=100, batch_size_cap=4, block_size=2, num_blocks=2, watermark_blocks_fraction=0
    )
    s.add(seq(0, 4, max_tokens=6))
    run_batch(s, s.schedule())
    b = s.schedule()
    assert plan(b) == [] and [q.seq_id for q in b.preempted] == [0]
    assert s.num_allocated == 0


def test_remove_frees_blocks_and_slot() -> None:
    s = SarathiScheduler(
        chunk_size=100, batch_size_cap=2, block_size=4, num_blocks=10, watermark_blocks_fraction=0
    )
    s.add(seq(0, 5))
    s.add(seq(1, 5))
    run_batch(s, s.schedule())
    assert s.num_allocated == 4
    assert s.remove(0) is not None
    assert s.num_allocated == 2 and s.remove(0) is None
    s.add(seq(2, 5))
    b = s.schedule()
    assert (2, 5) in plan(b)
    assert {q.slot for q, _ in b.items} == {0, 1}
