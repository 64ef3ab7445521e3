# no_network.sh — regula opens no network socket of its own: neither the
# regula binary nor libregula imports a socket call.  MPI's own sockets live
# in libmpi (and its plugins), which the binary reaches only through MPI_*
# calls, so they do not show up here; what would show up is a socket() call
# compiled into our objects.
# Run as: bash no_network.sh REGULA_BIN [DATA_DIR].  Needs binutils (nm).
set -u
REGULA=${1:?usage: no_network.sh REGULA_BIN}
dir=$(dirname "$REGULA")
FORBIDDEN='socket socketpair connect bind listen accept accept4 getaddrinfo
           gethostbyname gethostbyname_r gethostbyaddr sendto recvfrom'
failed=0 checked=0

# check WHAT SYMBOLS...: fails if any of SYMBOLS is a forbidden name.
check() {
    local what=$1 s f
    shift
    checked=$((checked + 1))
    for s in "$@"; do
        for f in $FORBIDDEN; do
            if [ "${s%%@*}" = "$f" ]; then
                echo "FAIL: $what imports $s: regula must not open network sockets" >&2
                failed=$((failed + 1))
            fi
        done
    done
}

command -v nm >/dev/null || { echo "FAIL: nm (binutils) not found" >&2; exit 1; }
[ -x "$REGULA" ] || { echo "FAIL: $REGULA is not an executable" >&2; exit 1; }
syms=$(nm -D --undefined-only "$REGULA" | awk '{print $NF}') || { echo "FAIL: nm $REGULA" >&2; exit 1; }
# A sanity check that nm saw the imports at all: regula surely calls fopen.
grep -qx 'fopen\(@.*\)\?' <<<"$syms" || { echo "FAIL: nm -D $REGULA lists no fopen import" >&2; exit 1; }
# shellcheck disable=SC2086
check "$REGULA" $syms

libs=0
for lib in "$dir"/libregula.a "$dir"/libregula.so; do
    [ -e "$lib" ] || continue
    libs=$((libs + 1))
    case $lib in
    *.a) syms=$(nm --undefined-only "$lib" 2>/dev/null | awk 'NF == 2 && $1 == "U" {print $2}') ;;
    *) syms=$(nm -D --undefined-only "$lib" | awk '{print $NF}') ;;
    esac
    grep -qx 'fopen\(@.*\)\?' <<<"$syms" || { echo "FAIL: nm $lib lists no fopen import" >&2; exit 1; }
    # shellcheck disable=SC2086
    check "$lib" $syms
done
[ "$libs" -gt 0 ] || { echo "FAIL: no libregula.a or libregula.so next to $REGULA" >&2; exit 1; }

echo "no_network: $checked files checked, $failed forbidden imports"
[ "$failed" -eq 0 ]
