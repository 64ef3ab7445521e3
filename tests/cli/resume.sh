#!/usr/bin/env bash
# Kill and resume: a run killed (SIGKILL) at several points, including half
# way through writing a checkpoint, and resumed with --resume, ends with the
# same bytes as a run never interrupted: its final weights (--save) and its
# last checkpoint (weights, optimizer moments, strengths, early-stopping
# state, schedule position, data cursor).  For 1 worker, 2 threads, shared
# weights, the sharded optimizer, a skewed partition with adaptive
# strengths, a parameter server, checkpoints at each epoch's end
# (--checkpoint-every-epoch); under --deterministic also when resumed on another worker
# count.  Then the failure paths: damaged checkpoints (fallback with a
# warning naming the file), a run that trained something else, a skewed
# partition on another worker count, non-finite steps (stop naming the step
# and the worker, or --skip-nonfinite).  MPI: tests/mpi/resume_mpi.sh.
# Kills come from RG_TEST_CRASH (cli/regula.c's test hook), so they land exactly.
# Usage: resume.sh REGULA [DATA_DIR]
set -u
regula=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# shellcheck source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"

# 600 samples, 12 features, 3 classes; and a 300-feature one for a model
# over 1 MiB (threads then share one copy of the weights)
awk 'BEGIN { srand(11); for (i = 0; i < 600; i++) { c = i % 3; line = c;
  for (j = 0; j < 12; j++) line = line "," ((j % 3 == c ? 1.2 : 0) + rand() * 2 - 1); print line } }' > "$dir/d.csv"
awk 'BEGIN { srand(12); for (i = 0; i < 200; i++) { c = i % 3; line = c;
  for (j = 0; j < 300; j++) line = line "," ((j % 3 == c ? 0.5 : 0) + rand() - 0.5); print line } }' > "$dir/w.csv"
common=(--data "csv:$dir/d.csv" --val-split 0.1 --epochs 4 --batch 16 --lr 0.01 --log-every 0 --seed 5
        --model 'dense(16, relu, l2=0.01) dropout(0.3) dense(3, softmax, l2=0.01)')
every=(--checkpoint-every 7)

# run_case NAME CRASH_SPEC RESUME_EXTRA ARGS...: uninterrupted run with
# checkpoints into $d/a, crashed run into $d/b, resumed into $d/b; compares
# the final weights and the newest checkpoint of both.
run_case() {
  local name=$1 crash=$2 rextra=$3
  shift 3
  local d="$dir/$name"
  mkdir -p "$d"
  "$regula" train "$@" "${every[@]}" --checkpoint-dir "$d/a" --save "$d/full.st" --log "$d/full.jsonl" > /dev/null 2> "$d/full.err" ||
    { bad "$name: the uninterrupted run failed: $(cat "$d/full.err")"; return; }
  (RG_TEST_CRASH=$crash exec "$regula" train "$@" "${every[@]}" --checkpoint-dir "$d/b" --save "$d/part.st" > /dev/null 2> "$d/crash.err")
  local rc=$?
  if [ $rc -ne 137 ] || [ -e "$d/part.st" ]; then bad "$name: the crash at $crash did not happen (exit $rc)"; return; fi
  # shellcheck disable=SC2086
  "$regula" train "$@" $rextra "${every[@]}" --resume "$d/b" --save "$d/part.st" --log "$d/res.jsonl" > /dev/null 2> "$d/res.err" ||
    { bad "$name: resume failed: $(cat "$d/res.err")"; return; }
  if ! grep -q '"event":"resume"' "$d/res.jsonl" && [ "$crash" != "step:1" ]; then bad "$name: no resume event in the log"; return; fi
  if ! cmp -s "$d/full.st" "$d/part.st"; then bad "$name: final weights differ after a kill at $crash"; return; fi
  if ls "$d/b" | grep -q tmp; then bad "$name: a temporary file was left in the checkpoint directory"; return; fi
  # the resumed epoch's samples, bytes sent and compression count the whole
  # epoch, as the uninterrupted run's do (its times are this process's)
  local counts='select(.event == "epoch") | [.epoch, .samples, .bytes_sent, .compression]'
  if [ -z "$rextra" ] && ! grep -Fxf <(jq -c "$counts" "$d/full.jsonl") <(jq -c "$counts" "$d/res.jsonl") |
      cmp -s - <(jq -c "$counts" "$d/res.jsonl"); then
    bad "$name: the resumed run's epoch counts differ: $(jq -c "$counts" "$d/res.jsonl" | head -2) against $(jq -c "$counts" "$d/full.jsonl")"
    return
  fi
  if [ -n "$rextra" ]; then
    # another worker count: its per-worker figures have another shape, so
    # the weights are compared, with a run that always had the new count too
    # shellcheck disable=SC2086
    "$regula" train "$@" $rextra --save "$d/new.st" > /dev/null 2>&1
    if ! cmp -s "$d/full.st" "$d/new.st"; then bad "$name: a run with $rextra from the start differs"; return; fi
    ok "$name: killed at $crash, resumed with $rextra: weights bitwise equal to both uninterrupted runs"
    return
  fi
  local last
  last=$(cd "$d/a" && ls ckpt-*.safetensors | tail -1)
  if ! cmp -s "$d/a/$last" "$d/b/$last"; then bad "$name: checkpoint $last differs (optimizer or trainer state)"; return; fi
  ok "$name: killed at $crash, resumed: weights and $last bitwise equal"
}

