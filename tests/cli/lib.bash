# lib.bash — helpers shared by the CLI shell tests (sourced, not a test).

# gen_csv FILE N [SEED]: label in column 0 then 4 features; class k has
# feature k raised, so the classes are separable.
gen_csv() {
    local f=$1 n=$2 i j k v s=${3:-777} line part
    : >"$f"
    for ((i = 0; i < n; i++)); do
        k=$((i % 3))
        line=$k
        for ((j = 0; j < 4; j++)); do
            s=$(((s * 1103515245 + 12345) % 2147483648))
            v=$((s / 65536 % 50))
            ((j == k)) && v=$((v + 200))
            printf -v part ',%d.%02d' $((v / 100)) $((v % 100))
            line+=$part
        done
        echo "$line" >>"$f"
    done
}

# be32 N: N as four big-endian bytes, in printf escape form (IDX headers).
be32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); }

# IDX files, hand-made (printf formats carry byte escapes on purpose):
# shellcheck disable=SC2059
# idx_images FILE N ROWS COLS [BYTES]: an IDX ubyte image header, then BYTES
# (default N*ROWS*COLS) pixel bytes, varied so that gzip keeps them long.
idx_images() {
    local i b s=""
    for ((i = 0; i < ${5:-$(($2 * $3 * $4))}; i++)); do printf -v b '\\x%02x' $(((i * 37 + 11) % 256)); s+=$b; done
    printf "\\x00\\x00\\x08\\x03$(be32 "$2")$(be32 "$3")$(be32 "$4")$s" >"$1"
}
# idx_labels FILE N [BYTES]: an IDX ubyte label header, then labels 0 1 2 0 ...
# shellcheck disable=SC2059
idx_labels() {
    local i s=""
    for ((i = 0; i < ${3:-$2}; i++)); do s+=$(printf '\\x%02x' $((i % 3))); done
    printf "\\x00\\x00\\x08\\x01$(be32 "$2")$s" >"$1"
}
idx_dir() {      # idx_dir DIR: ten good 2x2 images and labels, train and test splits
    mkdir -p "$1"
    idx_images "$1/train-images-idx3-ubyte" 10 2 2
    idx_labels "$1/train-labels-idx1-ubyte" 10
    idx_images "$1/t10k-images-idx3-ubyte" 10 2 2
    idx_labels "$1/t10k-labels-idx1-ubyte" 10
}
# le64 N: N as eight little-endian bytes, in printf escape form (the
# safetensors header length).  N up to 2^63-1; -1 gives ff ff ... ff.
le64() {
    local i s=""
    for ((i = 0; i < 8; i++)); do s+=$(printf '\\x%02x' $(($1 >> (8 * i) & 255))); done
    printf '%s' "$s"
}

# st_file FILE HEADER DATA_BYTES: a safetensors file of the JSON header
# HEADER followed by DATA_BYTES zero bytes (0.0f in F32).
# shellcheck disable=SC2059
st_file() {
    printf "$(le64 ${#2})" >"$1"
    printf '%s' "$2" >>"$1"
    head -c "$3" /dev/zero >>"$1"
}

# st_tensor NAME DTYPE SHAPE BEGIN,END: one header entry, e.g.
# st_tensor dense_0.bias F32 8 128,160
st_tensor() { printf '"%s":{"dtype":"%s","shape":[%s],"data_offsets":[%s]}' "$@"; }

# ok MSG / bad MSG: count a passed or failed check and say so; a script
# ends with `finish`, which prints the tally and fails if any check did.
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; }
ms() { local t=${EPOCHREALTIME/./}; echo $((10#$t / 1000)); }     # now, in milliseconds

# run CODE -- cmd... : runs cmd, stdout to $T/out, stderr to $T/err (the
# script sets T); the exit code must be CODE.  A check: ok or bad.
run() {
    local want=$1
    shift
    [ "$1" = "--" ] && shift
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" -ne "$want" ]; then
        bad "$* -> exit $got, expected $want; stderr: $(head -c 400 "$T/err")"
        return 1
    fi
    ok "exit $want: ${*:1:4}"
}

# check NAME COMMAND... : the command (a shell test) must succeed.
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
