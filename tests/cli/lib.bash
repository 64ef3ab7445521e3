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
