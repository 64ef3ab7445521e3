# owndata.sh — a CSV of the user's own (issue 14): RFC 4180 quoting, csv:-
# (standard input) for --data, --test-data and --input, the label column by
# name, string labels, standardisation, class weights, the stratified
# validation split and dense(auto).  Run as: bash owndata.sh REGULA_BIN DATA_DIR
set -u
# shellcheck source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: owndata.sh REGULA_BIN DATA_DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
has() { grep -Eq -- "$1" "$2"; }
from() { local f=$1; shift; "$@" <"$f"; }   # from FILE cmd...: cmd with FILE on stdin

gen_csv "$T/d.csv" 90 4242
M='dense(8, relu) dense(3, softmax)'
C=(--model "$M" --lr 0.05 --batch 16 --epochs 2 --seed 3)

# --- csv:- reads standard input: the same run as from the file
run 0 -- "$REGULA" train --data "csv:$T/d.csv" "${C[@]}" --save "$T/m.safetensors" -q
cp "$T/out" "$T/file.out"
run 0 -- from "$T/d.csv" "$REGULA" train --data csv:- "${C[@]}" -q
check "csv:- trains as the file does" cmp -s "$T/file.out" "$T/out"
run 0 -- "$REGULA" eval --load "$T/m.safetensors" --data "csv:$T/d.csv"
cp "$T/out" "$T/eval.out"
run 0 -- from "$T/d.csv" "$REGULA" eval --load "$T/m.safetensors" --test-data csv:-
check "eval --test-data csv:- as the file" cmp -s "$T/eval.out" "$T/out"
cut -d, -f2- "$T/d.csv" >"$T/x.csv"
run 0 -- "$REGULA" predict --load "$T/m.safetensors" --input "csv:$T/x.csv"
cp "$T/out" "$T/pred.out"
run 0 -- from "$T/x.csv" "$REGULA" predict --load "$T/m.safetensors" --input csv:-
check "predict --input csv:- as the file" cmp -s "$T/pred.out" "$T/out"
run 2 -- from "$T/d.csv" "$REGULA" train --data csv:- --test-data csv:- "${C[@]}"
check "stdin twice: refused" has 'both read standard input' "$T/err"
printf '1,2,0\n3,x,1\n' >"$T/x1.csv"
run 3 -- from "$T/x1.csv" "$REGULA" train --data csv:- "${C[@]}"
check "stdin's errors name it" has 'stdin: line 2, column 2: not a number: "x"' "$T/err"

# --- RFC 4180: quoted fields with commas, doubled quotes and line ends
{ printf '"label","x ""one""","x, two","x\nthree","x4"\n'
  awk -F, -v OFS=, '{ print "\"" $1 "\"", $2, "\"" $3 "\"", $4, $5 }' "$T/d.csv"; } >"$T/q.csv"
run 0 -- "$REGULA" train --data "csv:$T/q.csv" --header "${C[@]}" -q
check "a quoted CSV trains as the plain one" cmp -s "$T/file.out" "$T/out"
printf 'a,b,label\n1,2,0\n"3,4,1\n' >"$T/open.csv"
run 3 -- "$REGULA" train --data "csv:$T/open.csv" --header "${C[@]}"
check "an unclosed quote: file, line, column" has 'open.csv: line 3, column 1: the quoted field opened here is never closed' "$T/err"

# --- the label column by name, string labels (classes in sorted order of
# the names: ant 0, moth 1, zebra 2), the names in the model, eval through
# them, predict printing them; predict on a file that still has its labels
awk -F, -v OFS=, 'BEGIN { print "f1,f2,species,f3,f4"; split("zebra ant moth", nm, " ") }
    { print $2, $3, nm[$1 + 1], $4, $5 }' "$T/d.csv" >"$T/named.csv"
awk -F, -v OFS=, 'BEGIN { split("2 0 1", k, " ") } { $1 = k[$1 + 1]; print }' "$T/d.csv" >"$T/sorted.csv"
run 0 -- "$REGULA" train --data "csv:$T/sorted.csv" "${C[@]}" --save "$T/num.safetensors" -q
cp "$T/out" "$T/num.out"
run 0 -- "$REGULA" train --data "csv:$T/named.csv" --header --label-column species "${C[@]}" --save "$T/named.safetensors" -q
check "names train as their sorted numbers do" cmp -s "$T/num.out" "$T/out"
run 0 -- "$REGULA" inspect "$T/named.safetensors"
check "the mapping is in the checkpoint's metadata" has 'classes.*\["ant","moth","zebra"\]' "$T/out"
run 0 -- "$REGULA" train --data "csv:$T/named.csv" --header --label-column species "${C[@]}" --standardize \
    --save-best "$T/best.safetensors" --workers 2 -q
