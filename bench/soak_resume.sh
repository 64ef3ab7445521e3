#!/usr/bin/env bash
# Soak test of kill and resume: for each configuration, start a run writing
# checkpoints, send SIGKILL from outside at a random moment (uniform over
# the length of a whole run, so kills land in steps, in checkpoint writes,
# in start-up and evaluation alike), resume it with --resume, and compare
# the final weights byte for byte with an uninterrupted run; until TRIALS
# kills have landed before the run's end (a kill after it proves nothing and
# is not counted).  Under MPI the kill goes to one random rank.
#
# Usage: bench/soak_resume.sh [BUILD_DIR] [TRIALS] [CONFIGS]
#   CONFIGS: any of "one threads mpi" (default all three)
# Prints one line per configuration: kills that landed, how many found a
# checkpoint to resume from (the others came before the first one), and
# mismatches.  Exit 1 on a mismatch.
set -u
build=${1:-build}
trials=${2:-100}
configs=${3:-one threads mpi}
regula=$(cd "$build" && pwd)/regula
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
dir=$(mktemp -d)
trap 'rm -rf "$dir"; pkill -9 -f "$dir" 2>/dev/null' EXIT
args=(--data fashion-mnist --limit 30000 --epochs 8 --val-split 0.1 --early-stop 5 --seed 9 --log-every 0
      --checkpoint-every 25)
status=0

now() { date +%s.%N; }

for cfg in $configs; do
  case $cfg in
    one) launch=() extra=() ;;
    threads) launch=() extra=(--workers 2) ;;
    mpi) launch=(mpiexec -n 2) extra=() ;;
    *) echo "unknown configuration $cfg"; exit 2 ;;
  esac
  ref="$dir/$cfg.ref.st"
  t0=$(now)
  "${launch[@]}" "$regula" train "${args[@]}" "${extra[@]}" --checkpoint-dir "$dir/$cfg.refck" --save "$ref" > /dev/null 2>&1 ||
    { echo "$cfg: the reference run failed"; exit 1; }
  span=$(awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')
  landed=0 found=0 mismatched=0
  for ((i = 1; landed < trials && i <= 4 * trials; i++)); do
    ck="$dir/$cfg.ck$i"
    out="$dir/$cfg.out$i.st"
    delay=$(awk -v s="$span" -v r=$RANDOM 'BEGIN { printf "%.3f", s * r / 32768 }')
    "${launch[@]}" "$regula" train "${args[@]}" "${extra[@]}" --checkpoint-dir "$ck" --save "$out" > /dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    if [ -n "${launch[*]}" ]; then
      # one random rank of the job
      mapfile -t ranks < <(pgrep -f -- "--checkpoint-dir $ck" | grep -v "^$pid\$" | while read -r p; do
        [ "$(ps -o comm= -p "$p")" = regula ] && echo "$p"; done)
      [ ${#ranks[@]} -gt 0 ] && kill -9 "${ranks[$((RANDOM % ${#ranks[@]}))]}" 2>/dev/null
    else
      kill -9 "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    rc=$?
    if [ $rc -ne 0 ]; then
      landed=$((landed + 1))
      rm -f "$out"
      [ -n "$(ls "$ck" 2>/dev/null | grep -v tmp)" ] && found=$((found + 1))
      "${launch[@]}" "$regula" train "${args[@]}" "${extra[@]}" --resume "$ck" --save "$out" > /dev/null 2> "$dir/err" ||
        { echo "$cfg trial $i: resume failed: $(cat "$dir/err")"; mismatched=$((mismatched + 1)); continue; }
    fi
    if ! cmp -s "$ref" "$out"; then
      mismatched=$((mismatched + 1))
      echo "$cfg trial $i: MISMATCH after a kill at ${delay}s (exit $rc)"
    fi
    rm -rf "$ck" "$out"
  done
  printf '%-8s run %.2fs  kills %d (of %d tries)  resumed from a checkpoint %d  from the start %d  mismatches %d\n' \
    "$cfg" "$span" "$landed" "$((i - 1))" "$found" "$((landed - found))" "$mismatched"
  [ $mismatched -eq 0 ] || status=1
done
exit $status
