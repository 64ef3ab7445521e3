# cpu_bits.sh — --deterministic gives the same bits on every x86-64 CPU:
# a deterministic run's weights are hashed and compared with the hash
# committed in cpu_bits.sha256, under every matrix-product path this CPU
# can take (REGULA_ISA: AVX-512 when it has it, AVX2, scalar) crossed with
# every OPENBLAS_CORETYPE that can run here (Haswell, SkylakeX with
# avx512f, Sandybridge, unset), on 1 and 3 workers.  The hash is of the
# tensors' bytes (the metadata is left out).  Left to choose, the path is
# the CPU's widest.  test-numerics runs it again in the reference-GEMM
# build and in builds for -march=x86-64-v3 and x86-64-v2.
#   bash cpu_bits.sh REGULA_BIN DATA_DIR [--print]   (--print: the hash, to commit)
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: cpu_bits.sh REGULA_BIN DATA_DIR [--print]}
want_file="$(dirname "${BASH_SOURCE[0]}")/cpu_bits.sha256"
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-bits-XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 failed=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

gen_csv "$T/train.csv" 600 4242
args=(train --data "csv:$T/train.csv" --model 'dense(32, relu, l2=0.01) dropout(0.25) dense(16, relu) dense(3, softmax, l2=0.01)'
      --epochs 2 --batch 16 --lr 0.01 --seed 3 -q)
det=(--deterministic --det-shards 6)

# tensor_hash FILE: sha256 of a safetensors file's data, after its header
tensor_hash() {
    local n
    n=$(od -An -t u8 -N8 "$1" | tr -d ' ')
    tail -c +$((9 + n)) "$1" | sha256sum | cut -c1-64
}

# one ISA CORETYPE WORKERS: trains and prints the hash (empty on failure)
one() {
    local e=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
    [ "$1" != default ] && e+=(REGULA_ISA="$1")
    [ "$2" != unset ] && e+=(OPENBLAS_CORETYPE="$2")
    "${e[@]}" "$REGULA" "${args[@]}" "${det[@]}" --workers "$3" --save "$T/m.st" --log "$T/log.jsonl" > /dev/null 2> "$T/err" ||
        { echo "FAIL: $1 $2 $3 workers: $(cat "$T/err")" >&2; return; }
    tensor_hash "$T/m.st"
}

if [ "${3:-}" = --print ]; then one default unset 1; exit 0; fi
want=$(cat "$want_file" 2>/dev/null)
[ -n "$want" ] || { echo "FAIL: $want_file missing: run with --print and commit its output" >&2; exit 1; }

cores=(Haswell Sandybridge unset)
grep -qw avx512f /proc/cpuinfo && cores+=(SkylakeX)
isas=(scalar)
grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && isas+=(avx2)
grep -qw avx512f /proc/cpuinfo && isas+=(default)   # default is AVX-512 on such a CPU
for isa in "${isas[@]}"; do
    for ct in "${cores[@]}"; do
        for w in 1 3; do
            got=$(one "$isa" "$ct" "$w")
            path=$(grep -o '"blas":"[^"]*"' "$T/log.jsonl" 2>/dev/null | cut -d'"' -f4)
            if [ "$got" = "$want" ]; then ok "REGULA_ISA=$isa OPENBLAS_CORETYPE=$ct $w workers ($path): the committed bits"
            else bad "REGULA_ISA=$isa OPENBLAS_CORETYPE=$ct $w workers ($path): ${got:-no model} != $want"; fi
        done
    done
done
# the log names the path taken
one scalar unset 1 > /dev/null
grep -q '"blas":"fixed-order scalar"' "$T/log.jsonl" && ok "the log names the fixed-order path" ||
    bad "log's blas: $(grep -o '"blas":"[^"]*"' "$T/log.jsonl")"
# left to choose, the path is the CPU's widest, whatever -march this was
# built with (the kernels choose at run time: a -march=x86-64-v2 build
# still takes AVX2 on an AVX2 CPU; test-numerics runs this in such builds)
widest=scalar
grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && widest=avx2
grep -qw avx512f /proc/cpuinfo && widest=avx512
one default unset 1 > /dev/null
grep -q "\"blas\":\"fixed-order $widest\"" "$T/log.jsonl" && ok "left to choose, the CPU's widest path: $widest" ||
    bad "left to choose: $(grep -o '"blas":"[^"]*"' "$T/log.jsonl"), expected fixed-order $widest"
# without --deterministic, OpenBLAS (or the reference GEMM) computes
env -u OPENBLAS_CORETYPE "$REGULA" "${args[@]}" --workers 1 --save "$T/o.st" --log "$T/log.jsonl" > /dev/null 2>&1
grep -q '"blas":"fixed-order' "$T/log.jsonl" && bad "a run without --deterministic took the fixed-order kernel" ||
    ok "without --deterministic: $(grep -o '"blas":"[^"]*"' "$T/log.jsonl")"
echo "cpu_bits: $pass passed, $failed failed"
[ $failed -eq 0 ]
