#!/usr/bin/env bash
# Kill and resume across MPI processes: one rank SIGKILLed (RG_TEST_CRASH,
# cli/regula.c) mid-training or half way through rank 0's checkpoint
# write, the job resumed with --resume, ends with the same bytes as a job
# never interrupted: final weights and last checkpoint (all-reduce, local
# SGD, EASGD, processes x threads).  Under
# --deterministic, resuming 2 processes' checkpoint on 1 process (and 1
# worker's on 2 processes) gives the bits of an uninterrupted run.
# Usage: resume_mpi.sh REGULA MPIEXEC
set -u
regula=$1 mpiexec=$2
# shellcheck source=launcher.bash
source "$(dirname "${BASH_SOURCE[0]}")/launcher.bash"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# shellcheck source=../cli/lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.bash"

awk 'BEGIN { srand(13); for (i = 0; i < 600; i++) { c = i % 3; line = c;
  for (j = 0; j < 12; j++) line = line "," ((j % 3 == c ? 1.2 : 0) + rand() * 2 - 1); print line } }' > "$dir/d.csv"
common=(--data "csv:$dir/d.csv" --val-split 0.1 --epochs 3 --batch 16 --lr 0.01 --log-every 0 --seed 5
        --model 'dense(16, relu, l2=0.01) dropout(0.3) dense(3, softmax, l2=0.01)' --checkpoint-every 7)

# run_case NAME CRASH_SPEC "FIRST LAUNCHER" "RESUME LAUNCHER" ARGS...
run_case() {
  local name=$1 crash=$2 first=$3 again=$4
  shift 4
  local d="$dir/$name"
  mkdir -p "$d"
  # shellcheck disable=SC2086
  $first "$regula" train "$@" --checkpoint-dir "$d/a" --save "$d/full.st" > /dev/null 2> "$d/full.err" ||
    { bad "$name: the uninterrupted run failed: $(cat "$d/full.err")"; return; }
  # shellcheck disable=SC2086
  RG_TEST_CRASH=$crash $first "$regula" train "$@" --checkpoint-dir "$d/b" --save "$d/part.st" > /dev/null 2> "$d/crash.err"
  local rc=$?
  if [ $rc -eq 0 ] || [ -e "$d/part.st" ]; then bad "$name: the crash at $crash did not happen (exit $rc)"; return; fi
  # shellcheck disable=SC2086
  $again "$regula" train "$@" --resume "$d/b" --save "$d/part.st" > /dev/null 2> "$d/res.err" ||
    { bad "$name: resume failed: $(cat "$d/res.err")"; return; }
  if ! cmp -s "$d/full.st" "$d/part.st"; then bad "$name: final weights differ after a kill at $crash"; return; fi
  if ls "$d/b" | grep -q tmp; then bad "$name: a temporary file was left behind"; return; fi
  if [ "$first" = "$again" ]; then
    local last
    last=$(cd "$d/a" && ls ckpt-*.safetensors | tail -1)
    cmp -s "$d/a/$last" "$d/b/$last" || { bad "$name: checkpoint $last differs"; return; }
    ok "$name: killed at $crash (exit $rc), resumed: weights and $last bitwise equal"
  else
    ok "$name: killed at $crash (exit $rc), resumed as '$again': weights bitwise equal"
  fi
}

mp2="$mpiexec -n 2"
run_case rank1_step "step:25@1" "$mp2" "$mp2" "${common[@]}"
run_case rank0_write "ckpt-write:3@0" "$mp2" "$mp2" "${common[@]}"
run_case hier "step:40@1" "$mp2" "$mp2" "${common[@]}" --workers 2
run_case zero "step:33@0" "$mp2" "$mp2" "${common[@]}" --shard-optimizer
# strategies that step locally: a checkpoint is a full sync, so a kill
# between syncs (step 26: 2 steps after the sync at 24) and a resume give
# the uninterrupted run's bits, over processes as on threads
run_case local_sgd "step:26@1" "$mp2" "$mp2" "${common[@]}" --strategy local-sgd --sync-every 4 --sync-warmup 5
run_case easgd "step:26@0" "$mp2" "$mp2" "${common[@]}" --strategy easgd --sync-every 3 --optimizer sgd --momentum 0.5
run_case easgd_hier "step:40@1" "$mp2" "$mp2" "${common[@]}" --workers 2 --strategy easgd --sync-every 3
run_case det_p2_to_1 "step:30@1" "$mp2" "$mpiexec -n 1" "${common[@]}" --deterministic --det-shards 4 --workers 1
run_case det_1_to_p2 "step:30" "" "$mp2" "${common[@]}" --deterministic --det-shards 4

# a process that fails before training (its data file is missing) stops the
# others at once: they do not wait --comm-timeout, or twice it
start=$(date +%s)
"$mpiexec" -n 2 bash -c 'if [ "${OMPI_COMM_WORLD_RANK:-$PMI_RANK}" = 1 ]; then d=csv:'"$dir"'/missing.csv; else d=csv:'"$dir"'/d.csv; fi
  exec "$0" train --data "$d" --model "dense(3, softmax)" --epochs 1 --comm-timeout 20' "$regula" > /dev/null 2> "$dir/pre.err"
rc=$? took=$(($(date +%s) - start))
if [ $rc -ne 0 ] && [ $took -lt 15 ] && grep -q "missing.csv: cannot open" "$dir/pre.err" &&
   grep -q "process 1 failed to set up training" "$dir/pre.err"; then
  ok "rank 1 failing before training ends the job in ${took}s (exit $rc), both messages printed"
else bad "rank 1 failing before training: exit $rc after ${took}s: $(cat "$dir/pre.err")"; fi

# a slow disk on rank 0 (each checkpoint write sleeps 2.5 s, RG_TEST_SLOW)
# under --comm-timeout 2: rank 0 answers rank 1's pings while it waits for
# the write, so the job ends normally instead of "rank 0 stopped answering"
RG_TEST_SLOW=ckpt-write:2.5@0 "$mpiexec" -n 2 "$regula" train "${common[@]}" --epochs 1 --checkpoint-every 30 \
  --checkpoint-dir "$dir/slow" --comm-timeout 2 --save "$dir/slow.st" > /dev/null 2> "$dir/slow.err"
rc=$?
if [ $rc -eq 0 ] && [ -s "$dir/slow.st" ] && [ -e "$dir/slow/ckpt-000000000030.safetensors" ]; then
  ok "a checkpoint write of 2.5 s under --comm-timeout 2: rank 0 answered, the job ended normally"
else bad "slow checkpoint write: exit $rc: $(cat "$dir/slow.err")"; fi

finish
