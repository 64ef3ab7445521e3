# usability.sh — what a user sees of `regula train` in the first hour
# (issue 14): the final figures whenever a set has them; a NaN figure at the
# end is a failure, logged as "NaN" (null: no such figure) and read back by
# inspect and plot; progress as a bar on a terminal (never wider than it),
# a line per epoch elsewhere, none, -q, -v, and the summary; --resume FILE;
# --label-column out of range; options that change nothing (warned);
# --help as the program behaves (exit codes per command, a csv's missing
# test split, idx:DIR without one); other tools' option names and choices
# in any case.  Run as: bash usability.sh REGULA_BIN DATA_DIR
set -u
# shellcheck source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: usability.sh REGULA_BIN DATA_DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT

gen_csv "$T/d.csv" 150 4242
# the same with a header and the label in column 3 (of 5)
{ echo "a,b,c,label,e"; awk -F, -v OFS=, '{ print $2, $3, $4, $1, $5 }' "$T/d.csv"; } >"$T/h.csv"
# a feature of 3e38 on line 5: with every weight near 1 (ones.safetensors,
# below, trained a little), that sample's outputs overflow a float
sed '5s/^\([0-9]\),[^,]*,/\1,3e38,/' "$T/d.csv" >"$T/bad.csv"
META='"__metadata__":{"format":"regula-1","spec":"dense(8, relu) dense(3, softmax)","inputs":"4"}'
one='\x00\x00\x80\x3f'
# shellcheck disable=SC2059
{ h="{$META,$(st_tensor dense_0.weight F32 8,4 0,128),$(st_tensor dense_0.bias F32 8 128,160),"
  h+="$(st_tensor dense_1.weight F32 3,8 160,256),$(st_tensor dense_1.bias F32 3 256,268)}"
  printf "$(le64 ${#h})%s" "$h"; for _ in $(seq 32); do printf "$one"; done; head -c 32 /dev/zero
  for _ in $(seq 24); do printf "$one"; done; head -c 12 /dev/zero; } >"$T/ones.safetensors"
M='dense(8, relu) dense(3, softmax)'
C=(--model "$M" --lr 0.05 --batch 16)
has() { grep -Eq -- "$1" "$2"; }
hasnt() { ! grep -Eq -- "$1" "$2"; }

# --- 1. a CSV without a test set: training and validation figures, on the
# terminal and in the log's end event
run 0 -- "$REGULA" train --data "csv:$T/h.csv" --header --label-column 3 "${C[@]}" --epochs 3 --val-split 0.2 \
    --log "$T/a.jsonl"
check "stdout: validation and training figures" has '^val_loss [0-9.]+  val_acc [0-9.]+  train_loss [0-9.]+  train_acc [0-9.]+  epochs 3$' "$T/out"
check "end event: training figures" has '"event":"end",.*"train_loss":[0-9.]+,"train_acc":[0-9.]+' "$T/a.jsonl"
check "end event: validation figures" has '"event":"end",.*"val_loss":[0-9.]+,"val_acc":[0-9.]+' "$T/a.jsonl"
check "end event: no test set, null" has '"event":"end","test_loss":null,"test_acc":null' "$T/a.jsonl"
run 0 -- "$REGULA" train --data "csv:$T/d.csv" "${C[@]}" --epochs 1
check "no validation set either: the training figures" has '^train_loss [0-9.]+  train_acc [0-9.]+  epochs 1$' "$T/out"

# --- 2. a NaN figure at the end fails (exit 4), saves nothing, logs "NaN"
ONES=(--init "$T/ones.safetensors" --lr 0.001)
run 4 -- "$REGULA" train --data "csv:$T/d.csv" --test-data "csv:$T/bad.csv" "${C[@]}" "${ONES[@]}" --epochs 2 \
    --save "$T/m.safetensors" --log "$T/b.jsonl"
check "says which figure is NaN, and why" has 'test loss is NaN: its outputs are not finite on some samples of .*bad.csv' "$T/err"
check "nothing on stdout" test ! -s "$T/out"
check "nothing saved" test ! -e "$T/m.safetensors"
check "end event: stopped, the figure spelt \"NaN\"" has '"event":"end","stopped":"nonfinite_outputs","test_loss":"NaN"' "$T/b.jsonl"
check "epoch events: val_loss \"NaN\" (validated on that test set)" has '"val_loss":"NaN"' "$T/b.jsonl"
check "no bare NaN in the log (not JSON)" hasnt '[:,\[]-?(nan|NaN|inf|Infinity)' "$T/b.jsonl"
run 0 -- "$REGULA" inspect "$T/b.jsonl"
check "inspect reads \"NaN\" as NaN, null as absent" has 'test_loss NaN, .*val_loss -,' "$T/out"
check "inspect says why the run stopped" has "stopped: +the final model's outputs are not finite" "$T/out"
run 0 -- "$REGULA" plot "$T/b.jsonl" --fields
check "plot: val_loss is a field" has 'val_loss' "$T/out"
if command -v gnuplot >/dev/null; then
    run 0 -- "$REGULA" plot "$T/b.jsonl" --y loss,val_loss -o "$T/v.svg"
    check "plot: NaN values noted, not drawn" has 'NaN or Infinity .* not drawn' "$T/err"
