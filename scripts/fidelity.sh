#!/usr/bin/env bash
# The README's fidelity tables, from the recorded H200 runs under tmp/h200-runs/ (docs/runbook.md: how they are
# made on the GPU and placed here): every experiment uncalibrated, the calibration fitted on Azure conv's middle
# load, frozen onto every other experiment (repeats, a second server start, another token budget, another
# workload), then the tables. Needs scripts/setup.sh and scripts/gpu/pack.sh (ShareGPT reads .carry/data/).
# Usage: bash scripts/fidelity.sh [FIT_LOAD] [--single]   (default load60, fitted on that load's three real runs,
# servers A, A' and C, steps pooled: runner calibrate --fit-also; --single: on server A's run only)
# The seventh session's sections follow (the same calibration on four more server starts, the machine-probe
# study, the per-step token delivery family with its own calibration), then the eighth's (every family recorded
# again with per-step delivery, calibrated on Azure conv's 60 % and frozen onto the rest): about 80 minutes in all
# on 2 cores. `bash scripts/fidelity.sh load60 --eighth` runs only the eighth session's section; the ninth's (the
# prefill-prefix term, a long-prompt family, then the engine-shaped attention profile; about 60 minutes) follows it,
# `--ninth` runs it alone, `--ninth-profile` only its profile part; the tenth's (the same experiments on the profile with
# both attention ops from the engine; about 25 minutes) follows, `--tenth` runs it alone; then the eleventh's (the
# step-size term on the committed profile and on the engine profile; about 30 minutes), `--eleventh` alone; the
# twelfth's (every family again on servers that record each step's phases, the runs committed under
# data/h200-qwen3-0.6b/runs-s12/, so it needs no GPU recording; about 25 minutes), `--twelfth` alone; the
# thirteenth's (third and fourth server starts of every family, runs-s13/, the same calibration frozen onto them, a
# fit pooled over four starts, and the demo recorded again on two servers; about 25 minutes), `--thirteenth` alone; the
# fourteenth's (a fifth start, runs-s14/, the inter-step gap, the decode step's growth with KV, two other profiles
# under the four-start fit, the demo on two more servers; about 45 minutes), `--fourteenth` alone; the fifteenth's (servers
# with --token-delivery overlap, runs-s15/, and with the engine in its own process: every family's capacity and loads
# again, calibrated on their own Azure 60 %; about 25 minutes), `--fifteenth` alone; the seventeenth's (the engine's step loop
# pinned to a CPU of its own on three machines, runs-s17/: one run's fit frozen onto every other start, workload and the
# 32-request cap, blind and with each run's in-band host probe; about 10 minutes), `--seventeenth` alone; the eighteenth's (two more
# starts of that layout, a 256-token budget on three starts and the demo on two, runs-s18/, with Q1's fit frozen onto
# them; about 12 minutes), `--eighteenth` alone; the nineteenth's (a 1,024-token budget and a 64-request cap on three
# starts each, runs-s19/, Q1's fit frozen onto them and onto the 256-token budget and 32-request cap, blind, with the
# plain probe ratio and with the probe read per int), `--nineteenth` alone; the twentieth's (every committed saturation
# run simulated in the workload's order and in the order its server admitted the burst, uncalibrated and from Q1's
# frozen fit, with and without Vidur's GQA decode extra; runs-s20/; about 30 minutes), `--twentieth` alone; the
# twenty-first's (the fit's host phases at one speed per step and the table's tail from its largest bins, Q1's fit
# frozen onto every saturation and held-out run of its layout and onto the new starts Q12 and Q13, runs-s21/; about
# 60 minutes), `--twenty-first` alone; then its decode KV term on the same runs (after it; about 30 minutes),
# `--twenty-first-kv` alone; then call 55's four ShareGPT repeats on one server under the same three calibrations
# (after both; a few minutes), `--twenty-first-q14` alone; the twenty-second's (the hybrid profile, Vidur's decode
# attention from the engine's graphed decode step, under both host flags, on the same runs; after those three; about 20
# minutes), `--twenty-second` alone; then calls 56-58's new runs (Self-Instruct, a prompt set no fit has seen, on two
# starts of Q1's layout and on the 64-request cap; runs-s22/) under every calibration so far (after it; about 30
# minutes), `--twenty-second-runs` alone; then the table's tail held flat past the fit's batches (runner calibrate
# --host-tail flat), alone and with the decode KV term, on all of them (after both; about 50 minutes),
# `--twenty-second-flat` alone; then call 59's check made after it (Self-Instruct and Mooncake on the 1,024-token
# budget, under every calibration; about 10 minutes),
# `--twenty-second-b6` alone; then the flat tail and the KV term without the front's backlog (after the flat section;
# about 10 minutes), `--twenty-second-front` alone; then the twenty-third's (the front's backlog paid per token and per
# step, runner calibrate --front-per-step, on every run of the twenty-first and twenty-second sections; self-contained,
# about 60 minutes), `--twenty-third` alone; then calls 60 and 61's new runs (HumanEval and MT-Bench, runs-s23/) under
# those and the earlier calibrations (about 15 minutes), `--twenty-third-runs` alone; then the twenty-fourth's: call 64's
# runs (Q21, runs-s24/) under Q1's fit and their own machine's (`--twenty-fourth`, about 15 minutes), the admission
# moved into the simulation (runner calibrate --admission-in-sim) on every run the twenty-third compared
# (`--twenty-fourth-wide`, about 35 minutes; `--twenty-fourth-wide-tables` prints its tables again), and call 65's
# 85 % repeats on Q22 and call 66's on Q23 (`--twenty-fourth-q22`, after both; about 30 minutes); then the
# twenty-fifth's: the serving path at each run's host speed (runner calibrate --path-host-scale) on Q21, Q22 and Q23
# (`--twenty-fifth`, after `--twenty-fourth-q22`; about 20 minutes) and the chosen one (hsfksiq) on every run the
# twenty-fourth compared (`--twenty-fifth-wide`, about 30 minutes; `--twenty-fifth-wide-tables` reprints), and calls
# 67-70's runs on four more machines, recorded after that choice (`--twenty-fifth-q24`, about 25 minutes), and the
# front's cost from their CPU samples in place of the fitted one (`--twenty-fifth-cpu`, after it; about 20 minutes);
# then the twenty-sixth's: the fit's misfit taken at its real batch sizes (runner calibrate --misfit-by-size) on every
# run of --twenty-fifth-wide and --twenty-fifth-q24 (`--twenty-sixth`, after both; about 45 minutes;
# `--twenty-sixth-tables` reprints), and calls 73-74's two more machines, recorded after hsfksimq was chosen
# (`--twenty-sixth-q29`, after it; about 10 minutes); then the twenty-seventh's: the table's tail past the fit's
# batches measured on Q15's Self-Instruct 85 % (runner calibrate --tail-from) on all of those runs (`--twenty-seventh`,
# after them; about 45 minutes; `--twenty-seventh-tables` reprints), and calls 75-76's machines, recorded after hstgsim
# was committed (`--twenty-seventh-q31`, after it; about 10 minutes); then the twenty-eighth's: calls 77-78's machines
# (`--twenty-eighth-q33`, after --twenty-seventh; about 10 minutes).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
FIT="${1:-load60}"
ALSO=(--fit-also "tmp/h200-runs/azure-$FIT-rep1,tmp/h200-runs/azure-$FIT-rep2")
EIGHTH_ONLY=
NINTH_ONLY=
PROFILE_ONLY=
TENTH_ONLY=
ELEVENTH_ONLY=
TWELFTH_ONLY=
THIRTEENTH_ONLY=
FOURTEENTH_ONLY=
FIFTEENTH_ONLY=
SEVENTEENTH_ONLY=
EIGHTEENTH_ONLY=
NINETEENTH_ONLY=
TWENTIETH_ONLY=
TWENTY_FIRST_ONLY=
TWENTY_FIRST_KV_ONLY=
TWENTY_FIRST_Q14_ONLY=
TWENTY_SECOND_ONLY=
TWENTY_SECOND_RUNS_ONLY=
TWENTY_SECOND_FLAT_ONLY=
TWENTY_SECOND_B6_ONLY=
TWENTY_SECOND_FRONT_ONLY=
TWENTY_THIRD_ONLY=
TWENTY_THIRD_RUNS_ONLY=
TWENTY_FOURTH_ONLY=
TWENTY_FOURTH_WIDE_ONLY=
TWENTY_FOURTH_Q22_ONLY=
TWENTY_FOURTH_WIDE_TABLES_ONLY=
TWENTY_FIFTH_ONLY=
TWENTY_FIFTH_WIDE_ONLY=
TWENTY_FIFTH_WIDE_TABLES_ONLY=
TWENTY_FIFTH_Q24_ONLY=
TWENTY_FIFTH_CPU_ONLY=
TWENTY_SIXTH_ONLY=
TWENTY_SIXTH_TABLES_ONLY=
TWENTY_SIXTH_Q29_ONLY=
TWENTY_SEVENTH_ONLY=
TWENTY_SEVENTH_TABLES_ONLY=
TWENTY_SEVENTH_Q31_ONLY=
TWENTY_EIGHTH_Q33_ONLY=
TWENTY_EIGHTH_ONLY=
TWENTY_EIGHTH_TABLES_ONLY=
TWENTY_EIGHTH_Q35_ONLY=
TWENTY_EIGHTH_Q37_ONLY=
TWENTY_NINTH_ONLY=
TWENTY_NINTH_Q39_ONLY=
THIRTIETH_ONLY=
THIRTIETH_Q45_ONLY=
case "${2:-}" in
  "") ;;
  --single) ALSO=() ;;
  --eighth) EIGHTH_ONLY=1 ;;
  --ninth) NINTH_ONLY=1 ;;
  --ninth-profile) PROFILE_ONLY=1 ;;
  --tenth) TENTH_ONLY=1 ;;
  --eleventh) ELEVENTH_ONLY=1 ;;
  --twelfth) TWELFTH_ONLY=1 ;;
  --thirteenth) THIRTEENTH_ONLY=1 ;;
  --fourteenth) FOURTEENTH_ONLY=1 ;;
  --fifteenth) FIFTEENTH_ONLY=1 ;;
  --seventeenth) SEVENTEENTH_ONLY=1 ;;
  --eighteenth) EIGHTEENTH_ONLY=1 ;;
  --nineteenth) NINETEENTH_ONLY=1 ;;
  --twentieth) TWENTIETH_ONLY=1 ;;
  --twenty-first) TWENTY_FIRST_ONLY=1 ;;
  --twenty-first-kv) TWENTY_FIRST_KV_ONLY=1 ;;
  --twenty-first-q14) TWENTY_FIRST_Q14_ONLY=1 ;;
  --twenty-second) TWENTY_SECOND_ONLY=1 ;;
  --twenty-second-runs) TWENTY_SECOND_RUNS_ONLY=1 ;;
  --twenty-second-flat) TWENTY_SECOND_FLAT_ONLY=1 ;;
  --twenty-second-b6) TWENTY_SECOND_B6_ONLY=1 ;;
  --twenty-second-front) TWENTY_SECOND_FRONT_ONLY=1 ;;
  --twenty-third) TWENTY_THIRD_ONLY=1 ;;
  --twenty-third-runs) TWENTY_THIRD_RUNS_ONLY=1 ;;
  --twenty-fourth) TWENTY_FOURTH_ONLY=1 ;;
  --twenty-fourth-wide) TWENTY_FOURTH_WIDE_ONLY=1 ;;
  --twenty-fourth-q22) TWENTY_FOURTH_Q22_ONLY=1 ;;
  --twenty-fourth-wide-tables) TWENTY_FOURTH_WIDE_TABLES_ONLY=1 ;;
  --twenty-fifth) TWENTY_FIFTH_ONLY=1 ;;
  --twenty-fifth-wide) TWENTY_FIFTH_WIDE_ONLY=1 ;;
  --twenty-fifth-wide-tables) TWENTY_FIFTH_WIDE_TABLES_ONLY=1 ;;
  --twenty-fifth-q24) TWENTY_FIFTH_Q24_ONLY=1 ;;
  --twenty-fifth-cpu) TWENTY_FIFTH_CPU_ONLY=1 ;;
  --twenty-sixth) TWENTY_SIXTH_ONLY=1 ;;
  --twenty-sixth-tables) TWENTY_SIXTH_TABLES_ONLY=1 ;;
  --twenty-sixth-q29) TWENTY_SIXTH_Q29_ONLY=1 ;;
  --twenty-seventh) TWENTY_SEVENTH_ONLY=1 ;;
  --twenty-seventh-tables) TWENTY_SEVENTH_TABLES_ONLY=1 ;;
  --twenty-seventh-q31) TWENTY_SEVENTH_Q31_ONLY=1 ;;
  --twenty-eighth-q33) TWENTY_EIGHTH_Q33_ONLY=1 ;;
  --twenty-eighth) TWENTY_EIGHTH_ONLY=1 ;;
  --twenty-eighth-tables) TWENTY_EIGHTH_TABLES_ONLY=1 ;;
  --twenty-eighth-q35) TWENTY_EIGHTH_Q35_ONLY=1 ;;
  --twenty-eighth-q37) TWENTY_EIGHTH_Q37_ONLY=1 ;;
  --twenty-ninth) TWENTY_NINTH_ONLY=1 ;;
  --twenty-ninth-q39) TWENTY_NINTH_Q39_ONLY=1 ;;
  --thirtieth) THIRTIETH_ONLY=1 ;;
  --thirtieth-q45) THIRTIETH_Q45_ONLY=1 ;;
  *) echo "fidelity.sh: unknown option $2 (expected --single, --eighth, --ninth, --ninth-profile, --tenth, --eleventh, --twelfth, --thirteenth, --fourteenth, --fifteenth, --seventeenth, --eighteenth, --nineteenth, --twentieth, --twenty-first, --twenty-first-kv, --twenty-first-q14, --twenty-second, --twenty-second-runs, --twenty-second-flat, --twenty-second-b6, --twenty-second-front, --twenty-third, --twenty-third-runs, --twenty-fourth, --twenty-fourth-wide, --twenty-fourth-wide-tables, --twenty-fourth-q22, --twenty-fifth, --twenty-fifth-wide, --twenty-fifth-wide-tables, --twenty-fifth-q24, --twenty-fifth-cpu, --twenty-sixth, --twenty-sixth-tables, --twenty-sixth-q29, --twenty-seventh, --twenty-seventh-tables, --twenty-seventh-q31, --twenty-eighth-q33, --twenty-eighth, --twenty-eighth-tables, --twenty-eighth-q35, --twenty-eighth-q37, --twenty-ninth, --twenty-ninth-q39, --thirtieth or --thirtieth-q45)" >&2; exit 2 ;;
