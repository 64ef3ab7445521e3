# losses.sh — a binary classifier from the command line (issue 14): a last
# layer dense(1, sigmoid) trains on binary cross-entropy (--loss auto or
# bce), eval and predict read the loss from the checkpoint (predict gives
# classes 0/1 and, with --proba, both probabilities), and the wrong last
# layer or labels are refused naming what fits; dense(auto, sigmoid) is
# one output on two classes, and refused on more.
# Run as: bash losses.sh REGULA_BIN DATA_DIR
set -u
# shellcheck source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: losses.sh REGULA_BIN DATA_DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
has() { grep -Eq -- "$1" "$2"; }

gen_csv "$T/d3.csv" 200 99
# two classes: class 2 of the generated data becomes 1, 0 stays 0 (1 dropped)
awk -F, -v OFS=, '$1 != 1 { if ($1 == 2) $1 = 1; print }' "$T/d3.csv" >"$T/b.csv"
cut -d, -f2- "$T/b.csv" >"$T/bx.csv"
B=(--data "csv:$T/b.csv" --lr 0.05 --batch 16 --epochs 8 --seed 3)

run 0 -- "$REGULA" train "${B[@]}" --model 'dense(8, relu) dense(1, sigmoid)' --val-split 0.25 --save "$T/auto.st"
check "auto: bce on a dense(1, sigmoid) learns two classes (val_acc >= 0.9)" \
    awk '/val_acc/ { for (i = 1; i < NF; i++) if ($i == "val_acc") exit !($(i + 1) >= 0.9); }' "$T/out"
run 0 -- "$REGULA" train "${B[@]}" --model 'dense(8, relu) dense(1, sigmoid)' --val-split 0.25 --loss bce --save "$T/bce.st"
check "--loss bce is what auto chose: the same weights" cmp -s "$T/auto.st" "$T/bce.st"
run 0 -- "$REGULA" inspect "$T/bce.st"
check "the checkpoint names its loss" has 'loss.*bce' "$T/out"
run 0 -- "$REGULA" eval --data "csv:$T/b.csv" --load "$T/bce.st"
check "eval: accuracy of p > 0.5" has 'acc 0\.9[0-9]*|acc 1\.0' "$T/out"
run 0 -- "$REGULA" predict --input "csv:$T/bx.csv" --load "$T/bce.st"
check "predict: a class 0 or 1 per sample" awk -v want="$(wc -l <"$T/bx.csv")" '{ n++; if ($0 != "0" && $0 != "1") exit 1 } END { exit n != want }' "$T/out"
check "predict: both classes seen" test "$(sort -u "$T/out" | wc -l)" -eq 2
run 0 -- "$REGULA" predict --input "csv:$T/bx.csv" --load "$T/bce.st" --proba
check "--proba: p_0 and p_1 that add to 1" awk -F, 'NR == 1 { if ($2 != "p_0" || $3 != "p_1") exit 1; next }
    { s = $2 + $3; if (s < 0.9999 || s > 1.0001 || ($3 > 0.5) != ($1 == "1")) exit 1 }' "$T/out"
run 0 -- "$REGULA" eval --data "csv:$T/b.csv" --load "$T/bce.st" --metrics
check "eval --metrics: a 2x2 confusion matrix" has 'confusion' "$T/out"

# a linear last layer is a logit too, with --loss bce; its checkpoint keeps the loss
run 0 -- "$REGULA" train "${B[@]}" --model 'dense(8, relu) dense(1)' --loss bce --save "$T/lin.st"
run 0 -- "$REGULA" eval --data "csv:$T/b.csv" --load "$T/lin.st"
check "eval of a dense(1) bce model: binary accuracy, not one class" has 'acc 0\.9[0-9]*|acc 1\.0' "$T/out"

run 2 -- "$REGULA" train "${B[@]}" --model 'dense(8, relu) dense(3, softmax)' --loss bce
check "--loss bce with 3 outputs: says what the last layer must be" has '--loss bce: the last layer must be dense\(1, sigmoid\)' "$T/err"
run 2 -- "$REGULA" train "${B[@]}" --model 'dense(1, sigmoid)' --loss crossentropy
check "--loss crossentropy on one sigmoid: use bce" has 'use --loss bce' "$T/err"
run 3 -- "$REGULA" train --data "csv:$T/d3.csv" --model 'dense(8, relu) dense(1, sigmoid)' --epochs 1
check "three classes for a binary model: exit 3, names the labels" has 'labels go up to 2 but binary cross-entropy' "$T/err"

# dense(auto, sigmoid): one sigmoid output on two classes (bce), names kept
awk -F, -v OFS=, '{ $1 = $1 == 1 ? "spam" : "ham"; print }' "$T/b.csv" >"$T/named.csv"
cut -d, -f2- "$T/named.csv" >"$T/namedx.csv"
run 0 -- "$REGULA" train --data "csv:$T/named.csv" --lr 0.05 --batch 16 --epochs 8 --seed 3 \
    --model 'dense(8, relu) dense(auto, sigmoid)' --save "$T/as.st"
run 0 -- "$REGULA" inspect "$T/as.st"
check "dense(auto, sigmoid) on two classes: one sigmoid output" has 'spec +dense\(8, relu\) dense\(1, sigmoid\)' "$T/out"
check "dense(auto, sigmoid) on two classes: binary cross-entropy" has 'loss +bce' "$T/out"
run 0 -- "$REGULA" predict --input "csv:$T/namedx.csv" --load "$T/as.st"
check "predict: the class names, both seen" test "$(sort -u "$T/out" | tr '\n' ' ')" = "ham spam "
run 0 -- "$REGULA" predict --input "csv:$T/namedx.csv" --load "$T/as.st" --proba
check "predict --proba: p_ham and p_spam" has '^class,p_ham,p_spam$' "$T/out"
run 0 -- "$REGULA" eval --data "csv:$T/named.csv" --load "$T/as.st" --metrics
check "eval --metrics: per-class rows by name" has '^spam ' "$T/out"
check "eval: accuracy of p > 0.5" has 'acc 0\.9[0-9]*|acc 1\.0' "$T/out"
run 2 -- "$REGULA" train --data "csv:$T/d3.csv" --model 'dense(8, relu) dense(auto, sigmoid)' --epochs 1
check "dense(auto, sigmoid) on three classes: exit 2, says to use softmax" \
    has 'dense\(auto, sigmoid\) is one output for two classes .* the data has 3: end --model with dense\(auto, softmax\)' "$T/err"
finish
