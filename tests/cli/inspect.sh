# inspect.sh — `regula inspect` on what train writes: a checkpoint, a
# training checkpoint, a log (finished and killed); bad files.  The
# figures of a checkpoint of known contents are test_inspect.c's.
# Run as: bash inspect.sh REGULA_BIN DATA_DIR
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: inspect.sh REGULA_BIN DATA_DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-inspect-XXXXXX")
trap 'rm -rf "$T"' EXIT

# field EVENT KEY: KEY's value in the log's last EVENT event, as %.6g
field() { grep "\"event\":\"$1\"" "$T/log.jsonl" | tail -1 | sed -n "s/.*\"$2\":\([-0-9.e]*\).*/\1/p" | awk '{ printf "%.6g", $1 }'; }

gen_csv "$T/train.csv" 200 31337
MODEL='dense(6, relu, l2=0.01) dense(3, softmax)'
run 0 -- "$REGULA" train --data "csv:$T/train.csv" --test-data "csv:$T/train.csv" --model "$MODEL" --batch 16 \
    --epochs 4 --early-stop 5 --val-split 0.25 --workers 2 --checkpoint-every 5 --checkpoint-dir "$T/ck" \
    --save "$T/m.safetensors" --log "$T/log.jsonl" || exit 1

# --- a checkpoint
run 0 -- "$REGULA" inspect "$T/m.safetensors"
check "four tensors with their shapes" grep -Eq '^  dense_0.weight +F32 +\[6, 4\] +24 ' "$T/out"
check "bias shape" grep -Eq '^  dense_1.bias +F32 +\[3\] +3 ' "$T/out"
check "metadata: spec" grep -q "spec  *$MODEL" "$T/out"
check "metadata: format" grep -q 'format  *regula-1' "$T/out"
check "totals" grep -q '4 tensors, 51 elements' "$T/out"

# --- a training checkpoint: optimizer state and the run's config too
ck=$(ls "$T/ck"/ckpt-*.safetensors | tail -1)
run 0 -- "$REGULA" inspect "$ck"
check "training checkpoint: optimizer moments" grep -Eq '^  optimizer.1 +F32 +\[51\]' "$T/out"
check "training checkpoint: kind" grep -q 'kind  *training' "$T/out"
check "long config shortened" grep -q 'characters; --full prints it whole' "$T/out"
run 0 -- "$REGULA" inspect --full "$ck"
check "--full prints the config whole" grep -q '"skip-nonfinite": false, .*"verbose": false}' "$T/out"

# --- a log: the run in brief, its figures those of the log
run 0 -- "$REGULA" inspect "$T/log.jsonl"
check "finished, with epochs and steps" grep -q "a finished run: 4 epochs, $(field end steps) steps" "$T/out"
check "the model" grep -q "model: *$MODEL (51 parameters)" "$T/out"
check "workers and partition" grep -q 'workers: *2 in 1 process, strategy allreduce, partition iid' "$T/out"
best=$(field end best_epoch)
bestloss=$(grep "\"event\":\"epoch\",\"epoch\":$best," "$T/log.jsonl" | sed -n 's/.*"val_loss":\([-0-9.e]*\).*/\1/p' | awk '{ printf "%.6g", $1 }')
check "best epoch $best, val_loss $bestloss" grep -q "best epoch: *$best: .*val_loss $bestloss," "$T/out"
check "last epoch" grep -q "last epoch: *4: loss $(field epoch loss), acc $(field epoch acc)," "$T/out"
check "final figures" grep -q "end: *test_loss $(field end test_loss), test_acc $(field end test_acc), train_loss $(field end train_loss)" "$T/out"
check "bytes sent" grep -Eq 'totals: .* s of training, [1-9][0-9]* bytes sent' "$T/out"

# --- a killed run's log
grep -v '"event":"end"' "$T/log.jsonl" | grep -v '"epoch":4,' >"$T/cut.jsonl"
printf '{"event":"epoch","epo' >>"$T/cut.jsonl"
run 0 -- "$REGULA" inspect "$T/cut.jsonl"
check "unfinished run said" grep -q 'an unfinished run (no end event.*3 epochs logged' "$T/out"
check "its cut line noted" grep -q 'cut.jsonl:[0-9]*: the last line is not a whole event' "$T/err"
check "best epoch from the monitored figure" grep -q 'best epoch: *[1-3]:' "$T/out"

# --- several files, and errors: exit 3 naming the file, 2 for usage
run 0 -- "$REGULA" inspect "$T/m.safetensors" "$T/log.jsonl"
check "two files, both told" test "$(grep -c '^/.*: ' "$T/out")" -ge 2
run 3 -- "$REGULA" inspect "$T/none.safetensors"
check "missing file named" grep -q 'none.safetensors: cannot open' "$T/err"
: >"$T/empty"
run 3 -- "$REGULA" inspect "$T/empty"
check "empty file named" grep -q 'empty: neither a safetensors file nor a training log' "$T/err"
head -c 100 "$T/m.safetensors" >"$T/cut.safetensors"
run 3 -- "$REGULA" inspect "$T/cut.safetensors"
check "cut checkpoint named" grep -q 'cut.safetensors' "$T/err"
check "nothing on stdout for a bad checkpoint" test "$(grep -c tensor "$T/out")" -eq 0
{ head -n 1 "$T/log.jsonl"; echo '{oops'; tail -n +2 "$T/log.jsonl"; } >"$T/bad.jsonl"
run 3 -- "$REGULA" inspect "$T/bad.jsonl"
check "bad log line named" grep -q 'bad.jsonl:2: not JSON' "$T/err"
run 2 -- "$REGULA" inspect
run 2 -- "$REGULA" inspect --bogus "$T/m.safetensors"
run 0 -- "$REGULA" inspect --help
check "inspect --help" grep -q -- '--full' "$T/out"

finish
