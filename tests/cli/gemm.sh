# gemm.sh — --gemm: which kernel each product takes is a fixed rule, so a
# run with auto gives the same bits run after run (1 and 2 workers, the
# second with 2 threads of BLAS); the log's "blas" and "kernels" say what
# ran, per layer, and --version says it too; openblas and auto train to
# the same figures within rounding; --deterministic takes its fixed-order
# kernel whatever --gemm says.
#   bash gemm.sh REGULA_BIN DATA_DIR
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: gemm.sh REGULA_BIN DATA_DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-gemm-XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 failed=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

gen_csv "$T/train.csv" 600 4242
# a small first layer (LIBXSMM's under auto on AVX-512 and AVX2), a second
# of 700 x 784 weights (over both rules' bounds, 524,288 and 50,176:
# OpenBLAS's) and a small last one of 784 inputs (within AVX2's bound on a
# weight gradient's inputs: LIBXSMM's on both)
args=(train --data "csv:$T/train.csv" --model 'dense(700, relu) dropout(0.25) dense(784, relu) dense(3, softmax, l2=0.01)'
      --epochs 2 --batch 16 --lr 0.01 --seed 3 -q)

# run NAME ARGS...: trains, keeps the weights as NAME.st, the log as NAME.jsonl
run() {
    local name=$1; shift
    env -u OPENBLAS_CORETYPE "$REGULA" "${args[@]}" "$@" --save "$T/$name.st" --log "$T/$name.jsonl" > "$T/$name.out" 2> "$T/err" ||
        bad "$name: exit $?: $(cat "$T/err")"
}
kernels() { grep -o '"kernels":\[[^]]*\]' "$T/$1.jsonl"; }
blas() { grep -o '"blas":"[^"]*"' "$T/$1.jsonl" | cut -d'"' -f4; }

version=$("$REGULA" --version)
xsmm=0
case $version in *"auto: libxsmm"*) xsmm=1 ;; esac
echo "regula --version: $version"

run a1 --gemm auto
run a2 --gemm auto
cmp -s "$T/a1.st" "$T/a2.st" && ok "auto, 1 worker: the same bits run to run" || bad "auto, 1 worker: runs differ"
run w1 --workers 2 --threads 2
run w2 --workers 2 --threads 2
cmp -s "$T/w1.st" "$T/w2.st" && ok "auto, 2 workers x 2 BLAS threads: the same bits run to run" ||
    bad "auto, 2 workers: runs differ"
run o1 --gemm openblas

k=$(kernels a1)
if [ $xsmm = 1 ]; then
    [ "$(blas a1)" = "$(echo "$version" | sed 's/.*BLAS: \(.*\))$/\1/')" ] && ok "log's blas as --version: $(blas a1)" ||
        bad "log's blas '$(blas a1)' is not --version's"
    echo "$k" | grep -q '{"layer":1,"in":4,"out":700,"fwd":"openblas","dW":"libxsmm"}' &&
        echo "$k" | grep -q '{"layer":2,"in":700,"out":784,"fwd":"openblas","dX":"openblas","dW":"openblas"}' &&
        echo "$k" | grep -q '{"layer":3,"in":784,"out":3,"fwd":"openblas","dX":"libxsmm","dW":"libxsmm"}' &&
        ok "auto: the log names each layer's kernels by the rule" || bad "auto's kernels: $k"
    cmp -s "$T/a1.st" "$T/o1.st" && bad "auto and openblas gave the same bits: auto took no LIBXSMM kernel" ||
        ok "auto's LIBXSMM products change the bits (not the figures, below)"
    run x1 --gemm libxsmm
    kernels x1 | grep -q '"layer":2,"in":700,"out":784,"fwd":"libxsmm","fwd_wt":true,"dX":"libxsmm","dW":"libxsmm"' &&
        ok "--gemm libxsmm: LIBXSMM wherever it has a kernel (the forward on W transposed)" ||
        bad "libxsmm's kernels: $(kernels x1)"
else
    echo "$k" | grep -q libxsmm && bad "auto took LIBXSMM, which --version does not name: $k" ||
        ok "auto without LIBXSMM (or AVX2): $(blas a1)"
fi
kernels o1 | grep -q -e libxsmm -e fixed && bad "--gemm openblas: $(kernels o1)" || ok "--gemm openblas: $(blas o1)"
# auto and openblas: the same figures within rounding (2 epochs of 600 samples)
loss() { sed -n 's/.*train_loss \([0-9.]*\).*/\1/p' "$T/$1.out"; }
awk -v a="$(loss a1)" -v b="$(loss o1)" 'BEGIN { d = a - b; exit !(a != "" && b != "" && d < 1e-3 && d > -1e-3) }' &&
    ok "auto and openblas reach the same training loss ($(loss a1), $(loss o1))" ||
    bad "training loss auto $(loss a1), openblas $(loss o1)"

run d1 --deterministic --det-shards 4 --gemm auto
run d2 --deterministic --det-shards 4 --gemm openblas
kernels d1 | grep -q -e libxsmm -e openblas && bad "--deterministic took another kernel: $(kernels d1)" ||
    ok "--deterministic: $(blas d1) for every product"
cmp -s "$T/d1.st" "$T/d2.st" && ok "--deterministic: --gemm changes no bit" || bad "--deterministic: --gemm changed the bits"

echo "gemm: $pass passed, $failed failed"
[ $failed -eq 0 ]
