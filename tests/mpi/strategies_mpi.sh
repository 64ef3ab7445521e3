#!/usr/bin/env bash
# Every strategy over MPI processes and processes x threads (issue 11's
# "every strategy"; threads: tests/cli/strategies.sh):
#   synchronous local-sgd and easgd on 2 processes are 2 threads bit for
#     bit, with early stopping too (it stops, the end event says so, --save
#     is --save-best's model); on 2 processes x 2 threads they give 4
#     threads' test figures;
#   easgd-async (2 workers and the centre) and ps (K 2) stop early and keep
#     the best epoch's model; easgd-async's reg_loss holds the elastic
#     penalty (> 0 with no penalty in the model);
#   a non-finite step exits 4 naming the step, with no --save file left,
#     and --skip-nonfinite counts each skipped step (3, one an epoch);
#   a worker's own stop or skip in another process than rank 0's (every
#     strategy that steps locally, and 2 x 2) is in rank 0's log: one end
#     event, its last line, with the stopper's step; the skip's event;
#   what a strategy refuses (hogwild under mpirun) exits 2 naming it.
# (--resume of local-sgd and easgd: tests/mpi/resume_mpi.sh; a stopped
# peer under --comm-timeout: tests/mpi/dead_peer.sh; ps and easgd-async
# on processes x threads: tests/mpi/groups_mpi.sh.)
# Usage: strategies_mpi.sh REGULA MPIEXEC
set -u
regula=$1 mpiexec=$2
# shellcheck source=launcher.bash
source "$(dirname "${BASH_SOURCE[0]}")/launcher.bash"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
T=$dir
# shellcheck source=../cli/lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.bash"

# shellcheck source=../cli/strategies_data.bash
source "$(dirname "${BASH_SOURCE[0]}")/../cli/strategies_data.bash"

# early_stop NAME LOG: the run stopped early and its --save ($d/s.st) is its --save-best ($d/b.st)
early_stop() {
    local name=$1 end
    one_end "$name" "$2"
    end=$(grep '"event":"end"' "$2")
    if [ "$(field stopped_early "$end")" = true ] && [ "$(field epochs_run "$end")" -lt 12 ] && cmp -s "$d/s.st" "$d/b.st"; then
        ok "$name: stopped early after $(field epochs_run "$end") epochs, the best epoch's ($(field best_epoch "$end")) model saved"
    else bad "$name: early stopping: $end"; fi
}

mp2=("$mpiexec" -n 2)
for spec in "local-sgd --sync-every 3" "easgd --sync-every 3"; do
    read -r -a s <<< "$spec"
    name=${s[0]} d="$dir/${s[0]}"
    mkdir -p "$d"
    # 2 processes, 2 threads: bitwise, early stopping included
    run 0 -- "$regula" train "${es[@]}" --workers 2 --strategy "${s[@]}" --save "$d/t.st"
    run 0 -- "${mp2[@]}" "$regula" train "${es[@]}" --strategy "${s[@]}" --save "$d/s.st" --save-best "$d/b.st" --log "$d/p.jsonl"
    early_stop "$name -n 2" "$d/p.jsonl"
    cmp -s "$d/t.st" "$d/s.st" && ok "$name: 2 processes stopped early bitwise as 2 threads" || bad "$name: 2 processes differ from 2 threads"
    grep -q "\"strategy\":\"$name\"" "$d/p.jsonl" && grep -q '"processes":2' "$d/p.jsonl" &&
        ok "$name: the log names the strategy and 2 processes" || bad "$name: log: $(head -c 300 "$d/p.jsonl")"
    # processes x threads: 4 threads' test figures
    tf=(--data "csv:$dir/d.csv" --test-data "csv:$dir/d.csv" --epochs 3 --batch 40 --lr 0.01 --log-every 0
        --model 'dense(12, relu, l2=0.01) dropout(0.2) dense(3, softmax, l2=0.01)' --strategy "${s[@]}")
    "$regula" train "${tf[@]}" --workers 4 > "$d/t4.out" 2> /dev/null || bad "$name: 4 threads"
    "${mp2[@]}" "$regula" train "${tf[@]}" --workers 2 --log "$d/h.jsonl" > "$d/p22.out" 2> "$d/p22.err" || bad "$name 2 x 2: $(cat "$d/p22.err")"
    if [ -s "$d/t4.out" ] && [ "$(cat "$d/t4.out")" = "$(cat "$d/p22.out")" ] && grep -q '"workers":4,' "$d/h.jsonl"; then
        ok "$name: 2 processes x 2 threads, 4 workers: 4 threads' test figures ($(cat "$d/t4.out"))"
    else bad "$name 2 x 2: $(cat "$d/p22.out") vs $(cat "$d/t4.out")"; fi
