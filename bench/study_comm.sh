#!/usr/bin/env bash
# Study: what communicating less costs, and whether regularization buys it
# back (issue 11).  Fashion-MNIST, Adam 0.001 and batch 32 unless a row
# says otherwise.  Four parts, each a markdown table of mean ± sd over seeds:
#
#   a     every strategy and gradient codec on the reference model: test
#         accuracy, bytes sent (the epoch events' bytes_sent, per worker,
#         summed over epochs) and the run's time (the epoch events'
#         seconds, summed) over each emulated --link.
#   wide  the same for the 1024-wide model: allreduce, powersgd:2, topk:0.01.
#   b     claim 1, "regularization stabilises asynchronous training": the
#         parameter server at staleness 0, 4, 16 with a straggler (worker 1
#         four times slower), with and without L2 + dropout, per optimizer
#         and learning rate; the staleness the workers actually read.
#   c     claim 2, "regularization lets workers synchronise less": local SGD
#         with H = 1 ... 128 local steps between averages, with and without
#         L2 + dropout, against synchronous all-reduce of the same model,
#         on C_WORKERS workers (default 4).
#
# Usage: bench/study_comm.sh BUILD_DIR [EPOCHS] [SEEDS]   (defaults: 10, "1 2 3")
# Environment: PARTS="a b c" (the default; add wide) picks the parts;
# A_WORKERS="4" the training workers of parts a and wide (--strategy ps
# adds its server); A_LINKS="10gbit,5us 1gbit,50us" the links of part a
# (wide: the last one; with WIDE_ROWS=all, every row and link of part a
# on the wide model: hours on a 2-core machine); B_OPTS="adam:0.001 adam:0.005" part b's optimizers,
# B_WORKERS=4 its training workers (and a server: logs b-w8-... past 4);
# C_H="1 2 4 8 16 32 64 128" part c's sync periods; C_WORKERS=4 its workers.  KEEP_LOGS=DIR keeps
# every run's log as DIR/<part>-w<workers>-<row>[-<link>]-s<seed>.jsonl,
# for `regula plot`; with REUSE_LOGS=1 a run whose log there is complete
# is read, not run again (a study stopped part-way goes on).  TRAIN_ARGS="--limit 2000" is added to every run (a
# quick check of the script).  The committed result is docs/study-communication.md
# (`make study-comm` runs it as committed).  OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE are unset, as on a user's machine (these machines set
# them, and part a sums the epochs' seconds); FORCED=1 keeps the environment's.
set -euo pipefail
[ "${FORCED:-0}" = 1 ] || unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
build=${1:?usage: bench/study_comm.sh BUILD_DIR [EPOCHS] [SEEDS]}
epochs=${2:-10}
seeds=${3:-1 2 3}
bin=$build/regula
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
parts=${PARTS:-a b c}
ref='dense(64, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)'
noreg='dense(64, relu) dense(10, softmax)'
wide='dense(1024, relu, l2=0.01) dropout(0.5) dense(10, softmax, l2=0.01)'

# One training run.  Sets $log and $rc (0, or regula's exit status: 4 is a
# run stopped by a NaN/Inf, which counts as diverged).
train() {
  local name=$1; shift
  log=$tmp/run.jsonl
  if [ -n "${KEEP_LOGS:-}" ]; then
    mkdir -p "$KEEP_LOGS"
    log=$KEEP_LOGS/$(tr -c 'A-Za-z0-9._=-' _ <<<"$name" | sed 's/_*$//').jsonl
  fi
  rc=0
  # REUSE_LOGS=1 (with KEEP_LOGS): a run whose kept log ended (its end
  # event written: exit 0, or 4 for a non-finite stop) is not run again, so a study stopped part-way
  # goes on where it stopped
  if [ -n "${KEEP_LOGS:-}" ] && [ "${REUSE_LOGS:-0}" = 1 ] && grep -q '"event":"end"' "$log" 2> /dev/null; then
    if grep -q '"stopped":"nonfinite"' "$log"; then rc=4; fi   # exit 4: diverged
    return 0
  fi
  rm -f "$log"
  # shellcheck disable=SC2086
  "$bin" train --data fashion-mnist --epochs "$epochs" --batch 32 --log-every 0 --log "$log" "$@" ${TRAIN_ARGS:-} \
    > /dev/null 2> "$tmp/err" || rc=$?
  if [ "$rc" != 0 ] && [ "$rc" != 4 ]; then
    echo "study_comm: run $name failed (exit $rc): $(tail -1 "$tmp/err")" >&2
  fi
}

