#!/usr/bin/env bash
# Training across MPI processes agrees with threads and with one worker:
# bitwise under --deterministic (1 worker, 2 processes, 2 x 2, 4 threads),
# to float summation order without it; only rank 0 writes the log and the
# checkpoint (--save-best and --checkpoint-every-epoch too); a non-finite
# loss stops every rank with exit code 4; a
# parameter server (--strategy ps) with staleness 0 is all-reduce, and
# --pull-first's reads lack the worker's own last push; what
# every process would say alike (a data error, --help, a warning) is said
# once.
# Usage: train_mpi.sh REGULA MPIEXEC
set -u
regula=$1 mpiexec=$2
# shellcheck source=launcher.bash
source "$(dirname "${BASH_SOURCE[0]}")/launcher.bash"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# a small CSV: 400 samples, 6 features, 3 classes
awk 'BEGIN { srand(7); for (i = 0; i < 400; i++) { c = i % 3; line = c;
  for (j = 0; j < 6; j++) line = line "," ((j == c ? 1.5 : 0) + rand() * 2 - 1); print line } }' > "$dir/d.csv"
common=(--data "csv:$dir/d.csv" --test-data "csv:$dir/d.csv" --epochs 3 --batch 40 --lr 0.01
        --model 'dense(12, relu, l2=0.01) dropout(0.2) dense(3, softmax, l2=0.01)' --log-every 0)

"$regula" train "${common[@]}" --deterministic --det-shards 4 --save "$dir/one.st" --save-best "$dir/one-best.st" > /dev/null 2>&1 || bad "1 worker"
"$regula" train "${common[@]}" --deterministic --det-shards 4 --workers 4 --save "$dir/t4.st" > /dev/null || bad "4 threads"
"$mpiexec" -n 2 "$regula" train "${common[@]}" --deterministic --det-shards 4 --save "$dir/p2.st" --log "$dir/p2.jsonl" \
  --save-best "$dir/p2-best.st" --checkpoint-every-epoch --checkpoint-dir "$dir/p2ck" > "$dir/p2.out" 2> /dev/null || bad "2 processes"
"$mpiexec" -n 2 "$regula" train "${common[@]}" --deterministic --det-shards 4 --workers 2 --save "$dir/p22.st" > /dev/null || bad "2 x 2"
for f in t4 p2 p22; do
  if cmp -s "$dir/one.st" "$dir/$f.st"; then ok "--deterministic: $f bitwise equal to 1 worker"; else bad "--deterministic: $f differs from 1 worker"; fi
done
# --save-best and --checkpoint-every-epoch: rank 0 writes them, the others waiting in their next exchange
cmp -s "$dir/one-best.st" "$dir/p2-best.st" && ok "--save-best: 2 processes' bitwise 1 worker's" || bad "--save-best differs"
[ "$(ls "$dir/p2ck" | tr '\n' ' ')" = "ckpt-000000000010.safetensors ckpt-000000000020.safetensors ckpt-000000000030.safetensors " ] &&
  ok "--checkpoint-every-epoch: one checkpoint per epoch, from rank 0" || bad "--checkpoint-every-epoch: $(ls "$dir/p2ck")"
# rank 0 alone prints and logs
[ "$(grep -c test_acc "$dir/p2.out")" = 1 ] && ok "one summary line from 2 processes" || bad "summary printed $(grep -c test_acc "$dir/p2.out") times"
grep -q '"workers":2' "$dir/p2.jsonl" && grep -q '"processes":2' "$dir/p2.jsonl" && ok "log says 2 workers, 2 processes" || bad "log lacks workers/processes"
[ "$(grep -c '"event":"end"' "$dir/p2.jsonl")" = 1 ] && ok "one end event" || bad "end events: $(grep -c '"event":"end"' "$dir/p2.jsonl")"