for k in step:1 step:20 step:61 ckpt-write:2; do run_case "one_${k/:/_}" $k "" "${common[@]}"; done
for k in step:30 ckpt-write:4; do run_case "thr2_${k/:/_}" $k "" "${common[@]}" --workers 2; done
run_case shared step:9 "" --data "csv:$dir/w.csv" --epochs 2 --batch 20 --log-every 0 --workers 2 \
  --model 'dense(1024, relu) dense(3, softmax)'
run_case zero step:25 "" "${common[@]}" --workers 2 --shard-optimizer --optimizer adamw --weight-decay 0.01
# rmsprop: its mean square (and momentum buffer) whole, and sharded
run_case rmsprop step:20 "" "${common[@]}" --optimizer rmsprop --momentum 0.5 --rho 0.9
run_case rmsprop_zero step:25 "" "${common[@]}" --workers 2 --shard-optimizer --optimizer rmsprop
run_case sgd step:25 "" "${common[@]}" --workers 3 --optimizer sgd --momentum 0.9 --nesterov --clip-norm 1 \
  --lr-schedule cosine --warmup 10
run_case skew step:40 "" "${common[@]}" --workers 3 --partition dirichlet:0.3 --reg-scope local --reg-adapt divergence
run_case early step:70 "" "${common[@]}" --epochs 12 --early-stop 2 --lr 0.05
# ... and with the strategies that step locally, and a parameter server at K = 0
run_case local_early step:70 "" "${common[@]}" --epochs 12 --early-stop 2 --lr 0.05 --workers 2 --strategy local-sgd --sync-every 4
run_case easgd_early step:70 "" "${common[@]}" --epochs 12 --early-stop 2 --lr 0.05 --workers 2 --strategy easgd --sync-every 3
run_case ps_early step:70 "" "${common[@]}" --epochs 12 --early-stop 2 --lr 0.05 --workers 3 --strategy ps --staleness 0
# reduce on plateau: no epoch beats --min-delta 10, so the rate is cut
# after epochs 2, 4 (patience 2); killed in epoch 5, the resumed run must
# find the cuts and the wait in the checkpoint
run_case plateau step:150 "" "${common[@]}" --epochs 7 --lr-schedule plateau --lr-patience 2 --lr-gamma 0.5 --min-delta 10
# strategies that step locally: a checkpoint is a full sync, so a resumed
# run is the uninterrupted one bit for bit
run_case local step:26 "" "${common[@]}" --workers 2 --strategy local-sgd --sync-every 4 --sync-warmup 5
run_case local_moments step:26 "" "${common[@]}" --workers 2 --strategy local-sgd --sync-every 4 --local-moments
run_case easgd step:26 "" "${common[@]}" --workers 3 --strategy easgd --sync-every 3 --optimizer sgd --momentum 0.5
# ... with Adam on skewed parts, where a worker may have no samples at a step
run_case local_skew step:60 "" "${common[@]}" --workers 3 --partition dirichlet:0.3 --worker-batch equal \
  --strategy local-sgd --sync-every 4