# One line for a log: test_acc train_acc seconds MB_per_worker jitter diverged staleness
# (jitter: mean |change of val_loss| from one epoch to the next over the
# second half of the epochs; staleness: the epochs' counts summed, 0,1,...,
# or "-").  Missing figures print as "nan".
summary() {
  awk -v rc="$rc" '
    function grab(key,   v) {
      if (!match($0, "\"" key "\":[-0-9.eE+]+")) return "nan"
      v = substr($0, RSTART + length(key) + 3, RLENGTH - length(key) - 3); return v
    }
    function arr(key, a,   s) {
      if (!match($0, "\"" key "\":\\[[^]]*\\]")) return 0
      s = substr($0, RSTART + length(key) + 4, RLENGTH - length(key) - 5)
      return split(s, a, ",")
    }
    /"event":"epoch"/ {
      ne++; secs += grab("seconds"); vl[ne] = grab("val_loss")
      n = arr("bytes_sent", b); t = 0; for (i = 1; i <= n; i++) t += b[i]; if (n) mb += t / n / 1e6
      n = arr("staleness", s); for (i = 1; i <= n; i++) st[i - 1] += s[i]; if (n > ns) ns = n
    }
    /"event":"end"/ { acc = grab("test_acc"); tr = grab("train_acc"); if (/"stopped":"nonfinite"/) div = 1 }
    END {
      if (acc == "") acc = "nan"; if (tr == "") tr = "nan"
      if (rc == 4) div = 1
      j = 0; k = 0
      for (i = int(ne / 2) + 1; i <= ne; i++) if (i > 1 && vl[i] != "nan" && vl[i-1] != "nan") {
        d = vl[i] - vl[i-1]; j += d < 0 ? -d : d; k++
      }
      stl = "-"
      if (ns) { stl = st[0]; for (i = 1; i < ns; i++) stl = stl "," st[i] }
      printf "%s %s %.2f %.2f %s %d %s\n", acc, tr, secs, mb, k ? sprintf("%.4f", j / k) : "nan", div + 0, stl
    }' "$log"
}

# mean ± sd of the numbers on stdin, leaving out nan; "–" when none.
stats() {
  awk -v f="${1:-%.4f}" '$1 != "nan" { s += $1; q += $1 * $1; n++ }
    END { if (!n) { print "–"; exit }
          m = s / n; v = n > 1 ? (q - n * m * m) / (n - 1) : 0; if (v < 0) v = 0
          printf f " ± " f "\n", m, sqrt(v) }'
}
mean() { awk '$1 != "nan" { s += $1; n++ } END { if (n) printf "%.6f\n", s / n; else print "nan" }'; }
col() { awk -v c="$1" '{ print $c }' "$2"; }

# Staleness counts of several runs (one comma list a line): mean, % fresh,
# % at the largest observed.
staleness() {
  awk -F, '$1 != "-" { for (i = 1; i <= NF; i++) c[i - 1] += $i; if (NF > m) m = NF }
    END { if (!m) { print "–"; exit }
          if (m == 1) { print "0 (all fresh)"; exit }
          for (i = 0; i < m; i++) { t += c[i]; s += i * c[i] }
          printf "%.2f (0: %.0f%%, %d: %.0f%%)\n", s / t, 100 * c[0] / t, m - 1, 100 * c[m - 1] / t }'
}

