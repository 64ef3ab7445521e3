# predict_eval.sh — what predict and eval print for a script (issue 14):
# predict --proba (CSV: the class and every class's probability) and
# --top K (the K most likely classes), eval --metrics (per-class
# precision, recall, F1 and support, macro and weighted averages, the
# confusion matrix) as text and as JSON (--format json).  The figures are
# checked against values computed by hand: the model is written by hand
# (identity weights, so a sample's logits are its features), and so are
# the samples.  Run as: bash predict_eval.sh REGULA_BIN DATA_DIR
set -u
# shellcheck source=lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: predict_eval.sh REGULA_BIN DATA_DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
has() { grep -Fxq -- "$1" "$2"; }

# id_model FILE K: dense(K, softmax) on K inputs, W = identity, b = 0: the
# logits are the features, the probabilities their softmax
# shellcheck disable=SC2059
id_model() {
    local f=$1 k=$2 i j one='\x00\x00\x80\x3f' z='\x00\x00\x00\x00'
    local h="{\"__metadata__\":{\"format\":\"regula-1\",\"spec\":\"dense($k, softmax)\",\"inputs\":\"$k\"},"
    h+="$(st_tensor dense_0.weight F32 "$k,$k" "0,$((4 * k * k))"),$(st_tensor dense_0.bias F32 "$k" "$((4 * k * k)),$((4 * k * k + 4 * k))")}"
    { printf "$(le64 ${#h})%s" "$h"
      for ((i = 0; i < k; i++)); do for ((j = 0; j < k; j++)); do
          if ((i == j)); then printf "$one"; else printf "$z"; fi; done; done
      head -c $((4 * k)) /dev/zero; } >"$f"
}
id_model "$T/id3.safetensors" 3
id_model "$T/id4.safetensors" 4

# --- predict: logits (0,0,0), (0,ln 2,0), (ln 3,0,0): probabilities 1/3
# each, (1,2,1)/4 and (3,1,1)/5
printf '0,0,0\n0,0.6931471805599453,0\n1.0986122886681098,0,0\n' >"$T/x.csv"
P=("$REGULA" predict --load "$T/id3.safetensors" --input "csv:$T/x.csv")
run 0 -- "${P[@]}"
check "predict: one class a line, the first of equal ones" cmp -s "$T/out" <(printf '0\n1\n0\n')
run 0 -- "${P[@]}" --proba
printf 'class,p_0,p_1,p_2\n0,0.333333,0.333333,0.333333\n1,0.25,0.5,0.25\n0,0.6,0.2,0.2\n' >"$T/want"
check "--proba: a header, then the class and each class's probability" cmp -s "$T/out" "$T/want"
run 0 -- "${P[@]}" --top 2
printf 'class_1,p_1,class_2,p_2\n0,0.333333,1,0.333333\n1,0.5,0,0.25\n0,0.6,1,0.2\n' >"$T/want"
check "--top 2: the two most likely, equal ones by class" cmp -s "$T/out" "$T/want"
run 0 -- "${P[@]}" --top 3
check "--top 3 of 3 classes: every class, most likely first" has '1,0.5,0,0.25,2,0.25' "$T/out"

# on a trained model: --proba's and --top 1's class is predict's, and a
# row's probabilities add up to 1
gen_csv "$T/d.csv" 90 31
cut -d, -f2- "$T/d.csv" >"$T/f.csv"
run 0 -- "$REGULA" train --data "csv:$T/d.csv" --model 'dense(8, relu) dense(3, softmax)' --epochs 2 --batch 16 \
    --lr 0.05 --save "$T/m.safetensors" -q
Q=("$REGULA" predict --load "$T/m.safetensors" --input "csv:$T/f.csv")
run 0 -- "${Q[@]}" && cp "$T/out" "$T/classes"
run 0 -- "${Q[@]}" --proba && cp "$T/out" "$T/proba"
run 0 -- "${Q[@]}" --top 1 && cp "$T/out" "$T/top1"
check "--proba: 90 rows and a header" test "$(wc -l <"$T/proba")" = 91
check "--proba: the class column is predict's" cmp -s <(tail -n +2 "$T/proba" | cut -d, -f1) "$T/classes"
check "--top 1: its class is predict's" cmp -s <(tail -n +2 "$T/top1" | cut -d, -f1) "$T/classes"
check "--proba: each row adds up to 1" awk -F, 'NR > 1 { s = $2 + $3 + $4; if (s < 0.9999 || s > 1.0001) bad = 1 }
    END { exit bad }' "$T/proba"

