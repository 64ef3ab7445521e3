#!/usr/bin/env bash
# Study: what regularization scope, per-worker strength and the batch split
# do under skewed data.  The reference model on Fashion-MNIST over 4 and 8
# worker threads, with Dirichlet label skew (alpha 0.1 and 1.0) and
# quantity skew (alpha 1.0), for both batch modes (--worker-batch
# proportional and equal), every scope x adaptation policy and several
# seeds.  Prints a markdown table of test accuracy and the train-test
# accuracy gap (mean and spread over seeds).
#
# Usage: bench/study_skew.sh BUILD_DIR [EPOCHS] [SEEDS]   (defaults: 5, "1 2 3")
# Environment: MODES="proportional equal" (the default) picks batch modes;
# KEEP_LOGS=DIR keeps every run's log as
# DIR/w<workers>-<partition>-<batches>-<scope>-<adapt>-s<seed>.jsonl (the
# partition without its colon: dirichlet0.1), for `regula plot`.
# The committed result is docs/study-skew.md.
set -euo pipefail
build=${1:?usage: bench/study_skew.sh BUILD_DIR [EPOCHS] [SEEDS]}
epochs=${2:-5}
seeds=${3:-1 2 3}
bin=$build/regula
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
policies="global:none local:none local:size local:skew local:divergence"

modes=${MODES:-proportional equal}
echo "| workers | partition | batches | scope | adapt | test acc (mean ± sd) | train−test gap | runs |"
echo "|---|---|---|---|---|---|---|---|"
for w in 4 8; do
  for part in iid dirichlet:0.1 dirichlet:1.0 quantity:1.0; do
   ms=$modes
   [ "$part" = iid ] && ms=proportional         # iid: every worker takes its share already
   for mode in $ms; do
    pols=$policies
    [ "$part" = iid ] && pols="global:none"    # the baseline: adaptation has nothing to adapt to
    for pol in $pols; do
      scope=${pol%%:*} adapt=${pol##*:}
      accs=() gaps=()
      for s in $seeds; do
        log=$tmp/run.jsonl
        if [ -n "${KEEP_LOGS:-}" ]; then
          mkdir -p "$KEEP_LOGS"
          log=$KEEP_LOGS/w$w-${part/:/}-$mode-$scope-$adapt-s$s.jsonl
        fi
        "$bin" train --data fashion-mnist --workers "$w" --partition "$part" \
          --worker-batch "$mode" --reg-scope "$scope" --reg-adapt "$adapt" --epochs "$epochs" --seed "$s" \
          --log-every 0 --log "$log" > /dev/null
        end=$(grep '"event":"end"' "$log")
        acc=$(sed -n 's/.*"test_acc":\([0-9.e-]*\).*/\1/p' <<<"$end")
        tr=$(sed -n 's/.*"train_acc":\([0-9.e-]*\).*/\1/p' <<<"$end")
        accs+=("$acc")
        gaps+=("$(awk -v a="$tr" -v b="$acc" 'BEGIN { printf "%.4f", a - b }')")
      done
      stats() { printf '%s\n' "$@" | awk '{ s += $1; q += $1 * $1; n++ }
        END { m = s / n; v = n > 1 ? (q - n * m * m) / (n - 1) : 0; if (v < 0) v = 0;
              printf "%.4f ± %.4f", m, sqrt(v) }'; }
      echo "| $w | $part | ${mode} | $scope | $adapt | $(stats "${accs[@]}") | $(stats "${gaps[@]}") | ${#accs[@]} |"
    done
   done
  done
done
