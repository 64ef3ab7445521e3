#!/usr/bin/env bash
# The build links the MPI its mpiexec belongs to, and that one alone: on
# Debian, Open MPI and MPICH coexist (alternatives pick `mpicc` and
# `mpiexec`), and a regula built against one but launched by the other's
# mpiexec runs as N separate worlds of one.  Reads ldd of the binary.
# Usage: links.sh REGULA MPIEXEC
set -u
regula=$1 mpiexec=$2
# shellcheck source=launcher.bash
source "$(dirname "${BASH_SOURCE[0]}")/launcher.bash"
# shellcheck source=../cli/lib.bash
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.bash"
libs=$(ldd "$regula" | awk '{print $1}' | grep -E '^lib(mpi|mpich|open-pal|open-rte)\.so' | sort -u | paste -sd ' ')
case $mpi_flavour in
    mpich) want='^libmpich\.so' other='libmpi\.so|libopen-(pal|rte)\.so' ;;
    *) want='^libmpi\.so' other='libmpich\.so' ;;
esac
if tr ' ' '\n' <<< "$libs" | grep -qE "$want"; then ok "$regula links $mpi_flavour ($libs) for $mpiexec"
else bad "$regula does not link $mpi_flavour, whose mpiexec ($mpiexec) runs the tests: it links $libs"; fi
if tr ' ' '\n' <<< "$libs" | grep -qE "$other"; then bad "$regula also links another MPI: $libs"
else ok "no other MPI is linked"; fi
finish