# --- eval --metrics: a sample's features are the one-hot of the class the
# model predicts for it, so the confusion matrix is chosen by hand:
#   true 0: predicted 0 0 0 1;  true 1: 1 1 2;  true 2: 2 0 0;  class 3: none
# precision 3/5, 2/3, 1/2; recall 3/4, 2/3, 1/3; F1 2/3, 2/3, 2/5
for tp in 0:0 0:0 0:0 0:1 1:1 1:1 1:2 2:2 2:0 2:0; do
    line=${tp%:*}
    for j in 0 1 2 3; do if [ "$j" = "${tp#*:}" ]; then line+=,1; else line+=,0; fi; done
    echo "$line"
done >"$T/m.csv"
E=("$REGULA" eval --load "$T/id4.safetensors" --data "csv:$T/m.csv")
run 0 -- "${E[@]}"
check "eval: one line, as before" cmp -s "$T/out" <(echo 'test_loss 1.1437  test_acc 0.6000')
run 0 -- "${E[@]}" --metrics
cat >"$T/want" <<'EOF'
test_loss 1.1437  test_acc 0.6000

class         precision     recall         f1    support
0                0.6000     0.7500     0.6667          4
1                0.6667     0.6667     0.6667          3
2                0.5000     0.3333     0.4000          3
3                     -          -          -          0
macro avg        0.5889     0.5833     0.5778         10
weighted avg     0.5900     0.6000     0.5867         10

confusion matrix: rows are the true class, columns the predicted class
true\predicted   0   1   2   3
0                3   1   0   0
1                0   2   1   0
2                2   0   1   0
3                0   0   0   0
EOF
check "--metrics: per-class figures, averages and the confusion matrix, as computed by hand" cmp -s "$T/out" "$T/want"
[ -n "${VERBOSE:-}" ] && diff "$T/out" "$T/want"
run 0 -- "${E[@]}" --metrics --format json
check "--format json: one line" test "$(wc -l <"$T/out")" = 1
for frag in '{"test_loss":1.14366839,"test_acc":0.6,"samples":10,' \
    '{"class":"0","precision":0.6,"recall":0.75,"f1":0.666666667,"support":4}' \
    '{"class":"2","precision":0.5,"recall":0.333333333,"f1":0.4,"support":3}' \
    '{"class":"3","precision":null,"recall":null,"f1":null,"support":0}' \
    '"macro_avg":{"precision":0.588888889,"recall":0.583333333,"f1":0.577777778,"support":10}' \
    '"weighted_avg":{"precision":0.59,"recall":0.6,"f1":0.586666667,"support":10}' \
    '"confusion_matrix":{"rows":"true","columns":"predicted","labels":["0","1","2","3"],"counts":[[3,1,0,0],[0,2,1,0],[2,0,1,0],[0,0,0,0]]}}'; do
    check "--format json: $frag" grep -Fq -- "$frag" "$T/out"
done
run 0 -- "${E[@]}" --format json
check "--format json without --metrics: the figures alone" cmp -s "$T/out" \
    <(echo '{"test_loss":1.14366839,"test_acc":0.6,"samples":10}')
# a class never predicted: precision 0 (0/0 counts as 0), in the averages
printf '1,1,0,0,0\n1,1,0,0,0\n0,1,0,0,0\n' >"$T/z.csv"
run 0 -- "$REGULA" eval --load "$T/id4.safetensors" --data "csv:$T/z.csv" --metrics
check "never predicted: precision, recall and F1 0" grep -Eq '^1 +0\.0000 +0\.0000 +0\.0000 +2$' "$T/out"
check "the macro average over the classes present (0 and 1)" grep -Eq '^macro avg +0\.1667 +0\.5000 +0\.2500 +3$' "$T/out"

# --- bad values: exit 2, nothing on stdout
run 2 -- "${P[@]}" --top 4
check "--top above the classes: says how many there are" grep -q -- '--top 4: the model .* has 3 classes (give --top 1 to 3)' "$T/err"
check "nothing on stdout" test ! -s "$T/out"
run 2 -- "${P[@]}" --top -1
check "--top -1: refused" grep -q -- '--top must be a class count >= 1 (0 = off), got -1' "$T/err"
run 2 -- "${P[@]}" --proba --top 2
check "--proba with --top: give one" grep -q -- '--proba and --top 2 print different tables' "$T/err"
run 2 -- "${E[@]}" --format xml
check "--format xml: the choices" grep -q -- "--format: unknown value 'xml' (expected text or json)" "$T/err"
run 2 -- "${E[@]}" --proba
check "--proba is predict's" grep -q -- "--proba is not an option of 'eval'" "$T/err"
finish