fi
run 0 -- "$REGULA" train --data "csv:$T/d.csv" --test-data "csv:$T/bad.csv" "${C[@]}" "${ONES[@]}" --epochs 2 \
    --skip-nonfinite --save "$T/m.safetensors"
check "--skip-nonfinite: the sample left out of the figures, said" has 'warning: 1 sample left out of the final figures' "$T/err"
check "--skip-nonfinite: finite test figures" has '^test_loss [0-9.]+  test_acc [0-9.]+' "$T/out"
run 4 -- "$REGULA" eval --load "$T/m.safetensors" --data "csv:$T/bad.csv"
check "eval of that set: exit 4, naming the sample" has 'bad.csv: sample 4: the model.s outputs are not finite' "$T/err"

# --- 3. progress: a line per epoch outside a terminal, with accuracy,
# validation figures, speed and time left; bar, none, -q, -v; the summary
V=(--data "csv:$T/d.csv" "${C[@]}" --epochs 3 --val-split 0.2)
run 0 -- "$REGULA" train "${V[@]}"
check "lines: one per epoch" test "$(grep -c '^epoch [123]/3  ' "$T/err")" -eq 3
check "lines: loss, acc, val_loss, val_acc, samples/s, seconds" \
    has '^epoch 1/3  loss [0-9.]+  acc [0-9.]+  val_loss [0-9.]+  val_acc [0-9.]+  [0-9,]+ samples/s  [0-9.]+s  ETA [0-9:]+$' "$T/err"
check "the summary: epochs and time" has '^regula: 3 epochs in [0-9.]+ s$' "$T/err"
check "no --save: warned" has 'warning: no --save: the trained model was not written' "$T/err"
run 0 -- "$REGULA" train "${V[@]}" --save "$T/s.safetensors" --log "$T/s.jsonl"
check "the summary says where the model went" has "^regula: 3 epochs in [0-9.]+ s; model saved to $T/s.safetensors; log in $T/s.jsonl$" "$T/err"
run 0 -- "$REGULA" train "${V[@]}" --progress none --save "$T/s.safetensors"
check "--progress none: no epoch line" hasnt '^epoch' "$T/err"
run 0 -- "$REGULA" train "${V[@]}" -q
check "-q: nothing on stderr" test ! -s "$T/err"
check "-q: the results still on stdout" has '^val_loss' "$T/out"
run 0 -- "$REGULA" train "${V[@]}" -v --save "$T/s.safetensors"
check "-v: what the run is" has '^regula: training dense\(8, relu\) dense\(3, softmax\) \(67 parameters\) on 120 samples' "$T/err"
check "-v: lr and penalty per epoch" has '^epoch 1/3  .*  reg [0-9.]+  lr 0.05  ' "$T/err"
# a bar, forced into a file 60 columns wide: no piece of it (between
# carriage returns) reaches the last column
run 0 -- env COLUMNS=60 "$REGULA" train "${V[@]}" --progress bar --batch 1 --epochs 2 --save "$T/s.safetensors"
tr '\r' '\n' <"$T/err" | sed 's/\x1b\[K//g' >"$T/bar"
check "bar: every line of progress fits 59 columns" test -z "$(grep '^epoch' "$T/bar" | awk 'length > 59')"
check "bar: an epoch's line ends each epoch" test "$(grep -c '^epoch [12]/2  loss' "$T/bar")" -eq 2
# a terminal (script gives one): the bar, redrawn in place, within its width
if command -v script >/dev/null; then
    script -qec "stty cols 70; $REGULA train --data csv:$T/d.csv --model '$M' --batch 1 --epochs 2 --val-split 0.2 \
--save $T/s.safetensors" /dev/null >"$T/tty" 2>&1
    tr '\r' '\n' <"$T/tty" | sed 's/\x1b\[K//g' >"$T/bar"
    check "a terminal: a bar (carriage returns)" test -n "$(tr -cd '\r' <"$T/tty")"
    check "a terminal: every line fits 69 columns" test -z "$(grep '^epoch' "$T/bar" | awk 'length > 69')"
    check "a terminal: the epoch lines" test "$(grep -c '^epoch [12]/2  loss [0-9.]*  acc [0-9.]*  val_loss' "$T/bar")" -eq 2
