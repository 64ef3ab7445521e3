#!/usr/bin/env bash
# ps and easgd-async on processes x threads (issue 11's "every strategy"):
# each process is one of their workers, or a server, or the centre; its
# threads take their parts of its steps in step (the strategy layer's
# groups).  Before, both were refused there (exit 2).
#   the limits: ps --staleness 0 on 3 processes x 2 threads (2 training
#     processes, 4 training threads, and a server) gives 4 threads'
#     synchronous all-reduce test figures; easgd-async on 2 processes x 2
#     threads (one worker process, its 2 threads, and the centre's) gives
#     synchronous easgd's on one worker, and with 3 threads too;
#   ps --staleness 2 with a straggler deals a process's threads the same
#     samples, the slow process fewer, every sample once an epoch;
#   early stopping (easgd-async), and the elastic force in reg_loss;
#   a resumed ps --staleness 0 run (2 training processes: their pushes
#     sum alike in either order) saves the uninterrupted run's model, bit
#     for bit;
#   a non-finite step met by rank 1's second thread stops the job (exit 4,
#     the step and the worker named, rank 0's log ends with its end
#     event), and --skip-nonfinite counts each skipped step;
#   under mpirun with one process and threads, or fewer processes than
#     --servers: exit 2, said.
# Usage: groups_mpi.sh REGULA MPIEXEC
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

tf=(--data "csv:$dir/d.csv" --test-data "csv:$dir/d.csv" --epochs 3 --batch 40 --lr 0.01 --log-every 0
    --model 'dense(12, relu, l2=0.01) dropout(0.2) dense(3, softmax, l2=0.01)')
# same NAME A B: the two runs' printed test figures are the same
same() {
    if [ -s "$2" ] && [ "$(cat "$2")" = "$(cat "$3")" ]; then ok "$1 ($(cat "$2"))"
    else bad "$1: '$(cat "$3")' against '$(cat "$2")' $(grep -v '^\[' "$dir/err" | head -3)"; fi
}

"$regula" train "${tf[@]}" --workers 4 > "$dir/ar4" 2> /dev/null
"$mpiexec" -n 3 "$regula" train "${tf[@]}" --workers 2 --strategy ps --staleness 0 --log "$dir/ps.jsonl" > "$dir/ps32" 2> "$dir/err"
same "ps --staleness 0 on 3 processes x 2 threads: 4 threads' all-reduce test figures" "$dir/ar4" "$dir/ps32"
grep '"event":"epoch"' "$dir/ps.jsonl" | grep -q '"workers":4,' && grep -q '"servers":1' "$dir/ps.jsonl" &&
    grep -q '"processes":3' "$dir/ps.jsonl" && ok "ps 3 x 2: 4 training workers, 1 server, 3 processes logged" ||
    bad "ps 3 x 2 log: $(head -c 300 "$dir/ps.jsonl")"

"$regula" train "${tf[@]}" --strategy easgd --sync-every 3 > "$dir/e1" 2> /dev/null
for t in 2 3; do
    "$mpiexec" -n 2 "$regula" train "${tf[@]}" --workers $t --strategy easgd-async --sync-every 3 > "$dir/ea2$t" 2> "$dir/err"
    same "easgd-async on 2 processes x $t threads (one worker process): synchronous easgd's test figures on one worker" \
        "$dir/e1" "$dir/ea2$t"
done

# a straggler: thread 1 of process 0 (worker 1) three times slower
d="$dir/strag" && mkdir -p "$d"
"$mpiexec" -n 3 "$regula" train "${tf[@]}" --epochs 2 --workers 2 --strategy ps --staleness 2 --straggler 1:3 \
    --log "$d/l.jsonl" > /dev/null 2> "$dir/err"
code=$?
split=$(grep '"event":"epoch"' "$d/l.jsonl" | grep -o '"samples":\[[0-9,]*\]' | tr -d '"samples:[]' |
        awk -F, '$1 == $2 && $3 == $4 && $1 + $2 + $3 + $4 == 400 { n++ } END { print n + 0 }')
if [ $code = 0 ] && [ "$split" = 2 ]; then
    ok "ps --staleness 2, straggler, 3 x 2: each process's threads the same samples, 400 an epoch ($(grep -o '"samples":\[[0-9,]*\]' "$d/l.jsonl" | tr '\n' ' '))"
else bad "ps straggler 3 x 2: exit $code, $(grep -o '"samples":\[[0-9,]*\]' "$d/l.jsonl" | tr '\n' ' ') $(grep -v '^\[' "$dir/err" | head -2)"; fi

# early stopping, and the elastic force in reg_loss (no penalty in the model)
d="$dir/es" && mkdir -p "$d"
"$mpiexec" -n 3 "$regula" train "${es[@]}" --workers 2 --strategy easgd-async --sync-every 3 --save "$d/s.st" \
    --save-best "$d/b.st" --log "$d/l.jsonl" > /dev/null 2> "$dir/err"
one_end "easgd-async 3 x 2" "$d/l.jsonl"
end=$(grep '"event":"end"' "$d/l.jsonl")
if [ "$(field stopped_early "$end")" = true ] && cmp -s "$d/s.st" "$d/b.st"; then
    ok "easgd-async 3 x 2: stopped early after $(field epochs_run "$end") epochs, the best epoch's model saved"
