#!/usr/bin/env bash
# The fourth session's two H200 calls (the README's fidelity tables), run from the repo root with .carry/ beside it
# (scripts/gpu/pack.sh; the device tool's `carry: [".carry"]`). Every family's capacity is its saturation
# throughput (gpu_half.py --capacity saturation) and its loads are 30 / 60 / 85 % of it.
#   call1: the profile (fused kernels timed), then server A (default budget): the demo workload (capacity, then the
#          demo experiment's loads, rewriting data/h200-qwen3-0.6b/demo-experiment.json) and Azure conv (capacity,
#          then its loads twice each).
#   call2 AZURE_RATES: server B with a 256-token budget (another configuration, predictive check): Azure conv
#          capacity and loads; server C (default budget, a second server start): Azure conv at call 1's rates
#          (AZURE_RATES = R30,R60,R85 from call 1's sweep.json, runs named rep2), then ShareGPT (another prompt
#          set, predictive check): capacity and loads twice each.
# The fifth session's calls (two more frozen predictions, each on its own server start):
#   call3: server F (default budget and cap): the Mooncake conversation trace (another workload: longer prompts,
#          mean 1.8k tokens; its first 1,600 rows, those whose prompt + output fit 4,608 tokens): capacity and loads.
#   call4: server G with a 32-request batch cap (another configuration): Azure conv capacity and loads.
#   call5 MC_RATES CAP32_RATES: the same loads again on new server starts (H: default, I: 32-request cap), at the
#          rates calls 3 and 4 chose (R30,R60,R85 from their sweep.json), runs named rep1.
#   call6 CAP32_R85: third starts: J (32-request cap): its capacity again and the 85 % load at call 4's rate (rep2;
#          the two earlier starts differ 4x in TTFT P90 there); K (default): the Mooncake capacity again.
# The sixth session's call (config against machine: the two earlier 32-cap starts ran on machines of their own):
#   call7 CAP32_RATES: scripts/gpu/slot_ab.py (one step composition timed on 128- and 32-slot model runners side by
#          side), then on the same machine server M (32-request cap) and server L (default), each serving the Azure
#          conv workload at the same three rates (the 32-cap family's 30 / 60 / 85 %: R30,R60,R85): runs named
#          azure-rR-rep0 under results/m and results/l.
#   call8 RATE: the same on another machine, servers in the other order: slot_ab.py again (results/ab2), then
#          server L2 (default) and server M2 (32-request cap) at the one rate RATE (the 32-cap family's 60 %).
# The seventh session's calls (the machine probe: every server start times a fixed set of step compositions on its
# own runner before serving, gpu-harness/engine/probe.py; runner calibrate --machine-probe scales by the ratio):
#   call9: on one machine, server P (default) at Azure conv's 30 / 60 / 85 % (AZ_RATES), a second start P2 at 60 /
#          85 %, then Q (32-request cap) at the 32-cap family's 60 %: runs under results/{p,p2,q}.
#   call10: the same on another machine: R (default) at 30 / 60 / 85 %, R2 at 60 / 85 %, S (32 cap) at 60 / 85 %.
#   call11: token delivery on one machine: four starts of the default server at Azure's 60 / 85 %, alternating
#          --token-delivery per-token (T1, T3) and per-step (T2, T4): runs under results/t{1,2,3,4}.
#   call12: per-step delivery on another machine: two starts (U1, U2) at Azure's 30 / 60 / 85 %: results/u{1,2}.
# The eighth session's calls (every other family again with per-step delivery, the server's default since call 11;
# each family's loads at 30 / 60 / 85 % of its capacity measured on a per-step server, each repeated on another
# machine):
#   call13: server V1 (default): the demo (capacity, then its experiment's loads, rewriting
#          data/h200-qwen3-0.6b/demo-experiment.json), ShareGPT (capacity and loads), Azure conv (capacity only),
#          Mooncake (capacity and loads); server W1 (32-request cap): Azure conv capacity and loads.
#   call14 SG_RATES MC_RATES AZ_RATES: server V2 (default): ShareGPT, Mooncake and Azure conv at call 13's rates
#          (30 / 60 / 85 % of V1's capacities; runs named rep1); server B1 (256-token budget): capacity and loads.
#   call15 CAP32_RATES B_RATES AZ_RATES: on another machine, V3 (default) at Azure conv's rates (rep2), then B2
#          (256 budget) and W2 (32 cap) at calls 14 / 13's rates (rep1).
# The ninth session's calls (the prefill-prefix term: a chunk step's time grows with its prompt prefix faster on the
# engine than Vidur predicts from the per-op profile):
#   call16 AZ_RATES: scripts/gpu/prefix_probe.py (the engine's chunk step against the profile's attention, one
#          machine: results/pp), then server X1 (default): Azure conv at V1's rates and a long-prompt family
#          never calibrated on (synthetic: 300 prompts of 1,024-4,096 tokens, 8-64 output tokens): capacity, loads.
#   call17 LP_RATES AZ_RATES: a second start X2 (it came on another machine) at call 16's long-prompt rates and
#          Azure conv's (runs named rep1).
#   call18: scripts/gpu/flash_ab.py (the FlashAttention call of a chunk in the profiler's shape and the engine's,
#          one thing changed at a time): results/fa.
#   call19: the profile twice on one machine, attn_prefill timed in the engine's call shape (`--prefill-call
#          engine`, the default since then) and alone (`single`, as before): results/profile-{engine,single}.
#   call20: scripts/gpu/decode_ab.py (decode steps of 24 requests at 192-2,048 tokens of context: the engine's step,
#          the profile's attn_decode, the split-KV kernel in the profiler's call, padded as the engine pads it, with
#          spread lengths): results/da.
#   call21: decode_ab.py again at 8 and 64 requests (results/da8, results/da64).
#   call22: the profile with attn_decode set by the engine's decode-step growth (`--decode-call engine`, the default
#          since the tenth session), a quick one first (a smoke test of the new phase), then the full one with
#          attn_prefill alone (`--prefill-call single`, the committed profile's shape) and in the engine's call
#          shape: results/profile-de-{quick,single,engine}.
#   call23: call22's two full profiles again, each anchor's engine step now the smaller median of two passes (the
#          second profile of call 22 had a transient at some batch sizes' first anchors): results/profile-de2-*.
#   call24: the same two profiles with the step's growth measured in pairs (kv_0 and kv_j alternating; call 23's
#          machine jumped between ~1.3 and ~1.9 ms on small-batch steps from one measurement to the next, in both
#          passes): results/profile-de3-{single,engine}.
#   call25: the same with 3x as many pairs per anchor (60; call 24's anchors still jumped by ~6 us per layer at a
#          few batch sizes): results/profile-de4-{single,engine}, the committed ones.
# The eleventh session's calls (need no .carry: Python only):
#   call26: scripts/gpu/chunk_ab.py (mixed steps of one chunk of 128-496 tokens after 0 / 2,048 prompt tokens beside
#          16 decode rows: the engine's step against the profile's attn_prefill in the engine's call and alone, and
#          the engine's call with max_q = the step's token bucket): results/ca.
#   call27: scripts/gpu/host_ab.py (decode steps of 1-64 requests and one mixed step, timed back to back and the way
#          the server times them, start event before the host builds the step's inputs): results/ha.
# The twelfth session's calls (every step's phases recorded by the server: schedule, input preparation, waiting on the
# device, handing out tokens; the runs are committed this time, data/h200-qwen3-0.6b/runs-s12/), each family at the
# eighth session's rates (30 / 60 / 85 % of V1's, B1's and W1's capacities):
#   call28: server Y1 (default): Azure conv, ShareGPT and Mooncake; server Y2 (256-token budget): Azure conv.
#   call29: server Y3 (default, a second start): Azure conv and ShareGPT (runs named rep1); Y4 (32-request cap) and
#          Y5 (256-token budget, a second start, rep1): Azure conv.
#   call30: second starts for the families with one run: Y6 (32-request cap, rep1): Azure conv; Y7 (default, rep1):
#          Mooncake, and ShareGPT's 85 % (Y3's did not fit call 29).
# The thirteenth session's calls (the same server code and rates, on a machine of this session):
#   call31: server Z1 (default): the demo's three loads recorded again (now with every step's phases, into
#          results/z1/runs/demo-r*), then Azure conv (a third start, rep2); server Z2 (default): Azure conv (rep3).
#   call32: server Z3 (32-request cap, a third start, rep2; its 85 % the second one recorded): Azure conv; server Z4
#          (256-token budget, a third start, rep2): Azure conv.
#   call33: server Z5 (default): ShareGPT and Mooncake (a third start; runs named rep3).
#   call34: server Z6 (default; the server now freezes Python's GC before READY, which removes the 0.2-0.33 s
#          full-collection stall 19 of 50 earlier runs had): the demo's three loads (the embedded default's runs), then
#          Azure conv (rep4).
#   call35: server Z7 (default, GC frozen): the demo workload's capacity on this machine, then the demo's three
#          loads at 30 / 60 / 85 % of it (demo-experiment.json rewritten; call 34's machine was slow, 85 % of the
#          eighth session's capacity was close to its saturation).
#   call36: the GC freeze A/B on one machine: server Z8 with --no-gc-freeze, then Z9 (the default, frozen), each
#          serving Azure conv at 60 / 85 % (runs named rep5 / rep6).
# The fourteenth session's call (the same server code and rates, GC frozen, on a machine of this session):
#   call37: server N1 (default): Azure conv at 30 / 60 % (a fifth start) and ShareGPT at 30 / 60 % (a fourth; runs
#          named rep7), then the demo's three loads at the embedded default's rates (57.5 / 114.5 / 162 req/s);
#          server N2 (default, a second start on the machine): the demo's three loads again.
#   call38: scripts/gpu/cpu_regimes.py for 60 s on an idle machine (one process pinned to each of CPUs 0, 5, 10, 15, one
#          unpinned: does a CPU keep one speed?), then the same on CPUs 0 and 15 for 150 s while server N3 (default)
#          serves ShareGPT at 30 / 60 % (rep8): results/cpu-idle, results/cpu-load, results/n3.
# The fifteenth session's calls (serve --token-delivery overlap: a step's tokens are handed to the HTTP thread once the
# next step is launched, so that their Python work runs while the GPU runs that step instead of contending for the
# GIL with the next step's input preparation):
#   call39: server O1 (overlap): Azure conv, ShareGPT and Mooncake, capacity then 30 / 60 / 85 % of it; then on the
#          same machine server O2 (per-step, the previous default): Azure conv at O1's 60 % and ShareGPT at O1's 30 /
#          60 % (the A/B of the delivery on one machine).
#   call40 AZ_RATES SG_RATES MC_RATES: on another machine, server O3 (overlap, a second start) at call 39's rates
#          (runs named rep1), then O4 (overlap, 32-request cap: another configuration): Azure conv capacity and loads.
#   call41: server P1 (--engine-process --token-delivery overlap: the engine in a process of its own, apart from the
#          HTTP server): Azure conv, ShareGPT and Mooncake, capacity then 30 / 60 / 85 % of it; then P2 (the same,
#          32-request cap) at O4's rates.
# The sixteenth session's call, prepared without device time (the host's two speeds: does a step-loop thread with a CPU
# of its own, and nothing else on that CPU or its SMT sibling, keep one speed?):
#   call42: the CPU topology (lscpu, every CPU's thread siblings) into results/topo; then on one machine server Q1
#          (--engine-process --token-delivery overlap --engine-cpus E: the engine's step loop alone on CPU E, and the
#          HTTP server, the bench client and the engine process's other threads kept off E and its siblings with
#          taskset) and server Q2 (the same flags unpinned: P1's server), each at O1's rates: Azure conv 30 / 60 / 85
#          %, ShareGPT and Mooncake 30 / 60 %. iterations.csv's host_probe_time then reads the CPU's speed per step
#          (scripts/step-phases.py --spread).
# The seventeenth session's call (call 42 ran: the pinned step loop, Q1, halves the slow share of the unpinned Q2 but
# keeps two speeds; calibrated on its own Azure 60 %, Q1 is within 5 % in 15 of 24 cells):
#   call43: on another machine, the same pinned layout as call 42: server Q3 (Q1's flags, a second start) at O1's rates
#          (Azure conv 30 / 60 / 85 %, ShareGPT and Mooncake 30 / 60 %; runs named rep1), then Q4 (the same, 32-request
#          cap: a configuration the fit never saw) serving Azure conv at O4's rates (10.242 / 20.484 / 29.019 req/s).
#   call44: on a third machine, the same layout: server Q5 (Q1's flags, a third start) at O1's Azure conv and ShareGPT
#          rates (runs named rep2), then Q6 (Q4's flags, a second start) serving Azure conv at O4's 60 / 85 % (rep1).
# The eighteenth session's calls (every server in Q1's pinned layout: PIN, set by pin_setup):
#   call45: server D1: the demo workload's capacity, then the demo's three loads at 30 / 60 / 85 % of it (the embedded
#          default recorded again, now with the in-band probe); server R1 (--max-num-batched-tokens 256: a token budget
#          the fit never saw): Azure conv and ShareGPT, capacity then 30 / 60 / 85 % of it.
#   call46 AZ_RATES SG_RATES: on another machine, server R2 (R1's flags, a second start) at R1's rates (rep1; its
#          time budget ended before ShareGPT), then server Q7 (Q1's flags, a fourth start; rep3) with Mooncake 60 %
#          first, then Mooncake 30 %, Azure conv 30 / 60 / 85 % and ShareGPT 30 / 60 % at O1's rates.
#   call47 AZ_RATES SG_RATES DEMO_EXP: on a third machine, server R3 (R1's flags, rep2) at R1's rates, ShareGPT
#          first; server D2 (D1's flags, a second start) serving the demo at D1's loads (DEMO_EXP: call 45's
#          demo-experiment.json); server Q8 (Q1's flags, a fifth start; rep4): Mooncake 60 % then 30 %.
# The nineteenth session's calls (Q1's pinned layout; two configurations no fit or model change saw, for the
# size-aware host probe: the probe's list is 3 x (budget + cap) + cap ints, 3,584 at a 1,024-token budget, 1,792 at a
# 64-request cap, against 2,048 for the fit's server):
#   call48: server B1 (--max-num-batched-tokens 1024), then server C1 (--max-batch-size 64), one machine: Azure conv
#          and ShareGPT each, capacity then 30 / 60 / 85 % of it.
#   call49 B_AZ B_SG C_AZ C_SG: on another machine, B2 and C2 (second starts, rep1) at B1's and C1's rates (from call
#          48's results/{b1,c1}/sweep.json), then Q9 (Q1's flags, a sixth start; rep5) at Azure conv 60 / 30 / 85 %.
#   call50 B_AZ B_SG C_AZ C_SG: a third machine, B3 and C3 (rep2), ShareGPT first.
# The twentieth session's call (the admission order of a saturation burst, and capacity on Q1's pinned layout):
#   call51: one machine, saturation runs only (gpu_half.py --capacity-only): server Q10 (Q1's flags) Azure conv,
#          ShareGPT and Mooncake (512 requests), Azure conv and ShareGPT again with `runner bench --preconnect 0`
#          (families azure0, sharegpt0: no keep-alive connections opened before the burst); server C4 (the 64-request
#          cap) Azure conv, Azure conv with --preconnect 0, ShareGPT.
#   call52 C_AZ: another machine: server C5 (the 64-request cap, rep3) serving Azure conv at C_AZ (30 / 60 / 85 % of
#          C4's capacity in the workload's order, 38.62 req/s); server B5 (the 1,024-token budget) and Q11 (Q1's flags):
#          Azure conv's saturation with --preconnect 0, then (Q11) as always.
# The twenty-first session's calls (loads set from each workload's capacity in the workload's order):
#   call53: one machine, server Q12 (Q1's flags): ShareGPT (two repeats), Azure conv and Mooncake, each its capacity
#          with `runner bench --preconnect 0` (gpu_half.py --capacity-bench-args: the burst taken in the workload's
#          order), then 30 / 60 / 85 % of it with the bench's default connections, as every earlier load.
#   call54 SG AZ MC: another machine, server Q13 (Q1's flags, rep1): the same loads at call 53's rates.
#   call56: server Q15 (Q1's flags): Self-Instruct (new), Azure conv and ShareGPT, each its capacity with --preconnect 0,
#          then 30 / 60 / 85 % of it.
#   call57 SI AZ SG: another machine, server Q16 (Q1's flags, rep1): the same loads at call 56's rates.
#   call58: server C6 (Q1's flags, the 64-request cap): Self-Instruct and ShareGPT, each its capacity with
#          --preconnect 0, then 30 / 60 / 85 % of it (another configuration and a new prompt set at once).
#   call59: server B6 (Q1's flags, the 1,024-token budget): Self-Instruct and Mooncake, each its capacity with
#          --preconnect 0, then 30 / 60 / 85 % of it (a check made after the flat tail was chosen).
#   call55: another machine, server Q14 (Q1's flags): ShareGPT's capacity with --preconnect 0, then 85 % and 60 % of it
#          four times each (does ShareGPT at 85 % repeat on one server?), then Azure conv at Q12's 60 % rate.
# The twenty-third session's calls (after the front's per-step time was written, before any fit or check used it):
#   call60: server Q17 (Q1's flags): HumanEval and MT-Bench (two prompt sets never served before), each its capacity
#          with --preconnect 0, then 30 / 60 / 85 % of it.
#   call61 HE MT: another machine, server Q18 (Q1's flags, rep1): the same loads at call 60's rates.
#   call62: a third machine, server Q19 (Q1's flags, rep2), whose runs also carry each request's admission
#          (server_admissions.csv: its arrival in the engine's inbox and the engine thread's intake): Self-Instruct at
#          Q15's 30 and 85 %, HumanEval and MT-Bench at Q17's 30 and 85 %.
#   call63: one machine, two servers in turn: Q20 (Q1's flags) and Q20s (the same with --switch-interval-us 200:
#          Python's thread switch interval in the engine process 0.2 ms instead of 5), each serving Self-Instruct and
#          MT-Bench at 85 % (does the engine's intake wait on the GIL at large batches?).
# The twenty-fourth session's call:
#   call64: server Q21 (Q1's flags, rep4), whose runs also carry the HTTP front's stamps (server_admissions.csv's
#          received and submitted: its handler starting and handing the request to the engine process) and the
#          client's socket writes (client_sends.csv's written_at): where does a request wait before the engine's
#          inbox at large batches? Azure conv at Q1's 30 / 60 / 85 % (a fit load on this machine), Self-Instruct at
#          Q15's 30 and 85 %, HumanEval and MT-Bench at Q17's 30 and 85 %.
#   call65: another machine, server Q22 (Q1's flags, rep5-7): Azure conv at Q1's 60 % once (a fit load on this machine),
#          then Self-Instruct, HumanEval and MT-Bench at 85 % three times each (the real spread at 85 % on one server).
#   call66: another machine, server Q23 (Q1's flags, rep8-10): call 65's loads again, recorded after `--admission-in-sim`
#          was chosen on Q22 (a predictive check of it on a machine no fit or choice has seen).
# The twenty-fifth session's calls (the serving path at the run's host speed, `runner calibrate --path-host-scale`,
# chosen on Q21-Q23 before these were recorded):
#   call67, call68: each on another machine, servers Q24 (rep11-13) and Q25 (rep14-16): call 65's loads again, with
#          scripts/gpu/host_cpu.py sampling every CPU's busy and steal time and each serving thread's CPU time
#          (results/topo/host-cpu-CALL.csv): where a slow machine's time goes.
#   call69, call70: two more machines, servers Q26 (rep17-19) and Q27 (rep20-22), the same (after calls 67-68 had
#          confirmed the choice on Q24 and Q25).
#   call71: one machine, two server starts: Q28 (its machine probe at an idle start, then HumanEval at 85 % once) and
#          Q28b started while scripts/gpu/cpu_burn.py keeps every CPU but the engine's busy (its probe under a busy
#          host, then the same load): does a busy host slow the probe's steps, the GPU's wait included?
#          (results/topo/probe-burn-call71.txt)
# The twenty-sixth session's calls (call 72, the engine's decode step on a grid, ran scripts/gpu/decode_grid.py alone:
# docs/runbook.md; these two were recorded after `runner calibrate --decode-grid` was chosen and committed):
#   call73, call74: each on another machine, servers Q29 (rep26-28) and Q30 (rep29-31): the engine's decode grid on
#          that machine first (results/grid-NAME, three rounds), then call 67's loads with the sampler.
# The twenty-seventh session's call (recorded after `runner calibrate --tail-from` and its variant hstgsim were
# committed):
#   call75, call76: each on another machine, servers Q31 (rep32-34) and Q32 (rep35-37): call 67's loads with the
#          sampler (no decode grid: calls 73-74 found it the same on every machine).
# The twenty-eighth session's calls (recorded before the demo's spread was written):
#   call77, call78: each on another machine, servers Q33 (rep38-40) and Q34 (rep41-43): the demo experiment's three
#          loads three times in turn (runs/demo-rR-repK: the embedded default's run-to-run spread), then call 67's
#          loads with the sampler.
#   call79, call80: each on another machine, servers Q35 (rep44-46) and Q36 (rep47-49): call 67's loads with the
#          sampler, recorded before the choice between --path-host-scale slower and ratio (fidelity.sh --twenty-eighth)
#          was committed, to check it on machines it was not made on.
#   call81, call82: each on another machine, servers Q37 (rep50-52) and Q38 (rep53-55): the same, recorded after
#          hsfksimp (--path-host-scale ratio) was made the recommendation for machines not yet seen.
#   call83 ... call88: each on another machine, servers Q39 (rep56-58), Q40 (rep59-61), Q41 (rep62-64), Q42
#          (rep65-67), Q43 (rep68-70), Q44 (rep71-73): the same, recorded in the twenty-ninth session before its choices (the fit
#          pooled over machines, --speed-jitter) were compared on them.
# The thirtieth session's calls:
#   call89 ... call94: each on another machine, servers Q45 (rep74-76), Q46 (rep77-79), Q47 (rep80-82), Q48
#          (rep83-85), Q49 (rep86-88), Q50 (rep89-91): the same, recorded before the session's choice (--host-tail
#          level) was compared on them.
# The thirty-first session's calls:
#   call95 ... call100: each on another machine, servers Q51 (rep92-94), Q52 (rep95-97), Q53 (rep98-100), Q54
#          (rep101-103), Q55 (rep104-106), Q56 (rep107-109): the same, recorded before that session's choice was
#          compared on them.
# Results: $OUT/results.tar.xz, raw server logs and workloads left out.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
OUTDIR="${OUT:-$ROOT/tmp/gpu-out}"
rm -rf /tmp/vf && mkdir -p /tmp/vf/results && tar -C /tmp/vf -xJf .carry/node.tar.xz && tar -C /tmp/vf -xJf .carry/runner.tar.xz
export PATH=/tmp/vf/node/bin:$PATH PYTHONPATH="$ROOT/packages/gpu-harness/src" PYTHONUNBUFFERED=1
G=(python3 scripts/gpu/gpu_half.py --node /tmp/vf/node/bin/node --runner /tmp/vf/runner/dist/main.js
  --model-config packages/gpu-harness/src/gpu_harness/configs/qwen3-0.6b.json)