fi

# --- 4. --resume FILE: says so, never blames --checkpoint-dir
run 0 -- "$REGULA" train --data "csv:$T/d.csv" "${C[@]}" --epochs 2 --checkpoint-every 5 --checkpoint-dir "$T/ck" -q
ck=$(find "$T/ck" -name 'ckpt-*.safetensors' | sort | tail -1)
for every in "" "--checkpoint-every 5"; do
    # shellcheck disable=SC2086
    run 2 -- "$REGULA" train --data "csv:$T/d.csv" "${C[@]}" --epochs 2 --resume "$ck" $every
    check "--resume FILE ${every:-alone}: a file, not a directory" has "--resume $ck: a file, not a directory: --resume takes the directory the checkpoints are in \(--resume $T/ck\)" "$T/err"
    check "--resume FILE ${every:-alone}: --checkpoint-dir not named" hasnt 'checkpoint-dir' "$T/err"
done

# --- 5. --label-column beyond the columns: the columns there are, no -2
run 2 -- "$REGULA" train --data "csv:$T/d.csv" "${C[@]}" --label-column 9
check "--label-column 9: the columns there are" has 'label column 9 is outside the 5 columns of line 1 \(0-based: 0 to 4, or -1 for the last\)' "$T/err"
check "--label-column 9: no -2" hasnt ' -2' "$T/err"   # (a space: the temporary directory's name may hold -2)

# --- 7. options that change nothing: a warning naming each, once; defaults
# and options that act are quiet
run 0 -- "$REGULA" train --data "csv:$T/d.csv" "${C[@]}" --epochs 1 --save "$T/s.safetensors" --momentum 0.9 \
    --monitor val_acc --min-delta 0.1 --no-restore-best --partition dirichlet:0.5 --sync-every 4 --error-feedback on \
    --det-shards 4 --comm-timeout 5
for o in '--momentum 0.9' '--monitor val_acc' '--min-delta 0.1' '--no-restore-best' '--partition dirichlet:0.5' \
    '--sync-every 4' '--error-feedback on' '--det-shards 4' '--comm-timeout 5'; do
    check "warning: $o" test "$(grep -c "^regula: warning: $o has no effect: " "$T/err")" -eq 1
done
run 0 -- "$REGULA" train --data "csv:$T/d.csv" "${C[@]}" --epochs 1 --optimizer sgd --nesterov
check "--nesterov without --momentum: a warning, not an error" has 'warning: --nesterov has no effect: without --momentum' "$T/err"
run 0 -- "$REGULA" train --data "csv:$T/d.csv" "${C[@]}" --epochs 1 --worker-batch equal
check "--worker-batch with iid: a warning" has 'warning: --worker-batch equal has no effect' "$T/err"
run 0 -- "$REGULA" train --data "csv:$T/d.csv" "${C[@]}" --epochs 1 --optimizer sgd --momentum 0.9 --nesterov \
    --early-stop 2 --val-split 0.2 --monitor val_acc --save "$T/s.safetensors"
check "options that act: no warning" hasnt 'warning' "$T/err"
# one-worker easgd trains otherwise than plain (a worker tied to its
# centre): no warning that --strategy does nothing
run 0 -- "$REGULA" train --data "csv:$T/d.csv" "${C[@]}" --epochs 1 --workers 1 --strategy easgd
check "--strategy easgd, one worker: no warning" hasnt "has no effect" "$T/err"
# an option another one requires is not named: dropping it would be refused
run 0 -- "$REGULA" train --data "csv:$T/d.csv" "${C[@]}" --epochs 1 --workers 1 --compress topk:0.1 \
    --compress-update --reg-scope local
check "--reg-scope local that --compress-update needs: no warning" hasnt "has no effect" "$T/err"
# a refused run does not first warn
for s in "--strategy easgd-async" "--strategy ps --optimizer sgd"; do
    # shellcheck disable=SC2086
    run 2 -- "$REGULA" train --data "csv:$T/d.csv" "${C[@]}" --epochs 1 --workers 1 $s
    check "$s, one worker: refused" has 'at least one must be left to train' "$T/err"
    check "$s, one worker: no warning before the refusal" hasnt 'warning' "$T/err"
done
# --link under hogwild: nothing is sent, said as every no-op is
run 0 -- "$REGULA" train --data "csv:$T/d.csv" "${C[@]}" --epochs 1 --optimizer sgd --workers 2 --strategy hogwild \
    --link 1gbit,50us
