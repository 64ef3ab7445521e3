#!/usr/bin/env bash
# regula fed across MPI processes: the clients spread over processes (and
# threads per process) give the model of one process, bitwise under
# --deterministic (1 worker, 2 processes, 2 x 2, 3 threads) and to float
# order without it; a kill and --resume from the last round's checkpoint
# with 2 processes is the straight run, bitwise, and so is a stateful algorithm's
# (SCAFFOLD; FedProx with momentum and divergence) resumed across process
# counts; rank 0 alone prints a line per round.
# Usage: fed_mpi.sh REGULA MPIEXEC
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
common=(--data "csv:$dir/d.csv" --test-data "csv:$dir/d.csv" --rounds 4 --batch 8 --lr 0.05 --clients 16
        --partition dirichlet:0.5 --sample 0.5 --local-epochs 2 --algo fedprox --mu 0.1
        --model 'dense(12, relu, l2=0.01) dropout(0.2) dense(3, softmax, l2=0.01)' --log-every 0)

"$regula" fed "${common[@]}" --deterministic --save "$dir/one.st" > /dev/null 2>&1 || bad "1 worker"
"$regula" fed "${common[@]}" --deterministic --workers 3 --save "$dir/t3.st" > /dev/null 2>&1 || bad "3 threads"
"$mpiexec" -n 2 "$regula" fed "${common[@]}" --deterministic --save "$dir/p2.st" > "$dir/p2.out" 2> "$dir/p2.err" ||
  bad "2 processes"
"$mpiexec" -n 2 "$regula" fed "${common[@]}" --deterministic --workers 2 --save "$dir/p22.st" > /dev/null 2>&1 || bad "2 x 2"
for f in t3 p2 p22; do
  if cmp -s "$dir/one.st" "$dir/$f.st"; then ok "--deterministic: $f bitwise equal to 1 worker"; else bad "--deterministic: $f differs from 1 worker"; fi
done
[ "$(grep -c test_acc "$dir/p2.out")" = 1 ] && ok "one summary line from 2 processes" || bad "summary printed $(grep -c test_acc "$dir/p2.out") times"
[ "$(grep -c '^round [1234]/4  loss' "$dir/p2.err")" = 4 ] && ok "a line per round, from rank 0 alone" ||
  bad "round lines: $(grep -c '^round' "$dir/p2.err")"

# the attack, the robust rule, DP's noise and the dropouts and stragglers are keyed by (seed, round, client):
# 2 processes x 2 threads save one worker's bytes, and rank 0's epsilon is logged
rob=(--deterministic --attack signflip --attackers 0.25 --aggregate trimmed:0.25 --client-dropout 0.2 --straggler-frac 0.5)
"$regula" fed "${common[@]}" "${rob[@]}" --save "$dir/r1.st" > /dev/null 2>&1 || bad "1 worker, robust"
"$mpiexec" -n 2 "$regula" fed "${common[@]}" "${rob[@]}" --workers 2 --save "$dir/r22.st" > /dev/null 2>&1 || bad "2 x 2, robust"
cmp -s "$dir/r1.st" "$dir/r22.st" && ok "attackers, trimmed mean, dropouts, stragglers: 2 x 2 bitwise 1 worker" ||
  bad "robust run: 2 x 2 differs from 1 worker"
dp=(--deterministic --algo fedavg --dp-clip 0.5 --dp-noise 0.8)
"$regula" fed "${common[@]}" "${dp[@]}" --save "$dir/d1.st" > /dev/null 2>&1 || bad "1 worker, DP"
"$mpiexec" -n 2 "$regula" fed "${common[@]}" "${dp[@]}" --save "$dir/d2.st" --log "$dir/d2.jsonl" > /dev/null 2>&1 ||
  bad "2 processes, DP"
cmp -s "$dir/d1.st" "$dir/d2.st" && ok "DP-FedAvg: 2 processes bitwise 1 worker" || bad "DP run: 2 processes differ"
[ "$(grep -c '"epsilon":[0-9]' "$dir/d2.jsonl")" = 4 ] && ok "DP: epsilon in each round's event" ||
  bad "DP: epsilon in $(grep -c '"epsilon":[0-9]' "$dir/d2.jsonl") of 4 round events"