# without --deterministic: the same to summation order
"$regula" train "${common[@]}" --save "$dir/a.st" > "$dir/a.out" || bad "1 worker (plain)"
"$mpiexec" -n 2 "$regula" train "${common[@]}" --save "$dir/b.st" > "$dir/b.out" || bad "2 processes (plain)"
if [ "$(cat "$dir/a.out")" = "$(cat "$dir/b.out")" ]; then ok "plain: same 4-digit test figures ($(cat "$dir/a.out"))"; else bad "plain: $(cat "$dir/a.out") vs $(cat "$dir/b.out")"; fi

# a parameter server over processes: staleness 0 is all-reduce of the same
# training workers (2 here, and 1 or 2 servers); staleness 2 logs how stale
# each read was; a diverging worker stops the job with exit 4
"$regula" train "${common[@]}" --workers 2 --save "$dir/t2.st" > "$dir/t2.out" || bad "2 threads (plain)"
for s in 1 2; do
  "$mpiexec" -n $((2 + s)) "$regula" train "${common[@]}" --strategy ps --servers $s --staleness 0 > "$dir/ps$s.out" 2> "$dir/ps$s.err" || bad "ps, $s server(s): $(cat "$dir/ps$s.err")"
  if [ "$(cat "$dir/t2.out")" = "$(cat "$dir/ps$s.out")" ]; then ok "ps --staleness 0, $s server(s): the same test figures as all-reduce ($(cat "$dir/ps$s.out"))"; else bad "ps, $s server(s): $(cat "$dir/ps$s.out") vs $(cat "$dir/t2.out")"; fi
done
# ... and through a codec: 2 processes pushing top-k to a server are 2
# threads all-reducing top-k
"$regula" train "${common[@]}" --workers 2 --compress topk:0.05 > "$dir/t2k.out" || bad "2 threads, topk"
"$mpiexec" -n 3 "$regula" train "${common[@]}" --strategy ps --staleness 0 --compress topk:0.05 --log "$dir/psk.jsonl" > "$dir/psk.out" 2> "$dir/psk.err" || bad "ps topk: $(cat "$dir/psk.err")"
if [ "$(cat "$dir/t2k.out")" = "$(cat "$dir/psk.out")" ] && grep -q '"compression":' "$dir/psk.jsonl"; then ok "ps --staleness 0 --compress topk:0.05: all-reduce's test figures, compression logged ($(cat "$dir/psk.out"))"; else bad "ps topk: $(cat "$dir/psk.out") vs $(cat "$dir/t2k.out")"; fi
"$mpiexec" -n 4 "$regula" train "${common[@]}" --strategy ps --staleness 2 --log "$dir/ps.jsonl" > /dev/null 2> "$dir/ps.err" &&
  grep -q '"servers":1' "$dir/ps.jsonl" && grep -q '"workers":3' "$dir/ps.jsonl" && grep -q '"staleness":\[' "$dir/ps.jsonl" &&
  ok "ps --staleness 2 on 4 processes: 3 workers, 1 server, staleness counts logged" || bad "ps --staleness 2: $(cat "$dir/ps.err")"
# --pull-first: the server answers a pull before it applies the push sent
# with it, where it sees the pull first: one worker, whose reads without it
# are all fresh (staleness 0, 10 an epoch); with it every epoch's 10 reads
# are counted, and some lack the worker's own last push.  MPI need not
# deliver a pull before the push sent after it (their tags differ), and a
# push the server sees first is applied first, so how many is the
# transport's (threads: all but the first after a full sync,
# test_strategies.c).
"$mpiexec" -n 2 "$regula" train "${common[@]}" --strategy ps --staleness 4 --pull-first --log "$dir/pf.jsonl" > /dev/null 2> "$dir/pf.err" &&
  grep '"event":"epoch"' "$dir/pf.jsonl" | sed 's/.*"staleness":\[\([^]]*\)\].*/\1/' |
  awk -F, '{ s = 0; for (i = 1; i <= NF; i++) s += $i; bad += s != 10; stale += s - $1 } END { exit !(NR == 3 && !bad && stale > 0) }' &&
  ok "ps --pull-first, 1 worker process: reads that lack its last push, every read counted" ||
  bad "ps --pull-first: $(cat "$dir/pf.err") $(grep -o '"staleness":\[[^]]*\]' "$dir/pf.jsonl" | tr '\n' ' ')"
