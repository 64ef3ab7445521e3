# study_fed.sh — bench/study_fed.sh (make study-fed) and bench/fed_bench.sh
# at a tiny scale, so that they cannot rot: every part runs on a small CSV,
# the logs, command lines and tables are where they should be, Krum's
# refusal is kept, and bench/fed_table.sh's figures of a hand-made log are
# the ones worked out by hand.  Seconds.
# Run as: bash study_fed.sh REGULA_BIN DATA_DIR
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: study_fed.sh REGULA_BIN DATA_DIR}
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../bench" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-study-fed-XXXXXX")
trap 'rm -rf "$T"' EXIT

# fed_table.sh's figures of a log worked out by hand: test accuracy
# 0.5, 0.72, 0.81, 0.79 after rounds 1-4, 2 MB a round (1 up, 1 down).
for r in 1 2 3 4; do
  a=$(echo "0.5 0.72 0.81 0.79" | cut -d' ' -f$r)
  echo "{\"event\":\"epoch\",\"epoch\":$r,\"val_acc\":$a,\"fed\":{\"bytes_up\":1000000,\"bytes_down\":1000000}}"
done > "$T/hand.jsonl"
echo '{"event":"end","test_loss":0.5,"test_acc":0.79,"train_loss":0.61}' >> "$T/hand.jsonl"
run 0 -- "$BENCH/fed_table.sh" metrics "$T/hand.jsonl" 4000000
# rounds r80 r70 final last10 budget_acc MB/round eps kept objective
check "fed_table: rounds to 80% and 70%, final, last-10 mean, accuracy within 4 MB, objective" \
  test "$(cat "$T/out")" = "4 3 2 0.79 0.7050 0.72 2.000 - 0 0.61"
run 0 -- "$BENCH/fed_table.sh" metrics "$T/hand.jsonl" 1000000
check "fed_table: a budget below one round's bytes reaches nothing" test "$(cut -d' ' -f6 "$T/out")" = nan
# a resumed run logs the round of its checkpoint again, and a killed one the rounds it trains again after
# its last checkpoint: each round counts once (not 6 rounds, 80% first at round 5, 1.667 MB a round)
{ sed -n 1,2p "$T/hand.jsonl"; echo '{"event":"resume","step":20,"epoch":2}'; sed -n 2,5p "$T/hand.jsonl"; } \
  > "$T/resumed.jsonl"
{ sed -n 1,3p "$T/hand.jsonl"; sed -n 2,5p "$T/hand.jsonl"; } > "$T/killed.jsonl"   # rounds 2-3 twice
for f in resumed killed; do
  run 0 -- "$BENCH/fed_table.sh" metrics "$T/$f.jsonl" 4000000
  check "fed_table: a $f run's log: the figures of the run straight through" \
    test "$(cat "$T/out")" = "4 3 2 0.79 0.7050 0.72 2.000 - 0 0.61"
done
sed 's/"val_acc":0.81/"val_acc":0.69/; s/"epoch":4,"val_acc":0.79/"epoch":4,"val_acc":0.7,"kept":true/' \
  "$T/hand.jsonl" > "$T/low.jsonl"
run 0 -- "$BENCH/fed_table.sh" metrics "$T/low.jsonl"
check "fed_table: 80% never reached is nan; 70% first at round 2; a kept round counted" \
  test "$(cut -d' ' -f2,3,9 "$T/out")" = "nan 2 1"

# The study, every part, at the smoke scale on the test's own data.
gen_csv "$T/train.csv" 600 4242
export DATA=csv:$T/train.csv MODEL='dense(8, relu) dense(3, softmax, l2=0.001)' FED_ARGS='--val-split 0.2' \
       ATTACK_PARTS=iid DIR=$T/study REGULA=$REGULA
run 0 -- "$BENCH/study_fed.sh" "$T" smoke
n=$(wc -l < "$T/study/runs.txt")
# sweep 7 + 4 (iid: no policies), main 2x6, adapt 4 (not iid), scope 2x4, attack 12, attack20 5, dp 9
check "study: 61 runs listed ($n)" test "$n" -eq 61
check "study: a command line for each run" test "$(wc -l < "$T/study/commands.txt")" -eq 61
bad_logs=0
while read -r f; do
  [ "$(grep -c '"event":"epoch"' "$T/study/$f")" -eq 3 ] || bad_logs=$((bad_logs + 1))
done < "$T/study/runs.txt"
check "study: every log has its 3 rounds" test "$bad_logs" -eq 0
check "study: krum:4 with 10 clients a round refused, naming --aggregate" \
  grep -q -- '--aggregate krum:4' "$T/study/krum-refusal.txt"
check "study: the refusal's exit code is 2" grep -qx 'exit 2' "$T/study/krum-refusal.txt"
for row in '| dir0.1 | fedavg |' '| iid | scaffold |' '| iid | feddyn |' '| iid | fedadam-lr0.01 |' \
           '| iid | adaptive-skew-mu' '| iid | fedprox-mu' '| iid | krum:3 | 20% |' '| iid | trimmed:0.3 | 20% |' \
           '| iid | krum:6 | 20% |' '| iid | clip0.5-noise1 | ' '| dir0.1 | divergence-mu1 |' '| iid | feddyn-local |'; do
  check "study: the tables have a row $row" grep -qF -- "$row" "$T/study/tables.md"
done
check "study: the tables are printed too" cmp -s "$T/out" "$T/study/tables.md"
run 0 -- env PARTS=adapt ADAPT_MU=0.5 APPEND=1 "$BENCH/study_fed.sh" "$T" smoke
check "study: APPEND=1 adds a part's runs to the list" test "$(wc -l < "$T/study/runs.txt")" -eq 65
run 0 -- env PARTS=dp NOISES=4 APPEND=1 "$BENCH/study_fed.sh" "$T" smoke
check "study: a rerun replaces its log rather than listing it twice" test "$(wc -l < "$T/study/runs.txt")" -eq 65
check "study: every algorithm's row has its accuracy after R rounds" \
  awk -F'|' '$3 ~ /^ (fedavg|fedprox|scaffold|feddyn|fedadam|adaptive)/ { n++; if ($6 !~ /[0-9]/) bad++ }
             END { exit !(n == 31 && !bad) }' "$T/study/tables.md"
run 2 -- "$BENCH/study_fed.sh" "$T" huge
check "study: an unknown scale is named" grep -q 'scale huge' "$T/err"
run 2 -- "$BENCH/fed_table.sh" "$T/nowhere"

# The benchmark's speed and robustness parts (the memory part needs
# 10,000 clients' worth of data: Fashion-MNIST).
run 0 -- env ROUNDS=3 ROBUST_ROUNDS=3 "$BENCH/fed_bench.sh" "$T" "speed robust"
check "fed_bench: rounds a second" grep -Eq '^\| rounds a second, training .* \| [0-9.]+ \|$' "$T/out"
# (3 rounds of a 600-row set: the difference may be below the clock's 0.01 s)
check "fed_bench: CPU-seconds a round" grep -Eq '^\| CPU-seconds .* \| ([0-9.]+|–) \|$' "$T/out"
check "fed_bench: the robust rules beside the clean mean" \
  test "$(grep -cE '^\| (mean|median|trimmed:0.3|krum:3) \| (0|20)% \| [0-9.]+ \| [-+][0-9.]+ \|$' "$T/out")" -eq 5
run 2 -- "$BENCH/fed_bench.sh" "$T" sprint

finish