run_case easgd_skew step:60 "" "${common[@]}" --workers 3 --partition dirichlet:0.3 --strategy easgd --sync-every 3
# Hogwild is not reproducible (which updates collide depends on timing):
# a resumed run goes on from the checkpoint and ends, its model usable
d="$dir/hogwild"; mkdir -p "$d"
hw=("${common[@]}" --workers 2 --strategy hogwild --optimizer sgd --lr 0.05 --checkpoint-every 7)
(RG_TEST_CRASH=step:30 exec "$regula" train "${hw[@]}" --checkpoint-dir "$d/b" > /dev/null 2>&1)
if "$regula" train "${hw[@]}" --resume "$d/b" --save "$d/h.st" --log "$d/h.jsonl" > /dev/null 2> "$d/h.err" &&
   grep -q '"event":"resume"' "$d/h.jsonl" && "$regula" eval --data "csv:$dir/d.csv" --load "$d/h.st" > /dev/null 2>&1; then
  ok "hogwild: killed at step:30, resumed from its checkpoint and finished"
else bad "hogwild resume: $(cat "$d/h.err")"; fi
# a parameter server: the servers' moments and step count are in the
# checkpoint.  Staleness 0 with two training workers sums two pushes a
# step, in either order the same float: the resumed run is bitwise the
# uninterrupted one.  Staleness 2 is not reproducible (which weights a
# worker reads depends on timing): it goes on from the checkpoint and ends.
run_case ps step:30 "" "${common[@]}" --workers 3 --strategy ps --staleness 0
run_case ps_rmsprop step:30 "" "${common[@]}" --workers 3 --strategy ps --staleness 0 --optimizer rmsprop --momentum 0.5
# ... and its pushes through a codec: each worker's residual is in the checkpoint
run_case ps_topk step:30 "" "${common[@]}" --workers 3 --strategy ps --staleness 0 --compress topk:0.05
# two servers: two parts, each its own residual, saved and loaded in order
run_case ps_randk2 step:30 "" "${common[@]}" --workers 4 --servers 2 --strategy ps --staleness 0 --compress randk:0.2
d="$dir/ps_stale"; mkdir -p "$d"
ps=("${common[@]}" --workers 4 --strategy ps --servers 2 --staleness 2 --checkpoint-every 7)
(RG_TEST_CRASH=step:30 exec "$regula" train "${ps[@]}" --checkpoint-dir "$d/b" > /dev/null 2>&1)
if "$regula" train "${ps[@]}" --resume "$d/b" --save "$d/p.st" --log "$d/p.jsonl" > /dev/null 2> "$d/p.err" &&
   grep -q '"event":"resume"' "$d/p.jsonl" && grep -q '"staleness":\[' "$d/p.jsonl" &&
   "$regula" eval --data "csv:$dir/d.csv" --load "$d/p.st" > /dev/null 2>&1; then
  ok "ps --staleness 2: killed at step:30, resumed from its checkpoint and finished"
else bad "ps --staleness 2 resume: $(cat "$d/p.err")"; fi
# asynchronous EASGD (the centre on a rank of its own): one worker with the
# centre is synchronous and bitwise on resume; three go on and finish
run_case easgd_async step:26 "" "${common[@]}" --workers 2 --strategy easgd-async --sync-every 3
d="$dir/easgd_async3"; mkdir -p "$d"
ea=("${common[@]}" --workers 4 --strategy easgd-async --sync-every 3 --checkpoint-every 7)
(RG_TEST_CRASH=step:30 exec "$regula" train "${ea[@]}" --checkpoint-dir "$d/b" > /dev/null 2>&1)
if "$regula" train "${ea[@]}" --resume "$d/b" --save "$d/e.st" --log "$d/e.jsonl" > /dev/null 2> "$d/e.err" &&
   grep -q '"event":"resume"' "$d/e.jsonl" && "$regula" eval --data "csv:$dir/d.csv" --load "$d/e.st" > /dev/null 2>&1; then
  ok "easgd-async, 3 workers: killed at step:30, resumed from its checkpoint and finished"