else bad "easgd-async 3 x 2 early stopping: $end $(grep -v '^\[' "$dir/err" | head -2)"; fi
n=$(grep '"event":"epoch"' "$d/l.jsonl" | grep -o '"reg_loss":[^,]*' | awk -F: '$2 > 0 { n++ } END { print n + 0 }')
e=$(grep -c '"event":"epoch"' "$d/l.jsonl")
[ "$n" = "$e" ] && [ "$e" -gt 0 ] && ok "easgd-async 3 x 2: reg_loss > 0 in all $e epochs (the elastic force)" ||
    bad "easgd-async 3 x 2 reg_loss: $(grep -o '"reg_loss":[^,]*' "$d/l.jsonl" | tr '\n' ' ')"

# resume: 3 epochs, then on to 6, is 6 at once
d="$dir/res" && mkdir -p "$d/ck"
rs=("${es[@]}" --early-stop 0 --workers 2 --strategy ps --staleness 0)
"$mpiexec" -n 3 "$regula" train "${rs[@]}" --epochs 6 --save "$d/whole.st" > /dev/null 2> "$dir/err"
"$mpiexec" -n 3 "$regula" train "${rs[@]}" --epochs 3 --checkpoint-dir "$d/ck" --checkpoint-every-epoch > /dev/null 2>> "$dir/err"
"$mpiexec" -n 3 "$regula" train "${rs[@]}" --epochs 6 --checkpoint-dir "$d/ck" --checkpoint-every-epoch --resume "$d/ck" \
    --save "$d/resumed.st" > /dev/null 2>> "$dir/err"
[ -s "$d/whole.st" ] && cmp -s "$d/whole.st" "$d/resumed.st" &&
    ok "ps --staleness 0, 3 x 2: resumed after epoch 3, the model of 6 epochs at once, bit for bit" ||
    bad "ps 3 x 2 resume: $(ls "$d") $(grep -v '^\[' "$dir/err" | head -3)"

# a stop by worker 3 (rank 1's second thread: seed 2 deals it sample 77 at
# step 5; at K > 0 server 0 deals the parts by arrival: any worker)
for spec in "ps --staleness 0|3" "ps --staleness 2|[0-3]" "easgd-async --sync-every 3|3"; do
    s=${spec%|*} who=${spec#*|}
    read -r -a a <<< "$s"
    d="$dir/nf" && rm -rf "$d" && mkdir -p "$d"
    "$mpiexec" -n 3 "$regula" train "${nf[@]}" --seed 2 --workers 2 --strategy "${a[@]}" --save "$d/s.st" --log "$d/l.jsonl" \
        > /dev/null 2> "$d/err"
    code=$?; want=$(mpi_want 4 $code)
    step=$(sed -n "s/.*non-finite loss or gradient at step \([0-9]*\) (epoch 1, worker $who).*/\1/p" "$d/err" | head -1)
    last=$(tail -n 1 "$d/l.jsonl")
    one_end "$s 3 x 2, worker $who's stop" "$d/l.jsonl"
    if [ $code = $want ] && [ -n "$step" ] && [ "$(field stopped "$last")" = '"nonfinite"' ] && [ "$(field step "$last")" = "$step" ] &&
       [ ! -e "$d/s.st" ]; then
        ok "$s 3 x 2: worker $who stops at step $step: exit $code, rank 0's log ends with its end event"
    else bad "$s 3 x 2, worker $who's stop: exit $code, '$(grep -v '^\[' "$d/err" | head -2)', last '$(head -c 200 <<< "$last")'"; fi
    "$mpiexec" -n 3 "$regula" train "${nf[@]}" --workers 2 --strategy "${a[@]}" --skip-nonfinite --log "$d/k.jsonl" \
        > /dev/null 2> "$d/kerr"
    code=$?
    if [ $code = 0 ] && [ "$(field skipped "$(grep '"event":"end"' "$d/k.jsonl")")" = 3 ]; then
        ok "$s 3 x 2: --skip-nonfinite: 3 steps skipped and counted"
    else bad "$s 3 x 2 --skip-nonfinite: exit $code: $(grep '"event":"end"' "$d/k.jsonl") $(grep -v '^\[' "$d/kerr" | head -2)"; fi
done

# one process with threads has no process to serve
for s in ps easgd-async; do
    run 2 -- "$mpiexec" -n 1 "$regula" train "${es[@]}" --workers 2 --strategy $s
    grep -q -- "--strategy $s under mpirun with --workers 2: each process is one worker or .*; run 2 processes or more (there is 1)" "$T/err" &&
        ok "$s on 1 process x 2 threads: exit 2, said" || bad "$s on 1 process x 2 threads: $(cat "$T/err")"
done
# fewer processes than --servers: the same refusal, not the worker count
# it leaves (2 x 2 - 3 x 2 = -2 workers, once reported as "-2 workers")
"$mpiexec" -n 2 "$regula" train "${es[@]}" --workers 2 --strategy ps --servers 3 > /dev/null 2> "$T/err"
code=$?
if [ $code = "$(mpi_want 2 $code)" ] && grep -q -- "--strategy ps under mpirun with --workers 2: each process is one worker or server (the last --servers), its threads in step; run 4 processes or more (there are 2)" "$T/err"; then
    ok "ps --servers 3 on 2 processes x 2 threads: exit $code, said"
else bad "ps --servers 3 on 2 processes x 2 threads: exit $code, $(grep -v '^\[' "$T/err" | head -2)"; fi
finish
