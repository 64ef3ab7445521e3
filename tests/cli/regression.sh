# regression.sh — regression from the command line (issue 14): --loss mse
# or mae reads the label column as numbers; a known linear relation,
# y = 3 x1 - 2 x2 + 1 + noise, trains to a small MAE; the run reports
# loss, MAE and RMSE for every set (stdout, the log's epoch and end
# events); eval's MAE and RMSE are those of predict's values, computed
# here by hand; --monitor val_mae picks the best epoch by the validation
# MAE and stops on it; the checkpoint remembers its loss.
# Run as: bash regression.sh REGULA_BIN DATA_DIR
set -u
# shellcheck source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: regression.sh REGULA_BIN DATA_DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
has() { grep -Eq -- "$1" "$2"; }
# field NAME FILE: the number after NAME on the first line of FILE that has it
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }' "$2"; }

# 400 samples, features in [-1, 1], noise in [-0.01, 0.01]; the target is
# the middle column, named
awk 'BEGIN { srand(11); print "x1,price,x2"
    for (i = 0; i < 400; i++) { a = 2 * rand() - 1; b = 2 * rand() - 1
        printf "%.6f,%.6f,%.6f\n", a, 3 * a - 2 * b + 1 + (rand() - 0.5) * 0.02, b } }' >"$T/lin.csv"
L=(--data "csv:$T/lin.csv" --header --label-column price)
TR=("$REGULA" train "${L[@]}" --loss mse --model 'dense(16, relu) dense(auto)' --lr 0.01 --batch 16 --seed 5)

run 0 -- "${TR[@]}" --epochs 40 --val-split 0.2 --standardize --log "$T/r.jsonl" --save "$T/r.st"
check "a linear relation trains to a small validation MAE (< 0.1)" \
    awk -v v="$(field val_mae "$T/out")" 'BEGIN { exit !(v != "" && v < 0.1) }'
check "the summary gives loss, MAE and RMSE of the validation and training sets, no accuracy" \
    has '^val_loss [0-9.]+  val_mae [0-9.]+  val_rmse [0-9.]+  train_loss [0-9.]+  train_mae [0-9.]+  train_rmse [0-9.]+  epochs 40$' "$T/out"
check "each epoch's line shows mae, rmse and the validation's" has 'epoch 40/40  loss [0-9.]+  mae [0-9.]+  rmse [0-9.]+  val_loss [0-9.]+  val_mae [0-9.]+  val_rmse' "$T/err"
# every epoch event: loss, mae, rmse and the val_ figures, finite numbers; no acc
check "the log's epoch events: mae, rmse, val_mae, val_rmse finite, no acc" awk '
    /"event":"epoch"/ { n++; if ($0 ~ /"acc"|"val_acc"/) exit 1
        if ($0 !~ /"mae":[-0-9.e]+,/ || $0 !~ /"rmse":[-0-9.e]+,/ || $0 !~ /"val_mae":[-0-9.e]+,/ ||
            $0 !~ /"val_rmse":[-0-9.e]+,/) exit 1 }
    END { exit n != 40 }' "$T/r.jsonl"
check "the log's end event: train_ and val_ mae and rmse finite, test_ null" awk '
    /"event":"end"/ { e = 1; if ($0 !~ /"train_mae":[0-9.e-]+,/ || $0 !~ /"train_rmse":[0-9.e-]+,/ ||
        $0 !~ /"val_mae":[0-9.e-]+,/ || $0 !~ /"val_rmse":[0-9.e-]+,/ || $0 !~ /"test_mae":null/ || $0 ~ /_acc/) exit 1 }
    END { exit !e }' "$T/r.jsonl"
run 0 -- "$REGULA" plot "$T/r.jsonl" -o "$T/c.svg"
check "plot's curves of a regression log: loss and MAE, train and validation (4 series, no note)" \
    test "$(grep -c '<g id="gnuplot_plot_' "$T/c.svg")" -eq 4 -a ! -s "$T/err"
