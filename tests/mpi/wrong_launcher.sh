#!/usr/bin/env bash
# regula linked against one MPI but started by the other's mpiexec (Open MPI
# and MPICH side by side) would come up as N worlds of one, each training
# alone and writing the same files; instead every process stops at once
# with exit 2 and a message naming the MPI it is linked against.
# Usage: wrong_launcher.sh REGULA OTHER_MPIEXEC
set -u
regula=$1 mpiexec=$2
# shellcheck source=launcher.bash
source "$(dirname "${BASH_SOURCE[0]}")/launcher.bash"
# shellcheck source=../cli/lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.bash"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
gen_csv "$dir/d.csv" 60
timeout 60 "$mpiexec" -n 2 "$regula" train --data "csv:$dir/d.csv" --model 'dense(3, softmax)' --epochs 1 \
    --log-every 0 --save "$dir/w.st" > "$dir/out" 2> "$dir/err"
rc=$?
# (hydra's own status may mix in its kill of the other process: mpi_want)
if [ $rc = "$(mpi_want 2 $rc)" ]; then ok "started by $mpiexec: exit $rc"; else bad "started by $mpiexec: exit $rc, expected 2: $(cat "$dir/err")"; fi
if grep -q "^regula: the launcher started 2 processes (.*=2) but MPI sees 1: this regula is linked against " "$dir/err"; then
    ok "the message: $(grep -m1 '^regula: the launcher' "$dir/err")"
else bad "no message saying the launcher and MPI disagree: $(cat "$dir/err")"; fi
if [ -e "$dir/w.st" ]; then bad "a process trained anyway and wrote --save"; else ok "nothing trained"; fi
finish
