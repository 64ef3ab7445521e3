#!/usr/bin/env bash
# Builds the libFuzzer target tests/fuzz/fuzz_NAME.c with clang (ASan and
# UBSan on) and runs it for SECONDS on a copy of its committed seed corpus
# (tests/fuzz/corpus/NAME/; what the run learns stays in
# $FUZZ_DIR/corpus-NAME/ for the next run).  The library is compiled once
# into $FUZZ_DIR/obj/ and shared by the targets; it is rebuilt when a source
# or header is newer than it.  Needs clang and libclang-rt-14-dev
# (scripts/deps.sh --fuzz).
#
# A crash, a sanitizer report, a leak, an input that takes over 10 s or
# 2 GB stops the run: the input is left in $FUZZ_DIR/crash-* (or leak-*,
# timeout-*, oom-*), the command that replays it is printed and the script
# exits non-zero.
#
# Usage: scripts/fuzz.sh idx|csv|safetensors|config|spec|all [SECONDS=30] [LIBFUZZER_FLAGS...]
#   all runs every target in turn for SECONDS each and fails if any failed.
#   Extra flags go to libFuzzer, e.g. scripts/fuzz.sh spec 3600 -fork=4
# Environment: FUZZ_DIR (default build-fuzz, relative to the repository).
set -euo pipefail
TARGETS=(idx csv safetensors config spec)
name=${1:?usage: scripts/fuzz.sh idx|csv|safetensors|config|spec|all [SECONDS] [FLAGS...]}
secs=${2:-30}
shift $(($# < 2 ? $# : 2))
root=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_DIR:-build-fuzz}
case $out in /*) ;; *) out=$root/$out ;; esac
if [ "$name" = all ]; then
    failed=()
    for t in "${TARGETS[@]}"; do "$0" "$t" "$secs" "$@" || failed+=("$t"); done
    [ ${#failed[@]} -eq 0 ] || { echo "fuzz: FAILED: ${failed[*]}" >&2; exit 1; }
    echo "fuzz: all ${#TARGETS[@]} targets ran ${secs}s each without a finding"
    exit 0
fi
[ -f "$root/tests/fuzz/fuzz_$name.c" ] || { echo "fuzz: no target tests/fuzz/fuzz_$name.c" >&2; exit 2; }
command -v clang >/dev/null || { echo "fuzz: clang not found; run scripts/deps.sh --fuzz" >&2; exit 2; }

# shellcheck disable=SC2054  # the commas belong to -fsanitize=
cflags=(-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
        -D_POSIX_C_SOURCE=200809L -I"$root/include" -I"$root/src")
# shellcheck disable=SC2207
cflags+=($(pkg-config --cflags libcjson openblas 2>/dev/null || true))
# shellcheck disable=SC2207
libs=($(pkg-config --libs libcjson openblas zlib) -lm -lpthread)

# The library, instrumented for coverage but without libFuzzer's main.
mkdir -p "$out/obj"
lib=$out/libregula-fuzz.a
srcs=("$root"/src/*/*.c)
if [ ! -e "$lib" ] || [ "$(cat "$out/obj/sources" 2>/dev/null)" != "${srcs[*]}" ] ||
   [ -n "$(find "$root/src" "$root/include" "$0" -newer "$lib" \( -name '*.[ch]' -o -name fuzz.sh \) -print -quit)" ]; then
    echo "fuzz: building the library in $out/obj"
    rm -f "$out"/obj/*.o "$lib"
    jobs=$(nproc) pids=() bad=0
    for src in "${srcs[@]}"; do
        obj=$out/obj/$(basename "$(dirname "$src")")_$(basename "${src%.c}").o
        clang "${cflags[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj" &
        pids+=($!)
        if [ ${#pids[@]} -ge "$jobs" ]; then
            wait "${pids[0]}" || bad=1
            pids=("${pids[@]:1}")
        fi
    done
    for p in "${pids[@]}"; do wait "$p" || bad=1; done
    [ "$bad" -eq 0 ] || { echo "fuzz: the library did not compile" >&2; exit 2; }
    ar rcs "$lib" "$out"/obj/*.o
    echo "${srcs[*]}" >"$out/obj/sources"
fi
clang "${cflags[@]}" -fsanitize=fuzzer "$root/tests/fuzz/fuzz_$name.c" "$lib" \
    -o "$out/fuzz_$name" "${libs[@]}"

mkdir -p "$out/corpus-$name"
cp -n "$root/tests/fuzz/corpus/$name/"* "$out/corpus-$name/" 2>/dev/null || true
cd "$out"
touch "$out/.start-$name"
rc=0
./"fuzz_$name" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$out/" -print_final_stats=1 "$@" "corpus-$name" || rc=$?
if [ "$rc" -ne 0 ]; then
    echo "fuzz: $name FAILED (exit $rc).  Replay the input with:" >&2
    find "$out" -maxdepth 1 -newer "$out/.start-$name" \( -name 'crash-*' -o -name 'leak-*' \
        -o -name 'timeout-*' -o -name 'oom-*' \) -exec echo "  $out/fuzz_$name {}" \; >&2
    exit 1
fi
