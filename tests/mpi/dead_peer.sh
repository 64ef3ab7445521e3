#!/usr/bin/env bash
# A peer that dies (SIGKILL) or stops (SIGSTOP) in the middle of training:
# every survivor exits with code 5 within --comm-timeout, naming the rank,
# and nothing hangs.  Each rank runs under a small shell that records its
# pid, exit status and end time, so the survivors' own exit codes are seen
# even where mpirun reports another.
#   kill:  SIGKILL rank 1 of 2 under `mpirun --enable-recovery` (MPICH:
#          `mpiexec -disable-auto-cleanup`, and UCX_TLS=^cma, see below;
#          without them the launcher ends the job itself at once, exit
#          137); Open MPI 4.1 then returns 0 whatever the ranks return, so
#          the test reads the survivors' statuses, not mpirun's.
#   stop:  SIGSTOP rank 1 of 2, plain mpirun: exit status 5 from mpirun
#          (Open MPI; MPICH's mpiexec mixes in the SIGKILL it sends the
#          stopped rank, 5 or 9 by timing: that check is skipped, saying so).
#   stop3: SIGSTOP rank 1 of 3 processes x 2 threads: two survivors, neither
#          blamed by the other.
#   stopps: SIGSTOP worker 1 of `--strategy ps --staleness 4` on 3 processes:
#          rank 0 waits on the server (rank 2), which answers but waits on
#          rank 1; the second ping round asks every rank, so rank 1 is named
#          (two timeouts: the first round's peers all answer).
#   stoplocal, stopeasgd: SIGSTOP rank 1 of 2 under `--strategy local-sgd`
#          and `easgd`: rank 0 waits at the next sync.
#   stopeasgda: SIGSTOP worker 1 of `--strategy easgd-async` on 3 processes
#          (rank 2 the centre): as stopps, two timeouts at most.  About 1
#          run in 60 the stop falls between the timed barrier and the
#          workers' first shared-memory window (MPI_Comm_split_type or
#          MPI_Win_allocate_shared, no timeout in MPI): rank 0 hung there
#          for good until the watchdog (blocking_stall.sh), one timeout.
# Usage: dead_peer.sh REGULA MPIEXEC
set -u
regula=$1 mpiexec=$2
# shellcheck source=launcher.bash
source "$(dirname "${BASH_SOURCE[0]}")/launcher.bash"
# shellcheck source=../cli/lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.bash"
timeout=3     # --comm-timeout
# seconds allowed past it: the verdict, exit, mpirun killing a stopped rank
# (~1 s; the sanitizer build gives 6: its exit scans the heap for leaks)
slack=${RG_DEAD_PEER_SLACK:-3}
dir=$(mktemp -d)
started=()    # every pid this test started, mpirun and ranks
cleanup() {
    for p in "${started[@]}"; do kill -CONT "$p" 2> /dev/null; kill -KILL "$p" 2> /dev/null; done
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
secs() { printf '%d.%02d' $(($1 / 1000)) $(($1 % 1000 / 10)); }

cat > "$dir/rank.sh" << 'EOF'
#!/usr/bin/env bash
# one rank: the command, its pid, then "status end-time"
out=$1; shift
r=${OMPI_COMM_WORLD_RANK:-${PMI_RANK:?not started by mpiexec}}
echo $$ > "$out/wpid.$r"
record() {
    local out=$1 r=$2 rc t
    shift 2
    "$@" &
    echo $! > "$out/pid.$r"
    wait $!
    rc=$?
    t=${EPOCHREALTIME/./}
    echo "$rc $((10#$t / 1000))" > "$out/rc.$r"
    return $rc
}
if [ -n "${RANK_SESSION:-}" ]; then
    # MPICH's hydra SIGKILLs this script once a peer rank has died, even
    # under -disable-auto-cleanup, before this rank ends by itself: the
    # rank and its recorder run in a session of their own and live on
    export -f record
    setsid bash -c 'record "$@"' rank "$out" "$r" "$@" &
    wait $!
else
    record "$out" "$r" "$@"
fi
EOF

# run_case NAME SIGNAL VICTIM PROCESSES WORKERS [MPIRUN OPTIONS...]
# (CASE_ARGS: more options of regula train; CASE_WAITS: timeouts it may take)
run_case() {
    local name=$1 sig=$2 victim=$3 np=$4 workers=$5 waits=${CASE_WAITS:-1}
    local -a extra
    read -r -a extra <<< "${CASE_ARGS:-}"
    shift 5
    local d="$dir/$name"
    mkdir -p "$d"
    "$mpiexec" "$@" -n "$np" bash "$dir/rank.sh" "$d" "$regula" train --data fashion-mnist --limit 20000 \
        --epochs 50 --workers "$workers" --log "$d/log.jsonl" --log-every 10 --comm-timeout $timeout \
        "${extra[@]}" > "$d/out" 2> "$d/err" &
    local mp=$! r
    started+=("$mp")
    # training is under way: every rank has a pid and rank 0 logs steps
    local steps=0 pids
    for _ in $(seq 600); do
        steps=$(grep -c '"event":"step"' "$d/log.jsonl" 2> /dev/null)
        pids=("$d"/pid.*)
        [ "${steps:-0}" -ge 3 ] && [ "${#pids[@]}" = "$np" ] && [ -e "${pids[0]}" ] && break
        kill -0 "$mp" 2> /dev/null || break
        sleep 0.1
    done
    for r in $(seq 0 $((np - 1))); do
        for f in "$d/wpid.$r" "$d/pid.$r"; do [ -s "$f" ] && started+=("$(cat "$f")"); done
    done
    if [ "${steps:-0}" -lt 3 ] || [ ! -s "$d/pid.$victim" ]; then
        bad "$name: training did not get under way ($steps step events): $(tail -3 "$d/err")"
        return
    fi
    local vp t0 took
    vp=$(cat "$d/pid.$victim")
    t0=$(ms)
    if ! kill -"$sig" "$vp"; then bad "$name: rank $victim (pid $vp) was gone before the kill"; return; fi
    # mpirun must return by itself; past timeout + slack + 15 s it hangs
    while kill -0 "$mp" 2> /dev/null && [ $(($(ms) - t0)) -lt $(((waits * timeout + slack + 15) * 1000)) ]; do sleep 0.05; done
    took=$(($(ms) - t0))
    if kill -0 "$mp" 2> /dev/null; then
        bad "$name: mpirun still running $(secs $took) s after SIG$sig of rank $victim"
        return
    fi
    wait "$mp"
    local code=$?
    echo "$name: mpirun returned $code, $(secs $took) s after SIG$sig of rank $victim"
    if grep -q '"event":"end"' "$d/log.jsonl"; then bad "$name: training had ended on its own"; return; fi
    if [ -n "${CASE_USUAL:-}" ] && [ $took -gt $(((CASE_USUAL * timeout + slack) * 1000)) ]; then
        echo "note: $name took $(secs $took) s, more than the usual $CASE_USUAL x --comm-timeout $timeout + $slack"
    fi
    if [ $took -gt $(((waits * timeout + slack) * 1000)) ]; then
        bad "$name: mpirun took $(secs $took) s ($waits x --comm-timeout $timeout + $slack)"
    else
        ok "$name: mpirun returned in $(secs $took) s"
    fi
    # the survivors: status 5 within the timeout (plain mpirun kills the
    # slower survivors once the first exits: those leave no status)
    local seen=0 rc end
    for r in $(seq 0 $((np - 1))); do
        [ "$r" = "$victim" ] && continue
        if [ ! -s "$d/rc.$r" ]; then
            [ "$sig" = KILL ] && bad "$name: rank $r left no exit status"
            continue
        fi
        read -r rc end < "$d/rc.$r"
        seen=$((seen + 1))
        if [ "$rc" = 5 ]; then ok "$name: rank $r exited with 5"; else bad "$name: rank $r exited with $rc"; fi
        if [ $((end - t0)) -gt $(((waits * timeout + 1) * 1000)) ]; then
            bad "$name: rank $r exited $(secs $((end - t0))) s after the kill"
        else
            ok "$name: rank $r exited $(secs $((end - t0))) s after the kill"
        fi
    done
    [ $seen -ge 1 ] || bad "$name: no survivor left an exit status"
    if [ "$sig" != KILL ] && [ "$mpi_flavour" = mpich ]; then
        echo "skipped: $name: mpiexec's own status ($code): MPICH's hydra mixes the survivors' 5 with the SIGKILL it sends the stopped rank, 5 or 9 by timing"
    elif [ "$sig" != KILL ]; then
        if [ $code = 5 ]; then ok "$name: mpirun exit status 5"; else bad "$name: mpirun exit status $code"; fi
    fi
    # a stopped rank is found by the timeout; a dead one may also surface as
    # an MPI error first ("... failed on rank 0 (...)"), still naming it
    local want="rank $victim stopped answering: no reply within $timeout s (--comm-timeout"
    [ "$sig" = KILL ] && want="rank $victim stopped answering: "
    if grep -q -F "$want" "$d/err"; then
        ok "$name: the message names rank $victim"
    else
        bad "$name: no message naming rank $victim: $(grep -v '^\[' "$d/err" | head -5)"
    fi
    if grep "stopped answering" "$d/err" | grep -v -q "^regula: rank $victim stopped answering"; then
        bad "$name: another rank blamed: $(grep "stopped answering" "$d/err" | sort -u)"
    else
        ok "$name: no survivor blamed"
    fi
}

if [ "$mpi_flavour" = mpich ]; then
    # Debian's MPICH runs over UCX, whose cross-memory-attach transport
    # aborts a survivor that reads from the killed peer mid-message
    # (process_vm_readv: No such process; exit 134, 4 runs in 8 here)
    # before regula's timeout can act; without cma it never did (0 in 8)
    echo "note: kill under MPICH runs with UCX_TLS=^cma (UCX's cma transport aborts a survivor reading from a dead peer)"
    UCX_TLS=^cma RANK_SESSION=1 run_case kill KILL 1 2 1 "$keep_going"
else
    run_case kill KILL 1 2 1 "$keep_going"
fi
run_case stop STOP 1 2 1
run_case stop3 STOP 1 3 2
# Usually two timeouts (4.5-7 s here); 2026-12-03 on a 2-core Zen 3 about 1
# run in 8 took five (14.4-15.7 s), with this build and with ASan, and with
# the binary of that morning 0 in 10: not explained yet (README, *When an
# MPI peer dies or hangs*), so the bound allows five and says when it took
# more than two
CASE_ARGS="--strategy ps --staleness 4" CASE_WAITS=5 CASE_USUAL=2 run_case stopps STOP 1 3 1
# the strategies that step locally: a stopped rank is found at the next
# exchange (local SGD's sync; easgd-async's centre, which waits on it at
# the epoch's full sync, or the worker that waits for the centre there)
CASE_ARGS="--strategy local-sgd --sync-every 4" run_case stoplocal STOP 1 2 1
CASE_ARGS="--strategy easgd --sync-every 3" run_case stopeasgd STOP 1 2 1
# easgd-async's other worker carries on alone to the epoch's full sync
# before it waits on the stopped one: usually two timeouts after the stop,
# but 2026-12-03 under ASan in CI once 13.3 s (over 2 x 3 + 6), so it is
# bounded as stopps is, and said when over two
CASE_ARGS="--strategy easgd-async --sync-every 3" CASE_WAITS=5 CASE_USUAL=2 run_case stopeasgda STOP 1 3 1

echo "dead_peer: $pass passed, $fail failed"
[ $fail = 0 ] && [ $pass -gt 0 ]
