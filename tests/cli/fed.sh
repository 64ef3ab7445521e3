# fed.sh — `regula fed` as a user drives it: a round per progress line,
# the round's clients in the log's epoch events (every field the README
# documents), the summary line in rounds, the same model for 1 and 3
# worker threads under --deterministic, a bitwise resume after a kill (and, for
# every algorithm with state between rounds, after 2 rounds on another worker count), --help.
# Run as: bash fed.sh REGULA_BIN DATA_DIR
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: fed.sh REGULA_BIN DATA_DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-fed-XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 failed=0
ok() { pass=$((pass + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

gen_csv "$T/train.csv" 600 4242
FED=("$REGULA" fed --data "csv:$T/train.csv" --model 'dense(8, relu) dense(3, softmax, l2=0.001)' --clients 20
     --partition dirichlet:0.5 --rounds 3 --sample 0.5 --lr 0.05 --batch 8)

run 0 -- "${FED[@]}" --log "$T/fed.jsonl" --save "$T/a.safetensors"
check "the summary counts rounds" grep -Eq '^train_loss [0-9.]+  train_acc [0-9.]+  rounds 3$' "$T/out"
check "a progress line per round" test "$(grep -c '^round [123]/3  loss ' "$T/err")" -eq 3
check "each round names its clients" grep -q '^round 3/3 .* clients 10  client_loss [0-9.]*+-[0-9.]* worst10 ' "$T/err"
check "the log has 3 epoch events with a fed object" test "$(grep -c '"fed":{"clients":10,"trained":' "$T/fed.jsonl")" -eq 3
check "each round: its clients' accuracy" grep -q '^round 3/3 .* client_acc [0-9.]*+-[0-9.]* worst10 [0-9.]' "$T/err"
for f in client_loss client_drift client_acc; do
    check "the fed object's $f has mean, std and worst10" \
        grep -Eq "\"$f\":\\{\"mean\":[0-9.e-]+,\"std\":[0-9.e-]+,\"worst10\":[0-9.e-]+\\}" "$T/fed.jsonl"
done
# 10 clients x (8 x 4 + 8 + 3 x 8 + 3) parameters x 4 bytes, each way
check "bytes up and down: the sampled clients' models" grep -q '"bytes_up":2680,"bytes_down":2680' "$T/fed.jsonl"
check "the clients' strength factors: 1 without --mu-adapt" grep -q '"strength":{"min":1,"max":1}' "$T/fed.jsonl"

# regula inspect tells the log in rounds, with the federated settings and the last round's clients
run 0 -- "$REGULA" inspect "$T/fed.jsonl"
check "inspect: a federated run of 3 rounds" grep -q "^$T/fed.jsonl: a finished federated run: 3 rounds, " "$T/out"
check "inspect: the training line counts rounds (not train's default 10 epochs)" \
    grep -q '^training:    adam, lr 0.05, batch 8, 3 rounds, seed 1$' "$T/out"
check "inspect: the federated settings" grep -q '^federated:   fedavg, 20 clients (partition dirichlet:0.5), 10 a round, 1 local epoch, aggregate mean' "$T/out"
check "inspect: the last round's clients" \
    grep -Eq '^clients:     round 3: 10 of 10 reported, client_loss [0-9.]+\+-[0-9.]+ worst10 [0-9.]+, client_acc ' "$T/out"
check "inspect: the bytes of the 3 rounds" grep -q '^rounds:      8040 bytes up, 8040 bytes down .*, 0 rounds kept the model$' "$T/out"
check "inspect: best and last round" test "$(grep -c '^best round: \|^last round: ' "$T/out")" -eq 2

# one round is a round (not "1 rounds"), finished or cut short
run 0 -- "${FED[@]}" --rounds 1 --log "$T/one.jsonl"
run 0 -- "$REGULA" inspect "$T/one.jsonl"
check "inspect: a finished run of 1 round" grep -q "^$T/one.jsonl: a finished federated run: 1 round, " "$T/out"
grep -v '"event":"end"' "$T/one.jsonl" >"$T/one-cut.jsonl"
run 0 -- "$REGULA" inspect "$T/one-cut.jsonl"
check "inspect: an unfinished run, 1 round logged" grep -q "killed, or still running): 1 round logged" "$T/out"

# a regression's clients have an MAE (the worst: the highest): 2 clients of 300 samples, one pass each, so
# their mean MAE is the round's running mae and worst10 the mean plus the spread (to the log's 9 digits)
awk 'BEGIN { srand(5); for (i = 0; i < 600; i++) { a = rand(); b = rand(); printf "%.4f,%.4f,%.4f\n", 2 * a - b, a, b } }' \
    >"$T/reg.csv"
run 0 -- "$REGULA" fed --data "csv:$T/reg.csv" --loss mse --model 'dense(8, relu) dense(auto)' --clients 2 --sample 1 \
    --partition iid --rounds 3 --batch 10 --lr 0.05 --log "$T/reg.jsonl"
check "a regression's round line has client_mae" grep -q '^round 3/3 .* client_mae [0-9.]*+-[0-9.]* worst10 ' "$T/err"
check "a regression's fed object: client_mae = the round's mae, worst10 = mean + std; no client_acc" awk '
    /"event":"epoch"/ { n++
        if (index($0, "client_acc")) exit 1
        if (!match($0, /"mae":[0-9.e+-]+/)) exit 1
        mae = substr($0, RSTART + 6, RLENGTH - 6)
        if (!match($0, /"client_mae":\{"mean":[0-9.e+-]+,"std":[0-9.e+-]+,"worst10":[0-9.e+-]+\}/)) exit 1
        split(substr($0, RSTART, RLENGTH), v, /[:,}]/)
        d1 = v[3] - mae; d2 = v[7] - v[3] - v[5]
        if (d1 * d1 > 1e-14 * mae * mae || d2 * d2 > 1e-14 * v[7] * v[7] || v[5] <= 0) exit 1 }
    END { exit n != 3 }' "$T/reg.jsonl"

# --mu-adapt skew weighs the clients' class mixes: a regression has none (it gave every client 1, without a word)
run 2 -- "$REGULA" fed --data "csv:$T/reg.csv" --loss mse --model 'dense(8, relu) dense(auto)' --clients 4 --sample 1 \
    --partition quantity:0.5 --rounds 1 --algo fedprox --mu-adapt skew
check "--mu-adapt skew with a regression: refused, naming the option" \
    grep -q "^regula: --mu-adapt skew: measures each client's mix of classes, and --loss mse is a regression" "$T/err"

run 0 -- "${FED[@]}" --deterministic --save "$T/d1.safetensors"
run 0 -- "${FED[@]}" --deterministic --workers 3 --save "$T/d3.safetensors"
check "--workers 3, 10 clients a round: no idle-worker warning" bash -c "! grep -q 'warning: --workers' '$T/err'"
# a client trains on one worker: with 2 clients a round a third worker idles every round, which went unsaid
run 0 -- "${FED[@]}" --workers 3 --sample 0.1 --rounds 2
check "--workers 3, 2 clients a round: one warning naming both" test "$(grep -c "^regula: warning: --workers 3 is more \
than the 2 clients a round trains (--sample 0.1 of --clients 20): a client trains on one worker, so 1 worker idles every \
round; give --workers 2, or a larger --sample$" "$T/err")" -eq 1
check "--deterministic: 1 and 3 worker threads save the same bytes" cmp -s "$T/d1.safetensors" "$T/d3.safetensors"
run 0 -- "${FED[@]}" --algo fedprox --mu 0 --save "$T/p0.safetensors"
check "fedprox --mu 0 saves fedavg's bytes" cmp -s "$T/a.safetensors" "$T/p0.safetensors"

# a kill mid-run, then --resume from the last round's checkpoint: the straight run, bitwise
# (with another worker count under --deterministic; with the same one without it)
for det in --deterministic ""; do
    rm -rf "$T/ck" "$T/resumed.safetensors"
    # shellcheck disable=SC2086
    run 0 -- "${FED[@]}" $det --rounds 4 --save "$T/straight.safetensors"
    # shellcheck disable=SC2086
    (RG_TEST_CRASH=step:100 exec "${FED[@]}" $det --rounds 4 --checkpoint-every-epoch --checkpoint-dir "$T/ck" \
        --save "$T/resumed.safetensors" >/dev/null 2>&1) 2>/dev/null
    check "the run was killed before its end ($det)" test ! -e "$T/resumed.safetensors"
    check "round checkpoints were left ($det)" test -n "$(ls "$T/ck")"
    workers=1
    [ -n "$det" ] && workers=3
    # shellcheck disable=SC2086
    run 0 -- "${FED[@]}" $det --rounds 4 --workers $workers --checkpoint-every-epoch --resume "$T/ck" --save "$T/resumed.safetensors"
    check "--resume after a kill, $workers workers: the straight run's bytes ($det)" cmp -s "$T/straight.safetensors" "$T/resumed.safetensors"
done

# the algorithms with state between rounds (the server's, SCAFFOLD's and FedDyn's clients', --mu-adapt
# divergence's figures): 2 rounds, then --resume to 4, bitwise the straight 4; under --deterministic the
# 2 rounds on 1 worker, the rest on 3; without it on 1 worker throughout
for algo in "scaffold" "feddyn" "fedadam" "fedyogi" "fedavg --server-momentum 0.9" \
            "fedprox --mu 0.1 --mu-adapt divergence"; do
    for det in --deterministic ""; do
        workers=1
        [ -n "$det" ] && workers=3
        rm -rf "$T/ck"
        # shellcheck disable=SC2086
        run 0 -- "${FED[@]}" --algo $algo $det --rounds 4 --save "$T/straight.safetensors"
        # shellcheck disable=SC2086
        run 0 -- "${FED[@]}" --algo $algo $det --rounds 2 --checkpoint-every-epoch --checkpoint-dir "$T/ck"
        # shellcheck disable=SC2086
        run 0 -- "${FED[@]}" --algo $algo $det --rounds 4 --workers $workers --checkpoint-every-epoch --resume "$T/ck" \
            --save "$T/resumed.safetensors"
        check "--algo $algo $det: 2 rounds, --resume to 4 on $workers workers: the straight run's bytes" \
            cmp -s "$T/straight.safetensors" "$T/resumed.safetensors"
    done
done

# a run resumed from a round's checkpoint validates that round again and logs it again: with its clients' figures
# (the checkpoint's fed.round), the same "fed" object as the first time, not an epoch event without one
rm -rf "$T/ckr" "$T/res.jsonl"
run 0 -- "${FED[@]}" --dp-clip 1 --dp-noise 0.5 --rounds 2 --checkpoint-every-epoch --checkpoint-dir "$T/ckr" --log "$T/res.jsonl"
run 0 -- "${FED[@]}" --dp-clip 1 --dp-noise 0.5 --rounds 3 --resume "$T/ckr" --log "$T/res.jsonl" --progress lines
check "resumed: every epoch event of the log has a fed object" \
    test "$(grep -c '"event":"epoch"' "$T/res.jsonl")" -eq "$(grep -c '"event":"epoch".*"fed":{"clients":10,' "$T/res.jsonl")"
check "resumed: round 2 logged twice" test "$(grep -c '"event":"epoch","epoch":2,' "$T/res.jsonl")" -eq 2
check "resumed: round 2's clients' figures and epsilon the same both times" \
    test "$(grep '"event":"epoch","epoch":2,' "$T/res.jsonl" | sed 's/.*"fed"/"fed"/' | grep '"epsilon"' | sort -u | wc -l)" -eq 1
check "resumed: round 2's progress line names its clients again" grep -q '^round 2/3 .* clients 10  client_loss .* eps ' "$T/err"

# --dp-delta only says at which delta epsilon is reported, so --resume may change it (it was refused): the resumed
# run trains the straight run's bytes, and every round it logs (round 2 again, from the checkpoint, and round 3)
# has the fed object, epsilon included, of a straight run at the new delta; not the checkpoint's epsilon at 1e-5
DP=(--dp-clip 1 --dp-noise 0.5 --rounds 3 --dp-delta 1e-3)
run 0 -- "${FED[@]}" "${DP[@]}" --log "$T/d3-straight.jsonl" --save "$T/d3-straight.safetensors"
run 0 -- "${FED[@]}" "${DP[@]}" --resume "$T/ckr" --log "$T/d3-resumed.jsonl" --save "$T/d3-resumed.safetensors"
check "--resume with another --dp-delta: the straight run's bytes" \
    cmp -s "$T/d3-straight.safetensors" "$T/d3-resumed.safetensors"
fed_of() { grep -E '"event":"epoch","epoch":[23],' "$1" | sed 's/.*"fed"/"fed"/'; }
check "--resume with another --dp-delta: rounds 2 and 3 logged, each with epsilon" \
    test "$(fed_of "$T/d3-resumed.jsonl" | grep -c '"epsilon":')" -eq 2
check "--resume with another --dp-delta: rounds 2 and 3 logged as a straight run at the new delta logs them" \
    diff <(fed_of "$T/d3-straight.jsonl") <(fed_of "$T/d3-resumed.jsonl")

# --mu is fedprox's: under fedavg it trains nothing, and --resume may change it; under fedprox it may not
run 0 -- "${FED[@]}" --rounds 3 --save "$T/mu-straight.safetensors"
rm -rf "$T/ckm"
run 0 -- "${FED[@]}" --rounds 2 --checkpoint-every-epoch --checkpoint-dir "$T/ckm"
run 0 -- "${FED[@]}" --rounds 3 --mu 0.5 --resume "$T/ckm" --save "$T/mu-resumed.safetensors"
check "fedavg --resume with another --mu: the straight run's bytes" cmp -s "$T/mu-straight.safetensors" "$T/mu-resumed.safetensors"
rm -rf "$T/ckm"
run 0 -- "${FED[@]}" --algo fedprox --rounds 2 --checkpoint-every-epoch --checkpoint-dir "$T/ckm"
run 2 -- "${FED[@]}" --algo fedprox --rounds 3 --mu 0.5 --resume "$T/ckm"
check "fedprox --resume with another --mu: refused, naming it" grep -q -- "was trained with --mu 0.01, this run has 0.5" "$T/err"

# --local-epochs 0 (the default) is one pass: a run that says --local-epochs 1 on resuming one that left it out
# trains the same thing, and is not refused; 2 is another
rm -rf "$T/ckl"
run 0 -- "${FED[@]}" --rounds 3 --save "$T/l-straight.safetensors"
run 0 -- "${FED[@]}" --rounds 2 --checkpoint-every-epoch --checkpoint-dir "$T/ckl"
run 0 -- "${FED[@]}" --rounds 3 --local-epochs 1 --resume "$T/ckl" --save "$T/l-resumed.safetensors"
check "--resume with --local-epochs 1 of a run without it: the straight run's bytes" \
    cmp -s "$T/l-straight.safetensors" "$T/l-resumed.safetensors"
run 2 -- "${FED[@]}" --rounds 4 --local-epochs 2 --resume "$T/ckl"
check "--resume with --local-epochs 2 of a run without it: refused" grep -q "was trained with --local-epochs 0, this run has 2" "$T/err"

# FedAdam and FedYogi at the default --server-lr 1 move every weight by up to 1 a round: warned (the run goes on);
# at a rate Reddi et al. tune, and for FedAvg at 1, no warning
for algo in fedadam fedyogi; do
    run 0 -- "${FED[@]}" --algo $algo --rounds 1
    check "--algo $algo at --server-lr 1: a warning naming both options" \
        grep -q "^regula: warning: --algo $algo with --server-lr 1: its server moves every weight by up to --server-lr a round" "$T/err"
    run 0 -- "${FED[@]}" --algo $algo --server-lr 0.01 --rounds 1
    check "--algo $algo at --server-lr 0.01: no warning" bash -c "! grep -q 'warning: --algo' '$T/err'"
done
run 0 -- "${FED[@]}" --rounds 1
check "fedavg at --server-lr 1: no warning" bash -c "! grep -q 'warning: --algo' '$T/err'"

# another algorithm, client count or policy than the checkpoint's: the configuration check refuses it (exit 2)
for other in "--algo scaffold --mu-adapt divergence" "--algo fedprox --mu 0.1 --mu-adapt none" \
             "--algo fedprox --mu 0.1 --mu-adapt divergence --clients 30"; do
    # shellcheck disable=SC2086
    run 2 -- "${FED[@]}" $other --rounds 4 --checkpoint-every-epoch --resume "$T/ck"
    check "--resume with $other: refused, naming the option" grep -q -- "was trained with --" "$T/err"
    check "--resume with $other: what may change is fed's (--client-state, --rounds; not train's --shard-optimizer)" \
        grep -q -- "--client-state, --client-state-dir, --comm-timeout, --dp-delta, --mu outside fedprox and --rounds may change)$" "$T/err"
done

# a server step that overflows (--server-lr 3e38): the run stops at that round's end (exit 4), even under
# --skip-nonfinite, instead of going on with a global model that is not finite (and failing at the end)
for skip in "" --skip-nonfinite; do
    rm -f "$T/over.safetensors"
    # shellcheck disable=SC2086
    run 4 -- "${FED[@]}" --server-lr 3e38 --lr 0.5 --local-epochs 3 $skip --log "$T/over.jsonl" --save "$T/over.safetensors"
    check "an overflowing server step: stopped at round 1's end, saying so (${skip:-plain})" \
        grep -q "^regula: training stopped: step [0-9]* (round 1: a client's step, or the server's at the round's end) made" "$T/err"
    check "... the log's end: stopped, in round 1 (${skip:-plain})" grep -q '"event":"end","stopped":"nonfinite","step":[0-9]*,"epoch":1,' "$T/over.jsonl"
    check "... nothing saved (${skip:-plain})" test ! -e "$T/over.safetensors"
done

# a client's non-finite loss stops the run (exit 4), the message counting rounds
run 4 -- "${FED[@]}" --lr 1e30
check "a non-finite loss: the message names the round" grep -q '^regula: training stopped: non-finite loss or gradient at step [0-9]* (round 1, worker 0)' "$T/err"
check "... a client's blow-up under plain FedAvg: the hint does not name --server-lr" \
    bash -c "grep -q 'try a lower --lr or --clip-norm, or --skip-nonfinite' '$T/err' && ! grep -q -- --server-lr '$T/err'"
# FedAdam's server at --server-lr 1e30 moves every weight by ~1e30 (finite): round 2's clients then blow up, and
# the hint named only their remedies; the server's rate is the one to lower
run 4 -- "${FED[@]}" --algo fedadam --server-lr 1e30
check "a blow-up after FedAdam's server step: the hint names --server-lr" \
    grep -q '^regula: training stopped: non-finite loss or gradient at step [0-9]* (round 2, .*try a lower --server-lr, --lr or --clip-norm' "$T/err"

# early stopping and --save-best count rounds
run 0 -- "${FED[@]}" --val-split 0.2 --early-stop 2 --save-best "$T/best.safetensors"
check "--early-stop: the summary names the best round" grep -Eq '^val_loss .*  rounds 3  \(best round [1-3]\)$' "$T/out"
check "--save-best: says which round it holds" grep -Eq "^regula: the best round, [1-3], is in $T/best.safetensors$" "$T/err"

# a train checkpoint for regula fed, a round's for regula train: refused, saying which is which (not "--clients 0")
run 0 -- "$REGULA" train --data "csv:$T/train.csv" --model 'dense(8, relu) dense(3, softmax, l2=0.001)' --epochs 1 \
    --lr 0.05 --batch 8 --checkpoint-every-epoch --checkpoint-dir "$T/tck"
run 2 -- "${FED[@]}" --rounds 4 --checkpoint-every-epoch --resume "$T/tck"
check "fed --resume from a train checkpoint: refused, naming both commands" \
    grep -q "^regula: --resume: $T/tck/ckpt-[0-9]*.safetensors is a checkpoint of regula train, and this run is regula fed" "$T/err"
run 2 -- "$REGULA" train --data "csv:$T/train.csv" --model 'dense(8, relu) dense(3, softmax, l2=0.001)' --epochs 4 \
    --lr 0.05 --batch 8 --checkpoint-every-epoch --resume "$T/ck"
check "train --resume from a round's checkpoint: refused, naming both commands" \
    grep -q "is a checkpoint of regula fed, and this run is regula train" "$T/err"

# a --config file's keys are held to the command as the command line's options are: a fed key under train
# would have run it federated (rounds for epochs), a train key under fed was ignored; keys both take, and
# any key at its default (the log's config object lists every setting), are fine; eval reads a run's file
echo '{"clients": 10, "rounds": 2, "epochs": 1}' >"$T/fedkeys.json"
run 2 -- "$REGULA" train --data "csv:$T/train.csv" --config "$T/fedkeys.json"
check "train --config with a fed key: refused, naming the file, the key and fed" \
    grep -q "^regula: $T/fedkeys.json: key 'clients' is not an option of 'train' (a federated setting: .* run regula fed" "$T/err"
echo '{"epochs": 5, "lr": 0.05}' >"$T/trainkeys.json"
run 2 -- "${FED[@]}" --config "$T/trainkeys.json"
check "fed --config with --epochs: refused, naming the file and the key" \
    grep -q "^regula: $T/trainkeys.json: key 'epochs' is not an option of 'fed' (a federated run counts rounds" "$T/err"
echo '{"epochs": 10, "clients": 0, "lr": 0.05, "batch": 8, "rounds": 10}' >"$T/defaults.json"
run 0 -- "${FED[@]}" --config "$T/defaults.json" --rounds 1
run 0 -- "$REGULA" train --data "csv:$T/train.csv" --model 'dense(8, relu) dense(3, softmax)' --epochs 1 \
    --config "$T/defaults.json" --save "$T/t.safetensors"
run 0 -- "$REGULA" eval --load "$T/t.safetensors" --data "csv:$T/train.csv" --config "$T/fedkeys.json"

run 0 -- "$REGULA" fed --help
for o in clients rounds sample local-epochs local-steps algo mu mu-adapt feddyn-alpha server-lr server-momentum server-beta1 \
         server-beta2 server-eps partition reg-scope deterministic checkpoint-every-epoch resume; do
    check "fed --help lists --$o" grep -q -- "--$o " "$T/out"
done
check "fed --help does not offer --epochs" bash -c "! grep -q -- '--epochs ' '$T/out'"
# options fed does not take are named as train's, not offered to it
check "fed --help: --deterministic holds for any worker count (--det-shards is train's)" \
    grep -q -- '^  --deterministic  .*any worker count (train: any dividing --det-shards)$' "$T/out"
check "fed --help: --checkpoint-every-epoch, a round's; --checkpoint-every is train's" \
    grep -q -- "^  --checkpoint-every-epoch .*(fed: of each round), beside train's --checkpoint-every$" "$T/out"
run 0 -- "$REGULA" --help
check "regula --help lists fed" grep -q '^  fed ' "$T/out"

echo "cli_fed: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