AZ="azure=--azure .carry/data/AzureLLMInferenceTrace_conv.csv --arrival poisson --seed 1"
SG="sharegpt=--prompts .carry/data/sharegpt-500.jsonl --decode lognormal:128:0.6:16:1024 --arrival poisson --seed 1"
MC="mooncake=--mooncake .carry/data/mooncake_conversation_trace.jsonl --context-limit 4608 --over-context drop --arrival poisson --seed 1"
LP="longprompt=--synthetic 300 --prefill uniform:1024:4096 --decode uniform:8:64 --arrival poisson --seed 1"
# Self-Instruct's 252 user-oriented instructions (instruction and input; scripts/gpu/pack.sh) reused in order for 500
# requests, with outputs twice ShareGPT's median: a prompt set no fit or earlier call has seen (call 56).
SI="selfinstruct=--prompts .carry/data/self-instruct.jsonl --count 500 --decode lognormal:256:0.6:16:1024 --arrival poisson --seed 1"
# HumanEval's 164 code prompts and MT-Bench's and Vicuna's 160 first turns (scripts/gpu/pack.sh), each reused in order for
# 500 requests: two more prompt sets no fit has seen (call 60), outputs of median 192 and 384 tokens.
HE="humaneval=--prompts .carry/data/humaneval.jsonl --count 500 --decode lognormal:192:0.5:16:1024 --arrival poisson --seed 1"
MT="mtbench=--prompts .carry/data/mt-bench.jsonl --count 500 --decode lognormal:384:0.5:16:1024 --arrival poisson --seed 1"
DEMO="demo=--prompts packages/workload-spec/examples/prompts.jsonl --decode lognormal:128:0.6:16:512 --arrival poisson --seed 20261128"
# One server start NAME with batch cap CAP (128: the default server) serving Azure conv at RATES (R1,R2,...) under
# a LIMIT-second timeout, with EXTRA server flags if given; its runs land in results/NAME.
# Usage: serve_one NAME CAP RATES LIMIT [EXTRA]
serve_one() {
  local name=$1 cap=$2 rates=${3:?rates (R1,R2,...)} limit=$4 extra=${5:-}
  timeout -s INT "$limit" "${G[@]}" --out "/tmp/vf/results/$name" --phases serve \
    --server-args "--max-model-len 4608 --max-batch-size $cap${extra:+ $extra}" --family "$AZ" --family-rates "azure=$rates" \
    --time-budget-s $((limit - 10)) 2>&1 | grep -v '^\s*$' | grep -v '^bench: sent' | tail -n 12
}
# Calls 7 and 8: slot_ab.py into results/AB_DIR, then each named server in turn (a name starting with "m": the
# 32-request cap; else the default) serving Azure conv at RATES. Usage: slot_pair AB_DIR RATES TIMEOUT_S SERVER...
slot_pair() {
  local ab=$1 rates=${2:?rates (R1,R2,...)} limit=$3 s
  shift 3
  timeout -s INT 120 python3 scripts/gpu/slot_ab.py --repeats 100 --out "/tmp/vf/results/$ab" 2>&1 | tail -n 32
  for s in "$@"; do
    if [[ $s == m* ]]; then serve_one "$s" 32 "$rates" "$limit"; else serve_one "$s" 128 "$rates" "$limit"; fi
  done
}
# Everything under results/ so far -> $OUTDIR/results.tar.xz (written whole, then renamed: a call cut short by the
# device's limit still returns what the servers before it measured).
pack_out() {
  tar -C /tmp/vf --exclude='results/*/runs/*/server' --exclude='results/*/server' --exclude='results/*/workloads' \
    -cf - results | xz -T0 > "$OUTDIR/.results.tar.xz" && mv "$OUTDIR/.results.tar.xz" "$OUTDIR/results.tar.xz"
}
# A command prefix for serve_mix (call 42: taskset -c CPUS), empty unless set.
WRAP=()
# The engine's CPU for call 42 (not CPU 0, which takes most interrupts) and every online CPU but it and its SMT
# siblings, as "E OTHERS" (OTHERS a taskset list). Usage: pin_plan [E]
pin_plan() {
  python3 - "${1:-2}" <<'PY'
import os, sys
e = int(sys.argv[1])
def cpus(text):
    out = set()
    for part in text.strip().split(","):
        lo, _, hi = part.partition("-")
        out |= set(range(int(lo), int(hi or lo) + 1))
    return out
online = cpus(open("/sys/devices/system/cpu/online").read())
if e not in online:
    sys.exit(f"pin_plan: CPU {e} is not online (online: {sorted(online)})")
sib = cpus(open(f"/sys/devices/system/cpu/cpu{e}/topology/thread_siblings_list").read()) | {e}
others = sorted(online - sib)
if not others:
    sys.exit(f"pin_plan: CPU {e} and its siblings {sorted(sib)} are every online CPU")
print(e, ",".join(map(str, others)))
PY
}
# Calls 42-47: the machine's CPU topology into results/topo/cpus[SUFFIX].txt, then E (the engine's CPU, 2) and OTHERS
# from pin_plan, the plan into results/topo/plan[SUFFIX].txt, and WRAP set to keep serve_mix off E, PIN to
# Q1's server flags.
# Usage: pin_setup CALL [SUFFIX]
pin_setup() {
  local call=$1 suffix=${2:-}
  mkdir -p /tmp/vf/results/topo
  { lscpu; echo; grep -H . /sys/devices/system/cpu/cpu*/topology/thread_siblings_list; nproc; } \
    > "/tmp/vf/results/topo/cpus$suffix.txt" 2>&1
  read -r E OTHERS < <(pin_plan 2) || exit 1
  echo "$call: engine step loop on CPU $E; everything else on $OTHERS" | tee "/tmp/vf/results/topo/plan$suffix.txt"
  WRAP=(taskset -c "$OTHERS")
  PIN="--token-delivery overlap --engine-process --engine-cpus $E"  # Q1's server flags (calls 45-47)
}
# One server start NAME (results/NAME) with SERVER_ARGS (after --max-model-len 4608 --token-delivery per-step) under a
# LIMIT-second timeout, the rest passed to gpu_half.py. Usage: serve_mix NAME LIMIT SERVER_ARGS [GPU_HALF_ARGS...]
serve_mix() {
  local name=$1 limit=$2 sargs=$3
  shift 3
  "${WRAP[@]}" timeout -s INT "$limit" "${G[@]}" --out "/tmp/vf/results/$name" --phases serve \
    --server-args "--max-model-len 4608 --token-delivery per-step${sargs:+ $sargs}" "$@" --time-budget-s $((limit - 10)) \
    2>&1 | grep -v '^\s*$' | grep -v '^bench: sent' | grep -v '^\[gpu-half [0-9:]*\] \$ ' | tail -n 14
  pack_out
}
# Calls 65-66: server NAME (Q1's layout) serving Azure conv at Q1's 60 % once, then Self-Instruct, HumanEval and
# MT-Bench at 85 % three times each, the repeats numbered from OFFSET; EXTRA gpu_half.py flags (calls 77-78: the demo
# first) and LIMIT seconds (default 470) if given. Usage: repeats85 NAME OFFSET [LIMIT [EXTRA...]]
repeats85() {
  local name=$1 offset=$2 limit=${3:-470}
  shift $(($# < 3 ? $# : 3))
  serve_mix "$name" "$limit" "$PIN" --rep-offset "$offset" "$@" --family "$AZ" --family-rates "azure=25.974" \
    --family "$SI" --family-rates "selfinstruct=94.733" --family "$HE" --family-rates "humaneval=115.209" \
    --family "$MT" --family-rates "mtbench=67.252" --family-repeats selfinstruct=3 --family-repeats humaneval=3 \
    --family-repeats mtbench=3
}
# Calls 67-68: repeats85 on server NAME with scripts/gpu/host_cpu.py sampling every CPU's busy and steal time and each
# serving thread's CPU time into results/topo/host-cpu-CALL.csv meanwhile. Usage: sampled85 CALL NAME OFFSET [LIMIT [EXTRA...]]
sampled85() {
  python3 scripts/gpu/host_cpu.py --out "/tmp/vf/results/topo/host-cpu-$1.csv" &
  local sampler=$!
  repeats85 "${@:2}"
  kill -INT "$sampler" && wait "$sampler" || true
}
AZ_RATES=10.764,21.528,30.498     # Azure conv at 30 / 60 / 85 % of the default server's capacity (call 1)
V_AZ=12.216,24.432,34.612         # the eighth session's rates: Azure conv at 30 / 60 / 85 % of V1's capacity (call 13)
V_SG=59.481,118.962,168.53        # ShareGPT, of V1's
V_MC=6.576,13.152,18.632          # Mooncake, of V1's
B1_AZ=9.351,18.702,26.495         # Azure conv, of the 256-token budget's (B1, call 14)
W1_AZ=8.919,17.838,25.27          # Azure conv, of the 32-request cap's (W1, call 13)
CAP32_RATES=15.972,22.627         # ... at 60 / 85 % of the 32-request cap's (call 4)
# Calls 22-25: the profile with --decode-call engine twice on one machine, --prefill-call single then engine, into
# results/profile-V-{single,engine}. Usage: profile_pair V
profile_pair() {
  local v=$1 pc
  for pc in single engine; do
    timeout -s INT 280 python3 -m gpu_harness.cli profile --model-config packages/gpu-harness/src/gpu_harness/configs/qwen3-0.6b.json \
      --model-name Qwen/Qwen3-0.6B --device-name h200 --device cuda --dtype bfloat16 --time-budget-s 120 --max-seq-len 4608 \
      --prefill-call "$pc" --decode-call engine --out "/tmp/vf/results/profile-$v-$pc" 2>&1 | tail -n 3
    pack_out
  done
}
case "${1:?usage: h200-fidelity.sh call1 | call2 R30,R60,R85 | call3 | call4 | call5 MC CAP32 | call6 CAP32_R85 | call7 CAP32_RATES | call8 RATE | call9 | call10 | call11 | call12 | call13 | call14 SG MC AZ | call15 CAP32 B AZ | call16 AZ | call17 LP AZ | call18 | call19 | call20 | call21 | call22 | call23 | call24 | call25 | call26 | call27 | call28 | call29 | call30 | call31 | call32 | call33 | call34 | call35 | call36 | call37 | call38 | call39 | call40 AZ SG MC | call41 | call42 | call43 | call44 | call45 | call46 AZ SG | call47 AZ SG DEMO_EXP | call48 | call49 B_AZ B_SG C_AZ C_SG | call50 B_AZ B_SG C_AZ C_SG | call51 | call52 C_AZ | call53 | call54 SG AZ MC | call55}" in
  call1)
    timeout -s INT 150 "${G[@]}" --out /tmp/vf/results/p --phases host,profile \
      --profile-args "--time-budget-s 75 --max-seq-len 4608" --time-budget-s 140 2>&1 | tail -n 15
    timeout -s INT 330 "${G[@]}" --out /tmp/vf/results/a --phases serve --server-args "--max-model-len 4608" \
      --family "$DEMO" --demo-family demo --demo data/h200-qwen3-0.6b/demo-experiment.json \
      --family "$AZ" --repeats 2 --time-budget-s 315 2>&1 | grep -v '^\s*$' | tail -n 40
    cp data/h200-qwen3-0.6b/demo-experiment.json /tmp/vf/results/a/ ;;
  call2)
    timeout -s INT 170 "${G[@]}" --out /tmp/vf/results/b --phases serve \
      --server-args "--max-model-len 4608 --max-num-batched-tokens 256" --family "$AZ" --time-budget-s 160 \
      2>&1 | grep -v '^\s*$' | tail -n 20
    timeout -s INT 280 "${G[@]}" --out /tmp/vf/results/c --phases serve --server-args "--max-model-len 4608" \
      --family "$AZ" --family-rates "azure=${2:?AZURE_RATES}" --family-repeats azure=1 --rep-offset 2 \
      --family "$SG" --repeats 2 --time-budget-s 265 2>&1 | grep -v '^\s*$' | tail -n 30 ;;
  call3)  # --requests is the trace rows read (gpu_half passes it as --limit); dropping over-context rows leaves ~510
    timeout -s INT 560 "${G[@]}" --out /tmp/vf/results/f --phases host,serve --server-args "--max-model-len 4608" \
      --family "$MC" --requests 1600 --time-budget-s 545 2>&1 | grep -v '^\s*$' | tail -n 30 ;;
  call4)
    timeout -s INT 560 "${G[@]}" --out /tmp/vf/results/g --phases serve \
      --server-args "--max-model-len 4608 --max-batch-size 32" --family "$AZ" --time-budget-s 545 \
      2>&1 | grep -v '^\s*$' | tail -n 30 ;;
  call5)
    timeout -s INT 250 "${G[@]}" --out /tmp/vf/results/h --phases serve --server-args "--max-model-len 4608" \
      --family "$MC" --requests 1600 --family-rates "mooncake=${2:?MC_RATES}" --family-repeats mooncake=1 \
      --rep-offset 1 --time-budget-s 240 2>&1 | grep -v '^\s*$' | grep -v '^bench: sent' | tail -n 12
    timeout -s INT 220 "${G[@]}" --out /tmp/vf/results/i --phases serve \
      --server-args "--max-model-len 4608 --max-batch-size 32" --family "$AZ" \
      --family-rates "azure=${3:?CAP32_RATES}" --family-repeats azure=1 --rep-offset 1 --time-budget-s 210 \
      2>&1 | grep -v '^\s*$' | grep -v '^bench: sent' | tail -n 12 ;;
  call6)  # --family-repeats NAME=0: the family's capacity only
    timeout -s INT 200 "${G[@]}" --out /tmp/vf/results/j --phases serve \
      --server-args "--max-model-len 4608 --max-batch-size 32" --family "${AZ/azure=/cap32=}" --family-repeats cap32=0 \
      --family "$AZ" --family-rates "azure=${2:?CAP32_R85}" --family-repeats azure=1 --rep-offset 2 --time-budget-s 190 \
      2>&1 | grep -v '^\s*$' | grep -v '^bench: sent' | tail -n 12
    timeout -s INT 200 "${G[@]}" --out /tmp/vf/results/k --phases serve --server-args "--max-model-len 4608" \
      --family "$MC" --requests 1600 --family-repeats mooncake=0 --time-budget-s 190 \
      2>&1 | grep -v '^\s*$' | grep -v '^bench: sent' | tail -n 12 ;;
  call7) slot_pair ab "${2:-}" 205 m l ;;
  call8) slot_pair ab2 "${2:-}" 150 l2 m2 ;;
  call9)  # every server start times the machine probe (gpu-harness serve's default on cuda) before serving
    serve_one p 128 "$AZ_RATES" 190
    serve_one p2 128 21.528,30.498 130
    serve_one q 32 15.972 110 ;;
  call10)
    serve_one r 128 "$AZ_RATES" 190
    serve_one r2 128 21.528,30.498 130
    serve_one s 32 "$CAP32_RATES" 140 ;;
  call11)  # token delivery A/B on one machine: default servers, alternating per-token (t1, t3) and per-step (t2, t4)
    for s in t1 t2 t3 t4; do
      if [[ $s == t[13] ]]; then d=per-token; else d=per-step; fi
      serve_one $s 128 21.528,30.498 118 "--token-delivery $d"
    done ;;
  call12)  # per-step delivery on another machine, two starts at Azure's 30 / 60 / 85 %
    serve_one u1 128 "$AZ_RATES" 175 "--token-delivery per-step"
    serve_one u2 128 "$AZ_RATES" 175 "--token-delivery per-step" ;;
  call13)
    serve_mix v1 345 "" --family "$DEMO" --demo-family demo --demo data/h200-qwen3-0.6b/demo-experiment.json \
      --family "$SG" --family "$AZ" --family-repeats azure=0 --family "$MC" --family-requests mooncake=1600
    cp data/h200-qwen3-0.6b/demo-experiment.json /tmp/vf/results/v1/
    serve_mix w1 200 "--max-batch-size 32" --family "$AZ" ;;
  call14)
    serve_mix v2 345 "" --rep-offset 1 --family "$SG" --family-rates "sharegpt=${2:?SG_RATES}" --family "$MC" \
      --family-requests mooncake=1600 --family-rates "mooncake=${3:?MC_RATES}" --family "$AZ" \
      --family-rates "azure=${4:?AZ_RATES}"
    serve_mix b1 200 "--max-num-batched-tokens 256" --family "$AZ" ;;
  call15)
    serve_mix v3 145 "" --family "$AZ" --family-rates "azure=${4:?AZ_RATES}" --rep-offset 2
    serve_mix b2 165 "--max-num-batched-tokens 256" --family "$AZ" --family-rates "azure=${3:?B_RATES}" --rep-offset 1
    serve_mix w2 165 "--max-batch-size 32" --family "$AZ" --family-rates "azure=${2:?CAP32_RATES}" --rep-offset 1 ;;
  call16)
    timeout -s INT 170 python3 scripts/gpu/prefix_probe.py --out /tmp/vf/results/pp 2>&1 | tail -n 24
    pack_out
    serve_mix x1 380 "" --family "$AZ" --family-rates "azure=${2:?AZ_RATES}" --family "$LP" \
      --family-requests longprompt=300 ;;
  call17)
    serve_mix x2 300 "" --family "$LP" --family-requests longprompt=300 --family-rates "longprompt=${2:?LP_RATES}" \
      --family "$AZ" --family-rates "azure=${3:?AZ_RATES}" --rep-offset 1 ;;
  call18) timeout -s INT 150 python3 scripts/gpu/flash_ab.py --out /tmp/vf/results/fa 2>&1 | tail -n 16 ;;
  call19)
    for pc in engine single; do
      timeout -s INT 200 python3 -m gpu_harness.cli profile --model-config packages/gpu-harness/src/gpu_harness/configs/qwen3-0.6b.json \
        --model-name Qwen/Qwen3-0.6B --device-name h200 --device cuda --dtype bfloat16 --time-budget-s 120 --max-seq-len 4608 \
        --prefill-call $pc --out /tmp/vf/results/profile-$pc 2>&1 | tail -n 4
      pack_out
    done ;;
  call20) timeout -s INT 200 python3 scripts/gpu/decode_ab.py --out /tmp/vf/results/da 2>&1 | tail -n 16 ;;
  call21)
    for b in 8 64; do
      timeout -s INT 200 python3 scripts/gpu/decode_ab.py --batch $b --out /tmp/vf/results/da$b 2>&1 | tail -n 8
    done ;;
  call22)
    timeout -s INT 60 python3 -m gpu_harness.cli profile --model-config packages/gpu-harness/src/gpu_harness/configs/qwen3-0.6b.json \
      --model-name Qwen/Qwen3-0.6B --device-name h200 --device cuda --dtype bfloat16 --quick --max-seq-len 4608 \
      --out /tmp/vf/results/profile-de-quick 2>&1 | tail -n 3
    profile_pair de ;;
  call23) profile_pair de2 ;;
  call24) profile_pair de3 ;;
  call25) profile_pair de4 ;;
  call26) timeout -s INT 500 python3 scripts/gpu/chunk_ab.py --out /tmp/vf/results/ca 2>&1 | tail -n 40 ;;
  call27) timeout -s INT 500 python3 scripts/gpu/host_ab.py --out /tmp/vf/results/ha 2>&1 | tail -n 20 ;;
  call28)
    serve_mix y1 345 "" --family "$AZ" --family-rates "azure=$V_AZ" --family "$SG" --family-rates "sharegpt=$V_SG" \
      --family "$MC" --family-requests mooncake=1600 --family-rates "mooncake=$V_MC"
    serve_mix y2 165 "--max-num-batched-tokens 256" --family "$AZ" --family-rates "azure=$B1_AZ" ;;
  call29)
    serve_mix y3 170 "" --rep-offset 1 --family "$AZ" --family-rates "azure=$V_AZ" --family "$SG" \
      --family-rates "sharegpt=$V_SG"
    serve_mix y4 160 "--max-batch-size 32" --family "$AZ" --family-rates "azure=$W1_AZ"
    serve_mix y5 160 "--max-num-batched-tokens 256" --rep-offset 1 --family "$AZ" --family-rates "azure=$B1_AZ" ;;
  call30)
    serve_mix y6 160 "--max-batch-size 32" --rep-offset 1 --family "$AZ" --family-rates "azure=$W1_AZ"
    serve_mix y7 250 "" --rep-offset 1 --family "$SG" --family-rates "sharegpt=168.53" --family "$MC" \
      --family-requests mooncake=1600 --family-rates "mooncake=$V_MC" ;;
  call31)
    serve_mix z1 270 "" --demo data/h200-qwen3-0.6b/demo-experiment.json --rep-offset 2 --family "$AZ" \
      --family-rates "azure=$V_AZ"
    serve_mix z2 190 "" --rep-offset 3 --family "$AZ" --family-rates "azure=$V_AZ" ;;
  call32)
    serve_mix z3 230 "--max-batch-size 32" --rep-offset 2 --family "$AZ" --family-rates "azure=$W1_AZ"
    serve_mix z4 190 "--max-num-batched-tokens 256" --rep-offset 2 --family "$AZ" --family-rates "azure=$B1_AZ" ;;
  call33)
    serve_mix z5 300 "" --rep-offset 3 --family "$SG" --family-rates "sharegpt=$V_SG" --family "$MC" \
      --family-requests mooncake=1600 --family-rates "mooncake=$V_MC" ;;
  call34)
    serve_mix z6 290 "" --demo data/h200-qwen3-0.6b/demo-experiment.json --rep-offset 4 --family "$AZ" \
      --family-rates "azure=$V_AZ" ;;
  call35)
    serve_mix z7 220 "" --family "$DEMO" --demo-family demo --demo data/h200-qwen3-0.6b/demo-experiment.json
    cp data/h200-qwen3-0.6b/demo-experiment.json /tmp/vf/results/z7/ && pack_out ;;
  call36)
    serve_mix z8 115 "--no-gc-freeze" --rep-offset 5 --family "$AZ" --family-rates "azure=24.432,34.612"
    serve_mix z9 115 "" --rep-offset 6 --family "$AZ" --family-rates "azure=24.432,34.612" ;;
  call37)
    serve_mix n1 300 "" --demo data/h200-qwen3-0.6b/demo-experiment.json --rep-offset 7 --family "$AZ" \
      --family-rates "azure=12.216,24.432" --family "$SG" --family-rates "sharegpt=59.481,118.962"
    serve_mix n2 150 "" --demo data/h200-qwen3-0.6b/demo-experiment.json ;;
  call38)
    timeout -s INT 80 python3 scripts/gpu/cpu_regimes.py --seconds 60 --cpus 0,5,10,15 --out /tmp/vf/results/cpu-idle
    timeout -s INT 170 python3 scripts/gpu/cpu_regimes.py --seconds 150 --cpus 0,15 --out /tmp/vf/results/cpu-load \
      > /tmp/vf/results/cpu-load.txt 2>&1 &
    serve_mix n3 140 "" --rep-offset 8 --family "$SG" --family-rates "sharegpt=59.481,118.962"
    wait
    cat /tmp/vf/results/cpu-load.txt
    pack_out ;;
  call39)
    serve_mix o1 400 "--token-delivery overlap" --family "$AZ" --family "$SG" --family "$MC" \
      --family-requests mooncake=1600
    rates() { python3 -c "import json,sys; d=json.load(open('/tmp/vf/results/o1/sweep.json'))['families'][sys.argv[1]]
print(','.join(str(l['rate_rps']) for l in d['loads'] if l['fraction'] in tuple(map(float, sys.argv[2:]))))" "$@"; }
    serve_mix o2 140 "" --family "$AZ" --family-rates "azure=$(rates azure 0.6)" --family "$SG" \
      --family-rates "sharegpt=$(rates sharegpt 0.3 0.6)" ;;
  call40)
    serve_mix o3 350 "--token-delivery overlap" --rep-offset 1 --family "$AZ" --family-rates "azure=${2:?AZ_RATES}" \
      --family "$SG" --family-rates "sharegpt=${3:?SG_RATES}" --family "$MC" --family-requests mooncake=1600 \
      --family-rates "mooncake=${4:?MC_RATES}"
    serve_mix o4 200 "--token-delivery overlap --max-batch-size 32" --family "$AZ" ;;
  call41)
    serve_mix p1 400 "--token-delivery overlap --engine-process" --family "$AZ" --family "$SG" --family "$MC" \
      --family-requests mooncake=1600
    serve_mix p2 135 "--token-delivery overlap --engine-process --max-batch-size 32" --family "$AZ" \
      --family-rates "azure=10.242,20.484,29.019" ;;
  call42)
    pin_setup call42 ""
    q_args=(--family "$AZ" --family-rates "azure=12.987,25.974,36.797" --family "$SG"
      --family-rates "sharegpt=62.229,124.458" --family "$MC" --family-requests mooncake=1600
      --family-rates "mooncake=6.585,13.17")
    serve_mix q1 270 "--token-delivery overlap --engine-process --engine-cpus $E" "${q_args[@]}"
    WRAP=()
    serve_mix q2 270 "--token-delivery overlap --engine-process" "${q_args[@]}" ;;
  call43)
    pin_setup call43 "-call43"
    serve_mix q3 290 "--token-delivery overlap --engine-process --engine-cpus $E" --family "$AZ" \
      --family-rates "azure=12.987,25.974,36.797" --family "$SG" --family-rates "sharegpt=62.229,124.458" --family "$MC" \
      --family-requests mooncake=1600 --family-rates "mooncake=6.585,13.17" --rep-offset 1
    serve_mix q4 160 "--token-delivery overlap --engine-process --engine-cpus $E --max-batch-size 32" --family "$AZ" \
      --family-rates "azure=10.242,20.484,29.019" ;;
  call44)
    pin_setup call44 "-call44"
    serve_mix q5 200 "--token-delivery overlap --engine-process --engine-cpus $E" --family "$AZ" \
      --family-rates "azure=12.987,25.974,36.797" --family "$SG" --family-rates "sharegpt=62.229,124.458" --rep-offset 2
    serve_mix q6 140 "--token-delivery overlap --engine-process --engine-cpus $E --max-batch-size 32" --family "$AZ" \
      --family-rates "azure=20.484,29.019" --rep-offset 1 ;;
  call45)
    pin_setup call45 "-call45"
    serve_mix d1 170 "$PIN" --family "$DEMO" --demo-family demo --demo data/h200-qwen3-0.6b/demo-experiment.json
    serve_mix r1 270 "$PIN --max-num-batched-tokens 256" --family "$AZ" --family "$SG" ;;
  call46)
    pin_setup call46 "-call46"
    serve_mix r2 170 "$PIN --max-num-batched-tokens 256" --rep-offset 1 --family "$AZ" \
      --family-rates "azure=${2:?AZ_RATES}" --family "$SG" --family-rates "sharegpt=${3:?SG_RATES}"
    serve_mix q7 300 "$PIN" --rep-offset 3 --family "$MC" --family-requests mooncake=1600 \
      --family-rates "mooncake=13.17,6.585" --family "$AZ" --family-rates "azure=12.987,25.974,36.797" --family "$SG" \
      --family-rates "sharegpt=62.229,124.458" ;;
  call47)
    pin_setup call47 "-call47"
    serve_mix r3 200 "$PIN --max-num-batched-tokens 256" --rep-offset 2 --family "$SG" \
      --family-rates "sharegpt=${3:?SG_RATES}" --family "$AZ" --family-rates "azure=${2:?AZ_RATES}"
    serve_mix d2 130 "$PIN" --demo "${4:?DEMO_EXP}"
    serve_mix q8 200 "$PIN" --rep-offset 4 --family "$MC" --family-requests mooncake=1600 \
      --family-rates "mooncake=13.17,6.585" ;;
  call48)
    pin_setup call48 "-call48"
    serve_mix b1 255 "$PIN --max-num-batched-tokens 1024" --family "$AZ" --family "$SG"
    serve_mix c1 255 "$PIN --max-batch-size 64" --family "$AZ" --family "$SG" ;;
  call49)
    pin_setup call49 "-call49"
    serve_mix b2 170 "$PIN --max-num-batched-tokens 1024" --rep-offset 1 --family "$AZ" \
      --family-rates "azure=${2:?B_AZ}" --family "$SG" --family-rates "sharegpt=${3:?B_SG}"
    serve_mix c2 170 "$PIN --max-batch-size 64" --rep-offset 1 --family "$AZ" \
      --family-rates "azure=${4:?C_AZ}" --family "$SG" --family-rates "sharegpt=${5:?C_SG}"
    serve_mix q9 170 "$PIN" --rep-offset 5 --family "$AZ" --family-rates "azure=25.974,12.987,36.797" ;;
  call50)
    pin_setup call50 "-call50"
    serve_mix b3 170 "$PIN --max-num-batched-tokens 1024" --rep-offset 2 --family "$SG" \
      --family-rates "sharegpt=${3:?B_SG}" --family "$AZ" --family-rates "azure=${2:?B_AZ}"
    serve_mix c3 170 "$PIN --max-batch-size 64" --rep-offset 2 --family "$SG" \
      --family-rates "sharegpt=${5:?C_SG}" --family "$AZ" --family-rates "azure=${4:?C_AZ}" ;;
  call51)
    pin_setup call51 "-call51"
    AZ0="azure0=${AZ#azure=}"
    SG0="sharegpt0=${SG#sharegpt=}"
    serve_mix q10 230 "$PIN" --capacity-only --family "$AZ" --family "$AZ0" --family-bench-args "azure0=--preconnect 0" \
      --family "$SG" --family "$SG0" --family-bench-args "sharegpt0=--preconnect 0" --family "$MC" --family-requests mooncake=512
    serve_mix c4 150 "$PIN --max-batch-size 64" --capacity-only --family "$AZ" --family "$AZ0" \
      --family-bench-args "azure0=--preconnect 0" --family "$SG" ;;
  call52)
    pin_setup call52 "-call52"
    AZ0="azure0=${AZ#azure=}"
    serve_mix c5 170 "$PIN --max-batch-size 64" --rep-offset 3 --family "$AZ" --family-rates "azure=${2:?C_AZ}"
    serve_mix b5 90 "$PIN --max-num-batched-tokens 1024" --capacity-only --family "$AZ0" \
      --family-bench-args "azure0=--preconnect 0"
    serve_mix q11 110 "$PIN" --capacity-only --family "$AZ0" --family-bench-args "azure0=--preconnect 0" --family "$AZ" ;;
  call53)
    pin_setup call53 "-call53"
    serve_mix q12 545 "$PIN" --family "$SG" --family-repeats sharegpt=2 --family "$AZ" --family "$MC" \
      --family-requests mooncake=1600 --capacity-bench-args "sharegpt=--preconnect 0" \
      --capacity-bench-args "azure=--preconnect 0" --capacity-bench-args "mooncake=--preconnect 0" ;;
  call54)
    pin_setup call54 "-call54"
    serve_mix q13 545 "$PIN" --rep-offset 1 --family "$SG" --family-rates "sharegpt=${2:?SG}" --family-repeats sharegpt=2 \
      --family "$AZ" --family-rates "azure=${3:?AZ}" --family "$MC" --family-requests mooncake=1600 \
      --family-rates "mooncake=${4:?MC}" ;;
  call55)
    pin_setup call55 "-call55"
    serve_mix q14 400 "$PIN" --family "$SG" --load-fractions 0.85,0.6 --family-repeats sharegpt=4 \
      --capacity-bench-args "sharegpt=--preconnect 0" --family "$AZ" --family-rates "azure=25.692" ;;
  call56)
    pin_setup call56 "-call56"
    serve_mix q15 545 "$PIN" --family "$SI" --family "$AZ" --family "$SG" \
      --capacity-bench-args "selfinstruct=--preconnect 0" --capacity-bench-args "azure=--preconnect 0" \
      --capacity-bench-args "sharegpt=--preconnect 0" ;;
  call57)
    pin_setup call57 "-call57"
    serve_mix q16 545 "$PIN" --rep-offset 1 --family "$SI" --family-rates "selfinstruct=${2:?SI}" \
      --family "$AZ" --family-rates "azure=${3:?AZ}" --family "$SG" --family-rates "sharegpt=${4:?SG}" ;;
  call58)
    pin_setup call58 "-call58"
    serve_mix c6 545 "$PIN --max-batch-size 64" --family "$SI" --family "$SG" \
      --capacity-bench-args "selfinstruct=--preconnect 0" --capacity-bench-args "sharegpt=--preconnect 0" ;;
  call59)
    pin_setup call59 "-call59"
    serve_mix b6 545 "$PIN --max-num-batched-tokens 1024" --family "$SI" --family "$MC" --family-requests mooncake=1600 \
      --capacity-bench-args "selfinstruct=--preconnect 0" --capacity-bench-args "mooncake=--preconnect 0" ;;
  call60)
    pin_setup call60 "-call60"
    serve_mix q17 545 "$PIN" --family "$HE" --family "$MT" \
      --capacity-bench-args "humaneval=--preconnect 0" --capacity-bench-args "mtbench=--preconnect 0" ;;
  call61)
    pin_setup call61 "-call61"
    serve_mix q18 545 "$PIN" --rep-offset 1 --family "$HE" --family-rates "humaneval=${2:?HE}" \
      --family "$MT" --family-rates "mtbench=${3:?MT}" ;;
  call62)
    pin_setup call62 "-call62"
    serve_mix q19 400 "$PIN" --rep-offset 2 --family "$SI" --family-rates "selfinstruct=33.435,94.733" \
      --family "$HE" --family-rates "humaneval=40.662,115.209" --family "$MT" --family-rates "mtbench=23.736,67.252" ;;
  call63)
    pin_setup call63 "-call63"
    serve_mix q20 240 "$PIN" --rep-offset 3 --family "$SI" --family-rates "selfinstruct=94.733" \
      --family "$MT" --family-rates "mtbench=67.252"
    serve_mix q20s 240 "$PIN --switch-interval-us 200" --rep-offset 3 --family "$SI" --family-rates "selfinstruct=94.733" \
      --family "$MT" --family-rates "mtbench=67.252" ;;
  call64)
    pin_setup call64 "-call64"
    serve_mix q21 470 "$PIN" --rep-offset 4 --family "$AZ" --family-rates "azure=12.987,25.974,36.797" \
      --family "$SI" --family-rates "selfinstruct=33.435,94.733" --family "$HE" --family-rates "humaneval=40.662,115.209" \
      --family "$MT" --family-rates "mtbench=23.736,67.252" ;;
  call65)
    pin_setup call65 "-call65"
    repeats85 q22 5 ;;
  call66)
    pin_setup call66 "-call66"
    repeats85 q23 8 ;;
  call67)
    pin_setup call67 "-call67"
    sampled85 call67 q24 11 ;;
  call68)
    pin_setup call68 "-call68"
    sampled85 call68 q25 14 ;;
  call69)
    pin_setup call69 "-call69"
    sampled85 call69 q26 17 ;;
  call70)
    pin_setup call70 "-call70"
    sampled85 call70 q27 20 ;;
  call71)
    pin_setup call71 "-call71"
    serve_mix q28 200 "$PIN" --rep-offset 23 --family "$HE" --family-rates "humaneval=115.209"
    python3 scripts/gpu/cpu_burn.py --cpus "$OTHERS" --seconds 240 &
    burner=$!
    serve_mix q28b 200 "$PIN" --rep-offset 23 --family "$HE" --family-rates "humaneval=115.209"
    kill -INT "$burner"; wait "$burner" || true
    python3 - /tmp/vf/results/q28 /tmp/vf/results/q28b <<'PY' | tee /tmp/vf/results/topo/probe-burn-call71.txt
