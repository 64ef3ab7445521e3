#!/usr/bin/env bash
# Installs what regula needs from Debian's packages, once (idempotent).
# As root it runs apt-get; otherwise it prints the command to run.
# Usage: scripts/deps.sh [--bench] [--kernels] [--fuzz] [--mpich]
#   --bench adds python3-torch for bench/ and GNU time (its peak memory figure)
#   --kernels adds BLIS for make bench-kernels (LIBXSMM is in the default
#           set: libxsmm-dev, a static library of 2.4 MB without further
#           dependencies, which --gemm auto takes for small products)
#   --fuzz  adds clang and libclang-rt-14-dev (libFuzzer) for make fuzz
#   --mpich adds MPICH (libmpich-dev mpich) beside Open MPI for make
#           test-mpich; Open MPI stays the default mpicc/mpiexec
set -euo pipefail
# gnuplot-nox draws `regula plot`'s pictures (a program regula runs, not a
# library it links: see README, "See the run"); fonts-dejavu-core is the
# font its cairo terminals use; groff-base checks the man page (man -l).
pkgs=(build-essential cmake pkg-config zlib1g-dev libopenblas-dev libxsmm-dev libcjson-dev
      libcmocka-dev dataset-fashion-mnist libopenmpi-dev openmpi-bin
      gnuplot-nox fonts-dejavu-core groff-base)
for arg in "$@"; do
  case $arg in
    --bench) pkgs+=(python3-torch python3-numpy time) ;;
    --kernels) pkgs+=(libblis-dev util-linux) ;;
    --fuzz) pkgs+=(clang libclang-rt-14-dev) ;;
    --mpich) pkgs+=(libmpich-dev mpich) ;;
    *) echo "usage: scripts/deps.sh [--bench] [--kernels] [--fuzz] [--mpich]" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "regula needs: ${missing[*]}" >&2
  echo "run as root:  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
