#!/usr/bin/env bash
# Builds the libFuzzer target tests/fuzz/fuzz_NAME.c with clang (ASan and
# UBSan on) and runs it for SECONDS on a copy of its committed seed corpus.
# Needs clang and libclang-rt-14-dev.  A crash leaves the input in
# build-fuzz/crash-* and exits non-zero.
# Usage: scripts/fuzz.sh idx|csv|safetensors|config|spec [SECONDS=30]
set -euo pipefail
name=${1:?usage: scripts/fuzz.sh idx|csv|safetensors|config|spec [SECONDS]}
secs=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build-fuzz
mkdir -p "$out/corpus-$name"
cp -n "$root/tests/fuzz/corpus/$name/"* "$out/corpus-$name/" 2>/dev/null || true
cflags=$(pkg-config --cflags libcjson openblas 2>/dev/null || true)
libs=$(pkg-config --libs libcjson openblas zlib)
# shellcheck disable=SC2046
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -D_POSIX_C_SOURCE=200809L -I"$root/include" -I"$root/src" $cflags \
  "$root/tests/fuzz/fuzz_$name.c" $(ls "$root"/src/*/*.c) \
  -o "$out/fuzz_$name" $libs -lm -lpthread
cd "$out"
./"fuzz_$name" -max_total_time="$secs" -max_len=8192 "corpus-$name"
