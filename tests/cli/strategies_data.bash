# shellcheck shell=bash
# What tests/cli/strategies.sh (threads) and tests/mpi/strategies_mpi.sh
# share: the data in $dir (d.csv: 400 rows of 3 blobs; nan.csv: sample 77
# overflows a float in the first layer, so the step that takes it is
# non-finite, once an epoch), the options of an early-stopping run (es)
# and of a non-finite one (nf), and two checks of a log.  Needs lib.bash.
awk 'BEGIN { srand(7); for (i = 0; i < 400; i++) { c = i % 3; line = c;
  for (j = 0; j < 6; j++) line = line "," ((j == c ? 1.5 : 0) + rand() * 2 - 1); print line } }' > "$dir/d.csv"
awk 'BEGIN { srand(3); for (i = 0; i < 200; i++) { c = i % 3; line = c;
  for (j = 0; j < 40; j++) line = line "," (i == 77 ? "3e38" : (j % 3 == c) + rand() - 0.5); print line } }' > "$dir/nan.csv"
es=(--data "csv:$dir/d.csv" --val-split 0.2 --epochs 12 --batch 40 --lr 0.05 --log-every 0
    --model 'dense(12, relu) dense(3, softmax)' --early-stop 2 --min-delta 0.05)
nf=(--data "csv:$dir/nan.csv" --model 'dense(8, relu) dense(3, softmax)' --epochs 3 --batch 16 --seed 1 --log-every 0)

# field NAME LINE: the value of "NAME": in a JSON line
field() { grep -o "\"$1\":[^,}]*" <<< "$2" | head -1 | cut -d: -f2-; }
# one_end NAME LOG: the log has one end event (a doubled one would pass
# the checks that read the first)
one_end() {
    local n
    n=$(grep -c '"event":"end"' "$2")
    [ "$n" = 1 ] && ok "$1: one end event" || bad "$1: $n end events in $(basename "$2")"
}
