# det_fused.sh — --deterministic on one worker runs a step's shards as one
# pass (the products over all the step's rows, each shard's weight
# gradient summed in the shards' tree block by block): the same bits as the
# shards one by one (REGULA_DET_FUSE=0) and as 2 and 3 workers, with a
# batch that 6 shards do not divide, a last batch of one row (5 empty
# shards), dropout and a penalty; and it keeps no slot per shard, which
# shows in the peak resident memory (6 slots of a model of a million
# weights: 24 MB).
#   bash det_fused.sh REGULA_BIN DATA_DIR
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: det_fused.sh REGULA_BIN DATA_DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-detf-XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 fail=0

gen_csv "$T/train.csv" 301 5151
args=(train --data "csv:$T/train.csv" --model 'dense(1000, relu) dropout(0.25) dense(1000, tanh, l2=0.01) dense(3, softmax)'
      --epochs 2 --batch 20 --lr 0.01 --seed 7 -q --deterministic --det-shards 6)

# one NAME FUSE WORKERS: trains; the weights as NAME.st, peak RSS (KB) in NAME.rss
one() {
    local t=()
    [ -x /usr/bin/time ] && t=(/usr/bin/time -f %M -o "$T/$1.rss")
    env -u OPENBLAS_CORETYPE REGULA_DET_FUSE="$2" "${t[@]}" "$REGULA" "${args[@]}" --workers "$3" --save "$T/$1.st" \
        > /dev/null 2> "$T/err" || bad "$1: exit $?: $(cat "$T/err")"
}
one fused 1 1
one perpass 0 1
one w2 1 2
one w3 1 3
for name in perpass w2 w3; do
    if cmp -s "$T/fused.st" "$T/$name.st"; then ok "1 worker, shards as one pass: the bits of $name"
    else bad "1 worker, shards as one pass: other bits than $name"; fi
done

if [ -x /usr/bin/time ]; then
    a=$(cat "$T/fused.rss") b=$(cat "$T/perpass.rss")
    # 6 slots of 1,007,003 floats: 23,600 KB; ask for most of it
    if [ $((b - a)) -gt 18000 ]; then ok "peak RSS ${a} KB, one slot per shard ${b} KB"
    else bad "peak RSS ${a} KB against ${b} KB with a slot per shard: the step's shards did not run as one"; fi
else
    echo "skip: no /usr/bin/time to read peak memory"
fi
finish
