# workflow.sh — the CLI as a user drives it: train a tiny model on a
# generated CSV, then eval and predict with the checkpoint; --help,
# --version, --config precedence, --name=value, --limit/--val-split,
# --init.  Run as: bash workflow.sh REGULA_BIN DATA_DIR
# Needs only bash and coreutils (no python in CI).
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: workflow.sh REGULA_BIN DATA_DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 failed=0

ok() { pass=$((pass + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

gen_csv "$T/train.csv" 200 12345
cut -d, -f2- "$T/train.csv" | head -n 30 >"$T/features.csv"
MODEL='dense(8, relu) dense(3, softmax)'
COMMON=(--data "csv:$T/train.csv" --model "$MODEL" --lr 0.05 --batch 16)

# --- train, with --name=value forms mixed in
run 0 -- "$REGULA" train "${COMMON[@]}" --epochs=2 --save "$T/m.safetensors" --log="$T/log.jsonl"
check "train prints its summary: the training set's figures" grep -Eq '^train_loss [0-9.]+  train_acc [0-9.]+  epochs 2$' "$T/out"
check "one progress line per epoch when stderr is not a terminal" test "$(grep -c '^epoch [12]/2  loss [0-9.]*  acc ' "$T/err")" -eq 2
check "no bar (no carriage return) when stderr is not a terminal" test -z "$(tr -cd '\r' <"$T/err")"
check "--save written" test -s "$T/m.safetensors"
check "--log written" test -s "$T/log.jsonl"
for ev in config epoch end; do
    check "log has a $ev event" grep -Eq "\"event\": *\"$ev\"" "$T/log.jsonl"
done
check "log has 2 epoch events" test "$(grep -Ec '"event": *"epoch"' "$T/log.jsonl")" -eq 2

# --- eval on the saved model: it must have learned the separable classes
run 0 -- "$REGULA" eval --load "$T/m.safetensors" --data "csv:$T/train.csv"
check "eval prints loss and accuracy" grep -Eq '^test_loss [0-9.]+  test_acc [0-9.]+$' "$T/out"
acc=$(sed -n 's/.*test_acc \([0-9.]*\).*/\1/p' "$T/out")
check "eval accuracy $acc >= 0.9 after training" awk -v a="${acc:-0}" 'BEGIN { exit !(a >= 0.9) }'
run 0 -- "$REGULA" eval --load "$T/m.safetensors" --test-data "csv:$T/train.csv" --batch 7
check "eval --test-data with another batch gives the same accuracy" grep -q "test_acc $acc" "$T/out"

# --- predict: one class per line, from CSV features and from IDX images
run 0 -- "$REGULA" predict --load "$T/m.safetensors" --input "csv:$T/features.csv"
check "predict prints 30 lines" test "$(wc -l <"$T/out")" -eq 30
check "predict prints classes in 0..2" test -z "$(grep -Ev '^[012]$' "$T/out")"
# the first 30 labels, as predicted by a model that fits them all
cut -d, -f1 "$T/train.csv" | head -n 30 >"$T/labels"
check "predict agrees with the labels" test "$(paste -d' ' "$T/out" "$T/labels" | awk '$1 == $2' | wc -l)" -ge 27

# 5 images of 2x2 uint8 pixels = 4 features, as IDX raw and gzip
{
    printf '\x00\x00\x08\x03'
    printf "$(be32 5)$(be32 2)$(be32 2)"
    printf '\xff\x00\x00\x00\x00\xff\x00\x00\x00\x00\xff\x00\x10\x10\x10\x10\x00\x00\x00\x00'
} >"$T/images-idx3-ubyte"
gzip -c "$T/images-idx3-ubyte" >"$T/images-idx3-ubyte.gz"
run 0 -- "$REGULA" predict --load "$T/m.safetensors" --input "$T/images-idx3-ubyte" --scale 0.0086
check "predict on IDX prints 5 lines" test "$(wc -l <"$T/out")" -eq 5
cp "$T/out" "$T/pred_raw"
run 0 -- "$REGULA" predict --load "$T/m.safetensors" --input "$T/images-idx3-ubyte.gz" --scale 0.0086
check "gzip IDX predicts the same" cmp -s "$T/out" "$T/pred_raw"
check "image with feature k large is class k" test "$(head -n 3 "$T/out" | tr -d '\n')" = "012"

# --- --config: the file first, the command line wins whatever the order
printf '{\n  "data": "csv:%s",\n  "model": "%s",\n  "epochs": 1,\n  "lr": 0.05,\n  "batch": 16\n}\n' \
    "$T/train.csv" "$MODEL" >"$T/cfg.json"
run 0 -- "$REGULA" train --config "$T/cfg.json"
check "--config sets epochs" grep -Eq '  epochs 1$' "$T/out"
run 0 -- "$REGULA" train --epochs 2 --config "$T/cfg.json"
check "command line wins over --config" grep -Eq '  epochs 2$' "$T/out"

# --- --limit and --val-split with early stopping
run 0 -- "$REGULA" train "${COMMON[@]}" --epochs 3 --limit 120 --val-split 0.25 --early-stop 1 \
    --log "$T/log2.jsonl"
check "early stopping reports the best epoch" grep -Eq 'best epoch [0-9]+' "$T/out"
check "a held-out validation set: no note" test -z "$(grep 'note:' "$T/err")"
check "the log names the validation set" grep -q '"validation":"held-out"' "$T/log2.jsonl"
run 0 -- "$REGULA" train "${COMMON[@]}" --epochs 2 --early-stop 1 --test-data "csv:$T/train.csv" --log "$T/log3.jsonl"
check "early stopping on the test set says so once" test "$(grep -c 'watches the test set' "$T/err")" -eq 1
check "the log says the test set was watched" grep -q '"validation":"test"' "$T/log3.jsonl"

# --- --init from the checkpoint of the same architecture
run 0 -- "$REGULA" train "${COMMON[@]}" --epochs 1 --init "$T/m.safetensors"

# --- help and version
run 0 -- "$REGULA" --help
check "--help lists the commands" grep -q 'predict' "$T/out"
check "--help lists exit codes" grep -q '^Exit status' "$T/out"
run 0 -- "$REGULA" train --help
check "train --help shows --lr and its default" grep -Eq -- '--lr X .*\(default: 0\.001\)' "$T/out"
check "train --help shows the default model" grep -q -- 'default: dense(64, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)' "$T/out"
check "train --help shows flags" grep -q -- '--no-shuffle ' "$T/out"
check "train --help shows --config" grep -q -- '--config FILE.json' "$T/out"
check "train --help lists exit code 4" grep -Eq '^  4 ' "$T/out"
run 0 -- "$REGULA" eval --help
check "eval --help shows --load" grep -q -- '--load FILE' "$T/out"
check "eval --help has no --model" test -z "$(grep -- '--model' "$T/out")"
run 0 -- "$REGULA" predict --lr -1 --help
check "predict --help shows --input" grep -q -- '--input FILE' "$T/out"
run 0 -- "$REGULA" --version
check "--version prints the version" grep -Eq '^regula [0-9]+\.[0-9]+\.[0-9]+' "$T/out"

echo "cli_workflow: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
