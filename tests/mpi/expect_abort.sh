#!/usr/bin/env bash
# Runs one MPI job that must end by an abort, and checks that it did: the
# launcher's exit status is STATUS (the CLI's code for the status the
# program aborted with), MESSAGE reached the log callback ("logged: ..."),
# no process says it is "still running", and no MPI call came from a
# thread other than the leader (tests/mpi/leader_check.c prints
# "leader_check: ..." for each).  The job's output is shown as it ran.
# Under MPICH's hydra the launcher's status mixes every process's, its
# kills of the others included (9 seen in CI for abort_mpi_np3): there any
# failure stands (mpi_want), and the other checks decide.
# Usage: expect_abort.sh STATUS MESSAGE MPIEXEC ARGS...
set -u
want=$1 msg=$2 mpiexec=$3
shift 2
# shellcheck source=launcher.bash
source "$(dirname "${BASH_SOURCE[0]}")/launcher.bash"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout 100 "$@" > "$out" 2>&1
rc=$?
cat "$out"
want=$(mpi_want "$want" $rc)
fail=0
if [ $rc -ne "$want" ]; then echo "FAIL: exit status $rc, expected $want"; fail=1; fi
if ! grep -qF "logged: $msg" "$out"; then echo "FAIL: the message '$msg' was not logged"; fail=1; fi
if grep -q "still running" "$out"; then echo "FAIL: a process went on after the abort"; fail=1; fi
if grep -q "^leader_check:" "$out"; then echo "FAIL: MPI was called by a thread that is not the leader"; fail=1; fi
[ $fail -eq 0 ] && echo "ok: exit status $rc, message logged, MPI called by the leader only"
exit $fail
