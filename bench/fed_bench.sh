#!/usr/bin/env bash
# The benchmark figures of issue 12's "Targets" for `regula fed`, the
# reference model on Fashion-MNIST (docs/study-federated.md, "Targets"):
#
#   speed    100 clients (iid: 600 samples each), 10 a round, one local
#            epoch, --workers WORKERS: rounds a second, from the log's
#            per-round seconds (training only) and from the wall clock of
#            ROUNDS rounds less that of 1 round (everything a round does:
#            the test-set evaluation too, and the start-up left out); the
#            CPU-seconds (user + sys) a round the same way, which a loaded
#            machine distorts far less than the wall clock; the load
#            average beside them.  CALLGRIND=1 adds the instructions a round
#            (callgrind, 1 and 3 rounds, one worker: minutes).
#   memory   peak resident memory (/usr/bin/time -v) with --partition
#            dirichlet:0.3, 3 rounds: 1,000 and 10,000 clients at 100 a
#            round, 10,000 at 200 a round, under FedAvg's mean and under
#            --aggregate median (which gathers one update per client), and
#            SCAFFOLD (state for every client that has taken part) with
#            that state in memory and on disk (--client-state).
#   robust   20% sign-flip attackers (--attack signflip --attackers 0.2)
#            against mean, median, trimmed:0.3 and krum:3 beside the clean
#            mean, iid, 10 clients a round, ROBUST_ROUNDS rounds, SEEDS:
#            the mean test accuracy of the last 10 rounds, and its distance
#            to the clean run's in points (the target: within 2).
#
# Usage: bench/fed_bench.sh BUILD_DIR [PARTS]   (PARTS default: "speed memory robust")
# Environment: WORKERS (2), ROUNDS (50), ROBUST_ROUNDS (100), SEEDS ("1"),
# DATA (fashion-mnist), CALLGRIND (0), FED_ARGS (added to every run).
# Prints markdown tables.
set -euo pipefail
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as on a user's machine
# (these machines set them); FORCED=1 keeps the environment's.
[ "${FORCED:-0}" = 1 ] || unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
build=${1:?usage: bench/fed_bench.sh BUILD_DIR [speed memory robust]}
parts=${2:-speed memory robust}
bin=${REGULA:-$build/regula}
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$bin" ] || { echo "fed_bench: $bin: no regula program (build first)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
workers=${WORKERS:-2} rounds=${ROUNDS:-50} rrounds=${ROBUST_ROUNDS:-100} seeds=${SEEDS:-1}
model='dense(64, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)'
fed=("$bin" fed --data "${DATA:-fashion-mnist}" --model "$model" --optimizer sgd --lr 0.05 --batch 32
     --local-epochs 1 --log-every 0 --progress none)
# shellcheck disable=SC2206
[ -n "${FED_ARGS:-}" ] && fed+=($FED_ARGS)

# timed NAME ARGS...: one run under /usr/bin/time; sets wall, cpu, rss (KB).
timed() {
  local name=$1; shift
  if ! /usr/bin/time -v -o "$tmp/$name.time" "${fed[@]}" --log "$tmp/$name.jsonl" "$@" > /dev/null 2> "$tmp/$name.err"; then
    echo "fed_bench: run $name failed: $(grep -v warning "$tmp/$name.err" | tail -1)" >&2; exit 1
  fi
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$tmp/$name.time")
  cpu=$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { print u + s }' "$tmp/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/$name.time")
}