esac
R=(node apps/runner/dist/main.js)
E=experiments/h200-qwen3-0.6b
C=tmp/comparisons
H=tmp/h200-runs
# The eighth session's capacity rows (every request at once, per-step servers): real and calibrated saturation runs.
CAPACITY_ROWS=(
  "Azure conv, 512 budget (V1)=$C/azure-conv-v-capacity-saturation,$C/azure-conv-v-capacity-saturation-cal"
  "Azure conv, 256 budget (B1)=$C/azure-conv-chunk256-b-capacity-saturation,$C/azure-conv-chunk256-b-capacity-saturation-cal"
  "Azure conv, 32 cap (W1)=$C/azure-conv-cap32-w-capacity-saturation,$C/azure-conv-cap32-w-capacity-saturation-cal"
  "ShareGPT, 512 budget (V1)=$C/sharegpt-v-capacity-saturation,$C/sharegpt-v-capacity-saturation-cal"
  "Mooncake, 512 budget (V1)=$C/mooncake-v-capacity-saturation,$C/mooncake-v-capacity-saturation-cal"
)
eighth() {
# The eighth session: every family again with per-step token delivery (the server's default), each at 30 / 60 / 85 %
# of its capacity measured on a per-step server (V1, W1, B1); calibrated on Azure conv's 60 % (V2, V3 pooled: two
# machines), frozen onto the others. Runs and servers: docs/runbook.md, "The eighth H200 session".
V8=(azure-conv-v-rep1 sharegpt-v sharegpt-v-rep1 mooncake-v mooncake-v-rep1 azure-conv-chunk256-b azure-conv-chunk256-b-rep1
  azure-conv-cap32-w azure-conv-cap32-w-rep1 azure-conv-v-capacity sharegpt-v-capacity mooncake-v-capacity
  azure-conv-chunk256-b-capacity azure-conv-cap32-w-capacity)
for x in azure-conv-v "${V8[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
local which flag also fitted
# Uncalibrated; calibrated as the seventh session did (--no-admission-delay); with the admission delay; the same
# fitted on V2 alone (one machine: V1, V2, B1 and W1 ran on it, V3, B2 and W2 on another). The capacity table
# after the loop is the last one's.
for which in "" --no-admission-delay -cal v2; do
  echo
  if [[ -z $which ]]; then
    echo "## Per-step delivery, every family (eighth session): uncalibrated, against every repeat"
  else
    flag=
    also=(--fit-also "$H/azure-v3-load60")
    fitted="V2 and V3 pooled"
    if [[ $which == --no-admission-delay ]]; then flag=$which; fi
    if [[ $which == v2 ]]; then also=(); fitted="V2 alone"; fi
    which=-cal
    "${R[@]}" calibrate "$E/azure-conv-v.json" --fit load60 "${also[@]}" $flag --no-prefix-term >&2
    for x in "${V8[@]}"; do "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-v-calibration" >&2; done
    echo "## Per-step delivery, every family (eighth session): calibrated (fit: Azure conv 60 %, $fitted${flag:+, $flag}), against every repeat"
  fi
  args=()
  family_rows "$which"
  python3 scripts/fidelity-table.py --band "${args[@]}"
done
echo
echo "## Per-step delivery: capacity (every request at once), real vs simulated (the calibration fitted on V2 alone)"
python3 scripts/fidelity-table.py --throughput "${CAPACITY_ROWS[@]}"
}
ninth() {
# The ninth session: the prefill-prefix term (runner calibrate's default since then), fitted on Azure conv's 60 % (V2
# alone) and frozen onto the eighth session's families, before (--no-prefix-term) and after; a long-prompt family
# never calibrated on (X1, X2: two machines); and the same family predicted from the same machine's Azure 60 % (X1).
# Runs and servers: docs/runbook.md, "The ninth H200 session".
V8=(azure-conv-v-rep1 sharegpt-v sharegpt-v-rep1 mooncake-v mooncake-v-rep1 azure-conv-chunk256-b azure-conv-chunk256-b-rep1
  azure-conv-cap32-w azure-conv-cap32-w-rep1 azure-conv-v-capacity sharegpt-v-capacity mooncake-v-capacity
  azure-conv-chunk256-b-capacity azure-conv-cap32-w-capacity)
X9=(longprompt-x longprompt-x-rep1 longprompt-x-capacity azure-conv-x azure-conv-x-rep1)
for x in azure-conv-v "${V8[@]}" "${X9[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
local flag title args l
echo
echo "## Long prompts (ninth session; never calibrated on): uncalibrated, against every repeat"
args=()
lp_rows ""
python3 scripts/fidelity-table.py --band "${args[@]}"
for flag in --no-prefix-term ""; do
  "${R[@]}" calibrate "$E/azure-conv-v.json" --fit load60 $flag >&2
  for x in "${V8[@]}" "${X9[@]}"; do "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-v-calibration" >&2; done
  title="without the prefill-prefix term (--no-prefix-term)"
  if [[ -z $flag ]]; then title="with the prefill-prefix term"; fi
  echo
  echo "## Every family, calibrated on Azure conv 60 % (V2 alone), $title, against every repeat"
  args=()
  family_rows -cal
  lp_rows -cal
  python3 scripts/fidelity-table.py --band "${args[@]}"
  echo
  echo "## Capacity (every request at once), real vs simulated, calibrated on Azure conv 60 % (V2 alone), $title"
  python3 scripts/fidelity-table.py --throughput "${CAPACITY_ROWS[@]}" \
    "Long prompts, 512 budget (X1)=$C/longprompt-x-capacity-saturation,$C/longprompt-x-capacity-saturation-cal"
done
# The same family predicted from the same machine's Azure conv 60 % (X1).
"${R[@]}" calibrate "$E/azure-conv-x.json" --fit load60 >&2
for x in longprompt-x longprompt-x-rep1 azure-conv-x-rep1; do "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-x-calibration" >&2; done
echo
echo "## Long prompts, calibrated on Azure conv 60 % of the same machine (X1), with the prefill-prefix term, against every repeat"
args=()
lp_rows -cal
python3 scripts/fidelity-table.py --band "${args[@]}"
}
other_profile() {  # SUFFIX TITLE [FLAG...]: the eighth and ninth sessions' experiments on a profile (*SUFFIX.json),
# uncalibrated, then calibrated on Azure conv 60 % (V2 alone, with the prefill-prefix term; FLAGs passed to the fit)
# and frozen onto the rest.
local n=$1 title=$2
shift 2
local flags=("$@")
local P=(azure-conv-v-rep1 sharegpt-v sharegpt-v-rep1 mooncake-v mooncake-v-rep1 azure-conv-chunk256-b
  azure-conv-chunk256-b-rep1 azure-conv-cap32-w azure-conv-cap32-w-rep1 longprompt-x longprompt-x-rep1
  azure-conv-x azure-conv-x-rep1)
P=("${P[@]/%/$n}")
local x which args
for x in "azure-conv-v$n" "${P[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
for which in "" -cal; do
  if [[ $which == -cal ]]; then
    "${R[@]}" calibrate "$E/azure-conv-v$n.json" --fit load60 ${flags[@]+"${flags[@]}"} >&2
    for x in "${P[@]}"; do "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-v$n-calibration" >&2; done
  fi
  echo
  if [[ -z $which ]]; then
    echo "## $title: uncalibrated, against every repeat"
  else
    echo "## $title: calibrated on Azure conv 60 % (V2 alone, with the prefill-prefix term${flags[*]+ and ${flags[*]}}), against every repeat"
  fi
  args=()
  family_rows "$which" "$n"
  lp_rows "$which" "$n"
  python3 scripts/fidelity-table.py --band "${args[@]}"
done
}
ninth_profile() {
# The ninth session's engine-shaped attention profile (data/h200-qwen3-0.6b/profiles-prefill-engine: attn_prefill
# timed in the call shape the engine makes, ~1.7x the prefix cost of the one-sequence call the other profile
# timed): the same experiments on it (*-pe).
other_profile -pe "The engine-shaped attention profile (ninth session)"
}
tenth() {
# The tenth session's profile with both attention ops set by the engine (data/h200-qwen3-0.6b/profiles-engine:
# attn_prefill in the engine's call shape, attn_decode moved by the engine's decode-step growth with context; the
# profiler's defaults): the same experiments on it (*-pd).
other_profile -pd "Both attention ops from the engine (tenth session: profiles-engine)"
echo
echo "## Served decode steps against the engine's own step at the same batch size and context (profiles-engine)"
python3 scripts/served-vs-bench.py data/h200-qwen3-0.6b/profiles-engine/compute/h200/Qwen/Qwen3-0.6B/profile.json \
  "Azure 30% (V2)=$H/azure-v2-load30" "Azure 60% (V2)=$H/azure-v2-load60" "Azure 85% (V2)=$H/azure-v2-load85" \
  "ShareGPT 30% (V1)=$H/sharegpt-v1-load30" "ShareGPT 30% (V2)=$H/sharegpt-v2-load30" \
  "Mooncake 30% (V1)=$H/mooncake-v1-load30" "Mooncake 60% (V1)=$H/mooncake-v1-load60"
}
eleventh() {
# The eleventh session's step-size term (runner calibrate --step-size-term: a mixed step's correction by the class of
# its token count, besides its batch size) on the committed profile and on profiles-engine, calibrated on Azure conv
# 60 % (V2 alone) and frozen onto the rest.
other_profile "" "The committed profile with the step-size term (eleventh session)" --step-size-term
other_profile -pd "Both attention ops from the engine with the step-size term (eleventh session)" --step-size-term
}
family_rows() {  # SUFFIX [NAME_SUFFIX]: the eighth session's families' table rows (band arguments) onto args
  local s=$1 n=${2:-} l
  for l in 30 60; do args+=("$(band "Azure $l% (V2, V3)" "azure-conv-v$n" "load$l" "$s" "azure-conv-v-rep1$n")"); done
  args+=("$(band "Azure 85% (V2)" "azure-conv-v$n" load85 "$s")")
  for l in 30 60 85; do args+=("$(band "Azure, 256 budget, $l% (B1, B2)" "azure-conv-chunk256-b$n" "load$l" "$s" "azure-conv-chunk256-b-rep1$n")"); done
  for l in 30 60 85; do args+=("$(band "Azure, 32 cap, $l% (W1, W2)" "azure-conv-cap32-w$n" "load$l" "$s" "azure-conv-cap32-w-rep1$n")"); done
  for l in 30 60 85; do args+=("$(band "ShareGPT $l% (V1, V2)" "sharegpt-v$n" "load$l" "$s" "sharegpt-v-rep1$n")"); done
  for l in 30 60 85; do args+=("$(band "Mooncake $l% (V1, V2)" "mooncake-v$n" "load$l" "$s" "mooncake-v-rep1$n")"); done
}
lp_rows() {  # SUFFIX [NAME_SUFFIX]: the ninth session's long-prompt family's and the X machines' Azure rows onto args
  local s=$1 n=${2:-} l
  for l in 30 60 85; do args+=("$(band "Long prompts $l% (X1, X2)" "longprompt-x$n" "load$l" "$s" "longprompt-x-rep1$n")"); done
  for l in 30 60 85; do args+=("$(band "Azure $l% (X1, X2)" "azure-conv-x$n" "load$l" "$s" "azure-conv-x-rep1$n")"); done
}
# The twelfth and thirteenth sessions' runs are committed (data/h200-qwen3-0.6b/runs-s12/ and runs-s13/, one archive
# per server start); unpacked into tmp/h200-runs-s12/ and tmp/h200-runs-s13/ when missing or older than their archive.
unpack_runs() {  # SESSION: s12 or s13, data/h200-qwen3-0.6b/runs-SESSION/ -> tmp/h200-runs-SESSION/
  local a s n=$1
  for a in data/h200-qwen3-0.6b/runs-$n/*.tar.xz; do
    s=$(basename "$a" .tar.xz)
    if [[ ! -d tmp/h200-runs-$n/$s || $a -nt tmp/h200-runs-$n/$s ]]; then
      rm -rf "tmp/h200-runs-$n/$s" && mkdir -p "tmp/h200-runs-$n" && tar -C "tmp/h200-runs-$n" -xJf "$a"
    fi
  done
}
s12_rows() {  # SUFFIX: the twelfth session's families' table rows (band arguments) onto args
  local s=$1 l
  for l in 30 60 85; do args+=("$(band "Azure $l% (Y1, Y3)" azure-conv-y "load$l" "$s" azure-conv-y-rep1)"); done
  for l in 30 60 85; do args+=("$(band "Azure, 256 budget, $l% (Y2, Y5)" azure-conv-chunk256-y "load$l" "$s" azure-conv-chunk256-y-rep1)"); done
  for l in 30 60; do args+=("$(band "Azure, 32 cap, $l% (Y4, Y6)" azure-conv-cap32-y "load$l" "$s" azure-conv-cap32-y-rep1)"); done
  args+=("$(band "Azure, 32 cap, 85% (Y4)" azure-conv-cap32-y load85 "$s")")
  for l in 30 60; do args+=("$(band "ShareGPT $l% (Y1, Y3)" sharegpt-y "load$l" "$s" sharegpt-y-rep1)"); done
  args+=("$(band "ShareGPT 85% (Y1, Y7)" sharegpt-y load85 "$s" sharegpt-y-rep2)")
  for l in 30 60 85; do args+=("$(band "Mooncake $l% (Y1, Y7)" mooncake-y "load$l" "$s" mooncake-y-rep1)"); done
}
twelfth() {
# The twelfth session: every family recorded again on servers that log each step's phases, the runs committed
# (docs/runbook.md, "The twelfth H200 session"): uncalibrated; calibrated on Azure conv 60 % (Y1 and Y3 pooled, the
# defaults: the phase split is written since the runs have phases) and frozen onto the rest; then the same with the
# step-size term. About 25 minutes on 2 cores.
unpack_runs s12
local Y=(azure-conv-y-rep1 azure-conv-chunk256-y azure-conv-chunk256-y-rep1 azure-conv-cap32-y azure-conv-cap32-y-rep1 sharegpt-y
  sharegpt-y-rep1 sharegpt-y-rep2 mooncake-y mooncake-y-rep1)
local x which flag args
for x in azure-conv-y "${Y[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
for which in "" -cal --step-size-term; do
  echo
  if [[ -z $which ]]; then
    echo "## Twelfth session (servers Y1-Y5, runs committed): uncalibrated, against every repeat"
  else
    flag=
    if [[ $which == --step-size-term ]]; then flag=$which; fi
    "${R[@]}" calibrate "$E/azure-conv-y.json" --fit load60 --fit-also "tmp/h200-runs-s12/y3/runs/azure-r24.432-rep1" $flag >&2
    for x in "${Y[@]}"; do "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-y-calibration" >&2; done
    cp "$C/azure-conv-y-calibration/calibration.md" "$C/azure-conv-y-calibration/calibration${flag:+-step-size}.md.keep"
    echo "## Twelfth session: calibrated on Azure conv 60 % (Y1 and Y3 pooled${flag:+, $flag}), frozen onto the rest, against every repeat"
    which=-cal
  fi
  args=()
  s12_rows "$which"
  python3 scripts/fidelity-table.py --band "${args[@]}"
done
}
# The experiments the thirteenth session's protocol freezes its fit onto (every family's twelfth- and thirteenth-session
# starts but the fit's own, azure-conv-y).
S13_Y=(azure-conv-y-rep1 azure-conv-chunk256-y azure-conv-chunk256-y-rep1 azure-conv-cap32-y azure-conv-cap32-y-rep1 sharegpt-y
  sharegpt-y-rep1 sharegpt-y-rep2 mooncake-y mooncake-y-rep1 azure-conv-y-rep2 azure-conv-y-rep3 azure-conv-y-rep4
  azure-conv-chunk256-y-rep2 azure-conv-cap32-y-rep2 sharegpt-y-rep3 mooncake-y-rep3)
# The four-start fit's other recordings of Azure conv 60 % (Y3, Z1, Z2; with azure-conv-y's own Y1): runner calibrate --fit-also.
S13_FIT_ALSO=tmp/h200-runs-s12/y3/runs/azure-r24.432-rep1,tmp/h200-runs-s13/z1/runs/azure-r24.432-rep2,tmp/h200-runs-s13/z2/runs/azure-r24.432-rep3
s13_rows() {  # SUFFIX [NAME_SUFFIX]: every family's rows against the twelfth and thirteenth sessions' repeats
  local s=$1 n=${2:-} l
  for l in 30 60 85; do args+=("$(band "Azure $l% (Y1, Y3, Z1, Z2)" azure-conv-y$n "load$l" "$s" azure-conv-y-rep1$n azure-conv-y-rep2$n azure-conv-y-rep3$n)"); done
  for l in 30 60 85; do args+=("$(band "Azure $l% (Z6: GC frozen, a slower host)" azure-conv-y-rep4$n "load$l" "$s")"); done
  for l in 30 60 85; do args+=("$(band "Azure, 256 budget, $l% (Y2, Y5, Z4)" azure-conv-chunk256-y$n "load$l" "$s" azure-conv-chunk256-y-rep1$n azure-conv-chunk256-y-rep2$n)"); done
  for l in 30 60; do args+=("$(band "Azure, 32 cap, $l% (Y4, Y6, Z3)" azure-conv-cap32-y$n "load$l" "$s" azure-conv-cap32-y-rep1$n azure-conv-cap32-y-rep2$n)"); done
  args+=("$(band "Azure, 32 cap, 85% (Y4, Z3)" azure-conv-cap32-y$n load85 "$s" azure-conv-cap32-y-rep2$n)")
  for l in 30 60; do args+=("$(band "ShareGPT $l% (Y1, Y3, Z5)" sharegpt-y$n "load$l" "$s" sharegpt-y-rep1$n sharegpt-y-rep3$n)"); done
  args+=("$(band "ShareGPT 85% (Y1, Y7, Z5)" sharegpt-y$n load85 "$s" sharegpt-y-rep2$n sharegpt-y-rep3$n)")
  for l in 30 60 85; do args+=("$(band "Mooncake $l% (Y1, Y7, Z5)" mooncake-y$n "load$l" "$s" mooncake-y-rep1$n mooncake-y-rep3$n)"); done
}
thirteenth() {
# The thirteenth session (docs/runbook.md, "The thirteenth H200 session"): third and fourth server starts of every
# family (Z1-Z5, one machine; Z6 on another, with the server's GC frozen), committed like the twelfth's. Uncalibrated;
# the twelfth's calibration (Azure conv 60 %, Y1 and Y3 pooled) frozen onto every start; the same fitted on four
# starts' 60 % (Y1, Y3, Z1, Z2); then the demo recorded again (Z1: the embedded default's loads; Z7: GC frozen, at
# 30 / 60 / 85 % of its own capacity), each calibrated on its middle load; the 32-request cap with the slot probe's
# ratio in between.
unpack_runs s12
unpack_runs s13
local Y=("${S13_Y[@]}")
local x fit args d S=tmp/h200-runs-s13
for x in azure-conv-y "${Y[@]}" demo-z1 demo-z7; do "${R[@]}" run "$E/$x.json" >&2; done
echo
echo "## Thirteenth session (servers Y1-Y7, Z1-Z6, runs committed): uncalibrated, against every repeat"
args=()
s13_rows ""
python3 scripts/fidelity-table.py --band "${args[@]}"
for fit in "tmp/h200-runs-s12/y3/runs/azure-r24.432-rep1" \
  "$S13_FIT_ALSO"; do
  "${R[@]}" calibrate "$E/azure-conv-y.json" --fit load60 --fit-also "$fit" >&2
  for x in "${Y[@]}"; do "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-y-calibration" >&2; done
  echo
  if [[ $fit == *z1* ]]; then
    echo "## Thirteenth session: calibrated on Azure conv 60 % of four server starts (Y1, Y3, Z1, Z2 pooled), frozen onto the rest, against every repeat"
  else
    echo "## Thirteenth session: calibrated on Azure conv 60 % (Y1 and Y3 pooled, as the twelfth), frozen onto the rest, against every repeat"
  fi
  args=()
  s13_rows -cal
  python3 scripts/fidelity-table.py --band "${args[@]}"
done
# The 32-request cap with the slot probe's measured step-time ratio (`simulate.stepTimeScale` 0.972, sixth session),
# frozen from the four-start fit (the calibration folder holds it now).
local P=(azure-conv-cap32-y-probe azure-conv-cap32-y-probe-rep1 azure-conv-cap32-y-probe-rep2)
for x in "${P[@]}"; do "${R[@]}" run "$E/$x.json" >&2; "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-y-calibration" >&2; done
echo
echo "## Thirteenth session: the 32-request cap x 0.972 (the slot probe's ratio), from the four-start fit"
args=()
for l in 30 60; do args+=("$(band "Azure, 32 cap, $l%, x 0.972 (Y4, Y6, Z3)" "${P[0]}" "load$l" -cal "${P[1]}" "${P[2]}")"); done
args+=("$(band "Azure, 32 cap, 85%, x 0.972 (Y4, Z3)" "${P[0]}" load85 -cal "${P[2]}")")
python3 scripts/fidelity-table.py --band "${args[@]}"
for d in "demo-z1 r114.5" "demo-z7 r134"; do
  set -- $d
  "${R[@]}" calibrate "$E/$1.json" --fit "$2" >&2
  echo
  echo "## Thirteenth session: $1, calibrated on $2 (runner calibrate; the table of its calibration.md)"
  grep '^| ' "$C/$1-calibration/calibration.md" | head -n 14
done
}
profile_s13() {  # SUFFIX TITLE: the thirteenth's protocol (four-start fit) on the *SUFFIX.json experiments
local n=$1 title=$2
# (the twelfth's and thirteenth's committed runs simulated on another profile, uncalibrated, then calibrated on four
# starts' Azure conv 60 %, Y1, Y3, Z1 and Z2 pooled, and frozen onto the rest, as the thirteenth's last fit).
local Y=("${S13_Y[@]}")
Y=("${Y[@]/%/$n}")
local x args S=tmp/h200-runs-s13
for x in azure-conv-y$n "${Y[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
echo
echo "## $title: uncalibrated, against every repeat"
args=()
s13_rows "" "$n"
python3 scripts/fidelity-table.py --band "${args[@]}"
"${R[@]}" calibrate "$E/azure-conv-y$n.json" --fit load60 \
  --fit-also "$S13_FIT_ALSO" >&2
for x in "${Y[@]}"; do "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-y$n-calibration" >&2; done
echo
echo "## $title: calibrated on Azure conv 60 % of four server starts (Y1, Y3, Z1, Z2 pooled), frozen onto the rest, against every repeat"
args=()
s13_rows -cal "$n"
python3 scripts/fidelity-table.py --band "${args[@]}"
}
fourteenth() {
# The fourteenth session (docs/runbook.md, "The fourteenth H200 session"): a fifth server start (N1) with Azure conv and
# ShareGPT at 30 / 60 % on one server, predicted from the four-start fit and from N1's own Azure 60 %; the inter-step
# gap (runner calibrate --inter-step-gap) on the thirteenth's protocol; the decode step's growth with KV at a fixed
# batch size, real against Vidur; each run's host speed against its error; the thirteenth's protocol on profiles-engine
# (*-pd) and on a hybrid profile, the committed one with profiles-engine's attn_decode (*-ph, made here by
# scripts/hybrid-profile.py); the demo recorded on N1 and N2.
unpack_runs s12
unpack_runs s13
unpack_runs s14
local x args S=tmp/h200-runs-s13 N=tmp/h200-runs-s14/n1/runs s fit=()
local Y=("${S13_Y[@]}")
n1_rows() {  # SUFFIX: N1's four loads onto args
  args=()
  for l in 30 60; do args+=("$(band "Azure $l% (N1)" azure-conv-y-rep7 "load$l" "$1")"); done
  for l in 30 60; do args+=("$(band "ShareGPT $l% (N1)" sharegpt-y-rep7 "load$l" "$1")"); done
}
for x in azure-conv-y "${Y[@]}" azure-conv-y-rep7 sharegpt-y-rep7; do "${R[@]}" run "$E/$x.json" >&2; done
echo
echo "## Fourteenth session: N1 (a fifth start), uncalibrated"
n1_rows ""
python3 scripts/fidelity-table.py --band "${args[@]}"
"${R[@]}" calibrate "$E/azure-conv-y.json" --fit load60 --fit-also "$S13_FIT_ALSO" >&2
for x in azure-conv-y-rep7 sharegpt-y-rep7; do "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-y-calibration" >&2; done
echo
echo "## Fourteenth session: N1, from the four-start fit (Azure conv 60 % of Y1, Y3, Z1, Z2)"
n1_rows -cal
python3 scripts/fidelity-table.py --band "${args[@]}"
for x in "${Y[@]}"; do "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-y-calibration" >&2; done
local files=("$E/azure-conv-y.json")
for x in "${Y[@]}"; do files+=("$E/$x.json"); done
echo
echo "## Fourteenth session: each run's host index (its host phases over the fit runs' at each batch size) against its error, four-start fit"
.venv/bin/python scripts/host-index.py --fit "tmp/h200-runs-s12/y1/runs/azure-r24.432-rep0,$S13_FIT_ALSO" "${files[@]}"
for s in "" --inter-step-gap; do
  "${R[@]}" calibrate "$E/azure-conv-y-rep7.json" --fit load60 $s >&2
  "${R[@]}" calibrate "$E/sharegpt-y-rep7.json" --frozen "$C/azure-conv-y-rep7-calibration" >&2
  echo
  echo "## Fourteenth session: N1, calibrated on N1's own Azure conv 60 %${s:+ ($s)}"
  n1_rows -cal
  python3 scripts/fidelity-table.py --band "${args[@]}"
done
"${R[@]}" calibrate "$E/azure-conv-y.json" --fit load60 --fit-also "$S13_FIT_ALSO" --inter-step-gap >&2
for x in "${Y[@]}"; do "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-y-calibration" >&2; done
echo
echo "## Fourteenth session: the four-start fit with --inter-step-gap, frozen onto the rest, against every repeat"
grep '^Inter-step gap' "$C/azure-conv-y-calibration/calibration.md"
args=()
s13_rows -cal
python3 scripts/fidelity-table.py --band "${args[@]}"
.venv/bin/python scripts/hybrid-profile.py data/h200-qwen3-0.6b/profiles data/h200-qwen3-0.6b/profiles-engine tmp/profiles-hybrid \
  compute/h200/Qwen/Qwen3-0.6B >&2
profile_s13 -pd "Fourteenth session: profiles-engine (both attention ops from the engine)"
profile_s13 -ph "Fourteenth session: the hybrid profile (the committed one, attn_decode from profiles-engine)"
echo
echo "## Fourteenth session: a decode-only step's growth with the KV it reads, at a fixed batch size"
.venv/bin/python scripts/decode-kv-slope.py \
  "Azure 60 % (Y1, Y3, Z1, Z2)=real,tmp/h200-runs-s12/y1/runs/azure-r24.432-rep0,$S13_FIT_ALSO" \
  "Azure 60 %, committed profile=sim,tmp/vidur_runs/azure-conv-y-load60" \
  "Azure 60 %, profiles-engine=sim,tmp/vidur_runs/azure-conv-y-pd-load60" \
  "Azure 60 %, hybrid profile=sim,tmp/vidur_runs/azure-conv-y-ph-load60" \
  "ShareGPT 30 % (Y1, Z5, N1)=real,tmp/h200-runs-s12/y1/runs/sharegpt-r59.481-rep0,$S/z5/runs/sharegpt-r59.481-rep3,$N/sharegpt-r59.481-rep7" \
  "ShareGPT 30 %, committed profile=sim,tmp/vidur_runs/sharegpt-y-load30"
for x in demo-n1 demo-n2; do
  "${R[@]}" calibrate "$E/$x.json" --fit r114.5 >&2
  echo
  echo "## Fourteenth session: $x, calibrated on r114.5 (runner calibrate; the table of its calibration.md)"
  grep '^| ' "$C/$x-calibration/calibration.md" | head -n 14
done
}
# The fifteenth session's experiments besides the fit's own (azure-conv-o): O3's repeats, ShareGPT and Mooncake on O1 and
# O3, the 32-request cap on O4.
S15_O=(azure-conv-o-rep1 sharegpt-o sharegpt-o-rep1 mooncake-o mooncake-o-rep1 azure-conv-cap32-o)
s15_rows() {  # SUFFIX [NAME_SUFFIX]: the fifteenth session's families' rows against both starts
  local s=$1 n=${2:-} l
  args=()
  for l in 30 60 85; do args+=("$(band "Azure $l% (O1, O3)" azure-conv-o$n "load$l" "$s" azure-conv-o-rep1$n)"); done
  for l in 30 60 85; do args+=("$(band "ShareGPT $l% (O1, O3)" sharegpt-o$n "load$l" "$s" sharegpt-o-rep1$n)"); done
  for l in 30 60 85; do args+=("$(band "Mooncake $l% (O1, O3)" mooncake-o$n "load$l" "$s" mooncake-o-rep1$n)"); done
  for l in 30 60 85; do args+=("$(band "Azure, 32 cap, $l% (O4)" azure-conv-cap32-o$n "load$l" "$s")"); done
}
ep_rows() {  # SUFFIX: the engine-process runs' rows (P1's families, P2's two rates), each against its one run
  local s=$1 l
  args=()
  for l in 30 60 85; do args+=("$(band "Azure $l% (P1)" azure-conv-ep "load$l" "$s")"); done
  for l in 30 60 85; do args+=("$(band "ShareGPT $l% (P1)" sharegpt-ep "load$l" "$s")"); done
  for l in 30 60 85; do args+=("$(band "Mooncake $l% (P1)" mooncake-ep "load$l" "$s")"); done
  for l in r10.242 r20.484; do args+=("$(band "Azure, 32 cap, ${l#r} req/s (P2)" azure-conv-cap32-ep "$l" "$s")"); done
}
fifteenth() {
# The fifteenth session (docs/runbook.md, "The fifteenth H200 session"): servers with --token-delivery overlap (a step's
# tokens handed to the HTTP thread once the next step is launched), every family's capacity measured again on O1 and its
# loads at 30 / 60 / 85 % of it, a second start O3 on another machine, the 32-request cap on O4, and O2 (per-step) beside
# O1 on one machine. The A/B's step phases; uncalibrated; calibrated on Azure conv 60 % (O1 and O3 pooled) and frozen
# onto the rest; the same fitted on O1 alone.
unpack_runs s15
local x fit S=tmp/h200-runs-s15
echo
echo "## Fifteenth session: the delivery A/B on one machine, O1 (overlap) against O2 (per-step) at the same rates"
.venv/bin/python scripts/step-phases.py "Azure 60 %, O1 overlap=$S/o1/runs/azure-load60-rep0" \
  "Azure 60 %, O2 per-step=$S/o2/runs/azure-r25.974-rep0" "ShareGPT 30 %, O1 overlap=$S/o1/runs/sharegpt-load30-rep0" \
  "ShareGPT 30 %, O2 per-step=$S/o2/runs/sharegpt-r62.229-rep0" "ShareGPT 60 %, O1 overlap=$S/o1/runs/sharegpt-load60-rep0" \
  "ShareGPT 60 %, O2 per-step=$S/o2/runs/sharegpt-r124.458-rep0"
for x in azure-conv-o "${S15_O[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
echo
echo "## Fifteenth session (servers O1, O3, O4: --token-delivery overlap): uncalibrated, against every repeat"
s15_rows ""
python3 scripts/fidelity-table.py --band "${args[@]}"
local fit_runs=("$S/o3/runs/azure-r25.974-rep1" "") fit_names=("O1 and O3 pooled" "O1 alone") i
for i in 0 1; do
  fit=${fit_runs[$i]}
  "${R[@]}" calibrate "$E/azure-conv-o.json" --fit load60 ${fit:+--fit-also "$fit"} >&2
  for x in "${S15_O[@]}"; do "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-o-calibration" >&2; done
  echo
  echo "## Fifteenth session: calibrated on Azure conv 60 % (${fit_names[$i]}), frozen onto the rest, against every repeat"
  s15_rows -cal
  python3 scripts/fidelity-table.py --band "${args[@]}"
  if [[ $i == 0 ]]; then
    echo
    echo "## Fifteenth session: each run's host index against its error, the two-start fit"
    local files=()
    for x in azure-conv-o "${S15_O[@]}"; do files+=("$E/$x.json"); done
    .venv/bin/python scripts/host-index.py --fit "$S/o1/runs/azure-load60-rep0,${fit_runs[0]}" "${files[@]}"
  fi
done
# The same two-start fit on the other profiles (the fourteenth session's: profiles-engine, *-pd; the hybrid, *-ph,
# made by scripts/hybrid-profile.py).
.venv/bin/python scripts/hybrid-profile.py data/h200-qwen3-0.6b/profiles data/h200-qwen3-0.6b/profiles-engine tmp/profiles-hybrid \
  compute/h200/Qwen/Qwen3-0.6B >&2
local n title
for n in -pd -ph; do
  title="profiles-engine (both attention ops from the engine)"
  if [[ $n == -ph ]]; then title="the hybrid profile (the committed one, attn_decode from profiles-engine)"; fi
  for x in azure-conv-o "${S15_O[@]}"; do "${R[@]}" run "$E/$x$n.json" >&2; done
  "${R[@]}" calibrate "$E/azure-conv-o$n.json" --fit load60 --fit-also "${fit_runs[0]}" >&2
  for x in "${S15_O[@]}"; do "${R[@]}" calibrate "$E/$x$n.json" --frozen "$C/azure-conv-o$n-calibration" >&2; done
  echo
  echo "## Fifteenth session, $title: calibrated on Azure conv 60 % (O1 and O3 pooled), frozen onto the rest"
  s15_rows -cal "$n"
  python3 scripts/fidelity-table.py --band "${args[@]}"
done
# Attribution (sixteenth session): the same two-start fit, each run simulated blind and then with the table's host
# phases x its own measured host speed over the fit's (runner calibrate --host-scale phases), each against its own
# run only; on the committed profile, then on the hybrid one (its decode attention's growth with KV from the engine's
# step).
local fam start l hs
for n in "" -ph; do
  title="the committed profile"
  if [[ $n == -ph ]]; then title="the hybrid profile"; fi
  for hs in "" phases; do
    fit_freeze "azure-conv-o$n" "--fit load60 --fit-also ${fit_runs[0]}" "${hs:+--host-scale $hs}" "${S15_O[@]/%/$n}"
    echo
    if [[ -z $hs ]]; then
      echo "## Fifteenth session, attribution on $title: the two-start fit, blind, against each run alone"
    else
      echo "## Fifteenth session, attribution on $title: the two-start fit with each run's own host speed given (--host-scale phases), against its own run"
    fi
    args=()
    for fam in "Azure:azure-conv-o" "ShareGPT:sharegpt-o" "Mooncake:mooncake-o"; do
      for start in "O1:" "O3:-rep1"; do
        for l in 30 60 85; do args+=("$(band "${fam%%:*} $l% (${start%%:*})" "${fam#*:}${start#*:}$n" "load$l" -cal)"); done
      done
    done
    for l in 30 60 85; do args+=("$(band "Azure, 32 cap, $l% (O4)" "azure-conv-cap32-o$n" "load$l" -cal)"); done
    python3 scripts/fidelity-table.py --band "${args[@]}"
  done
done
# Call 41: the engine in a process of its own (P1: every family at 30 / 60 / 85 % of its capacity on P1; P2: the
# 32-request cap at O4's rates), one start each: uncalibrated, then calibrated on P1's Azure conv 60 % and frozen.
echo
echo "## Fifteenth session: step phases with the engine in its own process (P1, P2) beside the overlap server's (O1, O4)"
.venv/bin/python scripts/step-phases.py --bins "Azure 60 %, O1=$S/o1/runs/azure-load60-rep0" \
  "Azure 60 %, P1=$S/p1/runs/azure-load60-rep0" "Mooncake 60 %, O1=$S/o1/runs/mooncake-load60-rep0" \
  "Mooncake 60 %, P1=$S/p1/runs/mooncake-load60-rep0" "32 cap, 20.5 req/s, O4=$S/o4/runs/azure-load60-rep0" \
  "32 cap, 20.5 req/s, P2=$S/p2/runs/azure-r20.484-rep0" | grep -v mixed
local P=(sharegpt-ep mooncake-ep azure-conv-cap32-ep) which
for x in azure-conv-ep "${P[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
"${R[@]}" calibrate "$E/azure-conv-ep.json" --fit load60 >&2
for x in "${P[@]}"; do "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-ep-calibration" >&2; done
for which in "" -cal; do
  echo
  if [[ -z $which ]]; then
    echo "## Fifteenth session: the engine in its own process (P1, P2), uncalibrated"
  else
    echo "## Fifteenth session: the engine in its own process, calibrated on P1's Azure conv 60 %, frozen onto the rest"
  fi
  ep_rows "$which"
  python3 scripts/fidelity-table.py --band "${args[@]}"
done
echo
echo "## Fifteenth session: each run's host index against its error, P1's fit"
local pfiles=("$E/azure-conv-ep.json")
for x in "${P[@]}"; do pfiles+=("$E/$x.json"); done
.venv/bin/python scripts/host-index.py --fit "$S/p1/runs/azure-load60-rep0" "${pfiles[@]}"
# Attribution (sixteenth session): the same fit with each run's own host speed given (--host-scale phases).
fit_freeze azure-conv-ep "--fit load60" "--host-scale phases" "${P[@]}"
echo
echo "## Fifteenth session, attribution: the engine in its own process, P1's fit with each run's own host speed given (--host-scale phases)"
ep_rows -cal
python3 scripts/fidelity-table.py --band "${args[@]}"
echo
echo "## Fifteenth session: the spread of a decode step's input preparation in every O and P run"
local runs=() d
for d in "$S"/o[1-4]/runs/*-rep* "$S"/p[12]/runs/*-rep*; do runs+=("$(basename "$(dirname "$(dirname "$d")")") $(basename "$d")=$d"); done
.venv/bin/python scripts/step-phases.py --spread "${runs[@]}"
echo
echo "## Fifteenth session: the two speeds in time, every O and P run (second by second)"
.venv/bin/python scripts/step-phases.py --seconds "${runs[@]}"
}
# The seventeenth session's experiments (calls 42-44): Q1, Q3, Q5 are three starts on three machines of one server (the
# engine in its own process, --token-delivery overlap, its step loop pinned to CPU 2 and everything else kept off it),
# Q4 and Q6 the same with a 32-request cap, Q2 the same server unpinned on Q1's machine.
S17_REST=(azure-conv-q3 azure-conv-q5 sharegpt-q1 sharegpt-q3 sharegpt-q5 mooncake-q1 mooncake-q3 azure-conv-cap32-q4
  azure-conv-cap32-q6 azure-conv-q2 sharegpt-q2 mooncake-q2)
s17_rows() {  # SUFFIX MODE: MODE "repeats": each load against the pinned starts that ran it; "own": each run alone
  local s=$1 mode=$2 l q
  args=()
  if [[ $mode == repeats ]]; then
    for l in 30 60 85; do args+=("$(band "Azure $l% (Q1, Q3, Q5)" azure-conv-q1 "load$l" "$s" azure-conv-q3 azure-conv-q5)"); done
    for l in 30 60; do args+=("$(band "ShareGPT $l% (Q1, Q3, Q5)" sharegpt-q1 "load$l" "$s" sharegpt-q3 sharegpt-q5)"); done
    args+=("$(band "Mooncake 30% (Q1, Q3)" mooncake-q1 load30 "$s" mooncake-q3)")
    args+=("$(band "Azure, 32 cap, 30% (Q4)" azure-conv-cap32-q4 load30 "$s")")
    args+=("$(band "Azure, 32 cap, 60% (Q4, Q6)" azure-conv-cap32-q4 load60 "$s" azure-conv-cap32-q6)")
    args+=("$(band "Azure, 32 cap, 85% (Q6)" azure-conv-cap32-q6 load85 "$s")")
    return
  fi
  for q in q1 q3 q5; do
    for l in 30 60 85; do args+=("$(band "Azure $l% (${q^^})" "azure-conv-$q" "load$l" "$s")"); done
  done
  for q in q1 q3 q5; do
    for l in 30 60; do args+=("$(band "ShareGPT $l% (${q^^})" "sharegpt-$q" "load$l" "$s")"); done
  done
  for q in q1 q3; do args+=("$(band "Mooncake 30% (${q^^})" "mooncake-$q" load30 "$s")"); done
  for l in 30 60; do args+=("$(band "Azure, 32 cap, $l% (Q4)" azure-conv-cap32-q4 "load$l" "$s")"); done
  for l in 60 85; do args+=("$(band "Azure, 32 cap, $l% (Q6)" azure-conv-cap32-q6 "load$l" "$s")"); done
  for l in 30 60 85; do args+=("$(band "Azure $l% (Q2, unpinned)" azure-conv-q2 "load$l" "$s")"); done
  for l in 30 60; do args+=("$(band "ShareGPT $l% (Q2, unpinned)" sharegpt-q2 "load$l" "$s")"); done
  args+=("$(band "Mooncake 30% (Q2, unpinned)" mooncake-q2 load30 "$s")")
}
seventeenth() {
# The seventeenth session (docs/runbook.md, "The seventeenth H200 session"): does a step loop with a CPU of its own keep
# one speed (step phases, second by second), and how far does one run's calibration carry: fitted on Q1's Azure conv
# 60 % alone and frozen onto every other load, start, workload and the 32-request cap, blind and then with each run's
# host speed from its in-band probe (runner calibrate --host-scale probe).
unpack_runs s17
local S=tmp/h200-runs-s17 runs=() d x hs
echo
echo "## Seventeenth session: the two speeds in time, the step loop pinned (Q1, Q3-Q6) and not (Q2), second by second"
for d in "$S"/q[1-6]/runs/*-rep*; do runs+=("$(basename "$(dirname "$(dirname "$d")")") $(basename "$d")=$d"); done
.venv/bin/python scripts/step-phases.py --seconds "${runs[@]}"
echo
echo "## Seventeenth session: the in-band host probe beside the input preparation it reads, every Q run"
.venv/bin/python scripts/step-phases.py --spread "${runs[@]}"
for x in azure-conv-q1 "${S17_REST[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
echo
echo "## Seventeenth session (pinned step loop, Q1, Q3-Q6): uncalibrated, against every start"
s17_rows "" repeats
python3 scripts/fidelity-table.py --band "${args[@]}"
for hs in "" probe; do
  fit_freeze azure-conv-q1 "--fit load60" "${hs:+--host-scale $hs}" "${S17_REST[@]}"
  echo
  if [[ -z $hs ]]; then
    echo "## Seventeenth session: calibrated on Q1's Azure conv 60 % alone, frozen onto the rest (blind), against every start"
    s17_rows -cal repeats
    python3 scripts/fidelity-table.py --band "${args[@]}"
    echo
    echo "## Seventeenth session: the same blind calibration, each run alone"
  else
    echo "## Seventeenth session: calibrated on Q1's Azure conv 60 % alone, frozen onto the rest, each run's host speed from its in-band probe (--host-scale probe), each run alone"
  fi
  s17_rows -cal own
  python3 scripts/fidelity-table.py --band "${args[@]}"
done
echo
echo "## Seventeenth session: each run's host scale (--host-scale probe: its probe level over the fit's)"
echo "| experiment | load | steps | host scale |"
echo "|---|---|---|---|"
for x in azure-conv-q1 "${S17_REST[@]}"; do
  d="$C/$x-prediction"
  if [[ $x == azure-conv-q1 ]]; then d="$C/$x-calibration"; fi
  sed -n '/^| load | steps | host scale/,/^$/p' "$d/calibration.md" | grep '^| load[0-9]' | sed "s/^| /| $x | /"
done
echo
echo "## Seventeenth session: each TTFT split at the step that made the first token (the probe-conditioned prediction)"
local V=tmp/vidur_runs l
args=()
for q in q1 q3 q5; do
  for l in 30:62.229 60:124.458; do
    args+=("ShareGPT ${l%%:*} % (${q^^})=$(ls -d "$S/$q/runs/sharegpt-r${l#*:}-rep"*),$V/sharegpt-$q-load${l%%:*}-cal")
  done
done
for l in 30:12.987 60:25.974 85:36.797; do
  args+=("Azure ${l%%:*} % (Q1)=$(ls -d "$S/q1/runs/azure-r${l#*:}-rep"*),$V/azure-conv-q1-load${l%%:*}-cal")
done
.venv/bin/python scripts/ttft-split.py "${args[@]}"
echo
echo "## Seventeenth session: the same probe-conditioned prediction with the admission delay grown by the front's backlog (--admission-backlog), each run alone"
fit_freeze azure-conv-q1 "--fit load60 --admission-backlog" "--host-scale probe" "${S17_REST[@]}"
s17_rows -cal own
python3 scripts/fidelity-table.py --band "${args[@]}"
}
# The eighteenth session's experiments (calls 45-47, every server in Q1's pinned layout): Q7 and Q8 are two more starts
# of Q1's server (Mooncake 60 % first), R1-R3 three starts with a 256-token budget (a configuration no fit saw), D1
# and D2 two starts serving the demo workload (another prompt set).
S18_NEW=(azure-conv-q7 sharegpt-q7 mooncake-q7 mooncake-q8 azure-conv-b256-r1 azure-conv-b256-r2 azure-conv-b256-r3
  sharegpt-b256-r1 sharegpt-b256-r3 demo-d1 demo-d2)
s18_rows() {  # SUFFIX MODE: MODE "repeats": each load against every start that ran it; "own": each run alone
  local s=$1 mode=$2 l x d
  args=()
  if [[ $mode == repeats ]]; then
    for l in 30 60 85; do args+=("$(band "Azure $l% (Q1, Q3, Q5, Q7)" azure-conv-q1 "load$l" "$s" azure-conv-q3 azure-conv-q5 azure-conv-q7)"); done
    for l in 30 60; do args+=("$(band "ShareGPT $l% (Q1, Q3, Q5, Q7)" sharegpt-q1 "load$l" "$s" sharegpt-q3 sharegpt-q5 sharegpt-q7)"); done
    args+=("$(band "Mooncake 30% (Q1, Q3, Q7, Q8)" mooncake-q1 load30 "$s" mooncake-q3 mooncake-q7 mooncake-q8)")
    args+=("$(band "Mooncake 60% (Q7, Q8)" mooncake-q7 load60 "$s" mooncake-q8)")
    for l in 30 60 85; do args+=("$(band "Azure, 256 budget, $l% (R1, R2, R3)" azure-conv-b256-r1 "load$l" "$s" azure-conv-b256-r2 azure-conv-b256-r3)"); done
    for l in 30 60 85; do args+=("$(band "ShareGPT, 256 budget, $l% (R1, R3)" sharegpt-b256-r1 "load$l" "$s" sharegpt-b256-r3)"); done
    for l in 72.5 145 205.5; do args+=("$(band "demo ${l} req/s (D1, D2)" demo-d1 "r$l" "$s" demo-d2)"); done
    return
  fi
  for l in 30 60 85; do args+=("$(band "Azure $l% (Q7)" azure-conv-q7 "load$l" "$s")"); done
  for l in 30 60; do args+=("$(band "ShareGPT $l% (Q7)" sharegpt-q7 "load$l" "$s")"); done
  for x in q7 q8; do for l in 30 60; do args+=("$(band "Mooncake $l% (${x^^})" "mooncake-$x" "load$l" "$s")"); done; done
  for x in r1 r2 r3; do for l in 30 60 85; do args+=("$(band "Azure, 256 budget, $l% (${x^^})" "azure-conv-b256-$x" "load$l" "$s")"); done; done
  for x in r1 r3; do for l in 30 60 85; do args+=("$(band "ShareGPT, 256 budget, $l% (${x^^})" "sharegpt-b256-$x" "load$l" "$s")"); done; done
  for d in d1 d2; do for l in 72.5 145 205.5; do args+=("$(band "demo $l req/s (${d^^})" "demo-$d" "r$l" "$s")"); done; done
}
eighteenth() {
# The eighteenth session (docs/runbook.md, "The eighteenth H200 session"): the predictive check on Q1's pinned layout.
# Q1's Azure conv 60 % fit (the seventeenth session's) frozen, blind, with each run's in-band host probe, and with the
# admission delay grown by the front's backlog, onto runs no fit saw: two more starts of the same server, a 256-token
# budget on three starts, and the demo's prompt set on two.
unpack_runs s17
unpack_runs s18
local S=tmp/h200-runs-s18 runs=() d x hs
echo
echo "## Eighteenth session: the two speeds in time, every Q7, Q8, R and D run (second by second)"
for d in "$S"/[qr][1-8]/runs/*-rep* "$S"/d[12]/runs/demo-r*; do runs+=("$(basename "$(dirname "$(dirname "$d")")") $(basename "$d")=$d"); done
.venv/bin/python scripts/step-phases.py --seconds "${runs[@]}"
# The new runs and the earlier Q-layout starts the bands hold (not Q2 and the 32-request cap, which no table reads).
for x in azure-conv-q1 azure-conv-q3 azure-conv-q5 sharegpt-q1 sharegpt-q3 sharegpt-q5 mooncake-q1 mooncake-q3 \
  "${S18_NEW[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
echo
echo "## Eighteenth session: uncalibrated, each run alone"
s18_rows "" own
python3 scripts/fidelity-table.py --band "${args[@]}"
echo
echo "## Eighteenth session: uncalibrated, against every start of Q1's layout"
s18_rows "" repeats
python3 scripts/fidelity-table.py --band "${args[@]}"
for hs in "" probe backlog; do
  case $hs in
    "") fit_freeze azure-conv-q1 "--fit load60" "" sharegpt-q1 mooncake-q1 "${S18_NEW[@]}" ;;  # + the bands' first runs
    # --no-probe-size: the plain level ratio this section measured (the nineteenth reads the probe per int).
    probe) fit_freeze azure-conv-q1 "--fit load60" "--host-scale probe --no-probe-size" "${S18_NEW[@]}" ;;
    backlog) fit_freeze azure-conv-q1 "--fit load60 --admission-backlog" "--host-scale probe --no-probe-size" "${S18_NEW[@]}" ;;
  esac
  echo
  case $hs in
    "")
      echo "## Eighteenth session: calibrated on Q1's Azure conv 60 % alone, frozen onto the new runs (blind), against every start"
      s18_rows -cal repeats
      python3 scripts/fidelity-table.py --band "${args[@]}"
      echo
      echo "## Eighteenth session: the same blind calibration, each new run alone" ;;
    probe) echo "## Eighteenth session: the same fit with each run's host speed from its in-band probe (--host-scale probe), each new run alone" ;;
    backlog) echo "## Eighteenth session: the same with the admission delay grown by the front's backlog (--host-scale probe --admission-backlog), each new run alone" ;;
  esac
  s18_rows -cal own
  python3 scripts/fidelity-table.py --band "${args[@]}"
done
echo
echo "## Eighteenth session: each new run's host scale (--host-scale probe: its probe level over the fit's)"
echo "| experiment | load | steps | host scale |"
echo "|---|---|---|---|"
for x in "${S18_NEW[@]}"; do
  sed -n '/^| load | steps | host scale/,/^$/p' "$C/$x-prediction/calibration.md" | grep '^| [a-z0-9.]* |' | grep -v '^| load |' | sed "s/^| /| $x | /"
done
echo
echo "## Eighteenth session: the demo's own fit on D1's middle load (--host-scale probe --admission-backlog), frozen onto D2"
fit_freeze demo-d1 "--fit r145 --admission-backlog" "--host-scale probe" demo-d2
args=()
for d in d1 d2; do for l in 72.5 145 205.5; do args+=("$(band "demo $l req/s (${d^^})" "demo-$d" "r$l" -cal)"); done; done
python3 scripts/fidelity-table.py --band "${args[@]}"
}
# The nineteenth session's experiments (calls 48-50, every server in Q1's pinned layout): B1-B3 three starts with a
# 1,024-token budget, C1-C3 three with a 64-request cap (two configurations no fit and no model change saw), Q9 a
# sixth start of Q1's server on B2's and C2's machine.
S19_B=(azure-conv-b1024-b1 azure-conv-b1024-b2 azure-conv-b1024-b3 sharegpt-b1024-b1 sharegpt-b1024-b2 sharegpt-b1024-b3)
S19_C=(azure-conv-cap64-c1 azure-conv-cap64-c2 azure-conv-cap64-c3 sharegpt-cap64-c1 sharegpt-cap64-c2 sharegpt-cap64-c3)
S19_R=(azure-conv-b256-r1 azure-conv-b256-r2 azure-conv-b256-r3 sharegpt-b256-r1 sharegpt-b256-r3)
S19_CAP32=(azure-conv-cap32-q4 azure-conv-cap32-q6)
own_rows() {  # SUFFIX EXPERIMENT...: each experiment's loads that were simulated, each run alone, onto args
  local s=$1 x l
  shift
  for x in "$@"; do
    for l in 30 60 85; do
      if [[ -d $C/$x-load$l$s ]]; then args+=("$x $l%=$C/$x-load$l$s"); fi
    done
  done
}
s19_tables() {  # SUFFIX MODE_LABEL: every group's rows each run alone, then a count line per group into S19_COUNTS
  local s=$1 mode=$2 g n
  local groups=("1,024-token budget (B1-B3)" "64-request cap (C1-C3)" "256-token budget (R1-R3)" "32-request cap (Q4, Q6)")
  local -a members
  for g in 0 1 2 3; do
    case $g in
      0) members=("${S19_B[@]}") ;;
      1) members=("${S19_C[@]}") ;;
      2) members=("${S19_R[@]}") ;;
      3) members=("${S19_CAP32[@]}") ;;
    esac
    args=()
    own_rows "$s" "${members[@]}"
    echo
    echo "### ${groups[$g]}, $mode"
    python3 scripts/fidelity-table.py --band "${args[@]}" | tee "$C/s19-table.md"
    n=$(sed -n 's/^verdicts: .*5% \([0-9]*\).*/\1/p' "$C/s19-table.md")
    S19_COUNTS+=("${groups[$g]}|$mode|${n:-0}|$((${#args[@]} * 4))")
  done
}
nineteenth() {
# The nineteenth session (docs/runbook.md, "The nineteenth H200 session"): the host probe read per int (runner
# calibrate's size-aware --host-scale probe, the default now) against the plain level ratio (--no-probe-size) and
# blind, Q1's Azure conv 60 % fit (with the front's backlog) frozen onto two configurations measured for it (a
# 1,024-token budget, a 64-request cap: three starts each on three machines) and the two it was built on (the 256-token
# budget, the 32-request cap); then every start at once, and Q9's own fit on its machine's B2 and C2.
unpack_runs s17
unpack_runs s18
unpack_runs s19
local S=tmp/h200-runs-s19 runs=() x mode
S19_COUNTS=()
echo
echo "## Nineteenth session: the probe beside the input preparation, one machine each (B1, C1; B2, C2, Q9; B3, C3)"
runs=("B1 Azure 30%=$S/b1/runs/azure-load30-rep0" "C1 Azure 30%=$S/c1/runs/azure-load30-rep0"
  "B2 Azure 30%=$S/b2/runs/azure-r15.123-rep1" "C2 Azure 30%=$S/c2/runs/azure-r13.383-rep1"
  "Q9 Azure 30%=$S/q9/runs/azure-r12.987-rep5" "B3 Azure 30%=$S/b3/runs/azure-r15.123-rep2"
  "C3 Azure 30%=$S/c3/runs/azure-r13.383-rep2")
.venv/bin/python scripts/step-phases.py --spread "${runs[@]}"
for x in azure-conv-q1 azure-conv-q9 "${S19_B[@]}" "${S19_C[@]}" "${S19_R[@]}" "${S19_CAP32[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
echo
echo "## Nineteenth session: uncalibrated, each run alone"
s19_tables "" uncalibrated
"${R[@]}" calibrate "$E/azure-conv-q1.json" --fit load60 --admission-backlog --host-scale probe >&2
for mode in blind plain probe; do
  for x in "${S19_B[@]}" "${S19_C[@]}" "${S19_R[@]}" "${S19_CAP32[@]}"; do
    case $mode in
      blind) "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-q1-calibration" >&2 ;;
      plain) "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-q1-calibration" --host-scale probe --no-probe-size >&2 ;;
      probe) "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-q1-calibration" --host-scale probe >&2 ;;
    esac
  done
  echo
  case $mode in
    blind) echo "## Nineteenth session: Q1's Azure conv 60 % fit (with the front's backlog) frozen, blind, each run alone" ;;
    plain) echo "## Nineteenth session: the same with each run's probe as a plain level ratio (--host-scale probe --no-probe-size), each run alone" ;;
    probe) echo "## Nineteenth session: the same with the probe read per int and each run's own list in its preparation (--host-scale probe), each run alone" ;;
  esac
  s19_tables -cal "$mode"
  if [[ $mode == probe ]]; then
    echo
    echo "## Nineteenth session: the size-aware probe against every start (B1-B3, C1-C3)"
    args=()
    for l in 30 60; do args+=("$(band "Azure, 1,024 budget, $l% (B1, B2, B3)" azure-conv-b1024-b1 "load$l" -cal azure-conv-b1024-b2 azure-conv-b1024-b3)"); done
    args+=("$(band "Azure, 1,024 budget, 85% (B1, B2)" azure-conv-b1024-b1 load85 -cal azure-conv-b1024-b2)")
    for l in 30 60; do args+=("$(band "ShareGPT, 1,024 budget, $l% (B1, B2, B3)" sharegpt-b1024-b1 "load$l" -cal sharegpt-b1024-b2 sharegpt-b1024-b3)"); done
    args+=("$(band "ShareGPT, 1,024 budget, 85% (B1, B3)" sharegpt-b1024-b1 load85 -cal sharegpt-b1024-b3)")
    for l in 30 60 85; do args+=("$(band "Azure, 64 cap, $l% (C1, C2, C3)" azure-conv-cap64-c1 "load$l" -cal azure-conv-cap64-c2 azure-conv-cap64-c3)"); done
    for l in 30 60 85; do args+=("$(band "ShareGPT, 64 cap, $l% (C1, C2, C3)" sharegpt-cap64-c1 "load$l" -cal sharegpt-cap64-c2 sharegpt-cap64-c3)"); done
    python3 scripts/fidelity-table.py --band "${args[@]}"
    echo
    echo "## Nineteenth session: each new run's host scale and preparation shift (--host-scale probe)"
    echo "| experiment | load | steps | host scale | preparation shift (ms) |"
    echo "|---|---|---|---|---|"
    for x in "${S19_B[@]}" "${S19_C[@]}"; do
      sed -n '/^| load | steps | host scale/,/^$/p' "$C/$x-prediction/calibration.md" | grep '^| [a-z0-9.]* |' | grep -v '^| load |' | sed "s/^| /| $x | /"
    done
  fi