run 0 -- "$REGULA" inspect "$T/best.safetensors"
check "--save-best keeps the names" has 'classes.*\["ant","moth","zebra"\]' "$T/out"
check "--save-best keeps the standardisation" has 'input\.std +F32' "$T/out"
run 0 -- "$REGULA" train --data "csv:$T/named.csv" --header --label-column species "${C[@]}" --standardize \
    --checkpoint-every 3 --checkpoint-dir "$T/ck" -q
run 0 -- "$REGULA" inspect "$(ls "$T"/ck/*.safetensors | tail -1)"
check "a training checkpoint keeps the names" has 'classes.*\["ant","moth","zebra"\]' "$T/out"
check "... and the standardisation" has 'input\.mean +F32' "$T/out"
run 0 -- "$REGULA" eval --load "$T/num.safetensors" --data "csv:$T/sorted.csv"
cp "$T/out" "$T/num-eval.out"
run 0 -- "$REGULA" eval --load "$T/named.safetensors" --data "csv:$T/named.csv" --header --label-column species
check "eval maps the names through the model's" cmp -s "$T/num-eval.out" "$T/out"
run 0 -- "$REGULA" predict --load "$T/num.safetensors" --input "csv:$T/x.csv"
awk 'BEGIN { split("ant moth zebra", nm, " ") } { print nm[$1 + 1] }' "$T/out" >"$T/num-pred-names.out"
run 0 -- "$REGULA" predict --load "$T/named.safetensors" --input "csv:$T/x.csv"
check "predict prints the names" cmp -s "$T/num-pred-names.out" "$T/out"
run 0 -- "$REGULA" predict --load "$T/named.safetensors" --input "csv:$T/named.csv" --header --label-column species
check "predict drops the label column it is given" cmp -s "$T/num-pred-names.out" "$T/out"
run 0 -- "$REGULA" predict --load "$T/named.safetensors" --input "csv:$T/x.csv" --proba
check "--proba names the classes" has '^class,p_ant,p_moth,p_zebra$' "$T/out"
run 0 -- "$REGULA" eval --load "$T/named.safetensors" --data "csv:$T/named.csv" --header --label-column species --metrics
check "--metrics names the classes" has '^ *zebra ' "$T/out"
run 3 -- "$REGULA" predict --load "$T/num.safetensors" --input "csv:$T/sorted.csv"
check "predict without --label-column: a hint" has 'give --label-column to drop' "$T/err"
{ head -3 "$T/named.csv"; echo "1,2,cow,3,4"; } >"$T/cow.csv"
run 3 -- "$REGULA" eval --load "$T/named.safetensors" --data "csv:$T/cow.csv" --header --label-column species
check "an unknown name: line and value" has 'cow.csv: line 4, column 3: label "cow" is not one of the model.s classes' "$T/err"
run 3 -- "$REGULA" eval --load "$T/num.safetensors" --data "csv:$T/named.csv" --header --label-column species
check "names against a numeric model" has 'the labels are names \(ant, moth, zebra\), but the model.s classes are numbers' "$T/err"
run 2 -- "$REGULA" train --data "csv:$T/named.csv" --header --label-column class "${C[@]}"
check "a missing column name lists the columns" has 'no column named "class" in the header \(line 1\); the columns are "f1", "f2", "species", "f3", "f4"' "$T/err"
run 2 -- "$REGULA" train --data "csv:$T/named.csv" --label-column species "${C[@]}"
check "a name without --header" has 'give --header' "$T/err"
# a test file that differs: no header, the label last
awk -F, -v OFS=, 'NR > 1 { print $1, $2, $4, $5, $3 }' "$T/named.csv" >"$T/test.csv"
run 0 -- "$REGULA" train --data "csv:$T/named.csv" --header --label-column species "${C[@]}" \
    --test-data "csv:$T/test.csv" --test-header no --test-label-column -1 -q
check "--test-header, --test-label-column" has '^test_loss [0-9.]+  test_acc [0-9.]+  train_loss' "$T/out"
run 2 -- "$REGULA" train --data "csv:$T/named.csv" --header --label-column species "${C[@]}" --test-data "csv:$T/test.csv"
check "without them the test file is read as the training file" has 'test.csv: no column named "species"' "$T/err"
run 0 -- "$REGULA" eval --load "$T/named.safetensors" --test-data "csv:$T/test.csv" --test-header no --test-label-column 4
check "eval --test-label-column" has '^test_loss [0-9.]+  test_acc [0-9.]+$' "$T/out"