else bad "easgd-async resume: $(cat "$d/e.err")"; fi
# compressed exchanges: each worker's residual (and PowerSGD's Q) is in the checkpoint
run_case topk step:26 "" "${common[@]}" --workers 2 --compress topk:0.05
run_case powersgd step:26 "" "${common[@]}" --workers 2 --compress powersgd:2
run_case dgc step:40 "" "${common[@]}" --workers 2 --compress dgc:0.05 --dgc-warmup 2 --optimizer sgd --momentum 0.9
# --compress-update: each worker's Adam moments and step count are codec state
run_case topk_update step:26 "" "${common[@]}" --workers 2 --compress topk:0.05 --compress-update --reg-scope local
# ... and through the weight exchanges of local SGD and EASGD (residuals
# in the checkpoint; the anchor is the synced weights a checkpoint holds)
run_case local_topk step:26 "" "${common[@]}" --workers 2 --strategy local-sgd --sync-every 4 --compress topk:0.05
run_case easgd_qsgd step:26 "" "${common[@]}" --workers 3 --strategy easgd --sync-every 3 --compress qsgd:4
# checkpoints on epoch boundaries (540 samples / 16 = 34 steps an epoch):
# resumed before the epoch's validation and early-stopping decision
every=(--checkpoint-every 34)
run_case epoch_end step:80 "" "${common[@]}" --early-stop 3
# --checkpoint-every-epoch, alone (killed mid-epoch, and just after an
# epoch's checkpoint: resumed before its validation) and beside N
every=(--checkpoint-every-epoch)
run_case ck_epoch step:50 "" "${common[@]}" --early-stop 3
run_case ck_epoch_end step:69 "" "${common[@]}" --early-stop 3
every=(--checkpoint-every 10 --checkpoint-every-epoch)
run_case ck_both step:75 "" "${common[@]}" --workers 2
every=(--checkpoint-every 7)
# --deterministic: the bits do not depend on the worker count, across a resume either
run_case det_2to1 step:40 "--workers 1" "${common[@]}" --workers 2 --deterministic --det-shards 4
run_case det_2to4 step:40 "--workers 4" "${common[@]}" --workers 2 --deterministic --det-shards 4

d="$dir/misc"
mkdir -p "$d"
# the newest checkpoint damaged: warned about by name, the one before used
"$regula" train "${common[@]}" --checkpoint-every 50 --checkpoint-dir "$d/ref" --save "$d/ref.st" > /dev/null 2>&1
crash_at() { (RG_TEST_CRASH=$1 exec "$regula" train "${@:2}" > /dev/null 2>&1); }
crash_at step:120 "${common[@]}" --checkpoint-every 50 --checkpoint-dir "$d/c"
newest=$(ls "$d/c" | tail -1)
size=$(stat -c %s "$d/c/$newest")
printf '\x55' | dd of="$d/c/$newest" bs=1 seek=$((size - 100)) conv=notrunc status=none
"$regula" train "${common[@]}" --checkpoint-every 50 --resume "$d/c" --save "$d/c.st" > /dev/null 2> "$d/c.err"
if grep -q "warning: skipping checkpoint: $d/c/$newest: checksum mismatch" "$d/c.err" && cmp -s "$d/ref.st" "$d/c.st"; then
  ok "a flipped byte in $newest: warned, resumed from the one before, same weights"
else bad "flipped byte: $(cat "$d/c.err")"; fi
crash_at step:120 "${common[@]}" --checkpoint-every 50 --checkpoint-dir "$d/t"
truncate -s $((size / 2)) "$d/t/$newest"
"$regula" train "${common[@]}" --checkpoint-every 50 --resume "$d/t" --save "$d/t.st" > /dev/null 2> "$d/t.err"
if grep -q "warning: skipping checkpoint: $d/t/$newest" "$d/t.err" && cmp -s "$d/ref.st" "$d/t.st"; then
  ok "a torn $newest: warned, resumed from the one before, same weights"
