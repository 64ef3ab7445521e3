# bench_run.sh — `make bench` reports what a user gets: bench/run.sh times
# regula with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (a machine may
# set them, as the development machines do; a user's does not), and with
# FORCED=1 also with the environment's setting, in a table of its own,
# labelled.  bench_train reports the training loop's rate (the epoch
# events', `regula train`'s own) beside the whole rg_train call's, and the
# table prints both with their shares of the peak.  A tiny CSV, one round,
# no torch: seconds.  No speed is judged, but the loop's rate is checked to
# be at least the call's.  That is not so by construction: the call's rate
# counts every row each epoch, the loop's the samples it trained, fewer if
# a trainer drops the last short batch (here 16 rows of 400).  It holds
# because the call's clock also runs the set-up and, after the last epoch,
# a pass of the final model over the whole training set (bench_train.c),
# worth far more than a short batch.
# Run as: bash bench_run.sh REGULA_BIN DATA_DIR
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: bench_run.sh REGULA_BIN DATA_DIR}
BUILD=$(cd "$(dirname "$REGULA")" && pwd)
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../bench" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-bench-run-XXXXXX")
trap 'rm -rf "$T"' EXIT
gen_csv "$T/g.csv" 400 99
# bench_train opens its data with the library's defaults: the label last
awk -F, -v OFS=, '{ l = $1; for (i = 1; i < NF; i++) $i = $(i + 1); $NF = l; print }' "$T/g.csv" > "$T/train.csv"

# bench_train: both rates on every run line and the median line
run 0 -- "$BUILD/bench_train" --model ref --data "csv:$T/train.csv" --runs 3
check "bench_train: 3 run lines, each with the loop's samples/s and the call's, the loop's >= the call's (> 0)" \
  test "$(awk '$3 == "run" && $5 == "samples/s" && $11 == "call_samples/s" && $12 > 0 && $6 >= $12' "$T/out" | wc -l)" -eq 3
check "bench_train: the median line has both" \
  test "$(awk '$3 == "median" && $4 == "samples/s" && $6 == "call_samples/s" && $5 >= $7 && $7 > 0' "$T/out" | wc -l)" -eq 1

# The core OpenBLAS picks here by itself, and one it would not (what the
# environment "forces" below); empty where OpenBLAS is not a DYNAMIC_ARCH
# build that says which core it loaded (then that part is not checked).
auto=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_VERBOSE=2 "$REGULA" --version 2>&1 | sed -n 's/^Core: //p' | head -1)
forced=Sandybridge
env_set=(OPENBLAS_CORETYPE=$forced OPENBLAS_L2_SIZE=512 OPENBLAS_VERBOSE=2)
bench() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${env_set[@]}" DATA="csv:$T/train.csv" TORCH=0 GEMM_AB=0 MODELS=ref "$@" bash "$BENCH/run.sh" "$BUILD" 1 > "$T/all" 2>&1; }
# core_before PATTERN: the "Core:" OpenBLAS printed last before the line matching PATTERN
core_before() { awk -v p="$1" '/^Core: / { c = $2 } $0 ~ p { print c; exit }' "$T/all"; }

bench
check "run.sh: exit 0" test $? -eq 0
check "run.sh: one regula run, no forced one" \
  test "$(grep -c '^regula ref run 1 samples/s' "$T/all")" -eq 1 -a "$(grep -c "^regula ref run 1 OPENBLAS" "$T/all")" -eq 0
check "run.sh: says the settings are unset and what the environment sets" \
  grep -q "^env: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as on a user's machine (this environment sets OPENBLAS_CORETYPE=$forced OPENBLAS_L2_SIZE=512; FORCED=1" "$T/all"
check "run.sh: the table has the loop's rate, the whole call's, each one's share of the peak" \
  grep -qE '^model +regula samples/s +of peak +whole call +of peak +regula MB$' "$T/all"
check "run.sh: a row for ref with both rates" \
  grep -qE '^ref +[0-9]+ +([0-9]+%|n/a) +[0-9]+ +([0-9]+%|n/a) +[0-9.]+$' "$T/all"
if [ -n "$auto" ] && [ "$auto" != "$forced" ]; then
  check "run.sh: regula ran with the core a user gets ($auto), not the environment's ($forced): $(core_before '^regula ref run 1 samples')" \
    test "$(core_before '^regula ref run 1 samples')" = "$auto"
else
  echo "note: OpenBLAS here says no core, or picks $forced itself: which core ran is not checked"
fi

bench FORCED=1
check "run.sh FORCED=1: exit 0" test $? -eq 0
check "run.sh FORCED=1: the user's run and the forced one, labelled" \
  test "$(grep -c '^regula ref run 1 samples/s' "$T/all")" -eq 1 -a \
       "$(grep -c "^regula ref run 1 OPENBLAS_CORETYPE=$forced OPENBLAS_L2_SIZE=512 samples/s" "$T/all")" -eq 1
check "run.sh FORCED=1: the forced figures in a table of their own, said not to be what a user gets" \
  grep -q "^regula with this environment's OPENBLAS_CORETYPE=$forced OPENBLAS_L2_SIZE=512 (FORCED=1.*not what a user gets" "$T/all"
if [ -n "$auto" ] && [ "$auto" != "$forced" ]; then
  check "run.sh FORCED=1: the forced run ran with $forced, the user's with $auto" \
    test "$(core_before "^regula ref run 1 OPENBLAS")" = "$forced" -a "$(core_before '^regula ref run 1 samples')" = "$auto"
fi

env_set=()
bench FORCED=1
check "run.sh FORCED=1 with nothing set: says so, times the user's run alone" \
  test "$(grep -c 'nothing to force' "$T/all")" -eq 1 -a "$(grep -c '^regula ref run 1 ' "$T/all")" -eq 1
finish