# --- --standardize: the training set's moments, saved with the model and
# applied by eval and predict; a constant feature divides by nothing
awk -F, -v OFS=, '{ print $1, $2 * 1000 + 5000, $3 - 70, $4, $5, 7 }' "$T/d.csv" >"$T/wide.csv"
run 0 -- "$REGULA" train --data "csv:$T/wide.csv" "${C[@]}" --standardize --save "$T/std.safetensors" -q
check "a constant feature: no NaN" has '^train_loss [0-9.]+  train_acc [0-9.]+  epochs 2$' "$T/out"
read -r _ loss _ acc _ <"$T/out"
run 0 -- "$REGULA" inspect "$T/std.safetensors"
check "the moments are in the checkpoint" has 'input\.mean +F32 +\[5\]' "$T/out"
run 0 -- "$REGULA" eval --load "$T/std.safetensors" --data "csv:$T/wide.csv"
check "eval standardises as train did" has "^test_loss $loss  test_acc $acc\$" "$T/out"
cut -d, -f2- "$T/wide.csv" >"$T/wide-x.csv"
run 0 -- "$REGULA" predict --load "$T/std.safetensors" --input "csv:$T/wide-x.csv"
got=$(paste -d, "$T/out" "$T/d.csv" | awk -F, '$1 == $2 { k++ } END { printf "%.4f", k / NR }')
check "predict standardises as train did (accuracy $got = $acc)" test "$got" = "$acc"

# --- --class-weight: weights of 1 change nothing; balanced weights change
# the run on imbalanced data; a bad file: its name and line
awk -F, '$1 == 0 || NR % 4 == 0' "$T/d.csv" >"$T/skew.csv"
printf '1\n1\n1\n' >"$T/ones.txt"
run 0 -- "$REGULA" train --data "csv:$T/skew.csv" "${C[@]}" --save "$T/plain.safetensors" -q
run 0 -- "$REGULA" train --data "csv:$T/skew.csv" "${C[@]}" --class-weight "$T/ones.txt" --save "$T/ones.safetensors" -q
check "weights of 1: the same model, to the bit" cmp -s "$T/plain.safetensors" "$T/ones.safetensors"
run 0 -- "$REGULA" train --data "csv:$T/skew.csv" "${C[@]}" --class-weight balanced --save "$T/bal.safetensors" -q
check "balanced weights: another model" test -n "$(cmp "$T/plain.safetensors" "$T/bal.safetensors")"
printf '1\n2\nx\n' >"$T/bad.txt"
run 3 -- "$REGULA" train --data "csv:$T/skew.csv" "${C[@]}" --class-weight "$T/bad.txt"
check "a bad weight file: file and line" has 'bad.txt: line 3: "x" is not a weight' "$T/err"

# --- --val-split: shuffled and stratified; on a file sorted by label the
# last fraction held one class the model never saw (val_acc near 0); the
# split is the seed's, the same for any worker count (--deterministic)
sort -t, -k1,1n "$T/d.csv" >"$T/bylabel.csv"
run 0 -- "$REGULA" train --data "csv:$T/bylabel.csv" --model "$M" --lr 0.05 --batch 16 --epochs 8 --seed 3 \
    --val-split 0.2 -q
read -r _ _ _ vacc _ <"$T/out"
check "a label-sorted file validates on every class (val_acc $vacc > 0.6)" awk -v a="$vacc" 'BEGIN { exit !(a > 0.6) }'
for w in 1 2 3; do
    run 0 -- "$REGULA" train --data "csv:$T/bylabel.csv" "${C[@]}" --val-split 0.2 --deterministic --det-shards 6 \
        --workers $w --save "$T/split$w.safetensors" -q
done
check "the split is the same for 1, 2 and 3 workers" cmp -s "$T/split1.safetensors" "$T/split2.safetensors"
check "... and 3" cmp -s "$T/split1.safetensors" "$T/split3.safetensors"

# --- dense(auto, softmax): the width of the classes; a width that does
# not fit says what to write
run 0 -- "$REGULA" train --data "csv:$T/named.csv" --header --label-column species --model 'dense(8, relu) dense(auto, softmax)' \
    --epochs 1 --save "$T/auto.safetensors" -q
run 0 -- "$REGULA" inspect "$T/auto.safetensors"
check "dense(auto) became dense(3)" has 'spec +dense\(8, relu\) dense\(3, softmax\)' "$T/out"
run 3 -- "$REGULA" train --data "csv:$T/named.csv" --header --label-column species --model 'dense(8, relu) dense(4, softmax)' --epochs 1
check "named classes: the width must match" has 'named.csv: 3 classes \(ant, moth, zebra\) but the model has 4 outputs: end --model with dense\(3, softmax\) for 3 classes' "$T/err"
run 3 -- "$REGULA" train --data "csv:$T/d.csv" --model 'dense(8, relu) dense(2, softmax)' --epochs 1
check "numbered classes: too few outputs" has 'labels go up to 2 but the model has 2 outputs: end --model with dense\(3, softmax\) for 3 classes' "$T/err"
run 2 -- "$REGULA" train --data "csv:$T/d.csv" --model 'dense(auto, relu) dense(3, softmax)' --epochs 1
check "auto elsewhere: refused by the parser" has "dense units 'auto'" "$T/err"

finish