check "--link under hogwild: a warning" has '^regula: warning: --link 1gbit,50us has no effect: --strategy hogwild' "$T/err"
# --straggler past ps's workers: says which rank serves
run 2 -- "$REGULA" train --data "csv:$T/d.csv" "${C[@]}" --epochs 1 --workers 3 --strategy ps --straggler 2:4
check "--straggler on ps's server: says rank 2 serves" has '--straggler 2:4: there are 2 workers \(ranks 0 to 1\); rank 2 is the server, which does not train$' "$T/err"
# --compress-update with --clip-norm: the whole message, to its end
run 2 -- "$REGULA" train --data "csv:$T/d.csv" "${C[@]}" --epochs 1 --workers 2 --compress topk:0.1 \
    --compress-update --reg-scope local --clip-norm 1
check "--compress-update --clip-norm: the whole message" has "^regula: --compress-update: no gradient is summed to clip \(--clip-norm\): the workers' Adam updates are what is compressed and averaged, each already scaled by Adam \(drop --clip-norm, or --compress-update to clip the summed gradient\)$" "$T/err"

# --- 9. --help as the program behaves
run 0 -- "$REGULA" train --help
check "train --help: --test-data says a csv has no test split" has '^  --test-data SOURCE .*a csv has none' "$T/out"
check "train --help: -q, --quiet and -v, --verbose" has '^  -q, --quiet ' "$T/out"
check "train --help: exit code 5 (mpirun)" has '^  5  under mpirun' "$T/out"
for cmd in eval predict; do
    run 0 -- "$REGULA" "$cmd" --help
    check "$cmd --help: exit 4 for outputs that are not finite" has "^  4  a sample's outputs are not finite" "$T/out"
    check "$cmd --help: no exit 5" hasnt '^  5 ' "$T/out"
done
idx_dir "$T/idx"
rm "$T/idx/t10k-"*
run 0 -- "$REGULA" train --data "idx:$T/idx" "${C[@]}" --epochs 1 --val-split 0.3 --save "$T/s.safetensors"
check "idx:DIR without a test split, with --val-split: trains, says so" has "note: idx:$T/idx has no test split" "$T/err"
run 3 -- "$REGULA" train --data "idx:$T/idx" "${C[@]}" --epochs 1
check "idx:DIR without a test split nor --val-split: says what to give" has 'give --val-split FRACTION to validate on part of the training data instead, or --test-data' "$T/err"

# --- other tools' names get regula's; choices take any case
for pair in learning-rate:--lr batch-size:--batch validation-split:--val-split patience:--early-stop; do
    run 2 -- "$REGULA" train --data "csv:$T/d.csv" "--${pair%%:*}" 1
    check "--${pair%%:*}: regula calls it ${pair#*:}" has "unknown option --${pair%%:*} \(regula calls it ${pair#*:}" "$T/err"
done
run 2 -- "$REGULA" train --data "csv:$T/d.csv" --load "$T/s.safetensors"
check "train --load: --init or --resume" has "--load is not an option of 'train' \(to start from a checkpoint's weights give --init FILE" "$T/err"
run 0 -- "$REGULA" train --data "csv:$T/d.csv" "${C[@]}" --epochs 1 --optimizer Adam --partition IID --progress LINES -q
check "--optimizer Adam: taken" has '^train_loss' "$T/out"

# --- one all-reduce worker with --compress: nothing is exchanged, but the
# codec still codes each gradient, so the log shows it (what a second
# worker would receive, and the ratio), as two workers' logs do
M1=(--data "csv:$T/d.csv" --model "$M" --epochs 1 --batch 16 --lr 0.05 --progress none)
run 0 -- "$REGULA" train "${M1[@]}" --workers 1 --compress topk:0.1 --log "$T/w1c.jsonl"
check "one worker --compress topk:0.1: compression logged" test "$(jq -s '[.[] | select(.event == "epoch") | .compression > 1] | all' "$T/w1c.jsonl")" = true
check "one worker --compress topk:0.1: the bytes it would send logged" test "$(jq -s '[.[] | select(.event == "epoch") | .bytes_sent[0] > 0] | all' "$T/w1c.jsonl")" = true
run 0 -- "$REGULA" train "${M1[@]}" --workers 1 --log "$T/w1.jsonl"
check "one worker uncompressed: no bytes sent, no compression" test "$(jq -c 'select(.event == "epoch") | [.bytes_sent, .compression]' "$T/w1.jsonl")" = '[[0],null]'

finish