check "plot's second panel is the mean absolute error" grep -q 'mean absolute error' "$T/c.svg"
run 0 -- "$REGULA" inspect "$T/r.jsonl"
check "inspect of the log: the end's MAE of each set" has '^end: .*train_mae [0-9.e-]+, val_loss [0-9.e-]+, val_mae [0-9.e-]+' "$T/out"
run 0 -- "$REGULA" inspect "$T/r.st"
check "the checkpoint remembers its loss and one linear output" has 'loss +mse' "$T/out"
check "dense(auto) with a regression loss is one output" has 'dense\(16, relu\) dense\(1, linear\)' "$T/out"

# eval's figures are predict's values against the targets, by hand
run 0 -- "$REGULA" eval "${L[@]}" --load "$T/r.st" --format json
cp "$T/out" "$T/eval.json"
run 0 -- "$REGULA" predict --input "csv:$T/lin.csv" --header --label-column price --load "$T/r.st"
check "predict: one value per sample, every digit of a float" \
    awk '{ n++; if ($1 !~ /^-?[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?$/) exit 1 } END { exit n != 400 }' "$T/out"
tail -n +2 "$T/lin.csv" | cut -d, -f2 | paste -d' ' "$T/out" - | awk '
    { e = $1 - $2; a += e < 0 ? -e : e; s += e * e; n++ } END { printf "%.9g %.9g\n", a / n, sqrt(s / n) }' >"$T/hand"
check "eval's test_mae and test_rmse are predict's, by hand (within 1e-5)" awk -v hand="$(cat "$T/hand")" '
    { match($0, /"test_mae":[^,]*/); m = substr($0, RSTART + 11, RLENGTH - 11)
      match($0, /"test_rmse":[^,]*/); r = substr($0, RSTART + 12, RLENGTH - 12)
      split(hand, h, " "); d1 = m - h[1]; d2 = r - h[2]
      exit !(d1 < 1e-5 && d1 > -1e-5 && d2 < 1e-5 && d2 > -1e-5 && m > 0) }' "$T/eval.json"
check "eval's loss (mse, no penalty) is the square of its RMSE" awk '
    { match($0, /"test_loss":[^,]*/); l = substr($0, RSTART + 12, RLENGTH - 12)
      match($0, /"test_rmse":[^,]*/); r = substr($0, RSTART + 12, RLENGTH - 12)
      d = l - r * r; exit !(d < 1e-6 && d > -1e-6) }' "$T/eval.json"
run 0 -- "$REGULA" eval "${L[@]}" --load "$T/r.st"
check "eval as text: test_loss, test_mae, test_rmse" has '^test_loss [0-9.]+  test_mae [0-9.]+  test_rmse [0-9.]+$' "$T/out"
# --standardize standardises the features, not the target: the values come
# back on the target's own scale (a shifted copy of the data predicts shifted values)
awk -F, -v OFS=, 'NR == 1 { print; next } { $2 = $2 + 1000; print }' "$T/lin.csv" >"$T/shift.csv"
run 0 -- "$REGULA" train --data "csv:$T/shift.csv" --header --label-column price --loss mae --standardize \
    --model 'dense(1)' --lr 1 --batch 16 --epochs 200 --seed 5 --save "$T/shift.st"
run 0 -- "$REGULA" eval --data "csv:$T/shift.csv" --header --label-column price --load "$T/shift.st"
check "--standardize leaves the target alone: MAE < 0.5 on targets near 1000" \
    awk -v v="$(field test_mae "$T/out")" 'BEGIN { exit !(v != "" && v < 0.5) }'

# --monitor val_mae: the best epoch is the one of the least validation MAE
run 0 -- "${TR[@]}" --epochs 12 --val-split 0.2 --early-stop 50 --monitor val_mae --log "$T/m.jsonl" \
    --save-best "$T/best.st" --no-restore-best
