# fed_cstore.sh — SCAFFOLD's and FedDyn's per-client state on disk (--client-state disk): the same bits as in
# memory (the saved models and the round checkpoints, byte for byte; 1 and 3 worker threads under
# --deterministic, and without it), a --resume in the middle from a disk run's checkpoint and from a memory
# run's, nothing left in --client-state-dir (after a run, a failure, a kill), and auto taking the disk when
# every client's state would pass 1 GiB.
# Run as: bash fed_cstore.sh REGULA_BIN DATA_DIR
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
REGULA=${1:?usage: fed_cstore.sh REGULA_BIN DATA_DIR}
T=$(mktemp -d "${TMPDIR:-/tmp}/regula-fedcs-XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0 failed=0
ok() { pass=$((pass + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
empty() { test -d "$1" && test -z "$(ls -A "$1")"; }

gen_csv "$T/train.csv" 600 4242
mkdir -p "$T/scratch"
# 40 clients, 10 a round: 4 rounds touch most of them, some twice
FED=("$REGULA" fed --data "csv:$T/train.csv" --model 'dense(8, relu) dense(3, softmax)' --clients 40
     --partition dirichlet:0.5 --sample 0.25 --lr 0.05 --batch 8)
DISK=(--client-state disk --client-state-dir "$T/scratch")
newest() { ls "$1"/ckpt-*.safetensors | tail -1; }

run 0 -- "${FED[@]}" --rounds 4 --save "$T/fedavg.safetensors"
for algo in scaffold feddyn; do
    rm -rf "$T/ckm" "$T/ckd"
    run 0 -- "${FED[@]}" --algo $algo --deterministic --rounds 4 --client-state memory --save "$T/m1.safetensors"
    run 0 -- "${FED[@]}" --algo $algo --deterministic --rounds 4 "${DISK[@]}" --workers 3 --save "$T/d3.safetensors"
    check "$algo --deterministic: disk on 3 workers saves memory's bytes on 1" cmp -s "$T/m1.safetensors" "$T/d3.safetensors"
    check "$algo: the disk's scratch file is gone after the run" empty "$T/scratch"
    run 0 -- "${FED[@]}" --algo $algo --rounds 4 --client-state memory --save "$T/m.safetensors" \
        --checkpoint-every-epoch --checkpoint-dir "$T/ckm"
    run 0 -- "${FED[@]}" --algo $algo --rounds 4 "${DISK[@]}" --save "$T/d.safetensors" \
        --checkpoint-every-epoch --checkpoint-dir "$T/ckd"
    check "$algo: disk saves memory's bytes" cmp -s "$T/m.safetensors" "$T/d.safetensors"
    check "$algo: disk's last round checkpoint is memory's, byte for byte (fed.client_state read from the file)" \
        cmp -s "$(newest "$T/ckm")" "$(newest "$T/ckd")"
    check "$algo: the checkpoint holds the clients' state" grep -qa '"fed.client_state"' "$(newest "$T/ckd")"
    check "$algo: a model that differs from fedavg's (the state matters)" \
        bash -c "! cmp -s '$T/m.safetensors' '$T/fedavg.safetensors'"

    # 2 rounds, then --resume to 4: from a disk run's checkpoint on disk (3 workers, --deterministic), from
    # a memory run's on disk and from a disk run's in memory (1 worker)
    rm -rf "$T/ck"
    run 0 -- "${FED[@]}" --algo $algo --deterministic --rounds 2 "${DISK[@]}" --checkpoint-every-epoch --checkpoint-dir "$T/ck"
    run 0 -- "${FED[@]}" --algo $algo --deterministic --rounds 4 "${DISK[@]}" --workers 3 --checkpoint-every-epoch \
        --resume "$T/ck" --save "$T/r.safetensors"
    check "$algo --deterministic: 2 rounds on disk, --resume to 4 on disk (3 workers): the straight run's bytes" \
        cmp -s "$T/m1.safetensors" "$T/r.safetensors"
    for from_to in "memory disk" "disk memory"; do
        read -r from to <<<"$from_to"
        rm -rf "$T/ck" "$T/r.safetensors"
        run 0 -- "${FED[@]}" --algo $algo --rounds 2 --client-state "$from" --client-state-dir "$T/scratch" \
            --checkpoint-every-epoch --checkpoint-dir "$T/ck"
        run 0 -- "${FED[@]}" --algo $algo --rounds 4 --client-state "$to" --client-state-dir "$T/scratch" \
            --checkpoint-every-epoch --resume "$T/ck" --save "$T/r.safetensors"
        check "$algo: 2 rounds in $from, --resume to 4 in $to: the straight run's bytes" \
            cmp -s "$T/m.safetensors" "$T/r.safetensors"
    done
    check "$algo: nothing left in --client-state-dir" empty "$T/scratch"
done

# killed mid-run: the scratch file was unlinked when it was made, so nothing is left behind
(RG_TEST_CRASH=step:30 exec "${FED[@]}" --algo scaffold --rounds 4 "${DISK[@]}" --save "$T/k.safetensors" \
    >/dev/null 2>&1) 2>/dev/null
check "the run was killed before its end" test ! -e "$T/k.safetensors"
check "a killed run leaves nothing in --client-state-dir" empty "$T/scratch"

# auto: every client's state, 600 x 524291 floats (1.26 GB), passes 1 GiB: disk, in $TMPDIR; the same bits
BIG=("$REGULA" fed --data "csv:$T/train.csv" --model 'dense(65536, relu) dense(3, softmax)' --clients 600
     --sample 0.004 --partition iid --local-steps 1 --rounds 2 --lr 0.01 --batch 8 --algo scaffold)
mkdir -p "$T/tmp"
TMPDIR="$T/tmp" run 0 -- "${BIG[@]}" --save "$T/auto.safetensors"
check "auto over 1 GiB: on disk, saying so and where" grep -q "client-state auto: on disk, in a scratch file in $T/tmp (600 clients x 524291 floats = 1.26 GB" "$T/err"
TMPDIR="$T/tmp" run 0 -- "${BIG[@]}" --client-state memory --save "$T/mem.safetensors"
check "auto (disk) saves memory's bytes" cmp -s "$T/auto.safetensors" "$T/mem.safetensors"
check "memory says nothing of where the state is" bash -c "! grep -q 'client-state' '$T/err'"
check "nothing left in \$TMPDIR" empty "$T/tmp"

run 0 -- "$REGULA" fed --help
for o in client-state client-state-dir; do check "fed --help lists --$o" grep -q -- "--$o " "$T/out"; done

echo "cli_fed_cstore: $pass passed, $failed failed"
[ "$failed" -eq 0 ]
