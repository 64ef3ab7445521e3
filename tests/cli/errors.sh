# errors.sh — a catalogue of bad inputs to the CLI, each with the exit code
# and a fragment of the message a user would need to fix it.  After every
# failing command, --save and --log must not exist: a failed run leaves no
# half-made outputs behind.
# Run as: bash errors.sh REGULA_BIN DATA_DIR.  Needs only bash and coreutils.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: errors.sh REGULA_BIN DATA_DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 failed=0
SAVE=$T/o.safetensors
LOG=$T/o.jsonl
OUTS=(--save "$SAVE" --log "$LOG")

# expect CODE FRAGMENT -- cmd... : cmd must exit with CODE and, when CODE is
# not 0, print FRAGMENT on stderr after "regula: " and leave no --save; nor
# --log unless training ran (exit 4: the log tells where it diverged).
expect() {
    local want=$1 frag=$2
    shift 2
    [ "$1" = "--" ] && shift
    rm -f "$SAVE" "$LOG"
    "$@" >"$T/out" 2>"$T/err"
    local got=$? why=""
    if [ "$got" -ne "$want" ]; then
        why="exit $got, expected $want"
    elif [ -n "$frag" ] && ! grep -qF -- "$frag" "$T/err"; then
        why="stderr lacks '$frag'"
    elif [ "$want" -ne 0 ] && ! grep -q '^regula: ' "$T/err"; then
        why="stderr lacks the 'regula: ' prefix"
    elif [ "$want" -ne 0 ] && [ -e "$SAVE" ]; then
        why="a failed run left --save behind"
    elif [ "$want" -ne 0 ] && [ "$want" -ne 4 ] && [ -e "$LOG" ]; then
        why="a run that failed before training left --log behind"
    fi
    if [ -n "$why" ]; then
        failed=$((failed + 1))
        echo "FAIL: $* : $why; stderr: $(head -c 400 "$T/err")" >&2
    else
        pass=$((pass + 1))
    fi
}

gen_csv "$T/d.csv" 90
D=(--data "csv:$T/d.csv")
M='dense(8, relu) dense(3, softmax)'
TR=("$REGULA" train "${D[@]}" --model "$M" --epochs 1 --batch 16 "${OUTS[@]}")

# A checkpoint for the eval/predict/--init cases.
expect 0 "" -- "$REGULA" train "${D[@]}" --model "$M" --epochs 1 --save "$T/m.safetensors"

# --- usage and configuration: exit 2
expect 2 "Usage: regula" -- "$REGULA"
expect 2 "unknown command 'fit'" -- "$REGULA" fit
expect 2 "unknown option --foo" -- "${TR[@]}" --foo 1
expect 2 "did you mean --epochs?" -- "${TR[@]}" --epoch 2
expect 2 "--lr must be a number a float can hold" -- "${TR[@]}" --lr 1e39
expect 2 "--eps must be a number > 0 that a float can hold" -- "${TR[@]}" --eps 1e-50
# an option where a value should be is not taken as the value
expect 2 "--save needs a value (FILE)" -- "${TR[@]}" --save --no-shuffle
expect 2 "--lr needs a value (X)" -- "${TR[@]}" --lr --epochs 1
expect 2 "unexpected argument 'extra'" -- "${TR[@]}" extra
expect 2 "--lr needs a value" -- "${TR[@]}" --lr
expect 2 "--header is a flag and takes no value" -- "${TR[@]}" --header=true
expect 2 "--model is not an option of 'eval'" -- "$REGULA" eval --load "$T/m.safetensors" --model "$M"
expect 2 "--lr: 'abc' is not a number" -- "${TR[@]}" --lr abc
expect 2 "--lr must be a finite number >= 0, got -1" -- "${TR[@]}" --lr -1
expect 2 "--lr: 'nan' is not a finite number" -- "${TR[@]}" --lr nan
expect 2 "--lr: 'inf' is not a finite number" -- "${TR[@]}" --lr=inf
expect 2 "--batch must be a batch size >= 1, got 0" -- "${TR[@]}" --batch 0
expect 2 "--epochs: '2.5' is not an integer" -- "${TR[@]}" --epochs 2.5
expect 2 "--optimizer: unknown value 'foo' (expected sgd, adam or adamw)" -- "${TR[@]}" --optimizer foo
expect 2 "--val-split must be a fraction in [0,1), got 1" -- "${TR[@]}" --val-split 1
expect 2 "--label-smoothing must be in [0,1)" -- "${TR[@]}" --label-smoothing 1.5
expect 2 "--early-stop needs a validation set" -- "${TR[@]}" --early-stop 2
expect 2 "dropout rate 1.0 is outside [0, 1)" -- "${TR[@]}" --model 'dense(8, relu) dropout(1.0) dense(3, softmax)'
expect 2 "--model:" -- "${TR[@]}" --model 'dense(8, relu dense(3, softmax)'
expect 2 "--model:" -- "${TR[@]}" --model 'dense(8, relu) conv(3) dense(3, softmax)'
expect 2 "unknown activation 'swish'" -- "${TR[@]}" --model 'dense(8, swish) dense(3, softmax)'
expect 2 "predict needs --input" -- "$REGULA" predict --load "$T/m.safetensors"
expect 2 "eval needs --load" -- "$REGULA" eval "${D[@]}"