# without --deterministic: to float order (the sum of the clients' updates)
"$regula" fed "${common[@]}" --save "$dir/n1.st" > /dev/null 2>&1 || bad "1 worker, not deterministic"
"$mpiexec" -n 2 "$regula" fed "${common[@]}" --save "$dir/n2.st" > /dev/null 2>&1 || bad "2 processes, not deterministic"
"$regula" inspect "$dir/n1.st" > "$dir/n1.txt" 2>&1 && "$regula" inspect "$dir/n2.st" > "$dir/n2.txt" 2>&1 ||
  bad "inspect the saved models"
# the per-tensor L2 norms (inspect's fourth column, 4 significant digits) agree
if paste <(awk '/^ *[a-z0-9_.]+ +F32/ { print $4 }' "$dir/n1.txt") <(awk '/^ *[a-z0-9_.]+ +F32/ { print $4 }' "$dir/n2.txt") |
   awk 'NF == 2 && $1 != "" { n++; if ($1 != $2) bad = 1 } END { exit !(n >= 4 && !bad) }'; then
  ok "2 processes: the same model to float order (inspect's norms agree)"
else
  bad "2 processes differ: $(paste "$dir/n1.txt" "$dir/n2.txt" | head -8)"
fi

# a kill mid-run (step 60 of rank 0), and --resume from the last round's checkpoint, with 2 processes
ck=(--checkpoint-every-epoch --checkpoint-dir "$dir/ck")
(RG_TEST_CRASH=step:60@0 exec "$mpiexec" -n 2 "$regula" fed "${common[@]}" --deterministic "${ck[@]}" --save "$dir/part.st" > /dev/null 2>&1)
[ -e "$dir/part.st" ] && bad "the killed run finished (step 60 is past the run)"
[ -n "$(ls "$dir/ck" 2>/dev/null)" ] && ok "the killed run left round checkpoints: $(ls "$dir/ck" | tr '\n' ' ')" || bad "no checkpoint before the kill"
"$mpiexec" -n 2 "$regula" fed "${common[@]}" --deterministic --checkpoint-every-epoch --resume "$dir/ck" \
  --save "$dir/resumed.st" > /dev/null 2> "$dir/resume.err" || bad "resume: $(tail -3 "$dir/resume.err")"
cmp -s "$dir/one.st" "$dir/resumed.st" && ok "kill and --resume: bitwise the straight run" || bad "the resumed run differs"

# the algorithms with state between rounds: 2 rounds on 2 processes x 2 threads (every worker checks at each
# checkpoint that it holds world rank 0's state), --resume to 4 on 1 process, and 2 rounds on 1 worker,
# --resume to 4 on 2 processes (rank 0 reads the state and sends it): the straight run of 1 worker, bitwise
for algo in "--algo scaffold" "--algo fedprox --mu 0.1 --mu-adapt divergence --server-momentum 0.5"; do
  # shellcheck disable=SC2086
  "$regula" fed "${common[@]}" $algo --deterministic --save "$dir/s1.st" > /dev/null 2>&1 || bad "$algo: straight"
  for way in "2x2 1" "1 2"; do
    read -r first then <<< "$way"
    rm -rf "$dir/sk"
    start=("$regula") resume=("$regula")
    [ "$first" = 2x2 ] && start=("$mpiexec" -n 2 "$regula")
    [ "$then" = 2 ] && resume=("$mpiexec" -n 2 "$regula")
    workers=1
    [ "$first" = 2x2 ] && workers=2
    # shellcheck disable=SC2086
    "${start[@]}" fed "${common[@]}" $algo --deterministic --rounds 2 --workers $workers --checkpoint-every-epoch \
      --checkpoint-dir "$dir/sk" > /dev/null 2> "$dir/sk.err" || bad "$algo: 2 rounds on $first: $(tail -2 "$dir/sk.err")"
    # shellcheck disable=SC2086
    "${resume[@]}" fed "${common[@]}" $algo --deterministic --checkpoint-every-epoch --resume "$dir/sk" \
      --save "$dir/sr.st" > /dev/null 2> "$dir/sr.err" || bad "$algo: resume on $then: $(tail -2 "$dir/sr.err")"
    cmp -s "$dir/s1.st" "$dir/sr.st" && ok "$algo: 2 rounds on $first, --resume on $then: bitwise 1 worker's 4" ||
      bad "$algo: 2 rounds on $first, --resume on $then differs"
  done
done

echo "fed_mpi: $pass passed, $fail failed"
[ $fail = 0 ]