else bad "torn checkpoint: $(cat "$d/t.err")"; fi
# every checkpoint damaged: exit 3, nothing written
for f in "$d/t"/ckpt-*; do truncate -s 100 "$f"; done
"$regula" train "${common[@]}" --resume "$d/t" --save "$d/none.st" > /dev/null 2> "$d/none.err"
rc=$?
if [ $rc -eq 3 ] && grep -q "none of its .* checkpoints is readable" "$d/none.err" && [ ! -e "$d/none.st" ]; then
  ok "every checkpoint damaged: exit 3"
else bad "all damaged: exit $rc: $(cat "$d/none.err")"; fi
# a run that trains something else may not resume: exit 2, naming the option
"$regula" train "${common[@]}" --lr 0.02 --resume "$d/c" --save "$d/x.st" > /dev/null 2> "$d/x.err"
rc=$?
if [ $rc -eq 2 ] && grep -q -- "--lr 0.01, this run has 0.02" "$d/x.err" && [ ! -e "$d/x.st" ]; then
  ok "another --lr: exit 2 naming it"
else bad "config mismatch: exit $rc: $(cat "$d/x.err")"; fi
# a skewed partition must go on with the same workers
crash_at step:30 "${common[@]}" --workers 3 --partition shards:2 --checkpoint-every 10 --checkpoint-dir "$d/s"
"$regula" train "${common[@]}" --workers 2 --partition shards:2 --resume "$d/s" > /dev/null 2> "$d/s.err"
rc=$?
if [ $rc -eq 2 ] && grep -q "written by 3 workers" "$d/s.err"; then ok "skewed partition, other worker count: exit 2"
else bad "skewed partition resumed on 2 workers: exit $rc: $(cat "$d/s.err")"; fi
# iid on another worker count (not deterministic) goes on
"$regula" train "${common[@]}" --workers 2 --checkpoint-every 50 --resume "$d/c" --save "$d/w2.st" > /dev/null 2> "$d/w2.err" &&
  [ -s "$d/w2.st" ] && ok "iid resumed on 2 workers after 1" || bad "iid on 2 workers: $(cat "$d/w2.err")"
# nothing to resume from: a fresh start, the same as a run without --resume
"$regula" train "${common[@]}" --checkpoint-every 50 --resume "$d/empty" --save "$d/e.st" > /dev/null 2> "$d/e.err" &&
  cmp -s "$d/ref.st" "$d/e.st" && grep -q "resume $d/empty: no checkpoint there yet; starting from the beginning" "$d/e.err" &&
  ok "--resume of a directory with no checkpoint starts afresh, saying so" || bad "empty --resume: $(cat "$d/e.err")"
# --keep, stale temporaries, eval of a training checkpoint
printf 'junk' > "$d/k.tmp-probe"
mkdir -p "$d/k" && printf 'junk' > "$d/k/ckpt-000000000001.safetensors.tmp.999"
"$regula" train "${common[@]}" --checkpoint-every 10 --keep 2 --checkpoint-dir "$d/k" > /dev/null 2>&1
n=$(ls "$d/k" | wc -l)
[ "$n" = 2 ] && ok "--keep 2 keeps 2, the stale temporary is gone" || bad "--keep 2: $(ls "$d/k")"
"$regula" eval --data "csv:$dir/d.csv" --load "$d/k/$(ls "$d/k" | tail -1)" > "$d/ev.out" 2>&1 &&
  grep -q acc "$d/ev.out" && ok "eval --load reads a training checkpoint" || bad "eval of a checkpoint: $(cat "$d/ev.out")"
"$regula" train "${common[@]}" --checkpoint-every 10 > /dev/null 2> "$d/nodir.err"
[ $? -eq 2 ] && grep -q "needs --checkpoint-dir" "$d/nodir.err" && ok "--checkpoint-every without a directory: exit 2" ||
  bad "--checkpoint-every alone: $(cat "$d/nodir.err")"

