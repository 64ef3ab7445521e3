# fed_robust.sh — regula fed's robust aggregation, attacks, differential
# privacy and heterogeneous clients, end to end: 20% sign-flip attackers
# wreck the plain mean and not the median, trimmed mean or Krum; label
# flipping trains on the wrong labels; DP noise changes the model and the
# log carries a finite epsilon that grows with the rounds; Krum's n >= 2F+3
# is refused naming --aggregate; dropouts and stragglers change the
# samples each round's log event reports.
# Run as: bash fed_robust.sh REGULA_BIN DATA_DIR
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: fed_robust.sh REGULA_BIN DATA_DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-fedrobust-XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 failed=0
ok() { pass=$((pass + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

gen_csv "$T/train.csv" 600 4242
# 480 training samples (--val-split 0.2) over 20 clients: 24 each; 10 a round
FED0=("$REGULA" fed --data "csv:$T/train.csv" --model 'dense(8, relu) dense(3, softmax)' --clients 20
      --partition iid --rounds 5 --sample 0.5 --lr 0.05 --batch 8 --val-split 0.2 --seed 2)
FED=("${FED0[@]}" --quiet)

# val_acc of the summary line in $T/out
acc() { sed -n 's/^val_loss [0-9.]*  val_acc \([0-9.]*\) .*/\1/p' "$T/out"; }
vloss() { sed -n 's/^val_loss \([0-9.]*\)  val_acc .*/\1/p' "$T/out"; }
# awk's test of $1 (a number) against a condition on x
holds() { awk -v x="$1" "BEGIN { exit !($2) }"; }

run 0 -- "${FED[@]}" --save "$T/clean.safetensors"
clean=$(acc)
clean_loss=$(vloss)
check "the clean run learns (val_acc $clean)" holds "$clean" "x >= 0.95"
run 0 -- "${FED[@]}" --attack signflip --attackers 0.2
check "signflip, 20% attackers: the mean is wrecked (val_acc $(acc))" holds "$(acc)" "x <= 0.6"
for rule in median trimmed:0.2 krum:2 multikrum:2,5; do
    run 0 -- "${FED[@]}" --attack signflip --attackers 0.2 --aggregate "$rule"
    check "signflip, 20% attackers: --aggregate $rule holds (val_acc $(acc))" holds "$(acc)" "x >= 0.95"
done
run 0 -- "${FED[@]}" --attack labelflip --attackers 1
check "labelflip, every client: the model learns the flipped labels (val_acc $(acc))" holds "$(acc)" "x <= 0.4"
run 0 -- "${FED0[@]}" --rounds 1 --attack signflip --attackers 0.02
check "--attackers 0.02 of 20 clients: round(0.4) = 0 attack, and a warning says so" \
    grep -q '^regula: warning: --attackers 0.02 has no effect: round(FRACTION x --clients) is 0: no client attacks' "$T/err"
run 0 -- "${FED0[@]}" --rounds 1 --attack signflip --attackers 0.03
check "--attackers 0.03 of 20 clients: round(0.6) = 1 attacks, no warning" bash -c "! grep -q 'warning: --attackers' '$T/err'"
run 0 -- "${FED[@]}" --attack noise:1 --attackers 0.2 --save "$T/noise.safetensors"
check "noise attackers change the model" bash -c "! cmp -s '$T/clean.safetensors' '$T/noise.safetensors'"

# Krum's guarantee: n >= 2F+3 clients a round (10 here)
run 2 -- "${FED[@]}" --aggregate krum:4
check "krum:4 with 10 clients a round is refused naming --aggregate" \
    grep -q "^regula: --aggregate krum:4: Krum's guarantee needs n >= 2F+3 = 11 client updates a round, but a round has 10" "$T/err"
run 0 -- "${FED[@]}" --aggregate krum:3
check "krum:3 with 10 clients a round runs" holds "$(acc)" "x >= 0"

# dropouts leave some rounds fewer than Krum's 2F+3 = 7 reports: those keep the model, and say so
run 0 -- "${FED0[@]}" --rounds 6 --aggregate krum:2 --client-dropout 0.5 --log "$T/kept.jsonl" --progress lines
check "krum:2 with dropouts: the rounds with under 7 reports, and only they, keep the model" \
    bash -c "grep '\"event\":\"epoch\"' '$T/kept.jsonl' | awk '{ t = \$0; sub(/.*\"trained\":/, \"\", t); t += 0;
             k = index(\$0, \"\\\"kept\\\":true\") > 0; if ((t < 7) != k) bad = 1; if (k) n++ } END { exit bad || !n }'"
check "the progress line says a round kept the model" grep -q '^round .*(too few reports for --aggregate: model kept)' "$T/err"

# a kept round keeps the model and the server's state: no step, no momentum, no moments, no h/alpha, no
# global L2 step (the model has one): its val_loss is the round's before, to the log's 9 digits
# (krum:1 needs 5 reports; with half dropping out rounds 3 and 5 have 4 here, after rounds that moved)
for algo in "fedavg --server-momentum 0.9" fedadam feddyn scaffold; do
    # shellcheck disable=SC2086
    run 0 -- "${FED[@]}" --model 'dense(8, relu, l2=0.1) dense(3, softmax, l2=0.1)' --rounds 6 --aggregate krum:1 \
        --client-dropout 0.5 --algo $algo --log "$T/keep.jsonl"
    check "--algo $algo: a kept round leaves the model as it was (and some round after a step is kept)" \
        awk '/"event":"epoch"/ { v = $0; sub(/.*"val_loss":/, "", v); v = substr(v, 1, index(v, ",") - 1)
                 k = index($0, "\"kept\":true") > 0
                 if (k && n && v != prev) bad = 1
                 if (k && n && !pk) after++
                 prev = v; pk = k; n++ }
             END { exit bad || !after }' "$T/keep.jsonl"
done

# a round in which no client reports (2 sampled, 99% dropping out): kept, with no client figures (null)
run 0 -- "${FED0[@]}" --rounds 2 --sample 0.1 --client-dropout 0.99 --log "$T/none.jsonl" --progress lines
check "no report: the round keeps the model (\"kept\":true)" \
    test "$(grep -c '"trained":0,.*"kept":true,"client_loss":{"mean":null,"std":null,"worst10":null}' "$T/none.jsonl")" -eq 2
check "no report: no strength factors (null)" grep -q '"strength":{"min":null,"max":null}' "$T/none.jsonl"
check "no report: the progress line says so, without NaN client figures" \
    test "$(grep -c '^round [12]/2 .* clients 0 of 2  (no client reported: model kept)  up 0 MB' "$T/err")" -eq 2
check "no report: no training loss or accuracy on the line (null in the log): '-', not NaN" \
    test "$(grep -c '^round [12]/2  loss -  acc -  ' "$T/err")" -eq 2
run 0 -- "${FED0[@]}" --rounds 1 --client-dropout 0.5 --progress lines
check "the progress line counts the clients that reported of those sampled" grep -Eq '^round 1/1 .* clients [0-9] of 10  client_loss ' "$T/err"

# DP-FedAvg: the noise changes the model; epsilon in every round's event, finite, growing
run 0 -- "${FED[@]}" --dp-clip 0.01
check "clipping updates to norm 0.01 holds the model back (val_loss $(vloss) against $clean_loss)" \
    holds "$(vloss)" "x > $clean_loss + 0.5"
run 0 -- "${FED[@]}" --dp-clip 0.5 --save "$T/clip.safetensors"
run 0 -- "${FED[@]}" --dp-clip 0.5 --dp-noise 1 --save "$T/dp.safetensors" --log "$T/dp.jsonl"
check "DP noise changes the model" bash -c "! cmp -s '$T/clip.safetensors' '$T/dp.safetensors'"
eps=$(grep -o '"epsilon":[0-9.e+-]*' "$T/dp.jsonl" | cut -d: -f2 | tr '\n' ' ')
check "epsilon in each of the 5 round events ($eps)" test "$(echo "$eps" | wc -w)" -eq 5
check "epsilon is finite, positive and grows with the rounds" \
    awk -v e="$eps" 'BEGIN { n = split(e, v, " "); for (i = 1; i <= n; i++) if (!(v[i] + 0 > 0 && v[i] + 0 < 1e6) || (i > 1 && v[i] + 0 <= v[i - 1] + 0)) exit 1 }'
run 0 -- "${FED[@]}" --dp-clip 0.5 --dp-noise 1 --dp-delta 1e-3 --log "$T/dp3.jsonl"
e3=$(grep -o '"epsilon":[0-9.e+-]*' "$T/dp3.jsonl" | head -1 | cut -d: -f2)
check "a larger --dp-delta gives a smaller epsilon ($e3 < ${eps%% *})" holds "$e3" "x < ${eps%% *}"
run 0 -- "${FED[@]}" --log "$T/clean.jsonl"
check "no epsilon without --dp-clip" bash -c "! grep -q epsilon '$T/clean.jsonl'"
run 0 -- "${FED0[@]}" --rounds 1 --dp-delta 1e-3
check "--dp-delta without --dp-clip: a warning that it changes nothing" \
    grep -q '^regula: warning: --dp-delta 0.001 has no effect: .* --dp-clip is off' "$T/err"

# heterogeneous clients: the samples each round reports
check "clean: every round, 10 clients of 24 samples, none dropped or straggling" \
    test "$(grep -c '"fed":{"clients":10,"trained":10,"samples":240,"dropped":0,"stragglers":0,' "$T/clean.jsonl")" -eq 5
run 0 -- "${FED[@]}" --client-dropout 0.3 --log "$T/drop.jsonl" --save "$T/drop.safetensors"
check "--client-dropout: some round has clients that did not report" grep -q '"dropped":[1-9]' "$T/drop.jsonl"
check "--client-dropout: each round reports 24 samples for each client that reported" \
    bash -c "grep -o '\"trained\":[0-9]*,\"samples\":[0-9]*,\"dropped\":[0-9]*' '$T/drop.jsonl' | \
             awk -F'[:,]' '{ if (\$4 != 24 * \$2 || \$2 + \$6 != 10) bad = 1 } END { exit bad }'"
check "--client-dropout changes the model" bash -c "! cmp -s '$T/clean.safetensors' '$T/drop.safetensors'"
run 0 -- "${FED[@]}" --straggler-frac 1 --log "$T/strag.jsonl" --save "$T/strag.safetensors"
check "--straggler-frac 1: every client straggles, every round" \
    test "$(grep -c '"trained":10,"samples":[0-9]*,"dropped":0,"stragglers":10,' "$T/strag.jsonl")" -eq 5
check "--straggler-frac 1: fewer samples than the full work in every round" \
    bash -c "grep -o '\"samples\":[0-9]*,\"dropped\"' '$T/strag.jsonl' | tr -dc '0-9\n' | awk '{ if (\$1 >= 240) bad = 1 } END { exit bad }'"
check "--straggler-frac changes the model" bash -c "! cmp -s '$T/clean.safetensors' '$T/strag.safetensors'"

# the same under 3 worker threads: the attack, the rule and the draws do not depend on who trains whom
run 0 -- "${FED[@]}" --deterministic --attack signflip --attackers 0.2 --aggregate median --client-dropout 0.2 \
    --save "$T/r1.safetensors"
run 0 -- "${FED[@]}" --deterministic --attack signflip --attackers 0.2 --aggregate median --client-dropout 0.2 \
    --workers 3 --save "$T/r3.safetensors"
check "--deterministic: 1 and 3 workers save the same bytes with attackers, median and dropouts" \
    cmp -s "$T/r1.safetensors" "$T/r3.safetensors"

# a kill mid-run and --resume from the last round's checkpoint: the attackers, dropouts, stragglers and DP
# noise are drawn again, and the model is the straight run's, bitwise
ALL=(--rounds 4 --attack signflip --attackers 0.2 --client-dropout 0.2 --straggler-frac 0.5 --dp-clip 1 --dp-noise 0.5)
run 0 -- "${FED[@]}" "${ALL[@]}" --save "$T/straight.safetensors"
(RG_TEST_CRASH=step:35 exec "${FED[@]}" "${ALL[@]}" --checkpoint-every-epoch --checkpoint-dir "$T/ck" \
    --save "$T/resumed.safetensors" >/dev/null 2>&1) 2>/dev/null
check "the run was killed before its end" test ! -e "$T/resumed.safetensors"
check "round checkpoints were left" test -n "$(ls "$T/ck" 2>/dev/null)"
run 0 -- "${FED[@]}" "${ALL[@]}" --checkpoint-every-epoch --resume "$T/ck" --save "$T/resumed.safetensors"
check "--resume after a kill: the straight run's bytes, with attackers, dropouts, stragglers and DP" \
    cmp -s "$T/straight.safetensors" "$T/resumed.safetensors"

run 0 -- "$REGULA" fed --help
for o in aggregate attack attackers dp-clip dp-noise dp-delta client-dropout straggler-frac; do
    check "fed --help lists --$o" grep -q -- "--$o " "$T/out"
done

echo "cli_fed_robust: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