import glob, json, sys
probes = [{p["key"]: p["p50_ms"] for p in json.load(open(sorted(glob.glob(d + "/runs/*/server_run.json"))[0]))["machine_probe"]["points"]} for d in sys.argv[1:]]
print(f"{'composition':44s} {'idle':>7s} {'busy':>7s}  ratio")
for k in probes[0]:
    print(f"{k:44s} {probes[0][k]:7.3f} {probes[1][k]:7.3f}  {probes[1][k] / probes[0][k]:.3f}")
PY
    ;;
  call73 | call74)
    name=$([[ $1 == call73 ]] && echo q29 || echo q30)
    pin_setup "$1" "-$1"
    timeout -s INT 150 python3 scripts/gpu/decode_grid.py --rounds 3 --out "/tmp/vf/results/grid-$name" 2>&1 | tail -n 2
    sampled85 "$1" "$name" "$([[ $1 == call73 ]] && echo 26 || echo 29)" ;;
  call75 | call76)
    pin_setup "$1" "-$1"
    sampled85 "$1" "$([[ $1 == call75 ]] && echo q31 || echo q32)" "$([[ $1 == call75 ]] && echo 32 || echo 35)" ;;
  call77 | call78)
    pin_setup "$1" "-$1"
    sampled85 "$1" "$([[ $1 == call77 ]] && echo q33 || echo q34)" "$([[ $1 == call77 ]] && echo 38 || echo 41)" 560 \
      --demo data/h200-qwen3-0.6b/demo-experiment.json --demo-repeats 3 ;;
  call79 | call80)
    pin_setup "$1" "-$1"
    sampled85 "$1" "$([[ $1 == call79 ]] && echo q35 || echo q36)" "$([[ $1 == call79 ]] && echo 44 || echo 47)" ;;
  call81 | call82)
    pin_setup "$1" "-$1"
    sampled85 "$1" "$([[ $1 == call81 ]] && echo q37 || echo q38)" "$([[ $1 == call81 ]] && echo 50 || echo 53)" ;;
  call83 | call84 | call85 | call86 | call87 | call88 | call89 | call90 | call91 | call92 | call93 | call94 | call95 | call96 | call97 | call98 | call99 | call100)
    # Servers Q39-Q56 (rep56-58, 59-61, ..., 107-109), one machine each.
    n=${1#call}
    pin_setup "$1" "-$1"
    sampled85 "$1" "q$((n - 44))" "$((56 + 3 * (n - 83)))" ;;
  *) echo "h200-fidelity.sh: unknown call $1 (call1 | ... | call71 | call73 | call74 | call75 | ... | call100)" >&2; exit 2 ;;
esac
pack_out
ls -la "$OUTDIR"