# The strategies and codecs of parts a and wide: label|codec|optimizer|arguments.
rows_a=(
  "allreduce|none|adam 0.001|"
  "allreduce|none|sgd 0.05|--optimizer sgd --lr 0.05"
  "allreduce|none|sgd 0.05 m0.9|--optimizer sgd --lr 0.05 --momentum 0.9"
  "local-sgd H=8|none|adam 0.001|--strategy local-sgd --sync-every 8"
  "easgd τ=4|none|adam 0.001|--strategy easgd --sync-every 4"
  "ps K=4|none|adam 0.001|--strategy ps --staleness 4"
  "hogwild|none|sgd 0.05|--strategy hogwild --optimizer sgd --lr 0.05"
  "allreduce|fp16|adam 0.001|--compress fp16"
  "allreduce|bf16|adam 0.001|--compress bf16"
  "allreduce|sign|adam 0.001|--compress sign"
  "allreduce|topk:0.01|adam 0.001|--compress topk:0.01"
  "allreduce|randk:0.01|adam 0.001|--compress randk:0.01"
  "allreduce|qsgd:4|adam 0.001|--compress qsgd:4"
  "allreduce|powersgd:2|adam 0.001|--compress powersgd:2"
  "allreduce|dgc:0.01 (warm-up 1)|sgd 0.05 m0.9|--compress dgc:0.01 --dgc-warmup 1 --optimizer sgd --lr 0.05 --momentum 0.9"
)
rows_wide=(
  "allreduce|none|adam 0.001|"
  "allreduce|powersgd:2|adam 0.001|--compress powersgd:2"
  "allreduce|topk:0.01|adam 0.001|--compress topk:0.01"
)

# Part a or wide: $1 the part, $2 the model, $3 the links, then the rows.
tradeoff() {
  local part=$1 model=$2 links=$3; shift 3
  local head="| workers | strategy | codec | optimizer |" rule="|---|---|---|---|" l
  for l in $links; do head+=" test acc, $l |"; rule+="---|"; done
  head+=" MB sent per worker |"; rule+="---|"
  for l in $links; do head+=" seconds, $l |"; rule+="---|"; done
  echo "$head runs |"; echo "$rule---|"
  for w in ${A_WORKERS:-4}; do
    local row
    for row in "$@"; do
      IFS='|' read -r label codec opt args <<<"$row"
      local -a extra; read -r -a extra <<<"$args"
      local nw=$w
      [[ $args == *"--strategy ps"* ]] && nw=$((w + 1))    # the server is a worker too
      local s n=0 out=$tmp/a.txt
      : > "$out"
      for l in $links; do
        for s in $seeds; do
          train "$part-w$w-$label-$codec-$opt-${l%%,*}-s$s" --model "$model" --workers "$nw" --seed "$s" \
            --link "$l" "${extra[@]}"
          echo "$l $(summary)" >> "$out"
        done
      done
      local line="| $w | $label | $codec | $opt |"
      for l in $links; do line+=" $(awk -v l="$l" '$1 == l { print $2 }' "$out" | stats) |"; done
      line+=" $(awk '{ print $5 }' "$out" | stats '%.1f') |"
      for l in $links; do line+=" $(awk -v l="$l" '$1 == l { print $4 }' "$out" | stats '%.1f') |"; done
      n=$(awk '$2 != "nan"' "$out" | wc -l)
      echo "$line $n of $(wc -l < "$out") |"
    done
  done
}