# K > 0: server 0 deals the steps' parts to whichever process is free, so
# the epoch's 400 samples are dealt, each once, unevenly (2 workers and 2
# servers: the other server's shard follows the dealt step; a fixed share
# would be [200,200] every epoch).  Which worker takes more is the OS's
# doing too: 4 processes on 2 cores, the servers polling, starved the
# fast worker below the 50-times straggler in 1 epoch of 3 in a CI run
# ([280,120] [200,200] [120,280]), so the straggler's smaller share is
# checked on threads (test_ps_deals).  A wider model than the others':
# --straggler multiplies the compute time, and 50 times the small
# model's few microseconds is less than what a message costs.
"$mpiexec" -n 4 "$regula" train "${common[@]}" --model 'dense(128, relu) dense(128, relu) dense(3, softmax)' --strategy ps --servers 2 --staleness 2 --straggler 1:50 --log "$dir/psd.jsonl" > /dev/null 2> "$dir/psd.err" || bad "ps dealing: $(cat "$dir/psd.err")"
split=$(grep -o '"samples":\[[0-9]*,[0-9]*\]' "$dir/psd.jsonl" | tr -d '"samples:[]' | awk -F, '$1 + $2 == 400 { n++ } $1 != $2 { u++ } END { print n + 0, u + 0 }')
if [ "${split% *}" = 3 ] && [ "${split#* }" -gt 0 ]; then ok "ps --staleness 2, straggler 1:50, 2 processes and 2 servers: dealt unevenly, 400 samples an epoch ($(grep -o '"samples":\[[0-9,]*\]' "$dir/psd.jsonl" | tr '\n' ' '))"; else bad "ps dealing: $(grep -o '"samples":\[[0-9,]*\]' "$dir/psd.jsonl" | tr '\n' ' ')"; fi
"$mpiexec" -n 3 "$regula" train "${common[@]}" --strategy ps --optimizer sgd --lr 1e30 > /dev/null 2> "$dir/psnf.err"
code=$?
# MPICH's hydra reports the SIGKILL it sends the other ranks once the first
# leaves (9) or that rank's 4, by timing (as dead_peer.sh notes); each
# rank's own status and the message are regula's
want=$(mpi_want 4 $code)
# (at K > 0 which comes first is timing's: a worker's non-finite loss, or
# the server's report that its update of an earlier step broke a weight)
[ $code = $want ] && grep -Eq "non-finite loss or gradient at step|the update of step [0-9]+ \(epoch [0-9]+\) made a weight" "$dir/psnf.err" &&
  ok "ps non-finite: exit $code naming the step" || bad "ps non-finite: exit $code: $(cat "$dir/psnf.err")"

# asynchronous EASGD over processes: one worker and the centre are
# synchronous EASGD's one worker, bit for bit; three workers train
"$regula" train "${common[@]}" --strategy easgd --sync-every 3 --save "$dir/e1.st" > /dev/null || bad "easgd, 1 worker"
"$mpiexec" -n 2 "$regula" train "${common[@]}" --strategy easgd-async --sync-every 3 --save "$dir/ea2.st" > /dev/null 2> "$dir/ea.err" || bad "easgd-async -n 2: $(cat "$dir/ea.err")"
cmp -s "$dir/e1.st" "$dir/ea2.st" && ok "easgd-async, 1 worker + centre on 2 processes: bitwise synchronous EASGD" || bad "easgd-async -n 2 differs from easgd"
# local SGD through a codec: the sums are in rank order on either path,
# so 2 processes give 2 threads' bits
lc=(--strategy local-sgd --sync-every 3 --compress topk:0.05)
"$regula" train "${common[@]}" "${lc[@]}" --workers 2 --save "$dir/lc2.st" > /dev/null || bad "local-sgd topk, 2 threads"
"$mpiexec" -n 2 "$regula" train "${common[@]}" "${lc[@]}" --save "$dir/lcm.st" > /dev/null 2> "$dir/lc.err" || bad "local-sgd topk -n 2: $(cat "$dir/lc.err")"
cmp -s "$dir/lc2.st" "$dir/lcm.st" && ok "local-sgd --compress topk: 2 processes bitwise 2 threads" || bad "local-sgd --compress topk: 2 processes differ from 2 threads"
"$mpiexec" -n 4 "$regula" train "${common[@]}" --strategy easgd-async --sync-every 3 --log "$dir/ea4.jsonl" > "$dir/ea4.out" 2> "$dir/ea.err" &&
  grep -q '"workers":3' "$dir/ea4.jsonl" && ok "easgd-async on 4 processes: 3 workers and the centre ($(cat "$dir/ea4.out"))" || bad "easgd-async -n 4: $(cat "$dir/ea.err")"

