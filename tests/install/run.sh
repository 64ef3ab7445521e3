#!/usr/bin/env bash
# run.sh BUILD_DIR — libregula as another program gets it: BUILD_DIR is
# installed into a scratch prefix (cmake --install --prefix), then
# examples/train_arrays.c is built against that prefix alone, through
# pkg-config (shared, and --static) and through CMake (regula::regula,
# regula::regula_static), and each program is run (it trains on arrays in
# memory and fails below 0.9 test accuracy).  Also: every file in its
# place, the installed CLI runs, the installed man page is what `regula
# --man` writes and renders cleanly, and the shared library exports the
# functions regula.h declares, no more and no fewer.
# `make test-install` runs it; so does CI.
set -u
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.bash"
B=$(cd "${1:?usage: tests/install/run.sh BUILD_DIR}" && pwd)
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-install-XXXXXX")
trap 'rm -rf "$T"' EXIT
P=$T/prefix
EX=$SRC/examples/train_arrays.c
check() {
    local name=$1
    shift
    if "$@" >"$T/log" 2>&1; then ok "$name"; else bad "$name"; sed 's/^/    /' "$T/log" | tail -20; fi
}

check "cmake --install into a scratch prefix" cmake --install "$B" --prefix "$P"
L=$P/lib
[ -d "$L/pkgconfig" ] || L=$(dirname "$(find "$P" -name regula.pc | head -1)")/..
for f in include/regula.h bin/regula share/man/man1/regula.1; do check "installed: $f" test -f "$P/$f"; done
for f in libregula.a libregula.so pkgconfig/regula.pc cmake/regula/regulaConfig.cmake; do check "installed: lib/$f" test -e "$L/$f"; done
check "the installed CLI runs" "$P/bin/regula" --version

# --- pkg-config, shared: found from the prefix, linked to the prefix's .so
export PKG_CONFIG_PATH=$L/pkgconfig
check "pkg-config knows regula" pkg-config --exists regula
check "pkg-config: build (shared)" cc "$EX" $(pkg-config --cflags --libs regula) -o "$T/ex-pc" -Wl,-rpath,"$L"
check "pkg-config: runs (shared)" "$T/ex-pc"
check "pkg-config: uses the prefix's libregula.so" sh -c "ldd '$T/ex-pc' | grep -q '$L/libregula.so'"
# --static: libregula.a and what it needs (Requires.private, Libs.private)
check "pkg-config --static: build" cc "$EX" $(pkg-config --cflags regula) \
    $(pkg-config --static --libs regula | sed 's/-lregula\b/-l:libregula.a/') -o "$T/ex-pcs"
check "pkg-config --static: runs" "$T/ex-pcs"
check "pkg-config --static: no libregula.so" sh -c "! ldd '$T/ex-pcs' | grep -q libregula"

# --- CMake: find_package(regula COMPONENTS static)
mkdir -p "$T/proj"
cp "$EX" "$T/proj/"
cat >"$T/proj/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(uses_regula C)
find_package(regula 0.1 REQUIRED COMPONENTS static)
add_executable(ex_shared train_arrays.c)
target_link_libraries(ex_shared PRIVATE regula::regula)
add_executable(ex_static train_arrays.c)
target_link_libraries(ex_static PRIVATE regula::regula_static)
CM
check "cmake: configure with find_package(regula)" cmake -S "$T/proj" -B "$T/proj/build" -DCMAKE_PREFIX_PATH="$P"
check "cmake: build" cmake --build "$T/proj/build"
check "cmake: runs (regula::regula)" "$T/proj/build/ex_shared"
check "cmake: regula::regula is the shared library" sh -c "ldd '$T/proj/build/ex_shared' | grep -q '$L/libregula.so'"
check "cmake: runs (regula::regula_static)" "$T/proj/build/ex_static"
check "cmake: regula::regula_static is the static library" sh -c "! ldd '$T/proj/build/ex_static' | grep -q libregula"
cat >"$T/proj/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(uses_regula C)
find_package(regula REQUIRED COMPONENTS nosuch)
CM
check "cmake: an unknown component is refused" sh -c "! cmake -S '$T/proj' -B '$T/proj/build2' -DCMAKE_PREFIX_PATH='$P'"

# --- the man page: what the program says, and clean roff
check "man page = regula --man" sh -c "'$P/bin/regula' --man | cmp - '$P/share/man/man1/regula.1'"
check "man page renders without warnings" sh -c "test -z \"\$(groff -man -Tascii -ww -z '$P/share/man/man1/regula.1' 2>&1)\""

# --- the shared library's symbols: regula.h's functions exactly
grep -oE '[ *]rg_[a-z0-9_]+\(' "$SRC/include/regula.h" | tr -d ' *(' | sort -u >"$T/header"
nm -D --defined-only "$L/libregula.so" | awk '$2 == "T" { print $3 }' | sort -u >"$T/exported"
check "exports = regula.h's functions ($(wc -l <"$T/header"))" diff "$T/header" "$T/exported"

finish