for part in $parts; do
  case $part in
  a)
    echo "### Part A: accuracy against bytes and time, reference model, $epochs epochs, seeds $seeds"
    echo
    tradeoff a "$ref" "${A_LINKS:-10gbit,5us 1gbit,50us}" "${rows_a[@]}"
    echo ;;
  wide)
    echo "### Part A, 1024-wide model, $epochs epochs, seeds $seeds"
    echo
    links=${A_LINKS:-1gbit,50us}
    if [ "${WIDE_ROWS:-}" = all ]; then tradeoff wide "$wide" "$links" "${rows_a[@]}"
    else tradeoff wide "$wide" "${links##* }" "${rows_wide[@]}"; fi
    echo ;;
  b)
    bw=${B_WORKERS:-4} bn=b
    [ "$bw" = 4 ] || bn=b-w$bw     # the 4-worker logs keep their names
    echo "### Part B: the parameter server under a straggler (--straggler 1:4), $bw training workers, $epochs epochs, seeds $seeds"
    echo
    echo "| model | optimizer | K | test acc | train−test gap | worst seed | val_loss jitter | diverged | staleness read: mean (share fresh, share at the largest) | runs |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for opt in ${B_OPTS:-adam:0.001 adam:0.005}; do
      for m in reg noreg; do
        model=$ref; [ $m = noreg ] && model=$noreg
        for k in 0 4 16; do
          out=$tmp/b.txt; : > "$out"
          for s in $seeds; do
            train "$bn-$m-${opt/:/}-K$k-s$s" --model "$model" --workers $((bw + 1)) --strategy ps --staleness "$k" \
              --straggler 1:4 --optimizer "${opt%%:*}" --lr "${opt##*:}" --seed "$s"
            summary >> "$out"
          done
          gaps=$(awk '$1 != "nan" { printf "%.4f\n", $2 - $1 }' "$out" | stats)
          worst=$(awk '$1 != "nan"' "$out" | sort -g | head -1 | awk '{ print $1 }')
          echo "| $m | ${opt/:/ } | $k | $(col 1 "$out" | stats) | $gaps | ${worst:-–} | $(col 5 "$out" | stats) |" \
               "$(col 6 "$out" | awk '{ s += $1 } END { print s + 0 }') | $(col 7 "$out" | staleness) |" \
               "$(awk '$1 != "nan"' "$out" | wc -l) |"
        done
      done
    done
    echo ;;
  c)
    cw=${C_WORKERS:-4}
    echo "### Part C: local SGD against all-reduce, $cw workers, $epochs epochs, seeds $seeds"
    echo
    echo "| model | strategy | H | test acc | train−test gap | Δ vs all-reduce (points) | MB sent per worker | runs |"
    echo "|---|---|---|---|---|---|---|---|"
    summ=$tmp/c-summary.txt; : > "$summ"
    for m in reg noreg; do
      model=$ref; [ $m = noreg ] && model=$noreg
      base=nan
      for h in allreduce ${C_H:-1 2 4 8 16 32 64 128}; do
        out=$tmp/c.txt; : > "$out"
        for s in $seeds; do
          if [ "$h" = allreduce ]; then
            train "c-w$cw-$m-allreduce-s$s" --model "$model" --workers "$cw" --seed "$s"
          else
            train "c-w$cw-$m-H$h-s$s" --model "$model" --workers "$cw" --strategy local-sgd --sync-every "$h" --seed "$s"
          fi
          summary >> "$out"
        done
        acc=$(col 1 "$out" | mean)
        [ "$h" = allreduce ] && base=$acc
        delta=$(awk -v a="$acc" -v b="$base" 'BEGIN { printf "%+.2f", 100 * (a - b) }')
        gaps=$(awk '$1 != "nan" { printf "%.4f\n", $2 - $1 }' "$out" | stats)
        hh=$h; [ "$h" = allreduce ] && hh=–
        strat=local-sgd; [ "$h" = allreduce ] && strat=allreduce
        echo "| $m | $strat | $hh | $(col 1 "$out" | stats) | $gaps | $delta | $(col 4 "$out" | stats '%.1f') |" \
             "$(awk '$1 != "nan"' "$out" | wc -l) |"
        [ "$h" != allreduce ] && echo "$m $h $delta" >> "$summ"
      done
    done
    echo
    echo "| model | largest H within 0.5 points of all-reduce | every H up to it within 0.5 points |"
    echo "|---|---|---|"
    for m in reg noreg; do
      awk -v m="$m" '$1 == m { ok = $3 >= -0.5; if (ok) last = $2; if (ok && !broke) run = $2; if (!ok) broke = 1 }
        END { printf "| %s | %s | %s |\n", m, last == "" ? "none" : last, run == "" ? "none" : run }' "$summ"
    done
    echo ;;
  *) echo "study_comm: unknown part $part (a, wide, b or c)" >&2; exit 2 ;;
  esac
done