# a diverging run stops every rank with exit code 4
"$mpiexec" -n 2 "$regula" train "${common[@]}" --optimizer sgd --lr 1e30 > /dev/null 2> "$dir/nf.err"
code=$?
[ $code = 4 ] && ok "non-finite: exit 4 from mpiexec" || bad "non-finite: exit $code"
grep -q "non-finite loss or gradient at step" "$dir/nf.err" && ok "non-finite: message names the step" || bad "non-finite message: $(cat "$dir/nf.err")"

# a failure of one process only (rank 0 cannot open the log) stops the
# others too instead of leaving them in a collective
timeout 120 "$mpiexec" -n 2 "$regula" train "${common[@]}" --log "$dir/no/such/dir/x.jsonl" > /dev/null 2> "$dir/log.err"
code=$?
[ $code != 0 ] && [ $code != 124 ] && ok "one process failing at setup: the job ends (exit $code)" || bad "one process failing at setup: exit $code"
grep -q "no/such/dir/x.jsonl" "$dir/log.err" && ok "its message names the log file" || bad "message: $(cat "$dir/log.err")"

# what every process would say alike is said once (issue 14): an error on
# the data, --help, a bad option, a warning; progress comes from rank 0
"$mpiexec" -n 2 "$regula" train --data "csv:$dir/missing.csv" > /dev/null 2> "$dir/once.err"
code=$?
[ $code = 3 ] && ok "missing data: exit 3" || bad "missing data: exit $code"
[ "$(grep -c 'missing.csv: cannot open' "$dir/once.err")" = 1 ] && ok "missing data: said once" ||
  bad "missing data said $(grep -c 'missing.csv' "$dir/once.err") times: $(cat "$dir/once.err")"
"$mpiexec" -n 2 "$regula" train --help > "$dir/help.out" 2>&1
[ "$(grep -c '^Usage: regula train' "$dir/help.out")" = 1 ] && ok "--help printed once" || bad "--help printed $(grep -c '^Usage' "$dir/help.out") times"
"$mpiexec" -n 2 "$regula" train --learning-rate 0.1 > /dev/null 2> "$dir/opt.err"
[ "$(grep -c 'unknown option --learning-rate' "$dir/opt.err")" = 1 ] && ok "a bad option: said once" || bad "a bad option said $(grep -c 'learning-rate' "$dir/opt.err") times"
"$mpiexec" -n 2 "$regula" train "${common[@]}" --momentum 0.5 > /dev/null 2> "$dir/warn.err" || bad "a warning: the run fails"
[ "$(grep -c 'warning: --momentum 0.5 has no effect' "$dir/warn.err")" = 1 ] && ok "a warning: said once" || bad "a warning said $(grep -c 'momentum' "$dir/warn.err") times"
[ "$(grep -c '^epoch [123]/3  loss' "$dir/warn.err")" = 3 ] && ok "a line per epoch, from rank 0 alone" || bad "epoch lines: $(grep -c '^epoch' "$dir/warn.err")"

echo "train_mpi: $pass passed, $fail failed"
[ $fail = 0 ]