done
echo
echo "## Nineteenth session: capacity, B1's and C1's saturation runs (uncalibrated; Q1's fit frozen, probe per int)"
for x in azure-conv-b1024-b1 sharegpt-b1024-b1 azure-conv-cap64-c1 sharegpt-cap64-c1; do
  "${R[@]}" run "$E/$x-capacity.json" >&2
  "${R[@]}" calibrate "$E/$x-capacity.json" --frozen "$C/azure-conv-q1-calibration" --host-scale probe >&2
done
python3 scripts/fidelity-table.py --throughput \
  "Azure conv, 1,024 budget (B1)=$C/azure-conv-b1024-b1-capacity-saturation,$C/azure-conv-b1024-b1-capacity-saturation-cal" \
  "ShareGPT, 1,024 budget (B1)=$C/sharegpt-b1024-b1-capacity-saturation,$C/sharegpt-b1024-b1-capacity-saturation-cal" \
  "Azure conv, 64 cap (C1)=$C/azure-conv-cap64-c1-capacity-saturation,$C/azure-conv-cap64-c1-capacity-saturation-cal" \
  "ShareGPT, 64 cap (C1)=$C/sharegpt-cap64-c1-capacity-saturation,$C/sharegpt-cap64-c1-capacity-saturation-cal"
echo
echo "## Nineteenth session: the same Azure conv capacities on the hybrid profile (attn_decode from profiles-engine), uncalibrated"
.venv/bin/python scripts/hybrid-profile.py data/h200-qwen3-0.6b/profiles data/h200-qwen3-0.6b/profiles-engine tmp/profiles-hybrid \
  compute/h200/Qwen/Qwen3-0.6B >&2
