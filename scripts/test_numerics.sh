#!/usr/bin/env bash
# The tests whose results go through floating-point kernels (ctest -L
# numerics) under several GEMM kernels, so that a result that holds only by
# the luck of one kernel's summation order fails: OpenBLAS (a DYNAMIC_ARCH
# build, as Debian's) forced to Haswell, SkylakeX (only on a CPU with
# avx512f: elsewhere its kernel would fault), Sandybridge, and left to pick
# for this CPU; then regula's reference GEMM (-DRG_USE_OPENBLAS=OFF, a build
# of its own).  Every run starts from an environment without OpenBLAS's
# settings (env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ...), since a
# machine may set them; OpenBLAS is asked which core it loaded, and a run
# whose core is not the one asked for fails.  Last, the committed-hash
# checks of --deterministic (cli_cpu_bits, and test_gemm_fixed on each
# path) in builds for other instruction-set levels than the build
# machine's (-DRG_NATIVE=OFF -march=x86-64-v3, and x86-64-v2: no AVX at all
# outside the kernels that choose it at run time), each in its own folder,
# only what those tests need: the same bits whatever -march.
# Usage: scripts/test_numerics.sh BUILD REF_BUILD JOBS [MARCH_BUILD]
#   BUILD        a configured and built tree (make build)
#   REF_BUILD    where the reference-GEMM build goes (configured here)
#   MARCH_BUILD  prefix of the -march builds' folders (default build-march:
#                build-march-x86-64-v3, build-march-x86-64-v2)
set -uo pipefail
build=$1 ref=$2 jobs=${3:-2} march_prefix=${4:-build-march}
src=$(cd "$(dirname "$0")/.." && pwd)
clean=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE -u OPENBLAS_VERBOSE -u OPENBLAS_DEFAULT_NUM_THREADS)
summary=() failed=0

# run NAME DIR ENV...: ctest -L numerics in DIR under the clean environment plus ENV
run() {
    local name=$1 dir=$2 t0 t1 rc
    shift 2
    echo "=== numerics: $name"
    t0=$(date +%s)
    (cd "$dir" && "${clean[@]}" "$@" ctest -L numerics --no-tests=error -j "$jobs" --output-on-failure)
    rc=$?
    t1=$(date +%s)
    summary+=("$(printf '%-34s %s  %4d s' "$name" "$([ $rc = 0 ] && echo passed || echo FAILED)" $((t1 - t0)))")
    [ $rc = 0 ] || failed=1
}

# core WANT: the OpenBLAS core regula loads with OPENBLAS_CORETYPE=WANT ("" to let it pick)
core() {
    local e=()
    [ -n "$1" ] && e=(OPENBLAS_CORETYPE="$1")
    "${clean[@]}" "${e[@]}" OPENBLAS_VERBOSE=2 "$build/regula" --version 2>&1 | sed -n 's/^Core: //p' | head -1
}

for want in Haswell SkylakeX Sandybridge ""; do
    label=${want:-"unset"}
    if [ "$want" = SkylakeX ] && ! grep -qw avx512f /proc/cpuinfo; then
        echo "=== numerics: OPENBLAS_CORETYPE=SkylakeX skipped: this CPU has no avx512f, so that kernel cannot run here"
        summary+=("$(printf '%-34s %s' "OPENBLAS_CORETYPE=SkylakeX" "skipped (no avx512f)")")
        continue
    fi
    got=$(core "$want")
    if [ -n "$want" ] && [ "$got" != "$want" ]; then
        echo "=== numerics: OPENBLAS_CORETYPE=$want: OpenBLAS loaded '${got:-?}' instead (not a DYNAMIC_ARCH build?)"
        summary+=("$(printf '%-34s %s' "OPENBLAS_CORETYPE=$want" "FAILED (loaded ${got:-?})")")
        failed=1
        continue
    fi
    if [ -n "$want" ]; then run "OPENBLAS_CORETYPE=$want" "$build" OPENBLAS_CORETYPE="$want"
    else run "OPENBLAS_CORETYPE unset ($got)" "$build"; fi
done

t0=$(date +%s)
if cmake -S "$src" -B "$ref" -DCMAKE_BUILD_TYPE=Release -DRG_USE_OPENBLAS=OFF > /dev/null &&
   cmake --build "$ref" -j "$jobs" > /dev/null; then
    echo "=== numerics: reference GEMM build in $ref took $(($(date +%s) - t0)) s"
    if "$ref/regula" --version | grep -q 'BLAS: reference'; then
        run "reference GEMM (-DRG_USE_OPENBLAS=OFF)" "$ref"
    else
        summary+=("reference GEMM: FAILED ($ref/regula says: $("$ref/regula" --version))")
        failed=1
    fi
else
    summary+=("reference GEMM: FAILED to build in $ref")
    failed=1
fi

# The committed hashes under another -march: the library, the CLI and
# test_gemm_fixed built for that level (the fixed-order kernels still pick
# AVX2 or AVX-512 at run time, by the CPU: cli_cpu_bits checks the path).
# --no-tests=error: ctest -R (or -L) that matches nothing exits 0, so a
# renamed test would pass unseen; and all four must be there, not just one.
march_tests='^(cli_cpu_bits|test_gemm_fixed|test_gemm_fixed_avx2|test_gemm_fixed_scalar)$'
march_count=4
for march in x86-64-v3 x86-64-v2; do
    dir=$march_prefix-$march
    t0=$(date +%s)
    if cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DRG_NATIVE=OFF -DCMAKE_C_FLAGS="-march=$march" > /dev/null &&
       cmake --build "$dir" -j "$jobs" --target regula_cli test_gemm_fixed > /dev/null; then
        echo "=== numerics: -march=$march build in $dir took $(($(date +%s) - t0)) s"
        name="-march=$march: committed hashes"
        echo "=== numerics: $name"
        t0=$(date +%s)
        (cd "$dir" && "${clean[@]}" ctest -R "$march_tests" --no-tests=error -j "$jobs" --output-on-failure)
        rc=$?
        n=$(cd "$dir" && ctest -N -R "$march_tests" | grep -c '^ *Test *#')
        if [ "$n" != "$march_count" ]; then
            echo "test_numerics: $dir has $n of the $march_count tests $march_tests" >&2
            rc=1
        fi
        summary+=("$(printf '%-34s %s  %4d s' "$name" "$([ $rc = 0 ] && echo passed || echo FAILED)" $(($(date +%s) - t0)))")
        [ $rc = 0 ] || failed=1
    else
        summary+=("-march=$march: FAILED to build in $dir")
        failed=1
    fi
done

echo "=== numerics summary (ctest -L numerics; the -march rows: cli_cpu_bits and test_gemm_fixed)"
printf '  %s\n' "${summary[@]}"
exit $failed