done

# the asynchronous ones: 2 training workers and a centre or a server
for spec in "easgd-async --sync-every 3" "ps --staleness 2"; do
    read -r -a s <<< "$spec"
    name=${s[0]} d="$dir/${s[0]}"
    mkdir -p "$d"
    run 0 -- "$mpiexec" -n 3 "$regula" train "${es[@]}" --strategy "${s[@]}" --save "$d/s.st" --save-best "$d/b.st" --log "$d/p.jsonl"
    early_stop "$name -n 3" "$d/p.jsonl"
    grep '"event":"epoch"' "$d/p.jsonl" | grep -q '"workers":2,' && grep -q '"servers":1' "$d/p.jsonl" &&
        ok "$name: 2 workers and 1 server logged" || bad "$name: log: $(head -c 300 "$d/p.jsonl")"
done
# easgd-async's elastic force is in reg_loss: no penalty in the model, so
# every epoch's reg_loss is the elastic term's alone, and it is not 0
n=$(grep '"event":"epoch"' "$dir/easgd-async/p.jsonl" | grep -o '"reg_loss":[^,]*' | awk -F: '$2 > 0 { n++ } END { print n + 0 }')
e=$(grep -c '"event":"epoch"' "$dir/easgd-async/p.jsonl")
[ "$n" = "$e" ] && [ "$e" -gt 0 ] && ok "easgd-async -n 3: reg_loss > 0 in all $e epochs without a penalty in the model (the elastic force)" ||
    bad "easgd-async reg_loss: $(grep -o '"reg_loss":[^,]*' "$dir/easgd-async/p.jsonl" | tr '\n' ' ')"
grep '"event":"epoch"' "$dir/ps/p.jsonl" | grep -q '"staleness":\[' && ok "ps -n 3: staleness counts logged" || bad "ps: no staleness counts"