best=$(awk '/"event":"epoch"/ { match($0, /"epoch":[0-9]+/); e = substr($0, RSTART + 8, RLENGTH - 8)
    match($0, /"val_mae":[^,]*/); v = substr($0, RSTART + 10, RLENGTH - 10) + 0
    if (b == "" || v < b) { b = v; at = e } } END { print at }' "$T/m.jsonl")
check "--monitor val_mae: best epoch $best, the least val_mae of the log" has "\(best epoch $best\)" "$T/out"
check "--save-best wrote the epoch of the least val_mae" has "the best epoch, $best, is in" "$T/err"
run 0 -- "${TR[@]}" --epochs 30 --val-split 0.2 --early-stop 2 --monitor val_mae --min-delta 1000
check "early stopping on val_mae: no epoch beats the first by 1000, so it stops at epoch 3" \
    has 'epochs 3  \(best epoch 1, stopped early\)' "$T/out"

# a regression run extended from its checkpoint ends with the bits of one run
C=(--val-split 0.2 -q)
run 0 -- "${TR[@]}" "${C[@]}" --epochs 4 --save "$T/whole.st"
run 0 -- "${TR[@]}" "${C[@]}" --epochs 2 --checkpoint-every-epoch --checkpoint-dir "$T/ck"
run 0 -- "${TR[@]}" "${C[@]}" --epochs 4 --resume "$T/ck" --save "$T/resumed.st"
check "resume: 2 + 2 epochs of a regression are 4, bit for bit" cmp -s "$T/whole.st" "$T/resumed.st"

# numbers only, and no classes
printf 'x1,price,x2\n0.1,1.5,0.2\n0.3,cheap,0.4\n' >"$T/bad.csv"
run 3 -- "$REGULA" train --data "csv:$T/bad.csv" --header --label-column price --loss mae --model 'dense(1)'
check "a target that is not a number: exit 3, file, line, column and value" \
    has 'bad.csv: line 3, column 2: target "cheap" is not a number' "$T/err"
run 0 -- "${TR[@]}" --epochs 1 --label-smoothing 0.1
check "--label-smoothing with a regression: a warning that it does nothing" \
    has '^regula: warning: --label-smoothing 0.1 has no effect: a regression' "$T/err"
run 2 -- "${TR[@]}" --class-weight balanced
check "--class-weight with a regression: exit 2, names the option" has '^regula: --class-weight balanced:' "$T/err"
run 2 -- "$REGULA" predict --input "csv:$T/lin.csv" --header --label-column price --load "$T/r.st" --proba
check "predict --proba of a regression: exit 2, says why" has 'regression model .*predicts a value' "$T/err"
# found by a review as a new user: a --val-split that leaves no training
# rows is an error, not a double free; a decimal class label hints at a
# regression; a diverged run's figures print with an exponent, not 50
# digits cut short; skipped steps are said at the end
printf 'x,y\n1,2\n' >"$T/one.csv"
run 2 -- "$REGULA" train --data "csv:$T/one.csv" --header --label-column y --loss mse --model 'dense(1)' --val-split 0.5
check "--val-split leaving no training rows: exit 2 and says so" has 'leaves the training set empty' "$T/err"
printf 'x,y\n1,2.5\n2,3\n' >"$T/dec.csv"
run 3 -- "$REGULA" train --data "csv:$T/dec.csv" --header --label-column y --model 'dense(2, softmax)'
check "a decimal class label: the message points to --loss mse or mae" has 'train a regression: --loss mse or mae' "$T/err"
run 0 -- "${TR[@]}" --epochs 2 --val-split 0.2 --skip-nonfinite --lr 1e4 --optimizer sgd --progress lines
check "a diverged figure prints with an exponent, whole" has 'val_loss [0-9]\.[0-9]{4}e\+[0-9]+  val_mae' "$T/out"
check "... on the epoch lines too" has '^epoch 1/2 .*val_loss [0-9]\.[0-9]{4}e\+[0-9]+' "$T/err"
check "skipped steps are said at the end" has '^regula: warning: [0-9]+ of [0-9]+ steps skipped \(--skip-nonfinite\)' "$T/err"
finish
