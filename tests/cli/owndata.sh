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

finish
