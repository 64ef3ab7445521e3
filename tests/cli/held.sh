# held.sh — the forward on W held transposed (--gemm auto, rg_model_hold):
# the copy is made afresh every step, whatever changed the weights since
# the last one.  For each way weights change — one worker's optimizer
# step, worker threads sharing one copy of the weights (allreduce; not
# hogwild, whose races change the losses run to run), local-sgd's averages, easgd's elastic moves, the parameter
# server's pulls (bulk-synchronous: --staleness 0, the same run to run), a resumed run's loaded weights — a run with auto, whose
# log says it holds the forward (fwd_wt), gives every step's loss within
# rounding of the same run with --gemm openblas, which holds nothing.  A
# stale copy (the forward on the weights of an earlier step) moves a
# step's loss by far more than rounding.  The evaluations (each epoch's
# validation figures, the end's training figures) hold the model too and
# are compared alike.
#   bash held.sh REGULA_BIN DATA_DIR
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: held.sh REGULA_BIN DATA_DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-held-XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 failed=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

case $("$REGULA" --version) in
*"auto: libxsmm"*"transposed once a step"*) ;;
*) echo "SKIP: this regula's auto holds nothing (it holds on AVX-512 alone, with LIBXSMM)"; exit 0 ;;
esac

gen_csv "$T/train.csv" 640 4242
# layers 1 and 2 are held at 32 rows a worker (at least 16 outputs, at
# most 65,536 weights); the last (3 outputs) is not
args=(train --data "csv:$T/train.csv" --model 'dense(32, relu) dense(16, relu, l2=0.001) dense(3, softmax)'
      --lr 0.02 --seed 3 --log-every 1 -q)

# run NAME ARGS...: trains with the log NAME.jsonl
run() {
    local name=$1; shift
    env -u OPENBLAS_CORETYPE "$REGULA" "${args[@]}" "$@" --log "$T/$name.jsonl" > /dev/null 2> "$T/err" ||
        bad "$name: exit $?: $(cat "$T/err")"
}
# every step's loss; each epoch's validation loss (v1 v2 ...) and the end's
# training loss (end), the evaluations' (which hold the model too)
losses() {
    sed -n -e 's/.*"event":"step","step":\([0-9]*\),.*"loss":\([-0-9.e+]\{1,\}\).*/\1 \2/p' \
        -e 's/.*"event":"epoch","epoch":\([0-9]*\),.*"val_loss":\([-0-9.e+]\{1,\}\).*/v\1 \2/p' \
        -e 's/.*"event":"end",.*"train_loss":\([-0-9.e+]\{1,\}\).*/end \1/p' "$T/$1.jsonl"
}

# same NAME ARGS...: auto and openblas; compare NAME: every step's loss
# within 1e-4 (relative) of openblas's, at least 20 steps
same() {
    local name=$1; shift
    run "$name-auto" --gemm auto "$@"
    run "$name-ob" --gemm openblas "$@"
    compare "$name"
}
compare() {
    local name=$1
    grep -q '"fwd_wt":true' "$T/$name-auto.jsonl" || { bad "$name: auto holds no forward: $(grep -o '"kernels":[^]]*' "$T/$name-auto.jsonl")"; return; }
    grep -q '"fwd_wt"' "$T/$name-ob.jsonl" && { bad "$name: --gemm openblas holds a forward"; return; }
    local verdict
    verdict=$(awk '
        NR == FNR { want[$1] = $2; next }
        $1 in want { n++; d = $2 - want[$1]; if (d < 0) d = -d; r = d / (want[$1] > 0 ? want[$1] : 1e-30)
                     if (r > worst) { worst = r; at = $1 } }
        END { if (n < 20) print "only " n " steps"; else if (worst > 1e-4) print "step " at " differs by " worst; else print "ok " n " " worst }
        ' <(losses "$name-ob") <(losses "$name-auto"))
    case $verdict in
    ok*) ok "$name: ${verdict#ok } (figures, the worst relative difference)" ;;
    *) bad "$name: $verdict" ;;
    esac
}

same one --epochs 2 --batch 32 --val-split 0.25
same threads --epochs 2 --batch 64 --workers 2
same local-sgd --epochs 2 --batch 64 --workers 2 --strategy local-sgd --sync-every 2
same easgd --epochs 2 --batch 64 --workers 2 --strategy easgd --sync-every 2
same ps --epochs 6 --batch 96 --workers 3 --strategy ps --servers 1 --staleness 0
# a resumed run: the second epoch from the first's checkpoint (a copy each)
run first --gemm auto --epochs 1 --batch 32 --checkpoint-every-epoch --checkpoint-dir "$T/ck"
cp -r "$T/ck" "$T/ck2"
run resumed-auto --gemm auto --epochs 2 --batch 32 --resume "$T/ck"
run resumed-ob --gemm openblas --epochs 2 --batch 32 --resume "$T/ck2"
compare resumed
echo "held: $pass passed, $failed failed"
[ $failed -eq 0 ]