for part in $parts; do
  case $part in
  speed)
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    timed one --clients 100 --partition iid --sample 0.1 --rounds 1 --workers "$workers" --seed 1
    w1=$wall c1=$cpu
    timed many --clients 100 --partition iid --sample 0.1 --rounds "$rounds" --workers "$workers" --seed 1
    load1=$(cut -d' ' -f1-3 /proc/loadavg)
    train=$(awk '/"event":"epoch"/ && match($0, /"seconds":[0-9.eE+-]+/) { s += substr($0, RSTART + 10, RLENGTH - 10) }
                 END { printf "%.6f", s }' "$tmp/many.jsonl")
    echo "#### Speed: 100 clients, 10 a round, one local epoch of 600 samples, $workers workers, $rounds rounds"
    echo
    echo "| figure | value |"
    echo "|---|---|"
    # (%.6f: a few rounds of a tiny set train in well under a millisecond,
    # which %.3f printed as 0.000, and awk stopped at the division by zero)
    awk -v r="$rounds" -v t="$train" 'BEGIN { printf "| rounds a second, training (the log'"'"'s seconds: %s s) | %s |\n", t, (t > 0 ? sprintf("%.1f", r / t) : "–") }'
    # (a difference at /usr/bin/time's 0.01 s that is not positive, as a
    # few rounds of a tiny set give, prints "–")
    awk -v r="$rounds" -v a="$w1" -v b="$wall" 'BEGIN { printf "| rounds a second, whole rounds with the test set (wall %s s − %s s for 1 round) | %s |\n", b, a, (b > a ? sprintf("%.1f", (r - 1) / (b - a)) : "–") }'
    awk -v r="$rounds" -v a="$c1" -v b="$cpu" 'BEGIN { printf "| CPU-seconds (user + sys) a whole round (%s s − %s s) | %s |\n", b, a, (b > a ? sprintf("%.4f", (b - a) / (r - 1)) : "–") }'
    awk -v r="$rounds" -v a="$c1" -v b="$cpu" -v w="$workers" 'BEGIN { printf "| rounds a second if the %d cores were free and the round split perfectly | %s |\n", w, (b > a ? sprintf("%.1f", w * (r - 1) / (b - a)) : "–") }'
    echo "| load average (1, 5, 15 min) before, after | $load0; $load1 |"
    if [ "${CALLGRIND:-0}" = 1 ]; then
      for n in 1 3; do
        valgrind --tool=callgrind --callgrind-out-file="$tmp/cg$n.out" "${fed[@]}" --clients 100 --partition iid \
          --sample 0.1 --rounds "$n" --workers 1 --seed 1 > /dev/null 2> "$tmp/cg$n.err" \
          || { echo "fed_bench: callgrind run failed: $(tail -1 "$tmp/cg$n.err")" >&2; exit 1; }
      done
      i1=$(awk '/^summary:/ { print $2 }' "$tmp/cg1.out") i3=$(awk '/^summary:/ { print $2 }' "$tmp/cg3.out")
      awk -v a="$i1" -v b="$i3" 'BEGIN { printf "| instructions a whole round, 1 worker (callgrind: 3 rounds − 1 round, / 2) | %.3g |\n", (b - a) / 2 }'
    fi
    echo ;;
  memory)
    echo "#### Memory: --partition dirichlet:0.3, 3 rounds, $workers workers"
    echo
    echo "| clients | a round | options | peak resident memory (MB) | seconds |"
    echo "|---|---|---|---|---|"
    for row in "1000 0.1" "10000 0.01" "10000 0.02" "1000 0.1 --aggregate median" "10000 0.01 --aggregate median" \
               "10000 0.02 --aggregate median" "10000 0.01 --algo scaffold --client-state memory" \
               "10000 0.01 --algo scaffold --client-state disk"; do
      read -r c s opts <<<"$row"
      local_opts=(); read -r -a local_opts <<<"${opts:-}"
      timed "mem$c-$s-${#local_opts[@]}-${opts##* }" --clients "$c" --partition dirichlet:0.3 --sample "$s" --rounds 3 \
        --workers "$workers" --seed 1 "${local_opts[@]}"
      awk -v c="$c" -v s="$s" -v a="${opts:-fedavg, mean}" -v k="$rss" -v w="$wall" \
        'BEGIN { printf "| %d | %d | %s | %.0f | %.1f |\n", c, c * s + 0.5, a, k / 1024, w }'
    done
    echo ;;
  robust)
    echo "#### Robust aggregation, 20% sign-flip attackers, iid, 10 clients a round, $rrounds rounds, seeds $seeds"
    echo
    echo "| aggregate | attackers | mean test acc of the last 10 rounds | Δ vs clean mean (pp) |"
    echo "|---|---|---|---|"
    base=
    for row in "mean 0" "mean 0.2" "median 0.2" "trimmed:0.3 0.2" "krum:3 0.2"; do
      read -r a f <<<"$row"
      accs=""
      for s in $seeds; do
        at=(); [ "$f" != 0 ] && at=(--attack signflip --attackers "$f")
        timed "rob-$a-$f-$s" --clients 100 --partition iid --sample 0.1 --rounds "$rrounds" --workers "$workers" \
          --seed "$s" --aggregate "$a" "${at[@]}"
        accs+=" $("$here/fed_table.sh" metrics "$tmp/rob-$a-$f-$s.jsonl" | awk '{ print $5 }')"
      done
      m=$(awk -v l="$accs" 'BEGIN { n = split(l, x, " "); for (i = 1; i <= n; i++) s += x[i]; printf "%.4f", s / n }')
      [ -z "$base" ] && base=$m
      awk -v a="$a" -v f="$f" -v m="$m" -v b="$base" 'BEGIN { printf "| %s | %d%% | %.4f | %+.1f |\n", a, 100 * f, m, 100 * (m - b) }'
    done
    echo ;;
  *) echo "fed_bench: unknown part $part (speed, memory or robust)" >&2; exit 2 ;;
  esac
done