for x in azure-conv-b1024-b1 azure-conv-cap64-c1; do "${R[@]}" run "$E/$x-capacity-ph.json" >&2; done
python3 scripts/fidelity-table.py --throughput \
  "Azure conv, 1,024 budget (B1), hybrid profile=$C/azure-conv-b1024-b1-capacity-ph-saturation,$C/azure-conv-b1024-b1-capacity-ph-saturation" \
  "Azure conv, 64 cap (C1), hybrid profile=$C/azure-conv-cap64-c1-capacity-ph-saturation,$C/azure-conv-cap64-c1-capacity-ph-saturation"
echo
echo "## Nineteenth session: where the saturated steps' time goes (Azure conv saturation runs against uncalibrated Vidur)"
.venv/bin/python scripts/step-attribution.py \
  "C1 Azure saturation=$S/c1/runs/azure-saturation,tmp/vidur_runs/azure-conv-cap64-c1-capacity-saturation" \
  "B1 Azure saturation=$S/b1/runs/azure-saturation,tmp/vidur_runs/azure-conv-b1024-b1-capacity-saturation"
echo
echo "## Nineteenth session: cells within 5 % of their own run, by calibration"
echo "| configuration (runs) | cells | uncalibrated | blind | plain probe ratio | probe per int |"
echo "|---|---|---|---|---|---|"
local g cells row
for g in "1,024-token budget (B1-B3)" "64-request cap (C1-C3)" "256-token budget (R1-R3)" "32-request cap (Q4, Q6)"; do
  row="| $g"
  cells=
  for mode in uncalibrated blind plain probe; do
    for x in "${S19_COUNTS[@]}"; do
      IFS='|' read -r xg xm xn xc <<<"$x"
      if [[ $xg == "$g" && $xm == "$mode" ]]; then
        [[ -n $cells ]] || { cells=$xc; row="$row | $cells"; }
        row="$row | $xn"
      fi
    done
  done
  echo "$row |"
done
echo
echo "## Nineteenth session: Q9's own Azure conv 60 % fit (its machine's), frozen onto B2 and C2 on the same machine (--host-scale probe)"
fit_freeze azure-conv-q9 "--fit load60 --admission-backlog" "--host-scale probe" azure-conv-b1024-b2 sharegpt-b1024-b2 \
  azure-conv-cap64-c2 sharegpt-cap64-c2
args=()
for l in 30 85; do args+=("Azure $l% (Q9)=$C/azure-conv-q9-load$l-cal"); done
own_rows -cal azure-conv-b1024-b2 sharegpt-b1024-b2 azure-conv-cap64-c2 sharegpt-cap64-c2
python3 scripts/fidelity-table.py --band "${args[@]}"
echo
echo "## Nineteenth session: the same fit onto B2 and C2 with the plain level ratio (--host-scale probe --no-probe-size)"
for x in azure-conv-b1024-b2 sharegpt-b1024-b2 azure-conv-cap64-c2 sharegpt-cap64-c2; do
  "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-q9-calibration" --host-scale probe --no-probe-size >&2
done
args=()
own_rows -cal azure-conv-b1024-b2 sharegpt-b1024-b2 azure-conv-cap64-c2 sharegpt-cap64-c2
python3 scripts/fidelity-table.py --band "${args[@]}"
}
# The twentieth session's saturation experiments, each a committed saturation run with two loads (its workload's order
# and the real admission order): EXPERIMENT|LABEL|RUN DIR. Servers O1, P1, O4 (fifteenth session), R1 (eighteenth),
# B1, C1 (nineteenth), Q10 and C4 (twentieth, call 51, one machine), B5 and Q11 (call 52, another); "no preconnect":
# runner bench --preconnect 0.
S20_SAT=(
  "azure-conv-o1|Azure conv, O1|s15/o1/runs/azure" "sharegpt-o1|ShareGPT, O1|s15/o1/runs/sharegpt"
  "mooncake-o1|Mooncake, O1|s15/o1/runs/mooncake" "azure-conv-p1|Azure conv, P1|s15/p1/runs/azure"
  "sharegpt-p1|ShareGPT, P1|s15/p1/runs/sharegpt" "mooncake-p1|Mooncake, P1|s15/p1/runs/mooncake"
  "azure-conv-cap32-o4|Azure conv, O4 (32 cap)|s15/o4/runs/azure"
  "azure-conv-b256-r1|Azure conv, R1 (256 budget)|s18/r1/runs/azure" "sharegpt-b256-r1|ShareGPT, R1 (256 budget)|s18/r1/runs/sharegpt"
  "azure-conv-b1024-b1|Azure conv, B1 (1,024 budget)|s19/b1/runs/azure" "sharegpt-b1024-b1|ShareGPT, B1 (1,024 budget)|s19/b1/runs/sharegpt"
  "azure-conv-cap64-c1|Azure conv, C1 (64 cap)|s19/c1/runs/azure" "sharegpt-cap64-c1|ShareGPT, C1 (64 cap)|s19/c1/runs/sharegpt"
  "azure-conv-q10|Azure conv, Q10|s20/q10/runs/azure" "azure-conv-q10-np|Azure conv, Q10, no preconnect|s20/q10/runs/azure0"
  "sharegpt-q10|ShareGPT, Q10|s20/q10/runs/sharegpt" "sharegpt-q10-np|ShareGPT, Q10, no preconnect|s20/q10/runs/sharegpt0"
  "mooncake-q10|Mooncake, Q10|s20/q10/runs/mooncake"
  "azure-conv-cap64-c4|Azure conv, C4 (64 cap)|s20/c4/runs/azure" "azure-conv-cap64-c4-np|Azure conv, C4 (64 cap), no preconnect|s20/c4/runs/azure0"
  "sharegpt-cap64-c4|ShareGPT, C4 (64 cap)|s20/c4/runs/sharegpt"
  "azure-conv-b1024-b5-np|Azure conv, B5 (1,024 budget), no preconnect|s20/b5/runs/azure0"
  "azure-conv-q11|Azure conv, Q11|s20/q11/runs/azure" "azure-conv-q11-np|Azure conv, Q11, no preconnect|s20/q11/runs/azure0")
