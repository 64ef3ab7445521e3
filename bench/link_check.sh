#!/usr/bin/env bash
# Is --link a fair stand-in for a real network?  Fits a link to Open MPI
# over TCP on this machine (loopback; mpirun --mca btl tcp,self), from the
# all-reduce time of 16 and 1,000,000 floats between 2 processes, then
# trains the reference model for an epoch on 2 processes twice: over TCP
# without --link, and over shared memory (vader) with the fitted --link.
# The two should take about as long: the link's model of an exchange is
# what TCP costs here.
#
# Usage: bench/link_check.sh BUILD_DIR [ROUNDS]    (default 3 rounds, medians)
set -euo pipefail
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as on a user's machine
# (these machines set them); FORCED=1 keeps the environment's.
[ "${FORCED:-0}" = 1 ] || unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
build=${1:?usage: bench/link_check.sh BUILD_DIR [ROUNDS]}
rounds=${2:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
us() { mpirun -np 2 --mca btl tcp,self "$build/tests/bench_mpi_allreduce" 300 "$1" 2>/dev/null |
       awk '/MPI_Allreduce/ { for (i = 1; i <= NF; i++) if ($i == "median") print $(i + 1) }'; }
small=$(us 16) big=$(us 1000000)
lat=$(awk -v s="$small" 'BEGIN { printf "%.2f", s / 2 }')                                  # 2 messages
gbit=$(awk -v s="$small" -v b="$big" 'BEGIN { printf "%.2f", 4e6 * 8 / ((b - s) * 1e-6) / 1e9 }')
echo "TCP loopback: all-reduce of 16 floats ${small} us, of 1,000,000 floats ${big} us"
echo "fitted link: ${gbit}gbit,${lat}us"
rate() {   # BTL EXTRA...: samples/s and the comm share of one epoch
  mpirun -np 2 --mca btl "$1" "$build/regula" train --epochs 1 --log "$tmp/l.jsonl" --log-every 0 "${@:2}" >/dev/null 2>&1
  grep '"event":"epoch"' "$tmp/l.jsonl" | awk '{ match($0, /"samples_per_s":[0-9.e+]*/); print substr($0, RSTART + 16, RLENGTH - 16) }'
}
a=() b=()
for ((k = 0; k < rounds; k++)); do
  a+=("$(rate tcp,self)")
  b+=("$(rate vader,self --link "${gbit}gbit,${lat}us")")
done
ma=$(printf '%s\n' "${a[@]}" | median) mb=$(printf '%s\n' "${b[@]}" | median)
echo "reference model, 2 processes, one epoch (median of $rounds):"
echo "  over TCP:                     $ma samples/s   (runs ${a[*]})"
echo "  shared memory + fitted --link: $mb samples/s   (runs ${b[*]})"
awk -v a="$ma" -v b="$mb" 'BEGIN { printf "  emulated / real: %.2f\n", b / a }'