# non-finite: exit 4 naming the step (MPICH's hydra may report the
# SIGKILL it sends the other ranks: 9), nothing saved; skips counted
for spec in "local-sgd --sync-every 3|2" "easgd --sync-every 3|2" "easgd-async --sync-every 3|3" "local-sgd --sync-every 3 --workers 2|2"; do
    read -r -a s <<< "${spec%|*}"
    np=${spec#*|} name="${spec%|*} -n $np" d="$dir/nf"
    rm -rf "$d" && mkdir -p "$d"
    "$mpiexec" -n "$np" "$regula" train "${nf[@]}" --strategy "${s[@]}" --save "$d/s.st" > /dev/null 2> "$d/err"
    code=$?; want=$(mpi_want 4 $code)
    if [ $code = $want ] && grep -q "non-finite loss or gradient at step [0-9]* (epoch 1, worker [0-9])" "$d/err" && [ -z "$(ls "$d" | grep '^s\.st')" ]; then
        ok "$name: non-finite: exit $code naming the step and the worker, nothing saved"
    else bad "$name: non-finite: exit $code: $(grep -v '^\[' "$d/err" | head -3) $(ls "$d")"; fi
    "$mpiexec" -n "$np" "$regula" train "${nf[@]}" --strategy "${s[@]}" --skip-nonfinite --save "$d/k.st" --log "$d/k.jsonl" > /dev/null 2> "$d/kerr"
    code=$?
    one_end "$name: --skip-nonfinite" "$d/k.jsonl"
    if [ $code = 0 ] && [ "$(field skipped "$(grep '"event":"end"' "$d/k.jsonl")")" = 3 ] && [ -s "$d/k.st" ]; then
        ok "$name: --skip-nonfinite: 3 steps skipped and counted"
    else bad "$name: --skip-nonfinite: exit $code: $(grep '"event":"end"' "$d/k.jsonl") $(head -c 300 "$d/kerr")"; fi
done

# the log is rank 0's: a stop by its second thread (worker 1: seed 3
# deals sample 77 to it first) is logged by that thread, with its step
d="$dir/nf1" && mkdir -p "$d"
"$mpiexec" -n 2 "$regula" train "${nf[@]}" --seed 3 --workers 2 --strategy local-sgd --sync-every 3 --log "$d/l.jsonl" > /dev/null 2> "$d/err"
code=$?; want=$(mpi_want 4 $code)
step=$(sed -n 's/.*non-finite loss or gradient at step \([0-9]*\) (epoch 1, worker 1).*/\1/p' "$d/err" | head -1)
one_end "local-sgd 2 x 2, worker 1's stop" "$d/l.jsonl"
end=$(grep '"event":"end"' "$d/l.jsonl")
if [ $code = $want ] && [ -n "$step" ] && [ "$(field stopped "$end")" = '"nonfinite"' ] && [ "$(field step "$end")" = "$step" ]; then
    ok "local-sgd 2 x 2: worker 1, rank 0's second thread, stops at step $step: the log's end event says so"
else bad "local-sgd 2 x 2, worker 1's stop: exit $code, '$(grep -v '^\[' "$d/err" | head -2)', end '$end'"; fi

# a stop in another process reaches rank 0's log: only rank 1's worker
# meets sample 77 (seed 2 deals it to worker 1 at step 5, on 2 x 2 to
# worker 3, rank 1's second thread; ps at K 0, whose parts are fixed: at
# K > 0 they are dealt by arrival), on a local step,
# so rank 1 stops alone; every process exits 4, the message names the
# step and the worker, and rank 0's log ends with one end event,
# "stopped":"nonfinite", that step and epoch 1; nothing saved, no stray file
for spec in "local-sgd --sync-every 3|2|2|1" "easgd --sync-every 3|2|2|1" "easgd-async --sync-every 3|3|2|1" \
            "ps --staleness 0|3|2|1" "local-sgd --sync-every 3 --workers 2|2|2|3"; do
    IFS='|' read -r opts np seed who <<< "$spec"
    read -r -a s <<< "$opts"
    name="$opts -n $np" d="$dir/nfr"
    rm -rf "$d" && mkdir -p "$d"
    "$mpiexec" -n "$np" "$regula" train "${nf[@]}" --seed "$seed" --strategy "${s[@]}" --save "$d/s.st" --log "$d/l.jsonl" \
        > /dev/null 2> "$d/err"
    code=$?; want=$(mpi_want 4 $code)
    # every process exits 4 (hydra's own status may differ: mpi_want)
    step=$(sed -n "s/.*non-finite loss or gradient at step \([0-9]*\) (epoch 1, worker $who).*/\1/p" "$d/err" | head -1)
    one_end "$name, rank 1's stop" "$d/l.jsonl"
    last=$(tail -n 1 "$d/l.jsonl")
    if [ $code = $want ] && [ -n "$step" ] && [ "$(field event "$last")" = '"end"' ] && [ "$(field stopped "$last")" = '"nonfinite"' ] &&
       [ "$(field step "$last")" = "$step" ] && [ "$(field epoch "$last")" = 1 ] && [ "$(ls "$d")" = "$(printf 'err\nl.jsonl')" ]; then
        ok "$name: worker $who of rank 1 stops at step $step: exit $code, rank 0's log ends with its end event"
    else bad "$name, rank 1's stop: exit $code, '$(grep -v '^\[' "$d/err" | head -2)', last '$(head -c 200 <<< "$last")', files $(ls "$d" | tr '\n' ' ')"; fi
done

# a rank 0 that never says it is done (the test hook stops it before its
# goodbye): the others end the job after --comm-timeout (MPI_Abort, exit
# 4) saying so; nothing hangs, and rank 0's log was whole before
d="$dir/bye" && mkdir -p "$d"
REGULA_MPI_STALL=0:goodbye timeout -s KILL 60 "$mpiexec" -n 2 "$regula" train "${nf[@]}" --seed 2 --strategy local-sgd \
    --sync-every 3 --comm-timeout 2 --log "$d/l.jsonl" > /dev/null 2> "$d/err"
code=$?; want=$(mpi_want 4 $code)
if [ $code = $want ] && grep -q "rank 1: rank 0 did not end the stop within 2 s (--comm-timeout): training stopped" "$d/err" &&
   [ "$(field stopped "$(tail -n 1 "$d/l.jsonl")")" = '"nonfinite"' ]; then
    ok "rank 0 stopped before its goodbye: exit $code after --comm-timeout, said, its log whole"
else bad "rank 0 stopped before its goodbye: exit $code, '$(grep -v '^\[' "$d/err" | head -3)', last '$(tail -n 1 "$d/l.jsonl" | head -c 200)'"; fi

# rank 0 far from its next wait when rank 1 stops (no sync in the epoch,
# seconds of local steps left, --comm-timeout 1; in order, sample 78 is
# rank 1's at step 20 of 1,000, so the run is short once it is right,
# also under the sanitizers): it takes the stop in
# between steps and ends at once, so its log still gets the end event
# (before, it trained on to the epoch's end, the stopper's wait for its
# goodbye ran out, and MPI_Abort killed it with no end event)
d="$dir/far" && mkdir -p "$d"
awk 'BEGIN { srand(3); for (i = 0; i < 8000; i++) { c = i % 3; line = c;
  for (j = 0; j < 40; j++) line = line "," (i == 78 ? "3e38" : (j % 3 == c) + rand() - 0.5); print line } }' > "$d/big.csv"