# non-finite: one sample whose features overflow a float in the first layer
awk 'BEGIN { srand(3); for (i = 0; i < 200; i++) { c = i % 3; line = c;
  for (j = 0; j < 40; j++) line = line "," (i == 77 ? "3e38" : (j % 3 == c) + rand() - 0.5); print line } }' > "$dir/nan.csv"
nf=(--data "csv:$dir/nan.csv" --model 'dense(8, relu) dense(3, softmax)' --epochs 3 --batch 16 --workers 2 --seed 1)
"$regula" train "${nf[@]}" --save "$d/nf.st" --log "$d/nf.jsonl" > /dev/null 2> "$d/nf.err"
rc=$?
if [ $rc -eq 4 ] && grep -q "non-finite loss or gradient at step [0-9]* (epoch 1, worker [01])" "$d/nf.err" && [ ! -e "$d/nf.st" ]; then
  ok "a non-finite step stops every worker: exit 4 naming the step and the worker"
else bad "non-finite stop: exit $rc: $(cat "$d/nf.err")"; fi
"$regula" train "${nf[@]}" --skip-nonfinite --save "$d/sk.st" --log "$d/sk.jsonl" > /dev/null 2> "$d/sk.err"
rc=$?
if [ $rc -eq 0 ] && grep -q '"event":"skip"' "$d/sk.jsonl" && grep '"event":"end"' "$d/sk.jsonl" | grep -q '"skipped":[1-9]'; then
  ok "--skip-nonfinite: the step is skipped on every worker and counted in the log"
else bad "--skip-nonfinite: exit $rc: $(cat "$d/sk.err")"; fi

# compressed exchanges skip the same steps, and a skipped step leaves the
# codec's residuals as they were (a bad gradient never reaches them)
want=$(grep -c '"event":"skip"' "$d/sk.jsonl")
for c in sign powersgd:1 topk:0.1 qsgd:4; do
  rm -rf "$d/skc"
  ef=on; [ "${c%%:*}" = qsgd ] && ef=off   # qsgd refuses error feedback (not contractive)
  "$regula" train "${nf[@]}" --skip-nonfinite --compress $c --error-feedback $ef --checkpoint-every 5 \
    --checkpoint-dir "$d/skc" --save "$d/skc.st" --log "$d/skc.jsonl" > /dev/null 2> "$d/skc.err"
  rc=$? got=$(grep -c '"event":"skip"' "$d/skc.jsonl")
  if [ $rc -eq 0 ] && [ "$got" = "$want" ] && [ -s "$d/skc.st" ]; then
    ok "--skip-nonfinite --compress $c: the same $want steps skipped, the state finite to the end"
  else bad "--skip-nonfinite --compress $c: exit $rc, $got skips (want $want): $(head -c 300 "$d/skc.err")"; fi
done

# skipped steps and checkpoints together: the skip is in the state too
every=(--checkpoint-every 5)
run_case skip_ckpt step:20 "" "${nf[@]}" --skip-nonfinite
every=(--checkpoint-every 7)
# a directory holding another run's checkpoints is refused (they would be
# kept as "newer" and picked by a later --resume), unless resuming from it
"$regula" train "${common[@]}" --checkpoint-every 50 --checkpoint-dir "$d/other" > /dev/null 2>&1
"$regula" train "${common[@]}" --lr 0.02 --checkpoint-every 7 --checkpoint-dir "$d/other" --save "$d/o.st" > /dev/null 2> "$d/o.err"
rc=$?
if [ $rc -eq 2 ] && grep -q "already holds 2 checkpoints (newest ckpt-000000000100.safetensors) of another run" "$d/o.err" &&
   [ ! -e "$d/o.st" ] && [ "$(ls "$d/other" | wc -l)" = 2 ]; then
  ok "a directory with another run's checkpoints: exit 2, nothing touched"
else bad "reused directory: exit $rc: $(cat "$d/o.err"), left: $(ls "$d/other")"; fi

finish