printf '{\n  "epochs": 1,\n  "lr": 0.1,,\n}\n' >"$T/bad.json"
expect 2 "bad.json: invalid JSON at line 3" -- "${TR[@]}" --config "$T/bad.json"
printf '{"epochs": 1, "learning_rate": 0.1}' >"$T/unknown.json"
expect 2 "unknown.json: key 'learning_rate': unknown option" -- "${TR[@]}" --config "$T/unknown.json"
printf '{"lr": "0.1"}' >"$T/type.json"
expect 2 "type.json: key 'lr': expected a number, got a string" -- "${TR[@]}" --config "$T/type.json"
printf '{"lr": -3}' >"$T/range.json"
expect 2 "--lr must be a finite number >= 0, got -3" -- "${TR[@]}" --config "$T/range.json"
# the command line fixes a bad value from the file
expect 0 "" -- "$REGULA" train "${D[@]}" --model "$M" --epochs 1 --config "$T/range.json" --lr 0.01

# --- data, checkpoints and files: exit 3
expect 3 "missing.json" -- "${TR[@]}" --config "$T/missing.json"
expect 3 "nothere.csv" -- "$REGULA" train --data "csv:$T/nothere.csv" --model "$M" "${OUTS[@]}"
expect 3 "no-such-dir" -- "$REGULA" train --data "idx:$T/no-such-dir" --model "$M" "${OUTS[@]}"

printf '0,1,2,3,4\n1,1,2,3,4\n2,1,2\n0,1,2,3,4\n' >"$T/ragged.csv"
expect 3 "ragged.csv" -- "$REGULA" train --data "csv:$T/ragged.csv" --model "$M" "${OUTS[@]}"
printf '0,1,2,3,4\n1,1,x,3,4\n' >"$T/text.csv"
expect 3 "text.csv" -- "$REGULA" train --data "csv:$T/text.csv" --model "$M" "${OUTS[@]}"

# IDX: headers claim 10 images of 2x2, the pixels stop after 12 bytes
mkdir -p "$T/idx"
{
    printf '\x00\x00\x08\x03'
    printf "$(be32 10)$(be32 2)$(be32 2)"
    head -c 12 /dev/zero
} >"$T/idx/train-images-idx3-ubyte"
{
    printf '\x00\x00\x08\x01'
    printf "$(be32 10)"
    printf '\x00\x01\x02\x00\x01\x02\x00\x01\x02\x00'
} >"$T/idx/train-labels-idx1-ubyte"
expect 3 "train-images-idx3-ubyte" -- "$REGULA" train --data "idx:$T/idx" --model "$M" "${OUTS[@]}"
expect 3 "train-images-idx3-ubyte" -- "$REGULA" predict --load "$T/m.safetensors" --input "$T/idx/train-images-idx3-ubyte"
printf 'not an idx file at all' >"$T/junk"
expect 3 "junk" -- "$REGULA" predict --load "$T/m.safetensors" --input "$T/junk"

# labels 0..2 but the model has 2 outputs
expect 3 "labels go up to 2 but the model has 2 outputs" -- "${TR[@]}" --model 'dense(4, relu) dense(2, softmax)'

# checkpoints
expect 3 "nothere.safetensors" -- "$REGULA" eval "${D[@]}" --load "$T/nothere.safetensors"
head -c 100 "$T/m.safetensors" >"$T/trunc.safetensors"
expect 3 "trunc.safetensors" -- "$REGULA" eval "${D[@]}" --load "$T/trunc.safetensors"
expect 3 "trunc.safetensors" -- "$REGULA" predict --load "$T/trunc.safetensors" --input "csv:$T/d.csv"
expect 3 "dense_0.weight" -- "${TR[@]}" --model 'dense(5, relu) dense(3, softmax)' --init "$T/m.safetensors"
expect 3 "nothere.safetensors" -- "${TR[@]}" --init "$T/nothere.safetensors"
# 5 columns of features where the model takes 4 inputs
expect 3 "features but the model takes 4 inputs" -- "$REGULA" predict --load "$T/m.safetensors" --input "csv:$T/d.csv"
sed 's/$/,0.5/' "$T/d.csv" >"$T/d5.csv"
expect 3 "features but the model takes 4 inputs" -- "$REGULA" eval --load "$T/m.safetensors" --data "csv:$T/d5.csv"

# --- a diverging run stops with exit 4, writes no checkpoint, logs why
expect 4 "" -- "${TR[@]}" --optimizer sgd --lr 1e30 --epochs 3
if grep -q '"end"' "$LOG" 2>/dev/null; then pass=$((pass + 1)); else
    failed=$((failed + 1)); echo "FAIL: the diverging run's log has no end event" >&2; fi

echo "cli_errors: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