timeout -s KILL 120 "$mpiexec" -n 2 "$regula" train --data "csv:$d/big.csv" --model 'dense(1024, relu) dense(1024, relu) dense(3, softmax)' \
    --epochs 1 --batch 4 --seed 2 --no-shuffle --strategy local-sgd --sync-every 100000 --comm-timeout 1 --log "$d/l.jsonl" \
    > /dev/null 2> "$d/err"
code=$?; want=$(mpi_want 4 $code)
last=$(tail -n 1 "$d/l.jsonl")
if [ $code = $want ] && [ "$(field stopped "$last")" = '"nonfinite"' ] && [ "$(field step "$last")" = 20 ]; then
    ok "rank 0 seconds from its next sync when rank 1 stops: its log ends with the stop's end event (exit $code)"
else bad "rank 0 far from its next sync: exit $code, '$(grep -v '^\[' "$d/err" | head -2)', last '$(head -c 200 <<< "$last")'"; fi

# and its skips (--skip-nonfinite): epoch 1's, by that worker, is a skip
# event in rank 0's log, as are epochs 2 and 3's (by worker 0): all 3,
# in the order they reached rank 0, before the end event, which counts them
for spec in "local-sgd --sync-every 3|2|2|1" "easgd-async --sync-every 3|3|2|1" "ps --staleness 0|3|2|1" \
            "local-sgd --sync-every 3 --workers 2|2|2|3"; do
    IFS='|' read -r opts np seed who <<< "$spec"
    read -r -a s <<< "$opts"
    name="$opts -n $np" d="$dir/nfr"
    rm -rf "$d" && mkdir -p "$d"
    "$mpiexec" -n "$np" "$regula" train "${nf[@]}" --seed "$seed" --strategy "${s[@]}" --skip-nonfinite --log "$d/l.jsonl" \
        > /dev/null 2> "$d/err"
    code=$?
    skips=$(grep '"event":"skip"' "$d/l.jsonl" | grep -c "\"epoch\":1,\"worker\":$who,")
    last=$(tail -n 1 "$d/l.jsonl")
    if [ $code = 0 ] && [ "$skips" = 1 ] && [ "$(grep -c '"event":"skip"' "$d/l.jsonl")" = 3 ] &&
       [ "$(field event "$last")" = '"end"' ] && [ "$(field skipped "$last")" = 3 ]; then
        ok "$name: worker $who of rank 1's skip in rank 0's log, with the other 2, then the end"
    else bad "$name, rank 1's skip: exit $code, $skips skip events of worker $who in epoch 1: $(grep -E '"event":"(skip|end)"' "$d/l.jsonl" | head -c 400)"; fi
done

# refused: exit 2, naming the strategy and what to do
run 2 -- "${mp2[@]}" "$regula" train "${es[@]}" --strategy hogwild --optimizer sgd
grep -q -- "--strategy hogwild: worker threads of one process share the weights; under mpirun" "$T/err" && ok "hogwild under mpirun: exit 2, said" ||
    bad "hogwild under mpirun: $(cat "$T/err")"
finish