# Those in Q1's pinned layout (R1, B1, C1, Q10, C4): Q1's fit applies to them.
s20_pinned() { [[ $1 == *-r1 || $1 == *-b1 || $1 == *-c1 || $1 == *-q1[01]* || $1 == *-c4* || $1 == *-b5* ]]; }
# A variant of experiment X as tmp/experiments-s20/X-SUFFIX.json: its relative paths made absolute, its name suffixed,
# its `simulate` merged with SIMULATE (JSON). Usage: s20_variant X SUFFIX SIMULATE
s20_variant() {
  mkdir -p tmp/experiments-s20
  python3 - "$E/$1.json" "$2" "$3" <<'PY'
import json, os, sys
src, suffix, patch = sys.argv[1:]
base = os.path.dirname(os.path.abspath(src))
d = json.load(open(src))
absolute = lambda p: p if os.path.isabs(p) else os.path.normpath(os.path.join(base, p))
d["name"] = f"{d['name']}-{suffix}"
d["model"]["config"] = absolute(d["model"]["config"])
if "path" in d["workload"]["source"]:
    d["workload"]["source"]["path"] = absolute(d["workload"]["source"]["path"])
for load in d["loads"]:
    if "realRunDir" in load:
        load["realRunDir"] = absolute(load["realRunDir"])
if "profileRoot" in d:
    d["profileRoot"] = absolute(d["profileRoot"])
d["simulate"] = {**d.get("simulate", {}), **json.loads(patch)}
out = f"tmp/experiments-s20/{os.path.basename(src)[:-5]}-{suffix}.json"
open(out, "w").write(json.dumps(d, indent=2) + "\n")
PY
}
# One --throughput-by table: NAMES (comma list), then a dir suffix per name, --, then the rows (EXPERIMENT|LABEL|RUN);
# each row's dirs are $C/EXPERIMENT-saturation<SUFFIX>. Usage: s20_throughput NAMES SUFFIX... -- ROW...
s20_throughput() {
  local names=$1 row x label run sfx dirs
  shift
  local -a sfxs=() rows=()
  while [[ $1 != -- ]]; do sfxs+=("$1"); shift; done
  shift
  for row in "$@"; do
    IFS='|' read -r x label run <<<"$row"
    dirs=
    for sfx in "${sfxs[@]}"; do dirs+="${dirs:+,}$C/$x-saturation$sfx"; done
    rows+=("$label=$dirs")
  done
  python3 scripts/fidelity-table.py --throughput-by "$names" "${rows[@]}"
}
twentieth() {
# The twentieth session (docs/runbook.md, "The twentieth H200 session"): a saturation run's burst reaches the engine in
# an order the server's HTTP front picks (with the bench's 64 preconnected connections: requests 0-63 last), and the
# simulation took it in the workload's order. Every committed saturation run simulated both ways (the experiments'
# load admissionOrder "arrival" and "real"), uncalibrated and, for the servers in Q1's pinned layout, from Q1's Azure
# conv 60 % fit (with the front's backlog) frozen, the probe read per int; then the same without Vidur's GQA decode
# extra (simulate.attentionDecodeBatchingOverheadFraction 0), for capacity and for the nineteenth's held-out loads.
unpack_runs s15
unpack_runs s17
unpack_runs s18
unpack_runs s19
unpack_runs s20
local row x label run args=() runs=() pinned=()
for row in "${S20_SAT[@]}"; do
  IFS='|' read -r x label run <<<"$row"
  runs+=("$label=tmp/h200-runs-$run-saturation")
  if s20_pinned "$x"; then pinned+=("$row"); fi
done
echo
echo "## Twentieth session: the order each server admitted its saturation burst in (the engine's first tokens)"
.venv/bin/python scripts/admission-order.py "${runs[@]}"
for row in "${S20_SAT[@]}"; do "${R[@]}" run "$E/${row%%|*}-saturation.json" >&2; done
"${R[@]}" calibrate "$E/azure-conv-q1.json" --fit load60 --admission-backlog --host-scale probe >&2
for row in "${pinned[@]}"; do
  "${R[@]}" calibrate "$E/${row%%|*}-saturation.json" --frozen "$C/azure-conv-q1-calibration" --host-scale probe >&2
done
echo
echo "## Twentieth session: capacity (sustained throughput of the saturation run), uncalibrated, in either order"
s20_throughput "workload order,real order" -arrival -real -- "${S20_SAT[@]}"
echo
echo "## Twentieth session: the same for Q1's pinned layout from Q1's fit frozen (--host-scale probe), in either order"
s20_throughput "workload order,real order" -arrival-cal -real-cal -- "${pinned[@]}"
# Without Vidur's GQA decode extra: Q1's fit again, frozen onto the pinned saturation runs and the nineteenth's loads.
local g0='{"attentionDecodeBatchingOverheadFraction": 0}' X=tmp/experiments-s20 mode members
s20_variant azure-conv-q1 g0 "$g0"
"${R[@]}" calibrate "$X/azure-conv-q1-g0.json" --fit load60 --admission-backlog --host-scale probe >&2
for row in "${pinned[@]}"; do
  x=${row%%|*}
  s20_variant "$x-saturation" g0 "$g0"
  "${R[@]}" calibrate "$X/$x-saturation-g0.json" --frozen "$C/azure-conv-q1-g0-calibration" --host-scale probe >&2
done
echo
echo "## Twentieth session: the pinned layout's capacity in the real order, with Vidur's GQA decode extra (0.1) and without (0)"
s20_throughput "uncalibrated 0.1,uncalibrated 0,calibrated 0.1,calibrated 0" -real -g0-real -real-cal -g0-real-cal -- "${pinned[@]}"
for x in "${S19_B[@]}" "${S19_C[@]}" "${S19_R[@]}" "${S19_CAP32[@]}"; do
  "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-q1-calibration" --host-scale probe >&2
  s20_variant "$x" g0 "$g0"
  "${R[@]}" calibrate "$X/$x-g0.json" --frozen "$C/azure-conv-q1-g0-calibration" --host-scale probe >&2
done
echo
echo "## Twentieth session: the nineteenth's held-out loads (Q1's fit frozen, probe per int), cells within 5 % of their own run"
echo "| configuration (runs) | cells | uncalibrated, extra 0.1 | uncalibrated, 0 | calibrated, 0.1 | calibrated, 0 |"
echo "|---|---|---|---|---|---|"
local g label2 n line
for g in B C R CAP32; do
  case $g in
    B) members=("${S19_B[@]}"); label2="1,024-token budget (B1-B3)" ;;
    C) members=("${S19_C[@]}"); label2="64-request cap (C1-C3)" ;;
    R) members=("${S19_R[@]}"); label2="256-token budget (R1-R3)" ;;
    CAP32) members=("${S19_CAP32[@]}"); label2="32-request cap (Q4, Q6)" ;;
  esac
  line="| $label2"
  n=0
  for mode in "" -g0 -cal -g0-cal; do
    args=()
    for x in "${members[@]}"; do
      for l in 30 60 85; do
        local suffix=${mode%-cal} tail=
        [[ $mode == *-cal ]] && tail=-cal
        if [[ -d $C/$x$suffix-load$l$tail ]]; then args+=("$x $l%=$C/$x$suffix-load$l$tail"); fi
      done
    done
    [[ $n -gt 0 ]] || { n=$((${#args[@]} * 4)); line="$line | $n"; }
    line="$line | $(python3 scripts/fidelity-table.py --band "${args[@]}" | sed -n 's/^verdicts: .*5% \([0-9]*\).*/\1/p')"
  done
  echo "$line |"
done
echo
echo "## Twentieth session: the 64-request cap's Azure conv at 30 / 60 / 85 % of its capacity in the workload's order (C5, call 52), from Q1's fit frozen"
"${R[@]}" calibrate "$E/azure-conv-cap64-c5.json" --frozen "$C/azure-conv-q1-calibration" --host-scale probe >&2
args=()
for l in 30 60 85; do args+=("Azure conv, 64 cap, $l% (C5), uncalibrated=$C/azure-conv-cap64-c5-load$l"); done
for l in 30 60 85; do args+=("Azure conv, 64 cap, $l% (C5), Q1's fit=$C/azure-conv-cap64-c5-load$l-cal"); done
python3 scripts/fidelity-table.py --band "${args[@]}"
echo
echo "## Twentieth session: Vidur's decode step from the hybrid profile's ops against the engine's graphed step (profiles-engine's engine_decode)"
.venv/bin/python scripts/hybrid-profile.py data/h200-qwen3-0.6b/profiles data/h200-qwen3-0.6b/profiles-engine tmp/profiles-hybrid \
  compute/h200/Qwen/Qwen3-0.6B >&2
.venv/bin/python scripts/decode-step-offset.py tmp/profiles-hybrid/compute/h200/Qwen/Qwen3-0.6B \
  data/h200-qwen3-0.6b/profiles-engine/compute/h200/Qwen/Qwen3-0.6B/profile.json
echo
echo "## Twentieth session: the saturated runs' host phases against Q1's frozen table (host-scaled), decode-only steps"
.venv/bin/python scripts/host-tail.py \
  "ShareGPT, Q10=tmp/h200-runs-s20/q10/runs/sharegpt-saturation,$C/sharegpt-q10-saturation-prediction/cpu_overheads-host-real.csv" \
  "Azure conv, Q10=tmp/h200-runs-s20/q10/runs/azure-saturation,$C/azure-conv-q10-saturation-prediction/cpu_overheads-host-real.csv" \
  "Azure conv, C4=tmp/h200-runs-s20/c4/runs/azure-saturation,$C/azure-conv-cap64-c4-saturation-prediction/cpu_overheads-host-real.csv"
}
# The twenty-first session's runs (calls 53 and 54, runs-s21/): Q12 and Q13, two starts of Q1's server on two machines,
# every family at 30 / 60 / 85 % of its capacity in the workload's order (call 53's saturation runs with --preconnect 0).
S21_NEW=(azure-conv-q12 sharegpt-q12 sharegpt-q12-rep1 mooncake-q12 azure-conv-q13 sharegpt-q13 sharegpt-q13-rep1
  mooncake-q13)
S21_SAT=("azure-conv-q12-np|Azure conv, Q12, no preconnect|s21/q12/runs/azure-saturation"
  "sharegpt-q12-np|ShareGPT, Q12, no preconnect|s21/q12/runs/sharegpt-saturation"
  "mooncake-q12-np|Mooncake, Q12, no preconnect|s21/q12/runs/mooncake-saturation")
# Every earlier held-out run of Q1's pinned layout (seventeenth to twentieth sessions), by group: "LABEL|EXPERIMENT...".
S21_GROUPS=(
  "Q1's held-out loads, Q2-Q9 (Azure conv, ShareGPT, Mooncake)|azure-conv-q1 azure-conv-q2 azure-conv-q3 azure-conv-q5 azure-conv-q7 azure-conv-q9 sharegpt-q1 sharegpt-q2 sharegpt-q3 sharegpt-q5 sharegpt-q7 mooncake-q1 mooncake-q2 mooncake-q3 mooncake-q7 mooncake-q8"
  "the demo's prompts (D1, D2)|demo-d1 demo-d2"
  "32-request cap (Q4, Q6)|azure-conv-cap32-q4 azure-conv-cap32-q6"
  "256-token budget (R1-R3)|${S19_R[*]}"
  "1,024-token budget (B1-B3)|${S19_B[*]}"
  "64-request cap (C1-C3)|${S19_C[*]}"
  "64-request cap at its capacity in the workload's order (C5)|azure-conv-cap64-c5"
  "new: every family at its capacity in the workload's order (Q12, Q13)|${S21_NEW[*]}")
# A flags-only variant of experiment X as tmp/experiments-s21/X-SUFFIX.json (s20_variant with nothing merged: its own
# output dirs), its uncalibrated simulations and comparisons seeded from X's: the runner keys both by their inputs,
# which a rename does not change, so it takes them as complete instead of simulating again. Usage: s21_variant X SUFFIX
s21_variant() {
  s20_variant "$1" "$2" '{}'
  mkdir -p tmp/experiments-s21
  mv "tmp/experiments-s20/$(basename "$1")-$2.json" "tmp/experiments-s21/$(basename "$1")-$2.json"
  local name l
  name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$E/$1.json")
  for l in $(python3 -c 'import json,sys; print(" ".join(l["name"] for l in json.load(open(sys.argv[1]))["loads"]))' "$E/$1.json"); do
    for d in tmp/vidur_runs tmp/comparisons; do
      if [[ -d $d/$name-$l && ! -d $d/$name-$2-$l ]]; then cp -r "$d/$name-$l" "$d/$name-$2-$l"; fi
    done
  done
}
# Cells within 5 % of their own run, per group of S21_GROUPS, for each variant suffix (EXPERIMENT-SUFFIX-LOAD-cal; the
# fit load of azure-conv-q1, or each load of S21_SKIP, left out; "-" for the uncalibrated, "-SUFFIX" for that variant's uncalibrated). Usage:
# s21_counts SUFFIX...
s21_counts() {
  local row label xs x v d l n line cells
  echo "| group | cells | $(printf '%s | ' "$@")"
  echo "|---|---|$(printf -- '---|%.0s' "$@")"
  for row in "${S21_GROUPS[@]}" "all|"; do
    label=${row%%|*}
    line="| $label"
    cells=
    for v in "$@"; do
      args=()
      if [[ $label == all ]]; then xs=$(printf '%s\n' "${S21_GROUPS[@]}" | cut -d'|' -f2 | tr '\n' ' '); else xs=${row#*|}; fi
      for x in $xs; do
        for l in $(python3 -c 'import json,sys; print(" ".join(l["name"] for l in json.load(open(sys.argv[1]))["loads"]))' "$E/$x.json"); do
          [[ $x == azure-conv-q1 && " ${S21_SKIP[*]:-load60} " == *" $l "* ]] && continue
          if [[ $v == - ]]; then d="$C/$x-$l"; elif [[ $v == -* ]]; then d="$C/$x$v-$l"; else d="$C/$x-$v-$l-cal"; fi
          [[ -d $d ]] && args+=("$x $l=$d")
        done
      done
      [[ -n $cells ]] || { cells=$((${#args[@]} * 4)); line="$line | $cells"; }
      n=$(python3 scripts/fidelity-table.py --band "${args[@]}" | sed -n 's/^verdicts: .*5% \([0-9]*\).*/\1/p')
      line="$line | ${n:-0}"
    done
    echo "$line |"
  done
}
twenty_first() {
# The twenty-first session (docs/runbook.md, "The twenty-first H200 session"): each fit step's host phases taken at one
# host speed (runner calibrate --step-host-speed) and the table's tail continued along the growth of its two largest
# bins (--host-tail upper), each alone and together, on Q1's Azure conv 60 % fit frozen onto every saturation run of
# Q1's layout, every held-out run of it so far, and the two new starts Q12 and Q13; then Q12's own fit.
unpack_runs s17
unpack_runs s18
unpack_runs s19
unpack_runs s20
unpack_runs s21
local row x v flags pinned=() sats=() held=()
for row in "${S20_SAT[@]}"; do if s20_pinned "${row%%|*}"; then pinned+=("$row"); fi; done
pinned+=("${S21_SAT[@]}")
for row in "${pinned[@]}"; do sats+=("${row%%|*}-saturation"); done
for row in "${S21_GROUPS[@]}"; do for x in ${row#*|}; do held+=("$x"); done; done
for x in "${held[@]}" "${sats[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
for v in b0 hs ht hst; do
  case $v in
    b0) flags="" ;;
    hs) flags="--step-host-speed" ;;
    ht) flags="--host-tail upper" ;;
    hst) flags="--step-host-speed --host-tail upper" ;;
  esac
  s21_variant azure-conv-q1 "$v"
  # shellcheck disable=SC2086
  "${R[@]}" calibrate "tmp/experiments-s21/azure-conv-q1-$v.json" --fit load60 --admission-backlog --host-scale probe $flags >&2
  for x in "${sats[@]}"; do q1_freeze "$x" "$v"; done
  if [[ $v == b0 || $v == hst ]]; then
    for x in "${held[@]}"; do
      [[ $x == azure-conv-q1 ]] || q1_freeze "$x" "$v"
    done
  fi
done
echo
echo "## Twenty-first session: Q1's fit table, host phases (schedule + prepare + process, ms) at the fit's largest knot and past it"
echo "| fit | $(sed -n '2,$p' "$C/azure-conv-q1-b0-calibration/cpu_overheads.csv" | cut -d, -f3 | tr '\n' '|' | sed 's/|$//; s/|/ | /g') |"
echo "|---|$(sed -n '2,$p' "$C/azure-conv-q1-b0-calibration/cpu_overheads.csv" | sed 's/.*/---|/' | tr -d '\n')"
for v in b0 hs ht hst; do
  echo "| $v | $(sed -n '2,$p' "$C/azure-conv-q1-$v-calibration/cpu_overheads.csv" | awk -F, '{printf "%s%.3f", (NR > 1 ? " | " : ""), $4 + $5 + $6}') |"
done
echo
echo "## Twenty-first session: the saturated runs' host phases against Q1's table (b0: as before; hst: --step-host-speed --host-tail upper), decode-only steps"
.venv/bin/python scripts/host-tail.py \
  "ShareGPT, Q10, b0=$H-s20/q10/runs/sharegpt-saturation,$C/sharegpt-q10-saturation-b0-prediction/cpu_overheads-host-real.csv" \
  "ShareGPT, Q10, hst=$H-s20/q10/runs/sharegpt-saturation,$C/sharegpt-q10-saturation-hst-prediction/cpu_overheads-host-real.csv" \
  "Azure conv, Q10, b0=$H-s20/q10/runs/azure-saturation,$C/azure-conv-q10-saturation-b0-prediction/cpu_overheads-host-real.csv" \
  "Azure conv, Q10, hst=$H-s20/q10/runs/azure-saturation,$C/azure-conv-q10-saturation-hst-prediction/cpu_overheads-host-real.csv"
echo
echo "## Twenty-first session: capacity in the real order, uncalibrated and from Q1's fit (b0 as before, hs --step-host-speed, ht --host-tail upper, hst both)"
s20_throughput "uncalibrated,b0,hs,ht,hst" -real -b0-real-cal -hs-real-cal -ht-real-cal -hst-real-cal -- "${pinned[@]}"
echo
echo "## Twenty-first session: held-out cells within 5 % of their own run, Q1's fit frozen (b0 as before, hst: --step-host-speed --host-tail upper)"
s21_counts - b0 hst
echo
echo "## Twenty-first session: Q12 and Q13 (new), Q1's fit frozen, b0 then hst, against both starts (Q12's run first)"
for v in b0 hst; do
  args=()
  for l in 30 60 85; do
    args+=("$(band "Azure conv $l% ($v)" "azure-conv-q12-$v" "load$l" -cal azure-conv-q13)")
    args+=("$(band "ShareGPT $l% ($v)" "sharegpt-q12-$v" "load$l" -cal sharegpt-q12-rep1 sharegpt-q13 sharegpt-q13-rep1)")
    args+=("$(band "Mooncake $l% ($v)" "mooncake-q12-$v" "load$l" -cal mooncake-q13)")
  done
  python3 scripts/fidelity-table.py --band "${args[@]}"
done
# Q12's own Azure conv 60 % fit, on its machine, frozen onto Q12's other families and onto Q13.
for v in b0 hst; do
  flags="--admission-backlog --host-scale probe"
  [[ $v == hst ]] && flags="$flags --step-host-speed --host-tail upper"
  s21_variant azure-conv-q12 "${v}o"
  # shellcheck disable=SC2086
  "${R[@]}" calibrate "tmp/experiments-s21/azure-conv-q12-${v}o.json" --fit load60 $flags >&2
  for x in "${S21_NEW[@]:1}"; do
    s21_variant "$x" "${v}o"
    "${R[@]}" calibrate "tmp/experiments-s21/$x-${v}o.json" --frozen "$C/azure-conv-q12-${v}o-calibration" --host-scale probe >&2
  done
done
echo
echo "## Twenty-first session: Q12's own Azure conv 60 % fit frozen onto Q12's other loads and Q13, b0 then hst, each run alone"
for v in b0o hsto; do
  args=()
  for x in "${S21_NEW[@]}"; do
    for l in 30 60 85; do
      [[ $x == azure-conv-q12 && $l == 60 ]] && continue
      args+=("$x $l% ($v)=$C/$x-$v-load$l-cal")
    done
  done
  python3 scripts/fidelity-table.py --band "${args[@]}"
done
}
twenty_first_kv() {
# The twenty-first session's decode KV term (runner calibrate --decode-kv-term) on top of both host flags (hstk), Q1's
# Azure conv 60 % fit frozen onto the same runs as the --twenty-first section's, whose columns (b0: as before; hst: the
# two host flags) it prints beside; run that section first.
unpack_runs s17
unpack_runs s18
unpack_runs s19
unpack_runs s20
unpack_runs s21
local row x pinned=() sats=() held=()
for row in "${S20_SAT[@]}"; do if s20_pinned "${row%%|*}"; then pinned+=("$row"); fi; done
pinned+=("${S21_SAT[@]}")
for row in "${pinned[@]}"; do sats+=("${row%%|*}-saturation"); done
for row in "${S21_GROUPS[@]}"; do for x in ${row#*|}; do held+=("$x"); done; done
for x in "${held[@]}" "${sats[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
s21_variant azure-conv-q1 hstk
"${R[@]}" calibrate tmp/experiments-s21/azure-conv-q1-hstk.json --fit load60 --admission-backlog --host-scale probe \
  --step-host-speed --host-tail upper --decode-kv-term >&2
for x in "${sats[@]}" "${held[@]}"; do
  [[ $x == azure-conv-q1 ]] || q1_freeze "$x" hstk
done
echo
echo "## Twenty-first session: Q1's fit with the decode KV term (hstk: --step-host-speed --host-tail upper --decode-kv-term)"
grep '^Decode KV term' "$C/azure-conv-q1-hstk-calibration/calibration.md"
echo
echo "## Twenty-first session: capacity in the real order, uncalibrated and from Q1's fit (b0 as before, hst both host flags, hstk with the decode KV term)"
s20_throughput "uncalibrated,b0,hst,hstk" -real -b0-real-cal -hst-real-cal -hstk-real-cal -- "${pinned[@]}"
echo
echo "## Twenty-first session: held-out cells within 5 % of their own run, Q1's fit frozen (b0, hst, hstk)"
s21_counts - b0 hst hstk
echo
echo "## Twenty-first session: Q12 and Q13, Q1's fit frozen with the decode KV term (hstk), each run alone"
args=()
for x in "${S21_NEW[@]}"; do
  for l in 30 60 85; do args+=("$x $l% (hstk)=$C/$x-hstk-load$l-cal"); done
done
python3 scripts/fidelity-table.py --band "${args[@]}"
}
twenty_first_q14() {
# The twenty-first session's call 55 (runs-s21/q14): does ShareGPT at 85 % of its capacity repeat on one server? Q14's
# four repeats at 60 and 85 %, Q1's fit frozen as before (b0), with both host flags (hst) and with the decode KV term
# too (hstk): the calibrations the --twenty-first and --twenty-first-kv sections made; run those first.
unpack_runs s21
local v i
for i in "" -rep1 -rep2 -rep3; do "${R[@]}" run "$E/sharegpt-q14$i.json" >&2; done
for i in "" -rep1 -rep2 -rep3; do q1_freeze "sharegpt-q14$i" b0 hst hstk; done
echo
echo "## Twenty-first session: ShareGPT at 60 and 85 % on one server (Q14, call 55), four repeats, Q1's fit frozen (b0, hst, hstk), against every repeat"
for v in b0 hst hstk; do q14_band "$v"; done
}
twenty_second() {
# The twenty-second session: Vidur's decode attention from the engine's own graphed decode step (the hybrid profile:
# the committed profile with profiles-engine's attn_decode rows, made by scripts/hybrid-profile.py, with Vidur's GQA
# decode extra at 0) under both host flags (phst), Q1's Azure conv 60 % fit frozen onto the same runs as the
# --twenty-first section's and onto call 55's Q14 repeats; its b0 / hst / hstk columns are that section's and
# --twenty-first-kv's: run those first. About 20 minutes (every run simulated again, uncalibrated too, on the profile).
unpack_runs s17
unpack_runs s18
unpack_runs s19
unpack_runs s20
unpack_runs s21
.venv/bin/python scripts/hybrid-profile.py data/h200-qwen3-0.6b/profiles data/h200-qwen3-0.6b/profiles-engine tmp/profiles-hybrid \
  compute/h200/Qwen/Qwen3-0.6B >&2
local row x l pinned=() sats=() held=() args=()
for row in "${S20_SAT[@]}"; do if s20_pinned "${row%%|*}"; then pinned+=("$row"); fi; done
pinned+=("${S21_SAT[@]}")
for row in "${pinned[@]}"; do sats+=("${row%%|*}-saturation"); done
for row in "${S21_GROUPS[@]}"; do for x in ${row#*|}; do held+=("$x"); done; done
s22_variant azure-conv-q1
"${R[@]}" calibrate tmp/experiments-s22/azure-conv-q1-phst.json --fit load60 --admission-backlog --host-scale probe \
  --step-host-speed --host-tail upper >&2
for x in "${sats[@]}" "${held[@]}" sharegpt-q14 sharegpt-q14-rep1 sharegpt-q14-rep2 sharegpt-q14-rep3; do
  [[ $x == azure-conv-q1 ]] && continue
  s22_variant "$x"
  "${R[@]}" calibrate "tmp/experiments-s22/$x-phst.json" --frozen "$C/azure-conv-q1-phst-calibration" --host-scale probe >&2
done
echo
echo "## Twenty-second session: the decode step's growth with KV at one batch size, Q1's Azure conv 60 %: real (the engine's wait), Vidur on the committed and on the hybrid profile"
.venv/bin/python scripts/decode-kv-slope.py "Q1 Azure conv 60 %=real,$H-s17/q1/runs/azure-r25.974-rep0" \
  "committed profile=sim,tmp/vidur_runs/azure-conv-q1-load60" "hybrid profile=sim,tmp/vidur_runs/azure-conv-q1-phst-load60"
echo
echo "## Twenty-second session: capacity in the real order (b0 as before, hst both host flags, hstk with the decode KV term; ph the hybrid profile uncalibrated, phst with both host flags)"
s20_throughput "uncalibrated,b0,hst,hstk,ph,phst" -real -b0-real-cal -hst-real-cal -hstk-real-cal -phst-real -phst-real-cal -- "${pinned[@]}"
echo
echo "## Twenty-second session: held-out cells within 5 % of their own run, Q1's fit frozen (b0, hst, hstk; -phst the hybrid profile uncalibrated, phst with both host flags)"
s21_counts - b0 hst hstk -phst phst
echo
echo "## Twenty-second session: Q12 and Q13, Q1's fit frozen on the hybrid profile with both host flags (phst), each run alone"
s22_each phst "${S21_NEW[@]}"
echo
echo "## Twenty-second session: ShareGPT at 60 and 85 % on one server (Q14), four repeats, Q1's fit frozen on the hybrid profile (phst), against every repeat"
q14_band phst
}
# Experiment X from Q1's fit frozen under each variant V (its calibration $C/azure-conv-q1-V-calibration; phst on the
# hybrid profile, s22_variant's). Usage: q1_freeze X V...
q1_freeze() {
  local x=$1 v f
  shift
  for v in "$@"; do
    if [[ $v == phst ]]; then
      s22_variant "$x"
      f=tmp/experiments-s22/$x-phst.json
    else
      s21_variant "$x" "$v"
      f=tmp/experiments-s21/$x-$v.json
    fi
    "${R[@]}" calibrate "$f" --frozen "$C/azure-conv-q1-$v-calibration" --host-scale probe >&2
  done
}
# Each run of EXPERIMENT... at 30 / 60 / 85 % under variant V (its calibrated dirs), each alone. Usage: s22_each V EXPERIMENT...
s22_each() {
  local v=$1 x l args=()
  shift
  for x in "$@"; do for l in 30 60 85; do args+=("$x $l% ($v)=$C/$x-$v-load$l-cal"); done; done
  python3 scripts/fidelity-table.py --band "${args[@]}"
}
# Q14's ShareGPT at 60 and 85 % under variant V against every one of its four repeats. Usage: q14_band V
q14_band() {
  local v=$1 l args=()
  for l in 60 85; do args+=("$(band "ShareGPT $l% ($v)" "sharegpt-q14-$v" "load$l" -cal sharegpt-q14-rep1 sharegpt-q14-rep2 sharegpt-q14-rep3)"); done
  python3 scripts/fidelity-table.py --band "${args[@]}"
}
# The twenty-second session's new runs (calls 56-58, runs-s22/): Q15 and Q16, two more starts of Q1's layout on two
# machines, each serving Self-Instruct (a prompt set no fit or earlier call has seen), Azure conv and ShareGPT at 30 /
# 60 / 85 % of its capacity in the workload's order (measured on Q15); C6, the 64-request cap on a third machine,
# Self-Instruct and ShareGPT at 30 / 60 / 85 % of its own capacities in that order.
S22_NEW=(selfinstruct-q15 selfinstruct-q16 azure-conv-q15 azure-conv-q16 sharegpt-q15 sharegpt-q16 selfinstruct-cap64-c6
  sharegpt-cap64-c6)
S22_SAT=("selfinstruct-q15-np|Self-Instruct, Q15, no preconnect|s22/q15/runs/selfinstruct-saturation"
  "azure-conv-q15-np|Azure conv, Q15, no preconnect|s22/q15/runs/azure-saturation"
  "sharegpt-q15-np|ShareGPT, Q15, no preconnect|s22/q15/runs/sharegpt-saturation"
  "selfinstruct-cap64-c6-np|Self-Instruct, C6 (64 cap), no preconnect|s22/c6/runs/selfinstruct-saturation"
  "sharegpt-cap64-c6-np|ShareGPT, C6 (64 cap), no preconnect|s22/c6/runs/sharegpt-saturation")
twenty_second_runs() {
# Calls 56-58's runs from Q1's Azure conv 60 % fit frozen: as before (b0), with both host flags (hst), with the
# decode KV term too (hstk), on the hybrid profile with both host flags (phst); the calibrations the --twenty-first,
# --twenty-first-kv and --twenty-second sections made: run those first. About 20 minutes.
unpack_runs s22
local row x v l sats=() args=()
for row in "${S22_SAT[@]}"; do sats+=("${row%%|*}-saturation"); done
for x in "${S22_NEW[@]}" "${sats[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
for x in "${S22_NEW[@]}" "${sats[@]}"; do q1_freeze "$x" b0 hst hstk phst; done
echo
echo "## Twenty-second session: capacity in the real order on Q15 and C6 (new), uncalibrated and from Q1's fit (b0, hst, hstk; ph the hybrid profile uncalibrated, phst with both host flags)"
s20_throughput "uncalibrated,b0,hst,hstk,ph,phst" -real -b0-real-cal -hst-real-cal -hstk-real-cal -phst-real -phst-real-cal -- "${S22_SAT[@]}"
echo
echo "## Twenty-second session: Q15, Q16 and C6 (new), cells within 5 % of their own run, Q1's fit frozen"
local -a S21_GROUPS=("Self-Instruct (never fitted on), Q15 and Q16|selfinstruct-q15 selfinstruct-q16"
  "Azure conv, Q15 and Q16|azure-conv-q15 azure-conv-q16" "ShareGPT, Q15 and Q16|sharegpt-q15 sharegpt-q16"
  "64-request cap (C6): Self-Instruct and ShareGPT|selfinstruct-cap64-c6 sharegpt-cap64-c6")
s21_counts - b0 hst hstk -phst phst
for v in b0 hst hstk phst; do
  echo
  echo "## Twenty-second session: Q15, Q16 and C6, Q1's fit frozen ($v), each run alone"
  s22_each "$v" "${S22_NEW[@]}"
done
}
twenty_second_flat() {
# The twenty-second session's flat tail (runner calibrate --host-tail flat): Q1's Azure conv 60 % fit with
# --step-host-speed and the table's tail held at its last knot (hsf; hsfk with --decode-kv-term too), frozen onto every
# run the --twenty-first,
# --twenty-second and --twenty-second-runs sections used, beside their columns; first Q1's fit made on its 85 % load
# (steps of up to 77 requests) with both host flags, whose table shows the correction no longer growing past ~20
# requests. Run those sections first. About 50 minutes.
unpack_runs s17
unpack_runs s18
unpack_runs s19
unpack_runs s20
unpack_runs s21
unpack_runs s22
local row x pinned=() sats=() held=() args=()
for row in "${S20_SAT[@]}"; do if s20_pinned "${row%%|*}"; then pinned+=("$row"); fi; done
pinned+=("${S21_SAT[@]}" "${S22_SAT[@]}")
for row in "${pinned[@]}"; do sats+=("${row%%|*}-saturation"); done
for row in "${S21_GROUPS[@]}"; do for x in ${row#*|}; do held+=("$x"); done; done
s21_variant azure-conv-q1 f85hst
"${R[@]}" calibrate tmp/experiments-s21/azure-conv-q1-f85hst.json --fit load85 --admission-backlog --host-scale probe \
  --step-host-speed --host-tail upper >&2
for v in hsf hsfk; do
  s21_variant azure-conv-q1 "$v"
  # shellcheck disable=SC2046
  "${R[@]}" calibrate "tmp/experiments-s21/azure-conv-q1-$v.json" --fit load60 --admission-backlog --host-scale probe \
    --step-host-speed --host-tail flat $([[ $v == hsfk ]] && echo --decode-kv-term) >&2
  for x in "${sats[@]}" "${held[@]}" "${S22_NEW[@]}" sharegpt-q14 sharegpt-q14-rep1 sharegpt-q14-rep2 sharegpt-q14-rep3; do
    [[ $x == azure-conv-q1 ]] || q1_freeze "$x" "$v"
  done
done
echo
echo "## Twenty-second session: the step's whole correction (overhead, ms) by batch size, Q1's fit on its 60 % (hst: both host flags) and on its 85 % (f85hst: the same flags), and the flat tail (hsf)"
for x in hst f85hst hsf; do
  echo "### $x"
  sed -n '/^| batch sizes | knot/,/^$/p' "$C/azure-conv-q1-$x-calibration/calibration.md" | cut -d'|' -f2,3,4,10
done
echo
echo "## Twenty-second session: capacity in the real order from Q1's fit (b0 as before, hst both host flags, hstk with the decode KV term, phst the hybrid profile, hsf --step-host-speed --host-tail flat, hsfk with the decode KV term)"
s20_throughput "uncalibrated,b0,hst,hstk,phst,hsf,hsfk" -real -b0-real-cal -hst-real-cal -hstk-real-cal -phst-real-cal -hsf-real-cal -hsfk-real-cal -- "${pinned[@]}"
echo
echo "## Twenty-second session: held-out cells within 5 % of their own run, Q1's fit frozen (b0, hst, hstk, phst, hsf, hsfk)"
s21_counts - b0 hst hstk phst hsf hsfk
local -a S21_GROUPS=("Self-Instruct (never fitted on), Q15 and Q16|selfinstruct-q15 selfinstruct-q16"
  "Azure conv, Q15 and Q16|azure-conv-q15 azure-conv-q16" "ShareGPT, Q15 and Q16|sharegpt-q15 sharegpt-q16"
  "64-request cap (C6): Self-Instruct and ShareGPT|selfinstruct-cap64-c6 sharegpt-cap64-c6"
  "ShareGPT at 60 and 85 % on Q14 (four repeats)|sharegpt-q14 sharegpt-q14-rep1 sharegpt-q14-rep2 sharegpt-q14-rep3")
s21_counts - b0 hst hstk phst hsf hsfk
echo
echo "## Twenty-second session: Q15, Q16 and C6, Q1's fit frozen with the flat tail (hsf), each run alone"
s22_each hsf "${S22_NEW[@]}"
echo
echo "## Twenty-second session: ShareGPT at 60 and 85 % on one server (Q14), four repeats, Q1's fit frozen with the flat tail (hsf), against every repeat"
q14_band hsf
}
twenty_second_b6() {
# The twenty-second session's last call (59, runs-s22/b6): a check made after the flat tail was chosen. Server B6, the
# 1,024-token budget, serving Self-Instruct and Mooncake (neither measured on that budget before) at 30 / 60 / 85 % of
# its capacities in the workload's order; from Q1's fit frozen under every calibration of the --twenty-first,
# --twenty-first-kv, --twenty-second and --twenty-second-flat sections (run those first). About 10 minutes.
unpack_runs s22
local x v sats=(selfinstruct-b1024-b6-np-saturation mooncake-b1024-b6-np-saturation) new=(selfinstruct-b1024-b6 mooncake-b1024-b6)
for x in "${new[@]}" "${sats[@]}"; do
  "${R[@]}" run "$E/$x.json" >&2
  q1_freeze "$x" b0 hst hstk hsf hsfk phst
done
echo
echo "## Twenty-second session: B6 (1,024-token budget, call 59), capacity in the real order from Q1's fit (b0, hst, hstk, phst, hsf, hsfk)"
s20_throughput "uncalibrated,b0,hst,hstk,phst,hsf,hsfk" -real -b0-real-cal -hst-real-cal -hstk-real-cal -phst-real-cal -hsf-real-cal -hsfk-real-cal -- \
  "selfinstruct-b1024-b6-np|Self-Instruct, B6 (1,024 budget), no preconnect|s22/b6/runs/selfinstruct-saturation" \
  "mooncake-b1024-b6-np|Mooncake, B6 (1,024 budget), no preconnect|s22/b6/runs/mooncake-saturation"
echo
echo "## Twenty-second session: B6, cells within 5 % of their own run, Q1's fit frozen"
local -a S21_GROUPS=("Self-Instruct, B6 (1,024 budget)|selfinstruct-b1024-b6" "Mooncake, B6 (1,024 budget)|mooncake-b1024-b6")
s21_counts - b0 hst hstk phst hsf hsfk
for v in hst hsf hsfk; do
  echo
  echo "## Twenty-second session: B6, Q1's fit frozen ($v), each run alone"
  s22_each "$v" "${new[@]}"
done
}
twenty_second_front() {
# The twenty-second session's last look: at 85 % the simulation queues new requests while its TBT and capacity are
# right. The admission delay's front backlog (--admission-backlog: one worker serving every simulated token at the
# fit's 37.5 us) saturates at high token rates (Self-Instruct and ShareGPT at 85 %: 20-30 thousand tokens a second).
# The flat tail with the KV term fitted without it (hsfkn: a constant admission delay), frozen onto the new runs and
# Q12 / Q13 / Q14, beside hsfk; run --twenty-second-flat first. About 10 minutes.
unpack_runs s21
unpack_runs s22
local x
s21_variant azure-conv-q1 hsfkn
"${R[@]}" calibrate tmp/experiments-s21/azure-conv-q1-hsfkn.json --fit load60 --host-scale probe --step-host-speed \
  --host-tail flat --decode-kv-term >&2
for x in "${S22_NEW[@]}" "${S21_NEW[@]}" sharegpt-q14 sharegpt-q14-rep1 sharegpt-q14-rep2 sharegpt-q14-rep3; do
  q1_freeze "$x" hsfkn
done
echo
echo "## Twenty-second session: cells within 5 % of their own run, the flat tail and the KV term with the front's backlog (hsfk) and without (hsfkn)"
local -a S21_GROUPS=("new: Q15, Q16 and C6|${S22_NEW[*]}" "Q12 and Q13|${S21_NEW[*]}"
  "ShareGPT at 60 and 85 % on Q14 (four repeats)|sharegpt-q14 sharegpt-q14-rep1 sharegpt-q14-rep2 sharegpt-q14-rep3")
s21_counts hst hsfk hsfkn
echo
echo "## Twenty-second session: Q15, Q16 and C6 without the front's backlog (hsfkn), each run alone"
s22_each hsfkn "${S22_NEW[@]}"
}
# The twenty-second session's variant of experiment X on the hybrid profile (tmp/profiles-hybrid, Vidur's GQA decode
# extra 0): tmp/experiments-s22/X-phst.json, simulated anew (the profile is one of a simulation's inputs).
# Usage: s22_variant X
s22_variant() {
  s20_variant "$1" phst '{"attentionDecodeBatchingOverheadFraction": 0}'
  mkdir -p tmp/experiments-s22
  python3 - "tmp/experiments-s20/$(basename "$1")-phst.json" "tmp/experiments-s22/$(basename "$1")-phst.json" <<'PY'
import json, os, sys
d = json.load(open(sys.argv[1]))
d["profileRoot"] = os.path.abspath("tmp/profiles-hybrid")
open(sys.argv[2], "w").write(json.dumps(d, indent=2) + "\n")
os.remove(sys.argv[1])
PY
}
# Calibrate EXPERIMENT with FIT_FLAGS and SHARED_FLAGS, then freeze that calibration onto each of the OTHERS with
# SHARED_FLAGS (flag strings split on spaces). Usage: fit_freeze EXPERIMENT FIT_FLAGS SHARED_FLAGS OTHER...
fit_freeze() {
  local exp=$1 fit=$2 shared=$3 x
  shift 3
  # shellcheck disable=SC2086
  "${R[@]}" calibrate "$E/$exp.json" $fit $shared >&2
  for x in "$@"; do
    # shellcheck disable=SC2086
    "${R[@]}" calibrate "$E/$x.json" --frozen "$C/$exp-calibration" $shared >&2
  done
}
band() {  # LABEL EXPERIMENT LOAD SUFFIX REPEAT...: the calibrated simulation against every real repeat
  local label=$1 exp=$2 load=$3 suffix=$4 dirs="$C/$2-$3$4"
  shift 4
  for rep in "$@"; do dirs="$dirs,$C/$rep-$load"; done
  echo "$label=$dirs"
}
if [[ -n $EIGHTH_ONLY ]]; then eighth; exit 0; fi
if [[ -n $NINTH_ONLY ]]; then ninth; ninth_profile; exit 0; fi
if [[ -n $PROFILE_ONLY ]]; then ninth_profile; exit 0; fi
if [[ -n $TENTH_ONLY ]]; then tenth; exit 0; fi
if [[ -n $ELEVENTH_ONLY ]]; then eleventh; exit 0; fi
if [[ -n $TWELFTH_ONLY ]]; then twelfth; exit 0; fi
if [[ -n $THIRTEENTH_ONLY ]]; then thirteenth; exit 0; fi
if [[ -n $FOURTEENTH_ONLY ]]; then fourteenth; exit 0; fi
if [[ -n $FIFTEENTH_ONLY ]]; then fifteenth; exit 0; fi
# The twenty-third session's variants: the front's backlog with a time per step (runner calibrate --front-per-step: the
# front's per-token time read off the fit runs' steps' spread, its per-step time fitted on their delivery delays) under
# the flat tail and the KV term (hsfks: hsfk's flags) and under both host flags (hsts: hst's).
S23_VARIANTS=(hsfks hsts)
s23_flags() {  # VARIANT: its calibrate flags
  case $1 in
    hsfks) echo "--step-host-speed --host-tail flat --decode-kv-term --front-per-step" ;;
    hsts) echo "--step-host-speed --host-tail upper --front-per-step" ;;
  esac
}
# The runs the twenty-third session compares on, all of Q1's layout (unpacking their sessions): S23_PINNED, every
# pinned saturation run (s20_throughput rows); S23_ALL, the experiments: those saturation runs, every held-out run of
# the twenty-first section's groups (S21_GROUPS, the 480 cells), the twenty-second session's new runs, B6 and Q14's
# repeats; S23_GROUPS_NEW, the groups of those last three (the 152 cells).
s23_sets() {
  local s row x sats=() held=()
  for s in s17 s18 s19 s20 s21 s22; do unpack_runs "$s"; done
  S23_PINNED=()
  for row in "${S20_SAT[@]}"; do if s20_pinned "${row%%|*}"; then S23_PINNED+=("$row"); fi; done
  S23_PINNED+=("${S21_SAT[@]}" "${S22_SAT[@]}"
    "selfinstruct-b1024-b6-np|Self-Instruct, B6 (1,024 budget), no preconnect|s22/b6/runs/selfinstruct-saturation"
    "mooncake-b1024-b6-np|Mooncake, B6 (1,024 budget), no preconnect|s22/b6/runs/mooncake-saturation")
  for row in "${S23_PINNED[@]}"; do sats+=("${row%%|*}-saturation"); done
  for row in "${S21_GROUPS[@]}"; do for x in ${row#*|}; do held+=("$x"); done; done
  S23_ALL=("${sats[@]}" "${held[@]}" "${S22_NEW[@]}" selfinstruct-b1024-b6 mooncake-b1024-b6
    sharegpt-q14 sharegpt-q14-rep1 sharegpt-q14-rep2 sharegpt-q14-rep3)
  S23_GROUPS_NEW=("Self-Instruct (never fitted on), Q15 and Q16|selfinstruct-q15 selfinstruct-q16"
    "Azure conv, Q15 and Q16|azure-conv-q15 azure-conv-q16" "ShareGPT, Q15 and Q16|sharegpt-q15 sharegpt-q16"
    "64-request cap (C6): Self-Instruct and ShareGPT|selfinstruct-cap64-c6 sharegpt-cap64-c6"
    "ShareGPT at 60 and 85 % on Q14 (four repeats)|sharegpt-q14 sharegpt-q14-rep1 sharegpt-q14-rep2 sharegpt-q14-rep3"
    "Self-Instruct, B6 (1,024 budget)|selfinstruct-b1024-b6" "Mooncake, B6 (1,024 budget)|mooncake-b1024-b6")
}
twenty_third() {
# The twenty-third session: at 85 % of Self-Instruct's and ShareGPT's capacity the front's backlog as one worker per
# token (the fit's 37.5 us) is 75-110 % busy and queues new requests the real server takes at once. The real front
# writes a step's tokens one after another at about 20 us each (the spread of a step's receive times, the same at
# every load); the rest of the fit's 37.5 us is per step. Q1's Azure conv 60 % fit with --front-per-step (hsfks, hsts)
# frozen onto every run of the twenty-first and twenty-second sections, the two variants two at a time (one process
# each). Self-contained (it runs what it needs uncalibrated first); about 60 minutes on 2 cores.
local x v
s23_sets
local -a pinned=("${S23_PINNED[@]}") all=("${S23_ALL[@]}") b6=(selfinstruct-b1024-b6 mooncake-b1024-b6)
local -a q14=(sharegpt-q14 sharegpt-q14-rep1 sharegpt-q14-rep2 sharegpt-q14-rep3)
for x in "${all[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
mkdir -p tmp/logs
for v in "${S23_VARIANTS[@]}"; do
  (
    s21_variant azure-conv-q1 "$v"
    # shellcheck disable=SC2046
    "${R[@]}" calibrate "tmp/experiments-s21/azure-conv-q1-$v.json" --fit load60 --admission-backlog --host-scale probe $(s23_flags "$v")
    for x in "${all[@]}"; do [[ $x == azure-conv-q1 ]] || q1_freeze "$x" "$v"; done
  ) >"tmp/logs/twenty-third-$v.log" 2>&1 &
done
wait
echo
echo "## Twenty-third session: the front Q1's fit reads (hsfk as before: one worker per token; hsfks: per token off the steps' spread, per step fitted)"
for v in hsfk "${S23_VARIANTS[@]}"; do
  [[ -f $C/azure-conv-q1-$v-calibration/calibration.json ]] || continue
  python3 - "$v" "$C/azure-conv-q1-$v-calibration/calibration.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[2]))["delivery_delay"]
step = d.get("frontSPerStep")
print(f"- {sys.argv[1]}: {d['frontSPerToken'] * 1e6:.1f} us a token" + ("" if step is None else f", {step * 1e6:.0f} us a step")
      + f"; admission {d['admissionS'] * 1e3:.2f} ms less the fit's mean backlog {d['admissionBacklogMeanS'] * 1e3:.2f} ms")
PY
done
echo
echo "## Twenty-third session: the front's load at each run (busy share of one worker, real engine token times; its mean backlog at the arrivals, ms)"
local fronts="hsfks=$C/azure-conv-q1-hsfks-calibration/calibration.json"
[[ -f $C/azure-conv-q1-hsfk-calibration/calibration.json ]] && fronts="hsfk=$C/azure-conv-q1-hsfk-calibration/calibration.json,$fronts"
.venv/bin/python scripts/front-load.py "$fronts" \
  "Q1 Azure conv 60 % (fit)=$H-s17/q1/runs/azure-r25.974-rep0" \
  "Q15 Azure conv 85 %=$H-s22/q15/runs/azure-load85-rep0" \
  "Q15 Self-Instruct 30 %=$H-s22/q15/runs/selfinstruct-load30-rep0" "Q15 Self-Instruct 60 %=$H-s22/q15/runs/selfinstruct-load60-rep0" \
  "Q15 Self-Instruct 85 %=$H-s22/q15/runs/selfinstruct-load85-rep0" "Q15 ShareGPT 85 %=$H-s22/q15/runs/sharegpt-load85-rep0" \
  "C6 Self-Instruct 85 %=$H-s22/c6/runs/selfinstruct-load85-rep0"
echo
echo "## Twenty-third session: capacity in the real order from Q1's fit (hsfks, hsts)"
s20_throughput "uncalibrated,hsfks,hsts" -real -hsfks-real-cal -hsts-real-cal -- "${pinned[@]}"
echo
echo "## Twenty-third session: held-out cells within 5 % of their own run, Q1's fit frozen (hsfks, hsts)"
s21_counts - "${S23_VARIANTS[@]}"
local -a S21_GROUPS=("${S23_GROUPS_NEW[@]}")
s21_counts - "${S23_VARIANTS[@]}"
for v in "${S23_VARIANTS[@]}"; do
  echo
  echo "## Twenty-third session: Q15, Q16, C6 and B6, Q1's fit frozen ($v), each run alone"
  s22_each "$v" "${S22_NEW[@]}" "${b6[@]}"
  echo
  echo "## Twenty-third session: ShareGPT at 60 and 85 % on Q14, four repeats, Q1's fit frozen ($v), against every repeat"
  q14_band "$v"
done
}
# Every calibration the twenty-third session compares, with its flags (Q1's Azure conv 60 % fit, --admission-backlog
# --host-scale probe with each): hst and hsfk as the twenty-first and twenty-second sessions made them, hsfks and hsts.
s23_fit_flags() {  # VARIANT: its calibrate flags
  case $1 in
    hst) echo "--step-host-speed --host-tail upper" ;;
    hsfk) echo "--step-host-speed --host-tail flat --decode-kv-term" ;;
    hsfki) echo "--step-host-speed --host-tail flat --decode-kv-term --admission-in-sim" ;;
    hsfksi) echo "--step-host-speed --host-tail flat --decode-kv-term --front-per-step --admission-in-sim" ;;
    *) s23_flags "$1" ;;
  esac
}
S23_NEW=(humaneval-q17 humaneval-q18 mtbench-q17 mtbench-q18)
S23_SAT=("humaneval-q17-np|HumanEval, Q17, no preconnect|s23/q17/runs/humaneval-saturation"
  "mtbench-q17-np|MT-Bench, Q17, no preconnect|s23/q17/runs/mtbench-saturation")
twenty_third_runs() {
# The twenty-third session's new runs (calls 60 and 61, runs-s23/: HumanEval and MT-Bench, two prompt sets never
# served before, on Q17 and at Q17's rates on Q18, another machine), recorded after --front-per-step was written and
# predicted from Q1's frozen fit under each calibration: as the twenty-first and twenty-second sessions left them
# (hst, hsfk) and with the front's per-step time (hsfks, hsts). Each fit is made here when missing. About 15 minutes.
unpack_runs s17
unpack_runs s23
local row x v sats=()
for row in "${S23_SAT[@]}"; do sats+=("${row%%|*}-saturation"); done
for x in "${S23_NEW[@]}" "${sats[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
for v in hst hsfk "${S23_VARIANTS[@]}"; do
  if [[ ! -f $C/azure-conv-q1-$v-calibration/calibration.json ]]; then
    s21_variant azure-conv-q1 "$v"
    # shellcheck disable=SC2046
    "${R[@]}" calibrate "tmp/experiments-s21/azure-conv-q1-$v.json" --fit load60 --admission-backlog --host-scale probe \
      $(s23_fit_flags "$v") >&2
  fi
  for x in "${S23_NEW[@]}" "${sats[@]}"; do q1_freeze "$x" "$v"; done
done
echo
echo "## Twenty-third session: HumanEval and MT-Bench (new, calls 60 and 61), capacity in the real order from Q1's fit"
s20_throughput "uncalibrated,hst,hsfk,hsfks,hsts" -real -hst-real-cal -hsfk-real-cal -hsfks-real-cal -hsts-real-cal -- "${S23_SAT[@]}"
echo
echo "## Twenty-third session: HumanEval and MT-Bench, cells within 5 % of their own run, Q1's fit frozen"
local -a S21_GROUPS=("HumanEval, Q17 and Q18|humaneval-q17 humaneval-q18" "MT-Bench, Q17 and Q18|mtbench-q17 mtbench-q18")
s21_counts - hst hsfk "${S23_VARIANTS[@]}"
for v in - hst hsfk "${S23_VARIANTS[@]}"; do
  echo
  if [[ $v == - ]]; then
    echo "## Twenty-third session: HumanEval and MT-Bench, uncalibrated, each run alone"
    local l args=()
    for x in "${S23_NEW[@]}"; do for l in 30 60 85; do args+=("$x $l% (uncalibrated)=$C/$x-load$l"); done; done
    python3 scripts/fidelity-table.py --band "${args[@]}"
  else
    echo "## Twenty-third session: HumanEval and MT-Bench, Q1's fit frozen ($v), each run alone"
    s22_each "$v" "${S23_NEW[@]}"
  fi
done
echo
echo "## Twenty-third session: the front's load on the fit, on Self-Instruct's 85 % and on the new runs (hsfk: per token; hsfks: per token and per step)"
unpack_runs s22
.venv/bin/python scripts/front-load.py "hsfk=$C/azure-conv-q1-hsfk-calibration/calibration.json,hsfks=$C/azure-conv-q1-hsfks-calibration/calibration.json" \
  "Q1 Azure conv 60 % (fit)=$H-s17/q1/runs/azure-r25.974-rep0" "Q15 Self-Instruct 85 %=$H-s22/q15/runs/selfinstruct-load85-rep0" \
  "Q17 HumanEval 85 %=$H-s23/q17/runs/humaneval-load85-rep0" "Q17 MT-Bench 85 %=$H-s23/q17/runs/mtbench-load85-rep0" \
  "Q18 HumanEval 85 %=$H-s23/q18/runs/humaneval-r115.209-rep1" "Q18 MT-Bench 85 %=$H-s23/q18/runs/mtbench-r67.252-rep1"
echo
echo "## Twenty-third session: the real admission delay (ms) by the batch size of the step a request arrived in, and the share of its requests' intervals holding it"
.venv/bin/python scripts/admission-by-batch.py "Q1 Azure conv 60 % (fit)=$H-s17/q1/runs/azure-r25.974-rep0" \
  "Q1 Azure conv 85 %=$H-s17/q1/runs/azure-r36.797-rep0" "Q15 Self-Instruct 30 %=$H-s22/q15/runs/selfinstruct-load30-rep0" \
  "Q15 Self-Instruct 85 %=$H-s22/q15/runs/selfinstruct-load85-rep0" "Q15 ShareGPT 60 %=$H-s22/q15/runs/sharegpt-load60-rep0" \
  "Q15 ShareGPT 85 %=$H-s22/q15/runs/sharegpt-load85-rep0" "C6 Self-Instruct 85 % (64 cap)=$H-s22/c6/runs/selfinstruct-load85-rep0" \
  "Q17 MT-Bench 85 %=$H-s23/q17/runs/mtbench-load85-rep0" "Q17 HumanEval 85 %=$H-s23/q17/runs/humaneval-load85-rep0"
echo
echo "## Twenty-third session: each request's admission split at the engine's inbox (calls 62-63: servers Q19, Q20, and Q20s with Python's switch interval 0.2 ms in the engine process)"
.venv/bin/python scripts/admission-stages.py "Q19 Self-Instruct 30 %=$H-s23/q19/runs/selfinstruct-r33.435-rep2" \
  "Q19 Self-Instruct 85 %=$H-s23/q19/runs/selfinstruct-r94.733-rep2" "Q19 MT-Bench 85 %=$H-s23/q19/runs/mtbench-r67.252-rep2" \
  "Q19 HumanEval 85 %=$H-s23/q19/runs/humaneval-r115.209-rep2" "Q20 Self-Instruct 85 %=$H-s23/q20/runs/selfinstruct-r94.733-rep3" \
  "Q20s Self-Instruct 85 %=$H-s23/q20s/runs/selfinstruct-r94.733-rep3" "Q20 MT-Bench 85 %=$H-s23/q20/runs/mtbench-r67.252-rep3" \
  "Q20s MT-Bench 85 %=$H-s23/q20s/runs/mtbench-r67.252-rep3"
}
# The twenty-fourth session: call 64's runs (server Q21, runs-s24/: Azure conv at Q1's 30 / 60 / 85 %, Self-Instruct,
# HumanEval and MT-Bench at 30 and 85 %, each request's path stamped from the client's socket write to the engine's
# intake). S24_NEW: their experiments.
S24_NEW=(azure-conv-q21 selfinstruct-q21 humaneval-q21 mtbench-q21)
# Each run of EXPERIMENT... at its own loads under variant V (its calibrated dirs), each alone. Usage: s24_each V EXPERIMENT...
s24_each() {
  local v=$1 x l args=()
  shift
  for x in "$@"; do
    for l in $(python3 -c 'import json,sys; print(" ".join(l["name"] for l in json.load(open(sys.argv[1]))["loads"]))' "$E/$x.json"); do
      [[ $v == - ]] && args+=("$x $l (uncalibrated)=$C/$x-$l") || args+=("$x $l ($v)=$C/$x-$v-$l-cal")
    done
  done
  python3 scripts/fidelity-table.py --band "${args[@]}"
}
# Fit on a machine's own Azure conv 60 % (FIT_EXPERIMENT) under variant V's flags (suffix mV: same machine), frozen
# onto that machine's other runs. Usage: machine_fit FIT_EXPERIMENT V EXPERIMENT...
machine_fit() {
  local fit=$1 v=$2 x
  shift 2
  s21_variant "$fit" "m$v"
  # shellcheck disable=SC2046
  "${R[@]}" calibrate "tmp/experiments-s21/$fit-m$v.json" --fit load60 --admission-backlog --host-scale probe \
    $(s23_fit_flags "$v") >&2
  for x in "$@"; do
    s21_variant "$x" "m$v"
    "${R[@]}" calibrate "tmp/experiments-s21/$x-m$v.json" --frozen "$C/$fit-m$v-calibration" --host-scale probe >&2
  done
}
twenty_fourth() {
unpack_runs s17
unpack_runs s24
local x v
for x in "${S24_NEW[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
for v in hsfk hsfks; do
  [[ -f $C/azure-conv-q1-$v-calibration/calibration.json ]] || { echo "fidelity.sh: Q1's $v fit is missing: run --twenty-third-runs first" >&2; exit 1; }
  for x in "${S24_NEW[@]}"; do q1_freeze "$x" "$v"; done
  machine_fit azure-conv-q21 "$v" "${S24_NEW[@]:1}"
done
echo
echo "## Twenty-fourth session: Q21's runs (call 64), uncalibrated"
s24_each - "${S24_NEW[@]}"
for v in hsfk hsfks; do
  echo
  echo "## Twenty-fourth session: Q21's runs, Q1's fit frozen ($v)"
  s24_each "$v" "${S24_NEW[@]}"
  echo
  echo "## Twenty-fourth session: Q21's runs, Q21's own Azure conv 60 % fit frozen (m$v: the same machine)"
  s24_each "m$v" "${S24_NEW[@]}"
done
}
# The twenty-fourth session's variants: hsfk and hsfks with the admission moved into the simulation (runner calibrate
# --admission-in-sim: the sidecar's front gate delays each arrival by the constant plus the front's backlog, the front
# taking a step's tokens at the next step's launch), Q1's Azure conv 60 % fit frozen onto every run the twenty-third
# session compared (480 + 152 cells), the HumanEval and MT-Bench runs (48) and Q21's (call 64), the two variants two
# at a time (one process each), then the cell counts beside hsfk and hsfks. Needs --twenty-third-runs and
# --twenty-fourth's outputs (hsfk, hsfks and the uncalibrated runs); about 60 minutes on 2 cores.
S24_VARIANTS=(hsfki hsfksi)
# The tables of --twenty-fourth-wide from its calibrations (hsfk as the twenty-second session made it on the 480 and
# 152 cells, hsfks as the twenty-third did); `--twenty-fourth-wide-tables` prints them again without recomputing.
twenty_fourth_wide_tables() {
local v x sats=()
s23_sets >/dev/null
for x in "${S23_SAT[@]}"; do sats+=("${x%%|*}-saturation"); done
echo
echo "## Twenty-fourth session: cells within 5 % of their own run, Q1's fit frozen, the admission after the simulation (hsfks) or inside it (hsfki, hsfksi)"
echo
echo "### Every held-out run of Q1's layout (the twenty-first session's 480 cells)"
s21_counts - hsfks "${S24_VARIANTS[@]}"
echo
echo "### The twenty-second session's new runs, Q14's repeats and B6 (152 cells)"
local -a S21_GROUPS=("${S23_GROUPS_NEW[@]}")
s21_counts - hsfks "${S24_VARIANTS[@]}"
echo
echo "### HumanEval and MT-Bench on Q17 and Q18 (48 cells), and Q21's runs (call 64)"
S21_GROUPS=("HumanEval, Q17 and Q18|humaneval-q17 humaneval-q18" "MT-Bench, Q17 and Q18|mtbench-q17 mtbench-q18" "Q21 (call 64): Azure conv, Self-Instruct, HumanEval, MT-Bench|${S24_NEW[*]}")
s21_counts - hsfk hsfks "${S24_VARIANTS[@]}"
echo
echo "## Twenty-fourth session: capacity in the real order from Q1's fit (hsfks, hsfki, hsfksi)"
s20_throughput "uncalibrated,hsfks,hsfki,hsfksi" -real -hsfks-real-cal -hsfki-real-cal -hsfksi-real-cal -- "${S23_PINNED[@]}" "${S23_SAT[@]}"
for v in "${S24_VARIANTS[@]}"; do
  echo
  echo "## Twenty-fourth session: Q15, Q16, C6, B6, HumanEval, MT-Bench and Q21, Q1's fit frozen ($v), each run alone"
  s24_each "$v" "${S22_NEW[@]}" selfinstruct-b1024-b6 mooncake-b1024-b6 "${S23_NEW[@]}" "${S24_NEW[@]}"
done
}
twenty_fourth_wide() {
local x v sats=()
s23_sets
unpack_runs s23
unpack_runs s24
for x in "${S23_SAT[@]}"; do sats+=("${x%%|*}-saturation"); done
for x in "${S23_ALL[@]}" "${S23_NEW[@]}" "${sats[@]}" "${S24_NEW[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
mkdir -p tmp/logs
for v in "${S24_VARIANTS[@]}"; do
  (
    s21_variant azure-conv-q1 "$v"
    # shellcheck disable=SC2046
    "${R[@]}" calibrate "tmp/experiments-s21/azure-conv-q1-$v.json" --fit load60 --admission-backlog --host-scale probe $(s23_fit_flags "$v")
    for x in "${S23_ALL[@]}" "${S23_NEW[@]}" "${sats[@]}" "${S24_NEW[@]}"; do [[ $x == azure-conv-q1 ]] || q1_freeze "$x" "$v"; done
  ) >"tmp/logs/twenty-fourth-$v.log" 2>&1 &
done
wait
twenty_fourth_wide_tables
}
# Calls 65 and 66's runs (servers Q22 and Q23, runs-s24/): Azure conv 60 % once, Self-Instruct, HumanEval and MT-Bench
# at 85 % three times each (experiments *-q22.json, *-q22-rep{1,2}.json, the same for q23; Q23 recorded after
# --admission-in-sim was chosen on Q22). Q1's frozen fit under each variant and the server's own Azure conv 60 % fit
# (mV), each against all three repeats. Needs --twenty-fourth-wide's Q1 fits; about 15 minutes a server.
S24_REPEAT_SERVERS=(q22 q23)
# Server Q's Azure conv 60 % and its three prompt sets' 85 % repeats (EXPERIMENT-Q, -Q-rep1, -Q-rep2), each run
# uncalibrated. Usage: run_repeats Q
run_repeats() {
  local x k
  for x in "azure-conv-$1" "selfinstruct-$1" "humaneval-$1" "mtbench-$1"; do
    "${R[@]}" run "$E/$x.json" >&2
    for k in 1 2; do [[ -f $E/$x-rep$k.json ]] && "${R[@]}" run "$E/$x-rep$k.json" >&2; done
  done
}
twenty_fourth_q22() {
unpack_runs s17
unpack_runs s24
local q x v label args exps
for q in "${S24_REPEAT_SERVERS[@]}"; do
  exps=("selfinstruct-$q" "humaneval-$q" "mtbench-$q")
  run_repeats "$q"
  for v in hsfk hsfks "${S24_VARIANTS[@]}"; do
    [[ -f $C/azure-conv-q1-$v-calibration/calibration.json ]] || { echo "fidelity.sh: Q1's $v fit is missing: run --twenty-fourth-wide first" >&2; exit 1; }
    for x in "${exps[@]}"; do q1_freeze "$x" "$v"; done
    machine_fit "azure-conv-$q" "$v" "${exps[@]}"
  done
  for v in - hsfk hsfks "${S24_VARIANTS[@]}" mhsfk mhsfks mhsfki mhsfksi; do
    echo
    echo "## Twenty-fourth session: ${q^^}'s 85 % loads against their three repeats, $([[ $v == - ]] && echo uncalibrated || { [[ $v == m* ]] && echo "${q^^}'s own Azure conv 60 % fit (${v#m}, the same machine)" || echo "Q1's fit frozen ($v)"; })"
    args=()
    for x in "${exps[@]}"; do
      label="${x%-"$q"} 85% ($v)"
      if [[ $v == - ]]; then args+=("$(band "$label" "$x" load85 "" "$x-rep1" "$x-rep2")"); else args+=("$(band "$label" "$x-$v" load85 -cal "$x-rep1" "$x-rep2")"); fi
    done
    python3 scripts/fidelity-table.py --band "${args[@]}"
  done
done
}
# The twenty-fifth session: Q1's frozen fit of variant V with the serving path at each load's host speed (runner
# calibrate --path-host-scale HOW: the delivery delays, the admission constant, the front's times and the hand-over x
# the load's in-band host probe over the fit's), as variant Vp (HOW ratio) or Vq (slower: only where that is above 1).
# Usage: path_freeze EXPERIMENT V p|q
path_freeze() {
  local how=ratio
  [[ $3 == q ]] && how=slower
  s21_variant "$1" "$2$3"
  "${R[@]}" calibrate "tmp/experiments-s21/$1-$2$3.json" --frozen "$C/azure-conv-q1-$2-calibration" --host-scale probe \
    --path-host-scale "$how" >&2
}
# The variants it compares: hsfks, hsfki and hsfksi with the plain ratio (p), hsfksi with the slower-only one (q).
S25_VARIANTS=(hsfksp hsfkip hsfksip hsfksiq)
S25_REPEATS=(q22 q23)
twenty_fifth() {
unpack_runs s17
unpack_runs s24
local q x v label args exps
for v in "${S25_VARIANTS[@]}"; do
  [[ -f $C/azure-conv-q1-${v%?}-calibration/calibration.json ]] || { echo "fidelity.sh: Q1's ${v%?} fit is missing: run --twenty-fourth-wide first" >&2; exit 1; }
  for x in "${S24_NEW[@]}"; do path_freeze "$x" "${v%?}" "${v: -1}"; done
done
echo
echo "## Twenty-fifth session: Q21's runs, Q1's fit frozen, the serving path at each run's host speed (Vp: --path-host-scale ratio; Vq: slower)"
for v in "${S25_VARIANTS[@]}"; do s24_each "$v" "${S24_NEW[@]}"; done
for q in "${S25_REPEATS[@]}"; do
  exps=("selfinstruct-$q" "humaneval-$q" "mtbench-$q")
  for x in "${exps[@]}"; do
    for v in "${S25_VARIANTS[@]}"; do path_freeze "$x" "${v%?}" "${v: -1}"; done
  done
  for v in "${S25_VARIANTS[@]}"; do
    echo
    echo "## Twenty-fifth session: ${q^^}'s 85 % loads against their three repeats, Q1's fit frozen ($v: ${v%?} with --path-host-scale $([[ $v == *q ]] && echo slower || echo ratio))"
    args=()
    for x in "${exps[@]}"; do args+=("$(band "${x%-"$q"} 85% ($v)" "$x-$v" load85 -cal "$x-rep1" "$x-rep2")"); done
    python3 scripts/fidelity-table.py --band "${args[@]}"
  done
done
}
# hsfksiq (Q1's hsfksi fit frozen with --path-host-scale slower) on every run the twenty-fourth's --twenty-fourth-wide
# compared (the 480 + 152 cells, HumanEval and MT-Bench, Q21, the saturation runs' capacity), beside hsfksi; two halves at
# once (one process each). Needs --twenty-fourth-wide's Q1 fit; about 30 minutes on 2 cores.
# `--twenty-fifth-wide-tables` prints its tables again.
twenty_fifth_wide_tables() {
local x sats=()
s23_sets >/dev/null
for x in "${S23_SAT[@]}"; do sats+=("${x%%|*}-saturation"); done
echo
echo "## Twenty-fifth session: cells within 5 % of their own run, Q1's fit frozen, hsfksi and hsfksiq (its serving path at the run's host speed where slower than the fit's)"
echo
echo "### Every held-out run of Q1's layout (the twenty-first session's 480 cells)"
s21_counts - hsfksi hsfksiq
echo
echo "### The twenty-second session's new runs, Q14's repeats and B6 (152 cells)"
local -a S21_GROUPS=("${S23_GROUPS_NEW[@]}")
s21_counts - hsfksi hsfksiq
echo
echo "### HumanEval and MT-Bench on Q17 and Q18 (48 cells), and Q21's runs (call 64)"
S21_GROUPS=("HumanEval, Q17 and Q18|humaneval-q17 humaneval-q18" "MT-Bench, Q17 and Q18|mtbench-q17 mtbench-q18" "Q21 (call 64): Azure conv, Self-Instruct, HumanEval, MT-Bench|${S24_NEW[*]}")
s21_counts - hsfksi hsfksiq
echo
echo "## Twenty-fifth session: capacity in the real order from Q1's fit (hsfksi, hsfksiq)"
s20_throughput "uncalibrated,hsfksi,hsfksiq" -real -hsfksi-real-cal -hsfksiq-real-cal -- "${S23_PINNED[@]}" "${S23_SAT[@]}"
echo
echo "## Twenty-fifth session: Q15, Q16, C6, B6, HumanEval, MT-Bench and Q21, Q1's fit frozen (hsfksiq), each run alone"
s24_each hsfksiq "${S22_NEW[@]}" selfinstruct-b1024-b6 mooncake-b1024-b6 "${S23_NEW[@]}" "${S24_NEW[@]}"
}
twenty_fifth_wide() {
local x i sats=() all=()
s23_sets >/dev/null
unpack_runs s17
unpack_runs s23
unpack_runs s24
[[ -f $C/azure-conv-q1-hsfksi-calibration/calibration.json ]] || { echo "fidelity.sh: Q1's hsfksi fit is missing: run --twenty-fourth-wide first" >&2; exit 1; }
for x in "${S23_SAT[@]}"; do sats+=("${x%%|*}-saturation"); done
all=("${S23_ALL[@]}" "${S23_NEW[@]}" "${sats[@]}" "${S24_NEW[@]}")
for x in "${all[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
mkdir -p tmp/logs
for i in 0 1; do
  (
    local k
    for k in "${!all[@]}"; do (( k % 2 == i )) && path_freeze "${all[$k]}" hsfksi q; done
  ) >"tmp/logs/twenty-fifth-wide-$i.log" 2>&1 &
done
wait
twenty_fifth_wide_tables
}
# Calls 67-70's runs (servers Q24-Q27, runs-s25/, recorded after hsfksiq was chosen on Q21-Q23): Azure conv 60 %
# once, Self-Instruct, HumanEval and MT-Bench at 85 % three times each (experiments *-q24.json, *-q24-rep{1,2}.json, the
# same for q25-q27), uncalibrated and from Q1's frozen fit (hsfks, hsfksi, and hsfksi with --path-host-scale ratio /
# slower), each against all three repeats. Needs --twenty-fourth-wide's Q1 fits; about 25 minutes.
S25_NEW_SERVERS=(q24 q25 q26 q27)
# Server Q's three prompt sets at 85 % against their three repeats, one table a variant ("-": uncalibrated; CALL may be
# empty). Usage: repeats_tables SESSION CALL Q VARIANT...
repeats_tables() {
  local session=$1 call=$2 q=$3 v x args
  shift 3
  for v in "$@"; do
    echo
    echo "## $session session: ${q^^}'s 85 % loads against their three repeats${call:+ (call $call)}, $([[ $v == - ]] && echo uncalibrated || echo "Q1's fit frozen ($v)")"
    args=()
    for x in "selfinstruct-$q" "humaneval-$q" "mtbench-$q"; do
      if [[ $v == - ]]; then args+=("$(band "${x%-"$q"} 85% ($v)" "$x" load85 "" "$x-rep1" "$x-rep2")"); else args+=("$(band "${x%-"$q"} 85% ($v)" "$x-$v" load85 -cal "$x-rep1" "$x-rep2")"); fi
    done
    python3 scripts/fidelity-table.py --band "${args[@]}"
  done
}
twenty_fifth_q24() {
unpack_runs s17
unpack_runs s25
local q x v args exps
for q in "${S25_NEW_SERVERS[@]}"; do
  exps=("selfinstruct-$q" "humaneval-$q" "mtbench-$q")
  run_repeats "$q"
  for x in "${exps[@]}"; do
    for v in hsfks hsfksi; do q1_freeze "$x" "$v"; done
    path_freeze "$x" hsfksi p
    path_freeze "$x" hsfksi q
  done
  repeats_tables Twenty-fifth "$((${q#q} + 43))" "$q" - hsfks hsfksi hsfksip hsfksiq
done
}
if [[ -n $TWENTY_FIFTH_Q24_ONLY ]]; then twenty_fifth_q24; exit 0; fi
# The front's cost from calls 67-68's CPU samples (`scripts/host-cpu.py --samples ...`: 23.8 us a token, 132 us a
# step, against the fitted 19.8 and 10) in place of the fitted one: Q1's hsfksi fit with those (hsfksic), frozen with
# --path-host-scale slower (hsfksicq) onto Q21's runs and the 85 % repeats of Q22-Q27. About 20 minutes.
twenty_fifth_cpu() {
unpack_runs s17
unpack_runs s24
unpack_runs s25
local q x args src=$C/azure-conv-q1-hsfksi-calibration dst=$C/azure-conv-q1-hsfksic-calibration
[[ -f $src/calibration.json ]] || { echo "fidelity.sh: Q1's hsfksi fit is missing: run --twenty-fourth-wide first" >&2; exit 1; }
rm -rf "$dst" && cp -r "$src" "$dst"
python3 - "$dst/calibration.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["delivery_delay"].update(frontSPerToken=23.8e-6, frontSPerStep=132e-6)
json.dump(d, open(sys.argv[1], "w"), indent=2)
PY
for x in "${S24_NEW[@]:1}"; do path_freeze "$x" hsfksic q; done
echo
echo "## Twenty-fifth session: Q21's runs, the front's cost from the CPU samples (hsfksicq)"
s24_each hsfksicq "${S24_NEW[@]:1}"
for q in "${S24_REPEAT_SERVERS[@]}" "${S25_NEW_SERVERS[@]}"; do
  run_repeats "$q"
  args=()
  for x in "selfinstruct-$q" "humaneval-$q" "mtbench-$q"; do
    path_freeze "$x" hsfksic q
    args+=("$(band "${x%-"$q"} 85% (hsfksicq)" "$x-hsfksicq" load85 -cal "$x-rep1" "$x-rep2")")
  done
  echo
  echo "## Twenty-fifth session: ${q^^}'s 85 % loads against their three repeats, the front's cost from the CPU samples (hsfksicq)"
  python3 scripts/fidelity-table.py --band "${args[@]}"
done
}
if [[ -n $TWENTY_FIFTH_CPU_ONLY ]]; then twenty_fifth_cpu; exit 0; fi
# Freezes every experiment of the caller's array `all` with each Q1 FIT (--path-host-scale slower), in two halves at
# once, logs in tmp/logs/NAME-{0,1}.log. Usage: freeze_halves NAME FIT...
freeze_halves() {
  local name=$1 i
  shift
  mkdir -p tmp/logs
  for i in 0 1; do
    (
      local k f
      for k in "${!all[@]}"; do
        (( k % 2 == i )) || continue
        for f in "$@"; do path_freeze "${all[$k]}" "$f" "${FREEZE_HOW:-q}"; done
      done
    ) >"tmp/logs/$name-$i.log" 2>&1 &
  done
  wait
}
# Cells within 5 % of their own run for each VARIANT (and uncalibrated) over the held-out runs of Q1's layout, the
# twenty-second session's, and HumanEval and MT-Bench on Q17-Q18 with Q21's. Usage: held_out_counts VARIANT...
held_out_counts() {
  echo
  echo "### Every held-out run of Q1's layout (the twenty-first session's 480 cells)"
  s21_counts - "$@"
  echo
  echo "### The twenty-second session's new runs, Q14's repeats and B6 (152 cells)"
  local -a S21_GROUPS=("${S23_GROUPS_NEW[@]}")
  s21_counts - "$@"
  echo
  echo "### HumanEval and MT-Bench on Q17 and Q18 (48 cells), and Q21's runs (call 64)"
  S21_GROUPS=("HumanEval, Q17 and Q18|humaneval-q17 humaneval-q18" "MT-Bench, Q17 and Q18|mtbench-q17 mtbench-q18" "Q21 (call 64): Azure conv, Self-Instruct, HumanEval, MT-Bench|${S24_NEW[*]}")
  s21_counts - "$@"
}
# A session's tables of Q1's FITS (space-separated): Azure conv's loads under each fit, the cells within 5 % of each
# frozen VARIANT over held_out_counts' runs, capacity in the real order, and each server of SERVERS' 85 % repeats.
# Usage: q1_fit_tables SESSION FITS SERVERS OWN_TITLE COUNTS_TITLE VARIANT...
q1_fit_tables() {
  local session=$1 fits=$2 servers=$3 own=$4 counts=$5 l v q args suffixes=()
  shift 5
  s23_sets >/dev/null
  echo
  echo "## $session session: $own"
  args=()
  for l in 60 30 85; do for v in $fits; do args+=("Azure $l% ($v)=$C/azure-conv-q1-$v-load$l-cal"); done; done
  python3 scripts/fidelity-table.py "${args[@]}"
  echo
  echo "## $session session: $counts"
  held_out_counts "$@"
  echo
  echo "## $session session: capacity in the real order from Q1's fit ($(printf '%s, ' "$@" | sed 's/, $//'))"
  for v in "$@"; do suffixes+=("-$v-real-cal"); done
  s20_throughput "uncalibrated,$(printf '%s,' "$@" | sed 's/,$//')" -real "${suffixes[@]}" -- "${S23_PINNED[@]}" "${S23_SAT[@]}"
  for q in $servers; do repeats_tables "$session" "" "$q" "$@"; done
}
# The twenty-sixth session: Q1's hsfksi fit with each bin's misfit taken at the fit's real batch sizes
# (--misfit-by-size: hsfksim), and that fit with the decode-only steps taken from the engine's measured decode step
# instead of the decode KV term (--decode-grid data/h200-qwen3-0.6b/engine/decode_grid.csv, call 72: hsfgsim), each
# frozen with --path-host-scale slower (hsfksimq, hsfgsimq) onto every run --twenty-fifth-wide and --twenty-fifth-q24
# compared, beside hsfksiq (which those sections made: run them first). Two halves at once; about 40 minutes a fit on 2
# cores (S26_FITS="hsfgsim" bash scripts/fidelity.sh load60 --twenty-sixth redoes one). `--twenty-sixth-tables`
# prints its tables again.
read -r -a S26_FIT_LIST <<<"${S26_FITS:-hsfksim hsfgsim}"
S26_VARIANTS=(hsfksiq hsfksimq hsfgsimq)
s26_fit_flags() {  # VARIANT: its calibrate flags (Q1's Azure conv 60 % fit, with --admission-backlog --host-scale probe)
  case $1 in
    hsfksim) echo "$(s23_fit_flags hsfksi) --misfit-by-size" ;;
    hsfgsim) echo "--step-host-speed --host-tail flat --front-per-step --admission-in-sim --misfit-by-size --decode-grid data/h200-qwen3-0.6b/engine/decode_grid.csv" ;;
    *) echo "fidelity.sh: no twenty-sixth fit $1" >&2; exit 2 ;;
  esac
}
twenty_sixth_all() {  # every experiment the section predicts, one a line
  local x q
  for x in "${S23_SAT[@]}"; do echo "${x%%|*}-saturation"; done
  printf '%s\n' "${S23_ALL[@]}" "${S23_NEW[@]}" "${S24_NEW[@]}"
  for q in "${S24_REPEAT_SERVERS[@]}" "${S25_NEW_SERVERS[@]}"; do printf '%s\n' "selfinstruct-$q" "humaneval-$q" "mtbench-$q"; done
}
twenty_sixth() {
s23_sets >/dev/null
unpack_runs s23
unpack_runs s24
unpack_runs s25
local x i q v all
for v in "${S26_FIT_LIST[@]}"; do
  s21_variant azure-conv-q1 "$v"
  # shellcheck disable=SC2046
  "${R[@]}" calibrate "tmp/experiments-s21/azure-conv-q1-$v.json" --fit load60 --admission-backlog --host-scale probe \
    $(s26_fit_flags "$v") >&2
done
mapfile -t all < <(twenty_sixth_all)
for x in "${all[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
for q in "${S24_REPEAT_SERVERS[@]}" "${S25_NEW_SERVERS[@]}"; do run_repeats "$q"; done
freeze_halves twenty-sixth "${S26_FIT_LIST[@]}"
twenty_sixth_tables
}
twenty_sixth_tables() {
q1_fit_tables Twenty-sixth "hsfksi hsfksim hsfgsim" "${S24_REPEAT_SERVERS[*]} ${S25_NEW_SERVERS[*]}" \
  "Q1's fits with the misfit at its real batch sizes (hsfksim) and the decode grid (hsfgsim), their own loads" \
  "cells within 5 % of their own run, Q1's fit frozen (hsfksiq; hsfksimq: with --misfit-by-size; hsfgsimq: and the decode grid for the KV term)" \
  "${S26_VARIANTS[@]}"
}
# Calls 73-74's runs (servers Q29 and Q30, runs-s26/, recorded after hsfksimq was chosen and committed, f24b7b5): each
# machine's decode grid against call 72's, then Self-Instruct, HumanEval and MT-Bench at 85 % three times each
# (experiments *-q29*.json, *-q30*.json), uncalibrated and from Q1's frozen fits (hsfksiq, hsfksimq, hsfgsimq), each
# against all three repeats. Needs --twenty-sixth's fits.
S26_NEW_SERVERS=(q29 q30)
twenty_sixth_q29() {
unpack_runs s17
unpack_runs s26
local q x v args exps
for v in hsfksi hsfksim hsfgsim; do
  [[ -f $C/azure-conv-q1-$v-calibration/calibration.json ]] || { echo "fidelity.sh: Q1's $v fit is missing: run --twenty-fourth-wide and --twenty-sixth first" >&2; exit 1; }
done
echo
echo "## Twenty-sixth session: each machine's decode grid against call 72's (the same points; ratio of the medians)"
python3 - data/h200-qwen3-0.6b/engine/decode_grid.csv tmp/h200-runs-s26/grid-q29/decode_grid.csv tmp/h200-runs-s26/grid-q30/decode_grid.csv <<'PY'
import csv, statistics, sys
read = lambda p: {(r["batch"], r["mean_context"]): float(r["step_ms"]) for r in csv.DictReader(open(p))}
ref = read(sys.argv[1])
print("| grid | points | ratio p10 / p50 / p90 | batches 1-16 | 17-64 | 65-128 |")
print("|---|---|---|---|---|---|")
for p in sys.argv[2:]:
    g = read(p)
    r = {k: g[k] / ref[k] for k in g if k in ref}
    q = statistics.quantiles(r.values(), n=10)
    by = lambda lo, hi: statistics.median(v for (b, _), v in r.items() if lo <= int(b) <= hi)
    print(f"| {p.split('/')[-2]} | {len(r)} | {q[0]:.3f} / {statistics.median(r.values()):.3f} / {q[-1]:.3f} | {by(1, 16):.3f} | {by(17, 64):.3f} | {by(65, 128):.3f} |")
PY
for q in "${S26_NEW_SERVERS[@]}"; do
  exps=("selfinstruct-$q" "humaneval-$q" "mtbench-$q")
  run_repeats "$q"
  for x in "${exps[@]}"; do
    for v in hsfksi hsfksim hsfgsim; do path_freeze "$x" "$v" q; done
  done
  repeats_tables Twenty-sixth "$((${q#q} + 44))" "$q" - "${S26_VARIANTS[@]}"
done
}
# The twenty-seventh session: Q1's hsfgsim fit (the decode grid) with its tail past the fit's batches measured instead
# of held flat (--tail-from: the decode-only steps of Q15's Self-Instruct 85 %, call 56, Q1's layout, whose batches reach
# the cap; their residuals against the grid and host phases at Q1's probe level, bin by bin over the steps around the
# fit's last knot: hstgsim), frozen with --path-host-scale slower (hstgsimq) onto every run --twenty-sixth and
# --twenty-sixth-q29 compared (run them first). Two halves at once; about 45 minutes on 2 cores. Q15's Self-Instruct
# 85 % itself stays in the 152 cells (its decode-only steps past 38 requests made the tail).
S27_TAIL_RUN=tmp/h200-runs-s22/q15/runs/selfinstruct-load85-rep0
S27_VARIANTS=(hsfksimq hsfgsimq hstgsimq)
twenty_seventh() {
s23_sets >/dev/null
unpack_runs s22
unpack_runs s23
unpack_runs s24
unpack_runs s25
unpack_runs s26
local x i q all
s21_variant azure-conv-q1 hstgsim
"${R[@]}" calibrate tmp/experiments-s21/azure-conv-q1-hstgsim.json --fit load60 --admission-backlog --host-scale probe \
  --step-host-speed --front-per-step --admission-in-sim --misfit-by-size \
  --decode-grid data/h200-qwen3-0.6b/engine/decode_grid.csv --tail-from "$S27_TAIL_RUN" >&2
mapfile -t all < <(twenty_sixth_all; for q in "${S26_NEW_SERVERS[@]}"; do printf '%s\n' "selfinstruct-$q" "humaneval-$q" "mtbench-$q"; done)
for x in "${all[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
for q in "${S24_REPEAT_SERVERS[@]}" "${S25_NEW_SERVERS[@]}" "${S26_NEW_SERVERS[@]}"; do run_repeats "$q"; done
freeze_halves twenty-seventh hstgsim
twenty_seventh_tables
}
twenty_seventh_tables() {
q1_fit_tables Twenty-seventh "hsfksim hsfgsim hstgsim" "${S24_REPEAT_SERVERS[*]} ${S25_NEW_SERVERS[*]} ${S26_NEW_SERVERS[*]}" \
  "the tail measured on Q15's Self-Instruct 85 % (hstgsim), Q1's fit load and its held-out loads" \
  "cells within 5 % of their own run, Q1's fit frozen (hsfksimq; hsfgsimq: the decode grid, flat tail; hstgsimq: the grid, the tail measured)" \
  "${S27_VARIANTS[@]}"
}
# Q1's frozen fits (hsfksimq, hsfgsimq, hstgsimq) onto machines recorded later: each SERVER's Self-Instruct, HumanEval
# and MT-Bench at 85 % three times each (experiments *-SERVER*.json), uncalibrated and from each fit, against all three
# repeats. Needs --twenty-sixth's and --twenty-seventh's fits. Usage: q1_new_machines SESSION SERVER...
q1_new_machines() {
local session=$1 q x v
shift
for v in hsfksim hsfgsim hstgsim; do
  [[ -f $C/azure-conv-q1-$v-calibration/calibration.json ]] || { echo "fidelity.sh: Q1's $v fit is missing: run --twenty-sixth and --twenty-seventh first" >&2; exit 1; }
done
for q in "$@"; do
  run_repeats "$q"
  for x in "selfinstruct-$q" "humaneval-$q" "mtbench-$q"; do
    for v in hsfksim hsfgsim hstgsim; do path_freeze "$x" "$v" q; done
  done
  repeats_tables "$session" "$((${q#q} + 44))" "$q" - "${S27_VARIANTS[@]}"
done
}
# Calls 75-76's runs (servers Q31 and Q32, runs-s27/, recorded after --tail-from and hstgsim were committed, f3a8353).
S27_NEW_SERVERS=(q31 q32)
twenty_seventh_q31() {
unpack_runs s17
unpack_runs s27
q1_new_machines Twenty-seventh "${S27_NEW_SERVERS[@]}"
}
# Calls 77-78's runs (servers Q33 and Q34, runs-s28/, recorded before the twenty-eighth session changed anything in the
# calibration; their demo repeats are the embedded default's, data/h200-qwen3-0.6b/runs/).
S28_NEW_SERVERS=(q33 q34)
twenty_eighth_q33() {
unpack_runs s17
unpack_runs s28
q1_new_machines Twenty-eighth "${S28_NEW_SERVERS[@]}"
}
# The twenty-eighth session: Q1's hsfksim fit frozen with the serving path at every load's plain host ratio
# (--path-host-scale ratio: hsfksimp) onto every run --twenty-sixth, --twenty-sixth-q29, --twenty-seventh-q31 and
# --twenty-eighth-q33 compared (run them first), beside hsfksimq (the serving path scaled only where the host is
# slower than the fit's). Two halves at once; about 30 minutes on 2 cores; `--twenty-eighth-tables` reprints.
S28_ALL_REPEAT_SERVERS=("${S24_REPEAT_SERVERS[@]}" "${S25_NEW_SERVERS[@]}" "${S26_NEW_SERVERS[@]}" "${S27_NEW_SERVERS[@]}" "${S28_NEW_SERVERS[@]}")
twenty_eighth() {
s23_sets >/dev/null
local s x q all
for s in s17 s22 s23 s24 s25 s26 s27 s28; do unpack_runs "$s"; done
[[ -f $C/azure-conv-q1-hsfksim-calibration/calibration.json ]] || { echo "fidelity.sh: Q1's hsfksim fit is missing: run --twenty-sixth first" >&2; exit 1; }
mapfile -t all < <(twenty_sixth_all; for q in "${S26_NEW_SERVERS[@]}" "${S27_NEW_SERVERS[@]}" "${S28_NEW_SERVERS[@]}"; do printf '%s\n' "selfinstruct-$q" "humaneval-$q" "mtbench-$q"; done)
for x in "${all[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
for q in "${S28_ALL_REPEAT_SERVERS[@]}"; do run_repeats "$q"; done
FREEZE_HOW=p freeze_halves twenty-eighth hsfksim
twenty_eighth_tables
}
twenty_eighth_tables() {
q1_fit_tables Twenty-eighth hsfksim "${S28_ALL_REPEAT_SERVERS[*]}" "Q1's hsfksim fit, its own loads" \
  "cells within 5 % of their own run, Q1's fit frozen (hsfksimq: the serving path at the host's ratio where it is above 1; hsfksimp: at every ratio)" \
  hsfksimq hsfksimp
}
# Calls 79-80's runs (servers Q35 and Q36, runs-s28/, recorded before the choice between --path-host-scale slower and
# ratio was committed): Q1's frozen fits as for Q33 and Q34, and hsfksim with the serving path at every load's ratio
# (hsfksimp). Needs --twenty-sixth's and --twenty-seventh's fits.
# Usage: s28_check SERVER...
s28_check() {
unpack_runs s17
unpack_runs s28
local q x
q1_new_machines Twenty-eighth "$@"
for q in "$@"; do
  for x in "selfinstruct-$q" "humaneval-$q" "mtbench-$q"; do path_freeze "$x" hsfksim p; done
  repeats_tables Twenty-eighth "$((${q#q} + 44))" "$q" hsfksimp
done
}
# Calls 81-82's runs (servers Q37 and Q38, runs-s28/, recorded after hsfksimp was made the recommendation for machines
# not yet seen): the same tables.
# The twenty-ninth session (rules written before each was run: root README, "The twenty-ninth session").
# hsfksjm: Q1's hsfksim fit with --speed-jitter (the host time --step-host-speed takes out of each fit step kept in the
# jitter columns), frozen with the serving path at every load's host ratio (hsfksjmp). pool6: hsfksim's flags fitted
# on six machines' Azure conv 60 % at once (Q22's run, --fit-also Q23-Q27's), frozen with ratio (pool6p) and slower
# (pool6q). Each onto SERVERS' Self-Instruct, HumanEval and MT-Bench at 85 %, judged against the three repeats.
S29_FIT_ALSO=(q23 q24 q25 q26 q27)
s29_fits() {
local q also=()
[[ -f $C/azure-conv-q1-hsfksim-calibration/calibration.json ]] || { echo "fidelity.sh: Q1's hsfksim fit is missing: run --twenty-sixth first" >&2; exit 1; }
if [[ ! -f $C/azure-conv-q1-hsfksjm-calibration/calibration.json ]]; then
  s21_variant azure-conv-q1 hsfksjm
  # shellcheck disable=SC2046
  "${R[@]}" calibrate tmp/experiments-s21/azure-conv-q1-hsfksjm.json --fit load60 --admission-backlog --host-scale probe \
    $(s26_fit_flags hsfksim) --speed-jitter >&2
fi
if [[ ! -f $C/azure-conv-q22-pool6-calibration/calibration.json ]]; then
  "${R[@]}" run "$E/azure-conv-q22.json" >&2
  s21_variant azure-conv-q22 pool6
  for q in "${S29_FIT_ALSO[@]}"; do
    also+=("$(python3 -c 'import json,os,sys; f=sys.argv[1]; d=json.load(open(f)); print(os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(f)), d["loads"][0]["realRunDir"])))' "$E/azure-conv-$q.json")")
  done
  # shellcheck disable=SC2046
  "${R[@]}" calibrate tmp/experiments-s21/azure-conv-q22-pool6.json --fit load60 --fit-also "$(IFS=,; echo "${also[*]}")" \
    --admission-backlog --host-scale probe $(s26_fit_flags hsfksim) >&2
fi
}
s29_freeze() {  # EXPERIMENT: its 85 % load from hsfksjm (ratio) and pool6 (ratio, slower)
  path_freeze "$1" hsfksjm p
  local how
  for how in p q; do
    s21_variant "$1" "pool6$how"
    "${R[@]}" calibrate "tmp/experiments-s21/$1-pool6$how.json" --frozen "$C/azure-conv-q22-pool6-calibration" --host-scale probe \
      --path-host-scale "$([[ $how == q ]] && echo slower || echo ratio)" >&2
  done
}
s29_tally() {  # VARIANT... : a table of each variant's verdicts per SERVER (S29_SERVERS) and in total
  local v q x line a b o t5 tb to
  echo "| variant | $(printf '%s | ' "${S29_SERVERS[@]^^}")all |"
  echo "|---|$(printf -- '---|%.0s' "${S29_SERVERS[@]}")---|"
  for v in "$@"; do
    line="| $v |"; t5=0; tb=0; to=0
    for q in "${S29_SERVERS[@]}"; do
      args=()
      for x in "selfinstruct-$q" "humaneval-$q" "mtbench-$q"; do
        if [[ $v == - ]]; then args+=("$(band "$x" "$x" load85 "" "$x-rep1" "$x-rep2")"); else args+=("$(band "$x" "$x-$v" load85 -cal "$x-rep1" "$x-rep2")"); fi
      done
      # The verdicts line names only the verdicts that occur ("verdicts: band 2, off 2").
      read -r a b o < <(python3 scripts/fidelity-table.py --band "${args[@]}" | python3 -c 'import re, sys
line = next((l for l in sys.stdin if l.startswith("verdicts:")), "")
print(*(int(m.group(1)) if (m := re.search(re.escape(k) + r" (\d+)", line)) else 0 for k in ("5%", "band", "off")))')
      line="$line $a / $b / $o |"; t5=$((t5 + a)); tb=$((tb + b)); to=$((to + o))
    done
    echo "$line **$t5 / $tb / $to** |"
  done
}
twenty_ninth() {
local s q x
for s in s17 s24 s25 s26 s27 s28; do unpack_runs "$s"; done
s29_fits
S29_SERVERS=(q29 q30 q31 q32 q33 q34 q35 q36 q37 q38)
for q in "${S29_SERVERS[@]}"; do
  run_repeats "$q"
  for x in "selfinstruct-$q" "humaneval-$q" "mtbench-$q"; do path_freeze "$x" hsfksim p; s29_freeze "$x"; done
done
echo
echo "## Twenty-ninth session: the ten machines Q29-Q38 (5 % / band / off of 12 cells a machine)"
echo
s29_tally hsfksimp hsfksjmp pool6p pool6q
}
# Calls 83-88's runs (servers Q39-Q44, runs-s29/, recorded before either choice was compared on them): uncalibrated,
# Q1's frozen fits (hsfksimq, hsfksimp, hsfksjmp) and pool6 (pool6p, pool6q). Needs --twenty-sixth's fits.
# S29_CHECK="q43 q44" makes only those servers' predictions; the table is over all six.
twenty_ninth_q39() {
local s q x todo
for s in s17 s24 s25 s29; do unpack_runs "$s"; done
s29_fits
S29_SERVERS=(q39 q40 q41 q42 q43 q44)
read -r -a todo <<<"${S29_CHECK:-${S29_SERVERS[*]}}"
for q in "${todo[@]}"; do
  run_repeats "$q"
  for x in "selfinstruct-$q" "humaneval-$q" "mtbench-$q"; do path_freeze "$x" hsfksim q; path_freeze "$x" hsfksim p; s29_freeze "$x"; done
done
echo
echo "## Twenty-ninth session: calls 83-88's machines Q39-Q44 (5 % / band / off of 12 cells a machine)"
echo
s29_tally - hsfksimq hsfksimp hsfksjmp pool6p pool6q
}
# The thirtieth session: Q1's hsfksjm fit with --host-tail level for flat (hlfksjm: the tail's overhead held, its host
# phases grown, so each load's host scale moves the large steps' real host time), frozen with ratio, beside hsfksjmp.
# Needs --twenty-sixth's fits.
s30_fit() {
[[ -f $C/azure-conv-q1-hsfksim-calibration/calibration.json ]] || { echo "fidelity.sh: Q1's hsfksim fit is missing: run --twenty-sixth first" >&2; exit 1; }
if [[ ! -f $C/azure-conv-q1-hlfksjm-calibration/calibration.json ]]; then
  s21_variant azure-conv-q1 hlfksjm
  # shellcheck disable=SC2046
  "${R[@]}" calibrate tmp/experiments-s21/azure-conv-q1-hlfksjm.json --fit load60 --admission-backlog --host-scale probe \
    $(s26_fit_flags hsfksim | sed 's/--host-tail flat/--host-tail level/') --speed-jitter >&2
fi
}
s30_table() {  # TITLE SERVER...: uncalibrated, hsfksjmp and hlfksjmp on each server's 85 % loads, and the table
local q x todo
s29_fits
s30_fit
S29_SERVERS=("${@:2}")
read -r -a todo <<<"${S30_CHECK:-${S29_SERVERS[*]}}"
for q in "${todo[@]}"; do
  run_repeats "$q"
  for x in "selfinstruct-$q" "humaneval-$q" "mtbench-$q"; do path_freeze "$x" hsfksjm p; path_freeze "$x" hlfksjm p; done
done
echo
echo "## $1 (5 % / band / off of 12 cells a machine)"
echo
s29_tally - hsfksjmp hlfksjmp
}
thirtieth() {  # the sixteen machines Q29-Q44, where the observation behind --host-tail level was made
local s
for s in s17 s24 s25 s26 s27 s28 s29; do unpack_runs "$s"; done
s30_table "Thirtieth session: the sixteen machines Q29-Q44" q29 q30 q31 q32 q33 q34 q35 q36 q37 q38 q39 q40 q41 q42 q43 q44
}
# Calls 89-94's runs (servers Q45-Q50, runs-s30/, recorded before --host-tail level was compared on them; the check).
# S30_CHECK="q49 q50" makes only those servers' predictions; the table is over all six.
thirtieth_q45() {
local s
for s in s17 s24 s25 s30; do unpack_runs "$s"; done
s30_table "Thirtieth session: calls 89-94's machines Q45-Q50" q45 q46 q47 q48 q49 q50
}
if [[ -n $THIRTIETH_ONLY ]]; then thirtieth; exit 0; fi
if [[ -n $THIRTIETH_Q45_ONLY ]]; then thirtieth_q45; exit 0; fi
if [[ -n $TWENTY_NINTH_ONLY ]]; then twenty_ninth; exit 0; fi
if [[ -n $TWENTY_NINTH_Q39_ONLY ]]; then twenty_ninth_q39; exit 0; fi
if [[ -n $TWENTY_EIGHTH_Q35_ONLY ]]; then s28_check q35 q36; exit 0; fi
if [[ -n $TWENTY_EIGHTH_Q37_ONLY ]]; then s28_check q37 q38; exit 0; fi
if [[ -n $TWENTY_EIGHTH_Q33_ONLY ]]; then twenty_eighth_q33; exit 0; fi
if [[ -n $TWENTY_EIGHTH_ONLY ]]; then twenty_eighth; exit 0; fi
if [[ -n $TWENTY_EIGHTH_TABLES_ONLY ]]; then twenty_eighth_tables; exit 0; fi
if [[ -n $TWENTY_SEVENTH_Q31_ONLY ]]; then twenty_seventh_q31; exit 0; fi
if [[ -n $TWENTY_SEVENTH_ONLY ]]; then twenty_seventh; exit 0; fi
if [[ -n $TWENTY_SEVENTH_TABLES_ONLY ]]; then twenty_seventh_tables; exit 0; fi
if [[ -n $TWENTY_SIXTH_Q29_ONLY ]]; then twenty_sixth_q29; exit 0; fi
if [[ -n $TWENTY_SIXTH_ONLY ]]; then twenty_sixth; exit 0; fi
if [[ -n $TWENTY_SIXTH_TABLES_ONLY ]]; then twenty_sixth_tables; exit 0; fi
if [[ -n $TWENTY_FIFTH_ONLY ]]; then twenty_fifth; exit 0; fi
if [[ -n $TWENTY_FIFTH_WIDE_ONLY ]]; then twenty_fifth_wide; exit 0; fi
if [[ -n $TWENTY_FIFTH_WIDE_TABLES_ONLY ]]; then twenty_fifth_wide_tables; exit 0; fi
if [[ -n $SEVENTEENTH_ONLY ]]; then seventeenth; exit 0; fi
if [[ -n $EIGHTEENTH_ONLY ]]; then eighteenth; exit 0; fi
if [[ -n $NINETEENTH_ONLY ]]; then nineteenth; exit 0; fi
if [[ -n $TWENTIETH_ONLY ]]; then twentieth; exit 0; fi
if [[ -n $TWENTY_FIRST_ONLY ]]; then twenty_first; exit 0; fi
if [[ -n $TWENTY_FIRST_KV_ONLY ]]; then twenty_first_kv; exit 0; fi
if [[ -n $TWENTY_FIRST_Q14_ONLY ]]; then twenty_first_q14; exit 0; fi
if [[ -n $TWENTY_SECOND_ONLY ]]; then twenty_second; exit 0; fi
if [[ -n $TWENTY_SECOND_RUNS_ONLY ]]; then twenty_second_runs; exit 0; fi
if [[ -n $TWENTY_SECOND_FLAT_ONLY ]]; then twenty_second_flat; exit 0; fi
if [[ -n $TWENTY_SECOND_B6_ONLY ]]; then twenty_second_b6; exit 0; fi
if [[ -n $TWENTY_SECOND_FRONT_ONLY ]]; then twenty_second_front; exit 0; fi
if [[ -n $TWENTY_THIRD_ONLY ]]; then twenty_third; exit 0; fi
if [[ -n $TWENTY_THIRD_RUNS_ONLY ]]; then twenty_third_runs; exit 0; fi
if [[ -n $TWENTY_FOURTH_ONLY ]]; then twenty_fourth; exit 0; fi
if [[ -n $TWENTY_FOURTH_WIDE_ONLY ]]; then twenty_fourth_wide; exit 0; fi
if [[ -n $TWENTY_FOURTH_Q22_ONLY ]]; then twenty_fourth_q22; exit 0; fi
if [[ -n $TWENTY_FOURTH_WIDE_TABLES_ONLY ]]; then twenty_fourth_wide_tables; exit 0; fi
OTHERS=(azure-conv-rep1 azure-conv-rep2 azure-conv-chunk256 azure-conv-chunk256-rep1 sharegpt sharegpt-rep1 sharegpt-rep2
  azure-conv-cap32 azure-conv-cap32-rep1 azure-conv-cap32-rep2 azure-conv-cap32-rep3 azure-conv-cap32-rep4 azure-conv-ab128 azure-conv-ab128-rep1 mooncake mooncake-rep1
  azure-conv-capacity azure-conv-chunk256-capacity sharegpt-capacity azure-conv-cap32-capacity mooncake-capacity
  azure-conv-cap32-probe azure-conv-cap32-capacity-probe
  azure-conv-p azure-conv-p2 azure-conv-r azure-conv-r2 azure-conv-cap32-q azure-conv-cap32-s)
for x in azure-conv "${OTHERS[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
# The earlier sessions' sections calibrate as those sessions did: without the admission delay (eighth session).
"${R[@]}" calibrate "$E/azure-conv.json" --fit "$FIT" ${ALSO[@]+"${ALSO[@]}"} --no-admission-delay --no-prefix-term >&2
for x in "${OTHERS[@]}"; do "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-calibration" >&2; done

echo "## Uncalibrated"
python3 scripts/fidelity-table.py \
  "Azure 30%=$C/azure-conv-load30" "Azure 60%=$C/azure-conv-load60" "Azure 85%=$C/azure-conv-load85" \
  "Azure, 256 budget, 30%=$C/azure-conv-chunk256-load30" "Azure, 256 budget, 60%=$C/azure-conv-chunk256-load60" \
  "Azure, 256 budget, 85%=$C/azure-conv-chunk256-load85" \
  "ShareGPT 30%=$C/sharegpt-load30" "ShareGPT 60%=$C/sharegpt-load60" "ShareGPT 85%=$C/sharegpt-load85" \
  "Azure, 32 cap, 30%=$C/azure-conv-cap32-load30" "Azure, 32 cap, 60%=$C/azure-conv-cap32-load60" \
  "Azure, 32 cap, 85%=$C/azure-conv-cap32-load85" \
  "Mooncake 30%=$C/mooncake-load30" "Mooncake 60%=$C/mooncake-load60" "Mooncake 85%=$C/mooncake-load85" \
  "Azure 22% (server L)=$C/azure-conv-ab128-load22" "Azure 45% (server L)=$C/azure-conv-ab128-load45" \
  "Azure 63% (server L)=$C/azure-conv-ab128-load63"
echo
echo "## Uncalibrated, against every repeat"
args=()
for l in 30 60 85; do args+=("$(band "Azure $l%" azure-conv "load$l" "" azure-conv-rep1 azure-conv-rep2)"); done
python3 scripts/fidelity-table.py --band "${args[@]}"
echo
echo "## Calibrated (fit: Azure conv $FIT${ALSO[*]:+, steps of ${ALSO[1]} pooled with it}), against every repeat"
args=()
for l in 30 60 85; do args+=("$(band "Azure $l%" azure-conv "load$l" -cal azure-conv-rep1 azure-conv-rep2)"); done
for l in 30 60 85; do args+=("$(band "Azure, 256 budget, $l%" azure-conv-chunk256 "load$l" -cal azure-conv-chunk256-rep1)"); done
for l in 30 60 85; do args+=("$(band "ShareGPT $l%" sharegpt "load$l" -cal sharegpt-rep1 sharegpt-rep2)"); done
args+=("$(band "Azure 22% (server L)" azure-conv-ab128 load22 -cal)")
args+=("$(band "Azure 45% (servers L, L2)" azure-conv-ab128 load45 -cal azure-conv-ab128-rep1)")
args+=("$(band "Azure 63% (server L)" azure-conv-ab128 load63 -cal)")
args+=("$(band "Azure, 32 cap, 30%" azure-conv-cap32 load30 -cal azure-conv-cap32-rep1 azure-conv-cap32-rep3)")
args+=("$(band "Azure, 32 cap, 60%" azure-conv-cap32 load60 -cal azure-conv-cap32-rep1 azure-conv-cap32-rep3 azure-conv-cap32-rep4)")
args+=("$(band "Azure, 32 cap, 85%" azure-conv-cap32 load85 -cal azure-conv-cap32-rep1 azure-conv-cap32-rep2 azure-conv-cap32-rep3)")
# The same frozen prediction with the 32-slot engine's measured step-time ratio (scripts/gpu/slot_ab.py: 0.972).
args+=("$(band "Azure, 32 cap, 30%, x0.972" azure-conv-cap32-probe load30 -cal azure-conv-cap32-rep1 azure-conv-cap32-rep3)")
args+=("$(band "Azure, 32 cap, 60%, x0.972" azure-conv-cap32-probe load60 -cal azure-conv-cap32-rep1 azure-conv-cap32-rep3 azure-conv-cap32-rep4)")
args+=("$(band "Azure, 32 cap, 85%, x0.972" azure-conv-cap32-probe load85 -cal azure-conv-cap32-rep1 azure-conv-cap32-rep2 azure-conv-cap32-rep3)")
for l in 30 60 85; do args+=("$(band "Mooncake $l%" mooncake "load$l" -cal mooncake-rep1)"); done
python3 scripts/fidelity-table.py --band "${args[@]}"
echo
echo "## Capacity (every request at once), real vs simulated"
python3 scripts/fidelity-table.py --throughput \
  "Azure conv, 512 budget (A)=$C/azure-conv-capacity-saturation,$C/azure-conv-capacity-saturation-cal" \
  "Azure conv, 512 budget (D)=$C/azure-conv-capacity-saturation-rep1,$C/azure-conv-capacity-saturation-rep1-cal" \
  "Azure conv, 256 budget (B)=$C/azure-conv-chunk256-capacity-saturation,$C/azure-conv-chunk256-capacity-saturation-cal" \
  "Azure conv, 256 budget (E)=$C/azure-conv-chunk256-capacity-saturation-rep1,$C/azure-conv-chunk256-capacity-saturation-rep1-cal" \
  "ShareGPT, 512 budget (C)=$C/sharegpt-capacity-saturation,$C/sharegpt-capacity-saturation-cal" \
  "ShareGPT, 512 budget (D)=$C/sharegpt-capacity-saturation-rep1,$C/sharegpt-capacity-saturation-rep1-cal" \
  "Azure conv, 32 cap (G)=$C/azure-conv-cap32-capacity-saturation,$C/azure-conv-cap32-capacity-saturation-cal" \
  "Azure conv, 32 cap (J)=$C/azure-conv-cap32-capacity-saturation-rep1,$C/azure-conv-cap32-capacity-saturation-rep1-cal" \
  "Azure conv, 32 cap (G), x0.972=$C/azure-conv-cap32-capacity-saturation,$C/azure-conv-cap32-capacity-probe-saturation-cal" \
  "Mooncake, 512 budget (F)=$C/mooncake-capacity-saturation,$C/mooncake-capacity-saturation-cal" \
  "Mooncake, 512 budget (K)=$C/mooncake-capacity-saturation-rep1,$C/mooncake-capacity-saturation-rep1-cal"
echo
echo "## Per-step attribution (host time, GPU time against Vidur's prediction of the same composition)"
python3 scripts/step-attribution.py \
  "Azure 60%=tmp/h200-runs/azure-load60-rep0,tmp/vidur_runs/azure-conv-load60" \
  "ShareGPT 30%=tmp/h200-runs/sharegpt-load30-rep0,tmp/vidur_runs/sharegpt-load30" \
  "Azure, 256 budget, 30%=tmp/h200-runs/chunk256-azure-load30-rep0,tmp/vidur_runs/azure-conv-chunk256-load30" \
  "Mooncake 30%=tmp/h200-runs/mooncake-load30-rep0,tmp/vidur_runs/mooncake-load30"
echo
echo "## Same machine, same requests: the default server (L, 128 slots) then the 32-request cap (M, 32 slots)"
python3 scripts/same-machine-ab.py \
  "8.0 req/s=tmp/h200-runs/ab128-azure-load22,tmp/h200-runs/cap32-azure-load30-rep3" \
  "16.0 req/s=tmp/h200-runs/ab128-azure-load45,tmp/h200-runs/cap32-azure-load60-rep3" \
  "22.6 req/s=tmp/h200-runs/ab128-azure-load63,tmp/h200-runs/cap32-azure-load85-rep3" \
  "16.0 req/s, second machine, L2 then M2=tmp/h200-runs/ab128-azure-load45-rep1,tmp/h200-runs/cap32-azure-load60-rep4"

echo
echo "## Calibrated (fit: Azure conv $FIT, as above), held-out on the seventh session's server starts P, P2, R, R2 (default) and Q, S (32 cap): two machines never fitted on"
args=("$(band "Azure 30% (P, R)" azure-conv-p load30 -cal azure-conv-r)")
for l in 60 85; do args+=("$(band "Azure $l% (P, P2, R, R2)" azure-conv-p "load$l" -cal azure-conv-p2 azure-conv-r azure-conv-r2)"); done
args+=("$(band "Azure, 32 cap, 60% (Q, S)" azure-conv-cap32-q load60 -cal azure-conv-cap32-s)")
args+=("$(band "Azure, 32 cap, 85% (S)" azure-conv-cap32-s load85 -cal)")
python3 scripts/fidelity-table.py --band "${args[@]}"

# The machine probe: fitted on server P's 60 % (with P2's, same machine), frozen onto R, R2 (another machine), P2 and
# the 32-cap servers Q, S; without and then with --machine-probe (each load x its run's probe / the fit's).
MP=(azure-conv-mp-p2 azure-conv-mp-r azure-conv-mp-r2 azure-conv-mp-cap32-q azure-conv-mp-cap32-s)
for x in azure-conv-mp-p "${MP[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
for flag in "" --machine-probe; do
  "${R[@]}" calibrate "$E/azure-conv-mp-p.json" --fit load60 --fit-also tmp/h200-runs/azure-p2-load60 --no-admission-delay --no-prefix-term $flag >&2
  for x in "${MP[@]}"; do "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-mp-p-calibration" $flag >&2; done
  echo
  echo "## Fit on server P's 60 % (P, P2 pooled)${flag:+, $flag}: P's other loads, then R, R2 (another machine), the 32 cap (Q on P's machine, S on R's)"
  args=("$(band "Azure 30% (P)" azure-conv-mp-p load30 -cal)" "$(band "Azure 60% (fit; P, P2)" azure-conv-mp-p load60 -cal azure-conv-mp-p2)")
  args+=("$(band "Azure 85% (P, P2)" azure-conv-mp-p load85 -cal azure-conv-mp-p2)" "$(band "Azure 30% (R)" azure-conv-mp-r load30 -cal)")
  for l in 60 85; do args+=("$(band "Azure $l% (R, R2)" azure-conv-mp-r "load$l" -cal azure-conv-mp-r2)"); done
  args+=("$(band "Azure, 32 cap, 60% (Q, S)" azure-conv-mp-cap32-q load60 -cal azure-conv-mp-cap32-s)" "$(band "Azure, 32 cap, 85% (S)" azure-conv-mp-cap32-s load85 -cal)")
  python3 scripts/fidelity-table.py --band "${args[@]}"
done

# Per-step token delivery (gpu-harness serve's default from the seventh session on): its own family and calibration.
PS=(azure-conv-ps-rep1 azure-conv-ps-rep2 azure-conv-ps-rep3)
for x in azure-conv-ps "${PS[@]}"; do "${R[@]}" run "$E/$x.json" >&2; done
"${R[@]}" calibrate "$E/azure-conv-ps.json" --fit load60 --fit-also "$H/azure-u2-load60,$H/azure-t2-load60,$H/azure-t4-load60" --no-admission-delay --no-prefix-term >&2
for x in "${PS[@]}"; do "${R[@]}" calibrate "$E/$x.json" --frozen "$C/azure-conv-ps-calibration" >&2; done
echo
echo "## Per-step token delivery (servers U1, U2 on one machine, T2, T4 on another): uncalibrated, against every repeat"
args=("$(band "Azure 30%" azure-conv-ps load30 "" azure-conv-ps-rep1)")
for l in 60 85; do args+=("$(band "Azure $l%" azure-conv-ps "load$l" "" azure-conv-ps-rep1 azure-conv-ps-rep2 azure-conv-ps-rep3)"); done
python3 scripts/fidelity-table.py --band "${args[@]}"
echo
echo "## Per-step token delivery, calibrated (fit: 60 %, U1, U2, T2, T4 pooled), against every repeat"
args=("$(band "Azure 30% (held-out; U1, U2)" azure-conv-ps load30 -cal azure-conv-ps-rep1)")
args+=("$(band "Azure 60% (fit; U1, U2, T2, T4)" azure-conv-ps load60 -cal azure-conv-ps-rep1 azure-conv-ps-rep2 azure-conv-ps-rep3)")
args+=("$(band "Azure 85% (held-out; U1, U2, T2, T4)" azure-conv-ps load85 -cal azure-conv-ps-rep1 azure-conv-ps-rep2 azure-conv-ps-rep3)")
python3 scripts/fidelity-table.py --band "${args[@]}"
echo
echo "## Same machine, same requests: per-token delivery (T1, T3) against per-step (T2, T4), four starts in turn"
python3 scripts/same-machine-ab.py \
  "60 %, T1 then T2=$H/azure-t1-load60,$H/azure-t2-load60" "60 %, T3 then T4=$H/azure-t3-load60,$H/azure-t4-load60" \
  "85 %, T1 then T2=$H/azure-t1-load85,$H/azure-t2-load85" "85 %, T3 then T4=$H/azure-t3-load85,$H/azure-t4-load85"
eighth
ninth
ninth_profile
tenth
eleventh
twelfth
thirteenth
fourteenth
